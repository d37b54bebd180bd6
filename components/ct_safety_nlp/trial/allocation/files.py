"""Atomic file writes for lists and their records (temporary file, fsync, rename, fsync of the folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Tuple, Union

from ...fileio import write_atomic as _write_atomic

PathLike = Union[str, Path]


def write_atomic(path: PathLike, data: bytes) -> Path:
    """:func:`ct_safety_nlp.fileio.write_atomic`, readable by the owner only
    (a randomisation list or state file is not for everyone on the machine)."""
    return _write_atomic(path, data, mode=0o600)


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
