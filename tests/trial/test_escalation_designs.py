"""The dose-escalation designs against their published tables and cases.

Sources (see each test):
* BOIN: issue 14's boundary rows (phi = 0.3, cohorts of 3) = BOIN::get.boundary(target=0.3,
  ncohort=10, cohortsize=3) (R package BOIN 2.7.2, Yan et al. 2020 JSS 94(13)); the full
  1..30 table as BOIN 2.7.2 prints it; the decision sequence of Yan et al. (2020) p.25 and
  the select.mtd example of p.15 (as tested in R package escalation, test_boin.R /
  test_select_boin_mtd.R).
* 3+3: R package escalation's published case table (tests/testthat/test_three_plus_three.R),
  178 cases, with and without de-escalation -> tests/fixtures/escalation/three_plus_three_cases.csv.
* mTPI-2: Guo et al. (2017) Figure 3 decisions (p_T = 0.3, e1 = e2 = 0.05) as transcribed in
  R package escalation's tests/testthat/test_mtpi2.R -> tests/fixtures/escalation/mtpi2_figure3_cases.csv.
"""

import csv
from pathlib import Path

import pytest

from ct_safety_nlp.trial.escalation import (
    EscalationError,
    boin_boundaries,
    boin_lambdas,
    boin_select_mtd,
    escalate,
    make_design,
    mtpi2_decision_table,
    parse_outcomes,
    three_plus_three,
)
from ct_safety_nlp.trial.escalation._common import beta_cdf_int, counts_per_dose, pava, prob_above
from ct_safety_nlp.trial.escalation.boin import boin_decide
from ct_safety_nlp.trial.escalation.mtpi2 import mtpi2_decide, mtpi2_select_mtd

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "escalation"


def _rows(name):
    lines = [l for l in (FIXTURES / name).read_text().splitlines() if not l.startswith("#")]
    return list(csv.DictReader(lines))


# --------------------------------------------------------------------------- BOIN
def test_boin_lambdas_phi_030():
    lam = boin_lambdas(0.3)
    assert round(lam["lambda_e"], 4) == 0.2365
    assert round(lam["lambda_d"], 4) == 0.3585


def test_boin_boundary_rows_quoted_in_issue():
    """phi = 0.3, cohorts of 3, 3..30 patients: exactly the rows issue 14 quotes."""
    table = boin_boundaries(0.3, 30)["table"]
    at = {row["n"]: row for row in table}
    ns = range(3, 31, 3)
    assert [at[n]["escalate_max"] for n in ns] == [0, 1, 2, 2, 3, 4, 4, 5, 6, 7]
    assert [at[n]["deescalate_min"] for n in ns] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert [at[n]["eliminate_min"] for n in ns] == [3, 4, 5, 7, 8, 9, 10, 11, 12, 14]


def test_boin_full_boundary_table_phi_030():
    """BOIN 2.7.2 get.boundary(0.3, 10, 3)$full_boundary_tab, n = 1..30 (elimination row 1..20)."""
    table = boin_boundaries(0.3, 30)["table"]
    assert [r["escalate_max"] for r in table] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7]
    assert [r["deescalate_min"] for r in table] == [1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 11, 11, 11]
    assert [r["eliminate_min"] for r in table[:20]] == [None, None, 3, 3, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 10]


@pytest.mark.parametrize("n", range(1, 31))
def test_boin_decisions_on_both_sides_of_each_boundary(n):
    bounds = boin_boundaries(0.3, 30)
    row = bounds["table"][n - 1]
    e, d = row["escalate_max"], row["deescalate_min"]
    assert boin_decide(n, e, 2, 5, bounds)["action"] == "escalate"
    if e + 1 < d:
        assert boin_decide(n, e + 1, 2, 5, bounds)["action"] == "stay"
        assert boin_decide(n, d - 1, 2, 5, bounds)["action"] == "stay"
    assert boin_decide(n, d, 2, 5, bounds)["action"] == "de-escalate"
    if row["eliminate_min"] is not None:
        k = row["eliminate_min"]
        assert boin_decide(n, k, 2, 5, bounds)["eliminate"] is True
        assert boin_decide(n, k - 1, 2, 5, bounds)["eliminate"] is False
        # the boundary is P(p > 0.3 | Beta(y+1, n-y+1)) > 0.95, both sides
        assert prob_above(0.3, n, k) > 0.95 >= prob_above(0.3, n, k - 1)


def test_boin_edges_top_dose_lowest_dose_and_eliminated_next():
    bounds = boin_boundaries(0.3, 30)
    assert boin_decide(3, 0, 5, 5, bounds)["action"] == "stay"  # top dose
    assert boin_decide(3, 2, 1, 5, bounds)["action"] == "stay"  # lowest dose
    assert boin_decide(3, 0, 2, 5, bounds, next_eliminated=True)["action"] == "stay"
    one_of_three = boin_boundaries(0.25, 30)
    assert boin_decide(3, 1, 2, 5, one_of_three)["action"] == "de-escalate"  # 1/3 > lambda_d = 0.298
    assert boin_decide(3, 1, 2, 5, one_of_three, stay_on_one_of_three=True)["action"] == "stay"


def test_boin_published_decision_sequence():
    """Yan et al. (2020) p.25 (5 doses, phi = 0.3): the dose advised after each cohort."""
    result = escalate(parse_outcomes("1NNN 2NNN 3NTT 2NTN 3NNN 3NNN 4TTT 3NTN 3NNT 3TNN"), make_design("boin", 5, 0.3))
    assert [d["next_dose"] for d in result["decisions"]] == [2, 3, 2, 3, 3, 4, 3, 3, 3, 3]
    assert result["counts"] == [{"dose": i + 1, "n": n, "dlt": y} for i, (n, y) in enumerate(zip([3, 6, 18, 3, 0], [0, 1, 5, 3, 0]))]
    assert result["decisions"][6]["evidence"]["eliminated_from"] == 4
    assert result["mtd"] is None and result["stopped"] is False


def test_boin_select_mtd_published_example():
    """select.mtd(target=0.3, npts=c(3,3,15,9,0), ntox=c(0,0,4,4,0)) selects dose 3 (Yan et al. 2020 p.15)."""
    sel = boin_select_mtd([3, 3, 15, 9, 0], [0, 0, 4, 4, 0], 0.3)
    assert sel["mtd"] == 3
    assert sel["estimates"][4] is None
    assert sel["estimates"][0] == pytest.approx(0.05 / 3.1)


def test_boin_select_mtd_no_dose_when_dose1_eliminated():
    assert boin_select_mtd([3, 0, 0], [3, 0, 0], 0.3)["mtd"] is None
    assert boin_select_mtd([0, 0, 0], [0, 0, 0], 0.3)["mtd"] is None


def test_boin_select_mtd_tie_breaking_by_pooling():
    # doses 1 and 2 pool (2/6 then 1/6); the pooled estimate is below target -> the higher dose
    sel = boin_select_mtd([6, 6], [2, 1], 0.3)
    assert sel["estimates"][0] == pytest.approx(sel["estimates"][1])
    assert sel["mtd"] == 2
    # pooled above target -> the lower dose
    sel = boin_select_mtd([6, 6], [3, 2], 0.3)
    assert sel["mtd"] == 1


# --------------------------------------------------------------------------- 3+3
THREE_PLUS_THREE_CASES = _rows("three_plus_three_cases.csv")


@pytest.mark.parametrize("case", THREE_PLUS_THREE_CASES, ids=lambda c: f"{c['outcomes'] or 'empty'}|deesc={c['deescalate']}")
def test_three_plus_three_published_cases(case):
    cohorts = parse_outcomes(case["outcomes"])
    n, y = counts_per_dose(cohorts, 5)
    last = cohorts[-1]["dose"] if cohorts else None
    rec = three_plus_three(n, y, last, 5, deescalate=case["deescalate"] == "1")
    expected_dose = int(case["recommended_dose"]) if case["recommended_dose"] else None
    assert (rec["next_dose"], rec["continue"]) == (expected_dose, case["continue"] == "1"), rec["rule"]


def test_three_plus_three_case_table_is_large_and_covers_both_variants():
    assert len(THREE_PLUS_THREE_CASES) == 178
    assert {c["deescalate"] for c in THREE_PLUS_THREE_CASES} == {"0", "1"}


def test_three_plus_three_more_than_six_is_an_error():
    with pytest.raises(EscalationError, match="at most 6"):
        three_plus_three([7, 0], [0, 0], 1, 2)


def test_three_plus_three_replay_decisions():
    result = escalate(parse_outcomes("1NNN 2NNT 2NNN 3NTT"), make_design("3+3", 5))
    assert [(d["decision"], d["next_dose"]) for d in result["decisions"]] == [("escalate", 2), ("stay", 2), ("escalate", 3), ("stop", None)]
    assert result["mtd"] == 2
    deesc = escalate(parse_outcomes("1NNN 2NNN 3NTT"), make_design("3+3", 5, deescalate=True))
    assert [(d["decision"], d["next_dose"]) for d in deesc["decisions"]][-1] == ("de-escalate", 2)


# --------------------------------------------------------------------------- mTPI-2
def test_mtpi2_decision_table_figure3_rows():
    """Guo et al. (2017) Figure 3, p_T = 0.3, e1 = e2 = 0.05: rows for 3, 6 and 9 patients."""
    table = mtpi2_decision_table(0.3, 9)["table"]
    assert table[3] == ["E", "S", "D", "DU"]
    assert table[6] == ["E", "E", "S", "D", "DU", "DU", "DU"]
    assert table[9] == ["E", "E", "E", "S", "D", "DU", "DU", "DU", "DU", "DU"]


MTPI2_CASES = _rows("mtpi2_figure3_cases.csv")


@pytest.mark.parametrize("case", MTPI2_CASES, ids=lambda c: c["outcomes"])
def test_mtpi2_figure3_cases(case):
    cohorts = parse_outcomes(case["outcomes"])
    n, y = counts_per_dose(cohorts, 5)
    d = cohorts[-1]["dose"]
    step = mtpi2_decide(n[d - 1], y[d - 1], d, 5, mtpi2_decision_table(0.3, 9))
    stop = step["eliminate"] and d == 1
    nxt = None if stop else d + {"escalate": 1, "stay": 0, "de-escalate": -1}[step["action"]]
    admissible = "".join("0" if step["eliminate"] and i + 1 >= d else "1" for i in range(5))
    expected = int(case["recommended_dose"]) if case["recommended_dose"] else None
    assert (nxt, not stop, admissible) == (expected, case["continue"] == "1", case["admissible"]), step["rule"]


def test_mtpi2_select_mtd():
    sel = mtpi2_select_mtd([3, 3, 9, 3, 0], [0, 0, 2, 2, 0], 0.3)
    assert sel["mtd"] == 3
    assert mtpi2_select_mtd([3, 0], [3, 0], 0.3)["mtd"] is None


# --------------------------------------------------------------------------- shared maths
@pytest.mark.parametrize("x,a,b,expected", [(0.3, 1, 1, 0.3), (0.3, 4, 1, 0.3**4), (0.3, 1, 4, 1 - 0.7**4), (0.3, 3, 2, 0.0837)])
def test_beta_cdf_int_closed_forms(x, a, b, expected):
    assert beta_cdf_int(x, a, b) == pytest.approx(expected, abs=1e-4)


def test_pava():
    assert pava([0.1, 0.3, 0.2, 0.4]) == pytest.approx([0.1, 0.25, 0.25, 0.4])
    assert pava([0.5, 0.1], [3, 1]) == pytest.approx([0.4, 0.4])
    assert pava([]) == []


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("target", [0, 1, -0.2, 1.5, "x"])
def test_target_outside_open_unit_interval(target):
    with pytest.raises(EscalationError, match="target"):
        make_design("boin", 5, target)


def test_unknown_design_and_missing_target():
    with pytest.raises(EscalationError, match="unknown design 'crm'"):
        make_design("crm", 5, 0.3)
    with pytest.raises(EscalationError, match="needs a target"):
        make_design("boin", 5)


def test_cohort_at_eliminated_dose_is_an_error():
    design = make_design("boin", 5, 0.3)
    with pytest.raises(EscalationError, match=r"cohort 4 \(dose 3, outcomes:.*\): dose 3 was eliminated \(after cohort 3"):
        escalate(parse_outcomes("1NNN 2NNN 3TTT 3NNN"), design)


def test_cohort_after_stop_and_dose_out_of_range():
    design = make_design("boin", 3, 0.3)
    with pytest.raises(EscalationError, match="comes after the trial stopped at cohort 1"):
        escalate(parse_outcomes("1TTT 1NNN"), design)
    with pytest.raises(EscalationError, match="dose level 4 is out of range"):
        escalate(parse_outcomes("1NNN 4NNN"), design)


def test_deviation_from_recommendation_is_noted_not_refused():
    result = escalate(parse_outcomes("1NNN 1NNN"), make_design("boin", 5, 0.3))
    assert result["decisions"][1]["evidence"]["notes"] == ["given at dose 1; the design had recommended dose 2"]


def test_max_patients_and_final_select_the_mtd():
    design = make_design("boin", 5, 0.3, max_patients=12)
    result = escalate(parse_outcomes("1NNN 2NNN 3NTT 2NNN"), design)
    assert result["decisions"][-1]["decision"] == "stop" and result["stopped"]
    assert result["mtd"] == 2
    ongoing = escalate(parse_outcomes("1NNN 2NNN"), make_design("mtpi2", 5, 0.3))
    assert ongoing["mtd"] is None and ongoing["decisions"][-1]["next_dose"] == 3
    final = escalate(parse_outcomes("1NNN 2NNN"), make_design("mtpi2", 5, 0.3), final=True)
    assert final["decisions"][-1]["decision"] == "stop" and final["decisions"][-1]["next_dose"] is None
    assert final["mtd"] == 2


def test_n_earlystop_rules():
    stay = make_design("boin", 5, 0.3, n_earlystop=6)
    # 1/3 at dose 2 stays; 2/6 at dose 2 stays -> 6 patients there: stop (BOIN >= 2.7 rule)
    result = escalate(parse_outcomes("1NNN 2NNT 2NNT"), stay)
    assert result["decisions"][-1]["decision"] == "stop" and result["mtd"] == 2
    # 1/6 would escalate: the "stay" rule does not stop, the "any" rule does
    assert escalate(parse_outcomes("1NNN 2NNT 2NNN"), stay)["decisions"][-1]["decision"] == "escalate"
    anyrule = make_design("boin", 5, 0.3, n_earlystop=6, earlystop_rule="any")
    assert escalate(parse_outcomes("1NNN 2NNT 2NNN"), anyrule)["decisions"][-1]["decision"] == "stop"
