"""``trial summarize`` end to end on the hand-written fixture
(tests/fixtures/trial_safety): the visit notes annotated by the real
``annotate`` code with a rules-only pipeline (spacy.blank + ct_reasoner
initialised from the CTCAE workbook), then summarized by the CLI; every table,
the episodes, the reconciliation and the exclusions must equal the files
written by hand before the code (expected/)."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bulk_helpers import reasoner_model

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "trial_safety"
EXP = FIX / "expected"


def _rows(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _run(args, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.run([sys.executable, "-m", "ct_safety_nlp.cli", *args], capture_output=True, text=True, env=env, **kw)


@pytest.fixture(scope="module")
def annotated(tmp_path_factory, ctcae_xlsx_path):
    """The fixture's notes through the real annotate command."""
    model, _ = reasoner_model(str(ctcae_xlsx_path))
    out = tmp_path_factory.mktemp("safety") / "ann"
    res = _run(["annotate", str(FIX / "input"), "--output", str(out), "--model", model, "--progress", "none"])
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def summarized(annotated, tmp_path_factory):
    out = tmp_path_factory.mktemp("safety") / "out"
    res = _run([
        "trial", "summarize", str(annotated), "--subjects", str(FIX / "adsl.csv"), "--map", str(FIX / "map.csv"),
        "--edc", str(FIX / "edc_ae.csv"), "--end-window", "30", "--output", str(out),
    ])
    assert res.returncode == 0, res.stderr
    return out, res


def test_annotate_saw_all_documents(annotated):
    docs = [json.loads(line) for line in (annotated / "docs.jsonl").read_text().splitlines()]
    assert len(docs) == 40


@pytest.mark.parametrize("name", ["population", "overview", "teae_by_term", "teae_by_soc", "teae_by_grade"])
def test_tables_exactly_as_expected(summarized, name):
    out, _ = summarized
    assert _rows(out / f"{name}.csv") == _rows(EXP / f"{name}.csv")


def test_teae_by_term_columns_contract(summarized):
    out, _ = summarized
    with open(out / "teae_by_term.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == "arm,soc,term,subjects,percent,subjects_grade_3plus,events"


def test_episodes_exactly_as_expected(summarized):
    out, _ = summarized
    expected = _rows(EXP / "episodes.csv")
    got = [{k: r[k] for k in expected[0]} for r in _rows(out / "episodes.csv")]
    assert got == expected


def test_reconciliation_as_expected(summarized):
    out, _ = summarized
    expected = _rows(EXP / "reconciliation.csv")
    got = [{k: r[k] for k in expected[0]} for r in _rows(out / "reconciliation.csv")]
    assert got == expected


def test_excluded_as_expected_and_counted(summarized):
    out, res = summarized
    key = lambda r: (r["kind"], r["record"], r["usubjid"], r["reason"])  # noqa: E731
    assert sorted(map(key, _rows(out / "excluded.csv"))) == sorted(map(key, _rows(EXP / "excluded.csv")))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["excluded"] == 9
    assert "9 records excluded" in res.stdout


def test_every_mention_accounted_for(summarized, annotated):
    out, _ = summarized
    mentions = _rows(out / "mentions.csv")
    used_docs = {r["doc_id"] for r in mentions}
    assert all(r["disposition"] for r in mentions)
    assert {r["disposition"] for r in mentions} <= {"episode", "negated", "historical (medical history, not an AE)", "no CTCAE term"}
    # documents either feed mentions / have none, or are excluded: each id once
    excluded_docs = {r["record"] for r in _rows(out / "excluded.csv") if r["kind"] == "document"}
    assert not used_docs & excluded_docs
    hist = [r for r in mentions if r["disposition"].startswith("historical")]
    assert [(r["usubjid"], r["term"]) for r in hist] == [("CT-S08", "Hypertension")]


def test_summary_line_and_report(summarized):
    out, res = summarized
    assert res.stdout.strip().startswith("summarize: 34 documents, 12 subjects in the safety population")
    assert "EDC: 14 both, 11 text only, 2 EDC only" in res.stdout
    html = (out / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    # a count links to an evidence list, which links to the episode, which quotes the sentence
    assert 'href="#ev-1"' in html and 'id="ev-1"' in html
    assert 'id="ep-CT-S03-Febrile-neutropenia-1"' in html
    assert "<mark>febrile neutropenia</mark>" in html


def test_bad_subject_file_is_exit_2_with_file_line(annotated, tmp_path):
    bad = tmp_path / "adsl.csv"
    bad.write_text("USUBJID,TRT01A,SAFFL,TRTSDT\nCT-S01,Paclitaxel,Y,2024-03-04\nCT-S01,Paclitaxel,Y,2024-03-04\n")
    res = _run(["trial", "summarize", str(annotated), "--subjects", str(bad), "--output", str(tmp_path / "o")])
    assert res.returncode == 2
    assert f"{bad}:3: USUBJID 'CT-S01' appears twice" in res.stderr


def test_python_api_same_tables(annotated, tmp_path):
    from ct_safety_nlp.trial.safety.run import SummarizeOptions, summarize

    summary = summarize(
        SummarizeOptions(str(annotated), str(FIX / "adsl.csv"), str(tmp_path / "py"), map_path=str(FIX / "map.csv"), end_window=30, report=False),
        stream=open(os.devnull, "w"),
    )
    assert summary["subjects_with_teae"] == {"Paclitaxel": 6, "Placebo": 5}
    assert _rows(tmp_path / "py" / "teae_by_term.csv") == _rows(EXP / "teae_by_term.csv")
    assert not (tmp_path / "py" / "report.html").exists()


def test_without_end_window_the_late_rash_counts(annotated, tmp_path):
    res = _run([
        "trial", "summarize", str(annotated), "--subjects", str(FIX / "adsl.csv"), "--map", str(FIX / "map.csv"),
        "--output", str(tmp_path / "o"), "--json", "--no-report",
    ])
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["teae_episodes"] == 25  # CT-S06's rash 45 days after the last dose now counts


def test_tables_from_the_edc_table(annotated, tmp_path):
    """--tables-from edc counts the SDTM AE rows (TEAE derived from AESTDTC / TRTSDT,
    no TRTEMFL column): CT-S01's neuropathy and CT-S04's insomnia started before
    the first dose and do not count; CT-S09 has nothing in the EDC."""
    res = _run([
        "trial", "summarize", str(annotated), "--subjects", str(FIX / "adsl.csv"), "--map", str(FIX / "map.csv"),
        "--edc", str(FIX / "edc_ae.csv"), "--tables-from", "edc", "--output", str(tmp_path / "o"), "--json", "--no-report",
    ])
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["subjects_with_teae"] == {"Paclitaxel": 5, "Placebo": 5}
    assert summary["teae_episodes"] == 14  # 16 EDC rows in the population, 2 before the first dose
    terms = {(r["arm"], r["term"]): r["subjects"] for r in _rows(tmp_path / "o" / "teae_by_term.csv")}
    assert terms[("Paclitaxel", "NAUSEA")] == "2" and ("Paclitaxel", "PERIPHERAL SENSORY NEUROPATHY") not in terms


def test_tables_from_edc_needs_edc(annotated, tmp_path):
    res = _run(["trial", "summarize", str(annotated), "--subjects", str(FIX / "adsl.csv"), "--tables-from", "edc", "--output", str(tmp_path / "o")])
    assert res.returncode == 2 and "--tables-from edc needs --edc" in res.stderr
