"""``--code``: import a Python file that registers custom components (like
``spacy apply --code``), in the driver and in every Ray actor."""

from __future__ import annotations

import importlib.util
import os
import sys

from .readers import InputError

__all__ = ["import_code"]


def import_code(path: str) -> None:
    """Import a Python file that registers custom components (like ``spacy
    apply --code``)."""
    if not os.path.isfile(path):
        raise InputError(f"--code file {path!r} does not exist")
    spec = importlib.util.spec_from_file_location("ct_bulk_user_code", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ct_bulk_user_code"] = module
    spec.loader.exec_module(module)
