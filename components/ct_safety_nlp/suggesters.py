"""Span suggesters for the span categorizer.

``ct.span_candidates_suggester.v1`` reads the candidates that ``span_finder``
wrote to ``doc.spans[candidates_key]`` and caps their number per document.

Why a cap: the span finder marks a token as a span start/end when its score
passes a threshold and suggests every start-end pair up to ``max_length``. Early
in training (and on text far from the training data) almost every token passes,
which would hand spancat up to ``max_length`` x n candidates per doc, with a
loss (summed over candidates) that swamps the other components'. The cap keeps the shortest
``max_per_token`` x n candidates (long TREATMENT / SUBJECT spans survive as soon
as the finder is trained: then it proposes only a few dozen per sentence).

When a doc has no candidates key at all (span_finder absent or disabled), it
falls back to n-grams of ``fallback_sizes`` so spancat still works.

``within_sentences`` (default false; the shipped pipeline sets it, see
``scripts/set_inference_precision.py``): a candidate that crosses a sentence
boundary (the library's sentence splitter, :func:`ct_safety_nlp.text.split_sentences`)
is dropped. The finder pairs any start with any end up to its ``max_length``;
in a document of many sentences that pairs the end of one with the start of
the next: twice the candidates per word, twice as long, on PHEE abstracts
joined into pages (``spacy project run bench``), none of them an entity of the
single-sentence training data.
"""

from typing import List, Optional

from thinc.api import Ops, get_current_ops
from thinc.types import Ragged


def suggest_span_candidates(
    docs,
    *,
    candidates_key: str,
    max_per_token: float,
    fallback_sizes: List[int],
    within_sentences: bool = False,
    ops: Optional[Ops] = None,
) -> Ragged:
    if ops is None:
        ops = get_current_ops()
    spans: List[List[int]] = []
    lengths: List[int] = []
    for doc in docs:
        if candidates_key in doc.spans:
            offsets = sorted({(s.start, s.end) for s in doc.spans[candidates_key]}, key=lambda se: (se[1] - se[0], se[0]))
            cap = max(1, int(max_per_token * len(doc)))
            offsets = sorted(offsets[:cap])
        else:
            offsets = [(i, i + size) for size in fallback_sizes for i in range(len(doc) - size + 1)]
        if within_sentences and offsets:
            sentence_of = _token_sentences(doc)
            offsets = [(a, b) for a, b in offsets if sentence_of[a] == sentence_of[b - 1]]
        spans.extend([start, end] for start, end in offsets)
        lengths.append(len(offsets))
    lengths_array = ops.asarray1i(lengths)
    if spans:
        return Ragged(ops.asarray2i(spans), lengths_array)
    return Ragged(ops.xp.zeros((0, 0), dtype="i"), lengths_array)


def _token_sentences(doc) -> List[int]:
    """The index of each token's sentence (:func:`ct_safety_nlp.text.split_sentences`;
    a token outside every sentence, i.e. whitespace between them, gets the next one)."""
    import bisect

    from .text import split_sentences

    ends = [end for _, end in split_sentences(doc.text)]
    return [bisect.bisect_right(ends, token.idx) for token in doc]


def build_span_candidates_suggester(
    candidates_key: str = "span_candidates",
    max_per_token: float = 4.0,
    fallback_sizes: List[int] = [1, 2, 3],
    within_sentences: bool = False,
):
    """Registered as ``ct.span_candidates_suggester.v1`` (entry point ``spacy_misc``)."""
    from functools import partial

    if not isinstance(within_sentences, bool):
        raise ValueError(f"ct.span_candidates_suggester.v1: within_sentences must be true or false, got {within_sentences!r}")
    if max_per_token <= 0:
        raise ValueError(f"ct.span_candidates_suggester.v1: max_per_token must be > 0, got {max_per_token}")
    return partial(
        suggest_span_candidates,
        candidates_key=candidates_key,
        max_per_token=max_per_token,
        fallback_sizes=list(fallback_sizes),
        within_sentences=within_sentences,
    )
