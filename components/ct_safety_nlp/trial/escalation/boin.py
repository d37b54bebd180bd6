"""The Bayesian optimal interval (BOIN) design.

Sources
-------
* Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical
  trials. *Journal of the Royal Statistical Society: Series C* 64(3):507-523,
  doi:10.1111/rssc.12089 (the local design, equations for lambda_e / lambda_d,
  the elimination rule; Table 1 gives the boundaries for phi = 0.25).
* Yan F, Zhang L, Zhou Y, Pan H, Liu S, Yuan Y (2020). BOIN: an R package for
  designing single-agent and drug-combination dose-finding trials using Bayesian
  optimal interval designs. *Journal of Statistical Software* 94(13):1-32,
  doi:10.18637/jss.v094.i13, and the R package BOIN 2.7.2 it documents
  (``get.boundary``, ``select.mtd``, ``get.oc``): boundary table, n.earlystop
  rule, final MTD by isotonic regression.

Rules, for target phi and the defaults p.saf = 0.6 phi, p.tox = 1.4 phi:

* lambda_e = log((1 - p.saf) / (1 - phi)) / log(phi (1 - p.saf) / (p.saf (1 - phi)))
  lambda_d = log((1 - phi) / (1 - p.tox)) / log(p.tox (1 - phi) / (phi (1 - p.tox)))
  (phi = 0.3 gives 0.2365 and 0.3585).
* With n patients and y DLTs at the current dose: escalate if y <= floor(n lambda_e),
  de-escalate if y >= the smallest integer above n lambda_d (capped at the
  elimination boundary), else stay.
* Eliminate the current dose and all higher doses if n >= 3 and
  P(p > phi | Beta(y + 1, n - y + 1)) > 0.95; stop the trial (no MTD) when dose 1
  is eliminated. Never escalate into an eliminated dose.
* Optional early stop (``n_earlystop``, BOIN's n.earlystop): stop when the
  current dose has that many patients and the decision is to stay there
  (BOIN >= 2.7 rule; ``earlystop_rule="any"`` stops at that many patients
  whatever the decision, as earlier BOIN versions and some publications do).
* Optional ``stay_on_one_of_three``: stay rather than de-escalate after exactly
  1 DLT in 3 patients (the "3+3 mimic" some protocols use when phi = 0.25 would
  otherwise de-escalate on 1/3).
* MTD at the end: among the tested doses not eliminated, isotonic regression of
  the posterior means (y + 0.05) / (n + 0.1) weighted by the inverse posterior
  variance of Beta(y + 0.05, n - y + 0.05); the dose whose estimate is closest to
  phi, ties to the lower dose when above phi, to the higher when below (BOIN adds
  i * 1e-10 to the i-th estimate to break ties; so do we).
"""

from __future__ import annotations

from math import ceil, floor, log
from typing import Dict, List, Optional, Sequence

from ._common import EscalationError, check_target, pava, prob_above

_TOL = 1e-12


def boin_lambdas(target: float, p_saf: Optional[float] = None, p_tox: Optional[float] = None) -> Dict[str, float]:
    """lambda_e and lambda_d of the local BOIN design (Liu & Yuan 2015, eqs 2-3)."""
    phi = check_target(target)
    p_saf = 0.6 * phi if p_saf is None else float(p_saf)
    p_tox = 1.4 * phi if p_tox is None else float(p_tox)
    if not 0.0 < p_saf < phi:
        raise EscalationError(f"BOIN: p.saf must lie in (0, target={phi:g}), got {p_saf:g}")
    if not phi < p_tox < 1.0:
        raise EscalationError(f"BOIN: p.tox must lie in (target={phi:g}, 1), got {p_tox:g}")
    lam_e = log((1 - p_saf) / (1 - phi)) / log(phi * (1 - p_saf) / (p_saf * (1 - phi)))
    lam_d = log((1 - phi) / (1 - p_tox)) / log(p_tox * (1 - phi) / (phi * (1 - p_tox)))
    return {"lambda_e": lam_e, "lambda_d": lam_d, "p_saf": p_saf, "p_tox": p_tox}


def elimination_boundary(target: float, n: int, cutoff: float = 0.95) -> Optional[int]:
    """Smallest y with P(p > target | y of n) > cutoff (n >= 3), else None."""
    if n < 3:
        return None
    for y in range(1, n + 1):
        if prob_above(target, n, y) > cutoff:
            return y
    return None


def boin_boundaries(target: float, max_n: int = 30, *, p_saf: Optional[float] = None, p_tox: Optional[float] = None, cutoff_eli: float = 0.95) -> Dict:
    """The BOIN boundary table for 1..max_n patients at a dose (``get.boundary``'s
    ``full_boundary_tab``): rows ``{n, escalate_max, deescalate_min, eliminate_min}``
    (eliminate_min None where no count eliminates)."""
    lam = boin_lambdas(target, p_saf, p_tox)
    rows = [_boundary_row(n, lam, float(target), cutoff_eli) for n in range(1, int(max_n) + 1)]
    return {"target": float(target), **lam, "cutoff_eli": cutoff_eli, "table": rows}


def _boundary_row(n: int, lam: Dict, target: float, cutoff_eli: float) -> Dict:
    esc = floor(lam["lambda_e"] * n)
    x = lam["lambda_d"] * n
    de = round(x) + 1 if abs(round(x) - x) < _TOL else ceil(x)
    eli = elimination_boundary(target, n, cutoff_eli)
    if eli is not None and de > eli:
        de = eli
    return {"n": n, "escalate_max": esc, "deescalate_min": de, "eliminate_min": eli}


def boin_decide(
    n_d: int,
    y_d: int,
    dose: int,
    num_doses: int,
    boundaries: Dict,
    *,
    next_eliminated: bool = False,
    stay_on_one_of_three: bool = False,
) -> Dict:
    """The BOIN decision at the current dose (1-based) with n_d patients, y_d DLTs.

    Returns ``{"action": "escalate"|"stay"|"de-escalate", "eliminate": bool,
    "rule": str, "boundary": {...}}``; ``eliminate`` means this dose and all higher
    doses are eliminated (the caller stops the trial when ``dose`` is 1).
    """
    table = boundaries["table"]
    if n_d < 1:
        raise EscalationError(f"BOIN: no patients at dose {dose}")
    # beyond the pre-computed table: the same rule, computed on demand
    row = table[n_d - 1] if n_d <= len(table) else _boundary_row(n_d, boundaries, boundaries["target"], boundaries["cutoff_eli"])
    bound = {"n": n_d, "escalate_if_dlt_le": row["escalate_max"], "deescalate_if_dlt_ge": row["deescalate_min"], "eliminate_if_dlt_ge": row["eliminate_min"]}
    eliminate = row["eliminate_min"] is not None and y_d >= row["eliminate_min"]
    rate = f"{y_d}/{n_d}"
    if y_d <= row["escalate_max"]:
        if dose == num_doses:
            return {"action": "stay", "eliminate": False, "boundary": bound, "rule": f"{rate} DLTs <= escalation boundary {row['escalate_max']}, but dose {dose} is the top dose: stay"}
        if next_eliminated:
            return {"action": "stay", "eliminate": False, "boundary": bound, "rule": f"{rate} DLTs <= escalation boundary {row['escalate_max']}, but dose {dose + 1} is eliminated: stay"}
        return {"action": "escalate", "eliminate": False, "boundary": bound, "rule": f"{rate} DLTs <= escalation boundary {row['escalate_max']}: escalate"}
    if y_d >= row["deescalate_min"]:
        if stay_on_one_of_three and n_d == 3 and y_d == 1 and not eliminate:
            return {"action": "stay", "eliminate": False, "boundary": bound, "rule": f"{rate} DLTs >= de-escalation boundary {row['deescalate_min']}, but 1/3 stays (stay_on_one_of_three)"}
        why = f"{rate} DLTs >= elimination boundary {row['eliminate_min']}: eliminate dose {dose} and above" if eliminate else f"{rate} DLTs >= de-escalation boundary {row['deescalate_min']}"
        if dose == 1:
            return {"action": "stay", "eliminate": eliminate, "boundary": bound, "rule": f"{why}; dose 1 is the lowest dose" + ("" if eliminate else ": stay")}
        return {"action": "de-escalate", "eliminate": eliminate, "boundary": bound, "rule": f"{why}: de-escalate"}
    return {"action": "stay", "eliminate": False, "boundary": bound, "rule": f"{rate} DLTs between the boundaries ({row['escalate_max']} < y < {row['deescalate_min']}): stay"}


def boin_select_mtd(n: Sequence[int], y: Sequence[int], target: float, *, cutoff_eli: float = 0.95) -> Dict:
    """BOIN's final MTD (``select.mtd``): isotonic estimates over the tested,
    non-eliminated doses; returns ``{"mtd": int|None, "estimates": [float|None per
    dose], "eliminated_from": int|None, "rule": str}``."""
    phi = check_target(target)
    num = len(n)
    eliminated_from = None
    for i in range(num):
        if n[i] >= 3 and prob_above(phi, n[i], y[i]) > cutoff_eli:
            eliminated_from = i + 1
            break
    estimates: List[Optional[float]] = [None] * num
    if eliminated_from == 1:
        return {"mtd": None, "estimates": estimates, "eliminated_from": 1, "rule": f"dose 1 is eliminated (P(p > {phi:g}) > {cutoff_eli:g}): no MTD"}
    adm = [i for i in range(num) if n[i] > 0 and (eliminated_from is None or i + 1 < eliminated_from)]
    if not adm:
        return {"mtd": None, "estimates": estimates, "eliminated_from": eliminated_from, "rule": "no patients at an admissible dose: no MTD"}
    means = [(y[i] + 0.05) / (n[i] + 0.1) for i in adm]
    var = [(y[i] + 0.05) * (n[i] - y[i] + 0.05) / ((n[i] + 0.1) ** 2 * (n[i] + 0.1 + 1)) for i in adm]
    iso = pava(means, [1.0 / v for v in var])
    for k, i in enumerate(adm):
        estimates[i] = iso[k]
    shifted = [v + (k + 1) * 1e-10 for k, v in enumerate(iso)]
    best = min(range(len(adm)), key=lambda k: (abs(shifted[k] - phi), k))
    mtd = adm[best] + 1
    elim = f"; doses {eliminated_from}+ eliminated" if eliminated_from else ""
    return {
        "mtd": mtd,
        "estimates": estimates,
        "eliminated_from": eliminated_from,
        "rule": f"isotonic estimate {iso[best]:.3f} at dose {mtd} is the closest to the target {phi:g}{elim}",
    }
