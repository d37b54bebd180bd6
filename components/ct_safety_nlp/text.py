"""The one place for text utilities: segmentation, spelling folds, numbers,
grade and dose patterns, drug names and negation words.

The reasoner, the knowledge base, the grader and the faithfulness check of
generated records all use these, so they read text the same way. The
knowledge (folds, abbreviations, negation words, drug stems) is data:
``resources/text.yml`` and ``resources/drugs.yml``, read by the registered
readers ``ct.read_text_rules.v1`` and ``ct.read_drug_vocabulary.v1`` into
:class:`TextRules` and :class:`DrugVocabulary`. Components keep the instances
they were initialised with and save them with the pipeline; the module-level
functions below use the library's shipped defaults.

Pieces
------
* Segmentation: :func:`split_sentences` (no parser: ".", "!" or "?" followed
  by whitespace and an upper-case letter, digit or bracket, unless the word
  before is an abbreviation or a single letter; also blank lines and bullet
  lines, and with ``lines=True`` every line break) and :func:`clause_spans`.
* Canonical tokens (:meth:`TextRules.canonical_tokens`): lower-cased,
  accent-free word tokens with British -> American folds and simple plural
  stripping, shared by the CTCAE term index and the faithfulness check.
* Numbers: :func:`parse_number` ("22,000", "22 000", "0,8", ".5").
* Grades: :data:`EXPLICIT_GRADE_RE` and :func:`roman_to_int`.
* Doses: :data:`DOSE_RE` (value, unit, per kg / m2, rate; "AUC 5"),
  :func:`dose_value`, :func:`normalize_dose_unit`, :func:`normalize_dose_per`.
* Drug names without a model: :meth:`DrugVocabulary.find`.
* Negation words: :meth:`TextRules.negation_words` (a core list plus each
  check's own words).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any, Dict, Iterable, List, Optional, Pattern, Tuple

from .rules.text import NEGATION_USES as _NEGATION_USES
from .rules.text import read_drug_vocabulary, read_text_rules

from .rules.io import CompiledTable

__all__ = [
    "DOSE_RE",
    "EXPLICIT_GRADE_RE",
    "GRADE_TOKEN",
    "ROMAN",
    "DrugVocabulary",
    "TextRules",
    "ascii_lower",
    "canonical_tokens",
    "clause_spans",
    "clean_key",
    "default_drug_vocabulary",
    "default_text_rules",
    "dose_value",
    "find_drug_names",
    "fold_token",
    "normalize_dose_per",
    "normalize_dose_unit",
    "parse_number",
    "read_drug_vocabulary",
    "read_text_rules",
    "roman_to_int",
    "split_sentences",
    "words_regex",
]

WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)


# --------------------------------------------------------------------------
# Text rules (folds, plurals, abbreviations, negation words)
# --------------------------------------------------------------------------

class TextRules(CompiledTable):
    """Compiled text rules (see ``resources/text.yml``); picklable, JSON-safe ``to_dict``."""

    def __init__(self, data: Dict[str, Any]):
        if not isinstance(data, dict) or "spelling_folds" not in data or "negation" not in data:
            raise ValueError("TextRules needs the dict read by ct.read_text_rules.v1 (spelling_folds, negation, ...)")
        self.data = data
        self.folds: Tuple[Tuple[str, str], ...] = tuple((a, b) for a, b in data["spelling_folds"])
        self.ised_min_length = int(data.get("ised_min_length", 7))
        self.plural_min_length = int(data.get("plural_min_length", 5))
        self.plural_keep = tuple(data["plural_keep_endings"])
        self.abbreviations = frozenset(a.lower() for a in data["sentence_abbreviations"])
        self._fold_cache: Dict[str, str] = {}
        self._hash: Optional[int] = None


    def __eq__(self, other) -> bool:
        return isinstance(other, TextRules) and other.data == self.data

    def __hash__(self) -> int:
        if self._hash is None:
            import json

            self._hash = hash(json.dumps(self.data, sort_keys=True))
        return self._hash

    # ---- folds -------------------------------------------------------------
    def fold_token(self, token: str) -> str:
        """One lower-cased word with the spelling folds and plural stripping applied."""
        hit = self._fold_cache.get(token)
        if hit is not None:
            return hit
        out = token
        for old, new in self.folds:
            if old in out:
                out = out.replace(old, new)
        if out.endswith("ised") and len(out) >= self.ised_min_length:
            out = out[:-4] + "ized"
        if len(out) >= self.plural_min_length:
            if out.endswith("ies"):
                out = out[:-3] + "y"
            elif out.endswith("s") and not out.endswith(self.plural_keep):
                out = out[:-1]
        if len(self._fold_cache) < 200_000:
            self._fold_cache[token] = out
        return out

    def canonical_tokens(self, text: str) -> List[str]:
        """Lower-cased, accent-free, spelling-folded word tokens (punctuation dropped)."""
        return [self.fold_token(m.group(0)) for m in WORD_RE.finditer(ascii_lower(text))]

    def canonical(self, text: str) -> str:
        """:meth:`canonical_tokens` joined by single spaces: a comparison key for terms and drugs."""
        return " ".join(self.canonical_tokens(text))

    # ---- negation ----------------------------------------------------------
    def negation_words(self, use: str) -> List[str]:
        """The core negation words plus those of one check (``use`` in
        seriousness, severity, outcome, intervention, faithfulness)."""
        if use not in _NEGATION_USES:
            raise ValueError(f"unknown negation use {use!r}; expected one of {_NEGATION_USES}")
        neg = self.data["negation"]
        words = list(neg["core"])
        if use != "core":
            words += [w for w in neg.get(use, []) if w not in words]
        return words

    # ---- sentences ---------------------------------------------------------
    def split_sentences(self, text: str, *, lines: bool = False) -> List[Tuple[int, int]]:
        """Sentences of ``text`` as (start_char, end_char) pairs, without a parser.

        A sentence ends at ".", "!" or "?" followed by whitespace and an
        upper-case letter, digit or bracket, unless the word before the period
        is a known abbreviation or a single letter; also at blank lines and
        before bullet lines; with ``lines=True`` at every line break (records,
        lists).
        """
        if not isinstance(text, str):
            raise TypeError(f"split_sentences expects a str, got {type(text).__name__}")
        pattern = _SENT_END_LINES if lines else _SENT_END
        spans: List[Tuple[int, int]] = []
        start = 0
        for m in pattern.finditer(text):
            if m.group(0) == ".":
                word = re.search(r"(?:^|(?<=[\s(\[]))([A-Za-z][A-Za-z.]*)$", text[start : m.start()])
                if word:
                    w = word.group(1).lower().rstrip(".")
                    if w in self.abbreviations or len(w) == 1:
                        continue
            end = m.end() if m.group(0) in ".!?" else m.start()
            if text[start:end].strip():
                spans.append(_strip(text, start, end))
            start = m.end()
        if text[start:].strip():
            spans.append(_strip(text, start, len(text)))
        return spans


_SENT_END = re.compile(r"[.!?](?=[\"')\]]*\s+[A-Z0-9(\[])|\n\s*\n|\n(?=\s*[-*\u2022])")
_SENT_END_LINES = re.compile(r"[.!?](?=[\"')\]]*\s+[A-Z0-9(\[])|\n\s*\n|\n")


def _strip(text: str, start: int, end: int) -> Tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def words_regex(words: Iterable[str]) -> str:
    """A regex alternation of whole words / phrases (spaces match any whitespace),
    longest first, for building cue patterns from a word list."""
    parts = sorted({w for w in words if w}, key=len, reverse=True)
    return "|".join(r"\b" + r"\s+".join(re.escape(p) for p in w.split()) for w in parts)


@functools.lru_cache(maxsize=1)
def default_text_rules() -> TextRules:
    """The library's shipped text rules (``resources/text.yml``), read once."""
    from .rules.io import resource_path

    return TextRules(read_text_rules(str(resource_path("text.yml"))))


def ascii_lower(text: str) -> str:
    """Lower case without accents ("Ménétrier" -> "menetrier")."""
    if text.isascii():  # nothing to decompose: the common case, without the per-character pass
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def clean_key(text: str) -> str:
    """Whitespace-collapsed, lower-cased key for exact look-ups."""
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip().lower()


def fold_token(token: str) -> str:
    """:meth:`TextRules.fold_token` with the shipped rules."""
    return default_text_rules().fold_token(token)


def canonical_tokens(text: str) -> List[str]:
    """:meth:`TextRules.canonical_tokens` with the shipped rules."""
    return default_text_rules().canonical_tokens(text)


def split_sentences(text: str, *, lines: bool = False) -> List[Tuple[int, int]]:
    """:meth:`TextRules.split_sentences` with the shipped rules."""
    return default_text_rules().split_sentences(text, lines=lines)


_CLAUSE_SPLIT = re.compile(
    r";\s*|:\s*|,?\s+but\s+|,?\s+whereas\s+|,?\s+while\s+|,?\s+although\s+|,\s+which\s+|"
    r"(?:,\s+|\s+)and\s+(?=(?:he|she|they|it|we|the\s+patient|patient|there)\b)",
    re.IGNORECASE,
)


def clause_spans(text: str, start: int = 0, end: Optional[int] = None) -> List[Tuple[int, int]]:
    """Split text[start:end] into clauses at ";", ":", "but", "whereas", "while",
    "although", ", which" and "and" before a new subject (he/she/they/the patient...)."""
    end = len(text) if end is None else end
    spans, pos = [], start
    for m in _CLAUSE_SPLIT.finditer(text, start, end):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < end:
        spans.append((pos, end))
    return spans or [(start, end)]


# --------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------


def parse_number(text: str) -> float:
    """"22,000" / "22 000" -> 22000.0; "0,8" (decimal comma) -> 0.8; ValueError otherwise."""
    t = re.sub(r"[ \u00a0\u202f\u2009]", "", text)
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", t):
        t = t.replace(",", "")
    else:
        t = t.replace(",", ".")
    return float(t)


# --------------------------------------------------------------------------
# Grades
# --------------------------------------------------------------------------

ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
#: one grade: 1-5 or a roman numeral I-V
GRADE_TOKEN = r"(?:[1-5]|IV|V|I{1,3})"
#: "grade 3", "Grade III", "Gr. 3", "CTCAE grade 2", "grade 3/4", "grade 2-3",
#: "grade >= 3", "grade 3 or higher", "G3" (groups: prefix, word, cmp, g1, g2, plus, gshort, gs)
EXPLICIT_GRADE_RE = re.compile(
    r"(?P<prefix>\b(?:CTCAE|NCI[\s-]*CTC(?:AE)?|CTC)\s*(?:v(?:ersion)?\.?\s*\d(?:\.\d+)*\s*)?)?"
    r"\b(?P<word>(?i:grades?|gr\.?))\s*[:\-]?\s*(?:(?i:of)\s*)?"
    r"(?P<cmp>≥|>=|>|(?i:at\s+least)\s+)?\s*(?P<g1>" + GRADE_TOKEN + r")(?![\w.]\d)"
    r"(?:\s*(?:/|-|–|(?i:to|or|and))\s*(?P<g2>" + GRADE_TOKEN + r")\b)?"
    r"(?P<plus>\s*\+|\s+(?i:or\s+(?:higher|greater|above|more|worse)))?(?!\w)"
    r"|\b(?P<gshort>G(?P<gs>[1-5]))\b(?![-/]?\w)"
)


def roman_to_int(grade: str) -> int:
    """"3" -> 3, "III" / "iii" -> 3."""
    return int(grade) if grade.isdigit() else ROMAN[grade.upper()]


# --------------------------------------------------------------------------
# Doses
# --------------------------------------------------------------------------

_DOSE_NUM = r"\d+(?:[.,]\d+)*(?:\s*(?:-|–|to)\s*\d+(?:[.,]\d+)*)?"
_MASS = r"(?:mg|g|mcg|µg|μg|ug|ng|gram|grams|milligrams?|micrograms?|IU|U|units?|mL|ml|mmol|mEq|MBq|GBq|Gy|cGy|mg\s*eq)"
_PER = r"(?:\s*/\s*(?:kg|m\s*\^?\s*2|m²|sq\.?\s*m|body\s+weight))"
#: a dose: value (or range), mass unit, optional per kg / m2 and rate; or "AUC 5"
DOSE_RE = re.compile(
    rf"(?<![\w.])(?P<value>{_DOSE_NUM})\s*(?P<unit>{_MASS})(?P<per>{_PER})?(?P<rate>\s*/\s*(?:day|d|dose|week|wk|h|hr|hour|min))?(?![\w/])"
    rf"|(?<![\w])AUC\s*=?\s*(?:of\s*)?(?P<auc>\d+(?:[.,]\d+)?)",
    re.IGNORECASE,
)

_DOSE_UNITS = {"mcg": "µg", "ug": "µg", "μg": "µg", "gram": "g", "grams": "g", "milligram": "mg", "milligrams": "mg",
               "microgram": "µg", "micrograms": "µg", "ml": "mL", "iu": "IU", "unit": "U", "units": "U", "u": "U",
               "meq": "mEq", "mgeq": "mg eq", "gy": "Gy", "cgy": "cGy", "mbq": "MBq", "gbq": "GBq"}


def dose_value(text: str) -> Optional[float]:
    """The number of a dose value ("75", "1,000", "0,5", "2-4" -> its first number); None if none."""
    first = re.split(r"\s*(?:-|–|to)\s*", text.strip())[0]
    try:
        return parse_number(first)
    except ValueError:
        return None


def normalize_dose_unit(unit: str) -> str:
    """"mcg" / "ug" -> "µg", "ml" -> "mL", "units" -> "U", ..."""
    u = re.sub(r"\s+", "", unit)
    return _DOSE_UNITS.get(u.lower(), u)


def normalize_dose_per(per: Optional[str]) -> Optional[str]:
    """"/kg", "/body weight" -> "kg"; "/m2", "/m²", "/sq m" -> "m2"; None -> None."""
    if not per:
        return None
    p = re.sub(r"[\s/^.]", "", per.lower())
    if p.startswith("kg") or p == "bodyweight":
        return "kg"
    return "m2"


# --------------------------------------------------------------------------
# Drug names without a model
# --------------------------------------------------------------------------


#: words whose DrugVocabulary.is_drug verdict is kept (a bulk run meets a bounded vocabulary)
_MAX_VERDICTS = 100_000

_DRUG_WORD_RE = re.compile(r"(?<![\w])[A-Za-z][A-Za-z0-9]*[a-z][A-Za-z0-9]*(?![\w])")  # hyphens split words


class DrugVocabulary(CompiledTable):
    """Drug names found by INN stem, word list or "study drug" phrase (``resources/drugs.yml``)."""

    def __init__(self, data: Dict[str, Any]):
        if not isinstance(data, dict) or "inn_stems" not in data:
            raise ValueError("DrugVocabulary needs the dict read by ct.read_drug_vocabulary.v1")
        self.data = data
        self.stems = tuple(data["inn_stems"])
        self.min_extra = int(data.get("min_extra", 2))
        self.not_drugs = frozenset(w.lower() for w in data.get("not_drugs", []))
        self.words = frozenset(w.lower() for w in data["words"])
        pattern = data.get("study_drug_pattern")
        self._study = re.compile(pattern, re.I) if pattern else None
        code = data.get("product_code_pattern")
        self._code = re.compile(code) if code else None
        self.not_codes = frozenset(data.get("not_product_codes", ()))
        self.acronyms: Dict[str, List[str]] = {k.lower(): list(v) for k, v in (data.get("regimen_acronyms") or {}).items()}
        self._acronym_res = _acronym_patterns(data.get("regimen_acronyms") or {})
        by_length: Dict[int, List[str]] = {}
        for stem in self.stems:
            by_length.setdefault(len(stem), []).append(stem.lower())
        #: (stem length, stems of that length), for one str.endswith per length
        self._stems_by_length = sorted((n, tuple(stems)) for n, stems in by_length.items())
        self._verdicts: Dict[str, bool] = {}  # word -> is_drug, bounded by _MAX_VERDICTS

    def is_drug(self, word: str) -> bool:
        """A single word that the vocabulary takes as a drug name."""
        low = word.lower()
        verdict = self._verdicts.get(low)
        if verdict is None:
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            verdict = self._verdicts[low] = self._is_drug(low)
        return verdict

    def _is_drug(self, low: str) -> bool:
        if low in self.words:
            return True
        if low in self.not_drugs or len(low) < 5:
            return False
        return any(low.endswith(stems) for n, stems in self._stems_by_length if len(low) > n + self.min_extra)

    def find(self, text: str, start: int = 0, end: Optional[int] = None) -> List[Tuple[int, int, str]]:
        """(start, end, name) of drug names in text[start:end], in text order:
        "study drug" phrases, listed words, words ending in an INN stem."""
        end = len(text) if end is None else end
        found: List[Tuple[int, int, str]] = []

        def free(a: int, b: int) -> bool:
            return not any(a < e and s < b for s, e, _ in found)

        for rx in self._acronym_res:  # longest names first: "AC-T" before "AC"
            for m in rx.finditer(text, start, end):
                if free(m.start(), m.end()):
                    found.append((m.start(), m.end(), m.group(0)))
        if self._code is not None:
            for m in self._code.finditer(text, start, end):
                if m.group(0).split("-")[0] not in self.not_codes and free(m.start(), m.end()):
                    found.append((m.start(), m.end(), m.group(0)))
        if self._study is not None:
            for m in self._study.finditer(text, start, end):
                name = re.sub(r"^the\s+", "", m.group(0), flags=re.I)
                if free(m.end() - len(name), m.end()):
                    found.append((m.end() - len(name), m.end(), name))
        for m in _DRUG_WORD_RE.finditer(text, start, end):
            if self.is_drug(m.group(0)) and not any(a <= m.start() < b for a, b, _ in found):
                found.append((m.start(), m.end(), m.group(0)))
        return sorted(found)

    def regimen_drugs(self, name: str) -> Optional[List[str]]:
        """The drugs a regimen acronym or short name stands for ("mFOLFOX6" ->
        fluorouracil, leucovorin, oxaliplatin), or None when ``name`` is not one."""
        return self.acronyms.get(_acronym_key(name, self.acronyms))


def _acronym_key(name: str, table: Dict[str, Any]) -> str:
    low = name.strip().lower()
    if low in table:
        return low
    low = re.sub(r"-?\d{1,2}$", "", low)
    if low not in table and low.startswith("m"):
        low = low[1:]
    return low


def _acronym_patterns(table: Dict[str, List[str]]) -> List[Pattern]:
    """One pattern for all acronyms (one scan per text), longest name first at each
    position. Names in capitals match in capitals only; names of four or more
    capitals also with a leading "m" ("modified") and a trailing cycle number
    ("mFOLFOX6", "R-CHOP-21")."""
    alternatives = []
    for name in sorted(table, key=len, reverse=True):
        body = re.escape(name)
        capitals = name == name.upper() and any(c.isalpha() for c in name)
        if capitals and sum(c.isalpha() for c in name) >= 4:
            body = f"m?{body}(?:-?\\d{{1,2}})?"
        alternatives.append(body if capitals else f"(?i:{body})")
    return [re.compile(rf"(?<![\w-])(?:{'|'.join(alternatives)})(?![\w])")] if alternatives else []


@functools.lru_cache(maxsize=1)
def default_drug_vocabulary() -> DrugVocabulary:
    """The library's shipped drug vocabulary (``resources/drugs.yml``), read once."""
    from .rules.io import resource_path

    return DrugVocabulary(read_drug_vocabulary(str(resource_path("drugs.yml"))))


def find_drug_names(text: str, start: int = 0, end: Optional[int] = None) -> List[Tuple[int, int, str]]:
    """:meth:`DrugVocabulary.find` with the shipped vocabulary."""
    return default_drug_vocabulary().find(text, start, end)
