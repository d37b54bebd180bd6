"""``ct_sentences``: sentence boundaries from the library's rule-based splitter
(:meth:`ct_safety_nlp.text.TextRules.split_sentences`, the shipped
``text_rules``), set before the transformer, so that everything after it reads
the same ``doc.sents``: ``ct_reasoner``, and spancat's
``ct.span_candidates_suggester.v1`` with ``within_sentences`` (no candidate
across a sentence boundary).

A pipeline can also read each sentence as its own transformer span
(``spacy-transformers.sent_spans.v1``; ``scripts/set_inference_precision.py
--transformer-spans sentences``). The shipped one keeps strided 128-token
windows: the model, trained on single PHEE sentences, keeps its accuracy on
pages of joined case-report sentences only with sentence spans, but on trial
documents (visit notes, CRF comments, lists) it then tags headings and
fragments as effects (``spacy project run measure-long-documents``, and the
README's Speed section).
"""

from bisect import bisect_left
from typing import Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["SentenceSplitter", "make_sentences", "set_sentence_starts"]


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
