"""``en-clinical-trials trial escalate`` / ``trial simulate``: the --json shape, the three
input conventions, bad input (exit 2, a message naming what and where), the HTML report,
and DLTs from text: hand-written DLT-window notes annotated by a real rules-only pipeline
(spacy.blank("en") + ct_reasoner initialised from the CTCAE workbook), then escalated; the
expected output (tests/fixtures/escalation/dlt_notes/expected.json) was written before the code.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ct_safety_nlp.cli.trial import build_app

from bulk_helpers import reasoner_model  # noqa: E402 - tests/ is on pytest's pythonpath (setup.cfg)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "escalation"
NOTES = FIXTURES / "dlt_notes"
BIN = Path(sys.executable).parent
REQUIRED_KEYS = ["cohort", "dose", "n", "dlt", "decision", "next_dose"]


def run(args):
    return CliRunner().invoke(build_app(), args)


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_escalate_json_shape_from_outcome_string():
    out = _json(run(["escalate", "--design", "boin", "--target", "0.3", "--doses", "5", "--outcomes", "1NNN 2NNN 3NTT", "--json"]))
    assert set(out) >= {"decisions", "mtd"}
    assert [{k: d[k] for k in REQUIRED_KEYS} for d in out["decisions"]] == [
        {"cohort": 1, "dose": 1, "n": 3, "dlt": 0, "decision": "escalate", "next_dose": 2},
        {"cohort": 2, "dose": 2, "n": 3, "dlt": 0, "decision": "escalate", "next_dose": 3},
        {"cohort": 3, "dose": 3, "n": 3, "dlt": 2, "decision": "de-escalate", "next_dose": 2},
    ]
    assert out["mtd"] is None
    ev = out["decisions"][2]["evidence"]
    assert ev["boundary"] == {"n": 3, "escalate_if_dlt_le": 0, "deescalate_if_dlt_ge": 2, "eliminate_if_dlt_ge": 3}
    assert "de-escalation boundary 2" in ev["rule"] and ev["at_dose"] == {"dose": 3, "n": 3, "dlt": 2}


def test_escalate_stop_gives_null_next_dose_and_mtd():
    out = _json(run(["escalate", "--design", "3+3", "--doses", "5", "--outcomes", "1NNN 2NNN 3NTT", "--json"]))
    assert out["decisions"][-1]["decision"] == "stop" and out["decisions"][-1]["next_dose"] is None
    assert out["mtd"] == 2
    out = _json(run(["escalate", "--design", "mtpi2", "--target", "0.3", "--doses", "5", "--outcomes", "1NNN 2NNN", "--final", "--json"]))
    assert out["decisions"][-1]["decision"] == "stop" and out["mtd"] == 2


def test_escalate_cohort_csv(tmp_path):
    path = tmp_path / "cohorts.csv"
    path.write_text("cohort,dose,subject,dlt\n1,1,S1,0\n1,1,S2,no\n1,1,S3,N\n2,2,S4,1\n2,2,S5,0\n2,2,S6,yes\n")
    out = _json(run(["escalate", "--design", "3+3", "--doses", "4", "--cohorts", str(path), "--json"]))
    assert [(d["decision"], d["next_dose"]) for d in out["decisions"]] == [("escalate", 2), ("stop", None)]
    assert out["mtd"] == 1
    assert out["decisions"][1]["evidence"]["subjects"] == ["S4", "S5", "S6"]
    assert out["decisions"][1]["evidence"]["source"] == "cohorts.csv:5-7"


@pytest.mark.parametrize(
    "content,message",
    [
        ("cohort,dose,subject\n1,1,S1\n", "cohorts.csv:1: missing column 'dlt'"),
        ("cohort,dose,subject,dlt\n1,1,S1,maybe\n", "cohorts.csv:2: dlt 'maybe' is not one of"),
        ("cohort,dose,subject,dlt\n1,1,S1,0\n1,2,S2,0\n", "cohorts.csv:3: cohort '1' is at dose 1 on line 2 but at dose 2 here"),
        ("cohort,dose,subject,dlt\n1,1,S1,0\n2,9,S2,0\n", "cohorts.csv:3: dose level 9 is out of range (the design has 5 doses)"),
        ("cohort,dose,subject,dlt\n1,1,S1,0\n2,1,S1,0\n", "cohorts.csv:3: subject 'S1' already listed on line 2"),
        ("", "cohorts.csv:1: the cohort file is empty"),
    ],
)
def test_escalate_bad_cohort_csv(tmp_path, content, message):
    path = tmp_path / "cohorts.csv"
    path.write_text(content)
    result = run(["escalate", "--design", "boin", "--target", "0.3", "--doses", "5", "--cohorts", str(path)])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["--outcomes", "1NNN 2NXT"], "cohort 2 '2NXT' at character 6: 'X' at character 8 is not N (no DLT) or T (DLT)"),
        (["--outcomes", "1NNN NNN"], "cohort 2 'NNN' at character 6: a cohort must start with its dose level"),
        (["--outcomes", "1NNN 7NNN"], "cohort 2 '7NNN' at character 6: dose level 7 is out of range (the design has 5 doses)"),
        (["--outcomes", "0NNN"], "dose levels start at 1"),
        (["--outcomes", "1NNN 2TTT 2NNN"], "cohort 3 (dose 2, outcomes:11-14): dose 2 was eliminated (after cohort 2"),
        (["--outcomes", "1NNN", "--target", "1.2"], "target must be strictly between 0 and 1, got 1.2"),
        (["--outcomes", "1NNN", "--target", "0"], "target must be strictly between 0 and 1, got 0"),
        (["--outcomes", "1NNN", "--cohorts", "x.csv"], "give exactly one input"),
        (["--annotations", "x"], "--annotations needs --subjects and --protocol"),
    ],
)
def test_escalate_bad_input_exit_2(args, message):
    base = ["escalate", "--design", "boin", "--doses", "5"] + ([] if "--target" in args else ["--target", "0.3"])
    result = run(base + args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_escalate_human_output_has_summary_line():
    result = run(["escalate", "--design", "boin", "--target", "0.3", "--doses", "5", "--outcomes", "1NNN 2NTT"])
    assert result.exit_code == 0
    assert "cohort 2: dose 2, 3 patients, 2 DLT -> de-escalate to dose 1" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("summary: 2 cohorts; next cohort at dose 1")


def test_simulate_json_and_html_report(tmp_path):
    report = tmp_path / "sim.html"
    result = run(
        ["simulate", "--design", "3+3", "--design", "boin", "--design", "mtpi2", "--target", "0.3", "--scenario", "0.05,0.15,0.3,0.45,0.6", "--scenario", "0.3,0.45,0.6,0.7,0.8", "--trials", "2000", "--report", str(report), "--json"]
    )
    out = _json(result)
    assert [(r["scenario_index"], r["design"]["design"]) for r in out["results"]] == [(1, "3+3"), (1, "boin"), (1, "mtpi2"), (2, "3+3"), (2, "boin"), (2, "mtpi2")]
    for r in out["results"]:
        assert sum(r["selection_pct"]) + r["no_mtd_pct"] == pytest.approx(100, abs=0.05)
        assert set(r) >= {"patients_per_dose", "dlt_per_dose", "mean_patients", "dlt_rate", "stopped_early_for_toxicity_pct"}
    html = report.read_text()
    assert html.count("<svg") == 4  # selection + patients per dose, per scenario
    assert "Probability of selecting each dose as the MTD" in html
    assert "src=" not in html and "<script" not in html and "<link" not in html
    assert "mTPI-2" in html and "BOIN" in html


def test_simulate_bad_scenario_exit_2():
    result = run(["simulate", "--design", "boin", "--target", "0.3", "--scenario", "0.1,0.2,1.5"])
    assert result.exit_code == 2 and "dose 3 has probability 1.5" in result.output
    result = run(["simulate", "--design", "boin", "--target", "0.3", "--scenario", "0.1,0.2,0.3", "--scenario", "0.1,0.2"])
    assert result.exit_code == 2 and "2 probabilities for 3 doses" in result.output
    result = run(["simulate", "--design", "boin", "--scenario", "0.1,0.2,0.3"])
    assert result.exit_code == 2 and "needs a target" in result.output


# --------------------------------------------------------------------------- DLTs from text
# marked slow: building the rules-only pipeline from the CTCAE workbook and one `annotate`
# run take about a minute on the shared 2-core machine (the tests themselves are fast)
@pytest.fixture(scope="module")
def annotated_notes(tmp_path_factory, ctcae_xlsx_path):
    """The fixture notes annotated by a real rules-only pipeline, through the annotate CLI."""
    model, _ = reasoner_model(str(ctcae_xlsx_path))
    root = tmp_path_factory.mktemp("dlt_notes")
    inputs = root / "in"
    inputs.mkdir()
    shutil.copy(NOTES / "notes.csv", inputs / "notes.csv")
    out = root / "annotated"
    proc = subprocess.run([sys.executable, "-m", "ct_safety_nlp.cli", "annotate", str(inputs), "--output", str(out), "--model", model], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("design", ["3+3", "boin"])
def test_escalate_from_text_gives_the_committee_decision(annotated_notes, design):
    expected = json.loads((NOTES / "expected.json").read_text())
    args = ["escalate", "--design", design, "--doses", "5", "--annotations", str(annotated_notes), "--subjects", str(NOTES / "subjects.csv"), "--protocol", str(NOTES / "protocol.yml"), "--json"]
    if design == "boin":
        args += ["--target", "0.3"]
    out = _json(run(args))
    assert [{k: d[k] for k in REQUIRED_KEYS} for d in out["decisions"]] == expected["escalate"][design]["decisions"]
    assert out["mtd"] == expected["escalate"][design]["mtd"]
    assert out["dlt_assessment"]["window"]["window_days"] == expected["dlt_window_days"]
    for got, want in zip(out["decisions"], expected["cohorts"]):
        ev = got["evidence"]
        assert ev["subjects"] == want["evaluable"]
        assert [x["subject"] for x in ev.get("not_evaluable", [])] == want["not_evaluable"]
        assert [{k: d[k] for k in ("subject", "ctcae_term", "grade", "study_day", "rule")} for d in ev.get("dlt_evidence", [])] == want["dlts"]
        for dlt in ev.get("dlt_evidence", []):
            assert any("thrombocytopenia" in line for line in dlt["evidence"])
    assert out["dlt_assessment"]["excluded"] == []


@pytest.mark.slow
def test_escalate_from_text_human_output_and_console_script(annotated_notes):
    proc = subprocess.run(
        [str(BIN / "en-clinical-trials"), "trial", "escalate", "--design", "boin", "--target", "0.3", "--doses", "5", "--annotations", str(annotated_notes), "--subjects", str(NOTES / "subjects.csv"), "--protocol", str(NOTES / "protocol.yml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "DLT window: days 1-28" in text
    assert "DLT 102-004: Platelet count decreased grade 4, day 12 (rule heme_g4" in text
    assert "not evaluable 102-008: followed 9 days (< 28), no DLT" in text
    assert text.strip().splitlines()[-1] == "summary: 3 cohorts; next cohort at dose 3; MTD not selected yet (use --final to end the trial here)"


@pytest.mark.slow
def test_escalate_from_text_protocol_without_window_is_an_error(annotated_notes, tmp_path):
    protocol = tmp_path / "p.yml"
    protocol.write_text("schema_version: 1\nname: no window\ndlt:\n  - id: g4\n    when: {min_grade: 4}\n")
    result = run(["escalate", "--design", "3+3", "--doses", "5", "--annotations", str(annotated_notes), "--subjects", str(NOTES / "subjects.csv"), "--protocol", str(protocol)])
    assert result.exit_code == 2 and "has no dlt_window_days" in result.output
    ok = run(["escalate", "--design", "3+3", "--doses", "5", "--annotations", str(annotated_notes), "--subjects", str(NOTES / "subjects.csv"), "--protocol", str(protocol), "--dlt-window", "28", "--json"])
    assert _json(ok)["decisions"][1]["dlt"] == 1
