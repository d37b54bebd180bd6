"""Stated CTCAE grades: "grade 3", "Grade III", "G3", "Gr. 3", "CTCAE grade 2",
"grade 3/4" and "grade 2-3" (the worst of a range: safety reporting counts the
worst case), "grade >= 3" / "grade 3 or higher" (the stated minimum). Tumour
grades ("WHO grade II glioma", "Gleason grade", "histologic grade 3") and "G"
codes that are not grades ("carboxypeptidase G2", "G2/M arrest") are skipped
by the blockers of :class:`GradingRules`."""

from __future__ import annotations

from typing import List, Optional

from ..text import EXPLICIT_GRADE_RE, roman_to_int
from .findings import GradeFinding
from .rules import GradingRules, default_grading_rules

__all__ = ["find_explicit_grades"]


def find_explicit_grades(text: str, rules: Optional[GradingRules] = None) -> List[GradeFinding]:
    """Stated CTCAE grades in ``text``, in text order (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"find_explicit_grades expects a str, got {type(text).__name__}")
    R = rules or default_grading_rules()
    out: List[GradeFinding] = []
    for m in EXPLICIT_GRADE_RE.finditer(text):
        before = text[max(0, m.start() - 25) : m.start()]
        after = text[m.end() : m.end() + 40]
        if R.tumour_before.search(before) or R.tumour_after.search(after):
            continue
        quoted = m.group(0).strip()
        if m.group("gshort"):
            if R.gshort_before.search(before) or R.gshort_after.match(after):
                continue  # "carboxypeptidase G2", "G1 phase", "G2/M arrest"
            grade = int(m.group("gs"))
            out.append(GradeFinding(grade, "explicit", f"explicit: '{quoted}' (grade {grade})", m.start(), m.end()))
            continue
        g1 = roman_to_int(m.group("g1"))
        if m.group("g1").isalpha() and m.group("g1") != m.group("g1").upper():
            continue  # "grade i..." in lower case is prose, not a roman numeral
        if m.group("g2"):
            g2 = roman_to_int(m.group("g2"))
            if not g1 < g2:
                continue
            grade = g2
            evidence = f"explicit: '{quoted}' (range {g1}-{g2}: the worst stated grade, {g2}, is taken)"
        elif m.group("cmp") or m.group("plus"):
            grade = g1
            evidence = f"explicit: '{quoted}' (at least grade {g1}: the stated minimum is taken)"
        else:
            grade = g1
            evidence = f"explicit: '{quoted}' (grade {grade})"
        out.append(GradeFinding(grade, "explicit", evidence, m.start(), m.end()))
    return out
