"""ct_reasoner's AE course fields (reasoner/events.add_course): relatedness,
action_taken (AEACN), outcome (AEOUT) with evidence; a value stated at another
mention of the same term is shared, a document-wide statement gives way to it."""

from pathlib import Path

import pytest
import spacy
from spacy import registry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nlp(ctcae_xlsx_path):
    import ct_safety_nlp.kb  # noqa: F401

    nlp = spacy.blank("en")
    nlp.add_pipe("ct_reasoner")
    nlp.get_pipe("ct_reasoner").initialize(
        lambda: [], nlp=nlp,
        kb=registry.misc.get("ct.read_ctcae.v1")(str(ctcae_xlsx_path)),
        synonyms=registry.misc.get("ct.read_synonyms.v1")(str(REPO / "assets" / "ctcae_synonyms.json")),
    )
    return nlp


def _by_term(doc):
    out = {}
    for ae in doc._.ct_adverse_events:
        out.setdefault(ae["ctcae_term"], []).append(ae)
    return out


def test_same_term_shares_its_stated_outcome(nlp):
    doc = nlp("Grade 2 nausea and grade 1 fatigue. Nausea resolved on day 5; fatigue ongoing.")
    aes = _by_term(doc)
    first_nausea, second_nausea = aes["Nausea"]
    assert second_nausea["outcome"] == "RECOVERED/RESOLVED" and second_nausea["course_evidence"]["outcome"]["where"] == "clause"
    assert first_nausea["outcome"] == "RECOVERED/RESOLVED" and first_nausea["course_evidence"]["outcome"]["where"] == "same term"
    assert [a["outcome"] for a in aes["Fatigue"]] == ["NOT RECOVERED/NOT RESOLVED"] * 2
    ev = first_nausea["course_evidence"]["outcome"]
    assert doc.text[ev["start_char"] : ev["end_char"]] == ev["text"] == "resolved"


def test_negated_mentions_get_no_course(nlp):
    doc = nlp("No nausea. Grade 2 fatigue, related to olaparib; olaparib held.")
    aes = _by_term(doc)
    (nausea,) = aes["Nausea"]
    assert nausea["negated"] and (nausea["relatedness"], nausea["action_taken"], nausea["outcome"]) == (None, None, None)
    (fatigue,) = aes["Fatigue"]
    assert (fatigue["relatedness"], fatigue["action_taken"]) == ("related", "DRUG INTERRUPTED")


def test_course_rules_are_saved_with_the_pipeline(nlp, tmp_path):
    nlp.to_disk(tmp_path / "p")
    assert (tmp_path / "p" / "ct_reasoner" / "course_rules.json").exists()
    back = spacy.load(tmp_path / "p")
    text = "Grade 2 fatigue, possibly related to olaparib."
    assert [a["relatedness"] for a in back(text)._.ct_adverse_events] == ["possibly related"]
