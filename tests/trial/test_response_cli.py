"""``en-clinical-trials trial response`` end to end: visit notes (a csv with usubjid,
visit_date, text) annotated by a real rules-only pipeline (spacy.blank("en") +
ct_efficacy), then BOR, ORR/DCR, CSV and the HTML report; bad input exits 2
naming FILE:LINE.

Expected results, per subject (tests/fixtures/trial_response; days from TRTSDT):
S001 PR on days 56 (-35 %), 84 (-42.5 %) and 140 (-45 %): PR confirmed 28 days later.
S002 SD on day 56 (-4.7 %), PD on day 112 (new lesion; +29.5 % and +18 mm over the
nadir): BOR SD. S003 CR on days 56 and 91: CR confirmed. S004 PR on days 56 and 70,
only 14 days apart: not confirmed, BOR SD. S005 only a hedged "possible
progression": no time point, MISSING. S006 -28.8 %: SD. S007 ITTFL N: left out.
S008 no document: MISSING. Notes of S099 (not in ADSL) and of no subject: left out.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ct_safety_nlp.cli.trial import build_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trial_response"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def annotations(tmp_path_factory):
    import spacy

    root = tmp_path_factory.mktemp("response")
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_efficacy")
    nlp.initialize()
    nlp.to_disk(root / "model")
    out = root / "ann"
    proc = subprocess.run([str(BIN / "en-clinical-trials"), "annotate", str(FIXTURES / "notes.csv"), "--output", str(out),
                           "--model", str(root / "model"), "--progress", "none"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def run(args):
    return CliRunner().invoke(build_app(), args)


def _rows(path):
    with open(path, newline="", encoding="utf8") as f:
        return list(csv.DictReader(f))


def test_docs_jsonl_carries_the_responses(annotations):
    docs = [json.loads(line) for line in (annotations / "docs.jsonl").read_text().splitlines()]
    first = next(d for d in docs if d["id"] == "notes.csv#1")
    assert any(r["basis"] == "measured" and r["response"] == "PR" and r["percent_change_from_baseline"] == -35.0
               for r in first["responses"])


def test_trial_response_end_to_end(annotations, tmp_path):
    out = tmp_path / "report"
    result = run(["response", str(annotations), "--subjects", str(FIXTURES / "adsl.csv"), "--output", str(out),
                  "--population-flag", "ITTFL"])
    assert result.exit_code == 0, result.output
    subjects = {r["usubjid"]: r for r in _rows(out / "subjects.csv")}
    assert {k: (r["bor"], r["confirmed"]) for k, r in subjects.items()} == {
        "S001": ("PR", "True"), "S002": ("SD", "False"), "S003": ("CR", "True"), "S004": ("SD", "False"),
        "S005": ("MISSING", "False"), "S006": ("SD", "False"), "S008": ("MISSING", "False")}
    assert [subjects[s]["best_percent_change"] for s in ("S001", "S002", "S003", "S004", "S006")] == [
        "-45.0", "-4.7", "-100.0", "-38.8", "-28.8"]
    arms = {r["arm"]: r for r in _rows(out / "arms.csv")}
    assert (arms["Drug A"]["n"], arms["Drug A"]["orr_n"], arms["Drug A"]["orr_percent"]) == ("4", "2", "50.0")
    assert (arms["Drug A"]["orr_ci_low"], arms["Drug A"]["orr_ci_high"]) == ("6.8", "93.2")
    assert (arms["Placebo"]["n"], arms["Placebo"]["orr_n"], arms["Placebo"]["dcr_n"]) == ("3", "0", "2")
    excluded = _rows(out / "excluded.csv")
    reasons = " | ".join(r["reason"] for r in excluded)
    assert len(excluded) == 5
    for needle in ("ITTFL is 'N'", "no subject", "no tumour response asserted", "'S007' is not in the subject file",
                   "'S099' is not in the subject file"):
        assert needle in reasons
    html = (out / "response.html").read_text()
    assert html.count("<svg") == 2 and "Waterfall" in html and "Swimmer" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "<script" not in html
    assert 'id="subject-S001"' in html
    assert "Drug A: n=4" in result.stdout and "ORR 50.0% (6.8-93.2)" in result.stdout


def test_json_and_no_confirm(annotations, tmp_path):
    result = run(["response", str(annotations), "--subjects", str(FIXTURES / "adsl.csv"), "--output", str(tmp_path / "r"),
                  "--no-confirm", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["parameters"]["confirm"] is False
    placebo = next(a for a in data["arms"] if a["arm"] == "Placebo")
    # without confirmation S004's PR counts; without the population flag S007 (PR on day 49) counts too
    assert (placebo["n"], placebo["orr_n"]) == (4, 2)


@pytest.mark.parametrize(
    "adsl,message",
    [("USUBJID,TRTSDT\nS001,2024-01-01\n", ":1: missing column TRT01A or ACTARM or ARM or TRT01P"),
     ("USUBJID,TRT01A,TRTSDT\nS001,A,2024-01-01\nS001,A,2024-01-01\n", ":3: USUBJID 'S001' appears twice (first at")],
)
def test_bad_subject_file_exits_2_naming_file_and_line(annotations, tmp_path, adsl, message):
    path = tmp_path / "adsl.csv"
    path.write_text(adsl)
    result = run(["response", str(annotations), "--subjects", str(path), "--output", str(tmp_path / "r")])
    assert result.exit_code == 2 and f"{path}{message}" in result.output


def test_bad_docs_jsonl_and_parameters_exit_2(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "docs.jsonl").write_text('{"id": "a"}\nnot json\n')
    result = run(["response", str(tmp_path / "ann"), "--subjects", str(FIXTURES / "adsl.csv"), "--output", str(tmp_path / "r")])
    assert result.exit_code == 2 and "docs.jsonl:2: not valid JSON" in result.output
    result = run(["response", str(tmp_path / "ann"), "--subjects", str(FIXTURES / "adsl.csv"), "--output", str(tmp_path / "r"),
                  "--confirm-days", "-1"])
    assert result.exit_code == 2 and "--confirm-days" in result.output
