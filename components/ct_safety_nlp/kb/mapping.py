"""NCI's CTCAE v5.0 -> v6.0 mapping (sheet "CTCAE v5.0 to v6.0 Mapping" of the
v6.0 workbook) compiled: ``ct.read_ctcae_mapping.v1`` and :class:`CtcaeMapping`.

The sheet has one row per v5 element (definition, each grade, navigational
note) with the v5 text, NCI's change type (No change / Clarification /
Deletion / SOC change) and the v6 code, term, element and text. Per v5 term
the compiled table says what became of it:

* ``kept``: same term, every element "No change" (a SOC change alone included,
  ``soc_changed`` then says so);
* ``clarified``: same term, some element clarified;
* ``renamed``: the term is gone and its elements point to one other v6 term
  that no other v5 term is mapped to;
* ``merged``: as renamed, but other v5 terms map to that v6 term too;
* ``deleted``: no v6 term.

:meth:`CtcaeMapping.convert` converts one AE (term + grade): the v6 term and
grade (NCI's row for that grade: "Lymphocyte count decreased" grade 3 ->
"Lymphopenia" grade 1) and whether the grade's text changed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from spacy.util import registry

from .workbook import _clean_cell, _header_names, file_sha256, workbook_rows

__all__ = ["KINDS", "CtcaeMapping", "read_ctcae_mapping", "read_ctcae_mapping_table", "repoint_synonyms"]

KINDS = ("kept", "clarified", "renamed", "merged", "deleted")
_SHEET = "CTCAE v5.0 to v6.0 Mapping"
_COLUMNS = {
    "CTCAE v5.0 MedDRA 20.1 LLT Code": "v5_code",
    "CTCAE v5.0 MedDRA 20.1 SOC": "v5_soc",
    "CTCAE v5.0 MedDRA 20.1 Term": "v5_term",
    "CTCAE v5.0 Grade/Definition/Navigational Note": "v5_element",
    "CTCAE v5.0 Description": "v5_text",
    "Change Type": "change",
    "CTCAE v6.0 MedDRA 28.0 LLT Code": "v6_code",
    "CTCAE v6.0 MedDRA 28.0 SOC": "v6_soc",
    "CTCAE v6.0 MedDRA 28.0 Term": "v6_term",
    "CTCAE v6.0 Grade/Definition/Navigational Note": "v6_element",
    "CTCAE v6.0 Description": "v6_text",
}
_CHANGES = ("No change", "Clarification", "Deletion", "SOC change")


def _same_text(a: Optional[str], b: Optional[str]) -> bool:
    """Grade texts equal up to spacing and NCI's unit spelling ("10e9 /L" vs "10^9/L")."""

    def norm(t: Optional[str]) -> str:
        t = (t or "").lower().replace("10e9", "10^9")
        return re.sub(r"\s+", "", t)

    return norm(a) == norm(b)


def read_ctcae_mapping(path: Union[str, Path]) -> Dict[str, Any]:
    """Compile the v5.0 -> v6.0 mapping sheet of the NCI ``CTCAE_v6.0.xlsx``.

    Returns ``{"from": "5.0", "to": "6.0", "source", "source_sha256", "terms":
    {v5 term: {"kind", "v6_terms", "meddra_code", "v6_meddra_code", "soc_changed",
    "grades": {"1": {"v6_term", "v6_grade", "changed"}, ...}}}}``. A row naming an
    unknown change type, or a v5 term without rows, is an error naming FILE:ROW.
    """
    path = Path(path)
    workbook, rows = workbook_rows(path, _SHEET, "the NCI CTCAE_v6.0.xlsx with its v5.0 to v6.0 mapping sheet")
    terms: Dict[str, Dict[str, Any]] = {}
    try:
        header = None
        for row_number, row in enumerate(rows, start=1):
            if header is None:
                names = _header_names(row, aliases=False)
                if "Change Type" in names:
                    header = {key: names.index(name) for name, key in _COLUMNS.items() if name in names}
                    missing = [n for n, k in _COLUMNS.items() if k not in header]
                    if missing:
                        raise ValueError(f"{path}:{row_number}: mapping sheet lacks column(s) {missing}")
                elif row_number > 5:
                    raise ValueError(f"{path}: sheet '{_SHEET}' has no header row with 'Change Type' in its first 5 rows")
                continue
            if row is None or all(v is None for v in row):
                continue
            cell = {k: _clean_cell(row[i]) if i < len(row) else None for k, i in header.items()}
            v5_term = cell["v5_term"]
            if v5_term is None:
                continue
            changes = [c.strip() for c in (cell["change"] or "").split(",")]
            if not all(c in _CHANGES for c in changes):
                raise ValueError(f"{path}:{row_number}: unknown change type {cell['change']!r} for '{v5_term}' (known: {', '.join(_CHANGES)})")
            rec = terms.setdefault(
                v5_term,
                {"meddra_code": _code(cell["v5_code"]), "soc": cell["v5_soc"], "changes": [], "v6": [], "grades": {}, "soc_changed": False},
            )
            rec["changes"].extend(changes)
            v6_term = cell["v6_term"]
            if v6_term is not None and v6_term not in rec["v6"]:
                rec["v6"].append(v6_term)
                rec.setdefault("v6_codes", {})[v6_term] = _code(cell["v6_code"])
            if "SOC change" in changes or (cell["v6_soc"] and cell["v5_soc"] and cell["v6_soc"] != cell["v5_soc"]):
                rec["soc_changed"] = True
            element = cell["v5_element"] or ""
            m = re.fullmatch(r"Grade (\d)", element)
            if m:
                m6 = re.fullmatch(r"Grade (\d)", cell["v6_element"] or "")
                rec["grades"][m.group(1)] = {
                    "v6_term": v6_term,
                    "v6_grade": int(m6.group(1)) if (m6 and v6_term) else None,
                    "changed": changes != ["No change"] and not (v6_term == v5_term and _same_text(cell["v5_text"], cell["v6_text"])),
                }
    finally:
        workbook.close()
    if not terms:
        raise ValueError(f"{path}: no rows in sheet '{_SHEET}'")
    targets: Dict[str, List[str]] = {}
    for v5_term, rec in terms.items():
        for v6_term in rec["v6"]:
            targets.setdefault(v6_term, []).append(v5_term)
    compiled = {}
    for v5_term, rec in terms.items():
        v6_terms = rec["v6"]
        if not v6_terms:
            kind = "deleted"
        elif v5_term in v6_terms:
            kind = "kept" if all(c in ("No change", "SOC change") for c in rec["changes"]) else "clarified"
        elif any(len(targets[t]) > 1 for t in v6_terms):
            kind = "merged"
        else:
            kind = "renamed"
        main = v5_term if v5_term in v6_terms else (v6_terms[0] if v6_terms else None)
        compiled[v5_term] = {
            "kind": kind,
            "v6_term": main,
            "v6_terms": v6_terms,
            "meddra_code": rec["meddra_code"],
            "v6_meddra_code": rec.get("v6_codes", {}).get(main) if main else None,
            "soc_changed": rec["soc_changed"],
            "grades": rec["grades"],
        }
    return {"from": "5.0", "to": "6.0", "source": path.name, "source_sha256": file_sha256(path), "terms": compiled}


def _code(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") else text


@registry.misc("ct.read_ctcae_mapping.v1")
def read_ctcae_mapping_table(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_ctcae_mapping.v1``: :func:`read_ctcae_mapping` for configs
    (``mapping = {"@misc": "ct.read_ctcae_mapping.v1", "path": "assets/ctcae/CTCAE_v6.0.xlsx"}``)."""
    return read_ctcae_mapping(path)


class CtcaeMapping:
    """The compiled v5.0 -> v6.0 mapping (:func:`read_ctcae_mapping`)."""

    def __init__(self, data: Dict[str, Any]):
        if not isinstance(data, dict) or not isinstance(data.get("terms"), dict) or not data["terms"]:
            raise ValueError("CtcaeMapping needs the dict read by ct.read_ctcae_mapping.v1")
        self.data = data
        self.terms: Dict[str, Dict[str, Any]] = data["terms"]
        self._lower = {t.lower(): t for t in self.terms}

    def to_dict(self) -> Dict[str, Any]:
        return self.data

    def lookup(self, term: str) -> Optional[Dict[str, Any]]:
        """The mapping record of a v5 term (any case), or None."""
        key = self._lower.get(str(term).strip().lower())
        return self.terms[key] if key is not None else None

    def convert(self, term: str, grade: Optional[int] = None) -> Dict[str, Any]:
        """Convert one v5 AE: ``{"v5_term", "v5_grade", "kind", "v6_term", "v6_grade",
        "v6_meddra_code", "grade_text_changed", "note"}``. ValueError for a term that
        is not a CTCAE v5.0 term, or a grade outside 1-5."""
        rec = self.lookup(term)
        if rec is None:
            raise ValueError(f"{term!r} is not a CTCAE v5.0 term")
        out: Dict[str, Any] = {
            "v5_term": next(t for t in self.terms if t.lower() == str(term).strip().lower()),
            "v5_grade": grade,
            "kind": rec["kind"],
            "v6_term": rec["v6_term"],
            "v6_grade": None,
            "v6_meddra_code": rec["v6_meddra_code"],
            "grade_text_changed": None,
            "note": "",
        }
        if grade is not None:
            if not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 5:
                raise ValueError(f"grade must be an int 1-5, got {grade!r}")
            g = rec["grades"].get(str(grade))
            if g is None:
                out["note"] = f"v5 '{out['v5_term']}' has no grade {grade}"
            else:
                out["v6_term"] = g["v6_term"] or out["v6_term"]
                out["v6_grade"] = g["v6_grade"]
                out["grade_text_changed"] = bool(g["changed"])
                if g["v6_term"] is None:
                    out["note"] = f"grade {grade} has no v6 counterpart"
                elif g["v6_grade"] != grade:
                    out["note"] = f"v5 grade {grade} is v6 grade {g['v6_grade']}"
        if rec["kind"] == "deleted" and not out["note"]:
            out["note"] = "deleted in v6.0"
        return out

    def v6_term(self, term: str) -> Optional[str]:
        rec = self.lookup(term)
        return rec["v6_term"] if rec is not None else None


def repoint_synonyms(synonyms: Dict[str, str], mapping: CtcaeMapping, v6_terms) -> Dict[str, str]:
    """v5 synonyms for v6: a target renamed or merged in v6 points to its v6 term; a target
    kept stays; a target deleted without a v6 term (or a v6 term not in ``v6_terms``) is
    left out. Returns ``{surface: v6 term}``."""
    known = {t.lower(): t for t in v6_terms}
    out: Dict[str, str] = {}
    for surface, target in synonyms.items():
        v6 = mapping.v6_term(target) or (target if target.lower() in known else None)
        if v6 is not None and v6.lower() in known:
            out[surface] = known[v6.lower()]
    return out
