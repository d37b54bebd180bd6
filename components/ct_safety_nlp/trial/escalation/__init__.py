"""Dose-escalation decisions and trial-design simulation.

Pure functions over plain data, each design documented with its published source:

* :mod:`.three_plus_three` - the 3+3 design (Storer 1989; Korn et al. 1994 de-escalation variant)
* :mod:`.boin` - BOIN (Liu & Yuan 2015; R package BOIN 2.7.2)
* :mod:`.mtpi2` - mTPI-2 (Guo et al. 2017)
* :mod:`.outcomes` - the ``escalation`` outcome string ("1NNN 2NTT") and the cohort CSV
* :mod:`.engine` - one decision per cohort with its evidence, and the MTD
* :mod:`.simulation` - vectorised, seeded Monte Carlo operating characteristics
* :mod:`.dlt` - DLT assessment per dose level from trial data (subjects + annotated notes)
* :mod:`.report` - the HTML report of a simulation

>>> from ct_safety_nlp.trial.escalation import make_design, escalate, parse_outcomes
>>> result = escalate(parse_outcomes("1NNN 2NTT"), make_design("boin", 5, 0.3))
>>> [(d["decision"], d["next_dose"]) for d in result["decisions"]]
[('escalate', 2), ('de-escalate', 1)]
"""

from ._common import DECISIONS, EscalationError
from .boin import boin_boundaries, boin_decide, boin_lambdas, boin_select_mtd
from .engine import DESIGNS, Design, escalate, make_design, select_mtd
from .mtpi2 import mtpi2_action, mtpi2_decision_table, mtpi2_select_mtd
from .outcomes import format_outcomes, parse_outcomes, read_cohort_csv
from .simulation import compare, parse_scenario, simulate
from .three_plus_three import three_plus_three

__all__ = [
    "DECISIONS",
    "DESIGNS",
    "Design",
    "EscalationError",
    "boin_boundaries",
    "boin_decide",
    "boin_lambdas",
    "boin_select_mtd",
    "compare",
    "escalate",
    "format_outcomes",
    "make_design",
    "mtpi2_action",
    "mtpi2_decision_table",
    "mtpi2_select_mtd",
    "parse_outcomes",
    "parse_scenario",
    "read_cohort_csv",
    "select_mtd",
    "simulate",
    "three_plus_three",
]
