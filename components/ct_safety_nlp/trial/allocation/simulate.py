"""Seeded simulation of the imbalance that simple randomisation, stratified permuted blocks and
Pocock–Simon minimisation leave, and how predictable each one is.

The comparison follows Pocock & Simon (1975, section 5: simulated trials with
several prognostic factors, "permuted blocks within strata" against
minimisation) and Scott, McPherson, Ramsay & Campbell, "The method of
minimization for allocation to clinical trials: a review", *Control Clin
Trials* 23(6):662–674, 2002. Predictability is the expected share of correct
guesses of an observer who knows the method and every earlier allocation
(Blackwell & Hodges, *Ann Math Stat* 28:449–460, 1957; randomizeR
``corGuess("CS")``): for permuted blocks the convergence strategy (guess the
arm that is behind in the subject's stratum), for minimisation the arm the
rule prefers, for simple randomisation the arm with the largest ratio part;
a guess among tied arms earns 1/(number tied) when the true arm is one of them.

Each run draws ``n_subjects`` subjects, every factor level equally likely
(stream ``("sim-subjects", run)``), and allocates the *same* subjects with
every method, each from its own stream, so the methods are compared on
identical patients. Per run and method it records the final overall
imbalance, the largest marginal imbalance over all factor levels, the largest
within-stratum imbalance (imbalance as in :mod:`.balance`) and the correct-guess
share. Percentiles use the nearest-rank rule (the smallest value with at
least q% of runs at or below it).
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from .balance import imbalance
from .blocks import block_sequence, library_versions, stratum_label
from .design import AllocationError, check_arms, check_blocks, check_factors, check_method, check_n, check_p, check_ratio, check_weights
from .minimisation import allocation_probabilities, choose_arm, empty_counts, imbalance_scores
from .rng import RNG_DESCRIPTION, check_seed, stream

METRICS = ("overall", "margin_max", "stratum_max", "correct_guess")


def _credit(candidates: Sequence[str], actual: str) -> float:
    return 1.0 / len(candidates) if actual in candidates else 0.0


def _lowest(values: Mapping[str, float]) -> List[str]:
    low = min(values.values())
    return [a for a, v in values.items() if math.isclose(v, low, rel_tol=1e-9, abs_tol=1e-12)]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``q`` % of ``values`` at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summarise(values: Sequence[float]) -> Dict[str, float]:
    n = len(values)
    mean = sum(values) / n
    return {
        "mean": mean,
        "median": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values),
    }


def _run_metrics(subjects, arms_seq, arms, ratio, factors, guesses) -> Dict[str, float]:
    total = {a: 0 for a in arms}
    margins = {(f, lv): {a: 0 for a in arms} for f, levels in factors.items() for lv in levels}
    strata: Dict[str, Dict[str, int]] = {}
    for subject, arm in zip(subjects, arms_seq):
        total[arm] += 1
        for f in factors:
            margins[(f, subject[f])][arm] += 1
        strata.setdefault(stratum_label(subject), {a: 0 for a in arms})[arm] += 1
    return {
        "overall": imbalance(total, arms, ratio),
        "margin_max": max(imbalance(c, arms, ratio) for c in margins.values()),
        "stratum_max": max(imbalance(c, arms, ratio) for c in strata.values()),
        "correct_guess": sum(guesses) / len(guesses),
    }


def _simple(run, seed, subjects, arms, ratio):
    rng = stream(seed, "sim-simple", run)
    probs = {a: r / sum(ratio) for a, r in zip(arms, ratio)}
    favourite = [a for a, r in zip(arms, ratio) if r == max(ratio)]
    out, guesses = [], []
    for _ in subjects:
        arm = choose_arm(probs, rng.uniform())
        out.append(arm)
        guesses.append(_credit(favourite, arm))
    return out, guesses


def _blocks(run, seed, subjects, arms, ratio, sizes):
    sequences: Dict[str, object] = {}
    counts: Dict[str, Dict[str, int]] = {}
    out, guesses = [], []
    for subject in subjects:
        label = stratum_label(subject)
        if label not in sequences:
            sequences[label] = block_sequence(stream(seed, "sim-blocks", run, label), arms, ratio, sizes)
            counts[label] = {a: 0 for a in arms}
        c = counts[label]
        behind = _lowest({a: c[a] / r for a, r in zip(arms, ratio)})
        _, _, arm = next(sequences[label])
        guesses.append(_credit(behind, arm))
        c[arm] += 1
        out.append(arm)
    return out, guesses


def _minimisation(run, seed, subjects, arms, ratio, factors, weights, method, p):
    rng = stream(seed, "sim-minimise", repr(p), run)
    counts = empty_counts(factors, arms)
    out, guesses = [], []
    for subject in subjects:
        scores = imbalance_scores(counts, subject, arms=arms, ratio=ratio, weights=weights, method=method)
        probs = allocation_probabilities(scores, p=p, ratio=ratio)
        arm = choose_arm(probs, rng.uniform())
        guesses.append(_credit(_lowest(scores), arm))
        for f, level in subject.items():
            counts[f][level][arm] += 1
        out.append(arm)
    return out, guesses


def simulate_balance(
    *,
    arms: Sequence[str],
    factors: Mapping[str, Sequence[str]],
    n_subjects: int,
    n_runs: int,
    seed: int,
    ratio: Optional[Sequence[int]] = None,
    blocks: Sequence[int] = (4, 6),
    p_values: Sequence[float] = (0.8, 1.0),
    method: str = "range",
    weights: Optional[Mapping[str, float]] = None,
    keep_runs: bool = False,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Dict[str, object]:
    """Simulate ``n_runs`` trials of ``n_subjects`` and summarise each method's imbalance and predictability.

    Methods: ``simple``; ``blocks`` (permuted blocks within every stratum, the
    block sizes ``blocks``); ``minimisation p=P`` for each ``P`` in
    ``p_values`` (``method`` range|variance, ``weights`` per factor).
    Returns ``{"parameters", "methods": [{"method", "summary": {metric: {mean,
    median, p95, max}}, "distribution": {metric: {value: runs}}}], "meta"}``
    (``"runs"`` with every run's metrics too when ``keep_runs``).
    ``progress(done, total)`` is called after each run when given.
    """
    arms = check_arms(arms)
    ratio = check_ratio(ratio, arms)
    factors = check_factors(factors, "factors")
    if not factors:
        raise AllocationError("factors: the simulation needs at least one factor")
    sizes = check_blocks(blocks, ratio)
    p_values = [check_p(p, len(arms)) for p in p_values]
    method = check_method(method)
    weights = check_weights(weights, factors)
    n_subjects = check_n(n_subjects, "n_subjects")
    n_runs = check_n(n_runs, "n_runs")
    seed = check_seed(seed)
    names = ["simple", "blocks"] + [f"minimisation p={p:g}" for p in p_values]
    runs: Dict[str, List[Dict[str, float]]] = {name: [] for name in names}
    factor_names = list(factors)
    for run in range(1, n_runs + 1):
        srng = stream(seed, "sim-subjects", run)
        subjects = [{f: factors[f][srng.below(len(factors[f]))] for f in factor_names} for _ in range(n_subjects)]
        results = {
            "simple": _simple(run, seed, subjects, arms, ratio),
            "blocks": _blocks(run, seed, subjects, arms, ratio, sizes),
        }
        for p, name in zip(p_values, names[2:]):
            results[name] = _minimisation(run, seed, subjects, arms, ratio, factors, weights, method, p)
        for name, (seq, guesses) in results.items():
            runs[name].append(_run_metrics(subjects, seq, arms, ratio, factors, guesses))
        if progress is not None:
            progress(run, n_runs)
    methods = []
    for name in names:
        summary = {m: summarise([r[m] for r in runs[name]]) for m in METRICS}
        distribution = {}
        for m in ("overall", "margin_max", "stratum_max"):
            hist: Dict[float, int] = {}
            for r in runs[name]:
                key = round(r[m], 6)
                hist[key] = hist.get(key, 0) + 1
            distribution[m] = dict(sorted(hist.items()))
        entry = {"method": name, "summary": summary, "distribution": distribution}
        if keep_runs:
            entry["runs"] = runs[name]
        methods.append(entry)
    n_strata = 1
    for levels in factors.values():
        n_strata *= len(levels)
    return {
        "parameters": {
            "arms": arms,
            "ratio": ratio,
            "factors": factors,
            "n_strata": n_strata,
            "n_subjects": n_subjects,
            "n_runs": n_runs,
            "seed": seed,
            "blocks": sizes,
            "p_values": p_values,
            "method": method,
            "weights": weights,
        },
        "methods": methods,
        "meta": {"rng": RNG_DESCRIPTION, "versions": library_versions(), "kind": "allocation_balance_simulation"},
    }
