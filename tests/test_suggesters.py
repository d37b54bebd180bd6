"""ct.span_candidates_suggester.v1: caps span_finder candidates, falls back to n-grams."""

import pytest
import spacy
from spacy.util import registry


@pytest.fixture
def nlp():
    return spacy.blank("en")


def suggest(docs, **cfg):
    suggester = registry.misc.get("ct.span_candidates_suggester.v1")(**cfg)
    out = suggester(docs)
    return out.lengths.tolist(), [tuple(x) for x in out.dataXd.tolist()]


def test_uses_candidates_when_present(nlp):
    doc = nlp("severe neutropenia after high dose carboplatin")
    doc.spans["span_candidates"] = [doc[0:2], doc[3:6], doc[5:6]]
    lengths, spans = suggest([doc])
    assert lengths == [3]
    assert set(spans) == {(0, 2), (3, 6), (5, 6)}


@pytest.mark.parametrize("max_per_token,expected", [(1.0, 6), (0.5, 3), (10.0, 21)])
def test_caps_candidates_keeping_shortest(nlp, max_per_token, expected):
    doc = nlp("a b c d e f")  # 6 tokens, 21 possible spans
    doc.spans["span_candidates"] = [doc[i:j] for i in range(6) for j in range(i + 1, 7)]
    lengths, spans = suggest([doc], max_per_token=max_per_token)
    assert lengths == [expected]
    kept_lengths = sorted(e - s for s, e in spans)
    all_lengths = sorted(j - i for i in range(6) for j in range(i + 1, 7))
    assert kept_lengths == all_lengths[:expected]


def test_long_spans_survive_when_finder_is_selective(nlp):
    doc = nlp("one two three four five six seven eight nine ten eleven twelve")
    doc.spans["span_candidates"] = [doc[0:12], doc[2:3]]
    _, spans = suggest([doc])
    assert (0, 12) in spans


def test_falls_back_to_ngrams_without_candidates_key(nlp):
    docs = [nlp("a b c"), nlp("")]
    lengths, spans = suggest(docs, fallback_sizes=[1, 2])
    assert lengths == [5, 0]
    assert set(spans) == {(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)}


def test_empty_batch_and_no_candidates(nlp):
    doc = nlp("nothing here")
    doc.spans["span_candidates"] = []
    lengths, spans = suggest([doc])
    assert lengths == [0] and spans == []


def test_rejects_non_positive_cap():
    with pytest.raises(ValueError, match="max_per_token"):
        registry.misc.get("ct.span_candidates_suggester.v1")(max_per_token=0)


def _two_sentences(nlp):
    doc = nlp("Rash appeared. Fever followed")  # tokens: Rash appeared . | Fever followed
    doc.spans["span_candidates"] = [doc[0:2], doc[1:4], doc[2:3], doc[3:5], doc[0:5]]
    return doc


def test_within_sentences_drops_candidates_across_a_boundary(nlp):
    lengths, spans = suggest([_two_sentences(nlp)], within_sentences=True)
    assert spans == [(0, 2), (2, 3), (3, 5)] and lengths == [3]
    lengths, spans = suggest([_two_sentences(nlp)], within_sentences=False)
    assert sorted(spans) == [(0, 2), (0, 5), (1, 4), (2, 3), (3, 5)]


def test_within_sentences_applies_to_the_ngram_fallback(nlp):
    doc = nlp("Rash appeared. Fever followed")
    _, spans = suggest([doc], fallback_sizes=[2], within_sentences=True)
    assert spans == [(0, 2), (1, 3), (3, 5)]  # (2, 4) would join "." and "Fever"


@pytest.mark.parametrize("value", ["false", 1, None])
def test_within_sentences_must_be_a_bool(value):
    with pytest.raises(ValueError, match="within_sentences must be true or false"):
        registry.misc.get("ct.span_candidates_suggester.v1")(within_sentences=value)
