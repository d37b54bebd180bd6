"""From ct_responses to time points, days and best overall response per subject
(ct_safety_nlp.trial.response), and its inputs read by the trial input layer."""

import datetime as dt

import pytest

from ct_safety_nlp.trial.inputs import InputFileError
from ct_safety_nlp.trial.response import document_timepoints, read_response_inputs, response_tables, subject_timepoints


def R(basis, response, text="x", **kw):
    d = {"basis": basis, "response": response, "text": text, "timepoint": None, "timepoint_days": None,
         "timepoint_date": None, "target_response": None, "non_target_response": None, "new_lesions": None,
         "percent_change_from_baseline": None, "speculated": False}
    d.update(kw)
    return d


def test_pd_anywhere_makes_the_time_point_pd():
    tps = document_timepoints([R("measured", "PR", percent_change_from_baseline=-40.0), R("new_lesion", "PD", "new lesion")])
    assert [t["response"] for t in tps] == ["PD"] and tps[0]["best_percent_change"] == -40.0


def test_computed_response_wins_over_a_different_stated_one():
    tps = document_timepoints([R("measured", "PR", "52 mm"), R("stated", "SD", "stable disease")])
    assert tps[0]["response"] == "PR"
    assert any("differs from the computed PR" in e for e in tps[0]["evidence"])


def test_stated_only_and_nothing_asserted():
    assert document_timepoints([R("stated", "SD")])[0]["response"] == "SD"
    assert document_timepoints([R("stated", None, negated=True), R("new_lesion", None, new_lesions=False)]) == []


def test_non_target_only_is_table_2():
    tps = document_timepoints([R("non_target", None, non_target_response="non-CR/non-PD"), R("new_lesion", None, new_lesions=False)])
    assert tps[0]["response"] == "non-CR/non-PD"


def test_one_time_point_per_timepoint_named():
    tps = document_timepoints([R("stated", "SD", timepoint="Week 8", timepoint_days=56), R("stated", "PR", timepoint="Week 16", timepoint_days=112)])
    assert [(t["timepoint"], t["response"]) for t in tps] == [("Week 8", "SD"), ("Week 16", "PR")]


SUBJECTS = {"S1": {"usubjid": "S1", "arm": "A", "start": dt.date(2024, 1, 1)},
            "S2": {"usubjid": "S2", "arm": "A", "start": None}}


def _doc(i, usubjid, responses, visit=None, ady=None):
    return {"id": f"d{i}", "where": f"docs.jsonl:{i}", "usubjid": usubjid, "visit_date": visit, "study_day": ady, "responses": responses}


def test_days_from_visit_date_study_day_and_text():
    docs = [
        _doc(1, "S1", [R("stated", "SD")], visit=dt.date(2024, 2, 26)),  # 56 days after the start
        _doc(2, "S1", [R("stated", "PR")], ady=85),  # CDISC day 85 = 84 days after the first dose
        _doc(3, "S1", [R("stated", "PR", timepoint="week 16", timepoint_days=112)]),
        _doc(4, "S1", [R("stated", "SD", timepoint="Week 8", timepoint_days=56),
                       R("stated", "PD", timepoint="Week 20", timepoint_days=140)], visit=dt.date(2024, 6, 1)),
    ]
    points, excluded = subject_timepoints(docs, SUBJECTS)
    assert excluded == []
    assert [(p.doc_id, p.day, p.response) for p in points] == [
        ("d1", 56, "SD"), ("d2", 84, "PR"), ("d3", 112, "PR"), ("d4", 56, "SD"), ("d4", 140, "PD")]


def test_records_that_cannot_be_used_are_excluded_with_reasons():
    docs = [_doc(1, "S9", [R("stated", "PR")]), _doc(2, "S2", [R("stated", "PR")]),
            _doc(3, "S1", [R("stated", None, speculated=True)])]
    points, excluded = subject_timepoints(docs, SUBJECTS)
    assert points == []
    reasons = [e["reason"] for e in excluded]
    assert "not in the subject file" in reasons[0]
    assert "has no date" in reasons[1] and "start" in reasons[1]
    assert "no tumour response asserted" in reasons[2]


def test_bor_per_subject_and_same_day_conflicts():
    docs = [_doc(1, "S1", [R("stated", "PR")], visit=dt.date(2024, 2, 26)),
            _doc(2, "S1", [R("stated", "PD")], visit=dt.date(2024, 2, 26)),  # same day: PD wins
            _doc(3, "S1", [R("stated", "PR")], visit=dt.date(2024, 4, 1))]
    result = response_tables(docs, {"S1": SUBJECTS["S1"]})
    row = result["subjects"][0]
    assert (row["bor"], row["n_timepoints"]) == ("PD", 2)
    assert any("not used" in e for e in row["timepoints"][0]["evidence"])
    confirmed = response_tables([_doc(1, "S1", [R("stated", "PR")], visit=dt.date(2024, 2, 26)),
                                 _doc(2, "S1", [R("stated", "PR")], visit=dt.date(2024, 3, 25))], {"S1": SUBJECTS["S1"]})
    assert confirmed["subjects"][0]["bor"] == "PR" and confirmed["subjects"][0]["confirmed"] is True
    unconfirmed = response_tables([_doc(1, "S1", [R("stated", "PR")], visit=dt.date(2024, 2, 26))], {"S1": SUBJECTS["S1"]})
    assert unconfirmed["subjects"][0]["bor"] == "SD"
    assert response_tables([_doc(1, "S1", [R("stated", "PR")], visit=dt.date(2024, 2, 26))], {"S1": SUBJECTS["S1"]},
                           confirm=False)["subjects"][0]["bor"] == "PR"


# ------------------------------------------------------------------ inputs
# (the subject file itself is read by ct_safety_nlp.trial.inputs.read_response_subjects:
# tests/trial/test_inputs.py)
def test_response_inputs_from_the_trial_input_layer(tmp_path):
    p = tmp_path / "adsl.csv"
    p.write_text("USUBJID,TRT01A,TRTSDT,EFFFL\nS1,A,2024-01-01,Y\nS2,A,01/02/2024,Y\nS3,A,2024-01-01,N\n")
    (tmp_path / "docs.jsonl").write_text('{"id": "a", "meta": {"USUBJID": "S1", "visit_date": "2024-02-01"}, "responses": []}\n{oops\n')
    with pytest.raises(InputFileError, match=r"docs.jsonl:2: not valid JSON"):
        read_response_inputs(tmp_path, p)
    (tmp_path / "docs.jsonl").write_text(
        '{"id": "a", "meta": {"USUBJID": "S1", "ADY": "0"}, "responses": []}\n'
        '{"id": "b", "meta": {"usubjid": "S1"}}\n'
        '{"id": "c", "meta": {"usubjid": "S1", "visit_date": "2024-13-01x"}, "responses": []}\n'
        '{"id": "d", "meta": {"usubjid": "S1", "ady": "15"}, "responses": []}\n'
        '{"id": "e", "meta": {"SUBJID": "S1", "ADT": "2024-03-01"}, "responses": []}\n'
        '{"id": "f", "meta": {"visit_date": "2024-03-01"}, "responses": []}\n')
    (tmp_path / "errors.jsonl").write_text('{"id": "g", "error": "boom", "stage": "nlp"}\n')
    subjects, docs, excluded = read_response_inputs(tmp_path, p, "EFFFL")
    assert subjects == {"S1": {"usubjid": "S1", "arm": "A", "start": dt.date(2024, 1, 1), "start_column": "TRTSDT", "where": f"{p}:2"}}
    assert [(d["id"], d["usubjid"], d["visit_date"], d["study_day"], d["where"]) for d in docs] == [
        ("d", "S1", None, 15, f"{tmp_path / 'docs.jsonl'}:4"), ("e", "S1", dt.date(2024, 3, 1), None, f"{tmp_path / 'docs.jsonl'}:5")]
    reasons = {e["id"]: e["reason"] for e in excluded}
    assert [e["where"] for e in excluded] == [f"{p}:3", f"{p}:4"] + [f"{tmp_path / 'docs.jsonl'}:{i}" for i in (1, 2, 3, 6)] + [f"{tmp_path / 'errors.jsonl'}:1"]
    assert reasons["S3"] == "EFFFL is 'N', not Y: not in the population" and reasons["S2"].startswith("TRTSDT: '01/02/2024'")
    assert "no study day 0" in reasons["a"] and "ct_efficacy" in reasons["b"] and "ISO date" in reasons["c"] and "boom" in reasons["g"]
    assert reasons["f"] == "no subject (meta usubjid) for this document"
    with pytest.raises(InputFileError, match="annotation folder does not exist"):
        read_response_inputs(tmp_path / "nope", p)
