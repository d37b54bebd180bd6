"""Atomic file writes, used wherever the library writes a result file (reports,
lists, state files, tables): a crash leaves either the old file or the new one,
never a part; and the one reader of JSON-lines text files that the
measurement scripts share. A leaf module: it imports nothing from the library."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Union

__all__ = ["read_jsonl_text_rows", "read_jsonl_texts", "write_atomic"]


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Union[str, Path], data: Union[bytes, str], *, mode: Optional[int] = None) -> Path:
    """Write ``data`` (str is UTF-8 encoded) to ``path``: a temporary file in the
    same folder, fsync, rename over ``path``, fsync of the folder.

    mode: the file's permissions; default as a plain ``open()`` would give
    (0o666 less the umask). Pass 0o600 for files only the owner may read.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        os.fchmod(fd, _default_mode() if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(str(path.parent), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def read_jsonl_text_rows(path: Union[str, Path]) -> List[Dict[str, str]]:
    """The texts of a JSON-lines file, in order, as ``{"id", "text"}``: each
    object's ``text``, else its ``context`` (PHEE's field); the id is the
    object's ``id``, else the line number. Blank lines and objects without a
    text are passed over; a line that is not a JSON object, or a file with no
    text at all, is a ``ValueError`` naming the file (and ``FILE:LINE``)."""
    rows: List[Dict[str, str]] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not JSON ({err.msg})") from err
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object with 'text' or 'context', got {type(obj).__name__}")
            text = obj.get("text") or obj.get("context") or ""
            if isinstance(text, str) and text.strip():
                rows.append({"id": str(obj.get("id", number)), "text": text})
    if not rows:
        raise ValueError(f"{path} has no 'text' or 'context' fields")
    return rows


def read_jsonl_texts(path: Union[str, Path], n: Optional[int] = None, *, cycle: bool = False) -> List[str]:
    """The texts of :func:`read_jsonl_text_rows`; with ``n``, the first ``n``
    (``cycle``: exactly ``n``, starting again from the first when the file has
    fewer)."""
    texts = [row["text"] for row in read_jsonl_text_rows(path)]
    if n is None:
        return texts
    return [texts[i % len(texts)] for i in range(n)] if cycle else texts[:n]
