"""The vectorised simulator: published BOIN operating characteristics, agreement with
the pure decision functions trial by trial, agreement with a slow reference simulator
built on the per-cohort engine, determinism and speed.

Published table: Zhao Y, Yuan Y, Korn EL, Freidlin B (2024). Backfilling patients in phase I
dose-escalation trials using Bayesian optimal interval design (BOIN). Clin Cancer Res
30(4):673-679, doi:10.1158/1078-0432.CCR-23-2585, Table 4, rows "BOIN" (a copy of the table is
vignettes/table_4.PNG of github.com/openpharma/bfboin). Design of those rows: 5 doses, target
0.25, 10 cohorts of 3, n.earlystop = 9, elimination cut-off 0.95, and "stay" after 1 DLT in 3
patients (the configuration with which simFastBOIN's backfill vignette and bfboin's
"Compare to publication" vignette reproduce that table).
"""

import math
import time

import numpy as np
import pytest

from ct_safety_nlp.trial.escalation import EscalationError, boin_select_mtd, escalate, make_design, mtpi2_select_mtd, parse_scenario, simulate, three_plus_three
from ct_safety_nlp.trial.escalation.simulation import compare

# scenario: (true DLT probabilities, published BOIN row: correct selection %, over-dosing selection %,
#            patients below MTD, at MTD, over MTD, average sample size); None = not applicable
ZHAO_2024_TABLE4_BOIN = [
    ([0.25, 0.41, 0.45, 0.49, 0.53], (77.0, 16.7, None, 8.7, 6.2, 15.1)),
    ([0.12, 0.25, 0.42, 0.49, 0.55], (55.6, 14.5, 7.2, 8.4, 5.1, 20.7)),
    ([0.04, 0.12, 0.25, 0.43, 0.63], (56.7, 12.3, 11.4, 8.0, 4.6, 23.9)),
    ([0.02, 0.06, 0.10, 0.25, 0.40], (53.3, 17.1, 14.0, 7.7, 4.0, 25.7)),
    ([0.02, 0.05, 0.08, 0.11, 0.25], (63.9, None, 17.6, 7.3, None, 24.9)),
]
#: the table does not state its number of simulated trials; 10,000 (this group's usual count)
#: is the strict assumption (more trials -> smaller published error -> tighter tolerance)
PUBLISHED_NTRIAL = 10000
NTRIAL = 20000


#: one known deviation, asserted with its own, stated bound rather than hidden: Table 4's
#: scenario 1 is internally inconsistent (no dose is below the MTD, yet patients at the MTD
#: 8.7 + over-dosed 6.2 = 14.9 < its average sample size 15.1; its 58.1 % of 15.1 is 8.8).
#: We simulate 8.9 there (all other 26 published figures within 4 standard errors).
KNOWN_DEVIATIONS = {(1, "at"): 0.25}


def _zhao_design():
    return make_design("boin", 5, 0.25, n_earlystop=9, earlystop_rule="stay", stay_on_one_of_three=True)


@pytest.mark.parametrize("index", range(1, 6), ids=[f"scenario{i}" for i in range(1, 6)])
def test_boin_matches_published_operating_characteristics(index):
    """Within 4 Monte Carlo standard errors (ours with 20,000 trials and the table's, assumed
    10,000) plus the table's rounding to 0.1, for every metric of Table 4."""
    scenario, published = ZHAO_2024_TABLE4_BOIN[index - 1]
    oc = simulate(_zhao_design(), scenario, ntrial=NTRIAL, ncohort=10, cohort_size=3, seed=2024, return_trials=True)
    m = scenario.index(0.25)
    n, mtd = oc["trials"]["n"], oc["trials"]["mtd"]
    per_trial = {
        "correct": 100.0 * (mtd == m + 1),
        "over_sel": 100.0 * (mtd > m + 1),
        "below": n[:, :m].sum(axis=1),
        "at": n[:, m],
        "over": n[:, m + 1 :].sum(axis=1),
        "size": n.sum(axis=1),
    }
    for (name, values), expected in zip(per_trial.items(), published):
        if expected is None:
            continue
        sd = float(np.std(values))
        tol = KNOWN_DEVIATIONS.get((index, name)) or 4 * math.sqrt(sd**2 / NTRIAL + sd**2 / PUBLISHED_NTRIAL) + 0.05
        assert abs(float(np.mean(values)) - expected) <= tol, f"{name}: simulated {np.mean(values):.2f}, published {expected}, tolerance {tol:.2f}"
    # the summary matches the per-trial arrays
    assert oc["selection_pct"][m] == pytest.approx(per_trial["correct"].mean(), abs=0.01)
    assert oc["mean_patients"] == pytest.approx(per_trial["size"].mean(), abs=1e-3)


@pytest.mark.parametrize("name", ["boin", "mtpi2"])
def test_vectorised_selection_equals_pure_selection_trial_by_trial(name):
    design = make_design(name, 5, 0.3)
    oc = simulate(design, [0.05, 0.15, 0.3, 0.45, 0.6], ntrial=1500, seed=5, return_trials=True)
    select = boin_select_mtd if name == "boin" else mtpi2_select_mtd
    n, y, mtd = oc["trials"]["n"], oc["trials"]["y"], oc["trials"]["mtd"]
    for i in range(len(mtd)):
        expected = select(n[i].tolist(), y[i].tolist(), 0.3)["mtd"]
        assert (mtd[i] if mtd[i] > 0 else None) == expected, (i, n[i], y[i])


@pytest.mark.parametrize("deescalate", [False, True])
def test_vectorised_3p3_equals_pure_3p3_trial_by_trial(deescalate):
    design = make_design("3+3", 5, deescalate=deescalate)
    oc = simulate(design, [0.1, 0.2, 0.35, 0.5, 0.6], ntrial=3000, seed=7, return_trials=True)
    t = oc["trials"]
    for i in range(3000):
        rec = three_plus_three(t["n"][i].tolist(), t["y"][i].tolist(), int(t["last_dose"][i]), 5, deescalate=deescalate)
        assert rec["continue"] is False
        assert (t["mtd"][i] if t["mtd"][i] > 0 else None) == rec["next_dose"], (i, t["n"][i], t["y"][i])


def _reference_simulation(design, p, ntrial, ncohort, seed):
    """Slow reference: the per-cohort engine, one trial at a time."""
    rng = np.random.default_rng(seed)
    sel = np.zeros(design.num_doses + 1)
    size = 0
    for _ in range(ntrial):
        cohorts, dose, k = [], 1, 0
        while True:
            k += 1
            outcomes = [int(u < p[dose - 1]) for u in rng.random(3)]
            cohorts.append({"cohort": k, "dose": dose, "outcomes": outcomes})
            result = escalate(cohorts, design, final=(design.name != "3+3" and k == ncohort))
            last = result["decisions"][-1]
            if last["decision"] == "stop":
                break
            dose = last["next_dose"]
        sel[result["mtd"] or 0] += 1
        size += sum(len(c["outcomes"]) for c in cohorts)
    return 100 * sel / ntrial, size / ntrial


@pytest.mark.parametrize("name,kwargs", [("boin", {}), ("mtpi2", {}), ("3+3", {"deescalate": True}), ("boin", {"n_earlystop": 9})])
def test_vectorised_simulator_agrees_with_engine_reference(name, kwargs):
    p = [0.08, 0.18, 0.3, 0.45, 0.6]
    design = make_design(name, 5, None if name == "3+3" else 0.3, **kwargs)
    ref_sel, ref_size = _reference_simulation(design, p, 600, 10, seed=11)
    oc = simulate(design, p, ntrial=20000, ncohort=10, seed=12)
    fast = np.array([oc["no_mtd_pct"]] + oc["selection_pct"])
    # selection percentages: 4 standard errors of the 600-trial reference
    se = np.sqrt(np.maximum(fast, 1.0) * (100 - np.minimum(fast, 99.0)) / 600)
    assert np.all(np.abs(ref_sel - fast) <= 4 * se + 0.5), (ref_sel, fast)
    assert abs(ref_size - oc["mean_patients"]) < 1.5


def test_seeded_and_deterministic():
    design = make_design("boin", 5, 0.3)
    a = simulate(design, [0.05, 0.15, 0.3, 0.45, 0.6], ntrial=2000, seed=3)
    b = simulate(design, [0.05, 0.15, 0.3, 0.45, 0.6], ntrial=2000, seed=3)
    c = simulate(design, [0.05, 0.15, 0.3, 0.45, 0.6], ntrial=2000, seed=4)
    strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_ten_thousand_trials_take_seconds():
    """10,000 trials of a 5-dose design: seconds at most (about 0.05 s here; the bound leaves
    room for a shared machine)."""
    design = make_design("boin", 5, 0.3)
    t0 = time.perf_counter()
    oc = simulate(design, [0.05, 0.15, 0.3, 0.45, 0.6], ntrial=10000, ncohort=10, seed=6)
    assert time.perf_counter() - t0 < 10
    assert sum(oc["selection_pct"]) + oc["no_mtd_pct"] == pytest.approx(100, abs=0.05)
    assert oc["mean_patients"] <= 30 and 0 < oc["dlt_rate"] < 1


def test_compare_designs_side_by_side():
    designs = [make_design("3+3", 5), make_design("boin", 5, 0.3), make_design("mtpi2", 5, 0.3)]
    rows = compare(designs, [[0.05, 0.15, 0.3, 0.45, 0.6], [0.3, 0.45, 0.6, 0.7, 0.8]], ntrial=2000, seed=1)
    assert [(r["scenario_index"], r["design"]["design"]) for r in rows] == [(1, "3+3"), (1, "boin"), (1, "mtpi2"), (2, "3+3"), (2, "boin"), (2, "mtpi2")]
    assert all(len(r["selection_pct"]) == 5 for r in rows)


def test_bad_scenarios():
    with pytest.raises(EscalationError, match="dose 3 has probability 1.2"):
        parse_scenario("0.1,0.2,1.2")
    with pytest.raises(EscalationError, match="not a comma-separated list"):
        parse_scenario("0.1;0.2")
    with pytest.raises(EscalationError, match="3 probabilities for a design with 5 doses"):
        parse_scenario("0.1,0.2,0.3", 5)
    with pytest.raises(EscalationError, match="empty value"):
        parse_scenario("0.1,,0.3")
