"""CTCAE grading from text: explicit grades, lab values, outcome and severity
words, and the criteria of the grade texts.

Pure functions over plain data, no spaCy component and no heavy imports;
``ct_reasoner`` calls them per AE mention and combines what they find with
:func:`choose_grade` (precedence: a grade-5 outcome, then explicit, then the
higher of lab and outcome, then severity words; see :mod:`.findings`). The
knowledge is data: the lab table (``resources/lab_rules.yml``,
``ct.read_lab_rules.v1`` -> :class:`LabRules`) and the grading words
(``resources/grading.yml``, ``ct.read_grading_rules.v1`` ->
:class:`GradingRules`); every function takes the compiled table (default: the
shipped one).

Modules: :mod:`.explicit` (stated grades), :mod:`.labs` (lab values;
:mod:`.graders`, one grader per analyte family, and :mod:`.tables`),
:mod:`.words` (outcome and severity), :mod:`.criteria` (interventions and
minimum grades from the grade texts), :mod:`.findings` (results, precedence).
"""

from .criteria import criteria_grade, intervention_grade, minimum_grade
from .explicit import find_explicit_grades
from .findings import PRECEDENCE, GradeFinding, LabFinding, choose_grade
from .labs import find_lab_values, grade_lab
from .rules import GradingRules, default_grading_rules
from .tables import Cut, LabRules, Rule, default_lab_rules
from .words import find_outcome_grade, find_severity_grade

__all__ = [
    "PRECEDENCE",
    "Cut",
    "GradeFinding",
    "GradingRules",
    "LabFinding",
    "LabRules",
    "Rule",
    "choose_grade",
    "default_grading_rules",
    "default_lab_rules",
    "find_explicit_grades",
    "find_lab_values",
    "find_outcome_grade",
    "find_severity_grade",
    "grade_lab",
    "criteria_grade",
    "intervention_grade",
    "minimum_grade",
]
