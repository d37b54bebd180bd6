"""RECIST 1.1 rules (ct_safety_nlp.efficacy.recist), table-driven, both sides of
every boundary. Sources: Eisenhauer et al., Eur J Cancer 2009;45:228-247
(section 4.3.1, Tables 1-3) and admiralonco's published test cases for the
confirmed best overall response."""

import datetime as dt

import pytest

from ct_safety_nlp.efficacy.recist import (
    CR,
    MISSING,
    ND,
    NE,
    NON_CR_NON_PD,
    PD,
    PR,
    SD,
    TargetLesion,
    TimepointAssessment,
    best_overall_response,
    is_cr,
    is_pd,
    is_pr,
    overall_response,
    percent_change,
    round_percent,
    target_response,
)

# ------------------------------------------------------------------ 4.3.1 PR: >= 30 % below baseline
PR_CASES = [
    (56, 80, True),  # -30.0 % exactly
    (57, 80, False),  # -28.75 %
    (70, 100, True),
    (70.1, 100, False),
    (21, 30, True),  # 9/30 = 30 % (floating point would say 29.999...)
    (21.1, 30, False),
    (0, 42, True),
    (42, 42, False),
]


@pytest.mark.parametrize("current,baseline,expected", PR_CASES)
def test_pr_boundary(current, baseline, expected):
    assert is_pr(current, baseline) is expected


# ------------------------------------------------------------------ 4.3.1 PD: >= 20 % and >= 5 mm over the nadir
PD_CASES = [
    (30, 25, True),  # +20 %, +5 mm: both met exactly
    (29.9, 25, False),  # +19.6 %, +4.9 mm
    (24, 20, False),  # +20 % but +4 mm
    (55, 50, False),  # +5 mm but +10 %
    (60, 50, True),  # +20 %, +10 mm
    (59.9, 50, False),  # +19.8 %
    (12, 7, True),  # +71 %, +5 mm
    (11, 7, False),  # +57 %, +4 mm
    (5, 0, True),  # a nadir of 0: any increase of >= 5 mm
    (4.9, 0, False),
]


@pytest.mark.parametrize("current,nadir,expected", PD_CASES)
def test_pd_boundary(current, nadir, expected):
    assert is_pd(current, nadir) is expected


# ------------------------------------------------------------------ 4.3.1 CR: non-nodal gone, nodes < 10 mm
CR_CASES = [
    ([TargetLesion(0), TargetLesion(0)], True),
    ([TargetLesion(0), TargetLesion(1)], False),
    ([TargetLesion(0), TargetLesion(9.9, lymph_node=True)], True),
    ([TargetLesion(0), TargetLesion(10, lymph_node=True)], False),
    ([TargetLesion(8, lymph_node=True), TargetLesion(9, lymph_node=True)], True),
    ([TargetLesion(8, lymph_node=True), TargetLesion(11, lymph_node=True)], False),
    ([], False),
]


@pytest.mark.parametrize("lesions,expected", CR_CASES)
def test_cr_boundary(lesions, expected):
    assert is_cr(lesions) is expected


# ------------------------------------------------------------------ target_response: the whole decision
TARGET_CASES = [
    # (kwargs, response, pct from baseline (rounded), pct from nadir (rounded))
    (dict(sum_mm=52, baseline_sum_mm=80), PR, -35.0, None),
    (dict(sum_mm=56, baseline_sum_mm=80), PR, -30.0, None),
    (dict(sum_mm=57, baseline_sum_mm=80), SD, -28.8, None),
    (dict(sum_mm=24, baseline_sum_mm=30, nadir_sum_mm=20), SD, -20.0, 20.0),
    (dict(sum_mm=30, baseline_sum_mm=32, nadir_sum_mm=25), PD, -6.3, 20.0),
    (dict(sum_mm=48, baseline_sum_mm=70, nadir_sum_mm=44), PR, -31.4, 9.1),
    (dict(sum_mm=11, baseline_sum_mm=20, nadir_sum_mm=7), PR, -45.0, 57.1),  # +57 % but +4 mm: PR stands
    (dict(sum_mm=12, nadir_sum_mm=7), PD, None, 71.4),  # PD needs no baseline
    (dict(sum_mm=46, nadir_sum_mm=40), None, None, 15.0),  # not PD, PR unknown without a baseline
    (dict(sum_mm=45), None, None, None),  # nothing to compare with
    (dict(sum_mm=60, baseline_sum_mm=45), PD, 33.3, None),  # the nadir is never above the baseline
    (dict(sum_mm=66, baseline_sum_mm=60), SD, 10.0, None),  # +10 %: the baseline stands in for the nadir
    (dict(sum_mm=0, baseline_sum_mm=42), CR, -100.0, None),
    (dict(lesions=[TargetLesion(0), TargetLesion(8, lymph_node=True)]), CR, None, None),
    (dict(lesions=[TargetLesion(0), TargetLesion(11, lymph_node=True)], baseline_sum_mm=45), PR, -75.6, None),
    (dict(lesions=[TargetLesion(0), TargetLesion(9, lymph_node=True)], baseline_sum_mm=45), CR, -80.0, None),
    (dict(percent_from_baseline=-42.0), PR, -42.0, None),
    (dict(percent_from_baseline=-29.9), SD, -29.9, None),
    (dict(percent_from_nadir=30.0), None, None, 30.0),  # the absolute increase is unknown
    (dict(percent_from_nadir=19.9, percent_from_baseline=-10.0), SD, -10.0, 19.9),
    (dict(), None, None, None),
]


@pytest.mark.parametrize("kwargs,response,pct_base,pct_nadir", TARGET_CASES)
def test_target_response(kwargs, response, pct_base, pct_nadir):
    lesions = kwargs.pop("lesions", None)
    result = target_response(lesions, **kwargs)
    assert result.response == response, result.reasons
    assert round_percent(result.percent_change_from_baseline) == pct_base
    assert round_percent(result.percent_change_from_nadir) == pct_nadir
    assert result.reasons, "every decision says why"


def test_target_response_reasons_cite_the_rule_and_the_missing_data():
    pr = target_response(sum_mm=52, baseline_sum_mm=80)
    assert any("4.3.1" in r and "target PR" in r for r in pr.reasons)
    assert any("no nadir stated" in r for r in pr.reasons)
    none = target_response(sum_mm=45)
    assert none.response is None and any("without a baseline" in r for r in none.reasons)


@pytest.mark.parametrize(
    "kwargs",
    [dict(sum_mm=-1, baseline_sum_mm=10), dict(sum_mm=float("nan")), dict(sum_mm=10, baseline_sum_mm="80"), dict(percent_from_baseline=True)],
)
def test_target_response_rejects_bad_numbers(kwargs):
    with pytest.raises(ValueError):
        target_response(**kwargs)


def test_percent_helpers():
    assert percent_change(52, 80) == pytest.approx(-35.0)
    assert percent_change(5, 0) is None
    assert round_percent(-28.75) == -28.8 and round_percent(6.25) == 6.3 and round_percent(None) is None


# ------------------------------------------------------------------ 4.4.1 Table 1 (target +/- non-target) and Table 2
TABLE_1 = [
    # target, non-target, new lesions, overall
    (CR, CR, False, CR),
    (CR, NON_CR_NON_PD, False, PR),
    (CR, NE, False, PR),  # "not evaluated"
    (PR, NON_CR_NON_PD, False, PR),
    (PR, NE, False, PR),  # "non-PD or not all evaluated"
    (PR, CR, False, PR),
    (SD, NON_CR_NON_PD, False, SD),
    (SD, NE, False, SD),
    (NE, NON_CR_NON_PD, False, NE),  # "not all evaluated / non-PD"
    (PD, CR, False, PD),  # PD / any / yes or no
    (PD, NON_CR_NON_PD, True, PD),
    (CR, PD, False, PD),  # any / PD / yes or no
    (SD, PD, True, PD),
    (CR, CR, True, PD),  # any / any / yes
    (PR, NON_CR_NON_PD, True, PD),
    # no non-target disease at baseline (None): CR needs only the targets
    (CR, None, False, CR),
    (PR, None, False, PR),
]


@pytest.mark.parametrize("target,non_target,new,overall", TABLE_1)
def test_recist_table_1(target, non_target, new, overall):
    response, row = overall_response(target, non_target, new)
    assert response == overall
    assert row.startswith("RECIST 1.1 Table 1")


TABLE_2 = [
    (CR, False, CR),
    (NON_CR_NON_PD, False, NON_CR_NON_PD),
    (NE, False, NE),
    (PD, False, PD),
    (PD, True, PD),
    (CR, True, PD),
    (NON_CR_NON_PD, True, PD),
]


@pytest.mark.parametrize("non_target,new,overall", TABLE_2)
def test_recist_table_2(non_target, new, overall):
    response, row = overall_response(None, non_target, new)
    assert response == overall
    assert row.startswith("RECIST 1.1 Table 2")


def test_overall_response_new_lesions_not_assessed_read_as_no():
    response, row = overall_response(PR, None, None)
    assert response == PR and "not assessed" in row


@pytest.mark.parametrize("args", [("XX", None, False), (PR, SD, False), (PR, None, "no")])
def test_overall_response_rejects_unknown_categories(args):
    with pytest.raises(ValueError):
        overall_response(*args)


# ------------------------------------------------------------------ 4.4.3 Table 3: best overall response, confirmation required
def _bor(responses, days, **kw):
    return best_overall_response([TimepointAssessment(d, r) for d, r in zip(days, responses)], **kw)


# first and subsequent time point 28 days apart (>= 4 weeks); both after the SD minimum
TABLE_3_MIN_MET = [
    ((CR, CR), CR),
    ((CR, PR), SD),  # Table 3: "SD, PD or PR"; PR only if the CR is revised
    ((CR, SD), SD),
    ((CR, PD), SD),
    ((CR, NE), SD),
    ((PR, CR), PR),
    ((PR, PR), PR),
    ((PR, SD), SD),
    ((PR, PD), SD),
    ((PR, NE), SD),
    ((NE, NE), NE),
]


@pytest.mark.parametrize("responses,expected", TABLE_3_MIN_MET)
def test_recist_table_3_sd_minimum_met(responses, expected):
    assert _bor(responses, (56, 84), min_sd_days=42).response == expected


# the same when the SD minimum is not met by the first time point ("... otherwise PD / NE")
TABLE_3_MIN_NOT_MET = [
    ((CR, PD), PD),
    ((CR, NE), NE),
    ((PR, PD), PD),
    ((PR, NE), NE),
]


@pytest.mark.parametrize("responses,expected", TABLE_3_MIN_NOT_MET)
def test_recist_table_3_sd_minimum_not_met(responses, expected):
    assert _bor(responses, (28, 56), min_sd_days=42).response == expected


def test_confirmation_interval_boundary():
    assert _bor((PR, PR), (56, 84), confirm_days=28).response == PR  # exactly 4 weeks
    assert _bor((PR, PR), (56, 83), confirm_days=28).response == SD  # one day short
    assert _bor((CR, CR), (56, 84)).confirmed is True


def test_sd_minimum_duration_boundary():
    assert _bor((SD,), (42,), min_sd_days=42).response == SD
    assert _bor((SD,), (41,), min_sd_days=42).response == NE


def test_without_confirmation_a_single_pr_counts():
    assert _bor((PR, PD), (28, 56), confirm=False).response == PR
    assert _bor((PR, PD), (28, 56), confirm=True).response == PD


def test_assessments_after_first_pd_are_not_counted():
    result = _bor((SD, PD, CR, CR), (20, 50, 100, 140), min_sd_days=42)
    assert result.response == PD
    assert any("after the first PD" in r for r in result.reasons)


def test_no_assessment_is_missing_or_ne():
    assert best_overall_response([]).response == MISSING
    assert best_overall_response([], missing_as_ne=True).response == NE


@pytest.mark.parametrize(
    "bad",
    [lambda: TimepointAssessment(10, "iCR"), lambda: TimepointAssessment(float("nan"), PR), lambda: best_overall_response([], confirm_days=-1)],
)
def test_bor_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        bad()


# ------------------------------------------------------------------ admiralonco's published test cases
# pharmaverse/admiralonco tests/testthat/test-derive_param_confirmed_bor.R: treatment start
# per subject, overall responses by date, and the expected confirmed BOR (test 1: defaults
# with ref_start_window = ref_confirm = 28; test 2: ref_confirm = 14, max_nr_ne = 0,
# accept_sd = TRUE, missing as NE). Subject 9's first PD is 2020-02-16.
ADMIRAL_START = {
    "1": "2020-01-01", "2": "2019-12-12", "3": "2019-11-11", "4": "2019-12-30", "5": "2020-01-01",
    "6": "2020-02-02", "7": "2020-02-02", "8": "2020-04-01", "9": "2020-02-01",
}
ADMIRAL_RS = [
    ("1", "2020-01-01", PR), ("1", "2020-02-01", CR), ("1", "2020-02-16", NE), ("1", "2020-03-01", CR), ("1", "2020-04-01", SD),
    ("2", "2020-01-01", SD), ("2", "2020-02-01", PR), ("2", "2020-03-01", SD), ("2", "2020-03-13", CR),
    ("3", "2019-11-12", CR), ("3", "2019-12-02", CR), ("3", "2020-01-01", SD),
    ("4", "2020-01-01", PR), ("4", "2020-03-01", SD), ("4", "2020-04-01", SD), ("4", "2020-05-01", PR), ("4", "2020-05-15", NON_CR_NON_PD),
    ("5", "2020-01-01", PR), ("5", "2020-01-10", SD), ("5", "2020-01-20", PR), ("5", "2020-05-15", NON_CR_NON_PD),
    ("6", "2020-02-06", PR), ("6", "2020-02-16", CR), ("6", "2020-03-30", PR),
    ("7", "2020-02-06", PR), ("7", "2020-02-16", CR), ("7", "2020-04-01", NE),
    ("9", "2020-02-16", PD), ("9", "2020-03-06", SD),
]
ADMIRAL_TEST_1 = {
    "1": (CR, "2020-02-01"), "2": (SD, "2020-02-01"), "3": (SD, "2020-01-01"), "4": (SD, "2020-03-01"),
    "5": (NON_CR_NON_PD, "2020-05-15"), "6": (SD, "2020-03-30"), "7": (NE, "2020-02-06"), "8": (MISSING, None),
    "9": (PD, "2020-02-16"),
}
ADMIRAL_TEST_2 = {
    "1": (PR, "2020-01-01"), "2": (PR, "2020-02-01"), "3": (CR, "2019-11-12"), "4": (SD, "2020-03-01"),
    "5": (PR, "2020-01-01"), "6": (SD, "2020-03-30"), "7": (ND, "2020-04-02"), "8": (NE, None), "9": (PD, "2020-02-16"),
}


def _admiral_rows(subject, replace_7=False):
    start = dt.date.fromisoformat(ADMIRAL_START[subject])
    rows = [(s, d, r) for s, d, r in ADMIRAL_RS if s == subject]
    if replace_7 and subject == "7":
        rows = [("7", "2020-04-02", ND)]
    return start, [TimepointAssessment((dt.date.fromisoformat(d) - start).days, r) for _, d, r in rows]


@pytest.mark.parametrize("subject", sorted(ADMIRAL_TEST_1))
def test_admiralonco_confirmed_bor_test_1(subject):
    start, rows = _admiral_rows(subject)
    result = best_overall_response(rows, confirm_days=28, min_sd_days=28, max_ne_between=1, accept_sd_between=False)
    response, date = ADMIRAL_TEST_1[subject]
    assert result.response == response, result.reasons
    assert (None if result.day is None else str(start + dt.timedelta(days=result.day))) == date


@pytest.mark.parametrize("subject", sorted(ADMIRAL_TEST_2))
def test_admiralonco_confirmed_bor_test_2(subject):
    start, rows = _admiral_rows(subject, replace_7=True)
    result = best_overall_response(
        rows, confirm_days=14, min_sd_days=28, max_ne_between=0, accept_sd_between=True, missing_as_ne=True
    )
    response, date = ADMIRAL_TEST_2[subject]
    assert result.response == response, result.reasons
    assert (None if result.day is None else str(start + dt.timedelta(days=result.day))) == date
