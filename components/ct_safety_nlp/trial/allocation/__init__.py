"""Arm allocation: reproducible permuted-block lists, Pocock–Simon minimisation, balance and its simulation.

Pure functions over plain data (lists, dicts, strings, numbers); the state
file (:mod:`.state`) and the HTML report (:mod:`.report`) are the only I/O.

>>> from ct_safety_nlp.trial.allocation import permuted_block_list, minimise_sequence
>>> lst = permuted_block_list(["A", "B"], blocks=[4, 6], n=12, seed=7, strata={"sex": ["F", "M"]})
>>> lst["meta"]["sha256"]  # doctest: +SKIP
>>> design = {"arms": ["A", "B"], "factors": {"sex": ["F", "M"]}, "p": 0.8, "seed": 7}
>>> [r["arm"] for r in minimise_sequence(design, [{"sex": "F"}, {"sex": "M"}])]  # doctest: +SKIP
"""

from .balance import balance_summary, imbalance, rows_as_allocations
from .blocks import permuted_block_list, strata_cells, stratum_label
from .design import (
    AllocationError,
    parse_arms,
    parse_blocks,
    parse_factors,
    parse_ratio,
    parse_subject,
    parse_weights,
)
from .minimisation import (
    allocation_probabilities,
    check_design,
    choose_arm,
    imbalance_scores,
    marginal_counts,
    minimise_next,
    minimise_sequence,
)
from .simulate import simulate_balance
from .state import allocate, create_state, read_state, verify_state

__all__ = [
    "AllocationError",
    "allocate",
    "allocation_probabilities",
    "balance_summary",
    "check_design",
    "choose_arm",
    "create_state",
    "imbalance",
    "imbalance_scores",
    "marginal_counts",
    "minimise_next",
    "minimise_sequence",
    "parse_arms",
    "parse_blocks",
    "parse_factors",
    "parse_ratio",
    "parse_subject",
    "parse_weights",
    "permuted_block_list",
    "read_state",
    "rows_as_allocations",
    "simulate_balance",
    "strata_cells",
    "stratum_label",
    "verify_state",
]
