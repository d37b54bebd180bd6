"""The NCI CTCAE workbook compiled into a compact, JSON-safe table:
``ct.read_ctcae.v1``.

One record per term: ``term``, ``meddra_code`` (str), ``soc``,
``definition``, ``note`` (navigational note or None) and ``grades``
(``{"1": text, ..., "5": text}``; None where the workbook says "-").
openpyxl is imported only when a workbook is compiled.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from spacy.util import registry

__all__ = ["CTCAE_VERSION", "file_sha256", "read_ctcae_table", "read_ctcae_workbook"]

CTCAE_VERSION = "5.0"

_SHEET_NAME = "CTCAE v5.0 Clean Copy"
_REQUIRED_COLUMNS = (
    "MedDRA Code",
    "MedDRA SOC",
    "CTCAE Term",
    "Grade 1",
    "Grade 2",
    "Grade 3",
    "Grade 4",
    "Grade 5",
    "Definition",
)
_OPTIONAL_COLUMNS = ("Navigational Note",)


# --------------------------------------------------------------------------
# Workbook compiler
# --------------------------------------------------------------------------


def _clean_cell(value: Any) -> Optional[str]:
    """Workbook cell -> stripped text; '-' (grade not applicable) and blanks -> None."""
    if value is None:
        return None
    text = str(value).replace("\xa0", " ")
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\s*\n\s*", "\n", text).strip()
    if text in ("", "-", "–"):
        return None
    return text


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, read in chunks (also used by the project's scripts)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_ctcae_workbook(path: Union[str, Path]) -> Dict[str, Any]:
    """Compile the official CTCAE v5.0 workbook into a compact JSON-safe table.

    path: the NCI ``CTCAE_v5.0.xlsx`` (sheet "CTCAE v5.0 Clean Copy").
    Returns ``{"version": "5.0", "source_sha256": ..., "terms": [...]}``, one
    record per term with ``term``, ``meddra_code`` (str), ``soc``,
    ``definition``, ``note`` (navigational note or None) and ``grades``
    (``{"1": text, ..., "5": text}``; None where the workbook says "-").
    Raises FileNotFoundError / ValueError naming the file when it is missing
    or not laid out like the NCI workbook.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CTCAE workbook not found: {path} (expected the NCI CTCAE_v5.0.xlsx; see assets in project.yml)")
    import openpyxl  # heavy-ish; only needed when compiling
    from openpyxl.utils.exceptions import InvalidFileException
    import zipfile

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as err:
        raise ValueError(f"{path}: cannot be read as an .xlsx workbook ({err})") from err
    try:
        if _SHEET_NAME in workbook.sheetnames:
            sheet = workbook[_SHEET_NAME]
        else:
            sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ValueError(f"{path}: sheet '{sheet.title}' is empty; expected the CTCAE v5.0 term table")
        names = [re.sub(r"\s+", " ", str(h or "").replace("\xa0", " ")).strip() for h in header]
        missing = [c for c in _REQUIRED_COLUMNS if c not in names]
        if missing:
            raise ValueError(
                f"{path}: sheet '{sheet.title}' is not the CTCAE v5.0 layout; missing column(s) {missing} (found {names})"
            )
        col = {c: names.index(c) for c in _REQUIRED_COLUMNS + _OPTIONAL_COLUMNS if c in names}
        terms: List[Dict[str, Any]] = []
        seen = set()
        for row_number, row in enumerate(rows, start=2):
            if row is None or all(v is None for v in row):
                continue
            term = _clean_cell(row[col["CTCAE Term"]])
            code = row[col["MedDRA Code"]]
            if term is None:
                continue
            if code is None:
                raise ValueError(f"{path}: row {row_number} ('{term}') has no MedDRA code")
            if term.lower() in seen:
                raise ValueError(f"{path}: row {row_number}: duplicate CTCAE term '{term}'")
            seen.add(term.lower())
            note_idx = col.get("Navigational Note")
            terms.append(
                {
                    "term": term,
                    "meddra_code": str(int(code)) if isinstance(code, (int, float)) else str(code).strip(),
                    "soc": _clean_cell(row[col["MedDRA SOC"]]) or "",
                    "definition": _clean_cell(row[col["Definition"]]),
                    "note": _clean_cell(row[note_idx]) if note_idx is not None else None,
                    "grades": {str(g): _clean_cell(row[col[f"Grade {g}"]]) for g in range(1, 6)},
                }
            )
    finally:
        workbook.close()
    if not terms:
        raise ValueError(f"{path}: no CTCAE terms found in sheet '{sheet.title}'")
    return {"version": CTCAE_VERSION, "source": path.name, "source_sha256": file_sha256(path), "terms": terms}


@registry.misc("ct.read_ctcae.v1")
def read_ctcae_table(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_ctcae.v1``: the compiled CTCAE table for ``path``.

    For ``[initialize.components.ct_reasoner]``:
    ``kb = {"@misc": "ct.read_ctcae.v1", "path": "assets/ctcae/CTCAE_v5.0.xlsx"}``.
    """
    return read_ctcae_workbook(path)
