"""Faithfulness check for generated follow-up records and AE narratives.

Whatever wrote a record (the template backend or an LLM), it is checked
against the *facts* it was written from: the JSON-safe dict that
:func:`ct_safety_nlp.followup.build_facts` makes out of ``doc._.ct_context``,
``doc._.ct_adverse_events``, ``doc._.ct_regimens`` and the Doc's entities.

Rules (each broken rule is one violation string):

1. **AE terms**: every AE term the text mentions (a term of the input, or a
   term of the extra vocabulary such as the CTCAE term list) must be an AE of
   the input. A term the input has only as negated must not be stated as
   present; a present AE must not be stated as absent.
2. **Grades**: every ``grade N`` / ``GN`` / ``grade III`` claim must match the
   input grade of the AE named in the same sentence; a grade stated with no
   AE term next to it must be the grade of some input AE.
3. **Drugs**: every drug the text mentions (a drug of the input, of the extra
   vocabulary, or a word with an INN drug-name stem such as -mab, -platin,
   -taxel) must be a drug of the input.
4. **Doses**: every number with a dose unit (``180 mg/m2``, ``5 mg/kg``,
   ``AUC 5``) must be a dose of the input (same value and unit).
5. **Seriousness**: a sentence that calls an AE serious (``serious``,
   ``SAE``, a seriousness criterion such as hospitalisation) needs that AE to
   be serious in the input (or, with no AE named, some serious input AE); a
   sentence that calls a serious input AE "not serious" is a contradiction.
6. **Coverage**: every current (not negated, not historical) input AE that
   is serious or of grade >= 3 must be named in the text.

Claims found in the free-text fields of the visit context are facts too (the
caller wrote them), so quoting the context is never a violation.

Pure Python and regular expressions: no model, no network, deterministic.
"""

import functools
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

__all__ = [
    "check_faithfulness",
    "find_doses",
    "find_grades",
    "normalize_dose",
    "normalize_term",
]

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5}

# "grade 3", "Grade: 3", "CTCAE grade III", "G3", "grade-3"
_GRADE_RE = re.compile(
    r"\bgrade\s*[:\-]?\s*(?P<num>[1-5]|iv|v|i{1,3})\b|\bG(?P<g>[1-5])\b",
    re.IGNORECASE,
)

_UNITS = (
    r"mg/m2|mg/m²|mg/m\^2|mg/kg|mcg/kg|µg/kg|ug/kg|g/m2|g/m²|mg|mcg|µg|ug|g|"
    r"ml|mL|IU/kg|IU|units?|mmol|gy|Gy"
)
_DOSE_RE = re.compile(
    r"(?<![\w.])(?P<value>\d+(?:[.,]\d+)?)\s*(?P<unit>" + _UNITS + r")(?![\w/²^])"
    r"|\bAUC\s*=?\s*(?P<auc>\d+(?:[.,]\d+)?)\b",
    re.IGNORECASE,
)

# INN stems of antineoplastic and common co-medication drug names: a word
# with one of these endings is taken as a drug claim even when no vocabulary
# lists it (so an invented drug is caught without a drug dictionary).
_DRUG_STEM_RE = re.compile(
    r"\b[a-z]{2,}(?:mab|tinib|rafenib|ciclib|parib|lisib|zomib|platin|taxel|rubicin|"
    r"tecan|citabine|fosfamide|mustine|trexate|posid|blastine|cristine|mycin|"
    r"cillin|floxacin|xaban|gatran|parin|prazole|setron|dronate|tretinoin)\b",
    re.IGNORECASE,
)

_SERIOUS_RE = re.compile(
    r"\b(?:serious(?:ness)?|SAEs?|hospitali[sz]\w*|life[- ]threatening|fatal|died|death|"
    r"persistent or significant disabilit\w*|congenital anomal\w*)\b",
    re.IGNORECASE,
)
_NOT_SERIOUS_RE = re.compile(r"\b(?:not|non|no)[- ]?(?:\w+[- ]){0,2}?serious\b", re.IGNORECASE)
# "seriousness criteria: none" states the event is not serious
_SERIOUS_NONE_RE = re.compile(r"\bserious(?:ness)?(?: criteria)?\s*:\s*(?:no|none)\b", re.IGNORECASE)
# "seriousness not reported" / "seriousness: unknown" states nothing
_SERIOUS_UNKNOWN_RE = re.compile(
    r"\bserious(?:ness)?(?: criteria)?\s*:?\s*(?:not reported|unknown|not assessed|not known)\b", re.IGNORECASE
)

_NEG_CUES = re.compile(
    r"\b(?:no|not|denies|denied|without|absence of|absent|negative for|free of|ruled out|"
    r"pertinent negatives?)\b",
    re.IGNORECASE,
)

_SEGMENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def normalize_term(term: str) -> str:
    """Lowercase, single-spaced, British -oe-/-ae- spellings folded to American."""
    t = " ".join(str(term).lower().split())
    t = t.replace("diarrhoea", "diarrhea").replace("oedema", "edema").replace("anaemia", "anemia")
    t = t.replace("haem", "hem").replace("oesophag", "esophag")
    return t


def normalize_dose(value: str, unit: str) -> Tuple[str, str]:
    """(value, unit) in a canonical form: '180.0' -> '180', 'mg/m²' -> 'mg/m2'."""
    v = value.replace(",", ".")
    try:
        num = float(v)
        v = ("%f" % num).rstrip("0").rstrip(".")
    except ValueError:
        pass
    u = unit.lower().replace("²", "2").replace("^2", "2").replace("µ", "u").replace("mcg", "ug")
    if u in ("unit", "units"):
        u = "units"
    return v, u


def find_doses(text: str) -> List[Tuple[Tuple[str, str], str]]:
    """Every dose claim in ``text``: ((value, unit), surface)."""
    out = []
    for m in _DOSE_RE.finditer(text or ""):
        if m.group("auc") is not None:
            out.append((normalize_dose(m.group("auc"), "auc"), m.group(0)))
        else:
            out.append((normalize_dose(m.group("value"), m.group("unit")), m.group(0)))
    return out


def find_grades(text: str) -> List[Tuple[int, int, str]]:
    """Every grade claim in ``text``: (grade, char offset, surface)."""
    out = []
    for m in _GRADE_RE.finditer(text or ""):
        raw = m.group("num") or m.group("g")
        grade = int(raw) if raw.isdigit() else _ROMAN[raw.lower()]
        out.append((grade, m.start(), m.group(0)))
    return out


_TOKEN_RE = re.compile(r"[^\W_]+")
# what may stand between two words of one multi-word term: spaces or a hyphen
_JOINER_RE = re.compile(r"[\s-]+")


def _term_key(term: str) -> Tuple[str, ...]:
    """Token key of a term: its words, each normalized (so 'Diarrhoea' == 'diarrhea')."""
    return tuple(normalize_term(t) for t in _TOKEN_RE.findall(str(term).lower()))


class _TermIndex:
    """Word-n-gram lookup of terms: longest match first, O(words x longest term)."""

    def __init__(self, terms: Iterable[str]):
        self.keys: Dict[Tuple[str, ...], str] = {}
        for term in sorted(set(terms)):
            key = _term_key(term)
            if key:
                self.keys.setdefault(key, term)
        self.maxlen = max((len(k) for k in self.keys), default=0)


@functools.lru_cache(maxsize=16)
def _cached_index(terms: Tuple[str, ...]) -> _TermIndex:
    return _TermIndex(terms)


def _segments(text: str) -> List[Tuple[int, str]]:
    """Sentences / lines / clauses with their start offsets."""
    out = []
    pos = 0
    for piece in _SEGMENT_SPLIT.split(text):
        start = text.find(piece, pos)
        if piece.strip():
            out.append((start, piece))
        pos = start + len(piece)
    return out


class _Facts:
    """The allowed claims of one input, indexed for lookup."""

    def __init__(
        self,
        facts: Dict[str, Any],
        ae_vocabulary: Union[Iterable[str], Mapping[str, str]],
        drug_vocabulary: Iterable[str],
    ):
        self.aes: List[Dict[str, Any]] = list(facts.get("adverse_events") or [])
        self.negatives: List[Dict[str, Any]] = list(facts.get("pertinent_negatives") or [])
        # normalized term -> list of AE dicts it may name
        self.term_to_aes: Dict[str, List[Dict[str, Any]]] = {}
        self.negative_terms: Set[str] = set()
        for ae in self.aes:
            for name in _ae_names(ae):
                self.term_to_aes.setdefault(name, []).append(ae)
        for ae in self.negatives:
            for name in _ae_names(ae):
                self.negative_terms.add(name)
        self.grades = {ae["grade"] for ae in self.aes if isinstance(ae.get("grade"), int)}
        self.any_serious = any(ae.get("serious") for ae in self.aes)
        self.drugs = {normalize_term(d) for d in facts.get("drugs") or [] if d}
        self.doses = set()
        for d in facts.get("doses") or []:
            for key, _ in find_doses(d):
                self.doses.add(key)
        # Claims inside the caller's free text are facts as well.
        for text in facts.get("context_texts") or []:
            for key, _ in find_doses(text):
                self.doses.add(key)
            for m in _DRUG_STEM_RE.finditer(text):
                self.drugs.add(normalize_term(m.group(0)))
        # vocabulary: plain terms, or surface form -> CTCAE term (synonyms); a synonym
        # of an input AE's term names that AE ("neutropenia" for "Neutrophil count decreased")
        if isinstance(ae_vocabulary, Mapping):
            pairs = [(normalize_term(k), normalize_term(v)) for k, v in ae_vocabulary.items() if k and str(k).strip()]
        else:
            pairs = [(normalize_term(t), normalize_term(t)) for t in ae_vocabulary if t and str(t).strip()]
        vocab_terms = set()
        for surface, canonical in pairs:
            vocab_terms.add(surface)
            if surface in self.term_to_aes or surface in self.negative_terms:
                continue
            if canonical in self.term_to_aes:
                self.term_to_aes[surface] = self.term_to_aes[canonical]
            elif canonical in self.negative_terms:
                self.negative_terms.add(surface)
        own = set(self.term_to_aes) | self.negative_terms
        # longest first, so "febrile neutropenia" wins over "neutropenia"
        # the (large, shared) vocabulary index is cached; the input's own terms are a small one
        self.term_indexes = [_cached_index(tuple(sorted(vocab_terms - own))), _TermIndex(own)]
        drug_terms = {normalize_term(d) for d in drug_vocabulary if d and str(d).strip()} | self.drugs
        self.drug_indexes = [_TermIndex(drug_terms)]


def _ae_names(ae: Dict[str, Any]) -> Set[str]:
    names = set()
    for key in ("term", "ctcae_term", "text"):
        value = ae.get(key)
        if value:
            names.add(normalize_term(value))
    return names


def _find_terms(segment: str, indexes: Sequence[_TermIndex]) -> List[Tuple[str, int, int]]:
    """Non-overlapping term mentions, longest first: (normalized term, start, end)."""
    words = [(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN_RE.finditer(segment)]
    keys = [normalize_term(w) for w, _, _ in words]
    maxlen = max((ix.maxlen for ix in indexes), default=0)
    found: List[Tuple[str, int, int]] = []
    i = 0
    while i < len(words):
        hit = None
        for n in range(min(maxlen, len(words) - i), 0, -1):
            # the words of a multi-word term are joined by spaces or hyphens only
            if n > 1 and not all(
                _JOINER_RE.fullmatch(segment[words[j][2] : words[j + 1][1]]) for j in range(i, i + n - 1)
            ):
                continue
            key = tuple(keys[i : i + n])
            for ix in indexes:
                if key in ix.keys:
                    hit = (ix.keys[key], n)
                    break
            if hit:
                break
        if hit:
            term, n = hit
            found.append((term, words[i][1], words[i + n - 1][2]))
            i += n
        else:
            i += 1
    return found


def _negated_before(segment: str, start: int) -> bool:
    """A negation cue in the few words before ``start`` (same clause)."""
    window = segment[max(0, start - 40) : start]
    window = re.split(r"[,:;(]|\b(?:and|but|with)\b(?! no\b)", window)[-1] if window else window
    return bool(_NEG_CUES.search(window))


def _nearest(mentions: List[Tuple[str, int, int]], pos: int) -> Optional[Tuple[str, int, int]]:
    if not mentions:
        return None
    return min(mentions, key=lambda m: (abs(m[1] - pos), m[1]))


def check_faithfulness(
    text: str,
    facts: Dict[str, Any],
    *,
    ae_vocabulary: Union[Iterable[str], Mapping[str, str]] = (),
    drug_vocabulary: Iterable[str] = (),
) -> List[str]:
    """Check generated ``text`` against ``facts``; return the violations (empty = faithful).

    text (str): the generated record (and narrative, joined).
    facts (dict): from :func:`ct_safety_nlp.followup.build_facts`.
    ae_vocabulary: extra AE terms to recognise in the text (e.g. all CTCAE
        terms), so that an AE the input does not have is caught; or a mapping
        surface form -> CTCAE term (terms and synonyms), so that a synonym of an
        input AE counts as naming it.
    drug_vocabulary: extra drug names to recognise in the text.
    RETURNS (List[str]): one human-readable string per violation, in text order.
    """
    if not isinstance(text, str):
        raise TypeError(f"check_faithfulness: text must be a str, got {type(text).__name__}")
    if not isinstance(facts, dict):
        raise TypeError(f"check_faithfulness: facts must be a dict, got {type(facts).__name__}")
    f = _Facts(facts, ae_vocabulary, drug_vocabulary)
    issues: List[str] = []
    mentioned_terms: Set[str] = set()
    covered: Set[int] = set()  # id() of input AEs the text names

    def add(msg: str) -> None:
        if msg not in issues:
            issues.append(msg)

    for _, seg in _segments(text):
        terms = _find_terms(seg, f.term_indexes)
        drug_spans: List[Tuple[int, int]] = []
        # 1. AE terms
        for term, start, _end in terms:
            mentioned_terms.add(term)
            covered.update(id(ae) for ae in f.term_to_aes.get(term, ()))
            negated_here = _negated_before(seg, start)
            if term in f.term_to_aes:
                if negated_here and term not in f.negative_terms:
                    add(f"AE '{term}' is stated as absent, but the input reports it as present")
            elif term in f.negative_terms:
                if not negated_here:
                    add(f"AE '{term}' is stated as present, but the input reports it as negated (absent)")
            else:
                add(f"AE term '{term}' is not in the input")
        # 2. grades
        for grade, pos, surface in find_grades(seg):
            near = _nearest([t for t in terms if t[0] in f.term_to_aes], pos)
            if near is not None:
                input_grades = {ae.get("grade") for ae in f.term_to_aes[near[0]]}
                if grade not in input_grades:
                    shown = ", ".join(str(g) for g in sorted(input_grades, key=str)) or "none"
                    add(f"'{surface}' stated for '{near[0]}', but the input grade is {shown}")
            elif grade not in f.grades:
                add(f"'{surface}' is not a grade of any AE in the input")
        # 3. drugs
        for drug, start, end in _find_terms(seg, f.drug_indexes):
            drug_spans.append((start, end))
            if drug not in f.drugs:
                add(f"drug '{drug}' is not in the input")
        for m in _DRUG_STEM_RE.finditer(seg):
            if any(m.start() < e and s < m.end() for s, e in drug_spans):
                continue
            name = normalize_term(m.group(0))
            if name not in f.drugs:
                add(f"drug '{name}' is not in the input")
        # 4. doses
        for key, surface in find_doses(seg):
            if key not in f.doses:
                add(f"dose '{surface.strip()}' is not in the input")
        # 5. seriousness
        negative_claim = bool(_NOT_SERIOUS_RE.search(seg) or _SERIOUS_NONE_RE.search(seg))
        positive_claim = False
        for m in _SERIOUS_RE.finditer(seg):
            if (
                _negated_before(seg, m.start())
                or _SERIOUS_NONE_RE.match(seg, m.start())
                or _SERIOUS_UNKNOWN_RE.match(seg, m.start())
            ):
                continue
            if re.match(r"non[- ]?serious", seg[max(0, m.start() - 4) : m.end()], re.IGNORECASE):
                continue
            positive_claim = True
            break
        named = [t for t in terms if t[0] in f.term_to_aes]
        if positive_claim:
            if named:
                for term, _s, _e in named:
                    if not any(ae.get("serious") for ae in f.term_to_aes[term]):
                        add(f"AE '{term}' is called serious, but the input does not report it as serious")
            elif not f.any_serious:
                add("the text states a serious event, but no AE of the input is serious")
        if negative_claim:
            for term, _s, _e in named:
                if all(ae.get("serious") for ae in f.term_to_aes[term]):
                    add(f"AE '{term}' is called not serious, but the input reports it as serious")

    # 6. coverage of serious / grade >= 3 AEs
    for ae in f.aes:
        if ae.get("historical"):
            continue
        grade = ae.get("grade")
        if ae.get("serious") or (isinstance(grade, int) and grade >= 3):
            if id(ae) not in covered:
                why = "serious" if ae.get("serious") else f"grade {grade}"
                add(f"{why} AE '{ae.get('term') or ae.get('text')}' of the input is missing from the text")
    return issues
