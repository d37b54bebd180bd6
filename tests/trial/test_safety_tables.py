"""Counting rules of the CSR tables and the EDC reconciliation, on hand-made episodes."""

from datetime import date

import pytest

from ct_safety_nlp.trial.inputs import AeRow, Subject
from ct_safety_nlp.trial.safety.episodes import Episode
from ct_safety_nlp.trial.safety.reconcile import reconcile, term_key
from ct_safety_nlp.trial.safety.tables import (
    n_pct, overview_table, percent, population_table, tables_markdown, teae_by_grade, teae_by_soc, teae_by_term,
)


def subj(uid, arm, saffl=True):
    return Subject(uid, arm, saffl, date(2024, 1, 1), None, None, "adsl.csv")


SUBJECTS = {s.usubjid: s for s in [subj("A1", "A"), subj("A2", "A"), subj("A3", "A"), subj("B1", "B"), subj("B2", "B"), subj("X", "A", False)]}


def ep(uid, term, grade=None, soc="GI", teae="Y", n=1, **kw):
    base = dict(
        episode_id=f"{uid}/{term}/{n}", usubjid=uid, arm=SUBJECTS[uid].arm, term=term, soc=soc, meddra_code=None,
        onset=date(2024, 1, 5), onset_day=5, end=None, end_day=None, worst_grade=grade, initial_grade=None, serious=False,
        seriousness_criteria=[], related=False, drugs=[], action_taken=None, outcome=None, fatal=False, speculated=False,
        dlt=None, protocol_action=None, teae=teae, source="text",
    )
    base.update(kw)
    return Episode(**base)


@pytest.mark.parametrize(
    "n,total,expected",
    [(1, 6, "16.7"), (2, 86, "2.3"), (1, 8, "12.5"), (1, 16, "6.3"), (3, 16, "18.8"), (0, 5, "0.0"), (5, 5, "100.0"), (1, 0, "")],
)
def test_percent_rounds_half_up(n, total, expected):
    # 1/16 = 6.25 and 3/16 = 18.75 are exact halves: half up (SAS), not to even
    assert percent(n, total) == expected


def test_n_pct_format():
    assert n_pct(0, 86) == "0" and n_pct(2, 86) == "2 (2.3%)"


def test_denominators_include_subjects_without_ae_and_exclude_saffl_n():
    assert population_table(SUBJECTS) == [{"arm": "A", "subjects": 3}, {"arm": "B", "subjects": 2}]


def test_once_per_subject_per_term_at_worst_grade_and_events_count_episodes():
    eps = [ep("A1", "Nausea", 1, n=1), ep("A1", "Nausea", 3, n=2), ep("A2", "Nausea", 2), ep("X", "Nausea", 4)]
    rows = {(r["arm"], r["term"]): r for r in teae_by_term(eps, SUBJECTS)}
    a = rows[("A", "Nausea")]
    assert (a["subjects"], a["percent"], a["subjects_grade_3plus"], a["events"]) == (2, "66.7", 1, 3)
    b = rows[("B", "Nausea")]
    assert (b["subjects"], b["percent"], b["events"]) == (0, "0.0", 0)  # every arm gets a row


@pytest.mark.parametrize("grade,plus", [(2, 0), (3, 1)])
def test_grade_3_plus_boundary(grade, plus):
    rows = teae_by_term([ep("A1", "Nausea", grade)], SUBJECTS)
    assert rows[0]["subjects_grade_3plus"] == plus
    ov = {r["category"]: r["subjects"] for r in overview_table([ep("A1", "Nausea", grade)], SUBJECTS) if r["arm"] == "A"}
    assert ov["grade_3_plus"] == plus


def test_only_treatment_emergent_count():
    rows = teae_by_term([ep("A1", "Nausea", 2, teae=None)], SUBJECTS)
    assert rows == []


def test_soc_counts_subject_once_over_its_terms():
    eps = [ep("A1", "Nausea", 1), ep("A1", "Vomiting", 2), ep("B1", "Rash", 1, soc="Skin")]
    socs = {(r["arm"], r["soc"]): r for r in teae_by_soc(eps, SUBJECTS)}
    assert (socs[("A", "GI")]["subjects"], socs[("A", "GI")]["events"]) == (1, 2)


def test_worst_grade_missing_is_its_own_column():
    eps = [ep("A1", "Nausea", None), ep("A2", "Nausea", None), ep("A2", "Nausea", 2, n=2)]
    rows = {(r["arm"], r["soc"], r["term"]): r for r in teae_by_grade(eps, SUBJECTS)}
    r = rows[("A", "GI", "Nausea")]
    assert (r["grade_1"], r["grade_2"], r["grade_missing"], r["subjects"]) == (0, 1, 1, 2)


def test_sorted_by_descending_frequency_then_name():
    eps = [ep("A1", "Zebra", 1), ep("A2", "Zebra", 1), ep("A3", "apple", 1), ep("B1", "Mango", 1), ep("B1", "X", 1, soc="Alpha")]
    order = list(dict.fromkeys((r["soc"], r["term"]) for r in teae_by_term(eps, SUBJECTS)))
    assert order == [("GI", "Zebra"), ("GI", "apple"), ("GI", "Mango"), ("Alpha", "X")]


def test_overview_categories():
    eps = [
        ep("A1", "Nausea", 2, related=True, action_taken="DOSE NOT CHANGED"),
        ep("A2", "Sepsis", 5, serious=True, outcome="FATAL", fatal=True, action_taken="DRUG WITHDRAWN"),
        ep("A3", "Rash", 1, action_taken="DRUG INTERRUPTED"),
    ]
    ov = {r["category"]: r["subjects"] for r in overview_table(eps, SUBJECTS) if r["arm"] == "A"}
    assert ov == {"any_teae": 3, "related": 1, "serious": 1, "grade_3_plus": 1, "dose_modified_or_discontinued": 2, "discontinued": 1, "fatal": 1}


def test_markdown_has_n_pct():
    eps = [ep("A1", "Nausea", 2)]
    md = tables_markdown(SUBJECTS, overview_table(eps, SUBJECTS), teae_by_term(eps, SUBJECTS), teae_by_soc(eps, SUBJECTS), teae_by_grade(eps, SUBJECTS))
    assert "| Subjects with any TEAE | 1 (33.3%) | 0 |" in md


def row(uid, term, grade=None, serious=None, verbatim=""):
    return AeRow(uid, term, verbatim, "", grade, serious, None, None, None, False, None, None, None, None, f"ae.csv:{uid}{term}")


def test_term_key_folds_case_and_spelling():
    assert term_key("DIARRHOEA") == term_key("Diarrhea") and term_key("ANAEMIA") == term_key("Anemia")
    assert term_key("Nausea") != term_key("Vomiting")


def test_reconciliation_statuses_and_agreement():
    eps = [ep("A1", "Nausea", 2), ep("A1", "Rash", 3, serious=True), ep("A2", "Cough", None)]
    rows = [row("A1", "NAUSEA", 2, False), row("A1", "RASH", 2, False), row("A2", "COUGH", 1, False), row("B1", "HEADACHE", 1, False), row("A2", "x", 1, False, verbatim="cough")]
    got = {(r["usubjid"], r["term"]): (r["status"], r["grade_agrees"], r["serious_agrees"], r["edc_records"]) for r in reconcile(eps, rows, SUBJECTS)}
    assert got == {
        ("A1", "Nausea"): ("both", "yes", "yes", 1),
        ("A1", "Rash"): ("both", "no", "no", 1),
        ("A2", "Cough"): ("both", "unknown", "yes", 2),  # AEDECOD 'x' matched through its AETERM 'cough'
        ("B1", "HEADACHE"): ("edc_only", "", "", 1),
    }
    only_text = reconcile([ep("A3", "Alopecia", 1)], [], SUBJECTS)
    assert only_text[0]["status"] == "text_only"
