"""Balance of an allocation: counts per arm overall, per stratum and per factor level, and the largest imbalance.

Imbalance of a set of counts is the range of ``count[arm] / ratio[arm]`` over
the arms (Pocock & Simon 1975, section 3, the "range" measure, with the
ratio adjustment of Minirand): for a 1:1 design the difference between the
two arms' counts; 0 whenever the counts are exactly in the ratio. A stratum is
a combination of every factor's level; a margin is one level of one factor
(what minimisation balances). ``max_running`` is the largest imbalance of a
stratum at any point of its sequence, i.e. what a trial stopped at the worst
moment would show (for permuted blocks it is bounded by the block sizes).
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence

from .blocks import strata_cells, stratum_label
from .design import AllocationError, check_arms, check_factors, check_ratio


def imbalance(counts: Mapping[str, int], arms: Sequence[str], ratio: Optional[Sequence[int]] = None) -> float:
    """``max - min`` of ``counts[arm] / ratio[arm]`` over ``arms``."""
    ratio = check_ratio(ratio, arms)
    adjusted = [counts.get(a, 0) / r for a, r in zip(arms, ratio)]
    value = max(adjusted) - min(adjusted)
    return int(value) if float(value).is_integer() else value


def rows_as_allocations(rows: Sequence[Mapping[str, object]], factors: Mapping[str, Sequence[str]]) -> List[Dict[str, object]]:
    """A randomisation list's rows (``arm`` + factor columns) as ``{"subject", "arm"}`` records, in order."""
    return [{"subject": {f: str(row[f]) for f in factors}, "arm": str(row["arm"])} for row in rows]


def balance_summary(
    allocations: Sequence[Mapping[str, object]],
    *,
    arms: Sequence[str],
    factors: Optional[Mapping[str, Sequence[str]]] = None,
    ratio: Optional[Sequence[int]] = None,
) -> Dict[str, object]:
    """Counts and imbalance overall, per stratum and per margin, in allocation order.

    ``allocations``: ``{"subject": {factor: level}, "arm": arm}`` in the order
    they were made (a list's rows in list order: see :func:`rows_as_allocations`).
    Returns ``{"arms", "ratio", "n", "overall", "strata", "margins", "largest"}``;
    every stratum and level of the design is listed, empty ones with n = 0.
    """
    arms = check_arms(arms)
    ratio = check_ratio(ratio, arms)
    factors = check_factors(factors or {}, "factors")
    total = {a: 0 for a in arms}
    strata: Dict[str, Dict[str, object]] = {}
    for cell in strata_cells(factors):
        strata[stratum_label(cell)] = {"stratum": stratum_label(cell), **cell, "counts": {a: 0 for a in arms}, "max_running": 0}
    margins = {(f, lv): {a: 0 for a in arms} for f, levels in factors.items() for lv in levels}
    for i, record in enumerate(allocations, 1):
        arm = record.get("arm")
        if arm not in total:
            raise AllocationError(f"allocation {i}: arm {arm!r} is not one of {', '.join(arms)}")
        subject = dict(record.get("subject") or {})
        for f, levels in factors.items():
            if subject.get(f) not in levels:
                raise AllocationError(f"allocation {i}: {f}={subject.get(f)!r} is not a level of {f} ({', '.join(levels)})")
        total[arm] += 1
        s = strata[stratum_label({f: subject[f] for f in factors})]
        s["counts"][arm] += 1
        s["max_running"] = max(s["max_running"], imbalance(s["counts"], arms, ratio))
        for f in factors:
            margins[(f, subject[f])][arm] += 1
    strata_rows = []
    for s in strata.values():
        strata_rows.append({**s, "n": sum(s["counts"].values()), "imbalance": imbalance(s["counts"], arms, ratio)})
    margin_rows = [
        {"factor": f, "level": lv, "counts": c, "n": sum(c.values()), "imbalance": imbalance(c, arms, ratio)}
        for (f, lv), c in margins.items()
    ]
    overall = {"counts": total, "n": sum(total.values()), "imbalance": imbalance(total, arms, ratio)}
    largest = {
        "overall": overall["imbalance"],
        "stratum": max((s["imbalance"] for s in strata_rows), default=0),
        "stratum_running": max((s["max_running"] for s in strata_rows), default=0),
        "margin": max((m["imbalance"] for m in margin_rows), default=0),
    }
    return {"arms": arms, "ratio": ratio, "n": overall["n"], "overall": overall, "strata": strata_rows, "margins": margin_rows, "largest": largest}
