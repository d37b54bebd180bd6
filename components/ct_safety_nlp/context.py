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
study entry, family history of, ...). The rules are plain data
(:data:`DEFAULT_RULES`), so they are saved with the pipeline by ``ct_reasoner``.

Nothing here needs a parser: sentences are split by :func:`split_sentences`,
a small rule on the text (period/question/exclamation mark followed by
whitespace and an upper-case letter or digit, or a line break), which
knows common abbreviations ("e.g.", "i.v.", "Dr.", "vs.").
"""

import re
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

NEGATED = "negated"
SPECULATED = "speculated"
HISTORICAL = "historical"
CATEGORIES = (NEGATED, SPECULATED, HISTORICAL)

FORWARD = "forward"
BACKWARD = "backward"
BOTH = "both"
DIRECTIONS = (FORWARD, BACKWARD, BOTH)

#: (phrase, category, direction). Phrases are matched case-insensitively on
#: word boundaries; "\s+" between words, so line breaks inside a phrase match.
DEFAULT_RULES: List[Tuple[str, str, str]] = [
    # --- negation, pre-triggers -------------------------------------------
    ("no", NEGATED, FORWARD),
    ("not", NEGATED, FORWARD),
    ("without", NEGATED, FORWARD),
    ("denied", NEGATED, FORWARD),
    ("denies", NEGATED, FORWARD),
    ("deny", NEGATED, FORWARD),
    ("denying", NEGATED, FORWARD),
    ("negative for", NEGATED, FORWARD),
    ("no evidence of", NEGATED, FORWARD),
    ("no signs of", NEGATED, FORWARD),
    ("no sign of", NEGATED, FORWARD),
    ("no symptoms of", NEGATED, FORWARD),
    ("free of", NEGATED, FORWARD),
    ("absence of", NEGATED, FORWARD),
    ("absent", NEGATED, BOTH),
    ("never", NEGATED, FORWARD),
    ("neither", NEGATED, FORWARD),
    ("nor", NEGATED, FORWARD),
    ("none", NEGATED, FORWARD),
    ("rule out", SPECULATED, FORWARD),
    ("ruled out", NEGATED, BOTH),
    ("was excluded", NEGATED, BACKWARD),
    ("were excluded", NEGATED, BACKWARD),
    ("has been excluded", NEGATED, BACKWARD),
    ("have been excluded", NEGATED, BACKWARD),
    ("was not observed", NEGATED, BACKWARD),
    ("were not observed", NEGATED, BACKWARD),
    ("was not seen", NEGATED, BACKWARD),
    ("were not seen", NEGATED, BACKWARD),
    ("did not occur", NEGATED, BACKWARD),
    ("did not develop", NEGATED, BACKWARD),
    ("was not reported", NEGATED, BACKWARD),
    ("were not reported", NEGATED, BACKWARD),
    ("was negative", NEGATED, BACKWARD),
    ("were negative", NEGATED, BACKWARD),
    ("unremarkable", NEGATED, BACKWARD),
    ("not been", NEGATED, BACKWARD),  # "X has not been reported / described / observed"
    ("never been", NEGATED, BACKWARD),
    ("does not recur", NEGATED, BACKWARD),
    ("did not recur", NEGATED, BACKWARD),
    ("do not occur", NEGATED, BACKWARD),
    ("does not occur", NEGATED, BACKWARD),
    ("no patient developed", NEGATED, FORWARD),
    ("no patients developed", NEGATED, FORWARD),
    ("no patient experienced", NEGATED, FORWARD),
    ("no patients experienced", NEGATED, FORWARD),
    ("no patient had", NEGATED, FORWARD),
    ("no patients had", NEGATED, FORWARD),
    ("none of the patients developed", NEGATED, FORWARD),
    ("none of the patients experienced", NEGATED, FORWARD),
    ("none of the patients had", NEGATED, FORWARD),
    # --- speculation ----------------------------------------------------------
    ("possible", SPECULATED, FORWARD),
    ("possibly", SPECULATED, BOTH),
    ("probable", SPECULATED, FORWARD),
    ("probably", SPECULATED, BOTH),
    ("presumed", SPECULATED, FORWARD),
    ("presumably", SPECULATED, BOTH),
    ("suspected", SPECULATED, BOTH),
    ("suspect", SPECULATED, FORWARD),
    ("suspicion of", SPECULATED, FORWARD),
    ("suspicious for", SPECULATED, FORWARD),
    ("concern for", SPECULATED, FORWARD),
    ("questionable", SPECULATED, FORWARD),
    ("may have", SPECULATED, BOTH),
    ("might have", SPECULATED, BOTH),
    ("could have", SPECULATED, BOTH),
    ("may", SPECULATED, BOTH),
    ("might", SPECULATED, BOTH),
    ("could", SPECULATED, BOTH),
    ("can", SPECULATED, BACKWARD),
    ("likely", SPECULATED, BOTH),
    ("unlikely", SPECULATED, BOTH),
    ("potential", SPECULATED, FORWARD),
    ("potentially", SPECULATED, BOTH),
    ("suggesting", SPECULATED, FORWARD),
    ("suggestive of", SPECULATED, FORWARD),
    ("suggests", SPECULATED, FORWARD),
    ("suggest", SPECULATED, FORWARD),
    ("to exclude", SPECULATED, FORWARD),
    ("differential diagnosis", SPECULATED, FORWARD),
    ("cannot be ruled out", SPECULATED, BACKWARD),
    ("could not be ruled out", SPECULATED, BACKWARD),
    ("cannot be excluded", SPECULATED, BACKWARD),
    ("could not be excluded", SPECULATED, BACKWARD),
    ("whether", SPECULATED, FORWARD),
    ("perhaps", SPECULATED, BOTH),
    ("apparently", SPECULATED, BOTH),
    ("possibility of", SPECULATED, FORWARD),
    ("uncertain", SPECULATED, BACKWARD),
    ("unclear", SPECULATED, BACKWARD),
    ("?", SPECULATED, BACKWARD),
    # --- historical / family history -----------------------------------------
    ("history of", HISTORICAL, FORWARD),
    ("h/o", HISTORICAL, FORWARD),
    ("past medical history", HISTORICAL, FORWARD),
    ("family history of", HISTORICAL, FORWARD),
    ("family history", HISTORICAL, FORWARD),
    ("prior to study entry", HISTORICAL, BOTH),
    ("prior to enrollment", HISTORICAL, BOTH),
    ("prior to enrolment", HISTORICAL, BOTH),
    ("before study entry", HISTORICAL, BOTH),
    ("before enrollment", HISTORICAL, BOTH),
    ("before enrolment", HISTORICAL, BOTH),
    ("at baseline", HISTORICAL, BOTH),
    ("at screening", HISTORICAL, BOTH),
    ("pre-existing", HISTORICAL, FORWARD),
    ("preexisting", HISTORICAL, FORWARD),
    ("previous", HISTORICAL, FORWARD),
    ("previously", HISTORICAL, BOTH),
    ("prior", HISTORICAL, FORWARD),
    ("since childhood", HISTORICAL, BACKWARD),
    ("his mother", HISTORICAL, FORWARD),
    ("her mother", HISTORICAL, FORWARD),
    ("his father", HISTORICAL, FORWARD),
    ("her father", HISTORICAL, FORWARD),
]

#: Phrases that look like triggers but are not; matched first, they mask the
#: words they cover. ("no further", "not only", "no change", ...)
DEFAULT_PSEUDO: List[str] = [
    "no further",
    "no longer",
    "not only",
    "no change",
    "no significant change",
    "no increase",
    "no decrease",
    "not necessarily",
    "not certain",
    "not clear",
    "not known",
    "no dose reduction",
    "no dose modification",
    "no dose adjustment",
    "not require",
    "not required",
    "did not require",
    "did not resolve",
    "not resolve",
    "not resolved",
    "without difficulty",
    "without interruption",
    "without dose",
    "gram negative",
    "gram-negative",
    "not ruled out",
    "not been ruled out",
    "not be ruled out",
    "not excluded",
    "may be used",
    "can be used",
    "prior to each",
    "prior to the",
    "prior to infusion",
    "previous cycle",
    "previous dose",
    "previous course",
    "history and physical",
    "no more than",
    "not more than",
    "no less than",
    "not less than",
]

#: Words / marks that close a scope.
DEFAULT_TERMINATORS: List[str] = [
    "but",
    "however",
    "although",
    "though",
    "except",
    "apart from",
    "aside from",
    "yet",
    "which",
    "who",
    "whereas",
    "while",
    "then",
    "subsequently",
    "later",
    "now",
    "presented with",
    "presented",
    "developed",
    "experienced",
    "complained of",
    ";",
    ":",
]

_ABBREVIATIONS = {
    "e.g", "i.e", "i.v", "p.o", "s.c", "i.m", "b.i.d", "t.i.d", "q.i.d", "dr", "mr", "mrs", "ms",
    "vs", "fig", "no", "approx", "et al", "al", "ca", "st", "resp", "incl", "min", "max", "wk", "wks",
}

_SENT_END = re.compile(r"[.!?](?=[\"')\]]*\s+[A-Z0-9(\[])|\n\s*\n|\n(?=\s*[-*\u2022])")


def split_sentences(text: str) -> List[Tuple[int, int]]:
    """Split ``text`` into sentences as (start_char, end_char) pairs without a parser.

    A sentence ends at ".", "!" or "?" followed by whitespace and an upper-case
    letter, digit or bracket, unless the word before the period is a known
    abbreviation or a single letter; also at blank lines and before bullet lines.
    """
    if not isinstance(text, str):
        raise TypeError(f"split_sentences expects a str, got {type(text).__name__}")
    spans: List[Tuple[int, int]] = []
    start = 0
    for m in _SENT_END.finditer(text):
        if m.group(0) == ".":
            word = re.search(r"(?:^|(?<=[\s(\[]))([A-Za-z][A-Za-z.]*)$", text[start : m.start()])
            if word:
                w = word.group(1).lower().rstrip(".")
                if w in _ABBREVIATIONS or len(w) == 1:
                    continue
        end = m.end() if m.group(0) in ".!?" else m.start()
        if text[start:end].strip():
            spans.append(_strip(text, start, end))
        start = m.end()
    if text[start:].strip():
        spans.append(_strip(text, start, len(text)))
    return spans


def _strip(text: str, start: int, end: int) -> Tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


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
        rules = list(DEFAULT_RULES if rules is None else rules)
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
        self.pseudo = list(DEFAULT_PSEUDO if pseudo is None else pseudo)
        self.terminators = list(DEFAULT_TERMINATORS if terminators is None else terminators)
        self.max_scope_words = max_scope_words
        self._compile()

    def _compile(self) -> None:
        self._trigger_res = [
            (re.compile(_phrase_pattern(phrase), re.IGNORECASE), category, direction) for phrase, category, direction in self.rules
        ]
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
        """All (non-pseudo) triggers in text[start:end], as ContextHits with absolute offsets."""
        end = len(text) if end is None else end
        window = text[start:end]
        pseudo_spans = [(m.start(), m.end()) for m in self._pseudo_re.finditer(window)] if self._pseudo_re else []
        found = []
        for rx, category, direction in self._trigger_res:
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


_DEFAULT_MATCHER: Optional[ContextMatcher] = None


def assess_context(text: str, start_char: int, end_char: int, sentence: Optional[Tuple[int, int]] = None) -> ContextResult:
    """Context of a mention with the default rules (a shared, lazily built matcher)."""
    global _DEFAULT_MATCHER
    if _DEFAULT_MATCHER is None:
        _DEFAULT_MATCHER = ContextMatcher()
    return _DEFAULT_MATCHER.assess(text, start_char, end_char, sentence)
