"""PhraseIndex.find: longest phrase first, no overlaps, whole words joined by
the allowed gaps; a word that starts no phrase is passed over (first_words),
also when another index given in ``others`` has longer phrases."""

import pytest

from ct_safety_nlp.kb.matcher import PhraseIndex
from ct_safety_nlp.text import ascii_lower

TERMS = ["febrile neutropenia", "neutropenia", "nausea", "acute kidney injury", "kidney injury"]


def _found(index, text, others=()):
    return [(text[h.start_char : h.end_char], h.value) for h in index.find(text, others=others)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Febrile neutropenia and nausea.", [("Febrile neutropenia", "febrile neutropenia"), ("nausea", "nausea")]),
        ("grade 4 neutropenia", [("neutropenia", "neutropenia")]),  # a shorter phrase where the longer is absent
        ("febrile, neutropenia", [("neutropenia", "neutropenia")]),  # a comma is no gap
        ("acute-kidney injury", [("acute-kidney injury", "acute kidney injury")]),  # a hyphen is
        ("kidney", []),  # the first word of a phrase alone
        ("the patient was well", []),  # no word starts a phrase
        ("", []),
    ],
)
def test_find(text, expected):
    assert _found(PhraseIndex((t, t) for t in TERMS), text) == expected


def test_a_longer_phrase_of_another_index_is_found_from_a_word_this_one_starts_nothing_with():
    ours = PhraseIndex([("nausea", "nausea")])
    theirs = PhraseIndex([("acute kidney injury", "AKI")])
    assert _found(ours, "acute kidney injury and nausea", others=[theirs]) == [("acute kidney injury", "AKI"), ("nausea", "nausea")]


@pytest.mark.parametrize(
    "text, expected",
    [("Ménétrier", "menetrier"), ("NAUSEA", "nausea"), ("Œdème", "œdeme"), ("naïve", "naive"), ("", "")],
)
def test_ascii_lower(text, expected):
    assert ascii_lower(text) == expected
