"""Shared pieces of the dose-escalation designs: the error type, exact Beta tail
probabilities for integer parameters, counts per dose, weighted isotonic
regression (pool-adjacent-violators) and the decision record.

Everything here is plain Python over plain data (lists of ints / floats), so the
designs can be read, tested against published tables and reused by the
vectorised simulator, which builds its lookup tables from these functions.
"""

from __future__ import annotations

from math import comb
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

#: the four decisions a committee takes after a cohort
DECISIONS = ("escalate", "stay", "de-escalate", "stop")


class EscalationError(ValueError):
    """Bad escalation input (outcome string, cohort file, design parameter, a cohort
    at an eliminated dose ...). The message names what is wrong and where."""


def beta_cdf_int(x: float, a: int, b: int) -> float:
    """P(p <= x) for p ~ Beta(a, b) with integer a, b >= 1, computed exactly.

    Uses the identity I_x(a, b) = P(Binomial(a + b - 1, x) >= a), so no special
    functions (and no scipy) are needed; exact for the small counts of phase I trials.
    """
    if a < 1 or b < 1 or int(a) != a or int(b) != b:
        raise ValueError(f"beta_cdf_int: a and b must be integers >= 1, got {a!r}, {b!r}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    m = int(a) + int(b) - 1
    return float(sum(comb(m, j) * x**j * (1.0 - x) ** (m - j) for j in range(int(a), m + 1)))


def prob_above(target: float, n: int, y: int) -> float:
    """P(p > target | y DLTs in n patients) under a Beta(1, 1) prior: the posterior
    is Beta(y + 1, n - y + 1). This is the elimination / exclusion probability of
    BOIN (Liu & Yuan 2015, section 2.3) and mTPI-2 (Guo et al. 2017)."""
    return 1.0 - beta_cdf_int(target, y + 1, n - y + 1)


def check_target(target, where: str = "target") -> float:
    """The target DLT probability as a float in (0, 1), or a clear EscalationError."""
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise EscalationError(f"{where} must be a number in (0, 1), got {target!r}") from None
    if not 0.0 < value < 1.0:
        raise EscalationError(f"{where} must be strictly between 0 and 1, got {value:g}")
    return value


def check_num_doses(num_doses, where: str = "number of doses") -> int:
    if isinstance(num_doses, bool) or not isinstance(num_doses, int) or num_doses < 1:
        raise EscalationError(f"{where} must be a positive integer, got {num_doses!r}")
    return num_doses


def counts_per_dose(cohorts: Iterable[Dict], num_doses: int) -> Tuple[List[int], List[int]]:
    """(patients, DLTs) per dose level 1..num_doses, as lists indexed from 0."""
    n = [0] * num_doses
    y = [0] * num_doses
    for c in cohorts:
        n[c["dose"] - 1] += len(c["outcomes"])
        y[c["dose"] - 1] += sum(c["outcomes"])
    return n, y


def counts_table(n: Sequence[int], y: Sequence[int]) -> List[Dict[str, int]]:
    """JSON-safe per-dose counts for evidence: [{dose, n, dlt}] for every dose level."""
    return [{"dose": i + 1, "n": int(n[i]), "dlt": int(y[i])} for i in range(len(n))]


def pava(values: Sequence[float], weights: Optional[Sequence[float]] = None) -> List[float]:
    """Weighted isotonic (non-decreasing) regression by pool-adjacent-violators.

    Robertson, Wright & Dykstra (1988), *Order Restricted Statistical Inference*;
    the same estimator BOIN's ``select.mtd`` applies to the per-dose posterior means.
    """
    x = [float(v) for v in values]
    w = [1.0] * len(x) if weights is None else [float(v) for v in weights]
    if len(w) != len(x):
        raise ValueError("pava: values and weights differ in length")
    # blocks of [sum(w*x), sum(w), count]
    blocks: List[List[float]] = []
    for xi, wi in zip(x, w):
        blocks.append([xi * wi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, ww, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += ww
            blocks[-1][2] += c
    out: List[float] = []
    for s, ww, c in blocks:
        out.extend([s / ww] * int(c))
    return out


def decision_record(cohort: Dict, decision: str, next_dose: Optional[int], evidence: Dict) -> Dict:
    """One item of ``decisions``: the keys the CLI's ``--json`` promises, plus evidence."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
    return {
        "cohort": int(cohort["cohort"]),
        "dose": int(cohort["dose"]),
        "n": len(cohort["outcomes"]),
        "dlt": int(sum(cohort["outcomes"])),
        "decision": decision,
        "next_dose": None if next_dose is None else int(next_dose),
        "evidence": evidence,
    }
