"""Seeded, vectorised Monte Carlo simulation of the designs' operating characteristics.

All trials of one design and scenario advance together, one cohort per step, as
numpy arrays (patients / DLTs per trial and dose, current dose, eliminated
doses). Each step reads the design's decision from a lookup table built by the
pure functions of :mod:`.boin` / :mod:`.mtpi2` (one home for the rules), or
applies the 3+3 rules of :mod:`.three_plus_three` in array form. The final MTD
uses the same isotonic selection, vectorised with the max-min formula of
isotonic regression (Robertson, Wright & Dykstra 1988, Theorem 1.4.4):
  iso_i = max_{j <= i} min_{k >= i} (sum_{j..k} w x / sum_{j..k} w).

Operating characteristics per design and scenario (as BOIN's ``get.oc``
reports them): selection percentage of each dose and of "no MTD", mean patients
and DLTs per dose, mean trial size, mean DLTs, the overall DLT rate, and the
percentage of trials stopped without an MTD; with Monte Carlo standard errors
for the selection percentages.

Patients' DLTs are drawn as uniforms against the true probability, one per
patient in order of enrolment, from ``numpy.random.default_rng(seed)``; a design
and scenario always get the same stream for the same seed.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Sequence

from ._common import EscalationError, prob_above
from .boin import boin_boundaries
from .mtpi2 import mtpi2_decision_table
from .engine import Design

_E, _S, _D = 0, 1, 2


def check_scenario(p_true: Sequence[float], num_doses: Optional[int] = None, where: str = "scenario") -> List[float]:
    """True DLT probabilities per dose: numbers in [0, 1], non-empty."""
    try:
        values = [float(v) for v in p_true]
    except (TypeError, ValueError):
        raise EscalationError(f"{where}: true DLT probabilities must be numbers, got {p_true!r}") from None
    if not values:
        raise EscalationError(f"{where}: no dose levels")
    for i, v in enumerate(values, start=1):
        if not 0.0 <= v <= 1.0:
            raise EscalationError(f"{where}: dose {i} has probability {v:g}, outside [0, 1]")
    if num_doses is not None and len(values) != num_doses:
        raise EscalationError(f"{where}: {len(values)} probabilities for a design with {num_doses} doses")
    return values


def parse_scenario(text: str, num_doses: Optional[int] = None) -> List[float]:
    """``"0.05,0.15,0.3,0.45,0.6"`` -> list of floats, with a clear error."""
    parts = [p.strip() for p in str(text).split(",")]
    if any(not p for p in parts):
        raise EscalationError(f"scenario {text!r}: empty value (give comma-separated probabilities, e.g. 0.05,0.15,0.3)")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise EscalationError(f"scenario {text!r}: not a comma-separated list of numbers") from None
    return check_scenario(values, num_doses, f"scenario {text!r}")


def _tables(design: Design, max_n: int):
    """(action[n, y], eliminate[n, y]) lookup arrays for a model-assisted design."""
    import numpy as np

    action = np.full((max_n + 1, max_n + 1), _S, dtype=np.int8)
    elim = np.zeros((max_n + 1, max_n + 1), dtype=bool)
    if design.name == "boin":
        rows = design.table["table"]
        if len(rows) < max_n:
            rows = boin_boundaries(design.target, max_n, p_saf=design.params["p_saf"], p_tox=design.params["p_tox"], cutoff_eli=design.params["cutoff_eli"])["table"]
        for n in range(1, max_n + 1):
            r = rows[n - 1]
            for y in range(n + 1):
                if y <= r["escalate_max"]:
                    action[n, y] = _E
                elif y >= r["deescalate_min"]:
                    action[n, y] = _S if (design.params["stay_on_one_of_three"] and n == 3 and y == 1) else _D
                elim[n, y] = r["eliminate_min"] is not None and y >= r["eliminate_min"]
    else:
        rows = design.table["table"]
        if max(rows) < max_n:
            rows = mtpi2_decision_table(design.target, max_n, epsilon1=design.params["epsilon1"], epsilon2=design.params["epsilon2"], exclusion_cutoff=design.params["cutoff_eli"])["table"]
        code = {"E": _E, "S": _S, "D": _D, "DU": _D}
        for n in range(1, max_n + 1):
            for y in range(n + 1):
                action[n, y] = code[rows[n][y]]
                elim[n, y] = rows[n][y] == "DU"
    return action, elim


def _iso_select(n, y, admissible, target: float, kind: str):
    """Vectorised MTD choice among admissible doses (a contiguous block per trial);
    returns 0-based dose indices, -1 where no dose is admissible."""
    import numpy as np

    T, D = n.shape
    if kind == "boin":
        mean = (y + 0.05) / (n + 0.1)
        var = (y + 0.05) * (n - y + 0.05) / ((n + 0.1) ** 2 * (n + 0.1 + 1))
    else:
        a, b = 1.0 + y, 1.0 + n - y
        mean = a / (a + b)
        var = a * b / ((a + b) ** 2 * (a + b + 1))
    w = np.where(admissible, 1.0 / var, 0.0)
    wx = w * mean
    cw, cwx = np.cumsum(w, axis=1), np.cumsum(wx, axis=1)
    zero = np.zeros((T, 1))
    cw, cwx = np.hstack([zero, cw]), np.hstack([zero, cwx])
    iso = np.full((T, D), np.nan)
    # block of doses j..k must be fully admissible
    adm_int = admissible.astype(np.int64)
    cadm = np.hstack([np.zeros((T, 1), dtype=np.int64), np.cumsum(adm_int, axis=1)])
    for i in range(D):
        best = np.full(T, -np.inf)
        for j in range(i + 1):
            worst = np.full(T, np.inf)
            for k in range(i, D):
                ok = (cadm[:, k + 1] - cadm[:, j]) == (k - j + 1)
                avg = np.where(ok, (cwx[:, k + 1] - cwx[:, j]) / np.where(ok, cw[:, k + 1] - cw[:, j], 1.0), np.inf)
                worst = np.minimum(worst, avg)
            okj = (cadm[:, i + 1] - cadm[:, j]) == (i - j + 1)
            best = np.where(okj, np.maximum(best, worst), best)
        iso[:, i] = np.where(admissible[:, i], best, np.nan)
    if kind == "boin":
        rank = np.cumsum(adm_int, axis=1)  # 1-based position among admissible doses
        shifted = iso + rank * 1e-10
        dist = np.where(admissible, np.abs(shifted - target), np.inf)
        pick = np.argmin(dist, axis=1)
    else:
        dist = np.where(admissible, np.abs(np.nan_to_num(iso) - target), np.inf)
        low = dist.min(axis=1, keepdims=True)
        with np.errstate(invalid="ignore"):
            tied = admissible & (np.abs(dist - low) < 1e-12)
        cnt = tied.sum(axis=1)
        pstar = np.where(tied, iso, 0.0).sum(axis=1) / np.maximum(cnt, 1)
        idx = np.arange(D)[None, :]
        highest = np.where(tied, idx, -1).max(axis=1)
        lowest = np.where(tied, idx, D).min(axis=1)
        pick = np.where(pstar < target - 1e-12, highest, lowest)
    none = ~admissible.any(axis=1)
    return np.where(none, -1, pick)


def _final_admissible(design: Design, n, y):
    """Tested doses below the first dose the final data eliminate (BOIN select.mtd
    needs n >= 3; mTPI-2 exclusion needs any patient)."""
    import numpy as np

    T, D = n.shape
    cutoff = design.params["cutoff_eli"]
    max_n = int(n.max()) if n.size else 0
    unsafe = np.zeros((max_n + 1, max_n + 1), dtype=bool)
    min_n = 3 if design.name == "boin" else 1
    for nn in range(min_n, max_n + 1):
        for yy in range(nn + 1):
            unsafe[nn, yy] = prob_above(design.target, nn, yy) > cutoff
    bad = unsafe[n, y]
    first_bad = np.where(bad.any(axis=1), bad.argmax(axis=1), D)
    below = np.arange(D)[None, :] < first_bad[:, None]
    return (n > 0) & below, first_bad == 0


def _simulate_model_assisted(design: Design, p, ntrial: int, ncohort: int, cohort_size: int, rng, start_dose: int):
    import numpy as np

    D = design.num_doses
    max_n = ncohort * cohort_size
    action, elim_tab = _tables(design, max_n)
    n = np.zeros((ntrial, D), dtype=np.int64)
    y = np.zeros((ntrial, D), dtype=np.int64)
    d = np.full(ntrial, start_dose - 1, dtype=np.int64)
    eliminated = np.zeros((ntrial, D), dtype=bool)
    active = np.ones(ntrial, dtype=bool)
    no_mtd_stop = np.zeros(ntrial, dtype=bool)
    rows = np.arange(ntrial)
    doses = np.arange(D)[None, :]
    ne, rule = design.params["n_earlystop"], design.params["earlystop_rule"]
    cap = design.params["max_patients"]
    for _ in range(ncohort):
        u = rng.random((ntrial, cohort_size))
        tox = (u < p[d][:, None]).sum(axis=1)
        add = active.astype(np.int64)
        n[rows, d] += add * cohort_size
        y[rows, d] += add * tox
        nd, yd = n[rows, d], y[rows, d]
        el = active & elim_tab[nd, yd]
        eliminated |= el[:, None] & (doses >= d[:, None])
        stop_safety = el & (d == 0)
        no_mtd_stop |= stop_safety
        active &= ~stop_safety
        act = action[nd, yd]
        nxt = np.minimum(d + 1, D - 1)
        can_up = (d < D - 1) & ~eliminated[rows, nxt]
        eff = np.where((act == _E) & can_up, _E, np.where((act == _D) & (d > 0), _D, _S))
        stop = np.zeros(ntrial, dtype=bool)
        if ne is not None:
            stop |= (nd >= ne) & ((eff == _S) if rule == "stay" else True)
        if cap is not None:
            stop |= n.sum(axis=1) >= cap
        active &= ~stop
        d = np.where(active, d + (eff == _E) - (eff == _D), d)
        if not active.any():
            break
    admissible, dose1_bad = _final_admissible(design, n, y)
    pick = _iso_select(n, y, admissible, design.target, design.name)
    pick = np.where(no_mtd_stop | dose1_bad, -1, pick)
    return n, y, pick, no_mtd_stop, d


def _simulate_3p3(design: Design, p, ntrial: int, rng):
    import numpy as np

    D = design.num_doses
    deesc = design.params["deescalate"]
    n = np.zeros((ntrial, D), dtype=np.int64)
    y = np.zeros((ntrial, D), dtype=np.int64)
    d = np.zeros(ntrial, dtype=np.int64)
    active = np.ones(ntrial, dtype=bool)
    pick = np.full(ntrial, -1, dtype=np.int64)
    rows = np.arange(ntrial)
    idx = np.arange(D)[None, :]
    for _ in range(2 * D + 1):
        if not active.any():
            break
        u = rng.random((ntrial, 3))
        tox = (u < p[d][:, None]).sum(axis=1)
        add = active.astype(np.int64)
        n[rows, d] += add * 3
        y[rows, d] += add * tox
        nd, yd = n[rows, d], y[rows, d]
        up = np.minimum(d + 1, D - 1)
        down = np.maximum(d - 1, 0)
        clear = ((nd == 3) & (yd == 0)) | ((nd == 6) & (yd <= 1))
        toxic = yd >= 2
        # escalate or stop at d
        top = d == D - 1
        blocked = ~top & ((n[rows, up] >= 6) | (y[rows, up] >= 2))
        stop_here = active & clear & (top | blocked)
        go_up = active & clear & ~(top | blocked)
        # too toxic
        if deesc:
            go_down = active & toxic & (d > 0) & (n[rows, down] < 6)
            korn = active & toxic & ~go_down
            qual = (n >= 6) & (y <= 1)
            best = np.where(qual, idx, -1).max(axis=1)
            korn_pick = np.where(d > 0, best, -1)
        else:
            go_down = np.zeros(ntrial, dtype=bool)
            korn = active & toxic
            korn_pick = d - 1  # -1 at dose 1: no MTD
        pick = np.where(stop_here, d, pick)
        pick = np.where(korn, korn_pick, pick)
        active &= ~(stop_here | korn)
        d = np.where(go_up, d + 1, np.where(go_down, d - 1, d))
    if active.any():  # pragma: no cover - the 3+3 always ends within 2 * D cohorts
        raise EscalationError("3+3 simulation did not end; please report this as a bug")
    return n, y, pick, pick < 0, d


def simulate(design: Design, p_true: Sequence[float], *, ntrial: int = 10000, ncohort: int = 10, cohort_size: int = 3, seed: int = 6, start_dose: int = 1, return_trials: bool = False) -> Dict:
    """Operating characteristics of ``design`` under true DLT probabilities ``p_true``.

    Model-assisted designs run ``ncohort`` cohorts of ``cohort_size`` (fewer when
    a stopping rule fires); the 3+3 runs its own cohorts of 3 until it stops.
    Returns a JSON-safe dict; ``return_trials=True`` adds the per-trial arrays
    (numpy) under ``"trials"`` for checks.
    """
    import numpy as np

    p = np.asarray(check_scenario(p_true, design.num_doses), dtype=float)
    for name, value in (("ntrial", ntrial), ("ncohort", ncohort), ("cohort_size", cohort_size)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise EscalationError(f"{name} must be a positive integer, got {value!r}")
    if not 1 <= start_dose <= design.num_doses:
        raise EscalationError(f"start dose {start_dose} is out of range (the design has {design.num_doses} doses)")
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    if design.name == "3+3":
        n, y, pick, no_mtd, last = _simulate_3p3(design, p, int(ntrial), rng)
    else:
        n, y, pick, no_mtd, last = _simulate_model_assisted(design, p, int(ntrial), int(ncohort), int(cohort_size), rng, start_dose)
    seconds = time.perf_counter() - t0
    D = design.num_doses
    sel = np.array([(pick == i).mean() for i in range(D)])
    none = (pick < 0).mean()
    total_n = n.sum(axis=1)
    total_y = y.sum(axis=1)
    out = {
        "design": design.describe(),
        "scenario": [float(v) for v in p],
        "ntrial": int(ntrial),
        "seed": int(seed),
        "ncohort": int(ncohort) if design.name != "3+3" else None,
        "cohort_size": int(cohort_size) if design.name != "3+3" else 3,
        "selection_pct": [round(100 * float(v), 2) for v in sel],
        "selection_se_pct": [round(100 * float(np.sqrt(v * (1 - v) / ntrial)), 2) for v in sel],
        "no_mtd_pct": round(100 * float(none), 2),
        "stopped_early_for_toxicity_pct": round(100 * float(no_mtd.mean()), 2),
        "patients_per_dose": [round(float(v), 3) for v in n.mean(axis=0)],
        "dlt_per_dose": [round(float(v), 3) for v in y.mean(axis=0)],
        "mean_patients": round(float(total_n.mean()), 3),
        "mean_dlt": round(float(total_y.mean()), 3),
        "dlt_rate": round(float(total_y.sum() / max(total_n.sum(), 1)), 4),
        "seconds": round(seconds, 3),
    }
    if design.target is not None:
        out["target"] = design.target
    if return_trials:
        out["trials"] = {"n": n, "y": y, "mtd": pick + 1, "last_dose": last + 1}
    return out


def compare(designs: Sequence[Design], scenarios: Sequence[Sequence[float]], **kwargs) -> List[Dict]:
    """Several designs side by side: one result per (scenario, design), the same
    seed for each so the comparison is reproducible."""
    return [dict(simulate(design, scenario, **kwargs), scenario_index=i + 1) for i, scenario in enumerate(scenarios) for design in designs]
