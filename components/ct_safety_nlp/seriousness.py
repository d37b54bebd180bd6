"""Seriousness of an adverse event per ICH E2A, from the words of its sentence.

ICH E2A calls an adverse event *serious* when it results in death, is
life-threatening, requires inpatient hospitalisation or prolongs an existing
one, results in persistent or significant disability/incapacity, is a
congenital anomaly/birth defect, or is another *important medical event*.

Rules (each criterion found is returned with the text that fired it):

* ``death`` - the AE's grade is 5, or a death word (died, death, fatal, lethal,
  passed away, succumbed) stands in the AE's clause.
* ``life_threatening`` - "life-threatening" / "life threatening" in the AE's
  clause. A CTCAE grade 4 alone is NOT taken as ICH "life-threatening": the
  CTCAE grade describes severity, ICH the immediate risk of death; the grade
  is reported, the criterion needs the words.
Cues are read in the AE's clause and in *linked* clauses: a clause of the
same sentence that names no AE of its own belongs to the nearest preceding
clause that does (else to the next one).

* ``hospitalization`` - admitted / admission / hospitalised / hospitalized /
  hospitalisation / required hospitalization / prolonged hospitalization /
  inpatient / intensive care (ICU) in the AE's clause, unless the cue is
  negated ("no admission", "did not require hospitalization", "without
  hospitalization") or planned ("elective", "planned", "scheduled", "admitted
  to the study/trial", "admitted for chemotherapy").
* ``disability`` - persistent / permanent / significant disability,
  incapacity, "disabling", "permanent damage" in the AE's clause.
* ``congenital_anomaly`` - congenital anomaly / malformation, birth defect,
  "born with" in the AE's sentence.
* ``important_medical_event`` - (a) the clause calls the event serious:
  "serious", "SAE", "serious adverse event", "medically significant",
  "important medical event" (not "non-serious", "not serious"); or (b) the
  CTCAE term is on the curated list of the rules (``ime_terms``), terms that the
  EMA Important Medical Event list names (sepsis, anaphylaxis, seizure,
  stroke, myocardial infarction, thromboembolism, respiratory / hepatic /
  heart failure, acute kidney injury, febrile neutropenia, pneumonitis, ...).

The cues, the planned-admission patterns and the IME terms are data
(``resources/seriousness.yml``, ``ct.read_seriousness_rules.v1``), compiled by
:class:`SeriousnessRules`; the negation words come from the text rules.

A negated or historical mention is never serious (it did not happen during
the trial); a speculated one keeps its criteria (a suspected SAE is still
reported as one).
"""

import functools
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .rules.seriousness import CRITERIA
from .text import TextRules, clause_spans, default_text_rules, words_regex

from .rules.io import CompiledTable

__all__ = [
    "CRITERIA",
    "Criterion",
    "Cue",
    "SeriousnessRules",
    "assess_seriousness",
    "clause_spans",
    "criteria_names",
    "default_seriousness_rules",
    "find_cues",
]

DEATH, LIFE_THREATENING, HOSPITALIZATION, DISABILITY, CONGENITAL_ANOMALY, IMPORTANT_MEDICAL_EVENT = CRITERIA


class SeriousnessRules(CompiledTable):
    """ICH E2A cues, planned-admission patterns and IME terms, compiled. Pickles by its data."""

    _state_keys = ("text_rules",)

    def __init__(self, data: Dict[str, Any], text_rules: Optional[TextRules] = None):
        if not isinstance(data, dict) or "cues" not in data:
            raise ValueError("SeriousnessRules needs the dict read by ct.read_seriousness_rules.v1")
        self.data = data
        self.text_rules = text_rules or default_text_rules()
        self.cues = [(c, re.compile(data["cues"][c], re.IGNORECASE)) for c in CRITERIA]
        neg = words_regex(self.text_rules.negation_words("seriousness"))
        # a cue preceded by a negation word (within a few words) does not count
        self.negated_before = re.compile(r"(?:" + neg + r")(?:[\s-]+\w+){0,2}[\s-]*$", re.IGNORECASE)
        self.planned_before = re.compile(data["planned_before"], re.IGNORECASE)
        self.planned_after = re.compile(data["planned_after"], re.IGNORECASE)
        self.ime_terms = frozenset(data["ime_terms"])



@functools.lru_cache(maxsize=1)
def default_seriousness_rules() -> SeriousnessRules:
    """The shipped seriousness rules (``resources/seriousness.yml``), read once."""
    from .rules.io import resource_path
    from .rules.seriousness import read_seriousness_rules

    return SeriousnessRules(read_seriousness_rules(str(resource_path("seriousness.yml"))))


@dataclass(frozen=True)
class Cue:
    criterion: str
    text: str
    start_char: int
    end_char: int


@dataclass(frozen=True)
class Criterion:
    criterion: str
    evidence: str


def find_cues(text: str, start: int = 0, end: Optional[int] = None, rules: Optional[SeriousnessRules] = None) -> List[Cue]:
    """Seriousness cues in text[start:end] that are neither negated nor planned."""
    R = rules or default_seriousness_rules()
    end = len(text) if end is None else end
    cues = []
    for criterion, rx in R.cues:
        for m in rx.finditer(text, start, end):
            before = text[max(start, m.start() - 40) : m.start()]
            if R.negated_before.search(before):
                continue
            if criterion == IMPORTANT_MEDICAL_EVENT and re.search(r"non[\s-]*$", before, re.IGNORECASE):
                continue
            if criterion == HOSPITALIZATION:
                if R.planned_before.search(before) or R.planned_after.search(text[m.end() : min(end, m.end() + 40)]):
                    continue
            cues.append(Cue(criterion, m.group(0), m.start(), m.end()))
    return sorted(cues, key=lambda c: c.start_char)


def assess_seriousness(
    text: str,
    clause: Tuple[int, int],
    sentence: Tuple[int, int],
    ctcae_term: Optional[str],
    grade: Optional[int],
    *,
    negated: bool = False,
    historical: bool = False,
    linked_clauses: Sequence[Tuple[int, int]] = (),
    rules: Optional[SeriousnessRules] = None,
) -> List[Criterion]:
    """ICH E2A criteria met by one AE mention.

    text: the document text; clause / sentence: (start, end) of the mention's
    clause and sentence; ctcae_term / grade: the normalised term and grade.
    linked_clauses: clauses of the sentence that name no AE of their own and so
    speak about this one ("anaphylaxis occurred ... and the patient was
    hospitalised overnight"); the reasoner links such a clause to the nearest
    preceding clause with an AE (else the next one).
    rules: the compiled rules (default: the shipped ones).
    Returns the criteria in :data:`CRITERIA` order, each with one evidence line.
    """
    R = rules or default_seriousness_rules()
    if negated or historical:
        return []
    found = {}
    if grade == 5:
        found[DEATH] = "seriousness: death (ICH E2A) because the event is CTCAE grade 5"
    for i, (c_start, c_end) in enumerate([clause, *linked_clauses]):
        where = "in the same clause" if i == 0 else "in a linked clause that names no other AE"
        for cue in find_cues(text, c_start, c_end, R):
            if cue.criterion == CONGENITAL_ANOMALY:
                continue  # sentence-level, below
            found.setdefault(cue.criterion, f"seriousness: {cue.criterion} (ICH E2A) from '{cue.text}' {where}")
    for cue in find_cues(text, *sentence, rules=R):
        if cue.criterion == CONGENITAL_ANOMALY:
            found.setdefault(cue.criterion, f"seriousness: congenital_anomaly (ICH E2A) from '{cue.text}' in the sentence")
    if ctcae_term and ctcae_term in R.ime_terms:
        found.setdefault(
            IMPORTANT_MEDICAL_EVENT,
            f"seriousness: important_medical_event because '{ctcae_term}' is on the curated IME list",
        )
    return [Criterion(c, found[c]) for c in CRITERIA if c in found]


def criteria_names(criteria: Sequence[Criterion]) -> List[str]:
    return [c.criterion for c in criteria]
