"""Grades from the CTCAE grade texts of a term, for mentions that nothing
(or only a severity word) graded:

* :func:`intervention_grade`: an intervention named in the AE's clause
  (dialysis, intubation / ventilation, transfusion, tube feeding / TPN,
  hospitalisation) sets the lowest grade whose CTCAE text names that
  intervention for the term ("acute kidney injury requiring dialysis" -> 4);
* :func:`minimum_grade`: a term with no grade 1 and no grade 2 in CTCAE
  (febrile neutropenia, sepsis, hepatic failure, ...) gets its lowest
  defined grade.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from .rules import GradingRules, default_grading_rules

__all__ = ["intervention_grade", "minimum_grade"]


def intervention_grade(
    clause_text: str, term: str, grades: Dict[str, Optional[str]], rules: Optional[GradingRules] = None
) -> Optional[Tuple[int, str]]:
    """(grade, evidence) from an intervention cue in ``clause_text`` that the grade
    texts ``grades`` ({"1": text or None, ...}) of ``term`` name; None if none."""
    R = rules or default_grading_rules()
    for cue, grade_words in R.interventions:
        hit = cue.search(clause_text)
        if not hit:
            continue
        if R.intervention_neg.search(clause_text[max(0, hit.start() - 30) : hit.start()]):
            continue
        for g in range(1, 6):
            gtext = grades.get(str(g))
            if gtext and grade_words.search(gtext):
                return g, f"grade {g} (criterion): '{hit.group(0)}' matches CTCAE grade {g} text of {term}: \"{gtext[:90]}\""
    return None


def minimum_grade(grades: Dict[str, Optional[str]]) -> Optional[int]:
    """The lowest defined grade of a term that has neither grade 1 nor grade 2; else None."""
    if grades.get("1") is None and grades.get("2") is None:
        defined = [int(g) for g, t in grades.items() if t]
        return min(defined) if defined else None
    return None
