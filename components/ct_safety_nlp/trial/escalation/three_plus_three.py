"""The 3+3 design.

Sources
-------
* Storer BE (1989). Design and analysis of phase I clinical trials.
  *Biometrics* 45(3):925-937 (the classic "A" + "B" rules).
* Korn EL, Midthune D, Chen TT, Rubinstein LV, Christian MC, Simon RM (1994).
  A comparison of two phase I trial designs. *Statistics in Medicine*
  13(18):1799-1806 (the variant that de-escalates: "The MTD is then defined as
  the highest dose level (>= 1) in which 6 patients have been treated with <= 1
  instance of DLT").
* The behaviour of R package ``escalation`` (Brock), function
  ``three_plus_three(outcomes, num_doses, allow_deescalate)``, v0.2.x; its test
  file ``tests/testthat/test_three_plus_three.R`` is the published case table
  reproduced by ``tests/trial/test_escalation_designs.py``.

Rules at the dose ``d`` given last, with ``n`` patients and ``y`` DLTs there:

* ``n < 3`` or ``3 < n < 6``: the cohort is incomplete, stay at ``d``.
* ``n == 3, y == 0`` or ``n == 6, y <= 1``: escalate to ``d + 1``; stop and
  select ``d`` when ``d`` is the top dose, or when ``d + 1`` already has 6
  patients or at least 2 DLTs.
* ``n == 3, y == 1``: stay at ``d`` (treat 3 more).
* ``y >= 2`` (at 3 or 6 patients): without de-escalation, stop and select
  ``d - 1`` (no dose when ``d`` is 1). With de-escalation (Korn et al.),
  go to ``d - 1`` when it has fewer than 6 patients; otherwise stop and select
  the highest dose with at least 6 patients and at most 1 DLT (none if no dose
  qualifies); at dose 1 stop with no dose.
* more than 6 patients at a dose is not a 3+3 trial: an error.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

from ._common import EscalationError


def three_plus_three(n: Sequence[int], y: Sequence[int], last_dose: Optional[int], num_doses: int, *, deescalate: bool = False) -> Dict:
    """The 3+3 recommendation after the cohorts counted in ``n``/``y`` (per dose,
    index 0 = dose 1), the last of which was given at ``last_dose`` (1-based;
    None before the first cohort).

    Returns ``{"next_dose": int|None, "continue": bool, "rule": str}``: while the
    trial continues ``next_dose`` is the dose for the next patients; when it stops,
    ``next_dose`` is the selected MTD (None: no dose is tolerable).
    """
    if len(n) != num_doses or len(y) != num_doses:
        raise EscalationError(f"3+3: counts for {len(n)} doses, the design has {num_doses}")
    if last_dose is None:
        return {"next_dose": 1, "continue": True, "rule": "no patients yet: start at dose 1"}
    d = last_dose
    nd, yd = n[d - 1], y[d - 1]
    if nd > 6:
        raise EscalationError(f"3+3: {nd} patients at dose {d}; the 3+3 design treats at most 6 at a dose")

    def escalate_or_stop(why: str) -> Dict:
        if d == num_doses:
            return {"next_dose": d, "continue": False, "rule": f"{why}; dose {d} is the top dose: stop, select dose {d}"}
        if n[d] >= 6 or y[d] >= 2:
            return {
                "next_dose": d,
                "continue": False,
                "rule": f"{why}; dose {d + 1} already has {n[d]} patients / {y[d]} DLTs: stop, select dose {d}",
            }
        return {"next_dose": d + 1, "continue": True, "rule": f"{why}: escalate to dose {d + 1}"}

    def too_toxic(why: str) -> Dict:
        if not deescalate:
            if d == 1:
                return {"next_dose": None, "continue": False, "rule": f"{why}: stop, no dose is tolerable"}
            return {"next_dose": d - 1, "continue": False, "rule": f"{why}: stop, select dose {d - 1}"}
        if d == 1:
            return {"next_dose": None, "continue": False, "rule": f"{why} at the lowest dose: stop, no dose is tolerable"}
        if n[d - 2] < 6:
            return {"next_dose": d - 1, "continue": True, "rule": f"{why}: de-escalate to dose {d - 1} ({n[d - 2]} patients there, expand to 6)"}
        qualifying = [i + 1 for i in range(num_doses) if n[i] >= 6 and y[i] <= 1]
        if qualifying:
            best = qualifying[-1]
            return {
                "next_dose": best,
                "continue": False,
                "rule": f"{why}; dose {d - 1} already has 6 patients: stop, select dose {best} (highest with >= 6 patients and <= 1 DLT, Korn et al. 1994)",
            }
        return {"next_dose": None, "continue": False, "rule": f"{why}; no dose has >= 6 patients with <= 1 DLT: stop, no dose is tolerable"}

    if nd < 3 or 3 < nd < 6:
        return {"next_dose": d, "continue": True, "rule": f"{nd} patients at dose {d}: cohort incomplete, stay"}
    if nd == 3:
        if yd == 0:
            return escalate_or_stop("0/3 DLTs")
        if yd == 1:
            return {"next_dose": d, "continue": True, "rule": "1/3 DLTs: stay, treat 3 more at this dose"}
        return too_toxic(f"{yd}/3 DLTs")
    # nd == 6
    if yd <= 1:
        return escalate_or_stop(f"{yd}/6 DLTs")
    return too_toxic(f"{yd}/6 DLTs")
