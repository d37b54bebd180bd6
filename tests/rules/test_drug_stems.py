"""DrugVocabulary.is_drug: the INN-stem rule, both sides of its length bound,
and the per-word verdicts it keeps (they must be the same as computed afresh)."""

import pytest

from ct_safety_nlp import text as text_module
from ct_safety_nlp.text import DrugVocabulary

DATA = {"inn_stems": ["mab", "platin", "Nib"], "min_extra": 2, "not_drugs": ["nimab"], "words": ["aspirin"]}


@pytest.mark.parametrize(
    "word,expected",
    [
        ("aspirin", True),  # a listed word, whatever its length
        ("ASPIRIN", True),
        ("rituximab", True),  # stem + 6 letters
        ("abxmab", True),  # "mab" + 3 letters: > min_extra 2
        ("abmab", False),  # "mab" + 2 letters: not more than min_extra (and < 5 letters is checked first)
        ("xxplatin", False),  # "platin" + 2 letters
        ("xxxplatin", True),  # "platin" + 3 letters
        ("erlotinib", True),  # a stem written in capitals in the table still matches
        ("nimab", False),  # not_drugs
        ("mab", False),
        ("tablet", False),
    ],
)
def test_is_drug(word, expected):
    vocab = DrugVocabulary(DATA)
    assert vocab.is_drug(word) is expected
    assert vocab.is_drug(word) is expected  # the kept verdict is the same
    assert vocab._is_drug(word.lower()) is expected


def test_kept_verdicts_are_bounded(monkeypatch):
    monkeypatch.setattr(text_module, "_MAX_VERDICTS", 3)
    vocab = DrugVocabulary(DATA)
    for word in ("rituximab", "aspirin", "tablet", "cisplatin"):
        vocab.is_drug(word)
    assert len(vocab._verdicts) <= 3
    assert vocab.is_drug("rituximab") is True
