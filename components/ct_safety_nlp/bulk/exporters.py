"""Tables and reports derived from ``docs.jsonl`` (rebuilt at the end of every
run, so they always agree with it, also after ``--resume``).

* ``adverse_events.csv`` - one row per AE dict (all AEs, with their
  negated / speculated / historical flags), plus ``doc_id`` and ``ae_index``;
* ``regimens.csv`` - one row per regimen dict, plus ``doc_id``;
* ``ae_sdtm.csv``, ``ae_suppae.csv``, ``ae_sdtm_excluded.csv`` - the CDISC
  SDTM AE domain (CDISC controlled terminology, one row per asserted, current
  adverse event), its provenance in the shape of SUPPAE, and the candidates
  left out with the reason (:mod:`ct_safety_nlp.sdtm.export`). The export is
  checked (:mod:`ct_safety_nlp.sdtm.check`); the problems go to
  ``ae_sdtm_check.txt`` and the summary's ``sdtm_check``;
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
    "action", "evidence", "relatedness", "action_taken", "outcome",
)
REGIMEN_FIELDS = (
    "drug", "dose_text", "value", "unit", "per", "route", "frequency", "duration", "start_char", "end_char",
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


def export_tables(
    outdir: str, *, html_limit: int = 0, studyid: Optional[str] = None, subjects: Optional[str] = None
) -> Dict[str, Any]:
    """Rebuild the CSV tables (and report.html when ``html_limit`` > 0) from
    docs.jsonl, streaming. ``studyid``: STUDYID of the SDTM rows (else the row
    field); ``subjects``: a mapping file (document id -> usubjid, visit_date,
    ady; ``trial.inputs.read_mapping``) for documents without a usubjid field.
    RETURNS counts for the summary."""
    from ..sdtm.export import EXCLUDED_FIELDS, SDTM_FIELDS, SUPPAE_FIELDS, SdtmBuilder

    mapping = None
    if subjects:
        from ..trial.inputs import read_mapping

        mapping = read_mapping(subjects)
    sdtm = SdtmBuilder(studyid=studyid, mapping=mapping)
    sdtm.plan(iter_records(os.path.join(outdir, DOCS)))
    ae_csv = _AtomicCSV(os.path.join(outdir, "adverse_events.csv"), ("doc_id", "ae_index") + AE_FIELDS)
    reg_csv = _AtomicCSV(os.path.join(outdir, "regimens.csv"), ("doc_id", "regimen_index") + REGIMEN_FIELDS)
    sdtm_csv = _AtomicCSV(os.path.join(outdir, "ae_sdtm.csv"), SDTM_FIELDS)
    supp_csv = _AtomicCSV(os.path.join(outdir, "ae_suppae.csv"), SUPPAE_FIELDS)
    excl_csv = _AtomicCSV(os.path.join(outdir, "ae_sdtm_excluded.csv"), EXCLUDED_FIELDS)
    report = _HtmlReport(os.path.join(outdir, "report.html"), html_limit) if html_limit > 0 else None
    counts = {"documents": 0, "words": 0, "chars": 0, "adverse_events": 0, "regimens": 0, "sdtm_rows": 0, "ents": 0}
    for record in iter_records(os.path.join(outdir, DOCS)):
        counts["documents"] += 1
        counts["words"] += int(record.get("n_words") or 0)
        counts["chars"] += int(record.get("n_chars") or 0)
        counts["ents"] += len(record.get("ents") or [])
        for i, ae in enumerate(record.get("adverse_events") or []):
            row = {"doc_id": record["id"], "ae_index": i}
            row.update({k: cell(ae.get(k)) for k in AE_FIELDS})
            ae_csv.write(row)
        rows, supp, excluded = sdtm.add(record)
        for target, items in ((sdtm_csv, rows), (supp_csv, supp), (excl_csv, excluded)):
            for item in items:
                target.write(item)
        for i, reg in enumerate(record.get("regimens") or []):
            row = {"doc_id": record["id"], "regimen_index": i}
            row.update({k: cell(reg.get(k)) for k in REGIMEN_FIELDS})
            reg_csv.write(row)
        if report is not None:
            report.add(record)
    counts["adverse_events"] = ae_csv.rows
    counts["regimens"] = reg_csv.rows
    counts["sdtm_rows"] = sdtm_csv.rows
    counts["sdtm_excluded"] = excl_csv.rows
    counts["sdtm_excluded_reasons"] = dict(sdtm.reasons)
    for table in (ae_csv, reg_csv, sdtm_csv, supp_csv, excl_csv):
        table.close()
    counts["sdtm_check"] = check_export(outdir)
    if report is not None:
        report.close()
    errors = 0
    for _ in iter_records(os.path.join(outdir, ERRORS)):
        errors += 1
    counts["errors"] = errors
    return counts


def check_export(outdir: str) -> Dict[str, Any]:
    """Run the SDTM AE check on ``ae_sdtm.csv``; write every problem to
    ``ae_sdtm_check.txt``. RETURNS {"errors", "warnings", "first"} for the
    summary (a failing export is reported, not fatal: docs.jsonl and the other
    tables are still right; see the README's SDTM section)."""
    from ..sdtm.check import check_ae_file

    problems = check_ae_file(os.path.join(outdir, "ae_sdtm.csv"))
    path = os.path.join(outdir, "ae_sdtm_check.txt")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        for p in problems:
            fh.write(f"ae_sdtm.csv: {p}\n")
    os.replace(path + ".tmp", path)
    errors = [p for p in problems if p.severity == "error"]
    return {"errors": len(errors), "warnings": len(problems) - len(errors), "first": str(errors[0]) if errors else ""}


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
