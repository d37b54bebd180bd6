"""The modified toxicity probability interval-2 (mTPI-2) design.

Why this second model-assisted design: mTPI-2 is, like BOIN, a design whose
whole conduct is a pre-computed decision table a committee can read (escalate /
stay / de-escalate / de-escalate-and-exclude for each (patients, DLTs)), it is
widely used in practice (and is numerically the same design as the Keyboard
design of Yan, Mandrekar & Yuan 2017), and its published decision table can be
checked cell by cell. It differs from BOIN where committees notice: it reads
the whole posterior over equal-width toxicity intervals rather than a point
estimate against two boundaries. CRM would need a dose-toxicity model and a
skeleton, which a simple, auditable table-driven tool should not impose.

Sources
-------
* Guo W, Wang S-J, Yang S, Lynn H, Ji Y (2017). A Bayesian interval dose-finding
  design addressing Ockham's razor: mTPI-2. *Contemporary Clinical Trials*
  58:23-33, doi:10.1016/j.cct.2017.04.006 (decision rule; Figure 3 is the
  decision table for p_T = 0.3, epsilon1 = epsilon2 = 0.05, reproduced in
  ``tests/trial/test_escalation_designs.py`` as transcribed by the R package
  ``escalation``'s ``tests/testthat/test_mtpi2.R``).
* Ji Y, Liu P, Li Y, Bekele BN (2010). A modified toxicity probability interval
  method for dose-finding trials. *Clinical Trials* 7(6):653-663 (the isotonic
  MTD selection that mTPI-2 keeps).

Rules, for target p_T and the equivalence interval EI = [p_T - e1, p_T + e2]:

* Cut [0, 1] into EI and intervals of the same width e1 + e2 below and above it
  (the last one on each side truncated at 0 / 1).
* With y DLTs in n patients at the current dose and a Beta(1, 1) prior, the
  posterior is Beta(1 + y, 1 + n - y). The unit probability mass of an interval
  is its posterior probability divided by its width; the interval with the
  largest mass decides: below EI escalate, EI stay, above EI de-escalate (ties
  in that order of preference).
* Exclusion: if P(p > p_T | data) > 0.95 the current dose and all higher doses
  are excluded (decision "DU"); the trial stops when dose 1 is excluded; never
  escalate into an excluded dose.
* MTD at the end: isotonic regression (weights = inverse posterior variance) of
  the Beta(1 + y, 1 + n - y) posterior means over the tested, non-excluded doses;
  the dose closest to p_T; among ties, the highest if their estimate is below
  p_T, else the lowest.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from ._common import EscalationError, beta_cdf_int, check_target, pava, prob_above


def mtpi2_intervals(target: float, epsilon1: float = 0.05, epsilon2: float = 0.05) -> List[Tuple[float, float, str]]:
    """[(lower, upper, "under"|"equivalence"|"over")] covering [0, 1]."""
    phi = check_target(target)
    if not (0 < epsilon1 < phi and 0 < epsilon2 < 1 - phi):
        raise EscalationError(f"mTPI-2: epsilons must keep the equivalence interval inside (0, 1), got e1={epsilon1:g}, e2={epsilon2:g}")
    width = epsilon1 + epsilon2
    lo, hi = phi - epsilon1, phi + epsilon2
    out = [(lo, hi, "equivalence")]
    upper = lo
    while upper > 1e-12:
        out.append((max(0.0, upper - width), upper, "under"))
        upper -= width
    lower = hi
    while lower < 1 - 1e-12:
        out.append((lower, min(1.0, lower + width), "over"))
        lower += width
    return sorted(out)


def mtpi2_action(n: int, y: int, target: float, epsilon1: float = 0.05, epsilon2: float = 0.05, exclusion_cutoff: float = 0.95) -> Dict:
    """The mTPI-2 table entry for y DLTs in n patients: ``{"action": "escalate" |
    "stay" | "de-escalate", "exclude": bool, "upm": {...}}``."""
    if n < 1 or not 0 <= y <= n:
        raise EscalationError(f"mTPI-2: need 0 <= DLTs <= patients and patients >= 1, got {y}/{n}")
    best = {"under": 0.0, "equivalence": 0.0, "over": 0.0}
    for lo, hi, kind in mtpi2_intervals(target, epsilon1, epsilon2):
        mass = beta_cdf_int(hi, 1 + y, 1 + n - y) - beta_cdf_int(lo, 1 + y, 1 + n - y)
        best[kind] = max(best[kind], mass / (hi - lo))
    top = max(best.values())
    action = "escalate" if best["under"] == top else ("stay" if best["equivalence"] == top else "de-escalate")
    exclude = prob_above(target, n, y) > exclusion_cutoff
    return {"action": action, "exclude": exclude, "upm": {k: round(v, 6) for k, v in best.items()}}


def mtpi2_decision_table(target: float, max_n: int = 30, *, epsilon1: float = 0.05, epsilon2: float = 0.05, exclusion_cutoff: float = 0.95) -> Dict:
    """The decision table {n: [code per y = 0..n]} with codes E, S, D, DU."""
    table = {}
    for n in range(1, int(max_n) + 1):
        row = []
        for y in range(n + 1):
            a = mtpi2_action(n, y, target, epsilon1, epsilon2, exclusion_cutoff)
            row.append("DU" if a["exclude"] else {"escalate": "E", "stay": "S", "de-escalate": "D"}[a["action"]])
        table[n] = row
    return {"target": float(target), "epsilon1": epsilon1, "epsilon2": epsilon2, "exclusion_cutoff": exclusion_cutoff, "table": table}


def mtpi2_decide(n_d: int, y_d: int, dose: int, num_doses: int, table: Dict, *, next_excluded: bool = False) -> Dict:
    """The mTPI-2 decision at the current dose (1-based), from a decision table."""
    rows = table["table"]
    if n_d not in rows:  # beyond the pre-computed table: the same rule, computed on demand
        a = mtpi2_action(n_d, y_d, table["target"], table["epsilon1"], table["epsilon2"], table["exclusion_cutoff"])
        row = None
        code = "DU" if a["exclude"] else {"escalate": "E", "stay": "S", "de-escalate": "D"}[a["action"]]
    else:
        row = rows[n_d]
        code = row[y_d]
    rate = f"{y_d}/{n_d}"
    bound = {"n": n_d, "table_row": row}
    if code == "E":
        if dose == num_doses:
            return {"action": "stay", "eliminate": False, "boundary": bound, "rule": f"{rate} DLTs: table says E, but dose {dose} is the top dose: stay"}
        if next_excluded:
            return {"action": "stay", "eliminate": False, "boundary": bound, "rule": f"{rate} DLTs: table says E, but dose {dose + 1} is excluded: stay"}
        return {"action": "escalate", "eliminate": False, "boundary": bound, "rule": f"{rate} DLTs: table says E (underdosing interval has the largest unit probability mass): escalate"}
    if code == "S":
        return {"action": "stay", "eliminate": False, "boundary": bound, "rule": f"{rate} DLTs: table says S (equivalence interval has the largest unit probability mass): stay"}
    exclude = code == "DU"
    why = f"{rate} DLTs: table says {code}" + (f" (P(p > {table['target']:g}) > {table['exclusion_cutoff']:g}: exclude dose {dose} and above)" if exclude else "")
    if dose == 1:
        return {"action": "stay", "eliminate": exclude, "boundary": bound, "rule": f"{why}; dose 1 is the lowest dose" + ("" if exclude else ": stay")}
    return {"action": "de-escalate", "eliminate": exclude, "boundary": bound, "rule": f"{why}: de-escalate"}


def mtpi2_select_mtd(n: Sequence[int], y: Sequence[int], target: float, *, exclusion_cutoff: float = 0.95) -> Dict:
    """mTPI-2's final MTD; same return shape as :func:`boin.boin_select_mtd`."""
    phi = check_target(target)
    num = len(n)
    excluded_from = None
    for i in range(num):
        if n[i] > 0 and prob_above(phi, n[i], y[i]) > exclusion_cutoff:
            excluded_from = i + 1
            break
    estimates: List[Optional[float]] = [None] * num
    if excluded_from == 1:
        return {"mtd": None, "estimates": estimates, "eliminated_from": 1, "rule": f"dose 1 is excluded (P(p > {phi:g}) > {exclusion_cutoff:g}): no MTD"}
    adm = [i for i in range(num) if n[i] > 0 and (excluded_from is None or i + 1 < excluded_from)]
    if not adm:
        return {"mtd": None, "estimates": estimates, "eliminated_from": excluded_from, "rule": "no patients at an admissible dose: no MTD"}
    a = [1 + y[i] for i in adm]
    b = [1 + n[i] - y[i] for i in adm]
    means = [ai / (ai + bi) for ai, bi in zip(a, b)]
    var = [ai * bi / ((ai + bi) ** 2 * (ai + bi + 1)) for ai, bi in zip(a, b)]
    iso = pava(means, [1.0 / v for v in var])
    for k, i in enumerate(adm):
        estimates[i] = iso[k]
    dist = [abs(v - phi) for v in iso]
    low = min(dist)
    tied = [k for k, d in enumerate(dist) if abs(d - low) < 1e-12]
    pstar = sum(iso[k] for k in tied) / len(tied)
    pick = tied[-1] if pstar < phi - 1e-12 else tied[0]
    mtd = adm[pick] + 1
    excl = f"; doses {excluded_from}+ excluded" if excluded_from else ""
    return {"mtd": mtd, "estimates": estimates, "eliminated_from": excluded_from, "rule": f"isotonic estimate {iso[pick]:.3f} at dose {mtd} is the closest to the target {phi:g}{excl}"}
