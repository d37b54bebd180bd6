"""The AE course rules (resources/ae_course.yml, ct_safety_nlp.course): action
taken (AEACN), outcome (AEOUT) and relatedness from the text, both sides of
each rule, and where the rules look (clause, sentence, following sentences)."""

import re

import pytest

from ct_safety_nlp.course import CourseRules, default_course_rules
from ct_safety_nlp.text import split_sentences


def assess(text, term):
    start = text.index(term)
    sentences = split_sentences(text)
    others = [s for s in (text.find(w) for w in ("neutropenia", "rash", "nausea")) if s >= 0 and s != start]
    return default_course_rules().assess(text, (start, start + len(term)), sentences, others)


# (text, AE word, attribute, expected value or None)
CASES = [
    ("Grade 3 neutropenia; cisplatin was held.", "neutropenia", "action_taken", "DRUG INTERRUPTED"),
    ("Grade 3 neutropenia; cisplatin was given.", "neutropenia", "action_taken", None),
    ("Grade 2 diarrhea, dose reduced to 75%.", "diarrhea", "action_taken", "DOSE REDUCED"),
    ("Grade 2 diarrhea, dose of 75% given.", "diarrhea", "action_taken", None),
    ("Grade 4 colitis; capecitabine discontinued.", "colitis", "action_taken", "DRUG WITHDRAWN"),
    ("Grade 1 rash, no dose modification.", "rash", "action_taken", "DOSE NOT CHANGED"),
    ("Grade 1 rash, dose modification planned.", "rash", "action_taken", None),
    ("Nausea resolved within 2 days.", "Nausea", "outcome", "RECOVERED/RESOLVED"),
    ("Nausea resolving on day 3.", "Nausea", "outcome", "RECOVERED/RESOLVED".replace("RECOVERED/RESOLVED", "RECOVERING/RESOLVING")),
    ("Nausea not yet resolved.", "Nausea", "outcome", "NOT RECOVERED/NOT RESOLVED"),
    ("Fatigue is ongoing.", "Fatigue", "outcome", "NOT RECOVERED/NOT RESOLVED"),
    ("Fatigue at visit 3.", "Fatigue", "outcome", None),
    ("Sepsis, fatal on day 9.", "Sepsis", "outcome", "FATAL"),
    ("Neuropathy resolved with sequelae.", "Neuropathy", "outcome", "RECOVERED/RESOLVED WITH SEQUELAE"),
    ("Diarrhea. Related to capecitabine.", "Diarrhea", "relatedness", "related"),
    ("Diarrhea possibly related to capecitabine.", "Diarrhea", "relatedness", "possibly related"),
    ("Diarrhea not related to capecitabine.", "Diarrhea", "relatedness", "not related"),
    ("Diarrhea, unrelated to study drug.", "Diarrhea", "relatedness", "not related"),
    ("Diarrhea, unlikely related to study drug.", "Diarrhea", "relatedness", "unlikely related"),
    ("Diarrhea after capecitabine.", "Diarrhea", "relatedness", None),
    ("Diarrhea likely 5-FU related.", "Diarrhea", "relatedness", "related"),
    ("Fatigue related to R-CHOP and unlikely related to zanubrutinib.", "Fatigue", "relatedness", "related"),
    ("Fatigue unlikely related to zanubrutinib, related to R-CHOP.", "Fatigue", "relatedness", "unlikely related"),
    ("Anemia G3; olaparib held, to restart at 250 mg.", "Anemia", "action_taken", "DRUG INTERRUPTED"),
    ("Anemia G3; olaparib not held.", "Anemia", "action_taken", None),
    ("Rash; interrupted, then resumed at the same dose.", "Rash", "action_taken", "DRUG INTERRUPTED"),
    ("Rash; no change to cisplatin dose.", "Rash", "action_taken", "DOSE NOT CHANGED"),
    ("Rash; no dose reduction.", "Rash", "action_taken", "DOSE NOT CHANGED"),
    ("Rash; one dose level reduction.", "Rash", "action_taken", "DOSE REDUCED"),
]


@pytest.mark.parametrize("text,term,attr,expected", CASES)
def test_course_rules(text, term, attr, expected):
    found = assess(text, term)[attr]
    assert (found["value"] if found else None) == expected
    if found:  # the evidence is the matched text at its offsets
        assert text[found["start_char"] : found["end_char"]] == found["text"]


def test_following_sentence_then_document_statements():
    text = "Grade 3 diarrhea, hospitalised 2 days, resolved with IV fluids. Related to capecitabine."
    found = assess(text, "diarrhea")["relatedness"]
    assert (found["value"], found["where"]) == ("related", "following")
    # the attribution sentence follows the rash; for the diarrhea it is a document-wide statement
    text = "Grade 3 diarrhea. Grade 2 rash. Related to capecitabine."
    assert assess(text, "rash")["relatedness"]["where"] == "following"
    assert assess(text, "diarrhea")["relatedness"]["where"] == "document"
    rules = CourseRules(dict(default_course_rules().to_dict(), document_statements=False))
    start = text.index("diarrhea")
    assert rules.assess(text, (start, start + 8), split_sentences(text), [text.index("rash")])["relatedness"] is None


def test_the_aes_own_words_are_not_a_cue():
    text = "Grade 2 infusion related reaction."
    assert assess(text, "infusion related reaction")["relatedness"] is None
    text = "Grade 2 infusion related reaction, related to rituximab."
    assert assess(text, "infusion related reaction")["relatedness"]["value"] == "related"


def test_max_following_is_the_limit():
    rules = default_course_rules()
    text = "Grade 3 diarrhea. Seen today. Labs drawn. Related to capecitabine."
    sentences = split_sentences(text)
    start = text.index("diarrhea")
    assert rules.max_following == 2
    assert rules.assess(text, (start, start + 8), sentences, [])["relatedness"]["where"] == "document"
    data = dict(rules.to_dict(), max_following=3)
    assert CourseRules(data).assess(text, (start, start + 8), sentences, [])["relatedness"]["where"] == "following"


def test_action_rank_and_source():
    rules = default_course_rules()
    assert rules.more_far_reaching("DOSE REDUCED", "DRUG WITHDRAWN") == "DRUG WITHDRAWN"
    assert rules.more_far_reaching(None, "DOSE REDUCED") == "DOSE REDUCED"
    assert "CDISC" in rules.source


@pytest.mark.parametrize(
    "text",
    [
        "Capecitabine was held and the diarrhea resolved; possibly related to the study drug.",
        "Dose reduced to 75%. Rash recovering. Not related.",
        "She was hospitalised; the event was ongoing at data cut-off.",
        "No change to the dose.",
        "Fatigue, grade 1.",
        "",
    ],
)
def test_one_search_per_attribute_first_gives_the_per_rule_answer(text):
    """CourseRules.first looks for any of an attribute's patterns once before its
    per-rule loop; the answer is the loop's, with the prefilter and without."""
    rules = default_course_rules()
    unfiltered = CourseRules(rules.to_dict())
    unfiltered.any_rule = {attr: re.compile("") for attr in unfiltered.any_rule}  # matches everywhere: never skips
    for attr in rules.rules:
        for skip in (None, (0, min(len(text), 10))):
            assert rules.first(attr, text, 0, len(text), skip) == unfiltered.first(attr, text, 0, len(text), skip)
