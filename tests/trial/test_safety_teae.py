"""Treatment-emergent flag: the documented test cases of admiral's
``derive_var_trtemfl`` (pharmaverse/admiral, tests/testthat/test-derive_var_trtemfl.R,
tests 1-5 and 12, the last one the PHUSE white paper WP-087 scenarios),
reproduced as tables. The rows are the facts of those tests; the code is ours."""

from datetime import datetime

import pytest

from ct_safety_nlp.trial.safety.teae import trtemfl, trtemfl_grouped


def T(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M") if text else None


# Tests 1, 2 and 4: (USUBJID, ASTDTM, AENDTM, AEITOXGR, AETOXGR, TRTEMFL, TRTEM2FL, TRTEM3FL)
# TRTEMFL: defaults; TRTEM2FL: trt_end_date, end_window 10, intensities;
# TRTEM3FL: the same with ignore_time_for_trt_end = FALSE.
CASES = [
    # before treatment
    ("1", "2021-12-13T20:15", "2021-12-15T12:45", "1", "1", None, None, None),
    ("1", "2021-12-14T20:15", "2021-12-14T22:00", "1", "3", None, None, None),
    # starting before treatment and ending during treatment
    ("1", "2021-12-30T20:00", "2022-01-14T11:00", "1", "3", None, "Y", "Y"),
    ("1", "2021-12-31T20:15", "2022-01-01T01:23", "1", "1", None, None, None),
    # starting during treatment
    ("1", "2022-01-01T12:00", "2022-01-02T23:25", "3", "4", "Y", "Y", "Y"),
    # after treatment
    ("1", "2022-05-10T11:00", "2022-05-10T13:05", "2", "2", "Y", "Y", "Y"),
    ("1", "2022-05-10T12:00", "2022-05-10T13:05", "2", "2", "Y", "Y", None),
    ("1", "2022-05-11T11:00", "2022-05-11T13:05", "2", "2", "Y", None, None),
    # missing dates
    ("1", "", "", "3", "4", "Y", "Y", "Y"),
    ("1", "2021-12-30T09:00", "", "3", "4", None, "Y", "Y"),
    ("1", "2021-12-30T11:00", "", "3", "3", None, None, None),
    ("1", "", "2022-01-04T09:00", "3", "4", "Y", "Y", "Y"),
    ("1", "", "2021-12-24T19:00", "3", "4", None, None, None),
    ("1", "", "2022-06-04T09:00", "3", "4", "Y", "Y", "Y"),
    # without treatment
    ("2", "", "2021-12-03T12:00", "1", "2", None, None, None),
    ("2", "2021-12-01T12:00", "2021-12-03T12:00", "1", "2", None, None, None),
    ("2", "2021-12-06T18:00", "", "1", "2", None, None, None),
]
TRT = {"1": (T("2022-01-01T01:01"), T("2022-04-30T11:30")), "2": (None, None)}


@pytest.mark.parametrize("subj,ast,aen,ini,grade,fl1,fl2,fl3", CASES)
def test_admiral_tests_1_2_4(subj, ast, aen, ini, grade, fl1, fl2, fl3):
    ts, te = TRT[subj]
    assert trtemfl(T(ast), T(aen), ts) == fl1
    assert trtemfl(T(ast), T(aen), ts, te, end_window=10, initial_intensity=ini, intensity=grade, worsening=True) == fl2
    assert (
        trtemfl(T(ast), T(aen), ts, te, end_window=10, ignore_time_for_trt_end=False, initial_intensity=ini, intensity=grade, worsening=True)
        == fl3
    )


# Tests 3 and 5 (group_var = AEGRPID; end_window 10; TRTEDTM 2022-04-30T23:59):
# (USUBJID, ASTDTM, AENDTM, AETOXGR, AEGRPID, TRTEMFL) - test 5 (time not ignored) expects the same flags.
GROUPED = [
    ("1", "2021-12-13T20:15", "2021-12-15T12:45", "1", "1", None),
    ("1", "2021-12-14T20:15", "2021-12-14T22:00", "3", "1", None),
    ("1", "2021-12-30T20:15", "2022-01-14T01:23", "3", "2", None),
    ("1", "2022-01-05T20:00", "2022-06-01T11:00", "1", "2", None),
    ("1", "2022-01-10T20:15", "2022-01-11T01:23", "2", "2", "Y"),
    ("1", "2022-01-13T20:15", "2022-03-01T01:23", "1", "2", "Y"),
    ("1", "2022-01-01T12:00", "2022-01-02T23:25", "4", "3", "Y"),
    ("1", "2022-05-10T11:00", "2022-05-10T13:05", "2", "4", "Y"),
    ("1", "2022-05-10T12:00", "2022-05-10T13:05", "2", "4", "Y"),
    ("1", "2022-05-11T11:00", "2022-05-11T13:05", "2", "4", None),
    ("1", "", "", "4", "5", "Y"),
    ("1", "2021-12-30T09:00", "", "4", "5", None),
    ("1", "2021-12-30T11:00", "", "3", "5", None),
    ("1", "", "2022-01-04T09:00", "4", "5", "Y"),
    ("1", "", "2021-12-24T19:00", "4", "5", None),
    ("1", "", "2022-06-04T09:00", "4", "5", "Y"),
    ("2", "", "2021-12-03T12:00", "2", "1", None),
    ("2", "2021-12-01T12:00", "2021-12-03T12:00", "2", "2", None),
    ("2", "2021-12-06T18:00", "", "2", "3", None),
]


@pytest.mark.parametrize("ignore_time", [True, False])
def test_admiral_tests_3_5_grouped(ignore_time):
    trt = {"1": (T("2022-01-01T01:01"), T("2022-04-30T23:59")), "2": (None, None)}
    groups = {}
    for i, (subj, ast, aen, grade, grp, _) in enumerate(GROUPED):
        groups.setdefault((subj, grp), []).append((i, {"start": T(ast), "end": T(aen), "intensity": grade}))
    got = [None] * len(GROUPED)
    for (subj, _), items in groups.items():
        ts, te = trt[subj]
        flags = trtemfl_grouped([r for _, r in items], ts, te, end_window=10, ignore_time_for_trt_end=ignore_time)
        for (i, _), flag in zip(items, flags):
            got[i] = flag
    assert got == [row[-1] for row in GROUPED]


# Test 12: PHUSE white paper scenarios; TRTSDTM 2021-01-01T00:01, TRTEDTM 2021-12-31T23:59,
# end_window 0, intensities. (USUBJID, ASTDTM, AENDTM, AEITOXGR, AETOXGR, TRTEMFL)
PHUSE = [
    ("1", "2020-12-20T00:00", "2020-12-21T00:00", "2", "2", None),  # pre-treatment AE
    ("2", "2021-12-20T00:00", "2021-12-21T00:00", "2", "2", "Y"),  # on-treatment AE
    ("3", "2020-12-20T00:00", "2020-12-21T00:00", "2", "2", None),  # pre, then on at same intensity
    ("3", "2021-12-20T00:00", "2021-12-21T00:00", "2", "2", "Y"),
    ("4", "2020-12-20T00:00", "2020-12-21T00:00", "2", "2", None),  # pre, then on, worsened
    ("4", "2021-12-20T00:00", "2021-12-21T00:00", "2", "3", "Y"),
    ("5", "2020-12-20T00:00", "2020-12-21T00:00", "2", "2", None),  # pre, then on, improved
    ("5", "2021-12-20T00:00", "2021-12-21T00:00", "2", "1", "Y"),
    ("6", "2020-12-23T00:00", "2021-01-21T00:00", "2", "2", None),  # pre continuing on; 2nd AE same
    ("6", "2021-12-20T00:00", "2021-12-21T00:00", "2", "2", "Y"),
    ("7", "2020-12-23T00:00", "2021-01-21T00:00", "2", "2", None),  # ... 2nd AE worsened
    ("7", "2021-12-20T00:00", "2021-12-21T00:00", "2", "3", "Y"),
    ("8", "2020-12-23T00:00", "2021-01-21T00:00", "2", "2", None),  # ... 2nd AE improved
    ("8", "2021-12-20T00:00", "2021-12-21T00:00", "2", "1", "Y"),
    ("9", "2020-12-23T00:00", "2021-01-21T00:00", "2", "2", None),  # pre continuing on, no change
    ("10", "2020-12-23T00:00", "2021-01-21T00:00", "2", "4", "Y"),  # pre continuing on, worsening
    ("11", "2020-12-23T00:00", "2021-01-21T00:00", "2", "1", None),  # pre continuing on, improving
    ("12", "2020-12-23T00:00", "2021-01-21T00:00", "3", "2", None),  # worsening then improving
    ("13", "2020-12-23T00:00", "2021-01-21T00:00", "1", "2", "Y"),  # improving then worsening
]


@pytest.mark.parametrize("subj,ast,aen,ini,grade,expected", PHUSE)
def test_admiral_test_12_phuse_white_paper(subj, ast, aen, ini, grade, expected):
    got = trtemfl(
        T(ast), T(aen), T("2021-01-01T00:01"), T("2021-12-31T23:59"), end_window=0,
        initial_intensity=ini, intensity=grade, worsening=True,
    )
    assert got == expected


def test_argument_checks():
    # admiral tests 6-8: end_window needs a treatment end; intensities come in pairs
    with pytest.raises(ValueError, match="end_window was given but not trt_end"):
        trtemfl(T("2022-01-02T00:00"), None, T("2022-01-01T00:00"), None, end_window=10, trt_end_given=False)
    with pytest.raises(ValueError, match="non-negative"):
        trtemfl(T("2022-01-02T00:00"), None, T("2022-01-01T00:00"), None, end_window=-1)


@pytest.mark.parametrize(
    "start,expected",
    [
        # both sides of the first-dose boundary and of the end-window boundary (dates)
        ("2022-01-01T00:00", None),  # day before first dose (treatment starts 2022-01-02)
        ("2022-01-02T00:00", "Y"),  # on the first-dose day
        ("2022-02-11T00:00", "Y"),  # last dose 2022-02-01 + 10 days
        ("2022-02-12T00:00", None),  # one day past the window
    ],
)
def test_boundaries_with_dates(start, expected):
    from datetime import date

    s = T(start).date()
    assert trtemfl(s, None, date(2022, 1, 2), date(2022, 2, 1), end_window=10) == expected
