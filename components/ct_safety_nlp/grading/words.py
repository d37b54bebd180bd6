"""Outcome and severity words.

``outcome``: death words (died, death, fatal, lethal, succumbed, deceased,
passed away, "grade 5") -> 5; life-threatening / near-fatal -> 4. Negated or
hedged forms ("non-fatal", "no deaths", "not life-threatening", "potentially
fatal", "risk of death", "cell death") are ignored.

``severity``: mild / slight / minor / minimal -> 1, moderate -> 2, severe -> 3;
"mild to moderate" -> 2, "moderate-to-severe" -> 3 (worst). Negated forms
("not severe", "non-severe", "less severe") are ignored. The words are in
:class:`GradingRules` (``resources/grading.yml``).
"""

from __future__ import annotations

from typing import Optional

from .findings import GradeFinding
from .rules import GradingRules, default_grading_rules

__all__ = ["find_outcome_grade", "find_severity_grade"]


def find_outcome_grade(text: str, rules: Optional[GradingRules] = None) -> Optional[GradeFinding]:
    """Death words -> grade 5, life-threatening / near-fatal -> grade 4 (the highest found)."""
    if not isinstance(text, str):
        raise TypeError(f"find_outcome_grade expects a str, got {type(text).__name__}")
    R = rules or default_grading_rules()
    near_spans = [(m.start(), m.end()) for m in R.near_fatal.finditer(text)]
    for m in R.death.finditer(text):
        if any(s <= m.start() < e for s, e in near_spans):
            continue
        if R.outcome_hedges.search(text[max(0, m.start() - 30) : m.start()]):
            continue
        return GradeFinding(5, "outcome", f"outcome: '{m.group(0)}' (death -> CTCAE grade 5)", m.start(), m.end())
    for s, e in near_spans:
        return GradeFinding(4, "outcome", f"outcome: '{text[s:e]}' (near-fatal -> life-threatening, CTCAE grade 4)", s, e)
    for m in R.life_threatening.finditer(text):
        if R.outcome_hedges.search(text[max(0, m.start() - 30) : m.start()]):
            continue
        return GradeFinding(4, "outcome", f"outcome: '{m.group(0)}' (life-threatening -> CTCAE grade 4)", m.start(), m.end())
    return None


def find_severity_grade(text: str, rules: Optional[GradingRules] = None) -> Optional[GradeFinding]:
    """mild -> 1, moderate -> 2, severe -> 3 (the highest found; ranges take the worst)."""
    if not isinstance(text, str):
        raise TypeError(f"find_severity_grade expects a str, got {type(text).__name__}")
    R = rules or default_grading_rules()
    best: Optional[GradeFinding] = None
    for m in R.severity_re.finditer(text):
        if R.severity_neg.search(text[max(0, m.start() - 25) : m.start()]):
            continue
        grade = R.severity_words[m.group("a").lower()]
        if m.group("b"):
            grade = max(grade, R.severity_words[m.group("b").lower()])
        if best is None or grade > best.grade:
            best = GradeFinding(
                grade, "severity",
                f"severity: '{m.group(0)}' -> CTCAE grade {grade} (severity word; used only without explicit, lab or outcome evidence)",
                m.start(), m.end(),
            )
    return best
