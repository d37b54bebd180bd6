"""scripts/measure_int8.py's choice of scheme (the run itself: tests/test_project.py,
on the 6-step model)."""

import pytest

from scripts.measure_int8 import choose

DEV = {
    "fp32": {"ents_f": 78.0, "spans_sc_f": 67.0},
    "int8_fast": {"ents_f": 77.0, "spans_sc_f": 67.0},   # 1.0 off on ents
    "int8_close": {"ents_f": 78.1, "spans_sc_f": 66.9},  # 0.1 off
    "int8_closest_slow": {"ents_f": 78.0, "spans_sc_f": 67.0},
}
RATIOS = {"int8_fast_vs_fp32": 3.0, "int8_close_vs_fp32": 2.5, "int8_closest_slow_vs_fp32": 1.4}


@pytest.mark.parametrize(
    "min_speedup, expected",
    [
        (0.0, "closest_slow"),  # every scheme counts: the closest on dev
        (1.4, "closest_slow"),  # at the bound: still counts
        (1.41, "close"),        # just above it: the slow one is out
        (2.5, "close"),
        (2.51, "fast"),         # only the fast one is left, however far off
        (3.01, None),           # none is fast enough
    ],
)
def test_choice_is_the_closest_to_fp32_on_dev_among_fast_enough_schemes(min_speedup, expected):
    assert choose(DEV, RATIOS, min_speedup) == expected


def test_the_larger_of_the_two_differences_counts_and_a_tie_goes_to_the_faster():
    dev = {
        "fp32": {"ents_f": 78.0, "spans_sc_f": 67.0},
        "int8_a": {"ents_f": 78.0, "spans_sc_f": 66.5},    # ents exact, spans 0.5 off
        "int8_b": {"ents_f": 77.75, "spans_sc_f": 67.25},  # 0.25 off on both
        "int8_c": {"ents_f": 78.25, "spans_sc_f": 67.0},   # 0.25 off, faster than b
    }
    ratios = {"int8_a_vs_fp32": 3.0, "int8_b_vs_fp32": 2.0, "int8_c_vs_fp32": 2.2}
    assert choose(dev, ratios, 0.0) == "c"
