"""The minimisation state file: the design and every allocation, appended atomically, replayable.

A state file is JSON lines. Line 1 is the design (``"type": "design"``: arms,
ratio, factors, weights, method, p, seed, the library versions); every further
line is one allocation (``"type": "allocation"``: ``index`` from 1, optional
subject ``id``, ``subject`` levels, ``arm``, the ``scores``,
``probabilities`` and uniform ``u`` behind it, a UTC time). Every line carries
``chain``: the SHA-256 of the previous line's chain and this line's canonical
JSON (sorted keys, no blanks, without ``chain``), so an edited, removed or
reordered line is detected, and :func:`verify_state` replays every allocation
from the seed and the earlier ones.

**Nothing lost, nothing twice.** :func:`allocate` holds an exclusive lock
(``fcntl.flock`` on ``FILE.lock``) while it reads the file, computes the next
allocation, writes the whole new file to a temporary file in the same folder,
fsyncs it, renames it over the old one (``os.replace``, atomic) and fsyncs the
folder. A crash before the rename leaves the old file (the allocation was
never reported, so nothing is lost); after it, the new one. Give each subject
an ``id``: asking again for an id already in the file returns the recorded
allocation instead of making a second one (so a retry after a crash between
the rename and the answer reaching the user does not allocate twice); the same
id with different levels is an error. Two processes allocating at once are
serialised by the lock. A temporary file left by a killed writer is never read
and is deleted by the next allocation (under the lock).

The state file holds the seed: anyone who reads it can compute the next
allocation, so it must be kept from the people who enrol subjects, like a
randomisation list.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple, Union

from .blocks import library_versions
from .design import AllocationError, check_subject
from .files import write_atomic
from .minimisation import check_design, minimise_next
from .rng import RNG_DESCRIPTION

FORMAT = "ct_safety_nlp.minimisation_state.v1"
GENESIS = "0" * 64
PathLike = Union[str, Path]


def canonical_json(obj: Mapping[str, object]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def chain_hash(previous: str, record: Mapping[str, object]) -> str:
    body = {k: v for k, v in record.items() if k != "chain"}
    return hashlib.sha256((previous + canonical_json(body)).encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(str(lock_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files a killed writer left (``.NAME.*.tmp``); called under the lock, so none is live."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            leftover.unlink()
        except OSError:
            pass


def create_state(path: PathLike, design: Mapping[str, object]) -> Dict[str, object]:
    """Create a new state file holding ``design`` (see :func:`minimisation.check_design`); an existing file is refused."""
    path = Path(path)
    d = check_design(design)
    header = {"type": "design", "format": FORMAT, "design": d, "rng": RNG_DESCRIPTION, "versions": library_versions(), "created": _now()}
    header["chain"] = chain_hash(GENESIS, header)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        if path.exists():
            raise AllocationError(f"{path}: already exists; a state file is created once (allocate into it, or choose a new name)")
        write_atomic(path, (canonical_json(header) + "\n").encode("utf-8"))
    return header


def _parse(path: Path, data: bytes) -> Dict[str, object]:
    where = str(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise AllocationError(f"{where}: not UTF-8 ({err})") from None
    if not text:
        raise AllocationError(f"{where}:1: empty state file (no design line)")
    if not text.endswith("\n"):
        raise AllocationError(f"{where}:{text.count(chr(10)) + 1}: last line is incomplete (the file was not written by this tool)")
    lines = text.split("\n")[:-1]
    header = None
    allocations: List[Dict[str, object]] = []
    previous = GENESIS
    ids: Dict[str, int] = {}
    design = None
    for lineno, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise AllocationError(f"{where}:{lineno}: not JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise AllocationError(f"{where}:{lineno}: not a JSON object")
        if record.get("chain") != chain_hash(previous, record):
            raise AllocationError(f"{where}:{lineno}: checksum chain broken (the line, or one before it, was changed, removed or reordered)")
        previous = record["chain"]
        if lineno == 1:
            if record.get("type") != "design" or record.get("format") != FORMAT:
                raise AllocationError(f"{where}:1: not a minimisation state file (expected a design line of format {FORMAT})")
            try:
                design = check_design(record.get("design") or {})
            except AllocationError as err:
                raise AllocationError(f"{where}:1: {err}") from None
            header = record
            continue
        if record.get("type") != "allocation":
            raise AllocationError(f"{where}:{lineno}: expected an allocation line, got type {record.get('type')!r}")
        if record.get("index") != len(allocations) + 1:
            raise AllocationError(f"{where}:{lineno}: allocation index {record.get('index')!r}, expected {len(allocations) + 1}")
        try:
            check_subject(record.get("subject") or {}, design["factors"], "subject")
        except AllocationError as err:
            raise AllocationError(f"{where}:{lineno}: {err}") from None
        if record.get("arm") not in design["arms"]:
            raise AllocationError(f"{where}:{lineno}: arm {record.get('arm')!r} is not one of the design's arms")
        sid = record.get("id")
        if sid is not None:
            if sid in ids:
                raise AllocationError(f"{where}:{lineno}: subject id {sid!r} already allocated on line {ids[sid]}")
            ids[sid] = lineno
        allocations.append(record)
    return {"header": header, "design": design, "allocations": allocations}


def read_state(path: PathLike) -> Dict[str, object]:
    """``{"header", "design", "allocations"}`` of a state file; any problem is an error naming FILE:LINE."""
    path = Path(path)
    if not path.is_file():
        raise AllocationError(f"{path}: no such state file (create it first)")
    return _parse(path, path.read_bytes())


def allocate(path: PathLike, subject: Mapping[str, str], *, subject_id: Optional[str] = None) -> Tuple[Dict[str, object], bool]:
    """Allocate ``subject`` and record it atomically; returns ``(record, new)``.

    ``new`` is False when ``subject_id`` was already allocated (with the same
    levels): the recorded allocation is returned and nothing is written.
    """
    path = Path(path)
    if subject_id is not None:
        subject_id = str(subject_id)
        if not subject_id.strip():
            raise AllocationError("subject id: must not be empty")
    with _locked(path):
        if not path.is_file():
            raise AllocationError(f"{path}: no such state file (create it first)")
        _remove_stale_temporaries(path)
        data = path.read_bytes()
        state = _parse(path, data)
        design = state["design"]
        subject = check_subject(subject, design["factors"])
        if subject_id is not None:
            for record in state["allocations"]:
                if record.get("id") == subject_id:
                    if record["subject"] != subject:
                        raise AllocationError(
                            f"subject id {subject_id!r} was allocated (#{record['index']}) with "
                            f"{record['subject']}, not {subject}"
                        )
                    return record, False
        previous = state["allocations"][-1]["chain"] if state["allocations"] else state["header"]["chain"]
        result = minimise_next(design, state["allocations"], subject)
        record = {"type": "allocation", "index": result["index"], "id": subject_id, **{k: result[k] for k in ("subject", "arm", "scores", "probabilities", "u")}, "allocated": _now()}
        record["chain"] = chain_hash(previous, record)
        write_atomic(path, data + (canonical_json(record) + "\n").encode("utf-8"))
        return record, True


def verify_state(path: PathLike) -> Dict[str, object]:
    """Re-read the file (chain, indices, ids) and replay every allocation from the seed.

    Returns ``{"allocations": n, "problems": [str, ...]}``; no problems means
    every recorded arm, score, probability and ``u`` is what the design gives.
    """
    state = read_state(path)
    problems: List[str] = []
    design = state["design"]
    done: List[Dict[str, object]] = []
    for record in state["allocations"]:
        again = minimise_next(design, done, record["subject"], index=record["index"])
        for key in ("arm", "scores", "probabilities", "u"):
            if again[key] != record.get(key):
                problems.append(f"{path}:{record['index'] + 1}: allocation #{record['index']} {key} is {record.get(key)!r}, the design gives {again[key]!r}")
        done.append(record)
    return {"allocations": len(done), "problems": problems}
