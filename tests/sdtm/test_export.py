"""The SDTM AE export (ct_safety_nlp.sdtm.export through bulk.exporters):
the issue's CRF comment gives ONE row with CT values and the subject from the
row field; term-less non-AE candidates go to ae_sdtm_excluded.csv; provenance
goes to ae_suppae.csv; dates only when stated; the export passes the check."""

import csv
import json
from pathlib import Path

import pytest
import spacy
from spacy import registry

from ct_safety_nlp.bulk.exporters import export_tables
from ct_safety_nlp.bulk.records import doc_record, dumps
from ct_safety_nlp.sdtm.check import check_ae_file
from ct_safety_nlp.sdtm.export import SdtmBuilder, ae_dates

REPO = Path(__file__).resolve().parents[2]
CRF = "Subject 104-003: Gr 3 diarrhea C1D6, hospitalised 2 days, resolved with IV fluids. Related to capecitabine."


@pytest.fixture(scope="module")
def nlp(ctcae_xlsx_path):
    """blank en + entity_ruler (the drug, and "IV fluids" as the AE span a model wrongly gave) + ct_reasoner with the protocol."""
    import ct_safety_nlp.kb  # noqa: F401
    import ct_safety_nlp.protocol  # noqa: F401

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([
        {"label": "DRUG", "pattern": [{"LOWER": "capecitabine"}]},
        {"label": "ADVERSE_EVENT", "pattern": [{"LOWER": "iv"}, {"LOWER": "fluids"}]},
    ])
    nlp.add_pipe("ct_reasoner")
    nlp.get_pipe("ct_reasoner").initialize(
        lambda: [], nlp=nlp,
        kb=registry.misc.get("ct.read_ctcae.v1")(str(ctcae_xlsx_path)),
        synonyms=registry.misc.get("ct.read_synonyms.v1")(str(REPO / "assets" / "ctcae_synonyms.json")),
        protocol=registry.misc.get("ct.read_protocol.v1")(str(REPO / "assets" / "protocol_rules.yml")),
    )
    return nlp


def _export(tmp_path, nlp, items, **kw):
    with open(tmp_path / "docs.jsonl", "w", encoding="utf-8") as fh:
        for item in items:
            fh.write(dumps(doc_record(nlp(item["text"]), item)) + "\n")
    counts = export_tables(str(tmp_path), **kw)

    def read(name):
        with open(tmp_path / name, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    return counts, read("ae_sdtm.csv"), read("ae_suppae.csv"), read("ae_sdtm_excluded.csv")


def _item(rid, text, **meta):
    return {"id": rid, "source": "crf.csv", "row": 1, "text": text, "decoded": "utf-8", "meta": meta or None}


def test_crf_comment_gives_one_row(tmp_path, nlp):
    counts, rows, supp, excluded = _export(tmp_path, nlp, [_item("crf.csv#1", CRF, usubjid="CT01-104-003", visit_date="2024-03-11", ady="6")], studyid="CT01")
    assert len(rows) == 1, rows
    (row,) = rows
    assert (row["STUDYID"], row["DOMAIN"], row["USUBJID"], row["AESEQ"]) == ("CT01", "AE", "CT01-104-003", "1")
    assert (row["AETERM"], row["AEDECOD"], row["AETOXGR"]) == ("diarrhea", "Diarrhea", "3")
    assert (row["AESER"], row["AESHOSP"], row["AESDTH"]) == ("Y", "Y", "N")
    assert row["AEREL"] == "RELATED" and row["AEOUT"] == "RECOVERED/RESOLVED"
    # no action with study treatment is stated: AEACN stays empty, never the protocol's recommendation
    assert row["AEACN"] == ""
    qvals = {r["QNAM"]: r["QVAL"] for r in supp}
    assert qvals["AEDOCID"] == "crf.csv#1" and qvals["AERELEV"].startswith("Related @")
    assert qvals.get("AEPRACT", "") != row["AEACN"]
    # C1D6 is study day 6, the visit's own day: the start date; no end date is stated
    assert (row["AESTDTC"], row["AEENDTC"]) == ("2024-03-11", "")
    # "IV fluids" (a model span here) names a treatment: ct_reasoner rejects it, the export lists it once
    assert [e["AETERM"] for e in excluded] == ["IV fluids"] and "names a treatment" in excluded[0]["REASON"]
    assert excluded[0]["AE_INDEX"] == ""
    assert counts["sdtm_rows"] == 1 and counts["sdtm_excluded"] == 1
    assert counts["sdtm_check"]["errors"] == 0 and check_ae_file(str(tmp_path / "ae_sdtm.csv")) == []


def test_action_taken_is_ct_and_aeseq_counts_per_subject(tmp_path, nlp):
    items = [
        _item("a#1", "Grade 3 neutropenia; cisplatin was held.", usubjid="S-1"),
        _item("a#2", "Grade 2 nausea, not related to cisplatin. Dose reduced to 75%.", usubjid="S-1"),
        _item("a#3", "No rash. Grade 1 fatigue is ongoing.", usubjid="S-2"),
    ]
    counts, rows, _, excluded = _export(tmp_path, nlp, items, studyid="CT01")
    by = {r["AEDECOD"]: r for r in rows}
    assert by["Neutrophil count decreased"]["AEACN"] == "DRUG INTERRUPTED"
    assert (by["Nausea"]["AEACN"], by["Nausea"]["AEREL"]) == ("DOSE REDUCED", "NOT RELATED")
    assert by["Fatigue"]["AEOUT"] == "NOT RECOVERED/NOT RESOLVED"
    assert [(r["USUBJID"], r["AESEQ"]) for r in rows] == [("S-1", "1"), ("S-1", "2"), ("S-2", "1")]
    assert any("negated" in e["REASON"] for e in excluded)
    assert counts["sdtm_check"]["errors"] == 0


def test_an_export_without_subjects_fails_the_check_and_says_so(tmp_path, nlp):
    counts, rows, _, _ = _export(tmp_path, nlp, [_item("x.txt", "Grade 2 nausea.")])
    assert rows and rows[0]["USUBJID"] == "" and counts["sdtm_check"]["errors"] >= 2
    report = (tmp_path / "ae_sdtm_check.txt").read_text(encoding="utf-8")
    assert "row 1, USUBJID" in report and "row 1, STUDYID" in report


def test_subjects_from_a_mapping_file(tmp_path, nlp):
    mapping = tmp_path / "subjects.csv"
    mapping.write_text("id,usubjid,visit_date,ady\nx.txt,S-9,2024-05-10,8\n", encoding="utf-8")
    counts, rows, _, _ = _export(tmp_path, nlp, [_item("x.txt", "Grade 2 nausea on day 3, resolved on day 8.")], studyid="CT01", subjects=str(mapping))
    assert (rows[0]["USUBJID"], rows[0]["AESTDTC"], rows[0]["AEENDTC"]) == ("S-9", "2024-05-05", "2024-05-10")
    assert counts["sdtm_check"]["errors"] == 0


# (sentence, visit date, visit study day, (AESTDTC, AEENDTC))
DATES = [
    ("Grade 2 nausea on day 3.", "2024-05-10", 8, ("2024-05-05", "")),
    ("Grade 2 nausea on day 3.", "2024-05-10", None, ("", "")),  # no study day of the visit: not computed
    ("Grade 2 nausea on day 3.", "2024-05", 8, ("", "")),  # partial visit date: no day arithmetic
    ("Grade 2 nausea.", "2024-05-10", 8, ("", "")),  # no day stated: the visit date is not an onset
    ("Grade 2 nausea since 2024-03, resolved 2024-04-02.", None, None, ("2024-03", "2024-04-02")),
    ("Grade 2 nausea C2D5.", "2024-05-10", 8, ("", "")),  # a later cycle's day: its study day is unknown
    ("Grade 2 nausea on day -1.", "2024-05-10", 1, ("2024-05-09", "")),  # no day 0
]


@pytest.mark.parametrize("text,visit,day,expected", DATES)
def test_dates_only_when_stated(nlp, text, visit, day, expected):
    ae = next(a for a in nlp(text)._.ct_adverse_events if a["ctcae_term"] == "Nausea")
    assert ae_dates(ae, text, visit, day) == expected


def test_head_noun_keeps_a_termless_event():
    builder = SdtmBuilder(studyid="S")
    ae = {"text": "injection site pain and swelling", "ctcae_term": None, "negated": False, "historical": False}
    assert builder.exclusion(ae) is None
    assert builder.exclusion(dict(ae, text="IV fluids")) is not None
    assert builder.exclusion(dict(ae, text="IV fluids", ctcae_term="Dehydration")) is None


@pytest.mark.slow  # one annotate subprocess (~30 s on 2 cores): the options end to end
def test_annotate_cli_studyid_and_subjects(tmp_path, ctcae_xlsx_path):
    """`annotate --studyid --subjects` fills STUDYID / USUBJID / dates of plain text files; the summary reports the check."""
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from bulk_helpers import cli, reasoner_model

    model = reasoner_model(str(ctcae_xlsx_path))[0]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "v1.txt").write_text("Grade 2 nausea on day 3, resolved on day 8. Not related to cisplatin.", encoding="utf-8")
    (docs / "v2.txt").write_text("IV fluids given.", encoding="utf-8")
    mapping = tmp_path / "subjects.csv"
    mapping.write_text("id,usubjid,visit_date,ady\nv1.txt,S-9,2024-05-10,8\nv2.txt,S-9,2024-05-11,9\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = cli([str(docs), "-o", str(out), "-m", model, "--studyid", "CT01", "--subjects", str(mapping), "--progress", "none"], timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    with open(out / "ae_sdtm.csv", encoding="utf-8", newline="") as fh:
        (row,) = [r for r in csv.DictReader(fh)]
    assert (row["STUDYID"], row["USUBJID"], row["AEDECOD"], row["AEREL"]) == ("CT01", "S-9", "Nausea", "NOT RELATED")
    assert (row["AESTDTC"], row["AEENDTC"], row["AEOUT"]) == ("2024-05-05", "2024-05-10", "RECOVERED/RESOLVED")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["sdtm_check"]["errors"] == 0 and summary["sdtm_rows"] == 1
    assert "WARNING" not in proc.stdout + proc.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("id,visit_date\nv1.txt,2024-05-10\n", encoding="utf-8")
    proc = cli([str(docs), "-o", str(tmp_path / "out3"), "-m", model, "--subjects", str(bad)], timeout=300)
    assert proc.returncode == 2 and "usubjid" in proc.stderr, proc.stderr


def test_summary_warns_when_the_export_fails_the_check():
    from ct_safety_nlp.bulk.progress import format_summary

    base = {"documents": 1, "run_documents": 1, "errors": 0, "run_errors": 0, "adverse_events": 1, "sdtm_rows": 1, "regimens": 0,
            "words_per_s": 1.0, "docs_per_s": 1.0, "run_words": 1, "wall_s": 1.0, "processing_s": 1.0, "engine": "local",
            "status": "ok", "exit_code": 0}
    ok = format_summary(dict(base, sdtm_check={"errors": 0, "warnings": 0, "first": ""}))
    bad = format_summary(dict(base, sdtm_check={"errors": 2, "warnings": 0, "first": "error: row 1, USUBJID: empty"}))
    assert "WARNING" not in ok and "fails the SDTM AE check: 2 error(s), first: error: row 1, USUBJID" in bad
