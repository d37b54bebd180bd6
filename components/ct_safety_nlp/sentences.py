"""``ct_sentences``: sentence boundaries from the library's rule-based splitter
(:meth:`ct_safety_nlp.text.TextRules.split_sentences`, the shipped
``text_rules``), set before the transformer, so that everything after it reads
the same ``doc.sents``: ``ct_reasoner``, and spancat's
``ct.span_candidates_suggester.v1`` with ``within_sentences`` (no candidate
across a sentence boundary).

The transformer's spans can follow the same sentences:
``ct.sentence_groups.v1`` (:func:`get_sentence_groups`) packs whole
sentences, in order, into spans of at least ``min_tokens`` and at most
``window`` tokens, so a heading or a one-word fragment ("Resolving.") is read
with its neighbours, never alone, and no window cuts a sentence; only a
sentence longer than ``window`` tokens is read in strided windows. Every
token is read once (twice only inside those long sentences), so a page costs
per word what its sentences cost, where strided 128/96 windows read each
token 1.33 times. ``min_tokens = 1`` is ``spacy-transformers.sent_spans.v1``
with a length cap. Which getter ships, and why, is
measured (``spacy project run measure-long-documents``, README, Speed).
"""

from bisect import bisect_left
from functools import partial
from typing import Callable, Iterable, Iterator, List, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span

__all__ = [
    "SentenceSplitter",
    "configure_sentence_groups",
    "get_sentence_groups",
    "make_sentences",
    "set_sentence_starts",
    "transformer_spans",
]


def set_sentence_starts(doc: Doc, lines: bool = False) -> Doc:
    """Mark each token that begins a sentence of ``split_sentences(doc.text)``
    (the first token at or after the sentence's first character) and no other."""
    from .text import split_sentences

    import numpy
    from spacy.attrs import SENT_START

    if not len(doc):
        return doc
    text = doc.text
    offsets = [t.idx for t in doc]
    values = numpy.full((len(doc), 1), -1, dtype="int32")  # SENT_START: 1 begins a sentence, -1 does not
    values[0, 0] = 1
    for start, _ in split_sentences(text, lines=lines):
        i = bisect_left(offsets, start)
        if i < len(doc):
            values[i, 0] = 1
    # one array for the Doc: setting token.is_sent_start checks the whole Doc per token
    return doc.from_array([SENT_START], values.astype("uint64"))


class SentenceSplitter:
    """Sets ``token.is_sent_start`` with :func:`set_sentence_starts`."""

    def __init__(self, name: str = "ct_sentences", lines: bool = False):
        if not isinstance(lines, bool):
            raise ValueError(f"ct_sentences: lines must be true or false, got {lines!r}")
        self.name = name
        self.lines = lines

    def __call__(self, doc: Doc) -> Doc:
        return set_sentence_starts(doc, self.lines)

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        for doc in stream:
            yield self(doc)


@Language.factory("ct_sentences", assigns=["token.is_sent_start"], default_config={"lines": False})
def make_sentences(nlp: Language, name: str, lines: bool) -> SentenceSplitter:
    """Factory of ``ct_sentences``; ``lines``: also end a sentence at every line break."""
    return SentenceSplitter(name, lines)


#: the shipped span sizes, in spaCy tokens: a packed span's minimum, and the
#: window (also the packed span's maximum) and stride of the strided windows
MIN_TOKENS, WINDOW, STRIDE = 64, 128, 96


def _windows(doc: Doc, start: int, end: int, window: int, stride: int) -> List[Span]:
    """``doc[start:end]`` in windows of ``window`` tokens, ``stride`` apart (one
    span when it fits), the last one ending at ``end``."""
    if end - start <= window:
        return [doc[start:end]]
    spans = []
    while True:
        spans.append(doc[start : min(start + window, end)])
        if start + window >= end:
            return spans
        start += stride


def get_sentence_groups(docs: Iterable[Doc], min_tokens: int, window: int, stride: int) -> List[List[Span]]:
    """For each Doc, its sentences (``doc.sents``) packed into spans of whole
    sentences, in order: a group closes once it has ``min_tokens`` tokens, or
    before a sentence that would take it past ``window`` tokens; a run shorter
    than ``min_tokens`` left at the end of the Doc joins the group before it
    when both fit in ``window``. A sentence longer than ``window`` tokens is read
    in windows of ``window`` tokens, ``stride`` apart. The spans cover every
    token, each once outside those long sentences."""
    spans: List[List[Span]] = []
    for doc in docs:
        if len(doc) and not doc.has_annotation("SENT_START"):
            raise ValueError(
                "ct.sentence_groups.v1: the Doc has no sentence boundaries "
                f"({doc.text[:40]!r}...): put ct_sentences (or another sentence splitter) before the transformer"
            )
        bounds: List[List[int]] = []  # [start, end) of each group
        start = end = 0
        for sent in doc.sents if len(doc) else ():
            if end > start and sent.end - start > window:
                bounds.append([start, end])
                start = end
            end = sent.end
            if end - start >= min_tokens:
                bounds.append([start, end])
                start = end
        if end > start:
            if bounds and end - bounds[-1][0] <= window:
                bounds[-1][1] = end
            else:
                bounds.append([start, end])
        spans.append([w for s, e in bounds for w in _windows(doc, s, e, window, stride)])
    return spans


def configure_sentence_groups(min_tokens: int = MIN_TOKENS, window: int = WINDOW, stride: int = STRIDE) -> Callable[[Iterable[Doc]], List[List[Span]]]:
    """``ct.sentence_groups.v1``: the span getter :func:`get_sentence_groups`
    (``@span_getters``; needs sentence boundaries before the transformer)."""
    for name, value in (("min_tokens", min_tokens), ("window", window), ("stride", stride)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"ct.sentence_groups.v1: {name} must be a whole number >= 1, got {value!r}")
    if stride > window:
        raise ValueError(f"ct.sentence_groups.v1: stride ({stride}) must not exceed window ({window}): tokens would be skipped")
    return partial(get_sentence_groups, min_tokens=min_tokens, window=window, stride=stride)


def transformer_spans(name: str) -> Tuple[dict, bool]:
    """The ``[components.transformer.model.get_spans]`` config of a named
    span getter, and whether it reads ``doc.sents``: ``sentence-groups`` (the
    shipped one: whole sentences packed into 64 to 128 tokens),
    ``sentence-groups-N`` (N to 128 tokens), ``sentences`` (one span each,
    ``spacy-transformers.sent_spans.v1``), ``strided`` (the training config's
    windows of 128 tokens, stride 96) or ``strided-W-S`` (window W, stride S).
    Returns ``(config, needs_sentences)``; a ValueError names a name it does not know."""
    parts = name.split("-")
    try:
        if name == "sentences":
            return {"@span_getters": "spacy-transformers.sent_spans.v1"}, True
        if parts[:2] == ["sentence", "groups"] and len(parts) <= 3:
            min_tokens = int(parts[2]) if len(parts) == 3 else MIN_TOKENS
            configure_sentence_groups(min_tokens)  # checks the number
            return {"@span_getters": "ct.sentence_groups.v1", "min_tokens": min_tokens, "window": WINDOW, "stride": STRIDE}, True
        if parts[0] == "strided" and len(parts) in (1, 3):
            window, stride = (int(parts[1]), int(parts[2])) if len(parts) == 3 else (WINDOW, STRIDE)
            if not 1 <= stride <= window:
                raise ValueError(name)
            return {"@span_getters": "spacy-transformers.strided_spans.v1", "window": window, "stride": stride}, False
    except ValueError:
        pass
    raise ValueError(
        f"unknown transformer span getter {name!r}: give sentence-groups, sentence-groups-N, sentences, "
        "strided or strided-W-S (W >= S >= 1)"
    )
