"""Thin readers for the tumour-response tables: ``annotate`` output and an
ADSL-shaped subject csv, into the plain dicts of :mod:`.response`.

Interim on purpose: the shared trial input layer (``ct_safety_nlp.trial.inputs``,
written on another branch and not yet on main) reads the same files; once it
is merged, :func:`ct_safety_nlp.trial.response.response_tables` can be fed from
it and this module retired. The conventions are that layer's:

* ``DIR/docs.jsonl`` (one document per line, with ``responses`` =
  ``doc._.ct_responses``) and optionally ``DIR/errors.jsonl`` (documents the
  pipeline could not annotate: excluded, with their error). Subject and visit
  come from a csv/jsonl row's fields (``meta``): ``usubjid`` (or ``subjid``,
  ``subject``), ``visit_date`` (or ``adt``; ISO date) or ``ady`` /
  ``study_day`` (CDISC study day: day 1 is the first dose, no day 0); names
  are matched case-insensitively.
* the subject csv: ``USUBJID``; the arm ``TRT01A`` (or ``ACTARM``, ``ARM``,
  ``TRT01P``); the reference start ``TRTSDT`` (or ``RANDDT``; ISO date);
  optionally a population flag column (e.g. ``ITTFL``, ``EFFFL``): subjects
  without ``Y`` are left out, with the reason.

A file that cannot be used raises :class:`ResponseInputError` naming FILE:LINE;
a record that cannot be used is returned in ``excluded`` (``where``, ``id``,
``reason``), never dropped silently.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

ARM_COLUMNS = ("TRT01A", "ACTARM", "ARM", "TRT01P")
START_COLUMNS = ("TRTSDT", "RANDDT")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")


class ResponseInputError(ValueError):
    """An input file that cannot be used; the message is ``FILE:LINE: problem``."""


def parse_iso_date(value: Any) -> Optional[date]:
    """``YYYY-MM-DD`` (a datetime's date part) -> date; None for empty; ValueError otherwise."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    m = _ISO.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD)")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def _field(meta: Optional[Dict[str, Any]], *names: str):
    if not isinstance(meta, dict):
        return None
    lower = {str(k).lower(): v for k, v in meta.items()}
    for name in names:
        value = lower.get(name)
        if value not in (None, ""):
            return value
    return None


def read_subjects(path: Union[str, Path], population_flag: Optional[str] = None) -> Tuple[Dict[str, Dict[str, Any]], List[Dict[str, Any]]]:
    """(subjects by USUBJID, excluded) from an ADSL-shaped csv."""
    path = Path(path)
    if not path.is_file():
        raise ResponseInputError(f"{path}:0: subject file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ResponseInputError(f"{path}:0: not UTF-8 text ({err})") from None
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ResponseInputError(f"{path}:1: the subject file is empty") from None
    upper = {h.upper(): i for i, h in enumerate(header)}
    if "USUBJID" not in upper:
        raise ResponseInputError(f"{path}:1: no USUBJID column (columns: {', '.join(header)})")
    arm_col = next((c for c in ARM_COLUMNS if c in upper), None)
    if arm_col is None:
        raise ResponseInputError(f"{path}:1: no arm column (one of {', '.join(ARM_COLUMNS)})")
    start_col = next((c for c in START_COLUMNS if c in upper), None)
    if start_col is None:
        raise ResponseInputError(f"{path}:1: no reference start date column (one of {', '.join(START_COLUMNS)})")
    flag_col = None
    if population_flag:
        flag_col = population_flag.upper()
        if flag_col not in upper:
            raise ResponseInputError(f"{path}:1: no population flag column {population_flag!r}")
    subjects: Dict[str, Dict[str, Any]] = {}
    excluded: List[Dict[str, Any]] = []
    for line, row in enumerate(reader, 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ResponseInputError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        get = lambda col: row[upper[col]].strip()  # noqa: E731
        usubjid = get("USUBJID")
        where = f"{path}:{line}"
        if not usubjid:
            excluded.append({"where": where, "id": None, "reason": "no USUBJID"})
            continue
        if usubjid in subjects:
            raise ResponseInputError(f"{where}: subject {usubjid!r} appears twice (first at {subjects[usubjid]['where']})")
        if flag_col is not None and get(flag_col).upper() != "Y":
            excluded.append({"where": where, "id": usubjid, "reason": f"{flag_col} is {get(flag_col)!r}, not Y: not in the population"})
            continue
        arm = get(arm_col)
        if not arm:
            excluded.append({"where": where, "id": usubjid, "reason": f"no arm ({arm_col} empty)"})
            continue
        try:
            start = parse_iso_date(get(start_col))
        except ValueError as err:
            excluded.append({"where": where, "id": usubjid, "reason": f"{start_col}: {err}"})
            continue
        subjects[usubjid] = {"usubjid": usubjid, "arm": arm, "start": start, "start_column": start_col, "where": where}
    return subjects, excluded


def read_annotations(folder: Union[str, Path]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(documents, excluded) of an ``annotate`` output folder. A document is
    ``{id, where, usubjid, visit_date, study_day, responses}``."""
    folder = Path(folder)
    docs_path = folder / "docs.jsonl"
    if not folder.is_dir():
        raise ResponseInputError(f"{folder}:0: annotation folder not found (give the --output of `annotate`)")
    if not docs_path.is_file():
        raise ResponseInputError(f"{docs_path}:0: no docs.jsonl in the annotation folder")
    documents: List[Dict[str, Any]] = []
    excluded: List[Dict[str, Any]] = []
    for line, record in _jsonl(docs_path):
        where = f"{docs_path}:{line}"
        if not isinstance(record, dict) or "id" not in record:
            raise ResponseInputError(f"{where}: not a docs.jsonl record (no 'id')")
        meta = record.get("meta")
        usubjid = _field(meta, "usubjid", "subjid", "subject")
        if usubjid is None:
            excluded.append({"where": where, "id": record["id"], "reason": "no subject (meta usubjid) for this document"})
            continue
        try:
            visit = parse_iso_date(_field(meta, "visit_date", "adt"))
        except ValueError as err:
            excluded.append({"where": where, "id": record["id"], "reason": f"visit_date: {err}"})
            continue
        day = _field(meta, "ady", "study_day")
        if day is not None:
            try:
                day = int(str(day).strip())
            except ValueError:
                excluded.append({"where": where, "id": record["id"], "reason": f"ady {day!r} is not an integer"})
                continue
            if day == 0:
                excluded.append({"where": where, "id": record["id"], "reason": "ady 0 does not exist (CDISC study days skip 0)"})
                continue
        responses = record.get("responses")
        if responses is None:
            excluded.append({"where": where, "id": record["id"],
                             "reason": "no 'responses' in the record: annotate with a pipeline that has ct_efficacy"})
            continue
        documents.append({"id": record["id"], "where": where, "usubjid": str(usubjid).strip(), "visit_date": visit,
                          "study_day": day, "responses": responses})
    errors_path = folder / "errors.jsonl"
    if errors_path.is_file():
        for line, record in _jsonl(errors_path):
            excluded.append({"where": f"{errors_path}:{line}", "id": record.get("id") if isinstance(record, dict) else None,
                             "reason": f"annotate could not process it: {record.get('error') if isinstance(record, dict) else record}"})
    return documents, excluded


def _jsonl(path: Path):
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ResponseInputError(f"{path}:0: cannot read ({err})") from None
    for line, raw in enumerate(data.splitlines(), 1):
        try:
            text = raw.decode("utf8")
        except UnicodeDecodeError as err:
            raise ResponseInputError(f"{path}:{line}: not UTF-8 ({err.reason})") from None
        if not text.strip():
            continue
        try:
            yield line, json.loads(text)
        except json.JSONDecodeError as err:
            raise ResponseInputError(f"{path}:{line}: not valid JSON ({err.msg})") from None
