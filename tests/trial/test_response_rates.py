"""Exact (Clopper–Pearson) intervals and ORR / DCR per arm (ct_safety_nlp.trial.response)."""

import pytest

from ct_safety_nlp.trial.response import arm_rates, clopper_pearson

PUBLISHED = [
    # (x, n, lower, upper, published to +/- tol, source)
    (682, 925, 0.7076683, 0.7654066, 5e-8, "R binom.test(c(682, 243), p = 3/4), the example of R's documentation"),
    # KEYNOTE-789 (J Clin Oncol 2024; PMC11608596 Table 2): confirmed ORR, 95% CI, by arm
    (71, 245, 0.234, 0.351, 5e-4, "pembrolizumab + pemetrexed-platinum: 29.0% (23.4 to 35.1)"),
    (67, 247, 0.217, 0.331, 5e-4, "placebo + pemetrexed-platinum: 27.1% (21.7 to 33.1)"),
]


@pytest.mark.parametrize("x,n,lower,upper,tol,source", PUBLISHED)
def test_clopper_pearson_against_published_values(x, n, lower, upper, tol, source):
    lo, hi = clopper_pearson(x, n)
    assert lo == pytest.approx(lower, abs=tol), source
    assert hi == pytest.approx(upper, abs=tol), source


def test_clopper_pearson_edges():
    assert clopper_pearson(0, 10)[0] == 0.0
    assert clopper_pearson(10, 10)[1] == 1.0
    # x = 0: the upper bound solves (1 - p)^n = 0.025
    assert clopper_pearson(0, 10)[1] == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-10)
    assert clopper_pearson(10, 10)[0] == pytest.approx(0.025 ** (1 / 10), abs=1e-10)
    lo90, hi90 = clopper_pearson(7, 20, level=0.90)
    lo95, hi95 = clopper_pearson(7, 20)
    assert lo95 < lo90 < 7 / 20 < hi90 < hi95


def test_clopper_pearson_matches_scipy_on_a_grid():
    beta = pytest.importorskip("scipy.stats").beta
    for n in (1, 2, 5, 17, 60, 250):
        for x in range(0, n + 1, max(1, n // 7)):
            lo, hi = clopper_pearson(x, n)
            assert lo == pytest.approx(0.0 if x == 0 else beta.ppf(0.025, x, n - x + 1), abs=1e-9)
            assert hi == pytest.approx(1.0 if x == n else beta.ppf(0.975, x + 1, n - x), abs=1e-9)


@pytest.mark.parametrize("args", [(3, 2), (-1, 5), (1, 0), (1, 5, 1.5), (True, 5)])
def test_clopper_pearson_rejects_bad_input(args):
    with pytest.raises(ValueError):
        clopper_pearson(*args)


def test_arm_rates_counts_every_subject_in_the_denominator():
    rows = [{"arm": "A", "bor": b} for b in ("CR", "PR", "SD", "PD", "NE", "MISSING", "non-CR/non-PD")] + [
        {"arm": "B", "bor": "PD"}, {"arm": "B", "bor": "SD"}]
    a, b = arm_rates(rows)
    assert (a["arm"], a["n"], a["orr_n"], a["dcr_n"]) == ("A", 7, 2, 4)
    assert a["orr_percent"] == 28.6 and a["dcr_percent"] == 57.1
    lo, hi = clopper_pearson(2, 7)
    assert (a["orr_ci_low"], a["orr_ci_high"]) == (round(100 * lo, 1), round(100 * hi, 1))
    assert (b["n"], b["orr_n"], b["dcr_n"], b["n_PD"], b["n_SD"]) == (2, 0, 1, 1, 1)
    assert b["orr_ci_low"] == 0.0
