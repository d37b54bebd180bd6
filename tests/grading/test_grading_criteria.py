"""Tests of ct_safety_nlp.grading.criteria (the grade texts' criteria) and of
their place in the reasoner's precedence; bands tested on both sides."""

import pytest
from spacy.util import registry

from ct_safety_nlp.grading import criteria_grade
from support.pipelines import reasoner_pipeline


@pytest.fixture(scope="module")
def kb_terms(ctcae_xlsx_path):
    import ct_safety_nlp.kb  # noqa: F401

    kb = registry.misc.get("ct.read_ctcae.v1")(str(ctcae_xlsx_path))
    return {t["term"]: t["grades"] for t in kb["terms"]}


@pytest.fixture(scope="module")
def nlp(ctcae_xlsx_path):
    return reasoner_pipeline(ctcae_xlsx_path, protocol=None)


@pytest.mark.parametrize(
    "text,term,grade",
    [
        ("fatigue relieved by rest", "Fatigue", 1),
        ("fatigue, better with rest", "Fatigue", 1),
        ("fatigue not relieved by rest", "Fatigue", 2),
        ("fatigue despite rest, needs help with dressing", "Fatigue", 3),
        ("needs help with cooking", "Peripheral sensory neuropathy", 2),
        ("has stopped typing at work", "Peripheral sensory neuropathy", 2),
        ("unable to dress herself", "Peripheral sensory neuropathy", 3),
        ("no functional limitation", "Peripheral sensory neuropathy", 1),
        ("eating her usual meals", "Anorexia", 1),
        ("oral intake decreased without significant weight loss", "Nausea", 2),
        ("unable to keep fluids down", "Nausea", 3),
        ("did not need treatment", "Vomiting", 1),
        ("eased by occasional senna", "Constipation", 1),
        ("used senna once", "Constipation", 1),
        ("needing daily Miralax", "Constipation", 2),
        ("asymptomatic", "Hypothyroidism", 1),
        # counted: % body surface area, bands <10 / 10-30 / >30 (both sides of each edge)
        ("covering 9% of body surface area", "Rash maculo-papular", 1),
        ("covering 10% BSA", "Rash maculo-papular", 2),
        ("covering about 30% of the body surface", "Rash maculo-papular", 2),
        ("covering 31% BSA", "Rash maculo-papular", 2),  # >30% is also grade 2 "with or without mild symptoms"; lowest wins
        ("papules covering 9% BSA", "Papulopustular rash", 1),
        ("papules covering 31% BSA", "Papulopustular rash", 2),
        # grade texts that spell the unit out ("Covering 10-30% of the body surface area")
        ("covering 9% BSA", "Folliculitis", 1),
        ("covering 10% BSA", "Folliculitis", 2),
        ("covering 30% BSA", "Folliculitis", 2),
        ("covering 31% BSA", "Folliculitis", 3),
        # counted: stools per day over baseline, bands <4 / 4-6 / >=7
        ("4 stools a day, normally once", "Diarrhea", 1),
        ("5 stools a day, normally once", "Diarrhea", 2),
        ("7 stools per day, usually one", "Diarrhea", 2),
        ("8 stools per day, usually one", "Diarrhea", 3),
        ("an increase of 3 stools", "Diarrhea", 1),
        ("an increase of 4 stools", "Diarrhea", 2),
        ("an increase of 6 stools", "Diarrhea", 2),
        ("an increase of 7 stools", "Diarrhea", 3),
    ],
)
def test_criterion_sets_the_lowest_grade_whose_text_states_it(kb_terms, text, term, grade):
    got = criteria_grade([text], term, kb_terms[term])
    assert got is not None and got[0] == grade
    assert f"CTCAE grade {grade} text of {term}" in got[1]


@pytest.mark.parametrize(
    "text,term",
    [
        # a count without a stated baseline is never graded
        ("8 stools per day", "Diarrhea"),
        # the term's grade texts do not state the criterion
        ("relieved by rest", "Nausea"),
        ("covering 20% BSA", "Diarrhea"),
        ("did not need treatment", "Fatigue"),
        # no criterion at all
        ("reported on day 3", "Fatigue"),
    ],
)
def test_no_criterion(kb_terms, text, term):
    assert criteria_grade([text], term, kb_terms[term]) is None


def test_the_highest_criterion_met_wins(kb_terms):
    got = criteria_grade(["relieved by rest", "has stopped working"], "Fatigue", kb_terms["Fatigue"])
    assert got[0] == 2


def _ae(nlp, text, term):
    return next(a for a in nlp(text)._.ct_adverse_events if a["ctcae_term"] == term)


@pytest.mark.parametrize(
    "text,term,grade,basis",
    [
        # criterion outranks a severity word
        ("Severe fatigue, relieved by rest.", "Fatigue", 1, "criterion"),
        # an explicit grade outranks a criterion
        ("Grade 2 fatigue, relieved by rest.", "Fatigue", 2, "explicit"),
        # the criterion may be in a clause after the AE's ("...; still working")
        ("Fatigue is worse; not relieved by rest.", "Fatigue", 2, "criterion"),
        # a negated AE in the criterion's clause does not take the clause away
        ("Nausea: oral intake decreased without significant weight loss.", "Nausea", 2, "criterion"),
        # nothing grades: none
        ("Fatigue since cycle 2.", "Fatigue", None, None),
    ],
)
def test_precedence_in_the_reasoner(nlp, text, term, grade, basis):
    ae = _ae(nlp, text, term)
    assert (ae["grade"], ae["grade_basis"]) == (grade, basis)


def test_an_ungraded_mention_takes_the_grade_of_another_mention_of_its_term(nlp):
    doc = nlp("Reports fatigue and constipation since C2.\nAssessment: remaining AEs all G1 (fatigue, constipation).\nNo nausea.")
    first = [a for a in doc._.ct_adverse_events if a["start_char"] < 40]
    assert {a["ctcae_term"]: (a["grade"], a["grade_basis"]) for a in first} == {"Fatigue": (1, "document"), "Constipation": (1, "document")}
    assert any("from another mention of Fatigue" in line for line in first[0]["evidence"])


def test_other_mention_grade_is_the_highest_and_skips_negated_and_history(nlp):
    doc = nlp("Nausea on day 1. Grade 1 nausea on day 3. Grade 3 nausea on day 8.")
    assert _ae(nlp, "Nausea on day 1. Grade 1 nausea on day 3. Grade 3 nausea on day 8.", "Nausea")["grade"] == 3
    doc = nlp("Fatigue on day 1. No grade 3 fatigue. History of grade 2 fatigue.")
    assert doc._.ct_adverse_events[0]["grade"] is None


@pytest.mark.parametrize(
    "text, term",
    [
        ("relieved by rest", "Fatigue"),
        ("limiting self care ADL", "Fatigue"),
        ("IV fluids given", "Dehydration"),
        ("needing daily Miralax", "Constipation"),
        ("covering 31% BSA", "Folliculitis"),
        ("8 stools per day, usually one", "Diarrhea"),
        ("oral intake decreased without significant weight loss", "Nausea"),
        ("she felt fine otherwise", "Nausea"),
        ("", "Fatigue"),
    ],
)
def test_the_one_cue_search_gives_the_per_criterion_answer(kb_terms, text, term):
    """criteria_grade skips a segment no intervention or criterion cue matches
    (GradingRules.any_cue, one search); the answer is the per-criterion loop's."""
    import re

    from ct_safety_nlp.grading import GradingRules, default_grading_rules

    unfiltered = GradingRules(default_grading_rules().to_dict())
    unfiltered.any_cue = re.compile("")  # matches every segment: never skips
    assert criteria_grade([text], term, kb_terms[term]) == criteria_grade([text], term, kb_terms[term], unfiltered)
