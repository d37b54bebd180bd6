"""DLT assessment per dose level over the plain-data interface, and its inputs read by
the trial input layer: the window and evaluability boundaries on both sides, what is not
counted and why, cohort grouping, and bad input with FILE:LINE."""

import json
from datetime import date, timedelta

import pytest

from ct_safety_nlp.protocol import validate_protocol
from ct_safety_nlp.trial.escalation import EscalationError
from ct_safety_nlp.trial.escalation.dlt import assess_dlts, cohorts_for_escalation, read_dlt_inputs, study_day
from ct_safety_nlp.trial.inputs import InputFileError

D0 = date(2026, 1, 1)
PROTOCOL = validate_protocol(
    {
        "schema_version": 1,
        "name": "unit",
        "dlt_window_days": 28,
        "evaluability": {"min_followup_days": 28, "dlt_always_evaluable": True},
        "dlt": [{"id": "g3", "description": "grade >= 3", "when": {"min_grade": 3}}],
    }
)


def subject(sid, dose=1, cohort=None, first=D0, followed=60):
    return {"subject": sid, "dose": dose, "first_dose": first, "cohort": cohort, "followup_end": first + timedelta(days=followed - 1) if followed else None, "last_note": None, "where": f"subjects.csv:{sid}"}


def event(sid, day, grade=3, term="Nausea", **flags):
    ev = {"subject": sid, "date": D0 + timedelta(days=day - 1) if day is not None else None, "study_day": None, "ctcae_term": term, "soc": None, "grade": grade, "serious": False, "negated": False, "historical": False, "speculated": False, "text": (term or "something").lower(), "doc_id": f"notes.csv#{sid}", "where": "docs.jsonl:1"}
    ev.update(flags)
    return ev


def test_study_day_has_no_day_zero():
    assert study_day(D0, D0) == 1
    assert study_day(D0 + timedelta(days=27), D0) == 28
    assert study_day(D0 - timedelta(days=1), D0) == -1


@pytest.mark.parametrize("day,counted", [(1, True), (28, True), (29, False), (-1, False)])
def test_dlt_window_both_sides(day, counted):
    result = assess_dlts([subject("A")], [event("A", day)], PROTOCOL)
    s = result["subjects"][0]
    assert s["dlt"] is counted
    if not counted:
        assert "outside the DLT window (days 1-28)" in s["not_counted"][0]["reason"]


@pytest.mark.parametrize("followed,evaluable", [(27, False), (28, True)])
def test_evaluability_both_sides(followed, evaluable):
    s = assess_dlts([subject("A", followed=followed)], [], PROTOCOL)["subjects"][0]
    assert s["evaluable"] is evaluable
    assert s["evaluable_reason"] == (f"followed {followed} days (>= 28)" if evaluable else f"followed {followed} days (< 28), no DLT")


def test_dlt_makes_evaluable_unless_the_protocol_says_otherwise():
    s = assess_dlts([subject("A", followed=5)], [event("A", 3)], PROTOCOL)["subjects"][0]
    assert s["evaluable"] and s["dlt"] and s["evaluable_reason"] == "DLT on study day 3"
    strict = dict(PROTOCOL, evaluability={"min_followup_days": 28, "dlt_always_evaluable": False})
    s = assess_dlts([subject("A", followed=5)], [event("A", 3)], strict)["subjects"][0]
    assert not s["evaluable"] and not s["dlt"]


def test_follow_up_falls_back_to_the_last_note():
    s = subject("A", followed=None)
    s["last_note"] = D0 + timedelta(days=30)
    out = assess_dlts([s], [], PROTOCOL)["subjects"][0]
    assert out["evaluable"] and out["followup_days"] == 31 and out["followup_from"] == "last_note"
    s["last_note"] = None
    assert assess_dlts([s], [], PROTOCOL)["subjects"][0]["evaluable_reason"] == "no follow-up date, no DLT"


@pytest.mark.parametrize(
    "ev,bucket,reason",
    [
        (event("A", 5, negated=True), "not_counted", "negated"),
        (event("A", 5, historical=True), "not_counted", "historical"),
        (event("A", 5, grade=2), "not_counted", "grade 2 Nausea meets no DLT rule of protocol 'unit'"),
        (event("A", 5, speculated=True), "to_review", "speculated (possible / suspected); would meet DLT rule 'g3'"),
        (event("A", 5, grade=None), "to_review", "no grade: the DLT rules cannot be checked"),
        (event("A", 5, term=None), "to_review", "not mapped to a CTCAE term"),
        (event("A", None), "to_review", "no date or study day"),
    ],
)
def test_mentions_not_counted_are_listed_with_their_reason(ev, bucket, reason):
    s = assess_dlts([subject("A")], [ev], PROTOCOL)["subjects"][0]
    assert not s["dlt"]
    assert reason in s[bucket][0]["reason"]


def test_dlt_evidence_names_rule_text_day_and_document():
    a = assess_dlts([subject("A")], [event("A", 12, grade=4, term="Platelet count decreased")], PROTOCOL)
    dlt = a["cohorts"][0]["dlt_evidence"][0]
    assert dlt["subject"] == "A" and dlt["rule"] == "g3" and dlt["study_day"] == 12 and dlt["doc_id"] == "notes.csv#A"
    assert dlt["evidence"][1] == "protocol 'unit': DLT rule 'g3': grade >= 3"


def test_cohorts_from_consecutive_dose_levels_without_a_cohort_column():
    subs = [subject("A", 1, first=D0), subject("B", 1, first=D0 + timedelta(1)), subject("C", 2, first=D0 + timedelta(30)), subject("D", 1, first=D0 + timedelta(60))]
    cohorts = assess_dlts(subs, [], PROTOCOL)["cohorts"]
    assert [(c["dose"], c["subjects"]) for c in cohorts] == [(1, ["A", "B"]), (2, ["C"]), (1, ["D"])]


def test_cohort_column_errors():
    with pytest.raises(EscalationError, match="subject B of cohort '1' is at dose 2, but A"):
        assess_dlts([subject("A", 1, "1"), subject("B", 2, "1", first=D0 + timedelta(1))], [], PROTOCOL)
    with pytest.raises(EscalationError, match="gives a cohort for some subjects but not for B"):
        assess_dlts([subject("A", 1, "1"), subject("B", 1, None)], [], PROTOCOL)


def test_cohort_without_evaluable_subjects_is_an_error():
    a = assess_dlts([subject("A", followed=3)], [], PROTOCOL)
    with pytest.raises(EscalationError, match=r"cohort 1 \(dose 1\) has no DLT-evaluable subject \(A: followed 3 days"):
        cohorts_for_escalation(a)


def test_excluded_subjects_and_unknown_subjects():
    s = subject("A")
    s["first_dose"] = None
    a = assess_dlts([s, subject("B")], [event("Z", 3), event("A", 3)], PROTOCOL)
    reasons = {(x["kind"], x["record"].split(":")[0]): x["reason"] for x in a["excluded"]}
    assert reasons[("subject", "A")] == "no first-dose date: the DLT window cannot be placed"
    assert reasons[("mention", "notes.csv#Z")] == "subject 'Z' is not in the subject file"
    assert len(a["excluded"]) == 2  # A's mention is not reported twice


def test_missing_window_is_an_error():
    with pytest.raises(EscalationError, match="has no dlt_window_days"):
        assess_dlts([subject("A")], [], {"name": "x", "dlt": []})
    assert assess_dlts([subject("A")], [], {"name": "x", "dlt": []}, window_days=21)["window"]["window_days"] == 21


def test_dose_out_of_range_is_an_error():
    with pytest.raises(EscalationError, match="subject 'A' has dose level 7, out of range"):
        assess_dlts([subject("A", 7)], [], PROTOCOL, num_doses=5)


# --------------------------------------------------------------------------- inputs
# (the subject file itself is read by ct_safety_nlp.trial.inputs.read_dose_subjects:
# tests/trial/test_inputs.py)
def test_dlt_inputs_from_the_trial_input_layer(tmp_path):
    p = tmp_path / "adsl.csv"
    p.write_text("USUBJID,TRTSDT,DOSE_LEVEL,SAFFL,LSTALVDT,COHORT\nS1,2026-01-01,1,Y,2026-03-01,A\nS2,2026-01-02,1,N,,\nS3,01/02/2026,1,Y,,\nS4,2026-01-04,two,Y,,\nS5,2026-01-05,2,,,B\n")
    out = tmp_path / "ann"
    out.mkdir()
    (out / "docs.jsonl").write_text("")
    subjects, events, excluded = read_dlt_inputs(out, p)
    assert subjects == [
        {"subject": "S1", "dose": 1, "first_dose": date(2026, 1, 1), "cohort": "A", "followup_end": date(2026, 3, 1), "last_note": None, "where": "adsl.csv:2"},
        {"subject": "S5", "dose": 2, "first_dose": date(2026, 1, 5), "cohort": "B", "followup_end": None, "last_note": None, "where": "adsl.csv:6"},
    ]
    assert events == []
    assert [(x["kind"], x["record"], x["where"]) for x in excluded] == [("subject", "S2", "adsl.csv:3"), ("subject", "S3", "adsl.csv:4"), ("subject", "S4", "adsl.csv:5")]
    assert excluded[0]["reason"] == "SAFFL = N (not in the safety population)"
    assert excluded[1]["reason"].startswith("bad date: TRTSDT '01/02/2026'") and "ISO date" in excluded[1]["reason"]
    assert excluded[2]["reason"] == "dose level 'two' is not an integer"


def test_dlt_events_from_annotate_output(tmp_path):
    out = tmp_path / "ann"
    out.mkdir()
    ae = {"text": "nausea", "ctcae_term": "Nausea", "soc": "Gastrointestinal disorders", "grade": 3, "negated": False, "historical": False, "speculated": False, "serious": False}
    docs = [
        {"id": "n.csv#1", "meta": {"USUBJID": "S1", "Visit_Date": "2026-01-05"}, "adverse_events": [ae]},
        {"id": "n.csv#2", "meta": {"usubjid": "S1", "ady": "40"}, "adverse_events": [ae]},
        {"id": "n.csv#3", "meta": None, "adverse_events": [ae]},
        {"id": "n.csv#4", "meta": {"usubjid": "S2", "visit_date": "5 Jan"}, "adverse_events": []},
        {"id": "n.csv#5", "meta": {"subject": "S9", "visit_date": "2026-02-01"}, "adverse_events": []},
        {"id": "n.csv#6", "meta": {"usubjid": "S1", "visit_date": "2026-01-04"}, "adverse_events": []},
    ]
    (out / "docs.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    (out / "errors.jsonl").write_text(json.dumps({"id": "bad.txt", "error": "binary file", "stage": "read"}) + "\n")
    adsl = tmp_path / "adsl.csv"
    adsl.write_text("USUBJID,TRTSDT,DOSELVL\nS1,2026-01-01,1\n")
    subjects, events, excluded = read_dlt_inputs(out, adsl)
    assert [(e["subject"], e["date"], e["study_day"], e["where"]) for e in events] == [("S1", date(2026, 1, 5), None, "docs.jsonl:1"), ("S1", None, 40, "docs.jsonl:2")]
    assert subjects[0]["last_note"] == date(2026, 1, 5)  # the latest dated note, not the last line
    assert [(x["kind"], x["where"]) for x in excluded] == [("document", "docs.jsonl:3"), ("document", "docs.jsonl:4"), ("annotate_error", "errors.jsonl:1"), ("document", str(out))]
    assert excluded[0]["reason"] == "no subject (usubjid) in the row fields"
    assert "'5 Jan' does not parse as an ISO date" in excluded[1]["reason"] and "binary file" in excluded[2]["reason"]
    assert excluded[-1]["reason"] == "notes for subject 'S9', who is not in the subject file"
    (out / "docs.jsonl").write_text('{"id": "x"}\nnot json\n')
    with pytest.raises(InputFileError, match=r"docs.jsonl:2: not valid JSON"):
        read_dlt_inputs(out, adsl)
    with pytest.raises(InputFileError, match=r"nope:0: annotation folder does not exist"):
        read_dlt_inputs(tmp_path / "nope", adsl)
