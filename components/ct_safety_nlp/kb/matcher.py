"""Finding known phrases (CTCAE terms, synonyms, drug names) in text: one
word-n-gram index over canonical tokens, longest match first, no overlaps.

Used by the knowledge base (:meth:`ct_safety_nlp.kb.CtcaeKB.find_mentions`)
and by the faithfulness check of generated records, so both read a term the
same way (same spelling folds, same plural stripping, same joiners).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, Iterable, List, Optional, Pattern, Tuple, TypeVar

from ..text import WORD_RE, TextRules, ascii_lower, default_text_rules

__all__ = ["PhraseHit", "PhraseIndex", "Words"]

V = TypeVar("V")


@dataclass(frozen=True)
class Words:
    """The words of a text: offsets, accent-free lower case, canonical (folded) form."""

    text: str
    spans: List[Tuple[int, int]]
    lowered: List[str]
    canon: List[str]


@dataclass(frozen=True)
class PhraseHit(Generic[V]):
    start_char: int
    end_char: int
    first_word: int
    n_words: int
    key: Tuple[str, ...]
    value: Any


class PhraseIndex(Generic[V]):
    """Canonical-token tuples -> values, searched in text longest-first.

    gap: what may stand between two words of one phrase (a regex matched
    against the whole gap); ``initial_dot`` also allows "C. difficile" (a
    full stop right after a one-letter word).
    """

    def __init__(
        self,
        entries: Iterable[Tuple[str, V]] = (),
        *,
        text_rules: Optional[TextRules] = None,
        gap: str = r"[\s-]+",
        initial_dot: bool = False,
        keys: Optional[Dict[Tuple[str, ...], V]] = None,
    ):
        self.text_rules = text_rules or default_text_rules()
        self.gap: Pattern = re.compile(gap)
        self.initial_dot = initial_dot
        self.keys: Dict[Tuple[str, ...], V] = dict(keys or {})
        for phrase, value in entries:
            key = tuple(self.text_rules.canonical_tokens(phrase))
            if key:
                self.keys.setdefault(key, value)
        self.max_len = max((len(k) for k in self.keys), default=0)
        #: first word -> the most words of a phrase starting with it: a word that starts
        #: none is passed over with one look-up (the keys are fixed once built)
        self.first_words: Dict[str, int] = {}
        for k in self.keys:
            if len(k) > self.first_words.get(k[0], 0):
                self.first_words[k[0]] = len(k)

    def __len__(self) -> int:
        return len(self.keys)

    def words(self, text: str) -> Words:
        spans = [(m.start(), m.end()) for m in WORD_RE.finditer(text)]
        lowered = [ascii_lower(text[s:e]) for s, e in spans]
        return Words(text, spans, lowered, [self.text_rules.fold_token(t) for t in lowered])

    def joined(self, words: Words, i: int, length: int) -> bool:
        """True when words i .. i+length-1 are joined only by allowed gaps."""
        for j in range(i, i + length - 1):
            gap = words.text[words.spans[j][1] : words.spans[j + 1][0]]
            if self.gap.fullmatch(gap):
                continue
            if self.initial_dot and gap.strip() == "." and words.spans[j][1] - words.spans[j][0] == 1:
                continue
            return False
        return True

    def find(
        self,
        text: str,
        accept: Optional[Callable[[Words, int, int, Tuple[str, ...], Any], bool]] = None,
        words: Optional[Words] = None,
        others: Iterable["PhraseIndex"] = (),
    ) -> List[PhraseHit]:
        """Non-overlapping phrases of the index (and of ``others``, checked in
        order after this one at each length) in ``text``, longest first.
        ``accept(words, i, length, key, value)`` can veto a candidate."""
        words = words or self.words(text)
        indexes = [self, *others]
        hits: List[PhraseHit] = []
        i, n = 0, len(words.spans)
        while i < n:
            found = None
            longest = max(ix.first_words.get(words.canon[i], 0) for ix in indexes)
            for length in range(min(longest, n - i), 0, -1):
                key = tuple(words.canon[i : i + length])
                for ix in indexes:
                    value = ix.keys.get(key)
                    if value is None:
                        continue
                    if length > 1 and not self.joined(words, i, length):
                        continue
                    if accept is not None and not accept(words, i, length, key, value):
                        continue
                    found = (length, key, value)
                    break
                if found is not None:
                    break
            if found is None:
                i += 1
                continue
            length, key, value = found
            hits.append(PhraseHit(words.spans[i][0], words.spans[i + length - 1][1], i, length, key, value))
            i += length
        return hits
