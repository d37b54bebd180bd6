"""RECIST 1.1 as plain functions over plain data.

Source: E. A. Eisenhauer, P. Therasse, J. Bogaerts et al., "New response
evaluation criteria in solid tumours: Revised RECIST guideline (version 1.1)",
European Journal of Cancer 45 (2009) 228-247. Section and table numbers below
are the paper's; the EORTC RECIST working group's published clarifications
(recist.eortc.org, "questions and clarifications") are cited as *FAQ*.

* :func:`target_response` - section 4.3.1 (evaluation of target lesions) with
  the notes of 4.3.2: CR = every non-nodal target lesion gone and every target
  lymph node < 10 mm short axis; PR = the sum of diameters at least 30 % below
  the baseline sum; PD = the sum at least 20 % above the smallest sum on study
  (the nadir, baseline included) *and* at least 5 mm above it; SD = neither.
  A lesion "too small to measure" counts 5 mm (4.3.2).
* :func:`overall_response` - the time point response of 4.4.1: Table 1
  (patients with target disease, with or without non-target disease) and
  Table 2 (non-target disease only). New lesions are PD (4.3.5).
* :func:`best_overall_response` - 4.4.3 / 4.6.1 / 4.6.3: the best response
  from the start of treatment up to the first PD; CR and PR need a confirming
  assessment at least ``confirm_days`` (4 weeks) later when confirmation is
  required (Table 3), SD needs an assessment at least ``min_sd_days`` after the
  start (the protocol's minimum, "in general not less than 6-8 weeks"). The
  confirmation rules are stated as admiralonco's ``derive_param_confirmed_bor``
  states them (pharmaverse, the CDISC ADaM oncology derivations), so results
  can be checked against its published test cases.

Percentages are rounded to one decimal (half away from zero) only for
reporting; every decision uses the exact values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, List, Optional, Sequence, Tuple

CR = "CR"
PR = "PR"
SD = "SD"
PD = "PD"
NE = "NE"
#: RECIST 1.1 Table 2's category for non-target disease (preferred over "SD" there)
NON_CR_NON_PD = "non-CR/non-PD"
#: an assessment that was not done (admiralonco's "ND"); never a best response of its own
ND = "ND"
#: no assessment at all for a subject
MISSING = "MISSING"

TARGET_RESPONSES = (CR, PR, SD, PD, NE)
NON_TARGET_RESPONSES = (CR, NON_CR_NON_PD, PD, NE)
TIMEPOINT_RESPONSES = (CR, PR, SD, NON_CR_NON_PD, PD, NE, ND)
#: best-first order of best overall responses (admiralonco's order)
BOR_ORDER = (CR, PR, SD, NON_CR_NON_PD, PD, NE, ND, MISSING)

#: 4.3.1: PR at a decrease of at least this many percent from the baseline sum
PR_DECREASE_PERCENT = 30.0
#: 4.3.1: PD at an increase of at least this many percent over the nadir ...
PD_INCREASE_PERCENT = 20.0
#: ... together with an absolute increase of at least this many mm
PD_ABSOLUTE_MM = 5.0
#: 4.3.1 / 4.3.2: a lymph node is normal below this short axis (mm)
NODE_NORMAL_MM = 10.0
#: 4.3.2: the value recorded for a lesion present but too small to measure (mm)
TOO_SMALL_TO_MEASURE_MM = 5.0
#: 4.6.1: confirmation of CR / PR no less than 4 weeks later
CONFIRM_DAYS = 28


def round_percent(value: Optional[float]) -> Optional[float]:
    """``value`` rounded to one decimal, half away from zero (-28.75 -> -28.8); None stays None."""
    if value is None or not math.isfinite(value):
        return None
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def percent_change(value: float, reference: float) -> Optional[float]:
    """Exact percent change of ``value`` from ``reference`` (None when the reference is 0)."""
    _check_mm(value, "value")
    _check_mm(reference, "reference")
    if reference == 0:
        return None
    return float((_d(value) - _d(reference)) * 100 / _d(reference))


def _check_mm(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of mm >= 0, got {value!r}")


@dataclass(frozen=True)
class TargetLesion:
    """One target lesion at one time point: its RECIST diameter in mm (the
    longest diameter, or the short axis for a lymph node; 0 when it has
    disappeared) and whether it is a lymph node."""

    size_mm: float
    lymph_node: bool = False

    def __post_init__(self):
        _check_mm(self.size_mm, "TargetLesion.size_mm")


@dataclass(frozen=True)
class TargetResult:
    """What :func:`target_response` decided and why.

    ``response`` is CR, PR, SD or PD, or None when the data given do not decide
    it (``reasons`` says what is missing). Percentages are exact (round them
    with :func:`round_percent` for display)."""

    response: Optional[str]
    sum_mm: Optional[float]
    baseline_sum_mm: Optional[float]
    nadir_sum_mm: Optional[float]
    percent_change_from_baseline: Optional[float]
    percent_change_from_nadir: Optional[float]
    change_from_nadir_mm: Optional[float]
    reasons: Tuple[str, ...] = field(default_factory=tuple)


def _d(value: float) -> Decimal:
    """The decimal a float was written as (56.0, 4.1), so that boundaries are
    compared exactly: 24 / 80 is a decrease of exactly 30 %, not 29.999...."""
    return Decimal(repr(float(value)))


def is_pd(sum_mm: float, nadir_sum_mm: float) -> bool:
    """4.3.1: PD when the sum is >= 20 % above the nadir *and* >= 5 mm above it
    (a nadir of 0 makes any increase of >= 5 mm PD)."""
    _check_mm(sum_mm, "sum_mm")
    _check_mm(nadir_sum_mm, "nadir_sum_mm")
    increase = _d(sum_mm) - _d(nadir_sum_mm)
    if increase < _d(PD_ABSOLUTE_MM):
        return False
    return increase * 100 >= _d(PD_INCREASE_PERCENT) * _d(nadir_sum_mm)


def is_pr(sum_mm: float, baseline_sum_mm: float) -> bool:
    """4.3.1: PR when the sum is at least 30 % below the baseline sum."""
    _check_mm(sum_mm, "sum_mm")
    _check_mm(baseline_sum_mm, "baseline_sum_mm")
    decrease = _d(baseline_sum_mm) - _d(sum_mm)
    return baseline_sum_mm > 0 and decrease * 100 >= _d(PR_DECREASE_PERCENT) * _d(baseline_sum_mm)


def is_cr(lesions: Sequence[TargetLesion]) -> bool:
    """4.3.1: CR when every non-nodal target lesion has disappeared (0 mm) and
    every target lymph node is < 10 mm short axis (the sum may then be > 0,
    4.3.2). An empty list is not CR (nothing was measured)."""
    if not lesions:
        return False
    return all((l.size_mm < NODE_NORMAL_MM) if l.lymph_node else (l.size_mm == 0) for l in lesions)


def target_response(
    lesions: Optional[Sequence[TargetLesion]] = None,
    *,
    sum_mm: Optional[float] = None,
    baseline_sum_mm: Optional[float] = None,
    nadir_sum_mm: Optional[float] = None,
    percent_from_baseline: Optional[float] = None,
    percent_from_nadir: Optional[float] = None,
) -> TargetResult:
    """The target-lesion response at one time point (RECIST 1.1, 4.3.1).

    lesions: today's target lesions (for CR, which needs to know the lymph
    nodes); sum_mm: today's sum of diameters (default: the lesions' sum);
    baseline_sum_mm / nadir_sum_mm: the reference sums, when known;
    percent_from_baseline / percent_from_nadir: changes stated without the
    sums (used only when the sums are not given).

    The order of the rules: CR (nodes below 10 mm are normal, *FAQ* "abnormal
    lymph node": a node has only reappeared at >= 10 mm), then PD, then PR,
    else SD. The nadir is the smallest sum on study including the baseline;
    when no nadir is given the smallest sum that is given (the baseline) stands
    in for it and the reasons say so. A PD from the baseline is PD whatever
    the nadir was (the nadir is never above the baseline).
    """
    reasons: List[str] = []
    lesions = list(lesions) if lesions is not None else None
    if sum_mm is None and lesions:
        sum_mm = float(sum(l.size_mm for l in lesions))
    for name, value in (("sum_mm", sum_mm), ("baseline_sum_mm", baseline_sum_mm), ("nadir_sum_mm", nadir_sum_mm)):
        if value is not None:
            _check_mm(value, name)
    for name, value in (("percent_from_baseline", percent_from_baseline), ("percent_from_nadir", percent_from_nadir)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")

    pct_base = percent_change(sum_mm, baseline_sum_mm) if sum_mm is not None and baseline_sum_mm is not None else None
    if pct_base is None and sum_mm is None and percent_from_baseline is not None:
        pct_base = float(percent_from_baseline)
    pct_nadir = percent_change(sum_mm, nadir_sum_mm) if sum_mm is not None and nadir_sum_mm is not None else None
    if pct_nadir is None and sum_mm is None and percent_from_nadir is not None:
        pct_nadir = float(percent_from_nadir)
    change_nadir = sum_mm - nadir_sum_mm if sum_mm is not None and nadir_sum_mm is not None else None

    def result(response: Optional[str]) -> TargetResult:
        return TargetResult(response, sum_mm, baseline_sum_mm, nadir_sum_mm, pct_base, pct_nadir, change_nadir, tuple(reasons))

    # --- CR: 4.3.1, every non-nodal lesion gone, every node < 10 mm
    if lesions and is_cr(lesions):
        nodes = [l.size_mm for l in lesions if l.lymph_node]
        reasons.append(
            "RECIST 1.1 4.3.1: all non-nodal target lesions have disappeared"
            + (f" and every target node is < 10 mm short axis ({', '.join(_mm(n) for n in nodes)})" if nodes else "")
            + ": target CR"
        )
        return result(CR)
    if not lesions and sum_mm == 0:
        reasons.append("RECIST 1.1 4.3.1: the sum of target diameters is 0 mm (all target lesions disappeared): target CR")
        return result(CR)
    if lesions and all(l.size_mm == 0 for l in lesions if not l.lymph_node):
        reasons.append("RECIST 1.1 4.3.1: a target node is >= 10 mm short axis: not CR")

    if sum_mm is not None:
        # --- PD: 4.3.1, >= 20 % and >= 5 mm over the nadir (the smallest sum, baseline included)
        refs = [(v, n) for v, n in ((nadir_sum_mm, "nadir"), (baseline_sum_mm, "baseline")) if v is not None]
        if not refs:
            reasons.append(f"sum {_mm(sum_mm)} without a baseline or nadir sum: no percentage, no target response")
            return result(None)
        ref, ref_name = min(refs, key=lambda r: r[0])
        if nadir_sum_mm is None:
            reasons.append(f"no nadir stated: the baseline sum ({_mm(ref)}), the smallest sum given, stands in for the nadir")
        increase = sum_mm - ref
        rel = "" if ref == 0 else f" ({_pct(increase / ref * 100.0)})"
        if is_pd(sum_mm, ref):
            reasons.append(
                f"RECIST 1.1 4.3.1: sum {_mm(sum_mm)} is {_mm(increase)}{rel} over the {ref_name} {_mm(ref)}: "
                "an increase of >= 20 % and >= 5 mm: target PD"
            )
            return result(PD)
        if increase > 0:
            reasons.append(
                f"RECIST 1.1 4.3.1: sum {_mm(sum_mm)} is {_mm(increase)}{rel} over the {ref_name} {_mm(ref)}: "
                "not PD (needs >= 20 % and >= 5 mm)"
            )
    else:
        # --- stated percentages only: the absolute change is unknown
        if pct_nadir is None and pct_base is None:
            reasons.append("no sum of diameters and no stated change: no target response")
            return result(None)
        rel, ref_name = (pct_nadir, "nadir") if pct_nadir is not None else (pct_base, "baseline")
        if pct_nadir is None:
            reasons.append("no nadir stated: the baseline stands in for the nadir")
        if _d(rel) >= _d(PD_INCREASE_PERCENT):
            reasons.append(
                f"stated change {_pct(rel)} from the {ref_name} without the sums: whether the increase is >= 5 mm "
                "(needed for PD) is unknown, no target response"
            )
            return result(None)
        if rel > 0:
            reasons.append(f"stated change {_pct(rel)} from the {ref_name}: not PD (needs >= 20 %)")

    # --- PR / SD: 4.3.1, PR at >= 30 % below the baseline
    if pct_base is None:
        reasons.append("no baseline sum stated: PR cannot be judged, no target response")
        return result(None)
    pr = is_pr(sum_mm, baseline_sum_mm) if sum_mm is not None else _d(pct_base) <= -_d(PR_DECREASE_PERCENT)
    if pr:
        reasons.append(f"RECIST 1.1 4.3.1: {_pct(pct_base)} from the baseline sum (a decrease of >= 30 %): target PR")
        return result(PR)
    reasons.append(
        f"RECIST 1.1 4.3.1: {_pct(pct_base)} from the baseline sum (PR needs a decrease of >= 30 %) and not PD: target SD"
    )
    return result(SD)


def _mm(value: float) -> str:
    return f"{value:g} mm"


def _pct(value: float) -> str:
    return f"{round_percent(value):+.1f} %"


# ------------------------------------------------------------------ time point response
def overall_response(
    target: Optional[str],
    non_target: Optional[str],
    new_lesions: Optional[bool],
) -> Tuple[str, str]:
    """The overall response at one time point, RECIST 1.1 4.4.1 Tables 1 and 2.

    target: CR, PR, SD, PD, NE ("not all evaluated"), or None when the patient
    has no target disease (then Table 2 applies); non_target: CR,
    non-CR/non-PD, PD, NE ("not evaluated"), or None when there is no
    non-target disease; new_lesions: True, False, or None when not assessed
    (read as "no", the reason says so).

    Returns (response, the table row applied). The response is CR, PR, SD, PD,
    NE, or non-CR/non-PD (Table 2).
    """
    if target is not None and target not in TARGET_RESPONSES:
        raise ValueError(f"target response {target!r} not in {TARGET_RESPONSES} (or None: no target disease)")
    if non_target is not None and non_target not in NON_TARGET_RESPONSES:
        raise ValueError(f"non-target response {non_target!r} not in {NON_TARGET_RESPONSES} (or None: no non-target disease)")
    if new_lesions not in (True, False, None):
        raise ValueError(f"new_lesions must be True, False or None, got {new_lesions!r}")
    nt = {None: "none", NE: "not evaluated"}.get(non_target, non_target)
    new = {True: "yes", False: "no", None: "not assessed (read as no)"}[new_lesions]
    if target is None:
        row = f"RECIST 1.1 Table 2 (non-target disease only): non-target {nt}, new lesions {new}"
        if new_lesions or non_target == PD:
            return PD, row + " -> PD"
        if non_target == CR:
            return CR, row + " -> CR"
        if non_target == NON_CR_NON_PD:
            return NON_CR_NON_PD, row + " -> non-CR/non-PD"
        return NE, row + " -> NE"
    row = f"RECIST 1.1 Table 1: target {target}, non-target {nt}, new lesions {new}"
    if target == PD or non_target == PD or new_lesions:
        return PD, row + " -> PD"
    if target == CR:
        if non_target in (CR, None):
            return CR, row + " -> CR"
        return PR, row + " -> PR"
    if target == PR:
        return PR, row + " -> PR"
    if target == SD:
        return SD, row + " -> SD"
    return NE, row + " -> NE"


# ------------------------------------------------------------------ best overall response
@dataclass(frozen=True)
class TimepointAssessment:
    """One overall time point response of a subject: ``day`` counted from the
    reference start (treatment start or randomisation; day 0), ``response``
    one of :data:`TIMEPOINT_RESPONSES`."""

    day: float
    response: str

    def __post_init__(self):
        if isinstance(self.day, bool) or not isinstance(self.day, (int, float)) or not math.isfinite(self.day):
            raise ValueError(f"TimepointAssessment.day must be a finite number of days, got {self.day!r}")
        if self.response not in TIMEPOINT_RESPONSES:
            raise ValueError(f"time point response {self.response!r} not in {TIMEPOINT_RESPONSES}")


@dataclass(frozen=True)
class BestResponse:
    """The best overall response, the day of the assessment it rests on (None
    when there is none), whether it is a confirmed CR / PR, and why."""

    response: str
    day: Optional[float]
    confirmed: bool
    reasons: Tuple[str, ...]


def best_overall_response(
    assessments: Iterable[TimepointAssessment],
    *,
    confirm: bool = True,
    confirm_days: float = CONFIRM_DAYS,
    min_sd_days: float = 42,
    max_ne_between: int = 1,
    accept_sd_between: bool = False,
    missing_as_ne: bool = False,
) -> BestResponse:
    """Best overall response (RECIST 1.1 4.4.3, 4.6.1, 4.6.3; Table 3 when
    ``confirm`` is True).

    Only assessments up to and including the first PD count. The candidates:

    * CR: a CR with a confirming CR at least ``confirm_days`` later, every
      assessment in between (the confirming one included) CR or NE, at most
      ``max_ne_between`` NE;
    * PR: a PR with a confirming CR or PR at least ``confirm_days`` later,
      everything in between CR, PR, SD or NE, no PR after a CR in between, at
      most ``max_ne_between`` NE and at most one SD if ``accept_sd_between``
      (else none);
    * SD: a CR, PR or SD at least ``min_sd_days`` after the start (4.6.3);
    * non-CR/non-PD: likewise for non-target-only disease;
    * PD: a PD; NE: an NE, or a CR/PR/SD/non-CR/non-PD before ``min_sd_days``;
      ND: an assessment not done.

    Without confirmation (randomised trials, 4.6.1) a CR or PR counts as it
    is. The best candidate in :data:`BOR_ORDER` wins, the earliest on ties.
    No assessment at all gives MISSING (NE with ``missing_as_ne``).
    """
    for name, value in (("confirm_days", confirm_days), ("min_sd_days", min_sd_days)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a number of days >= 0, got {value!r}")
    if isinstance(max_ne_between, bool) or not isinstance(max_ne_between, int) or max_ne_between < 0:
        raise ValueError(f"max_ne_between must be an int >= 0, got {max_ne_between!r}")
    rows = sorted(assessments, key=lambda a: a.day)
    for a in rows:
        if not isinstance(a, TimepointAssessment):
            raise TypeError(f"assessments must be TimepointAssessment, got {type(a).__name__}")
    if not rows:
        response = NE if missing_as_ne else MISSING
        return BestResponse(response, None, False, ("no time point assessment",))
    first_pd = next((i for i, a in enumerate(rows) if a.response == PD), None)
    if first_pd is not None and first_pd < len(rows) - 1:
        dropped = len(rows) - 1 - first_pd
        rows = rows[: first_pd + 1]
        cut = [f"{dropped} assessment(s) after the first PD (day {rows[-1].day:g}) not counted"]
    else:
        cut = []

    candidates: List[Tuple[int, float, str, bool, str]] = []  # (rank, day, response, confirmed, reason)

    def add(response: str, a: TimepointAssessment, confirmed: bool, reason: str):
        candidates.append((BOR_ORDER.index(response), a.day, response, confirmed, reason))

    for i, a in enumerate(rows):
        if a.response in (CR, PR) and not confirm:
            add(a.response, a, False, f"{a.response} on day {a.day:g} (no confirmation required)")
            continue
        if a.response == CR:
            j = _confirming(rows, i, (CR,), confirm_days)
            if j is not None:
                window = [r.response for r in rows[i + 1 : j + 1]]
                if all(r in (CR, NE) for r in window) and window.count(NE) <= max_ne_between:
                    add(CR, a, True, f"CR on day {a.day:g} confirmed by CR on day {rows[j].day:g} (>= {confirm_days:g} days)")
        if a.response == PR:
            j = _confirming(rows, i, (CR, PR), confirm_days)
            if j is not None:
                window = [r.response for r in rows[i + 1 : j + 1]]
                ok = (
                    all(r in (CR, PR, SD, NE) for r in window)
                    and window.count(NE) <= max_ne_between
                    and window.count(SD) <= (1 if accept_sd_between else 0)
                    and not _pr_after_cr(window)
                )
                if ok:
                    add(PR, a, True, f"PR on day {a.day:g} confirmed by {rows[j].response} on day {rows[j].day:g} "
                                     f"(>= {confirm_days:g} days)")
        if a.response in (CR, PR, SD, NON_CR_NON_PD):
            if a.day >= min_sd_days:
                label = NON_CR_NON_PD if a.response == NON_CR_NON_PD else SD
                add(label, a, False, f"{a.response} on day {a.day:g}, at least {min_sd_days:g} days after the start: {label}")
            else:
                add(NE, a, False, f"{a.response} on day {a.day:g}, before the {min_sd_days:g}-day minimum for SD: NE")
        elif a.response == PD:
            add(PD, a, False, f"PD on day {a.day:g}")
        elif a.response == NE:
            add(NE, a, False, f"NE on day {a.day:g}")
        elif a.response == ND:
            add(ND, a, False, f"not done on day {a.day:g}")
    candidates.sort(key=lambda c: (c[0], c[1]))
    rank, day, response, confirmed, reason = candidates[0]
    return BestResponse(response, day, confirmed, tuple([reason] + cut))


def _confirming(rows: Sequence[TimepointAssessment], i: int, accepted: Tuple[str, ...], confirm_days: float) -> Optional[int]:
    """Index of the first assessment after ``i`` with a response in ``accepted``
    at least ``confirm_days`` after it."""
    for j in range(i + 1, len(rows)):
        if rows[j].response in accepted and rows[j].day >= rows[i].day + confirm_days:
            return j
    return None


def _pr_after_cr(window: Sequence[str]) -> bool:
    crs = [k for k, r in enumerate(window) if r == CR]
    prs = [k for k, r in enumerate(window) if r == PR]
    return bool(crs and prs and min(crs) < max(prs))
