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

It reads text the way the reasoner does: one phrase index over canonical
tokens (:class:`ct_safety_nlp.kb.matcher.PhraseIndex`, the spelling folds of
the text rules), the grader's explicit-grade finder, the one dose pattern
(:data:`ct_safety_nlp.text.DOSE_RE`) and the drug vocabulary's INN stems.

Pure Python and regular expressions: no model, no network, deterministic.
"""

import functools
import re
from collections import ChainMap
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from .grading import find_explicit_grades
from .kb.matcher import PhraseIndex
from .text import (
    DOSE_RE,
    DrugVocabulary,
    TextRules,
    default_drug_vocabulary,
    default_text_rules,
    dose_value,
    normalize_dose_per,
    normalize_dose_unit,
    words_regex,
)

__all__ = [
    "check_faithfulness",
    "find_doses",
    "find_grades",
    "normalize_dose",
    "normalize_term",
]

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


def normalize_term(term: str, text_rules: Optional[TextRules] = None) -> str:
    """A term's comparison key: lower-cased, accent-free, spelling-folded canonical
    tokens joined by spaces (:meth:`ct_safety_nlp.text.TextRules.canonical`), the
    same key the CTCAE knowledge base uses."""
    return (text_rules or default_text_rules()).canonical(str(term))


def normalize_dose(value: str, unit: str, per: Optional[str] = None) -> Tuple[str, str]:
    """(value, unit) in a canonical form: '180.0' -> '180', 'mg/m²' -> 'mg/m2', 'mcg' -> 'ug'."""
    num = dose_value(value)
    v = ("%f" % num).rstrip("0").rstrip(".") if num is not None else value
    if unit.lower() == "auc":
        return v, "auc"
    u = normalize_dose_unit(unit).lower().replace("µ", "u")
    u = u.replace("²", "2").replace("^2", "2")
    per_norm = normalize_dose_per(per)
    if per_norm:
        u = f"{u}/{per_norm}"
    return v, u


def find_doses(text: str) -> List[Tuple[Tuple[str, str], str]]:
    """Every dose claim in ``text`` (:data:`ct_safety_nlp.text.DOSE_RE`): ((value, unit), surface)."""
    out = []
    for m in DOSE_RE.finditer(text or ""):
        if m.group("auc") is not None:
            out.append((normalize_dose(m.group("auc"), "auc"), m.group(0)))
        else:
            out.append((normalize_dose(m.group("value"), m.group("unit"), m.group("per")), m.group(0)))
    return out


def find_grades(text: str) -> List[Tuple[int, int, str]]:
    """Every grade claim in ``text`` (the grader's explicit-grade finder): (grade, char offset, surface)."""
    return [(f.grade, f.start_char, text[f.start_char : f.end_char]) for f in find_explicit_grades(text or "")]


@functools.lru_cache(maxsize=16)
def _cached_index(terms: Tuple[str, ...], text_rules: TextRules) -> PhraseIndex:
    return PhraseIndex(((t, t) for t in terms), text_rules=text_rules)


#: (id(vocabulary), id(text_rules)) -> (vocabulary, text_rules, keyed result): the
#: shared vocabularies are canonicalised once, not per checked record (a strong
#: reference keeps each id from being reused)
_VOCAB_CACHE: Dict[Tuple[int, int, str], Tuple[Any, Any, Any]] = {}


def _vocab_keys(vocabulary, text_rules: TextRules, kind: str):
    """``kind`` "ae": ([(surface key, canonical key)], display); "drug":
    (frozenset of keys, display). Cached for list / tuple / set / mapping
    vocabularies; anything else (a generator) is keyed afresh."""
    cacheable = isinstance(vocabulary, (list, tuple, set, frozenset, Mapping))
    slot = (id(vocabulary), id(text_rules), kind)
    hit = _VOCAB_CACHE.get(slot) if cacheable else None
    if hit is not None and hit[0] is vocabulary and hit[1] is text_rules:
        return hit[2]
    display: Dict[str, str] = {}

    def key(value: str) -> str:
        k = text_rules.canonical(value)
        display.setdefault(k, " ".join(str(value).lower().split()))
        return k

    if kind == "drug":
        result: Any = (frozenset(key(d) for d in vocabulary if d and str(d).strip()), display)
    elif isinstance(vocabulary, Mapping):
        result = ([(key(k), key(v)) for k, v in vocabulary.items() if k and str(k).strip()], display)
    else:
        result = ([(key(t), key(t)) for t in vocabulary if t and str(t).strip()], display)
    if cacheable:
        if len(_VOCAB_CACHE) >= 16:
            _VOCAB_CACHE.pop(next(iter(_VOCAB_CACHE)))
        _VOCAB_CACHE[slot] = (vocabulary, text_rules, result)
    return result


def _segments(text: str, text_rules: TextRules) -> List[Tuple[int, str]]:
    """Sentences and lines with their start offsets."""
    return [(a, text[a:b]) for a, b in text_rules.split_sentences(text, lines=True)]


class _Facts:
    """The allowed claims of one input, indexed for lookup (keys: :func:`normalize_term`)."""

    def __init__(
        self,
        facts: Dict[str, Any],
        ae_vocabulary: Union[Iterable[str], Mapping[str, str]],
        drug_vocabulary: Iterable[str],
        text_rules: TextRules,
        drugs: DrugVocabulary,
    ):
        self.text_rules, self.drug_rules = text_rules, drugs
        pairs, vocab_display = _vocab_keys(ae_vocabulary, text_rules, "ae")
        drug_keys, drug_display = _vocab_keys(drug_vocabulary, text_rules, "drug")
        own_display: Dict[str, str] = {}
        #: term key -> how it is shown in messages (the first surface form seen, lower
        #: case: the input's own, then the shared vocabularies')
        self.display = ChainMap(own_display, vocab_display, drug_display)

        def key(value: str) -> str:
            k = text_rules.canonical(value)
            own_display.setdefault(k, " ".join(str(value).lower().split()))
            return k

        self.aes: List[Dict[str, Any]] = list(facts.get("adverse_events") or [])
        self.negatives: List[Dict[str, Any]] = list(facts.get("pertinent_negatives") or [])
        # term key -> list of AE dicts it may name
        self.term_to_aes: Dict[str, List[Dict[str, Any]]] = {}
        self.negative_terms: Set[str] = set()
        for ae in self.aes:
            for name in _ae_names(ae, key):
                self.term_to_aes.setdefault(name, []).append(ae)
        for ae in self.negatives:
            for name in _ae_names(ae, key):
                self.negative_terms.add(name)
        self.grades = {ae["grade"] for ae in self.aes if isinstance(ae.get("grade"), int)}
        self.any_serious = any(ae.get("serious") for ae in self.aes)
        self.drugs = {key(d) for d in facts.get("drugs") or [] if d}
        self.doses = set()
        for d in facts.get("doses") or []:
            for dose_key, _ in find_doses(d):
                self.doses.add(dose_key)
        # Claims inside the caller's free text are facts as well.
        for text in facts.get("context_texts") or []:
            for dose_key, _ in find_doses(text):
                self.doses.add(dose_key)
            for _s, _e, name in drugs.find(text):
                self.drugs.add(key(name))
        # vocabulary: plain terms, or surface form -> CTCAE term (synonyms); a synonym
        # of an input AE's term names that AE ("neutropenia" for "Neutrophil count decreased")
        vocab_terms = set()
        for surface, canonical in pairs:
            if not surface:
                continue
            vocab_terms.add(surface)
            if surface in self.term_to_aes or surface in self.negative_terms:
                continue
            if canonical in self.term_to_aes:
                self.term_to_aes[surface] = self.term_to_aes[canonical]
            elif canonical in self.negative_terms:
                self.negative_terms.add(surface)
        own = (set(self.term_to_aes) | self.negative_terms) - {""}
        # longest first, so "febrile neutropenia" wins over "neutropenia"; the (large,
        # shared) vocabulary index is cached, the input's own terms are a small one
        # (the shared index holds the whole vocabulary: a hit's value is the term key
        # either way, so the input's terms in both indexes find the same key)
        self.vocab_index = _cached_index(tuple(sorted(vocab_terms)), text_rules)
        self.own_index = PhraseIndex(((t, t) for t in own), text_rules=text_rules)
        # the shared drug vocabulary's index is cached; the input's own drugs are a small one
        self.drug_index = _cached_index(tuple(sorted(d for d in drug_keys if d)), text_rules)
        self.own_drug_index = PhraseIndex(((d, d) for d in self.drugs if d), text_rules=text_rules)
        neg = words_regex(text_rules.negation_words("faithfulness"))
        self.negation = re.compile(r"(?:" + neg + r")\b", re.IGNORECASE)

    def show(self, key: str) -> str:
        return self.display.get(key, key)

    def find_terms(self, segment: str) -> List[Tuple[str, int, int]]:
        """Non-overlapping AE term mentions, longest first: (term key, start, end)."""
        hits = self.vocab_index.find(segment, others=[self.own_index])
        return [(h.value, h.start_char, h.end_char) for h in hits]

    def find_drugs(self, segment: str) -> List[Tuple[str, int, int]]:
        return [(h.value, h.start_char, h.end_char) for h in self.drug_index.find(segment, others=[self.own_drug_index])]

    def negated_before(self, segment: str, start: int) -> bool:
        """A negation cue in the few words before ``start`` (same clause)."""
        window = segment[max(0, start - 40) : start]
        window = re.split(r"[,:;(]|\b(?:and|but|with)\b(?! no\b)", window)[-1] if window else window
        return bool(self.negation.search(window))


def _ae_names(ae: Dict[str, Any], key) -> Set[str]:
    names = set()
    for field in ("term", "ctcae_term", "text"):
        value = ae.get(field)
        if value and key(value):
            names.add(key(value))
    return names


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
    text_rules: Optional[TextRules] = None,
    drug_rules: Optional[DrugVocabulary] = None,
) -> List[str]:
    """Check generated ``text`` against ``facts``; return the violations (empty = faithful).

    text (str): the generated record (and narrative, joined).
    facts (dict): from :func:`ct_safety_nlp.followup.build_facts`.
    ae_vocabulary: extra AE terms to recognise in the text (e.g. all CTCAE
        terms), so that an AE the input does not have is caught; or a mapping
        surface form -> CTCAE term (terms and synonyms), so that a synonym of an
        input AE counts as naming it.
    drug_vocabulary: extra drug names to recognise in the text.
    text_rules / drug_rules: the text rules (folds, negation words) and the drug
        vocabulary (INN stems) to read the text with; default: the shipped ones.
    RETURNS (List[str]): one human-readable string per violation, in text order.
    """
    if not isinstance(text, str):
        raise TypeError(f"check_faithfulness: text must be a str, got {type(text).__name__}")
    if not isinstance(facts, dict):
        raise TypeError(f"check_faithfulness: facts must be a dict, got {type(facts).__name__}")
    f = _Facts(facts, ae_vocabulary, drug_vocabulary, text_rules or default_text_rules(), drug_rules or default_drug_vocabulary())
    issues: List[str] = []
    mentioned_terms: Set[str] = set()
    covered: Set[int] = set()  # id() of input AEs the text names

    def add(msg: str) -> None:
        if msg not in issues:
            issues.append(msg)

    for _, seg in _segments(text, f.text_rules):
        terms = f.find_terms(seg)
        drug_spans: List[Tuple[int, int]] = []
        # 1. AE terms
        for term, start, _end in terms:
            mentioned_terms.add(term)
            covered.update(id(ae) for ae in f.term_to_aes.get(term, ()))
            negated_here = f.negated_before(seg, start)
            if term in f.term_to_aes:
                if negated_here and term not in f.negative_terms:
                    add(f"AE '{f.show(term)}' is stated as absent, but the input reports it as present")
            elif term in f.negative_terms:
                if not negated_here:
                    add(f"AE '{f.show(term)}' is stated as present, but the input reports it as negated (absent)")
            else:
                add(f"AE term '{f.show(term)}' is not in the input")
        # 2. grades
        for grade, pos, surface in find_grades(seg):
            near = _nearest([t for t in terms if t[0] in f.term_to_aes], pos)
            if near is not None:
                input_grades = {ae.get("grade") for ae in f.term_to_aes[near[0]]}
                if grade not in input_grades:
                    shown = ", ".join(str(g) for g in sorted(input_grades, key=str)) or "none"
                    add(f"'{surface}' stated for '{f.show(near[0])}', but the input grade is {shown}")
            elif grade not in f.grades:
                add(f"'{surface}' is not a grade of any AE in the input")
        # 3. drugs
        for drug, start, end in f.find_drugs(seg):
            drug_spans.append((start, end))
            if drug not in f.drugs:
                add(f"drug '{f.show(drug)}' is not in the input")
        for start, end, word in f.drug_rules.find(seg):
            if any(start < e and s < end for s, e in drug_spans) or not f.drug_rules.is_drug(word):
                continue  # named already, or a "study drug" phrase (not a drug name)
            name = f.text_rules.canonical(word)
            f.display.setdefault(name, word.lower())
            if name not in f.drugs:
                add(f"drug '{f.show(name)}' is not in the input")
        # 4. doses
        for key, surface in find_doses(seg):
            if key not in f.doses:
                add(f"dose '{surface.strip()}' is not in the input")
        # 5. seriousness
        negative_claim = bool(_NOT_SERIOUS_RE.search(seg) or _SERIOUS_NONE_RE.search(seg))
        positive_claim = False
        for m in _SERIOUS_RE.finditer(seg):
            if (
                f.negated_before(seg, m.start())
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
                        add(f"AE '{f.show(term)}' is called serious, but the input does not report it as serious")
            elif not f.any_serious:
                add("the text states a serious event, but no AE of the input is serious")
        if negative_claim:
            for term, _s, _e in named:
                if all(ae.get("serious") for ae in f.term_to_aes[term]):
                    add(f"AE '{f.show(term)}' is called not serious, but the input reports it as serious")

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
