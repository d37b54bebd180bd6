"""Atomic file writes for lists and their records (temporary file, fsync, rename, fsync of the folder)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Mapping, Tuple, Union

PathLike = Union[str, Path]


def write_atomic(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
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


def meta_path(list_path: PathLike) -> Path:
    """``list.csv`` -> ``list.meta.json`` (beside the list)."""
    p = Path(list_path)
    return p.with_name(p.stem + ".meta.json")


def write_list(lst: Mapping[str, object], path: PathLike) -> Tuple[Path, Path]:
    """Write a list's CSV (the bytes its ``meta["sha256"]`` covers) and its meta JSON beside it.

    The meta is written first, so a list file never exists without its record;
    both writes are atomic.
    """
    path = Path(path)
    meta = meta_path(path)
    record = {**lst["meta"], "list_file": path.name}
    write_atomic(meta, (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    write_atomic(path, str(lst["csv"]).encode("utf-8"))
    return path, meta
