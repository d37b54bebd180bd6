"""The output directory as a journal: every document exactly once.

``docs.jsonl`` and ``errors.jsonl`` are append-only. The engines hand over
finished records in batches; :meth:`OutputDir.commit` appends the batch's lines
to both files, flushes and ``fsync``s them before the next batch is taken. The
two files *are* the journal: a document is done exactly when a complete line
with its id is on disk in one of them.

After a crash (even SIGKILL in the middle of a write) at most the last line of
each file is partial. ``--resume`` (:meth:`OutputDir.open` with
``resume=True``) truncates a partial trailing line, drops any line that does
not parse and any repeated id (keeping the first; a doc record wins over an
error record), and returns the set of done ids, which the readers skip. The
derived tables (CSV, HTML, DocBin) are rebuilt from the two files at the end of
every run, so they always agree with them.

A ``.lock`` file held with ``flock`` stops two runs writing to one directory
(the kernel releases it when a process dies, so a killed run never blocks its
resume). ``run.json`` records the model and options; resuming with a different
model is refused.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

DOCS = "docs.jsonl"
ERRORS = "errors.jsonl"
MANIFEST = "run.json"
LOCK = ".lock"
#: every file this tool writes into DIR (``--overwrite`` removes only these)
OWNED = (
    DOCS, ERRORS, MANIFEST, "summary.json", "adverse_events.csv", "regimens.csv",
    "ae_sdtm.csv", "report.html", "docs.spacy",
)
SHARDS = "docbin-parts"


class OutputError(ValueError):
    """The output directory cannot be used as asked (exit status 2)."""


class OutputWriteError(OSError):
    """Writing the journal failed part-way (disk full, folder made read-only;
    exit status 4). What was committed before is on disk; ``--resume`` goes on
    once the cause is fixed."""


def _encode_line(line: str) -> bytes:
    try:
        return (line + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate somewhere: keep the JSON valid
        return (json.dumps(json.loads(line), ensure_ascii=True) + "\n").encode("ascii")


def scan_jsonl(path: str) -> Tuple[List[Tuple[int, int, Optional[str]]], int]:
    """(offset, length, id-or-None) per complete line, and the byte offset
    where a partial trailing line starts (== file size when there is none)."""
    lines: List[Tuple[int, int, Optional[str]]] = []
    offset = 0
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return lines, offset
            rid = None
            try:
                obj = json.loads(raw)
                if isinstance(obj, dict) and isinstance(obj.get("id"), str):
                    rid = obj["id"]
            except ValueError:
                pass
            lines.append((offset, len(raw), rid))
            offset += len(raw)
    return lines, offset


def iter_records(path: str) -> Iterable[Dict[str, Any]]:
    """Complete, parseable records of a JSONL file (streaming)."""
    if not os.path.exists(path):
        return
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return
            try:
                yield json.loads(raw)
            except ValueError:
                continue


class OutputDir:
    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.docs_path = os.path.join(self.path, DOCS)
        self.errors_path = os.path.join(self.path, ERRORS)
        self._docs = None
        self._errors = None
        self._lock = None
        self.repairs: List[str] = []
        self.n_docs = 0
        self.n_errors = 0

    # -- opening -----------------------------------------------------------

    def open(self, *, resume: bool, overwrite: bool, manifest: Dict[str, Any]) -> Set[str]:
        """Prepare DIR and return the ids already done (empty unless resuming)."""
        try:
            os.makedirs(self.path, exist_ok=True)
            self._take_lock()
        except OSError as err:
            raise OutputError(f"cannot write to output directory {self.path}: {err.strerror or err}") from None
        has_results = any(
            os.path.exists(p) and os.path.getsize(p) > 0 for p in (self.docs_path, self.errors_path)
        )
        if has_results and not resume and not overwrite:
            raise OutputError(
                f"output directory {self.path} already holds results ({DOCS}/{ERRORS}); "
                "pass --resume to continue that run or --overwrite to start again"
            )
        if overwrite and not resume:
            for name in OWNED:
                p = os.path.join(self.path, name)
                if os.path.exists(p):
                    os.remove(p)
            self._clear_shards()
        done: Set[str] = set()
        if resume:
            self._check_manifest(manifest)
        try:
            if resume:
                done = self._recover()
            self._write_manifest(manifest, status="running")
            self._docs = open(self.docs_path, "ab")
            self._errors = open(self.errors_path, "ab")
        except OSError as err:
            raise OutputError(f"cannot write to output directory {self.path}: {err.strerror or err}") from None
        return done

    def _take_lock(self) -> None:
        import fcntl

        self._lock = open(os.path.join(self.path, LOCK), "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(f"another annotate run is writing to {self.path}") from None

    def _check_manifest(self, manifest: Dict[str, Any]) -> None:
        path = os.path.join(self.path, MANIFEST)
        if not os.path.exists(path):
            return
        try:
            with open(path, encoding="utf-8") as fh:
                old = json.load(fh)
        except ValueError:
            return
        if old.get("model") and old.get("model") != manifest.get("model"):
            raise OutputError(
                f"{self.path} was annotated with model {old.get('model')!r}; resuming with "
                f"{manifest.get('model')!r} would mix two models' output (use another --output or --overwrite)"
            )

    def _write_manifest(self, manifest: Dict[str, Any], status: str) -> None:
        data = dict(manifest)
        data["status"] = status
        data["updated"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        tmp = os.path.join(self.path, MANIFEST + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, os.path.join(self.path, MANIFEST))

    def _recover(self) -> Set[str]:
        done: Set[str] = set()
        for path, name in ((self.docs_path, DOCS), (self.errors_path, ERRORS)):
            if not os.path.exists(path):
                continue
            lines, end = scan_jsonl(path)
            size = os.path.getsize(path)
            keep: List[Tuple[int, int]] = []
            dropped = 0
            for offset, length, rid in lines:
                if rid is None or rid in done:
                    dropped += 1
                    continue
                done.add(rid)
                keep.append((offset, length))
            if dropped:
                self._rewrite(path, keep)
                self.repairs.append(f"{name}: dropped {dropped} unparseable or repeated line(s)")
            elif end < size:
                with open(path, "r+b") as fh:
                    fh.truncate(end)
                    fh.flush()
                    os.fsync(fh.fileno())
                self.repairs.append(f"{name}: truncated a partial last line ({size - end} bytes)")
            if name == DOCS:
                self.n_docs = len(done)
            else:
                self.n_errors = len(keep)
        return done

    @staticmethod
    def _rewrite(path: str, keep: List[Tuple[int, int]]) -> None:
        tmp = path + ".tmp"
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            for offset, length in keep:
                src.seek(offset)
                dst.write(src.read(length))
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, path)

    # -- writing -----------------------------------------------------------

    def commit(self, doc_lines: List[str], error_lines: List[str]) -> None:
        """Append one batch durably (write, flush, fsync); OutputWriteError
        (naming the file) when the disk is full or the file cannot be written."""
        for fh, lines in ((self._docs, doc_lines), (self._errors, error_lines)):
            if lines:
                try:
                    fh.write(b"".join(_encode_line(line) for line in lines))
                    fh.flush()
                    os.fsync(fh.fileno())
                except OSError as err:
                    raise OutputWriteError(err.errno, f"cannot write {fh.name}: {err.strerror or err}") from None
        self.n_docs += len(doc_lines)
        self.n_errors += len(error_lines)

    def shard_dir(self) -> str:
        path = os.path.join(self.path, SHARDS)
        os.makedirs(path, exist_ok=True)
        return path

    def _clear_shards(self) -> None:
        path = os.path.join(self.path, SHARDS)
        if os.path.isdir(path):
            for name in os.listdir(path):
                os.remove(os.path.join(path, name))
            os.rmdir(path)

    def close(self, status: str, manifest: Dict[str, Any]) -> None:
        """Close the files and record ``status`` in run.json; after a failed
        write (status "write-failed") a second failure here is not raised."""
        for fh in (self._docs, self._errors):
            if fh is not None:
                try:
                    fh.close()
                except OSError:
                    if status != "write-failed":
                        raise
        self._docs = self._errors = None
        try:
            self._write_manifest(manifest, status=status)
        except OSError:
            if status != "write-failed":
                raise
        if self._lock is not None:
            self._lock.close()
            self._lock = None
