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
  CTCAE term is on :data:`IME_TERMS`, a short curated list of terms that the
  EMA Important Medical Event list names (sepsis, anaphylaxis, seizure,
  stroke, myocardial infarction, thromboembolism, respiratory / hepatic /
  heart failure, acute kidney injury, febrile neutropenia, pneumonitis, ...).

A negated or historical mention is never serious (it did not happen during
the trial); a speculated one keeps its criteria (a suspected SAE is still
reported as one).
"""

import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

DEATH = "death"
LIFE_THREATENING = "life_threatening"
HOSPITALIZATION = "hospitalization"
DISABILITY = "disability"
CONGENITAL_ANOMALY = "congenital_anomaly"
IMPORTANT_MEDICAL_EVENT = "important_medical_event"
CRITERIA = (DEATH, LIFE_THREATENING, HOSPITALIZATION, DISABILITY, CONGENITAL_ANOMALY, IMPORTANT_MEDICAL_EVENT)

#: CTCAE v5.0 terms whose events we always treat as important medical events;
#: each is (or maps to) a preferred term of the EMA Important Medical Event list.
IME_TERMS = frozenset(
    {
        "Febrile neutropenia",
        "Sepsis",
        "Anaphylaxis",
        "Seizure",
        "Stroke",
        "Transient ischemic attacks",
        "Myocardial infarction",
        "Cardiac arrest",
        "Heart failure",
        "Ventricular fibrillation",
        "Ventricular tachycardia",
        "Thromboembolic event",
        "Respiratory failure",
        "Adult respiratory distress syndrome",
        "Pneumonitis",
        "Hepatic failure",
        "Acute kidney injury",
        "Stevens-Johnson syndrome",
        "Toxic epidermal necrolysis",
        "Pancreatitis",
        "Colonic perforation",
        "Gastric perforation",
        "Small intestinal perforation",
        "Intracranial hemorrhage",
        "Tumor lysis syndrome",
        "Hemolytic uremic syndrome",
        "Thrombotic thrombocytopenic purpura",
        "Disseminated intravascular coagulation",
        "Encephalopathy",
        "Guillain-Barre syndrome",
        "Reversible posterior leukoencephalopathy syndrome",
        "Death NOS",
        "Sudden death NOS",
    }
)

_W = r"(?<![\w-])"
_E = r"(?![\w-])"

_CUES: List[Tuple[str, str]] = [
    (DEATH, _W + r"(?:died|dies|death|deaths|fatal|fatally|lethal|passed\s+away|succumbed|expired)" + _E),
    (LIFE_THREATENING, _W + r"life[\s-]+threatening" + _E),
    (
        HOSPITALIZATION,
        _W
        + r"(?:admitted|admission|re-?admitted|readmission|hospitali[sz]ed|hospitali[sz]ations?|"
        r"in-?patient|intensive\s+care(?:\s+unit)?|ICU)" + _E,
    ),
    (
        DISABILITY,
        _W
        + r"(?:(?:persistent|permanent|significant|lasting|residual)\s+(?:disability|incapacity|impairment|damage)|"
        r"disability|incapacity|incapacitated|disabling)" + _E,
    ),
    (CONGENITAL_ANOMALY, _W + r"(?:congenital\s+(?:anomal(?:y|ies)|malformations?|defects?)|birth\s+defects?|born\s+with)" + _E),
    (
        IMPORTANT_MEDICAL_EVENT,
        _W + r"(?:serious(?:\s+adverse\s+(?:events?|reactions?))?|SAEs?|medically\s+significant|important\s+medical\s+events?)" + _E,
    ),
]
_CUE_RES = [(c, re.compile(p, re.IGNORECASE)) for c, p in _CUES]

# A cue preceded by one of these (within a few words) does not count.
_NEGATED_BEFORE = re.compile(
    r"(?:\bno|\bnot|\bwithout|\bnon|\bnever|\bnor|\bdid\s+not\s+(?:require|need|lead\s+to|result\s+in)|"
    r"\bavoid(?:ed|ing)?|\bprevent(?:ed|ing)?)(?:[\s-]+\w+){0,2}[\s-]*$",
    re.IGNORECASE,
)
_PLANNED_BEFORE = re.compile(r"\b(?:elective|planned|scheduled|routine|pre-?planned)\s+(?:\w+\s+)?$", re.IGNORECASE)
_PLANNED_AFTER = re.compile(
    r"^\s+(?:to|into|in)\s+(?:the\s+|this\s+)?(?:study|trial|protocol)\b|^\s+for\s+(?:elective|planned|scheduled|"
    r"chemotherapy|infusion|administration|treatment\s+administration|the\s+infusion|surgery\s+as\s+planned)\b",
    re.IGNORECASE,
)
_CLAUSE_SPLIT = re.compile(
    r";\s*|:\s*|,?\s+but\s+|,?\s+whereas\s+|,?\s+while\s+|,?\s+although\s+|,\s+which\s+|"
    r"(?:,\s+|\s+)and\s+(?=(?:he|she|they|it|we|the\s+patient|patient|there)\b)",
    re.IGNORECASE,
)


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


def find_cues(text: str, start: int = 0, end: Optional[int] = None) -> List[Cue]:
    """Seriousness cues in text[start:end] that are neither negated nor planned."""
    end = len(text) if end is None else end
    cues = []
    for criterion, rx in _CUE_RES:
        for m in rx.finditer(text, start, end):
            before = text[max(start, m.start() - 40) : m.start()]
            if _NEGATED_BEFORE.search(before):
                continue
            if criterion == IMPORTANT_MEDICAL_EVENT and re.search(r"non[\s-]*$", before, re.IGNORECASE):
                continue
            if criterion == HOSPITALIZATION:
                if _PLANNED_BEFORE.search(before) or _PLANNED_AFTER.search(text[m.end() : min(end, m.end() + 40)]):
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
    ime_terms: Iterable[str] = IME_TERMS,
    linked_clauses: Sequence[Tuple[int, int]] = (),
) -> List[Criterion]:
    """ICH E2A criteria met by one AE mention.

    text: the document text; clause / sentence: (start, end) of the mention's
    clause and sentence; ctcae_term / grade: the normalised term and grade.
    linked_clauses: clauses of the sentence that name no AE of their own and so
    speak about this one ("anaphylaxis occurred ... and the patient was
    hospitalised overnight"); the reasoner links such a clause to the nearest
    preceding clause with an AE (else the next one).
    Returns the criteria in :data:`CRITERIA` order, each with one evidence line.
    """
    if negated or historical:
        return []
    found = {}
    if grade == 5:
        found[DEATH] = "seriousness: death (ICH E2A) because the event is CTCAE grade 5"
    for i, (c_start, c_end) in enumerate([clause, *linked_clauses]):
        where = "in the same clause" if i == 0 else "in a linked clause that names no other AE"
        for cue in find_cues(text, c_start, c_end):
            if cue.criterion == CONGENITAL_ANOMALY:
                continue  # sentence-level, below
            found.setdefault(cue.criterion, f"seriousness: {cue.criterion} (ICH E2A) from '{cue.text}' {where}")
    for cue in find_cues(text, *sentence):
        if cue.criterion == CONGENITAL_ANOMALY:
            found.setdefault(cue.criterion, f"seriousness: congenital_anomaly (ICH E2A) from '{cue.text}' in the sentence")
    if ctcae_term and ctcae_term in set(ime_terms):
        found.setdefault(
            IMPORTANT_MEDICAL_EVENT,
            f"seriousness: important_medical_event because '{ctcae_term}' is on the curated IME list",
        )
    return [Criterion(c, found[c]) for c in CRITERIA if c in found]


def criteria_names(criteria: Sequence[Criterion]) -> List[str]:
    return [c.criterion for c in criteria]
