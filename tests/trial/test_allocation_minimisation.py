"""Pocock–Simon minimisation: the published worked example (p = 1), the probability rule, the range
and variance measures, weights, ratios, and bad subjects / designs as clear errors."""

import pytest

from ct_safety_nlp.trial.allocation import (
    AllocationError,
    allocation_probabilities,
    check_design,
    choose_arm,
    imbalance_scores,
    marginal_counts,
    minimise_next,
    minimise_sequence,
    parse_subject,
)

# Lim C-Y, In J. Randomization in clinical studies. Korean J Anesthesiol 2019;72(3):221-232,
# doi:10.4097/kja.19049, Table 4 "How adaptive randomization using minimization works": 14 patients
# allocated (7 control, 7 treatment); the 15th is female, 74 years old, site 2. Allocated to control
# the total imbalance is (5-4)+(4-3)+(4-3) = 3, to treatment (6-3)+(4-3)+(4-3) = 5, so she goes to control.
LIM_IN_FACTORS = {"site": ["Site 1", "Site 2"], "sex": ["Male", "Female"], "age": ["<20", "20–64", "≥65"]}
LIM_IN_COUNTS = {  # the table's counts before the 15th patient
    "site": {"Site 1": {"Control": 4, "Treatment": 2}, "Site 2": {"Control": 3, "Treatment": 5}},
    "sex": {"Male": {"Control": 4, "Treatment": 4}, "Female": {"Control": 3, "Treatment": 3}},
    "age": {"<20": {"Control": 2, "Treatment": 2}, "20–64": {"Control": 2, "Treatment": 2}, "≥65": {"Control": 3, "Treatment": 3}},
}
LIM_IN_15TH = {"site": "Site 2", "sex": "Female", "age": "≥65"}


def _lim_in_patients():
    """14 patients with exactly the table's margins (the paper gives margins only; any such set will do)."""
    ages = ["<20", "<20", "20–64", "20–64", "≥65", "≥65", "≥65"]
    sexes = ["Male"] * 4 + ["Female"] * 3
    sites = {"Control": ["Site 1"] * 4 + ["Site 2"] * 3, "Treatment": ["Site 1"] * 2 + ["Site 2"] * 5}
    return [{"subject": {"site": site, "sex": sex, "age": age}, "arm": arm}
            for arm in ("Control", "Treatment") for site, sex, age in zip(sites[arm], sexes, ages)]


def test_lim_in_2019_table4_margins_reproduced():
    assert marginal_counts(_lim_in_patients(), LIM_IN_FACTORS, ["Control", "Treatment"]) == LIM_IN_COUNTS


def test_lim_in_2019_table4_total_imbalances_are_3_and_5():
    scores = imbalance_scores(LIM_IN_COUNTS, LIM_IN_15TH, arms=["Control", "Treatment"], method="range")
    assert scores == {"Control": 3, "Treatment": 5}


@pytest.mark.parametrize("seed", range(20))
def test_lim_in_2019_table4_deterministic_case_allocates_control(seed):
    design = {"arms": ["Control", "Treatment"], "factors": LIM_IN_FACTORS, "p": 1.0, "method": "range", "seed": seed}
    result = minimise_next(design, _lim_in_patients(), LIM_IN_15TH)
    assert result["index"] == 15
    assert result["scores"] == {"Control": 3, "Treatment": 5}
    assert result["probabilities"] == {"Control": 1.0, "Treatment": 0.0}
    assert result["arm"] == "Control"


def test_lim_in_with_p_08_goes_to_control_about_80_percent_of_seeds():
    design = {"arms": ["Control", "Treatment"], "factors": LIM_IN_FACTORS, "p": 0.8, "seed": 0}
    patients = _lim_in_patients()
    control = sum(minimise_next({**design, "seed": s}, patients, LIM_IN_15TH)["arm"] == "Control" for s in range(2000))
    assert 0.77 < control / 2000 < 0.83


@pytest.mark.parametrize("scores,p,ratio,expected", [
    ({"A": 3, "B": 5}, 0.8, None, {"A": 0.8, "B": 0.2}),
    ({"A": 5, "B": 3}, 0.8, None, {"A": 0.2, "B": 0.8}),
    ({"A": 3, "B": 5}, 1.0, None, {"A": 1.0, "B": 0.0}),
    ({"A": 3, "B": 5}, 0.5, None, {"A": 0.5, "B": 0.5}),
    ({"A": 3, "B": 3}, 0.8, None, {"A": 0.5, "B": 0.5}),
    ({"A": 3, "B": 3}, 1.0, [2, 1], {"A": 2 / 3, "B": 1 / 3}),
    ({"A": 1, "B": 1, "C": 2}, 0.9, None, {"A": 0.45, "B": 0.45, "C": 0.1}),
    ({"A": 1, "B": 2, "C": 3}, 0.8, None, {"A": 0.8, "B": 0.1, "C": 0.1}),
    ({"A": 0.1 + 0.2, "B": 0.3}, 0.8, None, {"A": 0.5, "B": 0.5}),  # equal up to rounding: a tie
])
def test_allocation_probabilities(scores, p, ratio, expected):
    assert allocation_probabilities(scores, p=p, ratio=ratio) == pytest.approx(expected)


@pytest.mark.parametrize("probs,u,arm", [
    ({"A": 0.8, "B": 0.2}, 0.0, "A"),
    ({"A": 0.8, "B": 0.2}, 0.7999999, "A"),
    ({"A": 0.8, "B": 0.2}, 0.8, "B"),
    ({"A": 0.8, "B": 0.2}, 0.9999999, "B"),
    ({"A": 1.0, "B": 0.0}, 0.9999999, "A"),
    ({"A": 0.0, "B": 1.0}, 0.0, "B"),
    ({"A": 0.45, "B": 0.45, "C": 0.1}, 0.45, "B"),
    ({"A": 0.45, "B": 0.45, "C": 0.1}, 0.9, "C"),
])
def test_choose_arm_boundaries(probs, u, arm):
    assert choose_arm(probs, u) == arm


def test_choose_arm_rejects_u_outside_unit_interval():
    for u in (-0.1, 1.0):
        with pytest.raises(AllocationError, match="u must be in"):
            choose_arm({"A": 0.5, "B": 0.5}, u)


def test_range_and_variance_by_hand_three_arms():
    counts = {"f": {"x": {"A": 2, "B": 1, "C": 0}, "y": {"A": 0, "B": 0, "C": 0}}}
    arms = ["A", "B", "C"]
    # candidates: A -> [3,1,0], B -> [2,2,0], C -> [2,1,1]
    assert imbalance_scores(counts, {"f": "x"}, arms=arms, method="range") == {"A": 3, "B": 2, "C": 1}
    assert imbalance_scores(counts, {"f": "x"}, arms=arms, method="variance") == pytest.approx({"A": 7 / 3, "B": 4 / 3, "C": 1 / 3})


@pytest.mark.parametrize("weights,expected_best", [
    (None, None),  # A: 3 + 1 = 4, B: 1 + 3 = 4 -> tie
    ({"site": 2}, "A"),  # A: 3 + 2 = 5, B: 1 + 6 = 7
    ({"sex": 2}, "B"),  # A: 6 + 1 = 7, B: 2 + 3 = 5
])
def test_factor_weights_change_the_preferred_arm(weights, expected_best):
    counts = {"sex": {"F": {"A": 3, "B": 1}, "M": {"A": 0, "B": 0}}, "site": {"01": {"A": 0, "B": 2}, "02": {"A": 0, "B": 0}}}
    scores = imbalance_scores(counts, {"sex": "F", "site": "01"}, arms=["A", "B"], weights=weights)
    if expected_best is None:
        assert scores["A"] == scores["B"] == 4
    else:
        assert min(scores, key=scores.get) == expected_best


def test_ratio_divides_counts_before_measuring():
    counts = {"f": {"x": {"A": 2, "B": 1}}}  # in the 2:1 ratio already
    scores = imbalance_scores(counts, {"f": "x"}, arms=["A", "B"], ratio=[2, 1])
    assert scores == {"A": 0.5, "B": 1.0}  # A -> [3/2, 1]; B -> [1, 2]


def test_only_the_subjects_own_levels_count():
    counts = {"sex": {"F": {"A": 0, "B": 0}, "M": {"A": 9, "B": 0}}}
    assert imbalance_scores(counts, {"sex": "F"}, arms=["A", "B"]) == {"A": 1, "B": 1}


def test_first_subject_follows_the_ratio_and_sequence_balances_margins():
    design = {"arms": ["A", "B"], "factors": {"sex": ["F", "M"], "site": ["01", "02", "03"]}, "p": 1.0, "seed": 4}
    subjects = [{"sex": "FM"[i % 2], "site": ["01", "02", "03"][i % 3]} for i in range(60)]
    records = minimise_sequence(design, subjects)
    assert records[0]["probabilities"] == {"A": 0.5, "B": 0.5}
    counts = marginal_counts(records, design["factors"], ["A", "B"])
    for levels in counts.values():
        for c in levels.values():
            assert abs(c["A"] - c["B"]) <= 2
    again = minimise_sequence(design, subjects)
    assert [r["arm"] for r in again] == [r["arm"] for r in records]


@pytest.mark.parametrize("text,message", [
    ("sex=F", "no value for factor site"),
    ("sex=F,site=03", "site=03 is not a level of site"),
    ("sex=F,site=01,age=40", "unknown factor age"),
    ("sex=F,sex=M,site=01", "factor sex given twice"),
    ("sex:F", "not FACTOR=LEVEL"),
])
def test_bad_subjects_are_clear_errors(text, message):
    with pytest.raises(AllocationError, match=message):
        parse_subject(text, {"sex": ["F", "M"], "site": ["01", "02"]})


def test_minimise_next_checks_the_subject():
    design = {"arms": ["A", "B"], "factors": {"sex": ["F", "M"]}, "seed": 1}
    with pytest.raises(AllocationError, match="sex=X is not a level"):
        minimise_next(design, [], {"sex": "X"})
    with pytest.raises(AllocationError, match="no value for factor sex"):
        minimise_next(design, [], {})


@pytest.mark.parametrize("change,message", [
    ({"p": 0.3}, "between 1/2"),
    ({"p": 1.5}, "between 1/2"),
    ({"method": "sd"}, "not one of range, variance"),
    ({"weights": {"age": 1}}, "weight for unknown factor age"),
    ({"weights": {"sex": -1}}, "must be positive"),
    ({"factors": {}}, "at least one factor"),
    ({"seed": -3}, "seed must be a non-negative integer"),
    ({"ratio": [1, 2, 3]}, "3 parts for 2 arms"),
    ({"colour": "red"}, "unknown key"),
])
def test_bad_designs_are_clear_errors(change, message):
    design = {"arms": ["A", "B"], "factors": {"sex": ["F", "M"]}, "seed": 1, **change}
    with pytest.raises(AllocationError, match=message):
        check_design(design)
