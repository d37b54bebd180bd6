"""Pocock–Simon minimisation: allocate one subject at a time to minimise marginal imbalance.

Source: S. J. Pocock and R. Simon, "Sequential treatment assignment with
balancing for prognostic factors in the controlled clinical trial",
*Biometrics* 31(1):103–115, 1975 (doi:10.2307/2529712), section 3; unequal
ratios by dividing counts by the arm's ratio part before measuring
imbalance, as in the R package Minirand (Jin, Polis & Hartzel, Commun Stat
Simul Comput 2019). Worked example reproduced in the tests: Lim & In,
"Randomization in clinical studies", *Korean J Anesthesiol* 72(3):221–232,
2019 (doi:10.4097/kja.19049), Table 4.

For a new subject with level ``r_i`` of each factor ``i`` and each candidate
arm ``k``:

1. ``x[a]`` = number of earlier subjects on arm ``a`` with level ``r_i`` of
   factor ``i``, plus 1 for ``a == k`` (the subject, if given arm ``k``);
2. ``d_i(k)`` = ``range`` (max - min) or ``variance`` (sample variance,
   denominator ``len(arms) - 1``) of ``x[a] / ratio[a]`` over the arms;
3. ``G(k) = sum_i weight_i * d_i(k)`` (only the subject's own levels count:
   balance is marginal, over each factor separately, not over strata).

The arm(s) with the smallest ``G`` are preferred: together they get
probability ``p`` (shared equally), the other arms share ``1 - p`` equally
(Pocock & Simon's simplest rule, their eq. (3.3) with ``p_1 = p``). When every
arm ties (e.g. the first subject) the probabilities follow the allocation
ratio. ``p = 1`` is deterministic minimisation (Taves 1974) except for ties.
The arm is then the first, in arm order, at which the running sum of the
probabilities exceeds ``u``, a uniform number from the stream
``rng.stream(seed, "minimise", index)`` (``index`` = 1 for the first subject),
so a state file with its seed replays exactly.
"""

from __future__ import annotations

import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from .design import (
    AllocationError,
    check_arms,
    check_factors,
    check_method,
    check_p,
    check_ratio,
    check_subject,
    check_weights,
)
from .rng import check_seed, stream

Counts = Dict[str, Dict[str, Dict[str, int]]]


def check_design(design: Mapping[str, object]) -> Dict[str, object]:
    """A minimisation design dict with every key checked and defaults filled.

    Keys: ``arms`` (required), ``ratio`` (default 1 each), ``factors``
    (required, factor -> levels), ``weights`` (default 1 each), ``method``
    (``range`` | ``variance``, default ``range``), ``p`` (default 0.8),
    ``seed`` (required, non-negative int).
    """
    if not isinstance(design, Mapping):
        raise AllocationError(f"design must be a mapping, got {type(design).__name__}")
    for key in ("arms", "factors", "seed"):
        if key not in design:
            raise AllocationError(f"design: missing {key!r}")
    unknown = sorted(set(design) - {"arms", "ratio", "factors", "weights", "method", "p", "seed"})
    if unknown:
        raise AllocationError(f"design: unknown key(s) {', '.join(unknown)}")
    arms = check_arms(design["arms"], "design arms")
    factors = check_factors(design["factors"], "design factors")
    if not factors:
        raise AllocationError("design factors: minimisation needs at least one factor")
    return {
        "arms": arms,
        "ratio": check_ratio(design.get("ratio"), arms, "design ratio"),
        "factors": factors,
        "weights": check_weights(design.get("weights"), factors, "design weights"),
        "method": check_method(design.get("method", "range"), "design method"),
        "p": check_p(design.get("p", 0.8), len(arms), "design p"),
        "seed": check_seed(design["seed"]),
    }


def empty_counts(factors: Mapping[str, Sequence[str]], arms: Sequence[str]) -> Counts:
    return {f: {lv: {a: 0 for a in arms} for lv in levels} for f, levels in factors.items()}


def marginal_counts(allocations: Iterable[Mapping[str, object]], factors: Mapping[str, Sequence[str]], arms: Sequence[str]) -> Counts:
    """``counts[factor][level][arm]``: earlier subjects per arm at each level of each factor.

    ``allocations``: dicts with ``subject`` (factor -> level) and ``arm``.
    """
    counts = empty_counts(factors, arms)
    for i, record in enumerate(allocations, 1):
        arm = record["arm"]
        if arm not in arms:
            raise AllocationError(f"allocation {i}: unknown arm {arm!r}")
        subject = check_subject(record["subject"], factors, f"allocation {i}")
        for f, level in subject.items():
            counts[f][level][arm] += 1
    return counts


def _spread(values: Sequence[float], method: str) -> float:
    if method == "range":
        return max(values) - min(values)
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def imbalance_scores(
    counts: Counts,
    subject: Mapping[str, str],
    *,
    arms: Sequence[str],
    ratio: Optional[Sequence[int]] = None,
    weights: Optional[Mapping[str, float]] = None,
    method: str = "range",
) -> Dict[str, float]:
    """``G(k)`` for every arm ``k`` (steps 1–3 of the module docstring)."""
    arms = list(arms)
    ratio = check_ratio(ratio, arms)
    method = check_method(method)
    weights = dict(weights or {})
    scores: Dict[str, float] = {}
    for k in arms:
        total = 0.0
        for f, level in subject.items():
            try:
                row = counts[f][level]
            except KeyError:
                raise AllocationError(f"subject: {f}={level} has no counts (unknown factor or level)") from None
            x = [(row.get(a, 0) + (1 if a == k else 0)) / r for a, r in zip(arms, ratio)]
            total += float(weights.get(f, 1.0)) * _spread(x, method)
        scores[k] = total
    return scores


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def allocation_probabilities(
    scores: Mapping[str, float], *, p: float, ratio: Optional[Sequence[int]] = None
) -> Dict[str, float]:
    """Probability per arm: ``p`` shared by the best-scoring arms, ``1 - p`` by the rest; all tied -> ratio."""
    arms = list(scores)
    ratio = check_ratio(ratio, arms)
    p = check_p(p, len(arms))
    low = min(scores.values())
    best = [a for a in arms if _close(scores[a], low)]
    if len(best) == len(arms):
        total = sum(ratio)
        return {a: r / total for a, r in zip(arms, ratio)}
    rest = len(arms) - len(best)
    return {a: (p / len(best) if a in best else (1.0 - p) / rest) for a in arms}


def choose_arm(probabilities: Mapping[str, float], u: float) -> str:
    """The first arm (in order) at which the running sum of probabilities exceeds ``u`` in [0, 1)."""
    if not 0.0 <= u < 1.0:
        raise AllocationError(f"u must be in [0, 1), got {u}")
    running = 0.0
    last = None
    for arm, prob in probabilities.items():
        if prob <= 0:
            continue
        running += prob
        last = arm
        if u < running:
            return arm
    if last is None:
        raise AllocationError("no arm has a positive probability")
    return last  # u within rounding of 1.0


def minimise_next(
    design: Mapping[str, object],
    allocations: Sequence[Mapping[str, object]],
    subject: Mapping[str, str],
    *,
    index: Optional[int] = None,
) -> Dict[str, object]:
    """Allocate the next subject; ``allocations`` are the earlier ones (``subject`` + ``arm`` each).

    Returns ``{"index", "subject", "arm", "scores", "probabilities", "u"}``;
    ``index`` defaults to ``len(allocations) + 1`` and selects the stream.
    """
    d = check_design(design)
    subject = check_subject(subject, d["factors"])
    if index is None:
        index = len(allocations) + 1
    counts = marginal_counts(allocations, d["factors"], d["arms"])
    scores = imbalance_scores(counts, subject, arms=d["arms"], ratio=d["ratio"], weights=d["weights"], method=d["method"])
    probs = allocation_probabilities(scores, p=d["p"], ratio=d["ratio"])
    u = stream(d["seed"], "minimise", index).uniform()
    return {"index": index, "subject": subject, "arm": choose_arm(probs, u), "scores": scores, "probabilities": probs, "u": u}


def minimise_sequence(design: Mapping[str, object], subjects: Sequence[Mapping[str, str]]) -> List[Dict[str, object]]:
    """Allocate ``subjects`` one after another (a convenience over :func:`minimise_next`)."""
    out: List[Dict[str, object]] = []
    for subject in subjects:
        out.append(minimise_next(design, out, subject))
    return out
