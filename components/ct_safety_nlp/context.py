"""ConText-style assertion rules: is a mention negated, speculated or historical?

Our own implementation of the ConText idea (Harkema et al., 2009): a *trigger*
phrase opens a scope, either forward (pre-trigger: "denied nausea", "no
evidence of neuropathy") or backward (post-trigger: "DVT was ruled out",
"hearing loss was suspected"). A mention inside the scope takes the trigger's
category. A scope ends at

* a *terminator* ("but", "however", "although", "except", "which", "who",
  "apart from", ";", ":"), or at the end of the sentence, and
* at most ``max_scope_words`` words away from the trigger (NegEx-style window,
  so "No dose reduction was needed for grade 3 neutropenia" does not negate
  the neutropenia when the window is short).

*Pseudo-triggers* ("no change", "not only", "not ruled out", "no longer",
"gram-negative") are matched first and block the triggers they contain;
"cannot be ruled out" / "not excluded" are themselves speculation cues.

Categories: ``negated``, ``speculated``, ``historical`` (history of, prior to
study entry, family history of, ...). The rules are data
(``resources/context_rules.yml``, read by ``ct.read_context_rules.v1``),
passed to ``ct_reasoner`` at initialize and saved with the pipeline.
Sentences come from :func:`ct_safety_nlp.text.split_sentences` (no parser).
"""

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .text import split_sentences

NEGATED = "negated"
SPECULATED = "speculated"
HISTORICAL = "historical"
CATEGORIES = (NEGATED, SPECULATED, HISTORICAL)

FORWARD = "forward"
BACKWARD = "backward"
BOTH = "both"
DIRECTIONS = (FORWARD, BACKWARD, BOTH)


@functools.lru_cache(maxsize=1)
def default_context_rules() -> Dict[str, Any]:
    """The shipped context rules (``resources/context_rules.yml``), read once."""
    from .rules.context import read_context_rules
    from .rules.io import resource_path

    return read_context_rules(str(resource_path("context_rules.yml")))


@dataclass(frozen=True)
class ContextHit:
    category: str
    trigger: str
    start_char: int
    end_char: int
    direction: str

    def evidence(self) -> str:
        return f"context: {self.category} by {self.direction} trigger '{self.trigger}'"


@dataclass
class ContextResult:
    negated: bool = False
    speculated: bool = False
    historical: bool = False
    hits: List[ContextHit] = field(default_factory=list)

    @property
    def evidence(self) -> List[str]:
        return [h.evidence() for h in self.hits]


def _phrase_pattern(phrase: str) -> str:
    words = [re.escape(w) for w in phrase.split()]
    body = r"\s+".join(words)
    left = r"(?<![\w-])" if re.match(r"\w", phrase) else ""
    right = r"(?![\w-])" if re.search(r"\w$", phrase) else ""
    return left + body + right


class ContextMatcher:
    """Compiled trigger/pseudo/terminator tables; picklable (holds only strings and regexes).

    rules: iterable of (phrase, category, direction); pseudo: phrases that mask
    triggers; terminators: phrases that end scopes; max_scope_words: the
    NegEx-style window in words.
    """

    def __init__(
        self,
        rules: Optional[Iterable[Sequence[str]]] = None,
        pseudo: Optional[Iterable[str]] = None,
        terminators: Optional[Iterable[str]] = None,
        max_scope_words: int = 8,
    ):
        defaults = default_context_rules() if rules is None or pseudo is None or terminators is None else None
        rules = list(defaults["rules"] if rules is None else rules)
        for i, rule in enumerate(rules):
            if len(rule) != 3:
                raise ValueError(f"context rule #{i} {rule!r}: expected (phrase, category, direction)")
            phrase, category, direction = rule
            if category not in CATEGORIES:
                raise ValueError(f"context rule #{i} {phrase!r}: category {category!r} not in {CATEGORIES}")
            if direction not in DIRECTIONS:
                raise ValueError(f"context rule #{i} {phrase!r}: direction {direction!r} not in {DIRECTIONS}")
        if not isinstance(max_scope_words, int) or max_scope_words < 1:
            raise ValueError(f"max_scope_words must be a positive int, got {max_scope_words!r}")
        self.rules = [tuple(r) for r in rules]
        self.pseudo = list(defaults["pseudo"] if pseudo is None else pseudo)
        self.terminators = list(defaults["terminators"] if terminators is None else terminators)
        self.max_scope_words = max_scope_words
        self._compile()

    def _compile(self) -> None:
        self._trigger_res = [
            (re.compile(_phrase_pattern(phrase), re.IGNORECASE), category, direction) for phrase, category, direction in self.rules
        ]
        # each trigger's first word, lower-cased: a sentence without it cannot match (one substring test, not a regex scan)
        self._trigger_keys = [phrase.split()[0].lower() if phrase.split() else "" for phrase, _, _ in self.rules]
        pseudo = sorted(self.pseudo, key=len, reverse=True)
        self._pseudo_re = re.compile("|".join(_phrase_pattern(p) for p in pseudo), re.IGNORECASE) if pseudo else None
        terms = sorted(self.terminators, key=len, reverse=True)
        self._term_re = re.compile("|".join(_phrase_pattern(t) for t in terms), re.IGNORECASE) if terms else None

    def to_dict(self) -> dict:
        return {
            "rules": [list(r) for r in self.rules],
            "pseudo": list(self.pseudo),
            "terminators": list(self.terminators),
            "max_scope_words": self.max_scope_words,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ContextMatcher":
        return cls(data["rules"], data["pseudo"], data["terminators"], int(data["max_scope_words"]))

    def __getstate__(self):
        return self.to_dict()

    def __setstate__(self, state):
        self.__init__(state["rules"], state["pseudo"], state["terminators"], state["max_scope_words"])

    # ------------------------------------------------------------------ matching
    def triggers(self, text: str, start: int = 0, end: Optional[int] = None) -> List[ContextHit]:
        """All (non-pseudo) triggers in text[start:end], as ContextHits with absolute
        offsets. The last sentence's are kept: :meth:`assess` asks once per mention,
        and the mentions of a sentence come together."""
        end = len(text) if end is None else end
        last = getattr(self, "_last_triggers", None)
        if last is not None and last[0] == start and last[1] == end and last[2] == text:
            return list(last[3])
        hits = self._find_triggers(text, start, end)
        self._last_triggers = (start, end, text, tuple(hits))
        return hits

    def _find_triggers(self, text: str, start: int, end: int) -> List[ContextHit]:
        window = text[start:end]
        pseudo_spans = [(m.start(), m.end()) for m in self._pseudo_re.finditer(window)] if self._pseudo_re else []
        found = []
        lowered = window.lower()
        for key, (rx, category, direction) in zip(self._trigger_keys, self._trigger_res):
            if key not in lowered:
                continue
            for m in rx.finditer(window):
                # masked by a pseudo-trigger that overlaps it and is at least as long
                if any(a < m.end() and m.start() < b and b - a >= m.end() - m.start() for a, b in pseudo_spans):
                    continue
                found.append((m.start(), m.end(), m.group(0), category, direction))
        # a trigger inside a longer one ("no" in "no evidence of") is not a trigger of its own;
        # overlapping triggers ("were negative" / "negative for") both count
        hits = []
        for a, b, phrase, category, direction in found:
            if any(a2 <= a and b <= b2 and (b2 - a2) > (b - a) for a2, b2, *_ in found):
                continue
            hits.append(ContextHit(category, phrase, start + a, start + b, direction))
        return sorted(hits, key=lambda h: h.start_char)

    def _terminated(self, text: str, a: int, b: int) -> bool:
        if a >= b or self._term_re is None:
            return False
        return self._term_re.search(text[a:b]) is not None

    def _words(self, text: str, a: int, b: int) -> int:
        return len(re.findall(r"[\w'-]+", text[a:b]))

    def assess(
        self,
        text: str,
        start_char: int,
        end_char: int,
        sentence: Optional[Tuple[int, int]] = None,
    ) -> ContextResult:
        """Context of the mention text[start_char:end_char] within its sentence.

        sentence: (start, end) of the sentence holding the mention; found with
        :func:`split_sentences` when not given.
        """
        if not (0 <= start_char <= end_char <= len(text)):
            raise ValueError(f"mention offsets ({start_char}, {end_char}) outside the text of length {len(text)}")
        if sentence is None:
            sentence = next(((s, e) for s, e in split_sentences(text) if s <= start_char < e or s < end_char <= e), (0, len(text)))
        s_start, s_end = sentence
        result = ContextResult()
        for hit in self.triggers(text, s_start, s_end):
            in_scope = False
            if hit.start_char < end_char and start_char < hit.end_char:
                # a cue inside the mention (a model span "denied vomiting") counts when it
                # opens the mention (pre-trigger) or closes it (post-trigger)
                in_scope = (hit.start_char <= start_char and hit.direction in (FORWARD, BOTH)) or (
                    hit.end_char >= end_char and hit.direction in (BACKWARD, BOTH)
                )
            elif hit.end_char <= start_char and hit.direction in (FORWARD, BOTH):
                gap = (hit.end_char, start_char)
                in_scope = not self._terminated(text, *gap) and self._words(text, *gap) <= self.max_scope_words
            elif hit.start_char >= end_char and hit.direction in (BACKWARD, BOTH):
                gap = (end_char, hit.start_char)
                in_scope = not self._terminated(text, *gap) and self._words(text, *gap) <= self.max_scope_words
            if in_scope:
                result.hits.append(hit)
                setattr(result, hit.category, True)
        return result


@functools.lru_cache(maxsize=1)
def _default_matcher() -> ContextMatcher:
    return ContextMatcher()


def assess_context(text: str, start_char: int, end_char: int, sentence: Optional[Tuple[int, int]] = None) -> ContextResult:
    """Context of a mention with the shipped rules (a shared, lazily built matcher)."""
    return _default_matcher().assess(text, start_char, end_char, sentence)
