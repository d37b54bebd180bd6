"""Grades from the CTCAE grade texts of a term, for mentions that nothing
(or only a severity word) graded:

* :func:`criteria_grade`: the criteria the grade texts state, found in the AE's
  clause: ADL limitation (instrumental / self-care), relief by rest, eating
  habits and oral intake, "asymptomatic", no intervention needed, occasional or
  regular laxatives (``criteria`` in ``resources/grading.yml``), counted
  criteria compared with the bands of the grade texts (% body surface area,
  stools per day over baseline: ``counted_criteria``), and the interventions
  below; each sets the lowest grade whose text for the term states it, the
  highest of those met wins, and the evidence quotes the grade text;
* :func:`intervention_grade`: an intervention named in the AE's clause
  (dialysis, intubation / ventilation, transfusion, tube feeding / TPN,
  hospitalisation) sets the lowest grade whose CTCAE text names that
  intervention for the term ("acute kidney injury requiring dialysis" -> 4);
* :func:`minimum_grade`: a term with no grade 1 and no grade 2 in CTCAE
  (febrile neutropenia, sepsis, hepatic failure, ...) gets its lowest
  defined grade.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

from .rules import GradingRules, default_grading_rules

__all__ = ["criteria_grade", "intervention_grade", "minimum_grade"]

_COUNT_WORDS = {"once": 1, "one": 1, "twice": 2, "two": 2, "three": 3}


def criteria_grade(
    segments: Sequence[str], term: str, grades: Dict[str, Optional[str]], rules: Optional[GradingRules] = None
) -> Optional[Tuple[int, str]]:
    """(grade, evidence) from the criteria of the grade texts ``grades`` of ``term``
    met in ``segments`` (the AE's clause, then the clauses linked to it); the
    highest grade of the criteria met, None if none is met."""
    R = rules or default_grading_rules()
    met: List[Tuple[int, str]] = []
    for seg in segments:
        cued = R.any_cue.search(seg) is not None
        hit = intervention_grade(seg, term, grades, R) if cued else None
        if hit is not None:
            met.append(hit)
        for name, cue, words in R.criteria if cued else ():
            found = cue.search(seg)
            if found is None:
                continue
            g = _lowest(grades, lambda t: words.search(t) is not None)
            if g is not None:
                met.append((g, _evidence(g, name, found.group(0), term, grades)))
        for counted in R.counted_criteria:
            value = _counted_value(seg, counted)
            if value is None:
                continue
            n, quote = value
            g = _lowest(grades, lambda t: any(_in_band(n, m) for m in counted["band"].finditer(t)))
            if g is not None:
                met.append((g, _evidence(g, f"{counted['name']} {n:g}", quote, term, grades)))
    if not met:
        return None
    return max(met, key=lambda m: m[0])


def _lowest(grades: Dict[str, Optional[str]], test) -> Optional[int]:
    for g in range(1, 6):
        text = grades.get(str(g))
        if text and test(text):
            return g
    return None


def _evidence(g: int, name: str, quote: str, term: str, grades: Dict[str, Optional[str]]) -> str:
    return f"grade {g} (criterion, {name}): '{quote}' matches CTCAE grade {g} text of {term}: \"{grades[str(g)][:90]}\""


def _number(text: str) -> float:
    low = text.lower()
    return float(_COUNT_WORDS[low]) if low in _COUNT_WORDS else float(text)


def _counted_value(seg: str, counted) -> Optional[Tuple[float, str]]:
    """The number a counted criterion reads in ``seg`` (value, or count minus a stated baseline)."""
    if counted["value"] is not None:
        m = counted["value"].search(seg)
        if m is not None:
            n = next(v for k, v in m.groupdict().items() if v is not None)
            return _number(n), m.group(0)
    if counted["count"] is not None and counted["baseline"] is not None:
        c, b = counted["count"].search(seg), counted["baseline"].search(seg)
        if c is not None and b is not None:
            return _number(c.group("n")) - _number(b.group("n")), f"{c.group(0)} ... {b.group(0)}"
    return None


def _in_band(n: float, m: "re.Match") -> bool:
    op, a, b = m.group("op"), float(m.group("a")), m.group("b")
    if b is not None:
        return a <= n <= float(b)
    return {
        "<": n < a, "<=": n <= a, "≤": n <= a, ">": n > a, ">=": n >= a, "≥": n >= a, None: n == a,
    }[op]


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
