"""The clinical-study-report AE tables, from episodes (text or AE table rows)
and the safety population. Pure functions over plain data.

Counting rules (the usual CSR conventions, e.g. CDISC pilot Table 14-5.01):

* only treatment-emergent episodes (``teae == "Y"``) of subjects in the
  safety population (SAFFL = Y) count;
* denominators: the safety population of each arm (actual arm TRT01A / ARM),
  subjects with no AE included (``population.csv``);
* each subject is counted once per term, once per SOC and once overall, at
  the worst grade of the episodes counted there; ``events`` counts episodes;
* a worst grade is *missing* only when none of the subject's episodes there
  has a grade (its own ``grade_missing`` column, never folded into grade 1);
* percent = 100 * n / N rounded half up to one decimal (2/86 -> 2.3, 1/6 ->
  16.7); shown as ``n (%)``, and ``0`` alone for none;
* order: SOCs by descending number of subjects over all arms, then terms
  within each by the same, ties alphabetically (case-insensitive); arms
  alphabetically.

Overview categories (subjects with at least one TEAE that is ...):
``any_teae``; ``related`` (suspect drug named / AEREL related, possible,
probable); ``serious``; ``grade_3_plus`` (worst grade >= 3);
``dose_modified_or_discontinued`` (action DOSE REDUCED, DOSE INCREASED,
DRUG INTERRUPTED or DRUG WITHDRAWN); ``discontinued`` (DRUG WITHDRAWN);
``fatal`` (outcome FATAL, grade 5 or death).
"""

from __future__ import annotations

import csv
import io
from collections import OrderedDict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ...fileio import write_atomic
from ..inputs import Subject
from .episodes import Episode

__all__ = [
    "arms_of", "percent", "n_pct", "population_table", "overview_table", "teae_by_term", "teae_by_soc",
    "teae_by_grade", "write_csv", "markdown_table", "OVERVIEW_CATEGORIES", "TERM_FIELDS", "SOC_FIELDS", "GRADE_FIELDS",
]

OVERVIEW_CATEGORIES = OrderedDict(
    [
        ("any_teae", "Subjects with any TEAE"),
        ("related", "... related to study treatment"),
        ("serious", "... serious"),
        ("grade_3_plus", "... grade 3 or higher"),
        ("dose_modified_or_discontinued", "... leading to dose modification or discontinuation"),
        ("discontinued", "... leading to discontinuation"),
        ("fatal", "... fatal"),
    ]
)
MODIFYING_ACTIONS = ("DOSE REDUCED", "DOSE INCREASED", "DRUG INTERRUPTED", "DRUG WITHDRAWN")
TERM_FIELDS = ("arm", "soc", "term", "subjects", "percent", "subjects_grade_3plus", "events")
SOC_FIELDS = ("arm", "soc", "subjects", "percent", "subjects_grade_3plus", "events")
GRADE_FIELDS = ("arm", "soc", "term", "subjects", "grade_1", "grade_2", "grade_3", "grade_4", "grade_5", "grade_missing")


def arms_of(subjects: Dict[str, Subject]) -> List[str]:
    return sorted({s.arm for s in subjects.values() if s.saffl}, key=str.casefold)


def percent(n: int, total: int) -> str:
    if total <= 0:
        return ""
    value = (Decimal(100) * Decimal(n) / Decimal(total)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value:.1f}"


def n_pct(n: int, total: int) -> str:
    return "0" if n == 0 else f"{n} ({percent(n, total)}%)"


def _population(subjects: Dict[str, Subject]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for s in subjects.values():
        if s.saffl:
            counts[s.arm] = counts.get(s.arm, 0) + 1
    return counts


def population_table(subjects: Dict[str, Subject]) -> List[Dict[str, Any]]:
    counts = _population(subjects)
    return [{"arm": arm, "subjects": counts[arm]} for arm in arms_of(subjects)]


def _counted(episodes: Iterable[Episode], subjects: Dict[str, Subject]) -> List[Episode]:
    return [e for e in episodes if e.teae == "Y" and e.usubjid in subjects and subjects[e.usubjid].saffl]


def overview_table(episodes: Sequence[Episode], subjects: Dict[str, Subject]) -> List[Dict[str, Any]]:
    """Rows (arm, category, subjects, percent); ``_episodes`` lists the ids behind each count."""
    counted = _counted(episodes, subjects)
    tests = {
        "any_teae": lambda e: True,
        "related": lambda e: e.related,
        "serious": lambda e: e.serious,
        "grade_3_plus": lambda e: e.worst_grade is not None and e.worst_grade >= 3,
        "dose_modified_or_discontinued": lambda e: e.action_taken in MODIFYING_ACTIONS,
        "discontinued": lambda e: e.action_taken == "DRUG WITHDRAWN",
        "fatal": lambda e: e.fatal or e.outcome == "FATAL" or e.worst_grade == 5,
    }
    pop = _population(subjects)
    rows = []
    for arm in arms_of(subjects):
        for cat in OVERVIEW_CATEGORIES:
            hits = [e for e in counted if e.arm == arm and tests[cat](e)]
            n = len({e.usubjid for e in hits})
            rows.append({"arm": arm, "category": cat, "subjects": n, "percent": percent(n, pop[arm]), "_episodes": [e.episode_id for e in hits]})
    return rows


def _worst(grades: Iterable[Optional[int]]) -> Optional[int]:
    known = [g for g in grades if g is not None]
    return max(known) if known else None


def _groups(counted: Sequence[Episode]) -> Tuple[List[str], Dict[str, List[str]]]:
    """SOC order and, per SOC, term order (descending subjects over all arms, then name)."""
    soc_subj: Dict[str, set] = {}
    term_subj: Dict[Tuple[str, str], set] = {}
    for e in counted:
        soc_subj.setdefault(e.soc, set()).add(e.usubjid)
        term_subj.setdefault((e.soc, e.term), set()).add(e.usubjid)
    socs = sorted(soc_subj, key=lambda s: (-len(soc_subj[s]), s.casefold()))
    terms = {s: sorted((t for (s2, t) in term_subj if s2 == s), key=lambda t: (-len(term_subj[(s, t)]), t.casefold())) for s in socs}
    return socs, terms


def _cell(episodes: List[Episode], total: int) -> Dict[str, Any]:
    per_subject: Dict[str, List[Optional[int]]] = {}
    for e in episodes:
        per_subject.setdefault(e.usubjid, []).append(e.worst_grade)
    worst = {s: _worst(g) for s, g in per_subject.items()}
    n = len(worst)
    return {
        "subjects": n,
        "percent": percent(n, total),
        "subjects_grade_3plus": sum(1 for g in worst.values() if g is not None and g >= 3),
        "events": len(episodes),
        "_worst": worst,
        "_episodes": [e.episode_id for e in episodes],
    }


def teae_by_term(episodes: Sequence[Episode], subjects: Dict[str, Subject]) -> List[Dict[str, Any]]:
    """One row per (arm, soc, term) for every (soc, term) with a TEAE in any arm."""
    counted = _counted(episodes, subjects)
    pop = _population(subjects)
    socs, terms = _groups(counted)
    rows = []
    for soc in socs:
        for term in terms[soc]:
            for arm in arms_of(subjects):
                eps = [e for e in counted if e.arm == arm and e.soc == soc and e.term == term]
                rows.append({"arm": arm, "soc": soc, "term": term, **_cell(eps, pop[arm])})
    return rows


def teae_by_soc(episodes: Sequence[Episode], subjects: Dict[str, Subject]) -> List[Dict[str, Any]]:
    counted = _counted(episodes, subjects)
    pop = _population(subjects)
    socs, _ = _groups(counted)
    rows = []
    for soc in socs:
        for arm in arms_of(subjects):
            eps = [e for e in counted if e.arm == arm and e.soc == soc]
            rows.append({"arm": arm, "soc": soc, **_cell(eps, pop[arm])})
    return rows


def _grade_row(arm: str, soc: str, term: str, eps: List[Episode], total: int) -> Dict[str, Any]:
    cell = _cell(eps, total)
    row = {"arm": arm, "soc": soc, "term": term, "subjects": cell["subjects"], "_episodes": cell["_episodes"]}
    for g in range(1, 6):
        row[f"grade_{g}"] = sum(1 for w in cell["_worst"].values() if w == g)
    row["grade_missing"] = sum(1 for w in cell["_worst"].values() if w is None)
    return row


def teae_by_grade(episodes: Sequence[Episode], subjects: Dict[str, Subject]) -> List[Dict[str, Any]]:
    """Subjects by worst grade: an overall row (soc and term empty), then per
    SOC (term empty) followed by its terms; one row per arm each."""
    counted = _counted(episodes, subjects)
    pop = _population(subjects)
    socs, terms = _groups(counted)
    arms = arms_of(subjects)
    rows = [_grade_row(arm, "", "", [e for e in counted if e.arm == arm], pop[arm]) for arm in arms]
    for soc in socs:
        rows += [_grade_row(arm, soc, "", [e for e in counted if e.arm == arm and e.soc == soc], pop[arm]) for arm in arms]
        for term in terms[soc]:
            rows += [
                _grade_row(arm, soc, term, [e for e in counted if e.arm == arm and e.soc == soc and e.term == term], pop[arm])
                for arm in arms
            ]
    return rows


# --------------------------------------------------------------------------- output


def write_csv(path: str, rows: Sequence[Dict[str, Any]], fields: Sequence[str]) -> str:
    """Write rows atomically (``fileio.write_atomic``); keys starting with
    ``_`` (link lists) are not written."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
    write_atomic(path, buf.getvalue())
    return path


def write_text(path: str, text: str) -> str:
    write_atomic(path, text)
    return path


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def esc(v):
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def tables_markdown(subjects: Dict[str, Subject], overview, by_term, by_soc, by_grade, title: str = "Treatment-emergent adverse events") -> str:
    """The tables as one Markdown document (wide: one column per arm)."""
    arms = arms_of(subjects)
    pop = _population(subjects)
    head = [""] + [f"{a} (N={pop[a]})" for a in arms]
    out = [f"# {title}", "", "Safety population; subjects counted once per row at the worst grade; n (%) of the arm's N.", ""]
    out.append("## Overview\n")
    ov = {(r["arm"], r["category"]): r["subjects"] for r in overview}
    out.append(markdown_table(head, [[label] + [n_pct(ov[(a, c)], pop[a]) for a in arms] for c, label in OVERVIEW_CATEGORIES.items()]))
    out.append("\n## Incidence by system organ class and term\n")
    soc_rows = {(r["arm"], r["soc"]): r for r in by_soc}
    term_rows = {(r["arm"], r["soc"], r["term"]): r for r in by_term}
    body = []
    for soc in dict.fromkeys(r["soc"] for r in by_soc):
        body.append([f"**{soc}**"] + [n_pct(soc_rows[(a, soc)]["subjects"], pop[a]) for a in arms])
        for term in dict.fromkeys(r["term"] for r in by_term if r["soc"] == soc):
            body.append([f"&nbsp;&nbsp;{term}"] + [n_pct(term_rows[(a, soc, term)]["subjects"], pop[a]) for a in arms])
    out.append(markdown_table(["System organ class / term"] + head[1:], body))
    out.append("\n## Subjects by worst grade\n")
    gh = ["System organ class / term", "arm", "1", "2", "3", "4", "5", "missing"]
    body = []
    for r in by_grade:
        label = "Any TEAE" if not r["soc"] else (r["term"] or f"**{r['soc']}**")
        body.append([label, r["arm"]] + [r[f"grade_{g}"] for g in range(1, 6)] + [r["grade_missing"]])
    out.append(markdown_table(gh, body))
    out.append("\n'missing': no episode of the subject there has a grade.\n")
    return "\n".join(out)
