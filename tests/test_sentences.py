"""ct_sentences: sentence starts from the library's splitter."""

import pickle

import pytest
import spacy

from ct_safety_nlp.sentences import set_sentence_starts
from ct_safety_nlp.text import split_sentences


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Grade 3 nausea. No vomiting.", ["Grade 3 nausea.", "No vomiting."]),
        ("Dr. Smith saw grade 2 rash. Held drug.", ["Dr. Smith saw grade 2 rash.", "Held drug."]),  # an abbreviation does not end one
        ("one sentence without a period", ["one sentence without a period"]),
        ("Fever.\n\nChills.", ["Fever.", "Chills."]),
        ("", []),
    ],
)
def test_sentences_are_the_splitters(text, expected):
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_sentences")
    doc = nlp(text)
    assert [s.text.strip() for s in doc.sents] == expected
    assert [doc.text[a:b].strip() for a, b in split_sentences(text)] == expected


def test_every_token_is_marked_and_the_component_pickles():
    nlp = spacy.blank("en")
    doc = set_sentence_starts(nlp.make_doc("Rash. Fever. Chills."))
    assert [t.is_sent_start for t in doc] == [True, False, True, False, True, False]
    assert pickle.loads(pickle.dumps(nlp.add_pipe("ct_sentences", config={"lines": True}))).lines is True
    with pytest.raises(ValueError, match="lines"):
        spacy.blank("en").add_pipe("ct_sentences", config={"lines": "yes"})


def test_cost_per_token_does_not_grow_with_length():
    import time

    nlp = spacy.blank("en")
    short = [nlp.make_doc("Grade 2 nausea after cisplatin. No vomiting.") for _ in range(200)]
    long = nlp.make_doc(" ".join(d.text for d in short))
    start = time.perf_counter()
    for d in short:
        set_sentence_starts(d)
    per_token_short = (time.perf_counter() - start) / sum(len(d) for d in short)
    start = time.perf_counter()
    set_sentence_starts(long)
    per_token_long = (time.perf_counter() - start) / len(long)
    assert per_token_long < 3 * per_token_short  # was quadratic: token.is_sent_start checks the whole Doc
