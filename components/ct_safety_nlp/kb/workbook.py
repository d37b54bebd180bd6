"""The NCI CTCAE workbook (v5.0 or v6.0) compiled into a compact, JSON-safe
table: ``ct.read_ctcae.v1``.

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

__all__ = ["CTCAE_VERSION", "CTCAE_VERSIONS", "file_sha256", "read_ctcae_table", "read_ctcae_workbook", "workbook_rows"]

#: the default version (the one the pipeline grades with unless told otherwise)
CTCAE_VERSION = "5.0"
#: the versions the compiler reads
CTCAE_VERSIONS = ("5.0", "6.0")

_SHEET_NAME = "CTCAE v{version} Clean Copy"
#: v6.0 header -> the v5.0 column name the compiler uses
_COLUMN_ALIASES = {
    "CTCAE v6.0 MedDRA 28.0 LLT Code": "MedDRA Code",
    "CTCAE v6.0 MedDRA 28.0 SOC": "MedDRA SOC",
    "CTCAE v6.0 MedDRA 28.0 Term": "CTCAE Term",
}
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


def _header_names(header, *, aliases: bool = True) -> List[str]:
    """Header cells -> names: non-breaking spaces and runs of blanks folded; with
    ``aliases`` the v6 term-table names read as v5's."""
    names = [re.sub(r"\s+", " ", str(h or "").replace("\xa0", " ")).strip() for h in header]
    return [_COLUMN_ALIASES.get(n, n) for n in names] if aliases else names


def _check_version(version: str) -> str:
    version = str(version)
    if version not in CTCAE_VERSIONS:
        raise ValueError(f"unknown CTCAE version {version!r}; known: {', '.join(CTCAE_VERSIONS)}")
    return version


def workbook_rows(path: Union[str, Path], sheet_name: str, what: str, *, first_if_missing: bool = False):
    """(workbook, rows iterator) of ``sheet_name`` in the .xlsx at ``path`` (or, with
    ``first_if_missing``, of its first sheet when it has no such sheet); errors name
    the file. The caller closes the workbook."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CTCAE workbook not found: {path} (expected {what}; see assets in project.yml)")
    import openpyxl  # heavy-ish; only needed when compiling
    from openpyxl.utils.exceptions import InvalidFileException
    import zipfile

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as err:
        raise ValueError(f"{path}: cannot be read as an .xlsx workbook ({err})") from err
    if sheet_name not in workbook.sheetnames:
        if first_if_missing:
            return workbook, workbook.worksheets[0].iter_rows(values_only=True)
        workbook.close()
        raise ValueError(f"{path}: no sheet '{sheet_name}' (sheets: {workbook.sheetnames}); expected {what}")
    return workbook, workbook[sheet_name].iter_rows(values_only=True)


def read_ctcae_workbook(path: Union[str, Path], version: str = CTCAE_VERSION) -> Dict[str, Any]:
    """Compile the official CTCAE v5.0 or v6.0 workbook into a compact JSON-safe table.

    path: the NCI ``CTCAE_v5.0.xlsx`` (sheet "CTCAE v5.0 Clean Copy") or
    ``CTCAE_v6.0.xlsx`` (sheet "CTCAE v6.0 Clean Copy"; its MedDRA 28.0 column
    names are read as v5's). version: "5.0" (default) or "6.0"; a workbook of
    the other version is an error naming the file.
    Returns ``{"version": version, "source_sha256": ..., "terms": [...]}``, one
    record per term with ``term``, ``meddra_code`` (str), ``soc``,
    ``definition``, ``note`` (navigational note or None) and ``grades``
    (``{"1": text, ..., "5": text}``; None where the workbook says "-").
    Raises FileNotFoundError / ValueError naming the file when it is missing
    or not laid out like the NCI workbook.
    """
    path = Path(path)
    version = _check_version(version)
    sheet_title = _SHEET_NAME.format(version=version)
    workbook, rows = workbook_rows(path, sheet_title, f"the NCI CTCAE_v{version}.xlsx", first_if_missing=True)
    try:
        header = next(rows, None)
        if header is None:
            raise ValueError(f"{path}: sheet '{sheet_title}' is empty; expected the CTCAE v{version} term table")
        names = _header_names(header)
        missing = [c for c in _REQUIRED_COLUMNS if c not in names]
        if missing:
            raise ValueError(
                f"{path}: sheet '{sheet_title}' is not the CTCAE v{version} layout; missing column(s) {missing} (found {names})"
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
        raise ValueError(f"{path}: no CTCAE terms found in sheet '{sheet_title}'")
    return {"version": version, "source": path.name, "source_sha256": file_sha256(path), "terms": terms}


@registry.misc("ct.read_ctcae.v1")
def read_ctcae_table(path: str, version: str = CTCAE_VERSION) -> Dict[str, Any]:
    """Registered ``ct.read_ctcae.v1``: the compiled CTCAE table for ``path``.

    For ``[initialize.components.ct_reasoner]``:
    ``kb = {"@misc": "ct.read_ctcae.v1", "path": "assets/ctcae/CTCAE_v5.0.xlsx"}`` and
    ``kb_v6 = {"@misc": "ct.read_ctcae.v1", "path": "assets/ctcae/CTCAE_v6.0.xlsx", "version": "6.0"}``.
    """
    return read_ctcae_workbook(path, version)
