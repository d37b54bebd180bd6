"""Thin readers for the DLT assessment: ``annotate`` output (``docs.jsonl``,
``errors.jsonl``) and an ADSL-shaped subject csv, into the plain dicts of
:mod:`.dlt`.

Kept apart from the assessment on purpose: the shared trial input layer
(``ct_safety_nlp.trial.inputs``, being written on another branch) will read the
same files; the integrator can then build :mod:`.dlt`'s subject / event dicts
from it and retire this module. The conventions are the same as that layer's:
subject and visit come from a csv/jsonl row's fields (``meta``): ``usubjid``
(or ``subject``), ``visit_date`` (ISO date) or ``ady`` / ``study_day``; names are
matched case-insensitively. The subject file has ``USUBJID``, ``TRTSDT`` (first
dose date), a dose level column (``DOSELVL``, ``DOSE_LEVEL``, ``DOSELEVEL`` or
``DOSLVL``), optionally ``COHORT``, ``LSTALVDT`` (last date known followed) and
``SAFFL`` (subjects with ``N`` are left out, with the reason).

A file that cannot be used raises :class:`~._common.EscalationError` naming
FILE:LINE; a record that cannot be used (no subject, a bad date, an annotate
error) is returned in ``excluded`` with its reason, never dropped silently.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from ._common import EscalationError

DOSE_LEVEL_COLUMNS = ("DOSELVL", "DOSE_LEVEL", "DOSELEVEL", "DOSLVL")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")


def parse_iso_date(value) -> Optional[date]:
    """``YYYY-MM-DD`` (a datetime's date part) -> date; None for empty; ValueError otherwise."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    m = _ISO.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD)")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def read_subject_csv(path: Union[str, Path], dose_level_column: Optional[str] = None) -> Tuple[List[Dict], List[Dict]]:
    """(subjects, excluded) from an ADSL-shaped csv."""
    path = Path(path)
    if not path.exists():
        raise EscalationError(f"{path}: subject file not found")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise EscalationError(f"{path}: not UTF-8 text ({err})") from None
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise EscalationError(f"{path}:1: the subject file is empty") from None
    upper = {h.upper(): i for i, h in enumerate(header)}
    for required in ("USUBJID", "TRTSDT"):
        if required not in upper:
            raise EscalationError(f"{path}:1: missing column {required} (header: {', '.join(header)})")
    wanted = (dose_level_column.upper(),) if dose_level_column else DOSE_LEVEL_COLUMNS
    dose_col = next((upper[c] for c in wanted if c in upper), None)
    if dose_col is None:
        raise EscalationError(f"{path}:1: no dose level column (looked for {', '.join(wanted)}; header: {', '.join(header)})")
    col = {k: upper.get(k) for k in ("COHORT", "LSTALVDT", "SAFFL")}
    subjects, excluded, seen = [], [], {}
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise EscalationError(f"{path}:{line_no}: {len(row)} fields, the header has {len(header)}")
        where = f"{path.name}:{line_no}"
        sid = row[upper["USUBJID"]].strip()
        if not sid:
            raise EscalationError(f"{path}:{line_no}: empty USUBJID")
        if sid in seen:
            raise EscalationError(f"{path}:{line_no}: subject {sid!r} already on line {seen[sid]}")
        seen[sid] = line_no
        if col["SAFFL"] is not None and row[col["SAFFL"]].strip().upper() == "N":
            excluded.append({"kind": "subject", "record": sid, "where": where, "reason": "SAFFL = N (not in the safety population)"})
            continue
        try:
            first = parse_iso_date(row[upper["TRTSDT"]])
            follow = parse_iso_date(row[col["LSTALVDT"]]) if col["LSTALVDT"] is not None else None
        except ValueError as err:
            excluded.append({"kind": "subject", "record": sid, "where": where, "reason": f"bad date: {err}"})
            continue
        raw_dose = row[dose_col].strip()
        try:
            dose = int(raw_dose)
        except ValueError:
            excluded.append({"kind": "subject", "record": sid, "where": where, "reason": f"dose level {raw_dose!r} is not an integer"})
            continue
        cohort = row[col["COHORT"]].strip() if col["COHORT"] is not None else None
        subjects.append({"subject": sid, "dose": dose, "first_dose": first, "cohort": cohort or None, "followup_end": follow, "last_note": None, "where": where})
    return subjects, excluded


def _field(meta: Optional[Dict], *names: str):
    if not meta:
        return None
    lower = {str(k).lower(): v for k, v in meta.items()}
    for n in names:
        if n in lower and lower[n] not in (None, ""):
            return lower[n]
    return None


def read_annotation_events(folder: Union[str, Path]) -> Tuple[List[Dict], Dict[str, date], List[Dict]]:
    """(events, last note date per subject, excluded) from an ``annotate`` output folder."""
    folder = Path(folder)
    docs = folder / "docs.jsonl"
    if not docs.exists():
        raise EscalationError(f"{docs}: not found (give the --output folder of `en-clinical-trials annotate`)")
    events: List[Dict] = []
    last_note: Dict[str, date] = {}
    excluded: List[Dict] = []
    with open(docs, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"docs.jsonl:{line_no}"
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as err:
                raise EscalationError(f"{docs}:{line_no}: not JSON ({err.msg})") from None
            if not isinstance(doc, dict) or "id" not in doc:
                raise EscalationError(f"{docs}:{line_no}: not a document object with an 'id'")
            meta = doc.get("meta")
            sid = _field(meta, "usubjid", "subject")
            if sid is None:
                excluded.append({"kind": "document", "record": doc["id"], "where": where, "reason": "no subject (usubjid) in the row fields"})
                continue
            sid = str(sid).strip()
            raw_date, raw_day = _field(meta, "visit_date"), _field(meta, "ady", "study_day")
            try:
                when = parse_iso_date(raw_date) if raw_date is not None else None
                day = int(raw_day) if (when is None and raw_day is not None) else None
            except ValueError as err:
                excluded.append({"kind": "document", "record": doc["id"], "where": where, "reason": f"bad visit date / study day: {err}"})
                continue
            if when is not None and (sid not in last_note or when > last_note[sid]):
                last_note[sid] = when
            for ae in doc.get("adverse_events") or []:
                events.append(
                    {
                        "subject": sid,
                        "date": when,
                        "study_day": day,
                        "ctcae_term": ae.get("ctcae_term"),
                        "soc": ae.get("soc"),
                        "grade": ae.get("grade"),
                        "serious": ae.get("serious"),
                        "negated": bool(ae.get("negated")),
                        "historical": bool(ae.get("historical")),
                        "speculated": bool(ae.get("speculated")),
                        "text": ae.get("text"),
                        "doc_id": doc["id"],
                        "where": where,
                    }
                )
    errors = folder / "errors.jsonl"
    if errors.exists():
        for line_no, line in enumerate(errors.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    err = json.loads(line)
                except json.JSONDecodeError:
                    err = {"id": f"line {line_no}", "error": "unreadable errors.jsonl line"}
                excluded.append({"kind": "annotate_error", "record": str(err.get("id")), "where": f"errors.jsonl:{line_no}", "reason": str(err.get("error"))})
    return events, last_note, excluded


def read_trial_data(annotations: Union[str, Path], subjects_csv: Union[str, Path], dose_level_column: Optional[str] = None) -> Tuple[List[Dict], List[Dict], List[Dict]]:
    """(subjects with their last note date, events, excluded) for :func:`.dlt.assess_dlts`."""
    subjects, excluded = read_subject_csv(subjects_csv, dose_level_column)
    events, last_note, excl_docs = read_annotation_events(annotations)
    for s in subjects:
        s["last_note"] = last_note.get(s["subject"])
    known = {s["subject"] for s in subjects} | {x["record"] for x in excluded if x["kind"] == "subject"}
    for sid in sorted(set(last_note) - known):
        excl_docs.append({"kind": "document", "record": sid, "where": str(annotations), "reason": f"notes for subject {sid!r}, who is not in the subject file"})
    return subjects, events, excluded + excl_docs
