"""Find input documents and read them honestly.

Two steps, both streaming-friendly:

1. :func:`discover` turns the command line's INPUTs (files, folders searched
   recursively, glob patterns) into a sorted list of small *file references*
   (``{"path", "rel", "fmt", "size"}``). ``rel`` is the file's path relative to
   its input root, which becomes the document id. Only paths are held, never
   file contents.
2. :func:`read_ref` reads one reference and yields *items*, one per document:
   a document item (``id``, ``source``, ``row``, ``text``, ``decoded``, ``meta``)
   or an error item (``id``, ``source``, ``row``, ``error``, ``stage="read"``).
   It never raises for a bad file: every problem becomes an error item with a
   reason a person can act on.

Document ids: ``<rel>`` for ``.txt`` / ``.md`` files; ``<rel>#<row>`` for the
rows of ``.jsonl`` (1-based line number) and ``.csv`` / ``.tsv`` (1-based data
row, header excluded). A whole-file problem in a jsonl/csv file (unreadable,
binary, no text column) is one error item with id ``<rel>``.

Decoding (recorded in each document's ``decoded`` field):

* ``utf-8`` - strict UTF-8;
* ``utf-8-sig`` / ``utf-16`` / ``utf-32`` - a byte-order mark said so;
* ``utf-16-le`` / ``utf-16-be`` - no BOM, but the NUL-byte pattern of ASCII
  text in UTF-16 and a clean strict decode;
* ``utf-8-replace`` - mostly valid UTF-8 with some invalid bytes, each replaced
  by U+FFFD (``replaced`` counts them);
* ``cp1252`` / ``latin-1`` - no valid multi-byte UTF-8 sequence at all, so a
  single-byte legacy encoding (cp1252 when every byte is defined there,
  latin-1 otherwise, which never fails).

Refused (error items): binary content (NUL bytes or many control characters),
empty or whitespace-only text, files or rows over ``max_bytes``, unreadable
files (permissions, broken links, not a regular file), malformed rows.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import json
import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

#: extension (lower case, with dot) -> format name
EXTENSIONS = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
}
ALL_FORMATS = ("txt", "md", "jsonl", "csv", "tsv")
ROW_FORMATS = ("jsonl", "csv", "tsv")
DEFAULT_MAX_BYTES = 1_000_000
_SNIFF = 8192
_GLOB_CHARS = set("*?[")


class InputError(ValueError):
    """A problem with the command line's inputs (not with one document)."""


# --------------------------------------------------------------------------
# discovery


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _fmt_of(path: str) -> Optional[str]:
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


def _glob_root(pattern: str) -> str:
    """The deepest directory of ``pattern`` before its first glob character."""
    parts = Path(pattern).parts
    root_parts: List[str] = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        root_parts.append(part)
    if not root_parts:
        return "."
    root = str(Path(*root_parts))
    # "notes/a*.txt" -> "notes"; a pattern whose static prefix is a file name
    # cannot occur because the first glob part is never included.
    return root


def _walk(root: str, exclude: Set[str]) -> Iterator[str]:
    """Files under ``root`` (recursive, sorted, hidden names and ``exclude``d
    directories skipped). Symlinks to files and broken symlinks are listed (the
    reader reports the broken ones); symlinked directories are not followed."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(
            d for d in dirnames if not _is_hidden(d) and os.path.realpath(os.path.join(dirpath, d)) not in exclude
        )
        for name in sorted(filenames):
            if not _is_hidden(name):
                yield os.path.join(dirpath, name)


def discover(
    inputs: Iterable[str],
    formats: Iterable[str] = ALL_FORMATS,
    exclude_dirs: Iterable[str] = (),
) -> Tuple[List[Dict[str, Any]], Counter]:
    """Resolve INPUTs into sorted file references.

    inputs: files, folders (searched recursively) or glob patterns (``**``
        allowed). A file named explicitly is always an input: with an
        extension outside ``formats`` it becomes an error item when read.
        Files found inside folders or by globs whose extension is not in
        ``formats`` are skipped and counted per extension in the returned
        Counter (the summary prints it).
    exclude_dirs: folders never searched (the output directory).
    RETURNS: (refs, skipped) where each ref is ``{"path", "rel", "fmt",
        "size"}`` (``fmt`` None = unsupported, ``size`` -1 = cannot stat).
    RAISES InputError: an input that does not exist / matches nothing, an
        unknown format name, or two different files that would get the same id.
    """
    formats = tuple(formats)
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown:
        raise InputError(f"unknown --format {', '.join(unknown)} (choose from {', '.join(ALL_FORMATS)})")
    exclude = {os.path.realpath(d) for d in exclude_dirs}
    skipped: Counter = Counter()
    by_rel: Dict[str, Dict[str, Any]] = {}
    seen_real: Set[str] = set()

    def add(path: str, root: str, explicit: bool) -> None:
        fmt = _fmt_of(path)
        if fmt is not None and fmt not in formats:
            fmt = None
        if fmt is None and not explicit:
            skipped[os.path.splitext(path)[1].lower() or "(no extension)"] += 1
            return
        real = os.path.realpath(path)
        if real in seen_real:  # the same file reached twice: read it once
            return
        seen_real.add(real)
        rel = Path(os.path.relpath(path, root)).as_posix()
        if rel in by_rel:
            raise InputError(
                f"two inputs would get the same document id {rel!r}: {by_rel[rel]['path']} and {path}; "
                "pass their common parent folder instead"
            )
        try:
            size = os.stat(path).st_size
        except OSError:
            size = -1
        by_rel[rel] = {"path": os.path.abspath(path), "rel": rel, "fmt": fmt, "size": size}

    for raw in inputs:
        raw = str(raw)
        if os.path.isdir(raw):
            for path in _walk(raw, exclude):
                add(path, raw, explicit=False)
        elif os.path.lexists(raw):  # a file, a symlink (maybe broken), a fifo...
            add(raw, os.path.dirname(raw) or ".", explicit=True)
        elif _GLOB_CHARS & set(raw):
            root = _glob_root(raw)
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                raise InputError(f"input pattern {raw!r} matches no files")
            for match in matches:
                if os.path.isdir(match):
                    if os.path.realpath(match) in exclude:
                        continue
                    for path in _walk(match, exclude):
                        add(path, root, explicit=False)
                else:
                    add(match, root, explicit=False)
        else:
            raise InputError(f"input {raw!r} does not exist")
    refs = [by_rel[k] for k in sorted(by_rel)]
    return refs, skipped


# --------------------------------------------------------------------------
# decoding

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL_OK = {9, 10, 12, 13}  # tab, newline, form feed, carriage return


class Refused(Exception):
    """The bytes cannot honestly be turned into text; the message says why."""


def bom_encoding(head: bytes) -> Optional[str]:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def _utf16_without_bom(sample: bytes) -> Optional[str]:
    """``utf-16-le``/``-be`` when the sample looks like ASCII-range text in
    UTF-16 (most odd or most even bytes NUL), else None."""
    if len(sample) < 4:
        return None
    even = sample[0::2]
    odd = sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _looks_binary(sample: bytes) -> Optional[str]:
    if b"\x00" in sample:
        return "binary content (NUL bytes)"
    if sample:
        controls = sum(1 for b in sample if b < 32 and b not in _CONTROL_OK)
        if controls > 0.1 * len(sample):
            return f"binary content ({controls} control bytes in the first {len(sample)})"
    return None


def _has_multibyte_utf8(data: bytes) -> bool:
    """True if ``data`` contains at least one well-formed multi-byte UTF-8
    sequence (evidence that the file was meant as UTF-8)."""
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            need = 1
        elif 0xE0 <= b <= 0xEF:
            need = 2
        elif 0xF0 <= b <= 0xF4:
            need = 3
        else:
            i += 1
            continue
        chunk = data[i : i + need + 1]
        try:
            chunk.decode("utf-8")
            return True
        except UnicodeDecodeError:
            i += 1
    return False


def decode_bytes(data: bytes, encoding: str = "auto") -> Tuple[str, str, int]:
    """Decode a document's bytes. RETURNS (text, how, replaced).

    ``encoding`` other than "auto" is applied strictly (a failure is refused,
    never guessed around). See the module docstring for the "auto" rules.
    RAISES Refused with the reason.
    """
    if encoding != "auto":
        try:
            return data.decode(encoding), encoding, 0
        except UnicodeDecodeError as err:
            raise Refused(f"not valid {encoding} (--encoding): {err.reason} at byte {err.start}") from None
        except LookupError:
            raise Refused(f"unknown --encoding {encoding!r}") from None
    bom = bom_encoding(data[:4])
    if bom is not None:
        try:
            text = data.decode(bom)
        except UnicodeDecodeError as err:
            text = data.decode(bom, errors="replace")
            return text, f"{bom}-replace", max(1, text.count("\ufffd"))
        return text, bom, 0
    sample = data[:_SNIFF]
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        try:
            return data.decode(utf16), utf16, 0
        except UnicodeDecodeError:
            pass
    why = _looks_binary(sample)
    if why:
        raise Refused(why)
    try:
        return data.decode("utf-8"), "utf-8", 0
    except UnicodeDecodeError:
        pass
    if _has_multibyte_utf8(data):
        text = data.decode("utf-8", errors="replace")
        # count only the replacements we introduced, not U+FFFD already in the file
        original = data.count("\ufffd".encode("utf-8"))
        return text, "utf-8-replace", text.count("\ufffd") - original
    try:
        return data.decode("cp1252"), "cp1252", 0
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1", 0


# --------------------------------------------------------------------------
# reading


def _error(rid: str, source: str, row: Optional[int], reason: str) -> Dict[str, Any]:
    return {"id": rid, "source": source, "row": row, "error": reason, "stage": "read"}


def _doc(rid, source, row, text, how, replaced, meta) -> Dict[str, Any]:
    item = {"id": rid, "source": source, "row": row, "text": text, "decoded": how, "meta": meta}
    if replaced:
        item["replaced"] = replaced
    return item


def _open_check(path: str) -> Optional[str]:
    """None if ``path`` is a regular file we may open, else the reason."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return f"broken symbolic link (points to {os.readlink(path)!r})"
        return "file disappeared before it could be read"
    except PermissionError:
        return "cannot read: permission denied"
    except OSError as err:
        return f"cannot read: {err.strerror or err}"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (device, socket or pipe)"
    return None


def _check_text(text: str, max_bytes: int, what: str) -> Optional[str]:
    if not text.strip():
        return f"empty {what} (no text)" if not text else f"empty {what} (only whitespace)"
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        return f"{what} is {size} bytes, over the --max-bytes limit of {max_bytes}"
    return None


def read_ref(
    ref: Dict[str, Any],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    text_field: str = "text",
    encoding: str = "auto",
    skip_ids: Optional[Set[str]] = None,
) -> Iterator[Dict[str, Any]]:
    """Yield the document / error items of one file reference. Never raises
    for problems with the file; ids in ``skip_ids`` are not yielded (resume)."""
    rel, path, fmt = ref["rel"], ref["path"], ref["fmt"]
    skip = skip_ids or set()
    if fmt is None:
        if rel not in skip:
            ext = os.path.splitext(rel)[1] or "(no extension)"
            yield _error(rel, rel, None, f"unsupported file type {ext!r} (read: {', '.join(sorted(EXTENSIONS))})")
        return
    if rel in skip:
        return
    problem = _open_check(path)
    if problem:
        yield _error(rel, rel, None, problem)
        return
    if fmt in ("txt", "md"):
        yield _read_whole(ref, max_bytes, encoding)
    elif fmt == "jsonl":
        yield from _read_jsonl(ref, max_bytes, text_field, encoding, skip)
    else:
        yield from _read_table(ref, max_bytes, text_field, encoding, skip)


def _read_whole(ref, max_bytes: int, encoding: str) -> Dict[str, Any]:
    rel, path = ref["rel"], ref["path"]
    try:
        size = os.path.getsize(path)
        if size == 0:
            return _error(rel, rel, None, "empty file (0 bytes)")
        if size > max_bytes:
            return _error(rel, rel, None, f"file is {size} bytes, over the --max-bytes limit of {max_bytes}")
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except PermissionError:
        return _error(rel, rel, None, "cannot read: permission denied")
    except OSError as err:
        return _error(rel, rel, None, f"cannot read: {err.strerror or err}")
    try:
        text, how, replaced = decode_bytes(data, encoding)
    except Refused as why:
        return _error(rel, rel, None, str(why))
    problem = _check_text(text, max_bytes, "document")
    if problem:
        return _error(rel, rel, None, problem)
    return _doc(rel, rel, None, text, how, replaced, None)


def _line_reader(fh, limit: int) -> Iterator[Tuple[int, Optional[bytes], int]]:
    """(line number, bytes or None when over ``limit``, length) for each line
    of a binary file, reading at most ``limit`` + 1 bytes of any line into memory."""
    lineno = 0
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        lineno += 1
        if len(line) > limit and not line.endswith(b"\n"):
            total = len(line)
            while True:  # skip the rest of the oversized line
                more = fh.readline(1 << 20)
                total += len(more)
                if not more or more.endswith(b"\n"):
                    break
            yield lineno, None, total
        else:
            yield lineno, line, len(line)


def _read_jsonl(ref, max_bytes: int, text_field: str, encoding: str, skip: Set[str]) -> Iterator[Dict[str, Any]]:
    rel, path = ref["rel"], ref["path"]
    try:
        fh = open(path, "rb")
    except OSError as err:
        yield _error(rel, rel, None, f"cannot read: {err.strerror or err}")
        return
    with fh:
        try:
            head = fh.read(_SNIFF)
        except OSError as err:
            yield _error(rel, rel, None, f"cannot read: {err.strerror or err}")
            return
        if not head:
            yield _error(rel, rel, None, "empty file (0 bytes)")
            return
        bom = bom_encoding(head[:4]) if encoding == "auto" else None
        if bom in ("utf-16", "utf-32"):
            # line splitting on b"\n" is wrong for these: decode as a text stream
            fh.seek(0)
            lines = _text_lines(fh, bom)
        else:
            why = _looks_binary(head) if encoding == "auto" else None
            if why:
                yield _error(rel, rel, None, why)
                return
            fh.seek(0)
            lines = _line_reader(fh, max_bytes * 2 + 65536)
        first = True
        for lineno, raw, length in lines:
            rid = f"{rel}#{lineno}"
            if raw is None:
                if rid not in skip:
                    yield _error(rid, rel, lineno, f"line is {length} bytes, far over the --max-bytes limit of {max_bytes}")
                continue
            if isinstance(raw, bytes):
                if first and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                first = False
                if not raw.strip():
                    continue  # blank lines are not documents
                if rid in skip:
                    continue
                try:
                    line, how, replaced = decode_bytes(raw, encoding)
                except Refused as why:
                    yield _error(rid, rel, lineno, str(why))
                    continue
                if how == "utf-8-sig":
                    how = "utf-8"
            else:
                line, how, replaced = raw, bom, 0
                if not line.strip() or rid in skip:
                    continue
            try:
                obj = json.loads(line)
            except ValueError as err:
                yield _error(rid, rel, lineno, f"invalid JSON: {err}")
                continue
            if not isinstance(obj, dict):
                yield _error(rid, rel, lineno, f"row is a JSON {type(obj).__name__}, not an object")
                continue
            if text_field not in obj:
                keys = ", ".join(sorted(obj)[:10])
                yield _error(rid, rel, lineno, f"row has no {text_field!r} field (fields: {keys}); see --text-field")
                continue
            text = obj.pop(text_field)
            if not isinstance(text, str):
                yield _error(rid, rel, lineno, f"field {text_field!r} is a JSON {type(text).__name__}, not a string")
                continue
            problem = _check_text(text, max_bytes, f"field {text_field!r}")
            if problem:
                yield _error(rid, rel, lineno, problem)
                continue
            yield _doc(rid, rel, lineno, text, how, replaced, obj or None)


def _text_lines(fh, enc: str) -> Iterator[Tuple[int, str, int]]:
    stream = io.TextIOWrapper(fh, encoding=enc, errors="replace", newline="")
    for lineno, line in enumerate(stream, 1):
        yield lineno, line, len(line)


def _read_table(ref, max_bytes: int, text_field: str, encoding: str, skip: Set[str]) -> Iterator[Dict[str, Any]]:
    """csv / tsv with a header row; the ``text_field`` column is the text,
    the other columns become ``meta``."""
    rel, path = ref["rel"], ref["path"]
    try:
        fh = open(path, "rb")
        head = fh.read(_SNIFF)
        fh.seek(0)
    except OSError as err:
        yield _error(rel, rel, None, f"cannot read: {err.strerror or err}")
        return
    with fh:
        if not head:
            yield _error(rel, rel, None, "empty file (0 bytes)")
            return
        if encoding == "auto":
            enc = bom_encoding(head[:4]) or "utf-8"
            if enc == "utf-8":
                why = _looks_binary(head)
                if why:
                    yield _error(rel, rel, None, why)
                    return
        else:
            enc = encoding
        # surrogateescape keeps invalid UTF-8 bytes recoverable per row, so each
        # row is decoded as honestly as a whole file would be.
        errors = "surrogateescape" if enc in ("utf-8", "utf-8-sig") else "replace"
        try:
            stream = io.TextIOWrapper(fh, encoding=enc, errors=errors, newline="")
        except LookupError:
            yield _error(rel, rel, None, f"unknown --encoding {encoding!r}")
            return
        old_limit = csv.field_size_limit()
        csv.field_size_limit(max(old_limit, max_bytes + 1))
        try:
            reader = csv.reader(stream, delimiter="\t" if ref["fmt"] == "tsv" else ",")
            try:
                header = next(reader)
            except StopIteration:
                yield _error(rel, rel, None, "empty file (no header row)")
                return
            except (csv.Error, UnicodeDecodeError) as err:
                yield _error(rel, rel, None, f"unreadable header row: {err}")
                return
            if text_field not in header:
                yield _error(
                    rel, rel, None,
                    f"no {text_field!r} column in the header (columns: {', '.join(header[:20])}); see --text-field",
                )
                return
            col = header.index(text_field)
            row = 0
            while True:
                row += 1
                rid = f"{rel}#{row}"
                try:
                    values = next(reader)
                except StopIteration:
                    break
                except (csv.Error, UnicodeDecodeError) as err:
                    if rid not in skip:
                        yield _error(rid, rel, row, f"malformed row: {err}")
                    continue
                if rid in skip:
                    continue
                if len(values) != len(header):
                    yield _error(rid, rel, row, f"row has {len(values)} columns, the header has {len(header)}")
                    continue
                text, how, replaced = values[col], enc, 0
                if errors == "surrogateescape":
                    how = enc
                    if any("\udc80" <= ch <= "\udcff" for ch in text):
                        try:
                            text, how, replaced = decode_bytes(text.encode("utf-8", "surrogateescape"))
                        except Refused as why:
                            yield _error(rid, rel, row, str(why))
                            continue
                elif "\ufffd" in text:
                    how, replaced = f"{enc}-replace", text.count("\ufffd")
                problem = _check_text(text, max_bytes, f"column {text_field!r}")
                if problem:
                    yield _error(rid, rel, row, problem)
                    continue
                meta = {
                    h: v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                    for i, (h, v) in enumerate(zip(header, values))
                    if i != col
                }
                yield _doc(rid, rel, row, text, how, replaced, meta or None)
        finally:
            csv.field_size_limit(old_limit)
