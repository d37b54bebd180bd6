"""Tables and reports derived from ``docs.jsonl`` (rebuilt at the end of every
run, so they always agree with it, also after ``--resume``).

* ``adverse_events.csv`` - one row per AE dict (all AEs, with their
  negated / speculated / historical flags), plus ``doc_id`` and ``ae_index``;
* ``regimens.csv`` - one row per regimen dict, plus ``doc_id``;
* ``ae_sdtm.csv`` - a CDISC SDTM-style AE domain table: one row per AE that is
  asserted (not negated) and current (not historical; history belongs to the
  MH domain). Columns: STUDYID, USUBJID (from the row's ``studyid`` /
  ``usubjid`` field when the input had one), DOMAIN="AE", AESEQ (per
  document), AETERM (verbatim text), AEDECOD (CTCAE term), AELLTCD (MedDRA
  code), AEBODSYS (SOC), AETOXGR (CTCAE grade), AESER (Y/N), AEREL (RELATED
  when the text ties the event to a drug, POSSIBLY RELATED when that link is
  speculative, empty when unknown), AEACN (action taken, upper case), plus
  DOCID, START_CHAR, END_CHAR. Unknown values are empty cells, never guesses;
* ``report.html`` (``--html``) - displaCy entity view and an AE table for
  the first ``--html-limit`` documents;
* ``docs.spacy`` (``--docbin``) - a DocBin of the annotated Docs (user data
  kept), merged from the per-batch parts written during the run.
"""

from __future__ import annotations

import csv
import html
import os
from typing import Any, Dict, Iterable, List, Optional, Set

from .journal import DOCS, ERRORS, SHARDS, iter_records

AE_FIELDS = (
    "text", "start_char", "end_char", "ctcae_term", "meddra_code", "soc", "grade", "grade_basis",
    "negated", "speculated", "historical", "serious", "seriousness_criteria", "drugs", "dlt",
    "action", "evidence",
)
REGIMEN_FIELDS = (
    "drug", "dose_text", "value", "unit", "per", "route", "frequency", "duration", "start_char", "end_char",
)
SDTM_FIELDS = (
    "STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEDECOD", "AELLTCD", "AEBODSYS", "AETOXGR",
    "AESER", "AEREL", "AEACN", "DOCID", "START_CHAR", "END_CHAR",
)


def cell(value: Any) -> str:
    """A CSV cell: '' for None, lower-case true/false, lists joined by '; '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "; ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={cell(v)}" for k, v in value.items())
    return str(value)


def _yn(value: Any) -> str:
    if value is True:
        return "Y"
    if value is False:
        return "N"
    return ""


def _meta_value(meta: Optional[Dict[str, Any]], key: str) -> str:
    if not meta:
        return ""
    for k, v in meta.items():
        if isinstance(k, str) and k.lower() == key:
            return cell(v)
    return ""


def sdtm_row(record: Dict[str, Any], ae: Dict[str, Any], seq: int) -> Dict[str, str]:
    drugs = ae.get("drugs") or []
    if drugs:
        rel = "POSSIBLY RELATED" if ae.get("speculated") else "RELATED"
    else:
        rel = ""
    grade = ae.get("grade")
    return {
        "STUDYID": _meta_value(record.get("meta"), "studyid"),
        "DOMAIN": "AE",
        "USUBJID": _meta_value(record.get("meta"), "usubjid"),
        "AESEQ": str(seq),
        "AETERM": cell(ae.get("text")),
        "AEDECOD": cell(ae.get("ctcae_term")),
        "AELLTCD": cell(ae.get("meddra_code")),
        "AEBODSYS": cell(ae.get("soc")),
        "AETOXGR": "" if grade is None else str(grade),
        "AESER": _yn(ae.get("serious")),
        "AEREL": rel,
        "AEACN": cell(ae.get("action")).upper(),
        "DOCID": record["id"],
        "START_CHAR": cell(ae.get("start_char")),
        "END_CHAR": cell(ae.get("end_char")),
    }


def in_sdtm(ae: Dict[str, Any]) -> bool:
    return not ae.get("negated") and not ae.get("historical")


class _AtomicCSV:
    def __init__(self, path: str, fields: Iterable[str]):
        self.path = path
        self.tmp = path + ".tmp"
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=list(fields), extrasaction="ignore")
        self.writer.writeheader()
        self.rows = 0

    def write(self, row: Dict[str, Any]) -> None:
        self.writer.writerow(row)
        self.rows += 1

    def close(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)


def export_tables(outdir: str, *, html_limit: int = 0) -> Dict[str, Any]:
    """Rebuild the CSV tables (and report.html when ``html_limit`` > 0) from
    docs.jsonl, streaming. RETURNS counts for the summary."""
    ae_csv = _AtomicCSV(os.path.join(outdir, "adverse_events.csv"), ("doc_id", "ae_index") + AE_FIELDS)
    reg_csv = _AtomicCSV(os.path.join(outdir, "regimens.csv"), ("doc_id", "regimen_index") + REGIMEN_FIELDS)
    sdtm_csv = _AtomicCSV(os.path.join(outdir, "ae_sdtm.csv"), SDTM_FIELDS)
    report = _HtmlReport(os.path.join(outdir, "report.html"), html_limit) if html_limit > 0 else None
    counts = {"documents": 0, "words": 0, "chars": 0, "adverse_events": 0, "regimens": 0, "sdtm_rows": 0, "ents": 0}
    for record in iter_records(os.path.join(outdir, DOCS)):
        counts["documents"] += 1
        counts["words"] += int(record.get("n_words") or 0)
        counts["chars"] += int(record.get("n_chars") or 0)
        counts["ents"] += len(record.get("ents") or [])
        seq = 0
        for i, ae in enumerate(record.get("adverse_events") or []):
            row = {"doc_id": record["id"], "ae_index": i}
            row.update({k: cell(ae.get(k)) for k in AE_FIELDS})
            ae_csv.write(row)
            if in_sdtm(ae):
                seq += 1
                sdtm_csv.write(sdtm_row(record, ae, seq))
        for i, reg in enumerate(record.get("regimens") or []):
            row = {"doc_id": record["id"], "regimen_index": i}
            row.update({k: cell(reg.get(k)) for k in REGIMEN_FIELDS})
            reg_csv.write(row)
        if report is not None:
            report.add(record)
    counts["adverse_events"] = ae_csv.rows
    counts["regimens"] = reg_csv.rows
    counts["sdtm_rows"] = sdtm_csv.rows
    for table in (ae_csv, reg_csv, sdtm_csv):
        table.close()
    if report is not None:
        report.close()
    errors = 0
    for _ in iter_records(os.path.join(outdir, ERRORS)):
        errors += 1
    counts["errors"] = errors
    return counts


class _HtmlReport:
    """displaCy's entity view per document, followed by its AE table."""

    def __init__(self, path: str, limit: int):
        self.path = path
        self.tmp = path + ".tmp"
        self.limit = limit
        self.shown = 0
        self.total = 0
        self.fh = open(self.tmp, "w", encoding="utf-8")
        self.fh.write(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>en-clinical-trials annotate report</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:0.5em 0 2em}"
            "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}h2{font-size:110%}</style></head><body>"
            "<h1>Annotation report</h1>"
        )

    def add(self, record: Dict[str, Any]) -> None:
        from spacy import displacy

        self.total += 1
        if self.shown >= self.limit:
            return
        self.shown += 1
        self.fh.write(f"<h2>{html.escape(record['id'])}</h2>")
        if "text" in record:
            data = {
                "text": record["text"],
                "ents": [{"start": e["start_char"], "end": e["end_char"], "label": e["label"]} for e in record["ents"]],
                "title": None,
            }
            self.fh.write(displacy.render(data, style="ent", manual=True, page=False, jupyter=False))
        aes = record.get("adverse_events") or []
        if aes:
            cols = ("text", "ctcae_term", "soc", "grade", "serious", "negated", "speculated", "historical", "drugs", "action")
            self.fh.write("<table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>")
            for ae in aes:
                self.fh.write("<tr>" + "".join(f"<td>{html.escape(cell(ae.get(c)))}</td>" for c in cols) + "</tr>")
            self.fh.write("</table>")

    def close(self) -> None:
        if self.total > self.shown:
            self.fh.write(f"<p>{self.total - self.shown} more documents not shown (see --html-limit).</p>")
        self.fh.write("</body></html>")
        self.fh.close()
        os.replace(self.tmp, self.path)


def merge_docbin(outdir: str, committed: Optional[Set[str]] = None) -> int:
    """Merge ``docs.spacy`` (if any) and the per-batch parts into
    ``docs.spacy``: each committed id once. RETURNS the number of Docs."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    if committed is None:
        committed = {r["id"] for r in iter_records(os.path.join(outdir, DOCS))}
    final = os.path.join(outdir, "docs.spacy")
    shard_dir = os.path.join(outdir, SHARDS)
    parts = [final] if os.path.exists(final) else []
    if os.path.isdir(shard_dir):
        parts += [os.path.join(shard_dir, n) for n in sorted(os.listdir(shard_dir)) if n.endswith(".spacy")]
    vocab = Vocab()
    merged = DocBin(store_user_data=True)
    seen: Set[str] = set()
    for part in parts:
        for doc in DocBin().from_disk(part).get_docs(vocab):
            rid = doc.user_data.get("ct_bulk_id")
            if rid in committed and rid not in seen:
                seen.add(rid)
                merged.add(doc)
    tmp = final + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(merged.to_bytes())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    if os.path.isdir(shard_dir):
        for n in os.listdir(shard_dir):
            os.remove(os.path.join(shard_dir, n))
        os.rmdir(shard_dir)
    return len(seen)


def write_shard(shard_dir: str, name: str, docs: List[Any]) -> None:
    """Write one batch's Docs atomically (before the batch is committed)."""
    from spacy.tokens import DocBin

    db = DocBin(store_user_data=True)
    for doc in docs:
        db.add(doc)
    path = os.path.join(shard_dir, name)
    with open(path + ".tmp", "wb") as fh:
        fh.write(db.to_bytes())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(path + ".tmp", path)
