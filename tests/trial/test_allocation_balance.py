"""Balance summaries and the seeded simulation comparing simple, block and minimisation allocation."""

from itertools import permutations

import pytest

from ct_safety_nlp.trial.allocation import (
    AllocationError,
    balance_summary,
    imbalance,
    permuted_block_list,
    rows_as_allocations,
    simulate_balance,
)
from ct_safety_nlp.trial.allocation.simulate import percentile


@pytest.mark.parametrize("counts,ratio,expected", [
    ({"A": 6, "B": 4}, None, 2),
    ({"A": 5, "B": 5}, None, 0),
    ({"A": 4, "B": 2}, [2, 1], 0),
    ({"A": 3, "B": 3}, [2, 1], 1.5),
    ({"A": 0, "B": 0, "C": 3}, None, 3),
])
def test_imbalance(counts, ratio, expected):
    assert imbalance(counts, list(counts), ratio) == expected


@pytest.mark.parametrize("values,q,expected", [
    ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 51, 3), ([1, 2, 3, 4], 95, 4), ([7], 95, 7), (list(range(1, 101)), 95, 95),
])
def test_nearest_rank_percentile(values, q, expected):
    assert percentile(values, q) == expected


def test_balance_of_a_full_list_is_perfect_per_stratum_and_running_bounded_by_block():
    lst = permuted_block_list(["A", "B"], blocks=[4, 6], n=60, seed=2, strata={"sex": ["F", "M"], "site": ["01", "02"]})
    summary = balance_summary(rows_as_allocations(lst["rows"], lst["meta"]["strata"]), arms=["A", "B"], factors=lst["meta"]["strata"])
    assert summary["n"] == len(lst["rows"])
    assert all(s["imbalance"] == 0 for s in summary["strata"])
    assert all(m["imbalance"] == 0 for m in summary["margins"])
    assert 0 < summary["largest"]["stratum_running"] <= 3  # half the largest block
    assert {s["stratum"] for s in summary["strata"]} == {"sex=F;site=01", "sex=F;site=02", "sex=M;site=01", "sex=M;site=02"}


def test_balance_counts_by_hand():
    allocations = [
        {"subject": {"sex": "F"}, "arm": "A"},
        {"subject": {"sex": "F"}, "arm": "A"},
        {"subject": {"sex": "M"}, "arm": "B"},
    ]
    s = balance_summary(allocations, arms=["A", "B"], factors={"sex": ["F", "M"]})
    assert s["overall"] == {"counts": {"A": 2, "B": 1}, "n": 3, "imbalance": 1}
    f = next(x for x in s["strata"] if x["stratum"] == "sex=F")
    assert f["counts"] == {"A": 2, "B": 0} and f["max_running"] == 2
    assert s["largest"] == {"overall": 1, "stratum": 2, "stratum_running": 2, "margin": 2}


def test_balance_rejects_unknown_levels_and_arms():
    with pytest.raises(AllocationError, match="allocation 1: sex='X' is not a level of sex"):
        balance_summary([{"subject": {"sex": "X"}, "arm": "A"}], arms=["A", "B"], factors={"sex": ["F", "M"]})
    with pytest.raises(AllocationError, match="allocation 1: arm 'C'"):
        balance_summary([{"subject": {"sex": "F"}, "arm": "C"}], arms=["A", "B"], factors={"sex": ["F", "M"]})


SIM = dict(arms=["A", "B"], factors={"sex": ["F", "M"], "age": ["<50", "50-64", "65+"], "site": ["01", "02", "03", "04"]},
           n_subjects=60, n_runs=60, seed=3, blocks=[4, 6], p_values=[0.8, 1.0])


def _method(sim, name):
    return next(m for m in sim["methods"] if m["method"] == name)["summary"]


def test_simulation_is_seeded_and_orders_the_methods_as_pocock_simon_found():
    a = simulate_balance(**SIM)
    assert a == simulate_balance(**SIM)
    assert a["methods"] != simulate_balance(**{**SIM, "seed": 4})["methods"]
    simple, blocks = _method(a, "simple"), _method(a, "blocks")
    m08, m1 = _method(a, "minimisation p=0.8"), _method(a, "minimisation p=1")
    # 24 strata for 60 subjects: blocks within strata leave many part-filled blocks; minimisation balances margins
    assert m1["margin_max"]["mean"] < m08["margin_max"]["mean"] < blocks["margin_max"]["mean"] < simple["margin_max"]["mean"]
    assert m1["overall"]["max"] <= 2
    assert m1["correct_guess"]["mean"] > m08["correct_guess"]["mean"] > simple["correct_guess"]["mean"]
    assert simple["correct_guess"]["mean"] == pytest.approx(0.5)
    for m in a["methods"]:
        assert sum(m["distribution"]["overall"].values()) == 60


def _convergence_guess_rate_exact(block):
    """Exact expected correct-guess share of the convergence strategy over all orderings of one block."""
    orders = set(permutations(block))
    total = 0.0
    for order in orders:
        counts = {"A": 0, "B": 0}
        for arm in order:
            low = min(counts.values())
            behind = [a for a in counts if counts[a] == low]
            total += (1 / len(behind)) if arm in behind else 0.0
            counts[arm] += 1
    return total / (len(orders) * len(block))


def test_block_guess_rate_matches_the_exact_convergence_strategy_value():
    exact = _convergence_guess_rate_exact("AABB")
    assert exact == pytest.approx(17 / 24)
    sim = simulate_balance(arms=["A", "B"], factors={"one": ["x"]}, n_subjects=400, n_runs=40, seed=1, blocks=[4], p_values=[1.0])
    assert _method(sim, "blocks")["correct_guess"]["mean"] == pytest.approx(exact, abs=0.01)


def test_simulation_with_a_ratio_and_variance():
    sim = simulate_balance(arms=["A", "B"], ratio=[2, 1], factors={"sex": ["F", "M"]}, n_subjects=30, n_runs=20, seed=5,
                           blocks=[3, 6], p_values=[0.9], method="variance")
    assert [m["method"] for m in sim["methods"]] == ["simple", "blocks", "minimisation p=0.9"]
    assert sim["parameters"]["ratio"] == [2, 1]


@pytest.mark.parametrize("change,message", [
    ({"blocks": [4, 5]}, "block size 5 does not fit"),
    ({"p_values": [0.2]}, "between 1/2"),
    ({"factors": {}}, "at least one factor"),
    ({"n_runs": 0}, "n_runs: must be a positive integer"),
])
def test_simulation_bad_parameters(change, message):
    with pytest.raises(ValueError, match=message):
        simulate_balance(**{**SIM, **change})
