"""Managing the knowledge base of a pipeline: the logic behind
``en-clinical-trials kb`` (show, map, add-synonyms, diff), kept apart from the
command line so Python users get the same functions.

* :func:`term_details`: a term's record, the synonyms that point to it, the
  lab rules that grade it and (for v5 terms) its v6.0 conversion;
* :func:`read_ae_table` / :func:`convert_records`: a CSV / JSONL of AEs (term +
  grade) converted v5.0 -> v6.0 with :class:`~.mapping.CtcaeMapping`;
* :func:`read_synonym_table` / :func:`merge_synonyms`: a user's synonym table
  checked (unknown targets, duplicates, conflicts: errors naming FILE:LINE) and
  merged into a copy of a knowledge base;
* :func:`diff_versions` / :func:`diff_kbs`: what differs between the pipeline's
  two CTCAE versions, or between two pipelines.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from ..text import clean_key
from .mapping import CtcaeMapping

__all__ = [
    "convert_records",
    "diff_kbs",
    "diff_versions",
    "lab_rules_of_term",
    "merge_synonyms",
    "read_ae_table",
    "read_synonym_table",
    "term_details",
]

PathLike = Union[str, Path]


# ------------------------------------------------------------------ show
def lab_rules_of_term(lab_rules, term: str) -> List[Dict[str, Any]]:
    """The lab rules (key, unit, cuts with their workbook fragments) that grade ``term``."""
    out = []
    for key, rule in lab_rules.rules.items():
        if rule.term.lower() != term.lower():
            continue
        cuts = []
        for cut in rule.cuts:
            limit = rule.reference if cut.threshold is None else cut.threshold
            cuts.append({"grade": cut.grade, "op": cut.op, "threshold": limit, "workbook": dict(cut.workbook)})
        out.append({"rule": key, "unit": rule.unit, "direction": rule.direction, "cuts": cuts})
    return out


def term_details(kb, term: str, *, lab_rules=None, mapping: Optional[CtcaeMapping] = None) -> Optional[Dict[str, Any]]:
    """Definition, grade criteria, navigational note, synonyms, lab rules and the v6.0
    conversion (v5 KBs with a mapping) of ``term``; None when the KB has no such term."""
    record = kb.term(term)
    if record is None:
        return None
    name = record["term"]
    details = {
        "term": name,
        "ctcae_version": kb.version,
        "meddra_code": record.get("meddra_code"),
        "soc": record.get("soc"),
        "definition": record.get("definition"),
        "note": record.get("note"),
        "grades": record.get("grades") or {},
        "synonyms": sorted(s for s, t in kb.synonyms.items() if t == name),
        "lab_rules": lab_rules_of_term(lab_rules, name) if lab_rules is not None else [],
    }
    if mapping is not None and kb.version == "5.0":
        rec = mapping.lookup(name)
        if rec is not None:
            details["v6"] = {"kind": rec["kind"], "v6_term": rec["v6_term"], "v6_terms": rec["v6_terms"]}
    return details


# ------------------------------------------------------------------- map
_TERM_FIELDS = ("term", "ctcae_term", "v5_term")
_GRADE_FIELDS = ("grade", "ctcae_grade", "v5_grade")


def read_ae_table(path: PathLike) -> List[Tuple[int, Dict[str, Any]]]:
    """(line, record) of each AE in a CSV (header with ``term`` or ``ctcae_term``,
    optional ``grade``) or JSONL file. ValueError naming FILE:LINE for a bad line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    suffix = path.suffix.lower()
    rows: List[Tuple[int, Dict[str, Any]]] = []
    if suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{n}: not valid JSON ({err.msg})") from None
                if not isinstance(rec, dict):
                    raise ValueError(f"{path}:{n}: expected a JSON object, got {type(rec).__name__}")
                rows.append((n, rec))
    elif suffix in (".csv", ".tsv"):
        with path.open(encoding="utf8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            if not reader.fieldnames or not any(f in reader.fieldnames for f in _TERM_FIELDS):
                raise ValueError(f"{path}:1: the header needs a column {' or '.join(_TERM_FIELDS)} (found {reader.fieldnames})")
            for rec in reader:
                rows.append((reader.line_num, dict(rec)))
    else:
        raise ValueError(f"{path}: expected a .csv, .tsv or .jsonl file of AEs")
    return rows


def _field(rec: Dict[str, Any], names: Iterable[str]):
    for name in names:
        if name in rec and rec[name] not in (None, ""):
            return rec[name]
    return None


def convert_records(rows: List[Tuple[int, Dict[str, Any]]], mapping: CtcaeMapping, *, source: str = "input") -> List[Dict[str, Any]]:
    """Each AE converted v5.0 -> v6.0 (:meth:`CtcaeMapping.convert`); the input's own
    fields are kept under ``input``. A row that cannot be converted keeps its place
    with ``error`` = ``FILE:LINE: problem`` (no record is dropped)."""
    out = []
    for line, rec in rows:
        term = _field(rec, _TERM_FIELDS)
        grade = _field(rec, _GRADE_FIELDS)
        result: Dict[str, Any] = {"line": line, "input": rec}
        try:
            if term is None:
                raise ValueError(f"no term (fields {', '.join(_TERM_FIELDS)})")
            if grade is not None:
                try:
                    grade = int(str(grade).strip())
                except ValueError:
                    raise ValueError(f"grade {grade!r} is not an integer 1-5") from None
            result.update(mapping.convert(str(term), grade))
        except ValueError as err:
            result["error"] = f"{source}:{line}: {err}"
        out.append(result)
    return out


# ---------------------------------------------------------- add-synonyms
def read_synonym_table(path: PathLike) -> List[Tuple[int, str, str]]:
    """(line, surface, term) of a user's synonym table: CSV / TSV with a header
    ``synonym,term`` (``surface`` also accepted). ValueError naming FILE:LINE."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: synonym table not found")
    if path.suffix.lower() not in (".csv", ".tsv"):
        raise ValueError(f"{path}: expected a .csv or .tsv synonym table with the header 'synonym,term'")
    rows = []
    with path.open(encoding="utf8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        fields = reader.fieldnames or []
        surface_field = next((f for f in ("synonym", "surface") if f in fields), None)
        if surface_field is None or "term" not in fields:
            raise ValueError(f"{path}:1: the header needs the columns 'synonym' and 'term' (found {fields})")
        for rec in reader:
            surface, term = (rec.get(surface_field) or "").strip(), (rec.get("term") or "").strip()
            if not surface or not term:
                raise ValueError(f"{path}:{reader.line_num}: both 'synonym' and 'term' must be filled")
            rows.append((reader.line_num, surface, term))
    if not rows:
        raise ValueError(f"{path}: the synonym table has no rows")
    return rows


def merge_synonyms(kb, rows: List[Tuple[int, str, str]], *, source: str = "synonyms") -> Tuple[Dict[str, str], List[str]]:
    """The KB's synonyms with ``rows`` merged, and the list of problems (each
    ``FILE:LINE: problem``): a target that is not a term of the KB's version, a
    synonym given twice, a synonym already pointing to another term (or naming
    another term). Nothing is merged when there is a problem."""
    merged = dict(kb.synonyms)
    problems: List[str] = []
    seen: Dict[str, Tuple[int, str]] = {}
    added: Dict[str, str] = {}
    for line, surface, target in rows:
        key = clean_key(surface)
        record = kb.term(target)
        if record is None:
            problems.append(f"{source}:{line}: '{target}' is not a CTCAE v{kb.version} term")
            continue
        target = record["term"]
        if key in seen:
            first_line, first_target = seen[key]
            if first_target == target:
                problems.append(f"{source}:{line}: duplicate synonym '{surface}' (already on line {first_line})")
            else:
                problems.append(f"{source}:{line}: '{surface}' -> '{target}' conflicts with line {first_line} ('{first_target}')")
            continue
        seen[key] = (line, target)
        existing_term = kb.term(surface)
        if existing_term is not None and existing_term["term"] != target:
            problems.append(f"{source}:{line}: '{surface}' is the CTCAE term '{existing_term['term']}', not a synonym of '{target}'")
            continue
        if key in merged and merged[key] != target:
            problems.append(f"{source}:{line}: '{surface}' already maps to '{merged[key]}' in the pipeline, not '{target}'")
            continue
        added[key] = target
    if problems:
        return dict(kb.synonyms), problems
    merged.update(added)
    return merged, []


# ------------------------------------------------------------------ diff
def diff_versions(kb5, kb6, mapping: Optional[CtcaeMapping] = None, lab5=None, lab6=None) -> Dict[str, Any]:
    """v5.0 vs v6.0: terms only in one, terms whose grade texts changed, the mapping's
    kinds and the lab rules whose thresholds differ."""
    t5, t6 = {t.lower(): t for t in kb5.terms}, {t.lower(): t for t in kb6.terms}
    changed_grades = []
    for low in sorted(set(t5) & set(t6)):
        g5, g6 = kb5.term(t5[low])["grades"], kb6.term(t6[low])["grades"]
        grades = [g for g in sorted(set(g5) | set(g6)) if (g5.get(g) or "") != (g6.get(g) or "")]
        if grades:
            changed_grades.append({"term": t6[low], "grades": grades})
    out: Dict[str, Any] = {
        "from": kb5.version,
        "to": kb6.version,
        "terms": {"from": len(t5), "to": len(t6)},
        "only_in_from": sorted(t5[k] for k in set(t5) - set(t6)),
        "only_in_to": sorted(t6[k] for k in set(t6) - set(t5)),
        "grade_text_changed": changed_grades,
    }
    if mapping is not None:
        kinds: Dict[str, List[str]] = {}
        for term, rec in mapping.terms.items():
            kinds.setdefault(rec["kind"], []).append(term)
        out["mapping"] = {kind: {"count": len(terms), "terms": sorted(terms) if kind != "kept" and kind != "clarified" else []} for kind, terms in sorted(kinds.items())}
        out["renamed_or_merged"] = {t: mapping.terms[t]["v6_terms"] for t in sorted(kinds.get("renamed", []) + kinds.get("merged", []))}
    if lab5 is not None and lab6 is not None:
        out["lab_rules"] = _diff_labs(lab5, lab6)
    return out


def _diff_labs(lab_a, lab_b) -> Dict[str, Any]:
    def shown(rule):
        out = {"term": rule.term, "cuts": [(c.grade, c.op, rule.reference if c.threshold is None else c.threshold) for c in rule.cuts]}
        if rule.baseline_when != "above_ULN":
            out["baseline_when"] = rule.baseline_when
        return out

    a, b = lab_a.rules, lab_b.rules
    changed = {k: {"from": shown(a[k]), "to": shown(b[k])} for k in sorted(set(a) & set(b)) if shown(a[k]) != shown(b[k])}
    return {"only_in_from": sorted(set(a) - set(b)), "only_in_to": sorted(set(b) - set(a)), "changed": changed}


def diff_kbs(kb_a, kb_b, lab_a=None, lab_b=None) -> Dict[str, Any]:
    """Two pipelines' knowledge bases: versions, terms and synonyms only in one or
    pointing elsewhere, and their lab rules."""
    sa, sb = kb_a.synonyms, kb_b.synonyms
    ta, tb = set(kb_a.terms), set(kb_b.terms)
    out = {
        "from": kb_a.version,
        "to": kb_b.version,
        "only_in_from": sorted(ta - tb),
        "only_in_to": sorted(tb - ta),
        "synonyms_only_in_from": {s: sa[s] for s in sorted(set(sa) - set(sb))},
        "synonyms_only_in_to": {s: sb[s] for s in sorted(set(sb) - set(sa))},
        "synonyms_changed": {s: {"from": sa[s], "to": sb[s]} for s in sorted(set(sa) & set(sb)) if sa[s] != sb[s]},
    }
    if lab_a is not None and lab_b is not None:
        out["lab_rules"] = _diff_labs(lab_a, lab_b)
    return out
