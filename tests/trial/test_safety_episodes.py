"""Episode merging rules (ct_safety_nlp.trial.safety.episodes), one test per
rule, on hand-made AE dicts (the docs.jsonl contract), no pipeline needed."""

from datetime import date

import pytest

from ct_safety_nlp.trial.inputs import Document, Subject, TrialInputs
from ct_safety_nlp.trial.safety.episodes import build_episodes, load_cues

SUBJ = {"S1": Subject("S1", "A", True, date(2024, 1, 10), date(2024, 3, 1), None, "adsl.csv:2")}


def ae(text, doc_text, term, grade=None, **kw):
    start = doc_text.index(text)
    d = {
        "text": text, "start_char": start, "end_char": start + len(text), "ctcae_term": term, "meddra_code": None,
        "soc": kw.pop("soc", "Gastrointestinal disorders"), "grade": grade, "grade_basis": "explicit" if grade else None,
        "negated": False, "speculated": False, "historical": False, "serious": False, "seriousness_criteria": [],
        "drugs": [], "dlt": None, "action": None, "evidence": [],
    }
    d.update(kw)
    return d


def doc(i, when, text, aes):
    return Document(id=f"d{i}", line=i, source=None, text=text, adverse_events=aes, meta=None, usubjid="S1", visit_date=when)


def run(docs, **kw):
    return build_episodes(TrialInputs(docs, SUBJ, None, []), **kw)


def test_negated_and_historical_never_open_an_episode():
    t1 = "No nausea. History of vomiting."
    eps, mentions, excluded = run([doc(1, date(2024, 1, 15), t1, [ae("nausea", t1, "Nausea", negated=True), ae("vomiting", t1, "Vomiting", historical=True)])])
    assert eps == [] and excluded == []
    assert [m.disposition for m in mentions] == ["negated", "historical (medical history, not an AE)"]


def test_mention_without_a_term_is_excluded_not_dropped():
    t = "Grade 2 weird feeling."
    eps, mentions, excluded = run([doc(1, date(2024, 1, 15), t, [ae("weird feeling", t, None, 2)])])
    assert eps == [] and mentions[0].disposition == "no CTCAE term"
    assert excluded[0].kind == "mention" and "has no CTCAE term" in excluded[0].reason


def test_mentions_across_visits_merge_at_worst_grade_until_resolved():
    t1, t2, t3, t4 = "Grade 1 nausea.", "Grade 3 nausea.", "Nausea resolved.", "Grade 1 nausea again."
    docs = [
        doc(1, date(2024, 1, 15), t1, [ae("nausea", t1, "Nausea", 1)]),
        doc(2, date(2024, 1, 22), t2, [ae("nausea", t2, "Nausea", 3)]),
        doc(3, date(2024, 1, 29), t3, [ae("Nausea", t3, "Nausea")]),
        doc(4, date(2024, 2, 5), t4, [ae("nausea", t4, "Nausea", 1)]),
    ]
    eps, _, _ = run(docs)
    assert [(e.episode_id, e.onset, e.end, e.worst_grade, e.outcome, len(e.mentions)) for e in eps] == [
        ("S1/Nausea/1", date(2024, 1, 15), date(2024, 1, 29), 3, "RECOVERED/RESOLVED", 3),
        ("S1/Nausea/2", date(2024, 2, 5), None, 1, None, 1),
    ]
    assert eps[0].onset_day == 6 and eps[0].end_day == 20


def test_visit_order_not_file_order():
    t = "Grade 2 nausea."
    docs = [doc(1, date(2024, 2, 1), t, [ae("nausea", t, "Nausea", 2)]), doc(2, date(2024, 1, 20), "Grade 1 nausea.", [ae("nausea", "Grade 1 nausea.", "Nausea", 1)])]
    eps, _, _ = run(docs)
    assert len(eps) == 1 and eps[0].onset == date(2024, 1, 20) and [m.doc_id for m in eps[0].mentions] == ["d2", "d1"]


def test_no_gap_rule_a_silent_visit_does_not_split():
    a, b = "Grade 1 rash.", "Feels well."
    docs = [doc(1, date(2024, 1, 15), a, [ae("rash", a, "Rash maculo-papular", 1)]), doc(2, date(2024, 2, 15), b, []),
            doc(3, date(2024, 3, 15), a, [ae("rash", a, "Rash maculo-papular", 1)])]
    eps, _, _ = run(docs)
    assert len(eps) == 1 and len(eps[0].mentions) == 2


def test_fatal_closes_and_sets_outcome():
    t = "Patient died of sepsis."
    eps, _, _ = run([doc(1, date(2024, 2, 1), t, [ae("sepsis", t, "Sepsis", 5, seriousness_criteria=["death"], serious=True)])])
    (e,) = eps
    assert (e.outcome, e.fatal, e.end, e.serious) == ("FATAL", True, date(2024, 2, 1), True)


def test_serious_drugs_related_and_criteria_are_unions():
    t1, t2 = "Grade 2 diarrhea after paclitaxel.", "Grade 3 diarrhea requiring hospitalization."
    docs = [
        doc(1, date(2024, 1, 15), t1, [ae("diarrhea", t1, "Diarrhea", 2, drugs=["paclitaxel"])]),
        doc(2, date(2024, 1, 22), t2, [ae("diarrhea", t2, "Diarrhea", 3, serious=True, seriousness_criteria=["hospitalization"])]),
    ]
    (e,), _, _ = run(docs)
    assert (e.worst_grade, e.serious, e.seriousness_criteria, e.drugs, e.related) == (3, True, ["hospitalization"], ["paclitaxel"], True)


def test_relatedness_key_from_other_issues_counts():
    t = "Grade 1 rash, possibly related."
    (e,), _, _ = run([doc(1, date(2024, 1, 15), t, [ae("rash", t, "Rash maculo-papular", 1, relatedness="possibly related")])])
    assert e.related is True


@pytest.mark.parametrize(
    "fields,related",
    [
        ({"drugs": ["paclitaxel"]}, True),  # an older record: a linked drug
        ({"drugs": ["paclitaxel"], "drug_basis": "sentence"}, True),
        ({"drugs": ["paclitaxel"], "drug_basis": "later sentence"}, True),
        ({"drugs": ["paclitaxel"], "drug_basis": "document"}, False),  # the stated treatment: a suspect, not an attribution
        ({"drugs": ["paclitaxel"], "drug_basis": "document", "relatedness": "related"}, True),
        ({"drugs": ["paclitaxel"], "drug_basis": "sentence", "relatedness": "not related"}, False),
        ({"drugs": ["paclitaxel"], "relatedness": "unlikely related"}, False),
        ({"drugs": [], "relatedness": None}, False),
    ],
)
def test_related_from_relatedness_then_the_drug_link(fields, related):
    t = "Grade 1 rash."
    (e,), _, _ = run([doc(1, date(2024, 1, 15), t, [ae("rash", t, "Rash maculo-papular", 1, **fields)])])
    assert e.related is related


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Grade 3 neutropenia; the dose was held.", "DRUG INTERRUPTED"),
        ("Grade 3 neutropenia. Paclitaxel was reduced to 135 mg/m2.", "DOSE REDUCED"),  # cue in the next sentence
        ("Grade 4 neutropenia; paclitaxel was discontinued.", "DRUG WITHDRAWN"),
        ("Grade 2 neutropenia. Dose not changed.", "DOSE NOT CHANGED"),
        ("Grade 2 neutropenia. No dose reduction was needed.", "DOSE NOT CHANGED"),  # negated reduction
        ("Grade 2 neutropenia.", None),
    ],
)
def test_action_taken_cues(text, expected):
    (e,), _, _ = run([doc(1, date(2024, 1, 15), text, [ae("neutropenia", text, "Neutrophil count decreased", 3)])])
    assert e.action_taken == expected


def test_most_far_reaching_action_wins():
    t1, t2 = "Grade 3 neutropenia; the dose was held.", "Grade 4 neutropenia; paclitaxel was discontinued."
    docs = [doc(1, date(2024, 1, 15), t1, [ae("neutropenia", t1, "Neutrophil count decreased", 3)]),
            doc(2, date(2024, 1, 22), t2, [ae("neutropenia", t2, "Neutrophil count decreased", 4)])]
    (e,), _, _ = run(docs)
    assert e.action_taken == "DRUG WITHDRAWN"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Nausea resolved.", "RECOVERED/RESOLVED"),
        ("Nausea has not resolved.", "NOT RECOVERED/NOT RESOLVED"),
        ("Nausea persists.", "NOT RECOVERED/NOT RESOLVED"),
        ("Nausea improving.", "RECOVERING/RESOLVING"),
        ("Nausea resolved with sequelae.", "RECOVERED/RESOLVED WITH SEQUELAE"),
        ("Nausea.", None),
    ],
)
def test_outcome_cues(text, expected):
    (e,), _, _ = run([doc(1, date(2024, 1, 15), text, [ae("Nausea", text, "Nausea", 1)])])
    assert e.outcome == expected


def test_outcome_is_per_clause():
    t = "Nausea resolved but fatigue persists."
    eps, _, _ = run([doc(1, date(2024, 1, 15), t, [ae("Nausea", t, "Nausea", 1), ae("fatigue", t, "Fatigue", 1, soc="General")])])
    assert {e.term: e.outcome for e in eps} == {"Nausea": "RECOVERED/RESOLVED", "Fatigue": "NOT RECOVERED/NOT RESOLVED"}


@pytest.mark.parametrize(
    "pre_grade,on_grade,expected",
    [(1, 3, "Y"), (2, 2, None), (3, 2, None), (None, 2, "Y")],  # worsened / same / improved / baseline ungraded (admiral: Y)
)
def test_pre_existing_event_counts_only_if_it_worsens(pre_grade, on_grade, expected):
    t1, t2 = "Neuropathy at baseline.", "Neuropathy now."
    docs = [doc(1, date(2024, 1, 5), t1, [ae("Neuropathy", t1, "Peripheral sensory neuropathy", pre_grade)]),
            doc(2, date(2024, 1, 20), t2, [ae("Neuropathy", t2, "Peripheral sensory neuropathy", on_grade)])]
    (e,), _, _ = run(docs)
    assert (e.initial_grade, e.teae) == (pre_grade, expected)


@pytest.mark.parametrize("days_after_last_dose,expected", [(30, "Y"), (31, None)])
def test_end_window_both_sides(days_after_last_dose, expected):
    from datetime import timedelta

    t = "Grade 1 rash."
    when = date(2024, 3, 1) + timedelta(days=days_after_last_dose)
    (e,), _, _ = run([doc(1, when, t, [ae("rash", t, "Rash maculo-papular", 1)])], end_window=30)
    assert e.teae == expected


def test_undated_document_joins_and_admiral_flags_it():
    t = "Grade 2 nausea."
    (e,), _, _ = run([doc(1, None, t, [ae("nausea", t, "Nausea", 2)])])
    assert e.onset is None and e.teae == "Y"


def test_speculated_only_episode_is_marked():
    t = "Possible pneumonitis, grade 2."
    (e,), _, _ = run([doc(1, date(2024, 1, 20), t, [ae("pneumonitis", t, "Pneumonitis", 2, speculated=True)])])
    assert e.speculated is True and e.teae == "Y"


def test_protocol_gives_dlt_and_recommended_action_at_worst_grade():
    protocol = {"name": "p", "dlt": [{"id": "g4", "when": {"min_grade": 4}}], "dose_modifications": [{"id": "g3", "when": {"min_grade": 3}, "action": "hold"}]}
    t1, t2 = "Grade 2 nausea.", "Grade 4 nausea."
    docs = [doc(1, date(2024, 1, 15), t1, [ae("nausea", t1, "Nausea", 2)]), doc(2, date(2024, 1, 22), t2, [ae("nausea", t2, "Nausea", 4)])]
    (e,), _, _ = run(docs, protocol=protocol)
    assert (e.dlt, e.protocol_action) == (True, "hold")


def test_shipped_cues_load_and_say_their_source():
    cues = load_cues()
    assert "CDISC" in cues.source and cues.action_rank["DRUG WITHDRAWN"] == 0
