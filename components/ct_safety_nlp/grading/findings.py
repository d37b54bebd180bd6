"""What grading finds: :class:`GradeFinding`, :class:`LabFinding`, and the
precedence between sources (:func:`choose_grade`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Optional, Sequence

__all__ = ["PRECEDENCE", "GradeFinding", "LabFinding", "choose_grade"]

#: sources of a grade found in text, strongest first (see :func:`choose_grade`)
PRECEDENCE = ("explicit", "lab", "outcome", "severity")


@dataclass
class GradeFinding:
    """One piece of grade evidence.

    basis: "explicit" | "lab" | "outcome" | "severity".
    evidence: a human-readable line naming the rule and quoting the text.
    start_char / end_char: offsets of the quoted text in the string searched
        (0 / 0 for :func:`ct_safety_nlp.grading.grade_lab` called directly).
    ctcae_term: the CTCAE term a lab grade belongs to (None for other bases).
    """

    grade: int
    basis: str
    evidence: str
    start_char: int
    end_char: int
    ctcae_term: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class LabFinding:
    """A lab value found in text, with its CTCAE grade.

    ctcae_term: the term the value is graded under (for two-sided analytes the
        side the value lies on); grade None when the value is within the
        reference range (not an adverse event).
    value / unit: as written (unit normalised to a canonical label);
        value_si / unit_si: converted ("10^9/L", "g/L", "mmol/L", "x ULN", "C", "mmHg").
    """

    analyte: str
    ctcae_term: str
    value: float
    unit: str
    value_si: float
    unit_si: str
    grade: Optional[int]
    start_char: int
    end_char: int
    text: str
    evidence: str
    finding: Optional[GradeFinding] = field(default=None, repr=False)

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data.pop("finding", None)
        return data


def choose_grade(findings: Sequence[GradeFinding]) -> Optional[GradeFinding]:
    """The grade to report from all findings for one AE.

    1. A grade-5 outcome (death) wins: an AE that led to death is grade 5.
    2. Explicit grades next (the highest stated).
    3. Lab and outcome findings: the highest of them (both are CTCAE criteria;
       CTCAE assigns the highest grade whose criteria are met).
    4. Severity words only when nothing else is present.
    None when ``findings`` is empty.
    """
    findings = [f for f in findings if f is not None]
    for f in findings:
        if f.basis not in PRECEDENCE:
            raise ValueError(f"unknown grade basis {f.basis!r}; expected one of {PRECEDENCE}")
    deaths = [f for f in findings if f.basis == "outcome" and f.grade == 5]
    if deaths:
        return deaths[0]
    explicit = [f for f in findings if f.basis == "explicit"]
    if explicit:
        return max(explicit, key=lambda f: f.grade)
    objective = [f for f in findings if f.basis in ("lab", "outcome")]
    if objective:
        # ties: the lab finding (it carries the term and the number)
        return max(objective, key=lambda f: (f.grade, f.basis == "lab"))
    severity = [f for f in findings if f.basis == "severity"]
    if severity:
        return max(severity, key=lambda f: f.grade)
    return None
