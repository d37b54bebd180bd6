"""The grade of one AE mention, from the text of its own grading window.

Each mention is graded from its clause, cut between it and its neighbouring
mentions at the first coordinator ("and", "or", ",", "with") of each gap, so
"mild nausea and moderate vomiting" grade 1 and 2; a grade after "all" /
"each" ("..., all grade 1") applies to every mention of the clause, and one
before a group noun ("grade 3-4 adverse events were X and Y") to every
mention after it. Then the precedence of :func:`ct_safety_nlp.grading.choose_grade`
(explicit > lab > outcome > severity), and two rules from the workbook's
grade texts: the criteria they state, met in the clause or the clauses linked
to it (interventions, ADL limitation, relief by rest, % BSA, stools over
baseline, ...: :func:`ct_safety_nlp.grading.criteria_grade`), which outrank a
severity word but not an explicit, lab or outcome grade; and a term's lowest
defined grade (when nothing graded it). Precedence in all: death >
explicit > lab / outcome > criterion > severity > minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..grading import (
    GradeFinding,
    GradingRules,
    choose_grade,
    criteria_grade,
    find_explicit_grades,
    find_outcome_grade,
    find_severity_grade,
    minimum_grade,
)
from ..kb import CtcaeKB
from .mentions import Mention

__all__ = ["GradeDecision", "decide_grade", "grading_window", "linked_clauses"]

Offsets = Tuple[int, int]


def linked_clauses(clauses: Sequence[Offsets], mentions: Sequence[Mention]) -> Dict[Offsets, List[Offsets]]:
    """Clauses without an AE mention -> the nearest preceding clause with one (else the next)."""
    has_ae = [any(c[0] <= m.start < c[1] for m in mentions) for c in clauses]
    linked: Dict[Offsets, List[Offsets]] = {}
    for i, clause in enumerate(clauses):
        if has_ae[i]:
            continue
        before = [j for j in range(i) if has_ae[j]]
        after = [j for j in range(i + 1, len(clauses)) if has_ae[j]]
        owner = before[-1] if before else (after[0] if after else None)
        if owner is not None:
            linked.setdefault(clauses[owner], []).append(clause)
    return linked


def grading_window(text: str, mention: Mention, clause: Offsets, in_sentence: Sequence[Mention], rules: GradingRules) -> Offsets:
    """The mention's clause, cut between it and its neighbours at the first coordinator of each gap."""
    # only mentions with a CTCAE term cut windows: a span the KB cannot name
    # (a model span "G2" or "the patient") must not take a grade word from its neighbour
    others = [m for m in in_sentence if m is not mention and m.match is not None and clause[0] <= m.start < clause[1]]
    prev = [m for m in others if m.end <= mention.start]
    nxt = [m for m in others if m.start >= mention.end]
    start, end = clause
    if prev:
        p_end = max(m.end for m in prev)
        cut = rules.coordinator.search(text, p_end, mention.start)
        start = cut.end() if cut else p_end
    if nxt:
        n_start = min(m.start for m in nxt)
        cut = rules.coordinator.search(text, mention.end, n_start)
        end = cut.start() if cut else n_start
    return max(clause[0], start), min(clause[1], end)


def grade_findings(text: str, mention: Mention, clause: Offsets, in_sentence: Sequence[Mention], rules: GradingRules) -> List[GradeFinding]:
    """Every grade finding for the mention: explicit, distributive, lab, outcome, severity."""
    w_start, w_end = grading_window(text, mention, clause, in_sentence, rules)
    window = text[w_start:w_end]

    def shift(f: GradeFinding) -> GradeFinding:
        return GradeFinding(f.grade, f.basis, f.evidence, f.start_char + w_start, f.end_char + w_start)

    findings = [shift(f) for f in find_explicit_grades(window, rules)]
    # distributive grades: "..., all grade 1" covers every mention of the clause;
    # "grade 3-4 adverse events were X and Y" covers every mention after it
    for f in find_explicit_grades(text[clause[0] : clause[1]], rules):
        a, b = f.start_char + clause[0], f.end_char + clause[0]
        if any(g.start_char == a for g in findings):
            continue
        if rules.distributive.search(text[clause[0] : a]) or (rules.group_noun.match(text, b, clause[1]) and a < mention.start):
            findings.append(GradeFinding(f.grade, f.basis, f.evidence, a, b))
    for lab in mention.labs:
        if lab.grade is not None:
            findings.append(GradeFinding(lab.grade, "lab", lab.evidence, lab.start_char, lab.end_char))
    for finder in (find_outcome_grade, find_severity_grade):
        f = finder(window, rules)
        if f is not None:
            findings.append(shift(f))
    return findings


@dataclass
class GradeDecision:
    grade: Optional[int]
    basis: Optional[str]  # explicit | lab | outcome | severity | criterion | minimum | None
    evidence: List[str]


def decide_grade(
    text: str,
    mention: Mention,
    clause: Offsets,
    in_sentence: Sequence[Mention],
    kb: CtcaeKB,
    rules: GradingRules,
    linked: Sequence[Offsets] = (),
) -> GradeDecision:
    """The mention's grade, basis and evidence lines (None for a mention without a
    CTCAE term). ``linked``: the clauses after the mention's that hold no AE of
    their own ("Fatigue is relieved by rest; still working part time"), read for
    the grade texts' criteria."""
    if mention.match is None:
        return GradeDecision(None, None, [])
    term = mention.match.term
    grades = (kb.term(term) or {}).get("grades") or {}
    evidence: List[str] = []
    best = choose_grade(grade_findings(text, mention, clause, in_sentence, rules))
    grade, basis = (best.grade, best.basis) if best is not None else (None, None)
    if basis in (None, "severity") and grades:
        # the grade texts' criteria outrank a severity word ("severe fatigue, relieved by rest" is grade 1)
        segments = [text[clause[0] : clause[1]]] + [text[a:b] for a, b in linked]
        crit = criteria_grade(segments, term, grades, rules)
        if crit is not None:
            grade, basis = crit[0], "criterion"
            evidence.append(crit[1])
            best = None
    if best is not None:
        evidence.append(best.evidence)
    if grade is None:
        floor = minimum_grade(grades) if grades else None
        if floor is not None:
            grade, basis = floor, "minimum"
            evidence.append(f"grade {floor} (minimum): CTCAE defines no grade below {floor} for {term}")
    return GradeDecision(grade, basis, evidence)
