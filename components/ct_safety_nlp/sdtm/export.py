"""The rows of the SDTM AE export, built from ``docs.jsonl`` records.

* ``ae_sdtm.csv``: the SDTM AE variables only (:data:`SDTM_FIELDS`), one row
  per AE that is asserted (not negated), current (not historical: history is
  the MH domain) and an adverse event (a CTCAE term, or an AE head noun in the
  verbatim text, ``resources/ae_head_nouns.yml``). Controlled terminology
  from ``resources/sdtm_ct.yml``; unknown values are empty cells, never guesses.
* ``ae_suppae.csv``: the project's provenance per row in the shape of
  SUPPAE (STUDYID, RDOMAIN, USUBJID, IDVAR=AESEQ, IDVARVAL, QNAM, QLABEL,
  QVAL, QORIG, QEVAL): source document, character offsets, the evidence of
  each value, the protocol's recommended action and DLT verdict. Kept apart
  so that ae_sdtm.csv is a submission-shaped AE domain a data manager can
  load as is, and the provenance still joins to each row by USUBJID + AESEQ
  as SUPPQUAL records do.
* ``ae_sdtm_excluded.csv``: every AE candidate that is not a row, with the
  reason.

Subject: the row fields ``usubjid`` / ``subjid`` / ``subject`` of the input
(``trial.inputs.SUBJECT_FIELDS``), else the ``--subjects`` mapping file
(``trial.inputs.read_mapping``). Study: ``--studyid``, else the row field
``studyid``. AESEQ counts per subject (STUDYID + USUBJID), in the order of
visit date, document id and offset (:meth:`SdtmBuilder.plan`, a first pass
over docs.jsonl), so it does not depend on the order documents were committed
in; rows without a subject share one counter.

Dates (AESTDTC / AEENDTC): an ISO 8601 date written in the AE's sentence
(complete or partial: 2024-03-05, 2024-03), or a study day stated there
("day 6", "D6", "C1D6": cycle 1 day 6 is study day 6) together with the
document's visit date and its study day (row fields ``visit_date`` and
``ady`` / ``study_day``, or the mapping file). A cue before the outcome's words
dates the start, one after them the end. Nothing else: no visit date is taken
as an onset.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .terminology import AeTerminology, HeadNouns, default_head_nouns, default_terminology

__all__ = ["SDTM_FIELDS", "SUPPAE_FIELDS", "EXCLUDED_FIELDS", "SdtmBuilder"]

SDTM_FIELDS = (
    "STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AELLT", "AELLTCD", "AEDECOD", "AEBODSYS", "AETOXGR",
    "AESER", "AESDTH", "AESHOSP", "AESLIFE", "AESDISAB", "AESCONG", "AESMIE", "AEACN", "AEREL", "AEOUT",
    "AESTDTC", "AEENDTC",
)
SUPPAE_FIELDS = ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL", "QORIG", "QEVAL")
EXCLUDED_FIELDS = ("DOCID", "AE_INDEX", "USUBJID", "AETERM", "START_CHAR", "END_CHAR", "REASON")

#: SUPPAE qualifiers: QNAM -> QLABEL
QUALIFIERS = {
    "AEDOCID": "Source Document Identifier",
    "AESPAN": "Character Offsets in Document",
    "AERELEV": "Evidence for AEREL",
    "AEACNEV": "Evidence for AEACN",
    "AEOUTEV": "Evidence for AEOUT",
    "AEPRACT": "Protocol Recommended Action",
    "AEDLT": "Dose-Limiting Toxicity",
    "AEEVID": "Extraction Evidence",
}

_ISO_IN_TEXT = re.compile(r"(?<![\w-])(\d{4}-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)(?![\w-])")
_DAY_IN_TEXT = re.compile(r"(?<![\w-])(?:C(?:ycle\s*)?(\d+)\s*D(?:ay\s*)?(\d+)|(?:study\s+)?(?:day|D)\s*(-?\d+))(?![\w-])", re.IGNORECASE)


def _yn(value: Any) -> str:
    return "Y" if value is True else "N" if value is False else ""


def _cell(value: Any) -> str:
    from ..bulk.exporters import cell

    return cell(value)


class SdtmBuilder:
    """Streams records into SDTM AE rows, SUPPAE rows and excluded candidates."""

    def __init__(
        self,
        *,
        studyid: Optional[str] = None,
        mapping: Optional[Dict[str, Any]] = None,
        terminology: Optional[AeTerminology] = None,
        head_nouns: Optional[HeadNouns] = None,
    ):
        self.studyid = studyid or ""
        self.mapping = mapping or {}
        self.ct = terminology or default_terminology()
        self.heads = head_nouns or default_head_nouns()
        self.seq: Dict[Tuple[str, int], int] = {}
        self.reasons: Dict[str, int] = {}

    # ------------------------------------------------------------ subject
    def subject(self, record: Dict[str, Any]) -> Tuple[str, str, Optional[str], Optional[int]]:
        """(STUDYID, USUBJID, visit date text, visit study day) of a record."""
        from ..trial.inputs import SUBJECT_FIELDS, VISIT_DATE_FIELDS, _meta_get

        meta = record.get("meta") if isinstance(record.get("meta"), dict) else None
        studyid = self.studyid or _cell(_meta_get(meta, "studyid"))
        usubjid = _cell(_meta_get(meta, *SUBJECT_FIELDS))
        visit = _meta_get(meta, *VISIT_DATE_FIELDS)
        day = _meta_get(meta, "ady", "study_day")
        mapped = self.mapping.get(record.get("id"))
        if not usubjid and mapped is not None:
            usubjid = mapped.usubjid
            visit = mapped.visit_date
            day = mapped.study_day
        try:
            day = int(str(day).strip()) if day is not None and str(day).strip() else None
        except ValueError:
            day = None
        return studyid, usubjid, None if visit is None else str(visit), day

    # ------------------------------------------------------------ filter
    def exclusion(self, ae: Dict[str, Any]) -> Optional[str]:
        """Why an AE candidate is not an SDTM row (None: it is one)."""
        if ae.get("negated"):
            return "negated (the text says the event did not occur)"
        if ae.get("historical"):
            return "historical (medical history, the MH domain)"
        if not ae.get("ctcae_term"):
            return self.heads.not_an_event(str(ae.get("text") or ""))
        return None

    # ------------------------------------------------------------ rows
    def plan(self, records: Iterable[Dict[str, Any]]) -> None:
        """First pass: AESEQ of every row-to-be, per subject in (visit date, document id, offset) order."""
        keys: Dict[Tuple[str, str], List[Tuple[str, str, int, int]]] = {}
        for record in records:
            studyid, usubjid, visit, _ = self.subject(record)
            for i, ae in enumerate(record.get("adverse_events") or []):
                if self.exclusion(ae) is None:
                    keys.setdefault((studyid, usubjid), []).append((visit or "", str(record["id"]), int(ae.get("start_char") or 0), i))
        self.seq = {}
        for items in keys.values():
            for n, (_, doc_id, _, i) in enumerate(sorted(items), 1):
                self.seq[(doc_id, i)] = n

    def add(self, record: Dict[str, Any]) -> Tuple[List[Dict[str, str]], List[Dict[str, str]], List[Dict[str, str]]]:
        """(SDTM rows, SUPPAE rows, excluded rows) of one docs.jsonl record."""
        studyid, usubjid, visit, visit_day = self.subject(record)
        text = record.get("text") or ""
        rows, supp, excluded = [], [], []
        for i, ae in enumerate(record.get("adverse_events") or []):
            reason = self.exclusion(ae)
            if reason is not None:
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
                excluded.append({
                    "DOCID": record["id"], "AE_INDEX": str(i), "USUBJID": usubjid, "AETERM": _cell(ae.get("text")),
                    "START_CHAR": _cell(ae.get("start_char")), "END_CHAR": _cell(ae.get("end_char")), "REASON": reason,
                })
                continue
            seq = self.seq.get((str(record["id"]), i))
            if seq is None:
                raise ValueError(f"SdtmBuilder.add: record {record['id']!r} was not in plan()")
            row = self.row(ae, studyid, usubjid, seq, text, visit, visit_day)
            rows.append(row)
            supp.extend(self.supp_rows(record, ae, row))
        for span in record.get("ae_rejected") or []:  # ct_reasoner's rejected model spans: listed, not lost
            reason = str(span.get("reason") or "rejected by ct_reasoner")
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
            excluded.append({
                "DOCID": record["id"], "AE_INDEX": "", "USUBJID": usubjid, "AETERM": _cell(span.get("text")),
                "START_CHAR": _cell(span.get("start_char")), "END_CHAR": _cell(span.get("end_char")), "REASON": reason,
            })
        return rows, supp, excluded

    def row(self, ae: Dict[str, Any], studyid: str, usubjid: str, seq: int, text: str, visit: Optional[str], visit_day: Optional[int]) -> Dict[str, str]:
        grade = ae.get("grade")
        term = _cell(ae.get("ctcae_term"))
        criteria = set(ae.get("seriousness_criteria") or [])
        serious = ae.get("serious")
        row = {
            "STUDYID": studyid, "DOMAIN": "AE", "USUBJID": usubjid, "AESEQ": str(seq),
            "AETERM": _cell(ae.get("text")), "AELLT": term, "AELLTCD": _cell(ae.get("meddra_code")),
            "AEDECOD": term, "AEBODSYS": _cell(ae.get("soc")),
            "AETOXGR": "" if grade is None or isinstance(grade, bool) else str(grade),
            "AESER": _yn(serious),
        }
        for crit, flag in self.ct.criteria_flags.items():
            row[flag] = ("Y" if crit in criteria else "N") if serious is not None else ""
        action = _cell(ae.get("action_taken"))
        outcome = _cell(ae.get("outcome"))
        row["AEACN"] = action if self.ct.valid("AEACN", action) else ""
        row["AEOUT"] = outcome if self.ct.valid("AEOUT", outcome) else ""
        row["AEREL"] = self.ct.aerel(ae.get("relatedness"))
        row["AESTDTC"], row["AEENDTC"] = ae_dates(ae, text, visit, visit_day)
        return row

    def supp_rows(self, record: Dict[str, Any], ae: Dict[str, Any], row: Dict[str, str]) -> List[Dict[str, str]]:
        ev = ae.get("course_evidence") or {}

        def where(attr: str) -> str:
            hit = ev.get(attr)
            return f"{hit['text']} @{hit['start_char']}-{hit['end_char']}" if hit else ""

        values = {
            "AEDOCID": str(record["id"]),
            "AESPAN": f"{_cell(ae.get('start_char'))}-{_cell(ae.get('end_char'))}",
            "AERELEV": where("relatedness"),
            "AEACNEV": where("action_taken"),
            "AEOUTEV": where("outcome"),
            "AEPRACT": _cell(ae.get("action")).upper(),
            "AEDLT": _yn(ae.get("dlt")),
            "AEEVID": _cell(ae.get("evidence")),
        }
        return [
            {"STUDYID": row["STUDYID"], "RDOMAIN": "AE", "USUBJID": row["USUBJID"], "IDVAR": "AESEQ", "IDVARVAL": row["AESEQ"],
             "QNAM": q, "QLABEL": QUALIFIERS[q], "QVAL": v, "QORIG": "DERIVED", "QEVAL": ""}
            for q, v in values.items() if v
        ]


def _sentence(text: str, pos: int) -> Tuple[int, int]:
    from ..text import split_sentences

    for a, b in split_sentences(text) if text else []:
        if a <= pos < b:
            return a, b
    return 0, len(text)


def _day_date(visit: Optional[str], visit_day: Optional[int], day: int) -> str:
    """The ISO date of study ``day`` given a visit's date and study day (no day 0), or ''."""
    from ..trial.inputs import parse_date

    d, _ = parse_date(visit)
    if d is None or visit_day is None or visit_day == 0 or day == 0:
        return ""
    def index(n: int) -> int:  # day 1 -> 0, day -1 -> -1
        return n - 1 if n > 0 else n
    return (d + timedelta(days=index(day) - index(visit_day))).isoformat()


def ae_dates(ae: Dict[str, Any], text: str, visit: Optional[str], visit_day: Optional[int]) -> Tuple[str, str]:
    """(AESTDTC, AEENDTC) stated in the AE's sentence (see the module docstring); '' when not stated."""
    if not text or ae.get("start_char") is None:
        return "", ""
    a, b = _sentence(text, int(ae["start_char"]))
    hit = (ae.get("course_evidence") or {}).get("outcome")
    split = hit["start_char"] if hit and a <= hit["start_char"] < b else b
    cues: List[Tuple[int, str]] = [(m.start(), m.group(1)) for m in _ISO_IN_TEXT.finditer(text, a, b)]
    for m in _DAY_IN_TEXT.finditer(text, a, b):
        if m.group(1) is not None and m.group(1) != "1":
            continue  # a later cycle's day: its study day is not known here
        day = int(m.group(2) if m.group(1) is not None else m.group(3))
        iso = _day_date(visit, visit_day, day)
        if iso:
            cues.append((m.start(), iso))
    cues.sort()
    start = next((v for p, v in cues if p < split), "")
    end = next((v for p, v in cues if p >= split), "")
    return start, end
