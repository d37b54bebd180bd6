"""Trial-level inputs: annotated documents, subjects (ADSL), a document map and
an existing AE table (SDTM AE / ADaM ADAE), read into plain dataclasses.

This is the one input layer of :mod:`ct_safety_nlp.trial` (safety tables, dose
escalation, tumour response all start here).

Readers
    :func:`read_annotations`  the output folder of ``en-clinical-trials
        annotate``: ``docs.jsonl`` (one :class:`Document` per line, with its
        ``adverse_events``, ``regimens`` and, from a pipeline with
        ``ct_efficacy``, ``responses``) and ``errors.jsonl`` (documents the
        pipeline could not annotate, kept as :class:`Excluded` records).
        Subject and visit come from the row fields (``meta``) of csv/jsonl
        inputs: ``usubjid``, ``visit_date`` (ISO date) or ``ady`` /
        ``study_day`` (study day), ``cycle``; names matched case-insensitively,
        an empty field counts as absent. A caller may accept more names for
        the subject and the visit date (``subject_fields``,
        ``visit_date_fields``: the tumour-response tables also take
        ``subjid`` / ``subject`` and ``adt``, see :data:`SUBJECT_FIELDS`).
    :func:`read_mapping`      a csv mapping document id -> ``usubjid``,
        ``visit_date`` or ``ady`` (also ``study_day``), ``cycle``; the id column
        is ``id``, ``doc_id`` or ``document`` (the ``id`` of docs.jsonl).
    :func:`read_subjects`     an ADSL-shaped subject table (csv, or parquet
        with pyarrow): ``USUBJID``, actual arm ``TRT01A`` (or ``ARM``), safety
        flag ``SAFFL`` (Y/N), first dose date ``TRTSDT``; optional last dose
        date ``TRTEDT`` and a dose level column (``DOSELVL``, ``DOSE_LEVEL``,
        ``DOSELEVEL`` or ``DOSLVL``, or the one named by ``dose_level_column``).
    :func:`read_dose_subjects` the subject file of a dose-escalation trial:
        ``USUBJID``, ``TRTSDT``, a dose level column (required), optional
        ``COHORT``, ``LSTALVDT`` (last date known alive / followed) and
        ``SAFFL`` (``N``: excluded); no arm needed.
    :func:`read_response_subjects` the subject file of the tumour-response
        tables: ``USUBJID``, an arm (:data:`ARM_COLUMNS`), a reference start
        (:data:`START_COLUMNS`), optionally a population flag column (e.g.
        ``ITTFL``, ``EFFFL``): subjects without ``Y`` are excluded.
    :func:`read_ae_table`     an SDTM AE or ADaM ADAE table (csv or parquet).
    :func:`load_trial_inputs` all of the above, joined: each document gets its
        subject; everything that cannot be used becomes an :class:`Excluded`
        record with its reason.

Bad input
    A file that cannot be read as a whole (missing, not UTF-8, malformed csv
    or JSON, a required column missing, the same subject twice) raises
    :class:`InputFileError` with ``FILE:LINE: problem``. A record with a bad or
    missing value (a date that does not parse, no safety flag, an unknown
    subject, a document without a subject) is *excluded*, never dropped
    silently: it goes to the ``excluded`` list with ``where`` = FILE:LINE and
    the reason, and the tables count it.

Dates
    ISO 8601 calendar dates (``YYYY-MM-DD``; a datetime's date part is used).
    A partial date (``2014-03``, ``2014``) is kept as text and treated as
    missing (no imputation). Study day follows CDISC (no day 0): day 1 is the
    first dose date, day -1 the day before; :func:`study_day_to_date` /
    :func:`date_to_study_day` convert.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

__all__ = [
    "InputFileError",
    "Excluded",
    "Document",
    "MapRow",
    "Subject",
    "AeRow",
    "TrialInputs",
    "parse_date",
    "study_day_to_date",
    "date_to_study_day",
    "read_annotations",
    "read_mapping",
    "read_subjects",
    "read_dose_subjects",
    "read_response_subjects",
    "read_ae_table",
    "load_trial_inputs",
    "read_table",
]

DOSE_LEVEL_COLUMNS = ("DOSELVL", "DOSE_LEVEL", "DOSELEVEL", "DOSLVL")
#: arm columns of the tumour-response subject file, the first present is used
ARM_COLUMNS = ("TRT01A", "ACTARM", "ARM", "TRT01P")
#: reference start date columns of the tumour-response subject file
START_COLUMNS = ("TRTSDT", "RANDDT")
#: row field names :func:`read_annotations` can take the subject / visit date from
SUBJECT_FIELDS = ("usubjid", "subjid", "subject")
VISIT_DATE_FIELDS = ("visit_date", "adt")
_ISO_FULL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_ISO_PARTIAL = re.compile(r"^\d{4}(?:-\d{2})?$|^\d{4}-\d{2}-(?:-|UN|UK)?$", re.IGNORECASE)


class InputFileError(ValueError):
    """A trial input file that cannot be used; the message is ``FILE:LINE: problem``."""


@dataclass
class Excluded:
    """A record left out, and why. ``kind``: document, mention, subject,
    map_row, ae_row, annotate_error."""

    kind: str
    record: str
    where: str
    reason: str
    usubjid: str = ""

    def as_row(self) -> Dict[str, str]:
        return {"kind": self.kind, "record": self.record, "usubjid": self.usubjid, "where": self.where, "reason": self.reason}


@dataclass
class Document:
    """One annotated document (a docs.jsonl line)."""

    id: str
    line: int
    source: Optional[str]
    text: Optional[str]
    adverse_events: List[Dict[str, Any]]
    meta: Optional[Dict[str, Any]]
    regimens: List[Dict[str, Any]] = field(default_factory=list)
    #: the record's ``responses`` (``doc._.ct_responses``); None when it has none
    responses: Optional[List[Dict[str, Any]]] = None
    usubjid: Optional[str] = None
    visit_date: Optional[date] = None
    study_day: Optional[int] = None
    cycle: Optional[str] = None
    #: where the subject / visit came from: "meta", "map" or "" (none)
    subject_from: str = ""
    #: the raw visit date / study day text when it did not parse
    bad_date: Optional[str] = None

    @property
    def where(self) -> str:
        return f"docs.jsonl:{self.line}"


@dataclass
class MapRow:
    doc_id: str
    usubjid: str
    visit_date: Optional[date]
    study_day: Optional[int]
    cycle: Optional[str]
    where: str
    bad_date: Optional[str] = None


@dataclass
class Subject:
    """One ADSL row. ``trtsdt`` is the reference start: the first dose date
    (``TRTSDT``), or for the tumour-response tables ``RANDDT`` when the file
    has no ``TRTSDT`` (``start_column`` names the one used)."""

    usubjid: str
    arm: str
    saffl: bool
    trtsdt: Optional[date]
    trtedt: Optional[date]
    dose_level: Any
    where: str
    raw: Dict[str, Any] = field(default_factory=dict)
    cohort: Optional[str] = None  # COHORT
    lstalvdt: Optional[date] = None  # LSTALVDT: last date known alive / followed
    start_column: str = "TRTSDT"


@dataclass
class AeRow:
    """One row of an SDTM AE or ADaM ADAE table."""

    usubjid: str
    term: str  # AEDECOD, else AETERM
    verbatim: str  # AETERM
    soc: str  # AEBODSYS / AESOC
    grade: Optional[int]  # AETOXGR / ATOXGR
    serious: Optional[bool]  # AESER
    start: Optional[date]  # ASTDT / AESTDTC
    end: Optional[date]  # AENDT / AEENDTC
    trtemfl: Optional[str]  # the table's TRTEMFL ("Y" or None) when it has one
    has_trtemfl: bool
    related: Optional[bool]  # AREL / AEREL
    action: Optional[str]  # AEACN
    outcome: Optional[str]  # AEOUT
    fatal: Optional[bool]  # AESDTH / AEOUT=FATAL / grade 5
    where: str
    seq: Optional[str] = None  # AESEQ
    raw_start: Optional[str] = None
    raw_end: Optional[str] = None


@dataclass
class TrialInputs:
    documents: List[Document]
    subjects: Dict[str, Subject]
    ae_rows: Optional[List[AeRow]]
    excluded: List[Excluded]
    annotations_dir: str = ""

    def safety_population(self) -> Dict[str, Subject]:
        return {k: s for k, s in self.subjects.items() if s.saffl}


# --------------------------------------------------------------------------- dates


def parse_date(value: Any) -> Tuple[Optional[date], Optional[str]]:
    """(date, problem). A date/datetime passes through; an ISO string gives its
    date; empty / None / a partial ISO date gives (None, None) (missing); any
    other value gives (None, "'...' does not parse as an ISO date")."""
    if value is None:
        return None, None
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    text = str(value).strip()
    if not text or text.upper() in ("NA", "NAN", "NAT", "NONE", "NULL"):
        return None, None
    m = _ISO_FULL.match(text)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3))), None
        except ValueError:
            return None, f"{text!r} is not a valid calendar date"
    if _ISO_PARTIAL.match(text):
        return None, None
    return None, f"{text!r} does not parse as an ISO date (YYYY-MM-DD)"


def _parse_int(value: Any) -> Tuple[Optional[int], Optional[str]]:
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, f"{value!r} is not a whole number"
    if isinstance(value, int):
        return value, None
    if isinstance(value, float):
        if value != value:  # NaN
            return None, None
        if value.is_integer():
            return int(value), None
        return None, f"{value!r} is not a whole number"
    text = str(value).strip()
    if not text or text.upper() in ("NA", "NAN", "NONE", "NULL"):
        return None, None
    try:
        f = float(text)
    except ValueError:
        return None, f"{text!r} is not a whole number"
    if not f.is_integer():
        return None, f"{text!r} is not a whole number"
    return int(f), None


def study_day_to_date(trtsdt: Optional[date], ady: Optional[int]) -> Optional[date]:
    """CDISC study day -> date: day 1 is ``trtsdt``, day -1 the day before (no day 0)."""
    if trtsdt is None or ady is None:
        return None
    if ady == 0:
        raise ValueError("study day 0 does not exist (CDISC: day 1 is the first dose, day -1 the day before)")
    return trtsdt + timedelta(days=ady - 1 if ady > 0 else ady)


def date_to_study_day(trtsdt: Optional[date], d: Optional[date]) -> Optional[int]:
    """Date -> CDISC study day relative to ``trtsdt`` (no day 0)."""
    if trtsdt is None or d is None:
        return None
    delta = (d - trtsdt).days
    return delta + 1 if delta >= 0 else delta


# --------------------------------------------------------------------------- files


def _check_file(path: str, what: str) -> None:
    if not os.path.exists(path):
        raise InputFileError(f"{path}:0: {what} file does not exist")
    if os.path.isdir(path):
        raise InputFileError(f"{path}:0: {what} is a folder, not a file")


def _ci(row_keys: Sequence[str], *names: str) -> Optional[str]:
    """The first key of ``row_keys`` equal (case-insensitively, stripped) to one of ``names``."""
    folded = {str(k).strip().lower(): k for k in row_keys}
    for name in names:
        if name.lower() in folded:
            return folded[name.lower()]
    return None


def read_table(path: str, what: str = "table") -> Tuple[List[str], Iterator[Tuple[str, Dict[str, Any]]]]:
    """(columns, iterator of (FILE:LINE, row dict)) for a csv (``,``; ``.tsv``:
    tab) or parquet file. csv lines are physical line numbers (header = 1);
    parquet rows are numbered from 1 as ``FILE:row N``."""
    _check_file(path, what)
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        try:
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - pyarrow is a dependency of the dev extra
            raise InputFileError(f"{path}:0: reading parquet needs pyarrow (pip install pyarrow)") from None
        try:
            table = pq.read_table(path)
        except Exception as err:  # noqa: BLE001 - pyarrow raises many kinds
            raise InputFileError(f"{path}:0: not a readable parquet file ({err})") from None
        columns = list(table.column_names)
        rows = table.to_pylist()

        def gen_pq():
            for i, row in enumerate(rows, start=1):
                yield f"{path}:row {i}", row

        return columns, gen_pq()
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise InputFileError(f"{path}:0: cannot read ({err.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputFileError(f"{path}:{line}: not UTF-8 text (byte {data[err.start]:#04x}); save the file as UTF-8") from None
    if not text.strip():
        raise InputFileError(f"{path}:1: the file is empty")
    delimiter = "\t" if lower.endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as err:
        raise InputFileError(f"{path}:1: malformed header ({err})") from None
    header = [h.strip() for h in header]
    if any(not h for h in header):
        raise InputFileError(f"{path}:1: empty column name in the header")
    dupes = sorted({h for h in header if [x.lower() for x in header].count(h.lower()) > 1})
    if dupes:
        raise InputFileError(f"{path}:1: duplicate column(s) {', '.join(dupes)}")

    def gen_csv():
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                raise InputFileError(f"{path}:{reader.line_num}: malformed csv ({err})") from None
            line = start
            start = reader.line_num + 1
            if not values or all(not v.strip() for v in values):
                continue  # blank line
            if len(values) != len(header):
                raise InputFileError(f"{path}:{line}: {len(values)} fields, the header has {len(header)}")
            yield f"{path}:{line}", dict(zip(header, values))

    return header, gen_csv()


def _require(path: str, columns: Sequence[str], *alternatives: Tuple[str, ...]) -> List[str]:
    found = []
    for names in alternatives:
        key = _ci(columns, *names)
        if key is None:
            wanted = " or ".join(names)
            raise InputFileError(f"{path}:1: missing column {wanted} (columns: {', '.join(columns) or 'none'})")
        found.append(key)
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    return str(value).strip()


# --------------------------------------------------------------------------- annotations


def _meta_get(meta: Optional[Dict[str, Any]], *names: str) -> Any:
    """The value of the first of ``names`` (case-insensitive) that ``meta`` has
    and that is not empty; None when none."""
    if not meta:
        return None
    folded = {str(k).strip().lower(): v for k, v in meta.items()}
    for name in names:
        value = folded.get(name.lower())
        if _text(value):
            return value
    return None


def read_annotations(
    folder: str, *, subject_fields: Sequence[str] = ("usubjid",), visit_date_fields: Sequence[str] = ("visit_date",)
) -> Tuple[List[Document], List[Excluded]]:
    """Documents of an ``annotate`` output folder, and the documents it could
    not annotate (``errors.jsonl``) as excluded records. Subject and visit are
    taken from the row fields (``meta``) named usubjid / visit_date / ady
    (or study_day) / cycle; ``subject_fields`` and ``visit_date_fields`` are
    the names tried for the subject and the visit date, in order."""
    folder = os.fspath(folder)
    docs_path = os.path.join(folder, "docs.jsonl")
    if not os.path.isdir(folder):
        raise InputFileError(f"{folder}:0: annotation folder does not exist (give the --output of `annotate`)")
    _check_file(docs_path, "docs.jsonl")
    documents: List[Document] = []
    excluded: List[Excluded] = []
    seen: Dict[str, int] = {}
    for line, obj in _jsonl(docs_path):
        rid = obj.get("id")
        if not isinstance(rid, str) or not rid:
            raise InputFileError(f"{docs_path}:{line}: record has no string 'id'")
        if rid in seen:
            raise InputFileError(f"{docs_path}:{line}: document id {rid!r} already on line {seen[rid]}")
        seen[rid] = line
        aes = obj.get("adverse_events") or []
        if not isinstance(aes, list) or not all(isinstance(a, dict) for a in aes):
            raise InputFileError(f"{docs_path}:{line}: 'adverse_events' must be a list of objects")
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else None
        doc = Document(
            id=rid, line=line, source=obj.get("source"), text=obj.get("text"), adverse_events=aes, meta=meta,
            regimens=obj.get("regimens") or [], responses=obj.get("responses"),
        )
        subj = _text(_meta_get(meta, *subject_fields))
        if subj:
            doc.usubjid = subj
            doc.subject_from = "meta"
            _set_visit(doc, _meta_get(meta, *visit_date_fields), _meta_get(meta, "ady", "study_day"))
            cycle = _text(_meta_get(meta, "cycle"))
            doc.cycle = cycle or None
        documents.append(doc)
    errors_path = os.path.join(folder, "errors.jsonl")
    if os.path.exists(errors_path):
        for line, obj in _jsonl(errors_path):
            excluded.append(
                Excluded("annotate_error", str(obj.get("id")), f"errors.jsonl:{line}", f"not annotated ({obj.get('stage')}): {obj.get('error')}")
            )
    return documents, excluded


def _set_visit(doc, visit_date: Any, ady: Any) -> None:
    d, problem = parse_date(visit_date)
    if problem:
        doc.bad_date = f"visit_date {problem}"
        return
    day, problem = _parse_int(ady)
    if problem or day == 0:
        doc.bad_date = f"ady {problem or 'is 0 (there is no study day 0)'}"
        return
    doc.visit_date, doc.study_day = d, day


def _jsonl(path: str) -> Iterator[Tuple[int, Dict[str, Any]]]:
    try:
        fh = open(path, "rb")
    except OSError as err:
        raise InputFileError(f"{path}:0: cannot read ({err.strerror})") from None
    with fh:
        for line, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError as err:
                raise InputFileError(f"{path}:{line}: not valid JSON ({err})") from None
            if not isinstance(obj, dict):
                raise InputFileError(f"{path}:{line}: expected a JSON object, got {type(obj).__name__}")
            yield line, obj


# --------------------------------------------------------------------------- mapping


def read_mapping(path: str) -> Dict[str, MapRow]:
    """Document id -> :class:`MapRow`. Required columns: the id (``id``,
    ``doc_id`` or ``document``) and ``usubjid``; optional ``visit_date``,
    ``ady`` / ``study_day``, ``cycle``. A bad date is kept on the row
    (``bad_date``) so that the document is excluded with the reason."""
    columns, rows = read_table(path, "mapping")
    id_col, subj_col = _require(path, columns, ("id", "doc_id", "document"), ("usubjid",))
    date_col = _ci(columns, "visit_date")
    day_col = _ci(columns, "ady", "study_day")
    cycle_col = _ci(columns, "cycle")
    out: Dict[str, MapRow] = {}
    for where, row in rows:
        doc_id = _text(row.get(id_col))
        if not doc_id:
            raise InputFileError(f"{where}: empty document id")
        if doc_id in out:
            raise InputFileError(f"{where}: document id {doc_id!r} mapped twice (first at {out[doc_id].where})")
        m = MapRow(doc_id, _text(row.get(subj_col)), None, None, _text(row.get(cycle_col)) or None if cycle_col else None, where)
        d, problem = parse_date(row.get(date_col)) if date_col else (None, None)
        day, problem2 = _parse_int(row.get(day_col)) if day_col else (None, None)
        if problem:
            m.bad_date = f"visit_date {problem}"
        elif problem2 or day == 0:
            m.bad_date = f"ady {problem2 or 'is 0 (there is no study day 0)'}"
        else:
            m.visit_date, m.study_day = d, day
        out[doc_id] = m
    return out


# --------------------------------------------------------------------------- subjects


def _read_subject_rows(
    rows: Iterator[Tuple[str, Dict[str, Any]]],
    subj_col: str,
    build: Callable[[str, str, Dict[str, Any]], Union[Subject, str]],
    *,
    exclude_empty_id: bool = False,
) -> Tuple[Dict[str, Subject], List[Excluded]]:
    """Subjects by USUBJID and the excluded ones: ``build(FILE:LINE, USUBJID,
    row)`` gives the :class:`Subject`, or the reason it is left out. The same
    subject twice is an error; so is an empty USUBJID, unless
    ``exclude_empty_id`` (the row is then excluded: "no USUBJID")."""
    subjects: Dict[str, Subject] = {}
    excluded: List[Excluded] = []
    first_seen: Dict[str, str] = {}
    for where, row in rows:
        usubjid = _text(row.get(subj_col))
        if not usubjid:
            if not exclude_empty_id:
                raise InputFileError(f"{where}: empty USUBJID")
            excluded.append(Excluded("subject", "", where, "no USUBJID"))
            continue
        if usubjid in first_seen:
            raise InputFileError(f"{where}: USUBJID {usubjid!r} appears twice (first at {first_seen[usubjid]})")
        first_seen[usubjid] = where
        got = build(where, usubjid, row)
        if isinstance(got, str):
            excluded.append(Excluded("subject", usubjid, where, got, usubjid))
        else:
            subjects[usubjid] = got
    return subjects, excluded


def _dose_level_col(path: str, columns: Sequence[str], name: Optional[str], required: bool) -> Optional[str]:
    """The dose level column: the one named, else the first of :data:`DOSE_LEVEL_COLUMNS`."""
    if name:
        col = _ci(columns, name)
        if col is None:
            raise InputFileError(f"{path}:1: missing dose level column {name} (columns: {', '.join(columns)})")
        return col
    col = _ci(columns, *DOSE_LEVEL_COLUMNS)
    if col is None and required:
        raise InputFileError(f"{path}:1: no dose level column (looked for {', '.join(DOSE_LEVEL_COLUMNS)}; columns: {', '.join(columns)})")
    return col


def read_subjects(path: str, *, dose_level_column: Optional[str] = None) -> Tuple[Dict[str, Subject], List[Excluded]]:
    """ADSL rows by USUBJID, and the subjects that cannot be used (no or a bad
    safety flag, no arm, a first-dose date that does not parse) as excluded."""
    columns, rows = read_table(path, "subjects")
    subj_col, arm_col, saf_col, sdt_col = _require(path, columns, ("USUBJID",), ("TRT01A", "ARM"), ("SAFFL",), ("TRTSDT",))
    edt_col = _ci(columns, "TRTEDT")
    dl_col = _dose_level_col(path, columns, dose_level_column, required=False)

    def build(where: str, usubjid: str, row: Dict[str, Any]) -> Union[Subject, str]:
        arm = _text(row.get(arm_col))
        saf = _text(row.get(saf_col)).upper()
        sdt, p1 = parse_date(row.get(sdt_col))
        edt, p2 = parse_date(row.get(edt_col)) if edt_col else (None, None)
        if not saf:
            return "no safety flag (SAFFL is empty)"
        if saf not in ("Y", "N"):
            return f"SAFFL {saf!r} is neither Y nor N"
        if saf == "Y" and not arm:
            return f"no actual arm ({arm_col} is empty)"
        if p1 or p2:
            return f"TRTSDT {p1}" if p1 else f"TRTEDT {p2}"
        level: Any = None
        if dl_col is not None:
            raw_level = row.get(dl_col)
            level, problem = _parse_int(raw_level)
            if problem:
                level = _text(raw_level) or None
        return Subject(usubjid, arm, saf == "Y", sdt, edt, level, where, dict(row))

    return _read_subject_rows(rows, subj_col, build)


def read_dose_subjects(path: str, *, dose_level_column: Optional[str] = None) -> Tuple[Dict[str, Subject], List[Excluded]]:
    """The subjects of a dose-escalation trial by USUBJID, and those that cannot
    be used as excluded. Required columns: ``USUBJID``, ``TRTSDT`` and a dose
    level (``dose_level_column``, else one of :data:`DOSE_LEVEL_COLUMNS`);
    optional ``COHORT``, ``LSTALVDT``, ``SAFFL``, ``TRT01A`` / ``ARM``.
    Excluded: ``SAFFL`` = N, a date that does not parse, a dose level that is
    not a whole number. An empty ``TRTSDT`` is kept (None): the DLT assessment
    says why it cannot use the subject."""
    columns, rows = read_table(path, "subjects")
    subj_col, sdt_col = _require(path, columns, ("USUBJID",), ("TRTSDT",))
    dl_col = _dose_level_col(path, columns, dose_level_column, required=True)
    arm_col, saf_col = _ci(columns, "TRT01A", "ARM"), _ci(columns, "SAFFL")
    cohort_col, alive_col = _ci(columns, "COHORT"), _ci(columns, "LSTALVDT")

    def build(where: str, usubjid: str, row: Dict[str, Any]) -> Union[Subject, str]:
        saf = _text(row.get(saf_col)).upper() if saf_col else ""
        sdt, p1 = parse_date(row.get(sdt_col))
        alive, p2 = parse_date(row.get(alive_col)) if alive_col else (None, None)
        level, p3 = _parse_int(row.get(dl_col))
        if saf == "N":
            return "SAFFL = N (not in the safety population)"
        if p1 or p2:
            return f"bad date: TRTSDT {p1}" if p1 else f"bad date: LSTALVDT {p2}"
        if p3 or level is None:
            return f"dose level {_text(row.get(dl_col))!r} is not an integer"
        return Subject(
            usubjid, _text(row.get(arm_col)) if arm_col else "", True, sdt, None, level, where, dict(row),
            cohort=_text(row.get(cohort_col)) or None if cohort_col else None, lstalvdt=alive,
        )

    return _read_subject_rows(rows, subj_col, build)


def read_response_subjects(path: str, *, population_flag: Optional[str] = None) -> Tuple[Dict[str, Subject], List[Excluded]]:
    """The subjects of the tumour-response tables by USUBJID, and those that
    cannot be used as excluded. Required columns: ``USUBJID``, an arm (the
    first of :data:`ARM_COLUMNS` present), a reference start (the first of
    :data:`START_COLUMNS`: ``trtsdt`` of the :class:`Subject`, ``start_column``
    names it); ``population_flag`` names a flag column (e.g. ``ITTFL``) whose
    ``Y`` subjects are the population. Excluded: an empty USUBJID, a flag other
    than Y, no arm, a start date that does not parse."""
    columns, rows = read_table(path, "subjects")
    subj_col, arm_col, start_col = _require(path, columns, ("USUBJID",), ARM_COLUMNS, START_COLUMNS)
    arm_name, start_name = arm_col.upper(), start_col.upper()
    flag_col = None
    if population_flag:
        flag_col = _ci(columns, population_flag)
        if flag_col is None:
            raise InputFileError(f"{path}:1: no population flag column {population_flag!r} (columns: {', '.join(columns)})")
    saf_col = _ci(columns, "SAFFL")

    def build(where: str, usubjid: str, row: Dict[str, Any]) -> Union[Subject, str]:
        arm = _text(row.get(arm_col))
        start, problem = parse_date(row.get(start_col))
        flag = _text(row.get(flag_col)) if flag_col else "Y"
        if flag.upper() != "Y":
            return f"{population_flag.upper()} is {flag!r}, not Y: not in the population"
        if not arm:
            return f"no arm ({arm_name} empty)"
        if problem:
            return f"{start_name}: {problem}"
        saffl = _text(row.get(saf_col)).upper() == "Y" if saf_col else False
        return Subject(usubjid, arm, saffl, start, None, None, where, dict(row), start_column=start_name)

    return _read_subject_rows(rows, subj_col, build, exclude_empty_id=True)


# --------------------------------------------------------------------------- AE table

_YES = {"Y", "YES", "TRUE", "1"}
_NO = {"N", "NO", "FALSE", "0"}
_RELATED = {"Y", "RELATED", "PROBABLE", "POSSIBLE", "PROBABLY RELATED", "POSSIBLY RELATED", "DEFINITE", "DEFINITELY RELATED", "REMOTE"}
_NOT_RELATED = {"N", "NONE", "NOT RELATED", "UNRELATED", "UNLIKELY", "UNLIKELY RELATED"}


def _yn(value: Any) -> Optional[bool]:
    text = _text(value).upper()
    if text in _YES:
        return True
    if text in _NO:
        return False
    return None


def read_ae_table(path: str) -> Tuple[List[AeRow], List[Excluded]]:
    """Rows of an SDTM AE or ADaM ADAE table. Columns (case-insensitive):
    USUBJID, AEDECOD (else AETERM), AETERM, AEBODSYS (else AESOC), AETOXGR /
    ATOXGR, AESER, ASTDT / AESTDTC, AENDT / AEENDTC, TRTEMFL, AREL / AEREL,
    AEACN, AEOUT, AESDTH, AESEQ. Related: AREL/AEREL in RELATED, PROBABLE,
    POSSIBLE, ... (``_RELATED``); REMOTE counts as related (conservative).
    A row whose date does not parse, or without a term, is excluded."""
    columns, rows = read_table(path, "AE table")
    (subj_col,) = _require(path, columns, ("USUBJID",))
    term_col = _ci(columns, "AEDECOD")
    verb_col = _ci(columns, "AETERM")
    if term_col is None and verb_col is None:
        raise InputFileError(f"{path}:1: missing column AEDECOD or AETERM (columns: {', '.join(columns)})")
    soc_col = _ci(columns, "AEBODSYS", "AESOC")
    grade_col = _ci(columns, "ATOXGR", "AETOXGR")
    ser_col = _ci(columns, "AESER")
    st_col = _ci(columns, "ASTDT", "AESTDTC", "ASTDTM")
    en_col = _ci(columns, "AENDT", "AEENDTC", "AENDTM")
    te_col = _ci(columns, "TRTEMFL")
    rel_col = _ci(columns, "AREL", "AEREL")
    acn_col = _ci(columns, "AEACN")
    out_col = _ci(columns, "AEOUT")
    dth_col = _ci(columns, "AESDTH")
    seq_col = _ci(columns, "AESEQ")
    out: List[AeRow] = []
    excluded: List[Excluded] = []
    for where, row in rows:
        usubjid = _text(row.get(subj_col))
        term = _text(row.get(term_col)) if term_col else ""
        verbatim = _text(row.get(verb_col)) if verb_col else ""
        term = term or verbatim
        label = f"{usubjid} {term or verbatim or '?'}"
        if not usubjid:
            excluded.append(Excluded("ae_row", label, where, "no USUBJID"))
            continue
        if not term:
            excluded.append(Excluded("ae_row", label, where, "no AEDECOD / AETERM", usubjid))
            continue
        start, p1 = parse_date(row.get(st_col)) if st_col else (None, None)
        end, p2 = parse_date(row.get(en_col)) if en_col else (None, None)
        if p1 or p2:
            excluded.append(Excluded("ae_row", label, where, f"{st_col if p1 else en_col} {p1 or p2}", usubjid))
            continue
        grade, gp = _parse_int(row.get(grade_col)) if grade_col else (None, None)
        if gp or (grade is not None and not 1 <= grade <= 5):
            excluded.append(Excluded("ae_row", label, where, f"{grade_col} {gp or f'{grade} is not a grade 1-5'}", usubjid))
            continue
        rel_text = _text(row.get(rel_col)).upper() if rel_col else ""
        related = True if rel_text in _RELATED else (False if rel_text in _NOT_RELATED else None)
        outcome = _text(row.get(out_col)).upper() if out_col else ""
        fatal = _yn(row.get(dth_col)) if dth_col else None
        if outcome == "FATAL" or grade == 5:
            fatal = True
        te_raw = _text(row.get(te_col)).upper() if te_col else ""
        out.append(
            AeRow(
                usubjid=usubjid, term=term, verbatim=verbatim, soc=_text(row.get(soc_col)) if soc_col else "",
                grade=grade, serious=_yn(row.get(ser_col)) if ser_col else None, start=start, end=end,
                trtemfl="Y" if te_raw == "Y" else None, has_trtemfl=te_col is not None, related=related,
                action=_text(row.get(acn_col)).upper() or None if acn_col else None, outcome=outcome or None,
                fatal=fatal, where=where, seq=_text(row.get(seq_col)) or None if seq_col else None,
                raw_start=_text(row.get(st_col)) if st_col else None, raw_end=_text(row.get(en_col)) if en_col else None,
            )
        )
    return out, excluded


# --------------------------------------------------------------------------- joined


def load_trial_inputs(
    annotations_dir: Optional[str],
    subjects_path: str,
    *,
    map_path: Optional[str] = None,
    ae_path: Optional[str] = None,
    dose_level_column: Optional[str] = None,
) -> TrialInputs:
    """Read and join everything. Each document gets its subject and visit
    (a mapping row wins over the row fields; a mapping row that names another
    subject than the document's own field excludes the document). Left out,
    with the reason: documents that could not be annotated, documents without
    a subject, with a subject not in the subject file, not in the safety
    population or without a usable safety flag, with a date that does not
    parse; mapping rows for ids not in docs.jsonl; AE table rows of unknown or
    excluded subjects."""
    subjects, excluded = read_subjects(subjects_path, dose_level_column=dose_level_column)
    bad_subjects = {e.usubjid: e for e in excluded if e.kind == "subject"}
    documents: List[Document] = []
    if annotations_dir is not None:
        docs, ann_excluded = read_annotations(annotations_dir)
        excluded += ann_excluded
        mapping = read_mapping(map_path) if map_path else {}
        by_id = {d.id: d for d in docs}
        for doc_id, m in mapping.items():
            if doc_id not in by_id:
                excluded.append(Excluded("map_row", doc_id, m.where, "no document with this id in docs.jsonl", m.usubjid))
        for doc in docs:
            m = mapping.get(doc.id)
            if m is not None:
                if doc.usubjid and m.usubjid and doc.usubjid != m.usubjid:
                    excluded.append(
                        Excluded("document", doc.id, doc.where, f"subject conflict: row field usubjid {doc.usubjid!r}, mapping {m.usubjid!r} ({m.where})", doc.usubjid)
                    )
                    continue
                doc.usubjid = m.usubjid or doc.usubjid
                doc.subject_from = "map"
                doc.bad_date = m.bad_date
                doc.visit_date, doc.study_day = m.visit_date, m.study_day
                doc.cycle = m.cycle or doc.cycle
            reason = _document_problem(doc, subjects, bad_subjects)
            if reason:
                excluded.append(Excluded("document", doc.id, doc.where, reason, doc.usubjid or ""))
                continue
            subj = subjects[doc.usubjid]
            if doc.visit_date is None and doc.study_day is not None:
                doc.visit_date = study_day_to_date(subj.trtsdt, doc.study_day)
            elif doc.visit_date is not None and doc.study_day is None:
                doc.study_day = date_to_study_day(subj.trtsdt, doc.visit_date)
            documents.append(doc)
    ae_rows: Optional[List[AeRow]] = None
    if ae_path:
        rows, ae_excluded = read_ae_table(ae_path)
        excluded += ae_excluded
        ae_rows = []
        for r in rows:
            if r.usubjid in bad_subjects:
                excluded.append(Excluded("ae_row", f"{r.usubjid} {r.term}", r.where, f"subject excluded: {bad_subjects[r.usubjid].reason}", r.usubjid))
            elif r.usubjid not in subjects:
                excluded.append(Excluded("ae_row", f"{r.usubjid} {r.term}", r.where, f"unknown subject {r.usubjid!r} (not in the subject file)", r.usubjid))
            elif not subjects[r.usubjid].saffl:
                excluded.append(Excluded("ae_row", f"{r.usubjid} {r.term}", r.where, "subject not in the safety population (SAFFL=N)", r.usubjid))
            else:
                ae_rows.append(r)
    return TrialInputs(documents, subjects, ae_rows, excluded, annotations_dir or "")


def _document_problem(doc: Document, subjects: Dict[str, Subject], bad: Dict[str, Excluded]) -> Optional[str]:
    if not doc.usubjid:
        return "document without a subject (no usubjid row field and not in the mapping)"
    if doc.usubjid in bad:
        return f"subject excluded: {bad[doc.usubjid].reason}"
    if doc.usubjid not in subjects:
        return f"unknown subject {doc.usubjid!r} (not in the subject file)"
    if not subjects[doc.usubjid].saffl:
        return "subject not in the safety population (SAFFL=N)"
    if doc.bad_date:
        return doc.bad_date
    if doc.visit_date is not None and doc.study_day is not None:
        subj = subjects[doc.usubjid]
        expected = date_to_study_day(subj.trtsdt, doc.visit_date)
        if expected is not None and expected != doc.study_day:
            return f"visit_date {doc.visit_date.isoformat()} is study day {expected}, but ady says {doc.study_day}"
    return None
