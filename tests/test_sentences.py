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


# ct.sentence_groups.v1: whole sentences packed into transformer spans

def _sentences_doc(lengths):
    """A Doc of sentences of the given token counts (each ends in '.', which is one token)."""
    from spacy.tokens import Doc

    words, starts = [], []
    for n in lengths:
        starts.extend([True] + [False] * (n - 1))
        words.extend([f"w{len(words) + i}" for i in range(n - 1)] + ["."])
    return Doc(spacy.blank("en").vocab, words=words, sent_starts=starts)


def _groups(lengths, min_tokens, window=128, stride=96):
    from ct_safety_nlp.sentences import configure_sentence_groups

    doc = _sentences_doc(lengths)
    return [(s.start, s.end) for s in configure_sentence_groups(min_tokens, window, stride)([doc])[0]]


@pytest.mark.parametrize(
    "lengths,min_tokens,window,stride,expected",
    [
        # a group closes once it holds min_tokens: both sides of the boundary
        ([5, 5, 12], 10, 128, 96, [(0, 10), (10, 22)]),  # 10 >= 10 closes
        ([5, 4, 12], 10, 128, 96, [(0, 21)]),  # 9 < 10 stays open
        # a group closes before a sentence that would take it past window: both sides
        ([6, 4, 20], 64, 10, 5, [(0, 10), (10, 20), (15, 25), (20, 30)]),  # 6 + 4 = 10 fits
        ([6, 5, 20], 64, 10, 5, [(0, 6), (6, 11), (11, 21), (16, 26), (21, 31)]),  # 6 + 5 = 11 does not
        # min_tokens 1: one span a sentence (sent_spans)
        ([3, 2, 4], 1, 128, 96, [(0, 3), (3, 5), (5, 9)]),
        # a short run at the end joins the group before it only when both fit in window
        ([8, 2], 8, 128, 96, [(0, 10)]),
        ([8, 2], 8, 10, 5, [(0, 10)]),
        ([8, 2], 8, 9, 5, [(0, 8), (8, 10)]),
        # a sentence longer than window: strided windows inside it, the last one ends at its end
        ([16], 64, 16, 8, [(0, 16)]),
        ([17], 64, 16, 8, [(0, 16), (8, 17)]),
        ([30], 64, 16, 8, [(0, 16), (8, 24), (16, 30)]),
        ([30], 64, 16, 16, [(0, 16), (16, 30)]),
    ],
)
def test_sentence_groups(lengths, min_tokens, window, stride, expected):
    assert _groups(lengths, min_tokens, window, stride) == expected


@pytest.mark.parametrize("lengths", [[1], [3, 1, 1, 40, 2, 90, 7], [130, 1, 60, 70, 5], [22] * 50])
@pytest.mark.parametrize("min_tokens", [1, 8, 64, 128])
def test_sentence_groups_cover_every_token_in_order_within_window(lengths, min_tokens):
    spans = _groups(lengths, min_tokens)
    assert all(e - s <= 128 for s, e in spans)
    assert spans[0][0] == 0 and spans[-1][1] == sum(lengths)
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert s1 < s2 <= e1  # no gap; an overlap only inside a sentence longer than window
    if max(lengths) <= 128:
        assert sum(e - s for s, e in spans) == sum(lengths)  # every token read once
        sentence_ends = {sum(lengths[: i + 1]) for i in range(len(lengths))}
        assert all(e in sentence_ends for _, e in spans)  # no span cuts a sentence


def test_sentence_groups_on_text_read_a_fragment_with_its_neighbours():
    from ct_safety_nlp.sentences import configure_sentence_groups

    nlp = spacy.blank("en")
    nlp.add_pipe("ct_sentences")
    doc = nlp("Both possibly related to cisplatin; no change to cisplatin dose. Resolving.")
    assert [s.text for s in doc.sents][-1] == "Resolving."
    assert [s.text for s in configure_sentence_groups(8)([doc])[0]] == [doc.text]
    assert configure_sentence_groups()([nlp("")]) == [[]]


def test_sentence_groups_need_sentence_boundaries_and_check_their_settings():
    from ct_safety_nlp.sentences import configure_sentence_groups

    with pytest.raises(ValueError, match="no sentence boundaries.*ct_sentences"):
        configure_sentence_groups()([spacy.blank("en")("Rash. Fever.")])
    for bad, match in (({"min_tokens": 0}, "min_tokens"), ({"window": 1.5}, "window"), ({"stride": True}, "stride"),
                       ({"window": 16, "stride": 17}, "must not exceed window")):
        with pytest.raises(ValueError, match=match):
            configure_sentence_groups(**bad)


def test_sentence_groups_is_registered_and_pickles():
    from spacy_transformers.util import registry

    getter = registry.span_getters.get("ct.sentence_groups.v1")(min_tokens=64, window=128, stride=96)
    doc = _sentences_doc([70, 70])
    assert [(s.start, s.end) for s in pickle.loads(pickle.dumps(getter))([doc])[0]] == [(0, 70), (70, 140)]


@pytest.mark.parametrize(
    "name,getter,needs_sentences",
    [
        ("sentence-groups", {"@span_getters": "ct.sentence_groups.v1", "min_tokens": 64, "window": 128, "stride": 96}, True),
        ("sentence-groups-8", {"@span_getters": "ct.sentence_groups.v1", "min_tokens": 8, "window": 128, "stride": 96}, True),
        ("sentences", {"@span_getters": "spacy-transformers.sent_spans.v1"}, True),
        ("strided", {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96}, False),
        ("strided-64-64", {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 64, "stride": 64}, False),
        ("strided-64-1", {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 64, "stride": 1}, False),
    ],
)
def test_transformer_spans_by_name(name, getter, needs_sentences):
    from ct_safety_nlp.sentences import transformer_spans

    assert transformer_spans(name) == (getter, needs_sentences)


@pytest.mark.parametrize("name", ["windows", "sentence-groups-0", "sentence-groups-x", "sentence-groups-8-9",
                                  "strided-64-65", "strided-64-0", "strided-64", "sentence"])
def test_transformer_spans_names_an_unknown_name(name):
    from ct_safety_nlp.sentences import transformer_spans

    with pytest.raises(ValueError, match=f"unknown transformer span getter '{name}'"):
        transformer_spans(name)

