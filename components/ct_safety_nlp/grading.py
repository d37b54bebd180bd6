"""CTCAE v5.0 grading from text: explicit grades, lab values, outcome and severity words.

Pure functions, no spaCy component and no heavy imports. ``ct_reasoner`` calls
them per sentence / per adverse-event mention and combines what they find with
:func:`choose_grade`.

Sources of a grade (``GradeFinding.basis``)
-------------------------------------------
``explicit``  "grade 3", "G3", "Gr. 3", "grade III", "CTCAE grade 2",
              "NCI-CTC grade 4". A range ("grade 3/4", "grade 2-3",
              "grade 3 or 4") yields the WORST stated grade (safety reporting
              counts the worst case; the evidence says it was a range).
              "grade >=3" / "grade 3 or higher" yields the stated minimum.
              Tumour grades ("WHO grade II glioma", "Gleason grade",
              "histologic grade 3", "grade 2 astrocytoma") are ignored.
``lab``       an analyte, a value and (usually) a unit, graded against the
              CTCAE v5.0 workbook thresholds in :data:`LAB_RULES` (each
              threshold is checked against the workbook text by the tests):
              neutrophil, platelet, white-cell and lymphocyte counts (low;
              lymphocytosis and leukocytosis high), hemoglobin (g/dL, g/L,
              mmol/L), potassium and sodium (both sides), fever and
              hypothermia (C, F), blood pressure (adult hypertension), ALT,
              AST, ALP, GGT, bilirubin, creatinine, CPK, lipase, amylase, LDH
              and aPTT (x ULN, or absolute against a stated or default ULN;
              abnormal baselines where CTCAE has them), glucose
              (hypoglycemia), magnesium and corrected calcium (both sides),
              albumin, cholesterol, triglycerides, QTc (ms), ejection
              fraction (%, and drop from baseline) and INR. A value written
              as a bound ("INR <1.7", "platelets >100") keeps only the grade
              every value beyond the bound has (often none).
``outcome``   death words (died, death, fatal, lethal, succumbed, deceased,
              passed away, "grade 5") -> 5; life-threatening -> 4;
              "near-fatal" -> 4. Negated or hedged forms ("non-fatal",
              "no deaths", "not life-threatening", "potentially fatal",
              "potentially life-threatening", "risk of death") are ignored.
``severity``  mild / mildly / slight / minor / minimal -> 1,
              moderate / moderately -> 2, severe / severely -> 3; "mild to
              moderate" -> 2, "moderate-to-severe" -> 3 (worst). "marked",
              "profound", "massive" and "significant" are NOT mapped: CTCAE
              does not use them and in PHEE's severity cues they describe
              events of every grade; "serious" is seriousness (ICH E2A), not
              severity. Negated forms ("not severe", "non-severe", "less
              severe") are ignored.

Precedence (:data:`PRECEDENCE`, :func:`choose_grade`)
-----------------------------------------------------
explicit > lab > outcome > severity, with two CTCAE rules on top:
lab and outcome are both CTCAE criteria, so when both are present the higher
grade wins (CTCAE assigns the highest grade whose criteria are met:
"life-threatening hyperkalemia, K 6.5 mmol/L" is grade 4); and a grade-5
outcome (death) beats everything, since an AE that led to death is grade 5.
A severity word is used only when nothing else is present, so
"severe neutropenia (ANC 0.8 x 10^9/L)" is grade 3 from the lab value.

Lab grading assumptions (:data:`REFERENCE_RANGES`)
--------------------------------------------------
CTCAE grade 1 for many labs starts at the LLN or ULN, which text rarely gives.
A stated reference ("ULN 40", "normal 7-56", "upper limit of normal 1.2")
is used; otherwise the adult default in :data:`REFERENCE_RANGES` is, and the
evidence says "assumed". Thresholds that are absolute in CTCAE (ANC < 1.5,
platelets < 75, K > 5.5, ...) never depend on these defaults.
Criteria that need more than a number are taken as documented here:
hyponatremia 125-129 mmol/L is grade 2 unless ``symptomatic=True`` (grade 3);
lipase / amylase > 2.0 x ULN are graded as asymptomatic unless the text says
"symptomatic" (then one grade higher, as CTCAE's "with signs or symptoms");
INR uses the not-anticoagulated thresholds; calcium is taken as corrected
serum calcium (ionised calcium is skipped); hyperglycemia is not graded from a
value (CTCAE v5 grades it by the intervention);
hypokalemia between 3.0 and the LLN is grade 1 unless ``symptomatic=True``
(grade 2); fever > 40.0 C is grade 3 unless the text says it lasted more than
24 hours (grade 4); hypertension uses the adult thresholds (higher of the
systolic and diastolic grades; grade 4 needs clinical words, not a number);
liver tests use the "baseline was abnormal" multiples only when a baseline
above the ULN is given, creatinine takes the higher of its ULN and baseline
grades.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = [
    "PRECEDENCE",
    "LAB_RULES",
    "REFERENCE_RANGES",
    "GradeFinding",
    "LabFinding",
    "choose_grade",
    "find_explicit_grades",
    "find_lab_values",
    "find_outcome_grade",
    "find_severity_grade",
    "grade_lab",
]

PRECEDENCE = ("explicit", "lab", "outcome", "severity")


@dataclass
class GradeFinding:
    """One piece of grade evidence.

    basis: "explicit" | "lab" | "outcome" | "severity".
    evidence: a human-readable line naming the rule and quoting the text.
    start_char / end_char: offsets of the quoted text in the string searched
        (0 / 0 for :func:`grade_lab` called directly).
    ctcae_term: the CTCAE term a lab grade belongs to (None for other bases).
    """

    grade: int
    basis: str
    evidence: str
    start_char: int
    end_char: int
    ctcae_term: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class LabFinding:
    """A lab value found in text, with its CTCAE grade.

    ctcae_term: the term the value is graded under (for two-sided analytes the
        side the value lies on); grade None when the value is within the
        reference range (not an adverse event).
    value / unit: as written (unit normalised to a canonical label);
        value_si / unit_si: converted ("10^9/L", "g/L", "mmol/L", "x ULN", "C", "mmHg").
    """

    analyte: str
    ctcae_term: str
    value: float
    unit: str
    value_si: float
    unit_si: str
    grade: Optional[int]
    start_char: int
    end_char: int
    text: str
    evidence: str
    finding: Optional[GradeFinding] = field(default=None, repr=False)

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data.pop("finding", None)
        return data


# ==========================================================================
# Threshold tables
# ==========================================================================


@dataclass(frozen=True)
class Cut:
    """``value OP threshold`` puts the value at least at ``grade``.

    workbook: for each unit label, the fragment of the CTCAE v5.0 grade text
    that states this threshold (tests check it is in the workbook and that
    its first number equals the threshold in that unit).
    """

    grade: int
    op: str
    threshold: float
    workbook: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rule:
    term: str
    direction: str  # "low" | "high"
    unit: str  # the unit the cuts are in
    cuts: Tuple[Cut, ...]
    reference: Optional[str] = None  # "LLN" / "ULN": grade 1 starts there


def _c(grade, op, threshold, *workbook):
    return Cut(grade, op, threshold, tuple(workbook))


#: Adult reference values used where text states none (documented defaults,
#: typical adult laboratory ranges; the evidence line says "assumed").
REFERENCE_RANGES: Dict[str, Dict[str, Tuple[Optional[float], Optional[float]]]] = {
    # analyte: {unit: (LLN, ULN)}
    "anc": {"10^9/L": (2.0, 7.5)},
    "wbc": {"10^9/L": (4.0, 11.0)},
    "lymphocytes": {"10^9/L": (1.0, 4.0)},
    "platelets": {"10^9/L": (150.0, 400.0)},
    "hemoglobin": {"g/dL": (12.0, 17.5), "g/L": (120.0, 175.0), "mmol/L": (7.4, 10.9)},
    "potassium": {"mmol/L": (3.5, 5.0)},
    "sodium": {"mmol/L": (135.0, 145.0)},
    "alt": {"U/L": (None, 40.0)},
    "ast": {"U/L": (None, 40.0)},
    "alp": {"U/L": (None, 120.0)},
    "bilirubin": {"mg/dL": (None, 1.2), "umol/L": (None, 21.0)},
    "creatinine": {"mg/dL": (None, 1.2), "umol/L": (None, 106.0)},
    "ggt": {"U/L": (None, 50.0)},
    "cpk": {"U/L": (None, 200.0)},
    "lipase": {"U/L": (None, 60.0)},
    "amylase": {"U/L": (None, 100.0)},
    "ldh": {"U/L": (None, 250.0)},
    "aptt": {"s": (None, 35.0)},
    "glucose": {"mg/dL": (70.0, 140.0), "mmol/L": (3.9, 7.8)},
    "magnesium": {"mg/dL": (1.7, 2.4), "mmol/L": (0.7, 1.0)},
    "calcium": {"mg/dL": (8.5, 10.5), "mmol/L": (2.1, 2.6)},
    "albumin": {"g/dL": (3.5, None), "g/L": (35.0, None)},
    "cholesterol": {"mg/dL": (None, 200.0), "mmol/L": (None, 5.2)},
    "inr": {"": (None, 1.2)},
}

_WB_SI = "10^9/L"
#: CTCAE v5.0 thresholds, written from the workbook's grade texts.
LAB_RULES: Dict[str, Rule] = {
    "anc": Rule("Neutrophil count decreased", "low", _WB_SI, (
        _c(1, "<", None, ("10^9/L", "<LLN - 1.5 x 10e9 /L"), ("/mm3", "<LLN - 1500/mm3")),
        _c(2, "<", 1.5, ("10^9/L", "<1.5 - 1.0 x 10e9 /L"), ("/mm3", "<1500 - 1000/mm3")),
        _c(3, "<", 1.0, ("10^9/L", "<1.0 - 0.5 x 10e9 /L"), ("/mm3", "<1000 - 500/mm3")),
        _c(4, "<", 0.5, ("10^9/L", "<0.5 x 10e9 /L"), ("/mm3", "<500/mm3")),
    ), "LLN"),
    "platelets": Rule("Platelet count decreased", "low", _WB_SI, (
        _c(1, "<", None, ("10^9/L", "<LLN - 75.0 x 10e9 /L"), ("/mm3", "<LLN - 75,000/mm3")),
        _c(2, "<", 75.0, ("10^9/L", "<75.0 - 50.0 x 10e9 /L"), ("/mm3", "<75,000 - 50,000/mm3")),
        _c(3, "<", 50.0, ("10^9/L", "<50.0 - 25.0 x 10e9 /L"), ("/mm3", "<50,000 - 25,000/mm3")),
        _c(4, "<", 25.0, ("10^9/L", "<25.0 x 10e9 /L"), ("/mm3", "<25,000/mm3")),
    ), "LLN"),
    "wbc": Rule("White blood cell decreased", "low", _WB_SI, (
        _c(1, "<", None, ("10^9/L", "<LLN - 3.0 x 10e9 /L"), ("/mm3", "<LLN - 3000/mm3")),
        _c(2, "<", 3.0, ("10^9/L", "<3.0 - 2.0 x 10e9 /L"), ("/mm3", "<3000 - 2000/mm3")),
        _c(3, "<", 2.0, ("10^9/L", "<2.0 - 1.0 x 10e9 /L"), ("/mm3", "<2000 - 1000/mm3")),
        _c(4, "<", 1.0, ("10^9/L", "<1.0 x 10e9 /L"), ("/mm3", "<1000/mm3")),
    ), "LLN"),
    "wbc_high": Rule("Leukocytosis", "high", _WB_SI, (
        _c(3, ">", 100.0, ("/mm3", ">100,000/mm3")),
    )),
    "lymphocytes": Rule("Lymphocyte count decreased", "low", _WB_SI, (
        _c(1, "<", None, ("10^9/L", "<LLN - 0.8 x 10e9/L"), ("/mm3", "<LLN - 800/mm3")),
        _c(2, "<", 0.8, ("10^9/L", "<0.8 - 0.5 x 10e9 /L"), ("/mm3", "<800 - 500/mm3")),
        _c(3, "<", 0.5, ("10^9/L", "<0.5 - 0.2 x 10e9 /L"), ("/mm3", "<500 - 200/mm3")),
        _c(4, "<", 0.2, ("10^9/L", "<0.2 x 10e9 /L"), ("/mm3", "<200/mm3")),
    ), "LLN"),
    "lymphocytes_high": Rule("Lymphocyte count increased", "high", _WB_SI, (
        _c(2, ">", 4.0, ("/mm3", ">4000/mm3 - 20,000/mm3")),
        _c(3, ">", 20.0, ("/mm3", ">20,000/mm3")),
    )),
    "hemoglobin:g/dL": Rule("Anemia", "low", "g/dL", (
        _c(1, "<", None, ("g/dL", "<LLN - 10.0 g/dL")),
        _c(2, "<", 10.0, ("g/dL", "<10.0 - 8.0 g/dL")),
        _c(3, "<", 8.0, ("g/dL", "<8.0 g/dL")),
    ), "LLN"),
    "hemoglobin:g/L": Rule("Anemia", "low", "g/L", (
        _c(1, "<", None, ("g/L", "<LLN - 100 g/L")),
        _c(2, "<", 100.0, ("g/L", "<100 - 80g/L")),
        _c(3, "<", 80.0, ("g/L", "<80 g/L")),
    ), "LLN"),
    "hemoglobin:mmol/L": Rule("Anemia", "low", "mmol/L", (
        _c(1, "<", None, ("mmol/L", "<LLN - 6.2 mmol/L")),
        _c(2, "<", 6.2, ("mmol/L", "<6.2 - 4.9 mmol/L")),
        _c(3, "<", 4.9, ("mmol/L", "<4.9 mmol/L")),
    ), "LLN"),
    "potassium_high": Rule("Hyperkalemia", "high", "mmol/L", (
        _c(1, ">", None, ("mmol/L", ">ULN - 5.5 mmol/L")),
        _c(2, ">", 5.5, ("mmol/L", ">5.5 - 6.0 mmol/L")),
        _c(3, ">", 6.0, ("mmol/L", ">6.0 - 7.0 mmol/L")),
        _c(4, ">", 7.0, ("mmol/L", ">7.0 mmol/L")),
    ), "ULN"),
    "potassium_low": Rule("Hypokalemia", "low", "mmol/L", (
        _c(1, "<", None, ("mmol/L", "<LLN - 3.0 mmol/L")),
        _c(3, "<", 3.0, ("mmol/L", "<3.0 - 2.5 mmol/L")),
        _c(4, "<", 2.5, ("mmol/L", "<2.5 mmol/L")),
    ), "LLN"),
    "sodium_high": Rule("Hypernatremia", "high", "mmol/L", (
        _c(1, ">", None, ("mmol/L", ">ULN - 150 mmol/L")),
        _c(2, ">", 150.0, ("mmol/L", ">150 - 155 mmol/L")),
        _c(3, ">", 155.0, ("mmol/L", ">155 - 160 mmol/L")),
        _c(4, ">", 160.0, ("mmol/L", ">160 mmol/L")),
    ), "ULN"),
    "sodium_low": Rule("Hyponatremia", "low", "mmol/L", (
        _c(1, "<", None, ("mmol/L", "<LLN - 130 mmol/L")),
        _c(2, "<=", 129.0, ("mmol/L", "125-129 mmol/L and asymptomatic")),
        _c(3, "<=", 124.0, ("mmol/L", "120-124 mmol/L regardless of symptoms")),
        _c(4, "<", 120.0, ("mmol/L", "<120 mmol/L")),
    ), "LLN"),
    "temperature:C": Rule("Fever", "high", "C", (
        _c(1, ">=", 38.0, ("C", "38.0 - 39.0 degrees C")),
        _c(2, ">", 39.0, ("C", ">39.0 - 40.0 degrees C")),
        _c(3, ">", 40.0, ("C", ">40.0 degrees C")),
    )),
    "temperature:F": Rule("Fever", "high", "F", (
        _c(1, ">=", 100.4, ("F", "(100.4 - 102.2 degrees F)")),
        _c(2, ">=", 102.3, ("F", "(102.3 - 104.0 degrees F)")),
        _c(3, ">", 104.0, ("F", "(>104.0 degrees F)")),
    )),
    "bp_systolic": Rule("Hypertension", "high", "mmHg", (
        _c(1, ">=", 120.0, ("mmHg", "Systolic BP 120 - 139 mm Hg")),
        _c(2, ">=", 140.0, ("mmHg", "Systolic BP 140 - 159 mm Hg")),
        _c(3, ">=", 160.0, ("mmHg", "Systolic BP >=160 mm Hg")),
    )),
    "bp_diastolic": Rule("Hypertension", "high", "mmHg", (
        _c(1, ">=", 80.0, ("mmHg", "diastolic BP 80 - 89 mm Hg")),
        _c(2, ">=", 90.0, ("mmHg", "diastolic BP 90 - 99 mm Hg")),
        _c(3, ">=", 100.0, ("mmHg", "diastolic BP >=100 mm Hg")),
    )),
    # multiples of the ULN ("x ULN") and of an abnormal baseline ("x baseline")
    "alt": Rule("Alanine aminotransferase increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 3.0 x ULN")),
        _c(2, ">", 3.0, ("x ULN", ">3.0 - 5.0 x ULN")),
        _c(3, ">", 5.0, ("x ULN", ">5.0 - 20.0 x ULN")),
        _c(4, ">", 20.0, ("x ULN", ">20.0 x ULN")),
    )),
    "alt:baseline": Rule("Alanine aminotransferase increased", "high", "x baseline", (
        _c(1, ">=", 1.5, ("x baseline", "1.5 - 3.0 x baseline")),
        _c(2, ">", 3.0, ("x baseline", ">3.0 - 5.0 x baseline")),
        _c(3, ">", 5.0, ("x baseline", ">5.0 - 20.0 x baseline")),
        _c(4, ">", 20.0, ("x baseline", ">20.0 x baseline")),
    )),
    "ast": Rule("Aspartate aminotransferase increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 3.0 x ULN")),
        _c(2, ">", 3.0, ("x ULN", ">3.0 - 5.0 x ULN")),
        _c(3, ">", 5.0, ("x ULN", ">5.0 - 20.0 x ULN")),
        _c(4, ">", 20.0, ("x ULN", ">20.0 x ULN")),
    )),
    "ast:baseline": Rule("Aspartate aminotransferase increased", "high", "x baseline", (
        _c(1, ">=", 1.5, ("x baseline", "1.5 - 3.0 x baseline")),
        _c(2, ">", 3.0, ("x baseline", ">3.0 - 5.0 x baseline")),
        _c(3, ">", 5.0, ("x baseline", ">5.0 - 20.0 x baseline")),
        _c(4, ">", 20.0, ("x baseline", ">20.0 x baseline")),
    )),
    "alp": Rule("Alkaline phosphatase increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 2.5 x ULN")),
        _c(2, ">", 2.5, ("x ULN", ">2.5 - 5.0 x ULN")),
        _c(3, ">", 5.0, ("x ULN", ">5.0 - 20.0 x ULN")),
        _c(4, ">", 20.0, ("x ULN", ">20.0 x ULN")),
    )),
    "alp:baseline": Rule("Alkaline phosphatase increased", "high", "x baseline", (
        _c(1, ">=", 2.0, ("x baseline", "2.0 - 2.5 x baseline")),
        _c(2, ">", 2.5, ("x baseline", ">2.5 - 5.0 x baseline")),
        _c(3, ">", 5.0, ("x baseline", ">5.0 - 20.0 x baseline")),
        _c(4, ">", 20.0, ("x baseline", ">20.0 x baseline")),
    )),
    "bilirubin": Rule("Blood bilirubin increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 1.5 x ULN")),
        _c(2, ">", 1.5, ("x ULN", ">1.5 - 3.0 x ULN")),
        _c(3, ">", 3.0, ("x ULN", ">3.0 - 10.0 x ULN")),
        _c(4, ">", 10.0, ("x ULN", ">10.0 x ULN")),
    )),
    "bilirubin:baseline": Rule("Blood bilirubin increased", "high", "x baseline", (
        _c(1, ">", 1.0, ("x baseline", "> 1.0 - 1.5 x baseline")),
        _c(2, ">", 1.5, ("x baseline", ">1.5 - 3.0 x baseline")),
        _c(3, ">", 3.0, ("x baseline", ">3.0 - 10.0 x baseline")),
        _c(4, ">", 10.0, ("x baseline", ">10.0 x baseline")),
    )),
    "creatinine": Rule("Creatinine increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 1.5 x ULN")),
        _c(2, ">", 1.5, ("x ULN", ">1.5 - 3.0 x ULN")),
        _c(3, ">", 3.0, ("x ULN", ">3.0 - 6.0 x ULN")),
        _c(4, ">", 6.0, ("x ULN", ">6.0 x ULN")),
    )),
    "creatinine:baseline": Rule("Creatinine increased", "high", "x baseline", (
        _c(2, ">", 1.5, ("x baseline", ">1.5 - 3.0 x baseline")),
        _c(3, ">", 3.0, ("x baseline", ">3.0 x baseline")),
    )),
    "ggt": Rule("GGT increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 2.5 x ULN")),
        _c(2, ">", 2.5, ("x ULN", ">2.5 - 5.0 x ULN")),
        _c(3, ">", 5.0, ("x ULN", ">5.0 - 20.0 x ULN")),
        _c(4, ">", 20.0, ("x ULN", ">20.0 x ULN")),
    )),
    "ggt:baseline": Rule("GGT increased", "high", "x baseline", (
        _c(1, ">=", 2.0, ("x baseline", "2.0 - 2.5 x baseline")),
        _c(2, ">", 2.5, ("x baseline", ">2.5 - 5.0 x baseline")),
        _c(3, ">", 5.0, ("x baseline", ">5.0 - 20.0 x baseline")),
        _c(4, ">", 20.0, ("x baseline", ">20.0 x baseline")),
    )),
    "cpk": Rule("CPK increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 2.5 x ULN")),
        _c(2, ">", 2.5, ("x ULN", ">2.5 x ULN - 5 x ULN")),
        _c(3, ">", 5.0, ("x ULN", ">5 x ULN - 10 x ULN")),
        _c(4, ">", 10.0, ("x ULN", ">10 x ULN")),
    )),
    # lipase / amylase: >2.0 x ULN is grade 2 without and grade 3 with symptoms;
    # >5.0 x ULN grade 3 without and grade 4 with symptoms (":symptomatic" rules)
    "lipase": Rule("Lipase increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 1.5 x ULN")),
        _c(2, ">", 1.5, ("x ULN", ">1.5 - 2.0 x ULN")),
        _c(3, ">", 5.0, ("x ULN", ">5.0 x ULN and asymptomatic")),
    )),
    "lipase:symptomatic": Rule("Lipase increased", "high", "x ULN", (
        _c(3, ">", 2.0, ("x ULN", ">2.0 - 5.0 x ULN with signs or symptoms")),
        _c(4, ">", 5.0, ("x ULN", ">5.0 x ULN and with signs or symptoms")),
    )),
    "amylase": Rule("Serum amylase increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 1.5 x ULN")),
        _c(2, ">", 1.5, ("x ULN", ">1.5 - 2.0 x ULN")),
        _c(3, ">", 5.0, ("x ULN", ">5.0 x ULN and asymptomatic")),
    )),
    "amylase:symptomatic": Rule("Serum amylase increased", "high", "x ULN", (
        _c(3, ">", 2.0, ("x ULN", ">2.0 - 5.0 x ULN with signs or symptoms")),
        _c(4, ">", 5.0, ("x ULN", ">5.0 x ULN and with signs or symptoms")),
    )),
    "ldh": Rule("Blood lactate dehydrogenase increased", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN")),
    )),
    "aptt": Rule("Activated partial thromboplastin time prolonged", "high", "x ULN", (
        _c(1, ">", 1.0, ("x ULN", ">ULN - 1.5 x ULN")),
        _c(2, ">", 1.5, ("x ULN", ">1.5 - 2.5 x ULN")),
        _c(3, ">", 2.5, ("x ULN", ">2.5 x ULN")),
    )),
    # direct thresholds, one rule per unit
    "glucose_low:mg/dL": Rule("Hypoglycemia", "low", "mg/dL", (
        _c(1, "<", None, ("mg/dL", "<LLN - 55 mg/dL")),
        _c(2, "<", 55.0, ("mg/dL", "<55 - 40 mg/dL")),
        _c(3, "<", 40.0, ("mg/dL", "<40 - 30 mg/dL")),
        _c(4, "<", 30.0, ("mg/dL", "<30 mg/dL")),
    ), "LLN"),
    "glucose_low:mmol/L": Rule("Hypoglycemia", "low", "mmol/L", (
        _c(1, "<", None, ("mmol/L", "<LLN - 3.0 mmol/L")),
        _c(2, "<", 3.0, ("mmol/L", "<3.0 - 2.2 mmol/L")),
        _c(3, "<", 2.2, ("mmol/L", "<2.2 - 1.7 mmol/L")),
        _c(4, "<", 1.7, ("mmol/L", "<1.7 mmol/L")),
    ), "LLN"),
    "magnesium_low:mg/dL": Rule("Hypomagnesemia", "low", "mg/dL", (
        _c(1, "<", None, ("mg/dL", "<LLN - 1.2 mg/dL")),
        _c(2, "<", 1.2, ("mg/dL", "<1.2 - 0.9 mg/dL")),
        _c(3, "<", 0.9, ("mg/dL", "<0.9 - 0.7 mg/dL")),
        _c(4, "<", 0.7, ("mg/dL", "<0.7 mg/dL")),
    ), "LLN"),
    "magnesium_low:mmol/L": Rule("Hypomagnesemia", "low", "mmol/L", (
        _c(1, "<", None, ("mmol/L", "<LLN - 0.5 mmol/L")),
        _c(2, "<", 0.5, ("mmol/L", "<0.5 - 0.4 mmol/L")),
        _c(3, "<", 0.4, ("mmol/L", "<0.4 - 0.3 mmol/L")),
        _c(4, "<", 0.3, ("mmol/L", "<0.3 mmol/L")),
    ), "LLN"),
    "magnesium_high:mg/dL": Rule("Hypermagnesemia", "high", "mg/dL", (
        _c(1, ">", None, ("mg/dL", ">ULN - 3.0 mg/dL")),
        _c(3, ">", 3.0, ("mg/dL", ">3.0 - 8.0 mg/dL")),
        _c(4, ">", 8.0, ("mg/dL", ">8.0 mg/dL")),
    ), "ULN"),
    "magnesium_high:mmol/L": Rule("Hypermagnesemia", "high", "mmol/L", (
        _c(1, ">", None, ("mmol/L", ">ULN - 1.23 mmol/L")),
        _c(3, ">", 1.23, ("mmol/L", ">1.23 - 3.30 mmol/L")),
        _c(4, ">", 3.30, ("mmol/L", ">3.30 mmol/L")),
    ), "ULN"),
    "calcium_low:mg/dL": Rule("Hypocalcemia", "low", "mg/dL", (
        _c(1, "<", None, ("mg/dL", "<LLN - 8.0 mg/dL")),
        _c(2, "<", 8.0, ("mg/dL", "<8.0 - 7.0 mg/dL")),
        _c(3, "<", 7.0, ("mg/dL", "<7.0 - 6.0 mg/dL")),
        _c(4, "<", 6.0, ("mg/dL", "<6.0 mg/dL")),
    ), "LLN"),
    "calcium_low:mmol/L": Rule("Hypocalcemia", "low", "mmol/L", (
        _c(1, "<", None, ("mmol/L", "<LLN - 2.0 mmol/L")),
        _c(2, "<", 2.0, ("mmol/L", "<2.0 - 1.75 mmol/L")),
        _c(3, "<", 1.75, ("mmol/L", "<1.75 - 1.5 mmol/L")),
        _c(4, "<", 1.5, ("mmol/L", "<1.5 mmol/L")),
    ), "LLN"),
    "calcium_high:mg/dL": Rule("Hypercalcemia", "high", "mg/dL", (
        _c(1, ">", None, ("mg/dL", ">ULN - 11.5 mg/dL")),
        _c(2, ">", 11.5, ("mg/dL", ">11.5 - 12.5 mg/dL")),
        _c(3, ">", 12.5, ("mg/dL", ">12.5 - 13.5 mg/dL")),
        _c(4, ">", 13.5, ("mg/dL", ">13.5 mg/dL")),
    ), "ULN"),
    "calcium_high:mmol/L": Rule("Hypercalcemia", "high", "mmol/L", (
        _c(1, ">", None, ("mmol/L", ">ULN - 2.9 mmol/L")),
        _c(2, ">", 2.9, ("mmol/L", ">2.9 - 3.1 mmol/L")),
        _c(3, ">", 3.1, ("mmol/L", ">3.1 - 3.4 mmol/L")),
        _c(4, ">", 3.4, ("mmol/L", ">3.4 mmol/L")),
    ), "ULN"),
    "albumin_low:g/dL": Rule("Hypoalbuminemia", "low", "g/dL", (
        _c(1, "<", None, ("g/dL", "<LLN - 3 g/dL")),
        _c(2, "<", 3.0, ("g/dL", "<3 - 2 g/dL")),
        _c(3, "<", 2.0, ("g/dL", "<2 g/dL")),
    ), "LLN"),
    "albumin_low:g/L": Rule("Hypoalbuminemia", "low", "g/L", (
        _c(1, "<", None, ("g/L", "<LLN - 30 g/L")),
        _c(2, "<", 30.0, ("g/L", "<30 - 20 g/L")),
        _c(3, "<", 20.0, ("g/L", "<20 g/L")),
    ), "LLN"),
    "cholesterol_high:mg/dL": Rule("Cholesterol high", "high", "mg/dL", (
        _c(1, ">", None, ("mg/dL", ">ULN - 300 mg/dL")),
        _c(2, ">", 300.0, ("mg/dL", ">300 - 400 mg/dL")),
        _c(3, ">", 400.0, ("mg/dL", ">400 - 500 mg/dL")),
        _c(4, ">", 500.0, ("mg/dL", ">500 mg/dL")),
    ), "ULN"),
    "cholesterol_high:mmol/L": Rule("Cholesterol high", "high", "mmol/L", (
        _c(1, ">", None, ("mmol/L", ">ULN - 7.75 mmol/L")),
        _c(2, ">", 7.75, ("mmol/L", ">7.75 - 10.34 mmol/L")),
        _c(3, ">", 10.34, ("mmol/L", ">10.34 - 12.92 mmol/L")),
        _c(4, ">", 12.92, ("mmol/L", ">12.92 mmol/L")),
    ), "ULN"),
    "triglycerides_high:mg/dL": Rule("Hypertriglyceridemia", "high", "mg/dL", (
        _c(1, ">=", 150.0, ("mg/dL", "150 mg/dL - 300 mg/dL")),
        _c(2, ">", 300.0, ("mg/dL", ">300 mg/dL - 500 mg/dL")),
        _c(3, ">", 500.0, ("mg/dL", ">500 mg/dL - 1000 mg/dL")),
        _c(4, ">", 1000.0, ("mg/dL", ">1000 mg/dL")),
    )),
    "triglycerides_high:mmol/L": Rule("Hypertriglyceridemia", "high", "mmol/L", (
        _c(1, ">=", 1.71, ("mmol/L", "1.71 mmol/L - 3.42 mmol/L")),
        _c(2, ">", 3.42, ("mmol/L", ">3.42 mmol/L - 5.7 mmol/L")),
        _c(3, ">", 5.7, ("mmol/L", ">5.7 mmol/L - 11.4 mmol/L")),
        _c(4, ">", 11.4, ("mmol/L", ">11.4 mmol/L")),
    )),
    "qtc_high:ms": Rule("Electrocardiogram QT corrected interval prolonged", "high", "ms", (
        _c(1, ">=", 450.0, ("ms", "Average QTc 450 - 480 ms")),
        _c(2, ">=", 481.0, ("ms", "Average QTc 481 - 500 ms")),
        _c(3, ">=", 501.0, ("ms", "Average QTc >= 501 ms")),
    )),
    "ef_low:%": Rule("Ejection fraction decreased", "low", "%", (
        _c(2, "<=", 50.0, ("%", "Resting ejection fraction (EF) 50 - 40%")),
        _c(3, "<=", 39.0, ("%", "Resting ejection fraction (EF) 39 - 20%")),
        _c(4, "<", 20.0, ("%", "Resting ejection fraction (EF) <20%")),
    )),
    "inr_high:": Rule("INR increased", "high", "", (
        _c(1, ">", 1.2, ("", ">1.2 - 1.5")),
        _c(2, ">", 1.5, ("", ">1.5 - 2.5")),
        _c(3, ">", 2.5, ("", ">2.5")),
    )),
    "temperature_low:C": Rule("Hypothermia", "low", "C", (
        _c(2, "<=", 35.0, ("C", "35 - >32 degrees C")),
        _c(3, "<=", 32.0, ("C", "32 - >28 degrees C")),
        _c(4, "<=", 28.0, ("C", "<=28 degrees C")),
    )),
    "temperature_low:F": Rule("Hypothermia", "low", "F", (
        _c(2, "<=", 95.0, ("F", "95 - >89.6 degrees F")),
        _c(3, "<=", 89.6, ("F", "89.6 - >82.4 degrees F")),
        _c(4, "<=", 82.4, ("F", "82.4 degrees F")),
    )),
}

#: analytes graded by direct thresholds per unit (rules "<analyte>_low:<unit>" /
#: "<analyte>_high:<unit>"); the side without a rule is not a CTCAE term by value
#: (e.g. CTCAE v5 grades hyperglycemia by the intervention, not the number).
_DIRECT = {
    "glucose": ("low",),
    "magnesium": ("low", "high"),
    "calcium": ("low", "high"),
    "albumin": ("low",),
    "cholesterol": ("high",),
    "triglycerides": ("high",),
    "qtc": ("high",),
    "ef": ("low",),
    "inr": ("high",),
}
_DIRECT_OTHER_SIDE = {"glucose": "Hyperglycemia"}
#: analytes graded as multiples of the ULN (and, where CTCAE says so, of an abnormal baseline)
_RATIO_ANALYTES = ("alt", "ast", "alp", "bilirubin", "creatinine", "ggt", "cpk", "lipase", "amylase", "ldh", "aptt")

# Grade 1 of hyponatremia's 125-129 band needs symptoms to become grade 3:
_HYPONATREMIA_SYMPTOMATIC_GRADE = 3
_HYPOKALEMIA_SYMPTOMATIC_GRADE = 2

# ==========================================================================
# Analytes, names and units
# ==========================================================================

#: analyte key -> (display name, allowed unit families or unit labels)
ANALYTES: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "anc": ("neutrophil count", ("count",)),
    "platelets": ("platelet count", ("count",)),
    "wbc": ("white blood cell count", ("count",)),
    "lymphocytes": ("lymphocyte count", ("count",)),
    "hemoglobin": ("hemoglobin", ("hb",)),
    "potassium": ("potassium", ("electrolyte",)),
    "sodium": ("sodium", ("electrolyte",)),
    "alt": ("ALT", ("enzyme", "ratio")),
    "ast": ("AST", ("enzyme", "ratio")),
    "alp": ("alkaline phosphatase", ("enzyme", "ratio")),
    "bilirubin": ("total bilirubin", ("mass", "ratio")),
    "creatinine": ("creatinine", ("mass", "ratio")),
    "temperature": ("temperature", ("temp",)),
    "bp": ("blood pressure", ("pressure",)),
    "ggt": ("GGT", ("enzyme", "ratio")),
    "cpk": ("CPK", ("enzyme", "ratio")),
    "lipase": ("lipase", ("enzyme", "ratio")),
    "amylase": ("amylase", ("enzyme", "ratio")),
    "ldh": ("LDH", ("enzyme", "ratio")),
    "aptt": ("aPTT", ("time", "ratio")),
    "glucose": ("glucose", ("mg/dL", "mmol/L")),
    "magnesium": ("magnesium", ("mg/dL", "mmol/L", "mEq/L")),
    "calcium": ("corrected calcium", ("mg/dL", "mmol/L", "mEq/L")),
    "albumin": ("albumin", ("g/dL", "g/L")),
    "cholesterol": ("total cholesterol", ("mg/dL", "mmol/L")),
    "triglycerides": ("triglycerides", ("mg/dL", "mmol/L")),
    "qtc": ("QTc", ("ms",)),
    "ef": ("ejection fraction", ("%",)),
    "inr": ("INR", ("",)),
}
#: mEq -> mmol for the divalent ions
_MEQ_FACTOR = {"magnesium": 0.5, "calcium": 0.5}

#: names / abbreviations -> analyte key (lower-case; CTCAE term names included)
ANALYTE_ALIASES: Dict[str, str] = {
    "anc": "anc", "absolute neutrophil count": "anc", "neutrophil count": "anc", "neutrophils": "anc",
    "neutrophil": "anc", "granulocytes": "anc", "granulocyte count": "anc", "agc": "anc",
    "neutrophil count decreased": "anc",
    "plt": "platelets", "platelets": "platelets", "platelet count": "platelets", "platelet": "platelets",
    "thrombocytes": "platelets", "thrombocyte count": "platelets", "platelet count decreased": "platelets",
    "wbc": "wbc", "white blood cell count": "wbc", "white blood cells": "wbc", "white cell count": "wbc",
    "white blood cell": "wbc", "wcc": "wbc", "leukocytes": "wbc", "leucocytes": "wbc", "leukocyte count": "wbc",
    "leucocyte count": "wbc", "white blood cell decreased": "wbc", "leukocytosis": "wbc",
    "lymphocytes": "lymphocytes", "alc": "lymphocytes", "absolute lymphocyte count": "lymphocytes",
    "lymphocyte count": "lymphocytes", "lymphocyte count decreased": "lymphocytes", "lymphocyte count increased": "lymphocytes",
    "hb": "hemoglobin", "hgb": "hemoglobin", "hemoglobin": "hemoglobin", "haemoglobin": "hemoglobin", "anemia": "hemoglobin",
    "k": "potassium", "k+": "potassium", "potassium": "potassium", "serum potassium": "potassium",
    "hyperkalemia": "potassium", "hypokalemia": "potassium",
    "na": "sodium", "na+": "sodium", "sodium": "sodium", "serum sodium": "sodium",
    "hypernatremia": "sodium", "hyponatremia": "sodium",
    "alt": "alt", "sgpt": "alt", "alanine aminotransferase": "alt", "alanine transaminase": "alt",
    "alanine aminotransferase increased": "alt", "transaminases": "alt",
    "ast": "ast", "sgot": "ast", "aspartate aminotransferase": "ast", "aspartate transaminase": "ast",
    "aspartate aminotransferase increased": "ast",
    "alp": "alp", "alk phos": "alp", "alkaline phosphatase": "alp", "alkaline phosphatase increased": "alp",
    "bilirubin": "bilirubin", "total bilirubin": "bilirubin", "serum bilirubin": "bilirubin", "tbil": "bilirubin",
    "t bili": "bilirubin", "blood bilirubin increased": "bilirubin",
    "creatinine": "creatinine", "serum creatinine": "creatinine", "scr": "creatinine", "creatinine increased": "creatinine",
    "temperature": "temperature", "temp": "temperature", "t": "temperature", "fever": "temperature",
    "body temperature": "temperature",
    "bp": "bp", "blood pressure": "bp", "hypertension": "bp",
    "ggt": "ggt", "ggtp": "ggt", "gamma gt": "ggt", "γ-gt": "ggt", "gamma-gt": "ggt", "gamma-glutamyl transferase": "ggt",
    "gamma-glutamyltransferase": "ggt", "ggt increased": "ggt",
    "cpk": "cpk", "ck": "cpk", "creatine kinase": "cpk", "creatine phosphokinase": "cpk", "cpk increased": "cpk",
    "lipase": "lipase", "serum lipase": "lipase", "lipase increased": "lipase",
    "amylase": "amylase", "serum amylase": "amylase", "serum amylase increased": "amylase",
    "ldh": "ldh", "lactate dehydrogenase": "ldh", "blood lactate dehydrogenase increased": "ldh",
    "aptt": "aptt", "ptt": "aptt", "activated partial thromboplastin time": "aptt",
    "activated partial thromboplastin time prolonged": "aptt",
    "glucose": "glucose", "blood glucose": "glucose", "blood sugar": "glucose", "serum glucose": "glucose",
    "plasma glucose": "glucose", "fasting glucose": "glucose", "hypoglycemia": "glucose",
    "magnesium": "magnesium", "serum magnesium": "magnesium", "mg": "magnesium", "mg2+": "magnesium", "mg++": "magnesium",
    "hypomagnesemia": "magnesium", "hypermagnesemia": "magnesium",
    "calcium": "calcium", "serum calcium": "calcium", "corrected calcium": "calcium", "corrected serum calcium": "calcium",
    "ca": "calcium", "ca2+": "calcium", "ca++": "calcium", "hypocalcemia": "calcium", "hypercalcemia": "calcium",
    "albumin": "albumin", "serum albumin": "albumin", "alb": "albumin", "hypoalbuminemia": "albumin",
    "cholesterol": "cholesterol", "total cholesterol": "cholesterol", "serum cholesterol": "cholesterol",
    "cholesterol high": "cholesterol",
    "triglycerides": "triglycerides", "triglyceride": "triglycerides", "serum triglycerides": "triglycerides",
    "tg": "triglycerides", "hypertriglyceridemia": "triglycerides",
    "qtc": "qtc", "qtcf": "qtc", "qtcb": "qtc", "qtc interval": "qtc", "corrected qt": "qtc", "corrected qt interval": "qtc",
    "qt corrected": "qtc", "electrocardiogram qt corrected interval prolonged": "qtc",
    "ef": "ef", "lvef": "ef", "ejection fraction": "ef", "left ventricular ejection fraction": "ef",
    "ejection fraction decreased": "ef",
    "inr": "inr", "international normalized ratio": "inr", "international normalised ratio": "inr", "inr increased": "inr",
    "hypothermia": "temperature",
}

#: unit label -> (family, factor to the family's SI unit, SI label)
_UNITS: Dict[str, Tuple[str, float, str]] = {
    "10^9/L": ("count", 1.0, "10^9/L"),
    "/mm3": ("count", 1e-3, "10^9/L"),
    "g/dL": ("hb", 10.0, "g/L"),
    "g/L": ("hb", 1.0, "g/L"),
    "mmol/L (Hb)": ("hb", 16.11, "g/L"),
    "mmol/L": ("electrolyte", 1.0, "mmol/L"),
    "mEq/L": ("electrolyte", 1.0, "mmol/L"),
    "s": ("time", 1.0, "s"),
    "ms": ("ms", 1.0, "ms"),
    "%": ("%", 1.0, "%"),
    "": ("", 1.0, ""),
    "U/L": ("enzyme", 1.0, "U/L"),
    "mg/dL": ("mass", 1.0, "mg/dL"),
    "umol/L": ("mass", 1.0, "umol/L"),
    "x ULN": ("ratio", 1.0, "x ULN"),
    "x baseline": ("ratio", 1.0, "x baseline"),
    "C": ("temp", 1.0, "C"),
    "F": ("temp", 1.0, "C"),
    "mmHg": ("pressure", 1.0, "mmHg"),
}

#: unit spellings -> canonical label (matched case-insensitively after squeezing spaces)
_UNIT_PATTERNS: Tuple[Tuple[str, str], ...] = (
    (r"(?:[x×*]\s*)?10\s*(?:\^|e|E|\*\*?|x)?\s*(?:9|⁹|\(9\))\s*(?:cells\s*)?/\s*l\b", "10^9/L"),
    (r"(?:[x×*]\s*)?10\s*(?:\^|e|E|\*\*?)?\s*(?:3|³|\(3\))\s*(?:cells\s*)?/\s*(?:µl|μl|ul|mcl|mm\s*(?:3|\^3|³))", "10^9/L"),
    (r"k\s*/\s*(?:µl|μl|ul|mcl)\b", "10^9/L"),
    (r"(?:cells\s*)?(?:/|per\s+)\s*(?:mm\s*(?:3|\^3|³)|cu\.?\s*mm|cumm|cmm|µl|μl|ul|mcl|microlit(?:er|re))", "/mm3"),
    (r"g\s*/\s*dl\b|g\s*%|g/100\s*ml", "g/dL"),
    (r"g\s*/\s*l\b", "g/L"),  # "G/L" (giga per litre) for counts: see _fit_unit
    (r"mmol\s*/\s*l\b|mm\b", "mmol/L"),
    (r"meq\s*/\s*l\b", "mEq/L"),
    (r"m(?:s|sec|secs|illiseconds?)\b", "ms"),
    (r"s(?:ec|ecs|econds?)?\b", "s"),
    (r"%", "%"),
    (r"(?:i\.?u\.?|u)\s*/\s*l\b", "U/L"),
    (r"mg\s*/\s*dl\b|mg\s*%", "mg/dL"),
    (r"(?:µ|μ|u|micro)mol\s*/\s*l\b", "umol/L"),
    (r"(?:x|×|times|-?\s*fold)\s*(?:the\s+)?(?:uln|upper\s+limit(?:s)?\s+of\s+(?:the\s+)?normal(?:\s+range)?|normal\s+upper\s+limit)", "x ULN"),
    (r"(?:x|×|times|-?\s*fold)\s*(?:the\s+|his\s+|her\s+|their\s+)?baseline", "x baseline"),
    (r"(?:°|º|˚|degrees?\s*|deg\.?\s*)\s*(?:c\b|celsius|centigrade)|c\b(?![a-z])", "C"),
    (r"(?:°|º|˚|degrees?\s*|deg\.?\s*)\s*(?:f\b|fahrenheit)|f\b(?![a-z])", "F"),
    (r"mm\s*hg\b", "mmHg"),
)
_UNIT_RE = re.compile("|".join(f"(?P<u{i}>{p})" for i, (p, _) in enumerate(_UNIT_PATTERNS)), re.I)

# Case-sensitive abbreviations (avoid "k", "t", "na", "bp" in running prose);
# names are case-insensitive. Longest first.
_ABBREV = ["ANC", "AGC", "PLT", "Plt", "WBC", "WCC", "ALC", "Hb", "HB", "Hgb", "HGB", "K\\+", "K", "Na\\+", "Na", "NA",
           "ALT", "SGPT", "AST", "SGOT", "ALP", "ALK PHOS", "Alk phos", "TBIL", "T bili", "SCr", "sCr", "BP", "T", "Temp",
           "GGTP", "GGT", "γ-GT", "CPK", "CK", "LDH", "aPTT", "APTT", "PTT", "Mg2\\+", "Mg\\+\\+", "Mg", "Ca2\\+", "Ca\\+\\+",
           "Ca", "Alb", "TG", "QTcF", "QTcB", "QTc", "LVEF", "EF", "INR"]
#: abbreviations that collide with other words or markers ("Ca 19-9", "T cell"):
#: only read with a unit written after the value
_UNIT_REQUIRED_ABBREV = frozenset({"T", "Ca", "Mg", "CK", "TG", "Alb", "EF"})
_NAMES = sorted((a for a in ANALYTE_ALIASES if len(a) > 4 or a in ("temp",)), key=len, reverse=True)
_NAMES = [n for n in _NAMES if not n.endswith(("decreased", "increased", "prolonged", " high")) and not re.match(
          r"^hyp[eo]r?\w*(?:emia|tension|thermia)$|^hypo\w*emia$|^anemia$|^leukocytosis$", n)]
_ANALYTE_RE = re.compile(
    r"(?<![\w+-])(?:(?i:" + "|".join(re.escape(n).replace("\\ ", r"[\s-]+") for n in _NAMES) + r")|"
    + "|".join(a.replace(" ", r"\s+") for a in _ABBREV) + r")(?![\w])",
)
# "fever"/"febrile"/"pyrexia" introduce a temperature ("fever of 39.5 C", "febrile to 40.2")
_FEVER_RE = re.compile(r"(?i)\b(?:fever|febrile|pyrexia|pyrexial|temperature|temp)\b")

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?![\d.,])|\d+(?:[.,]\d+)?(?!\d)|\.\d+"
_CMP = r"(?P<cmp><=|>=|≤|≥|<|>|below|above|under|over|less than|more than|greater than)?"
#: words allowed between an analyte and its value ("platelet count was 22,000/mm3")
_BRIDGE_WORDS = (
    r"count|counts|level|levels|value|values|concentration|was|were|is|are|of|at|to|a|an|the|nadir|peak|peaked|"
    r"dropped|drop|dropping|fell|fall|falling|decreased|decrease|declined|decline|rose|rise|rising|increased|increase|"
    r"elevated|elevation|raised|reached|reaching|measured|serum|plasma|blood|total|absolute|had|has|with|maximum|max|"
    r"min|minimum|lowest|highest|low|high|up|down|by|as|further|then|only|approximately|about|around|~|markedly|"
    r"significantly|persistently|recorded|noted|found|documented|be|been|being|its|her|his|their|value|result|"
    r"reading|readings|grade|on|day|d\d+|\d+|prolonged|prolongation|interval|corrected|fasting|random|resting"
)
_BRIDGE_RE = re.compile(r"^(?:[\s:=(,\[–-]|(?i:\b(?:" + _BRIDGE_WORDS + r")\b))*$")
_VALUE_RE = re.compile(
    r"(?P<pre>(?i:from\s+(?:" + _NUM + r")\s*\S*\s+to\s+))?" + _CMP + r"\s*(?P<num>" + _NUM + r")(?![.,]?\d)(?!\s*/\s*\d)(?!\s*(?i:years?|yrs?|days?|weeks?|months?|hours?|hrs?|mg\b(?!\s*(?:/\s*dl|%))|mcg|µg|ml\b|kg\b|patients?|times\s+(?:daily|a\s+day|per)))"
)
_BP_RE = re.compile(r"(?P<sys>\d{2,3})\s*/\s*(?P<dia>\d{2,3})(?:\s*(?P<unit>mm\s*hg))?", re.I)
_REF_RE = re.compile(
    r"(?i)\b(?:ULN|upper\s+limit\s+(?:of\s+)?normal|normal(?:\s+range)?|reference(?:\s+range)?|ref\.?(?:\s+range)?|N)"
    r"\s*(?:[:=]|is|was|of|<|≤|<=|up\s+to)?\s*(?P<a>\d+(?:\.\d+)?)(?:\s*(?:-|–|to)\s*(?P<b>\d+(?:\.\d+)?))?"
)
_BASELINE_RE = re.compile(r"(?i)\bbaseline\s*(?:[:=]|of|was|value)?\s*(?P<v>\d+(?:\.\d+)?)")
_DURATION_24H_RE = re.compile(
    r"(?i)(?:for|lasting|over|persist\w*\s+(?:for\s+)?)\s*(?:more\s+than\s+|over\s+|>\s*)?"
    r"(?:(?P<h>\d+)\s*(?:h\b|hrs?\b|hours?)|(?P<d>\d+|two|three|four|five|several)\s*days?)"
)
_SYMPTOMATIC_RE = re.compile(r"(?i)\b(?<!a)symptomatic\b")

#: plausible values when no unit is written: (unit to assume, low, high), in order
_UNITLESS: Dict[str, Tuple[Tuple[str, float, float], ...]] = {
    "anc": (("10^9/L", 0.0, 50.0), ("/mm3", 50.0, 50000.0)),
    "wbc": (("10^9/L", 0.0, 150.0), ("/mm3", 150.0, 500000.0)),
    "lymphocytes": (("10^9/L", 0.0, 50.0), ("/mm3", 50.0, 50000.0)),
    "platelets": (("10^9/L", 0.0, 1500.0), ("/mm3", 1500.0, 3000000.0)),
    "hemoglobin": (("g/dL", 2.0, 25.0), ("g/L", 25.0, 250.0)),
    "potassium": (("mmol/L", 1.0, 10.0),),
    "sodium": (("mmol/L", 95.0, 200.0),),
    "alt": (("U/L", 0.0, 100000.0),),
    "ast": (("U/L", 0.0, 100000.0),),
    "alp": (("U/L", 0.0, 100000.0),),
    "temperature": (("C", 34.0, 44.0), ("F", 93.0, 112.0)),
    "ggt": (("U/L", 0.0, 100000.0),),
    "cpk": (("U/L", 0.0, 1000000.0),),
    "lipase": (("U/L", 0.0, 100000.0),),
    "amylase": (("U/L", 0.0, 100000.0),),
    "ldh": (("U/L", 0.0, 100000.0),),
    "aptt": (("s", 15.0, 250.0),),
    "glucose": (("mmol/L", 0.5, 35.0), ("mg/dL", 35.0, 1500.0)),
    "magnesium": (("mmol/L", 0.1, 1.6), ("mg/dL", 1.6, 12.0)),
    "calcium": (("mmol/L", 0.8, 4.5), ("mg/dL", 4.5, 20.0)),
    "albumin": (("g/dL", 0.5, 7.0), ("g/L", 7.0, 70.0)),
    "cholesterol": (("mmol/L", 1.0, 30.0), ("mg/dL", 50.0, 1500.0)),
    "triglycerides": (("mmol/L", 0.1, 40.0), ("mg/dL", 40.0, 10000.0)),
    "qtc": (("ms", 300.0, 800.0),),
    "ef": (("%", 5.0, 90.0),),
    "inr": (("", 0.5, 20.0),),
}


def _canonical_unit(raw: str) -> Optional[str]:
    m = _UNIT_RE.fullmatch(raw.strip())
    if not m:
        return None
    for i, (_, label) in enumerate(_UNIT_PATTERNS):
        if m.group(f"u{i}") is not None:
            return label
    return None


def _resolve_analyte(name: str) -> str:
    key = re.sub(r"\s+", " ", name.strip().lower().replace("-", " "))
    key = key.replace("haem", "hem").replace("leuc", "leuk")
    if key in ANALYTES:
        return key
    if key in ANALYTE_ALIASES:
        return ANALYTE_ALIASES[key]
    for alias, analyte in ANALYTE_ALIASES.items():
        if alias.replace("-", " ") == key:
            return analyte
    raise ValueError(
        f"unknown analyte {name!r}: expected one of {sorted(ANALYTES)} or a name/abbreviation such as "
        "'ANC', 'platelets', 'Hb', 'ALT', 'K', 'Na', 'temperature', 'BP'"
    )


def _parse_number(text: str) -> float:
    t = re.sub(r"[ \u00a0\u202f\u2009]", "", text)
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", t):
        t = t.replace(",", "")
    else:
        t = t.replace(",", ".")  # decimal comma
    return float(t)


def _fmt(x: float) -> str:
    if x is None:
        return "?"
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}" if abs(x) >= 10000 else str(int(round(x)))
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _holds(value: float, op: str, threshold: float) -> bool:
    eps = 1e-9
    if op == "<":
        return value < threshold - eps
    if op == "<=":
        return value <= threshold + eps
    if op == ">":
        return value > threshold + eps
    if op == ">=":
        return value >= threshold - eps
    raise ValueError(op)


def _apply_rule(rule: Rule, value: float, reference: Optional[float]) -> Tuple[Optional[int], Optional[Tuple[str, float]]]:
    """Highest grade whose cut holds; the (op, threshold) that fired."""
    grade, fired = None, None
    for cut in rule.cuts:
        threshold = cut.threshold
        if threshold is None:
            if reference is None:
                continue
            threshold = reference
        if _holds(value, cut.op, threshold):
            if grade is None or cut.grade > grade:
                grade, fired = cut.grade, (cut.op, threshold)
    return grade, fired


# ==========================================================================
# grade_lab
# ==========================================================================


@dataclass
class _Graded:
    grade: Optional[int]
    term: str
    value_si: float
    unit_si: str
    detail: str


def _grade_value(
    analyte: str,
    value: float,
    unit: str,
    *,
    uln: Optional[float] = None,
    lln: Optional[float] = None,
    baseline: Optional[float] = None,
    symptomatic: bool = False,
    duration_hours: Optional[float] = None,
    diastolic: Optional[float] = None,
    ref_stated: bool = False,
) -> _Graded:
    family, factor, unit_si = _UNITS[unit]
    if family not in ANALYTES[analyte][1] and unit not in ANALYTES[analyte][1]:
        raise ValueError(f"unit {unit!r} does not fit analyte {analyte!r} (allowed: {ANALYTES[analyte][1]})")
    ref_note = "stated" if ref_stated else "assumed adult default"

    if analyte in _DIRECT:
        return _grade_direct(analyte, value, unit, lln=lln, uln=uln, baseline=baseline, ref_note=ref_note)

    if analyte in ("anc", "wbc", "lymphocytes", "platelets"):
        si = value * factor
        default_lln, default_uln = REFERENCE_RANGES[analyte]["10^9/L"]
        low = lln * factor if (lln is not None) else default_lln
        high = uln * factor if (uln is not None) else default_uln
        if si < low - 1e-9:
            rule = LAB_RULES[analyte]
            grade, fired = _apply_rule(rule, si, low)
        elif analyte in ("wbc", "lymphocytes") and si > high + 1e-9:
            rule = LAB_RULES[f"{analyte}_high"]
            grade, fired = _apply_rule(rule, si, high)
        else:
            rule, grade, fired = LAB_RULES[analyte], None, None
        detail = _detail(value, unit, si, unit_si, fired, rule, grade, low if rule.direction == "low" else high, ref_note)
        return _Graded(grade, rule.term, round(si, 6), unit_si, detail)

    if analyte == "hemoglobin":
        native = "mmol/L" if unit == "mmol/L (Hb)" else unit
        rule = LAB_RULES[f"hemoglobin:{native}"]
        low = lln if lln is not None else REFERENCE_RANGES["hemoglobin"][native][0]
        grade, fired = _apply_rule(rule, value, low)
        si = value * factor
        return _Graded(grade, rule.term, round(si, 4), unit_si, _detail(value, native, si, unit_si, fired, rule, grade, low, ref_note))

    if analyte in ("potassium", "sodium"):
        default_lln, default_uln = REFERENCE_RANGES[analyte]["mmol/L"]
        low = lln if lln is not None else default_lln
        high = uln if uln is not None else default_uln
        if value > high + 1e-9:
            rule = LAB_RULES[f"{analyte}_high"]
            grade, fired = _apply_rule(rule, value, high)
            ref = high
        elif value < low - 1e-9:
            rule = LAB_RULES[f"{analyte}_low"]
            grade, fired = _apply_rule(rule, value, low)
            ref = low
            if symptomatic and analyte == "sodium" and grade == 2:
                grade = _HYPONATREMIA_SYMPTOMATIC_GRADE
                fired = ("symptomatic 125-129", 125.0)
            if symptomatic and analyte == "potassium" and grade == 1:
                grade = _HYPOKALEMIA_SYMPTOMATIC_GRADE
                fired = ("symptomatic <LLN - 3.0", 3.0)
        else:
            rule = LAB_RULES[f"{analyte}_high"] if value >= (low + high) / 2 else LAB_RULES[f"{analyte}_low"]
            grade, fired, ref = None, None, (high if rule.direction == "high" else low)
        return _Graded(grade, rule.term, value, "mmol/L", _detail(value, unit, value, "mmol/L", fired, rule, grade, ref, ref_note))

    if analyte == "temperature":
        rule = LAB_RULES[f"temperature:{unit}"]
        grade, fired = _apply_rule(rule, value, None)
        cold = LAB_RULES[f"temperature_low:{unit}"]
        g_cold, f_cold = _apply_rule(cold, value, None)
        if g_cold is not None:
            rule, grade, fired = cold, g_cold, f_cold
        si = value if unit == "C" else (value - 32.0) * 5.0 / 9.0
        detail = _detail(value, unit, si, "C", fired, rule, grade, None, ref_note)
        if grade == 3 and duration_hours is not None and duration_hours > 24:
            grade = 4
            detail += f"; lasted {_fmt(duration_hours)} h > 24 h (CTCAE Fever grade 4)"
        return _Graded(grade, rule.term, round(si, 2), "C", detail)

    if analyte == "bp":
        g_sys, f_sys = _apply_rule(LAB_RULES["bp_systolic"], value, None)
        parts, grade = [], None
        if g_sys is not None:
            parts.append(f"systolic {_fmt(value)} {f_sys[0]} {_fmt(f_sys[1])} mmHg (grade {g_sys})")
            grade = g_sys
        if diastolic is not None:
            g_dia, f_dia = _apply_rule(LAB_RULES["bp_diastolic"], diastolic, None)
            if g_dia is not None:
                parts.append(f"diastolic {_fmt(diastolic)} {f_dia[0]} {_fmt(f_dia[1])} mmHg (grade {g_dia})")
                grade = max(grade or 0, g_dia)
        shown = f"{_fmt(value)}/{_fmt(diastolic)}" if diastolic is not None else _fmt(value)
        if grade is None:
            detail = f"BP {shown} mmHg is below the CTCAE adult hypertension thresholds (120/80)"
        else:
            detail = f"BP {shown} mmHg: " + ", ".join(parts) + f" (CTCAE Hypertension grade {grade}, adult criteria)"
        return _Graded(grade, "Hypertension", value, "mmHg", detail)

    # liver tests, creatinine, enzymes, aPTT: multiples of ULN / of an abnormal baseline
    base_unit = unit
    if unit == "x baseline" and f"{analyte}:baseline" not in LAB_RULES:
        raise ValueError(f"CTCAE grades {analyte!r} by multiples of the ULN, not of baseline")
    if unit == "x ULN":
        ratio, how = value, f"{_fmt(value)} x ULN"
    elif unit == "x baseline":
        ratio, how = None, None
    else:
        default_uln = REFERENCE_RANGES[analyte][unit][1]
        ref = uln if uln is not None else default_uln
        ratio = value / ref
        how = f"{_fmt(value)} {base_unit} / ULN {_fmt(ref)} {base_unit} ({ref_note}) = {_fmt(round(ratio, 2))} x ULN"
    rule = LAB_RULES[analyte]
    grade, fired = (None, None)
    detail_parts = []
    if ratio is not None:
        grade, fired = _apply_rule(rule, ratio, None)
        if symptomatic and f"{analyte}:symptomatic" in LAB_RULES:
            g_s, f_s = _apply_rule(LAB_RULES[f"{analyte}:symptomatic"], ratio, None)
            if g_s is not None and (grade is None or g_s > grade):
                grade, fired = g_s, (f_s[0], f_s[1], " with signs or symptoms")
        if fired:
            detail_parts.append(f"{how} {fired[0]} {_fmt(fired[1])} x ULN{fired[2] if len(fired) > 2 else ''} (grade {grade})")
        else:
            detail_parts.append(f"{how} is not above the ULN")
    b_ratio = None
    if unit == "x baseline":
        b_ratio = value
    elif baseline is not None and unit != "x ULN" and f"{analyte}:baseline" in LAB_RULES:
        ref = uln if uln is not None else REFERENCE_RANGES[analyte][unit][1]
        abnormal = baseline > ref
        if analyte == "creatinine" or abnormal:
            b_ratio = value / baseline
    if b_ratio is not None:
        b_rule = LAB_RULES[f"{analyte}:baseline"]
        g_b, f_b = _apply_rule(b_rule, b_ratio, None)
        if f_b:
            detail_parts.append(f"{_fmt(round(b_ratio, 2))} x baseline {f_b[0]} {_fmt(f_b[1])} x baseline (grade {g_b})")
        if analyte == "creatinine" or unit == "x baseline":
            if g_b is not None and (grade is None or g_b > grade):
                grade = g_b
        else:  # abnormal baseline: CTCAE uses the baseline multiples instead of the ULN ones
            grade = g_b
    si_value = ratio if ratio is not None else b_ratio
    si_unit = "x ULN" if ratio is not None else "x baseline"
    detail = f"{ANALYTES[analyte][0]} " + "; ".join(detail_parts)
    if grade is not None:
        detail += f" (CTCAE {rule.term} grade {grade})"
    return _Graded(grade, rule.term, round(si_value, 4), si_unit, detail)


def _grade_direct(analyte: str, value: float, unit: str, *, lln, uln, baseline, ref_note) -> _Graded:
    """Analytes with direct CTCAE thresholds per unit (glucose, Mg, Ca, albumin,
    cholesterol, triglycerides, QTc, ejection fraction, INR)."""
    native, prefix = unit, ""
    if unit == "mEq/L":
        prefix = f"{_fmt(value)} mEq/L = "
        value, native = value * _MEQ_FACTOR.get(analyte, 1.0), "mmol/L"
    ranges = REFERENCE_RANGES.get(analyte, {}).get(native, (None, None))
    low = lln if lln is not None else ranges[0]
    high = uln if uln is not None else ranges[1]
    sides = _DIRECT[analyte]
    rule = grade = fired = ref = None
    if "low" in sides:
        cand = LAB_RULES[f"{analyte}_low:{native}"]
        g, f = _apply_rule(cand, value, low)
        if g is not None:
            rule, grade, fired, ref = cand, g, f, low
    if grade is None and "high" in sides:
        cand = LAB_RULES[f"{analyte}_high:{native}"]
        g, f = _apply_rule(cand, value, high)
        if g is not None:
            rule, grade, fired, ref = cand, g, f, high
    extra = ""
    if analyte == "ef" and baseline is not None and baseline > value:
        drop = baseline - value
        g_drop = 3 if drop >= 20 else (2 if drop >= 10 else None)
        if g_drop is not None and (grade is None or g_drop > grade):
            rule = LAB_RULES["ef_low:%"]
            grade, fired = g_drop, None
            extra = f"; drop of {_fmt(drop)} points from baseline {_fmt(baseline)}% ({'>=20' if g_drop == 3 else '10-19'}% drop: grade {g_drop})"
    if rule is None:
        key = f"{analyte}_{sides[0]}:{native}"
        rule = LAB_RULES[key]
        ref = low if rule.direction == "low" else high
        other = _DIRECT_OTHER_SIDE.get(analyte)
        if other and high is not None and value > high:
            detail = f"{_show(value, native)}: CTCAE v5.0 grades {other} by the intervention needed, not by the value"
            return _Graded(None, other, value, native, detail)
    if fired is None and grade is not None:
        detail = f"{_show(value, native)}{extra} (CTCAE {rule.term} grade {grade})"
    else:
        detail = _detail(value, native, value, native, fired, rule, grade, ref, ref_note) + extra
    return _Graded(grade, rule.term, round(value, 6), native, prefix + detail)


def _show(value: float, unit: str) -> str:
    if unit == "%":
        return f"{_fmt(value)}%"
    if unit == "":
        return _fmt(value)
    if unit == "/mm3":
        return f"{_fmt(value)}/mm3"
    if unit == "10^9/L":
        return f"{_fmt(value)} x10^9/L"
    return f"{_fmt(value)} {unit}"


def _detail(value, unit, si, unit_si, fired, rule, grade, reference, ref_note) -> str:
    shown = _show(value, unit)
    if unit != unit_si and unit not in ("C", "F"):
        shown += f" = {_show(round(si, 4), unit_si)}"
    if unit == "F":
        shown += f" = {_fmt(round(si, 2))} C"
    if grade is None or fired is None:
        if reference is not None:
            side = "LLN" if rule.direction == "low" else "ULN"
            return f"{shown} is within the reference range ({side} {_fmt(reference)}, {ref_note})"
        return f"{shown} meets no CTCAE {rule.term} grade"
    op, threshold = fired
    if isinstance(op, str) and op.startswith("symptomatic"):
        return f"{shown}, {op} mmol/L (CTCAE {rule.term} grade {grade})"
    is_ref = rule.reference is not None and not any(c.threshold == threshold for c in rule.cuts if c.threshold is not None)
    if is_ref and reference is not None and abs(threshold - reference) < 1e-9:
        side = rule.reference
        return f"{shown} {op} {side} {_show(threshold, rule.unit)} ({ref_note}) (CTCAE {rule.term} grade {grade})"
    return f"{shown} {op} {_show(threshold, rule.unit)} (CTCAE {rule.term} grade {grade})"


def grade_lab(
    analyte_or_term: str,
    value: float,
    unit: str,
    *,
    uln: Optional[float] = None,
    lln: Optional[float] = None,
    baseline: Optional[float] = None,
    symptomatic: bool = False,
    duration_hours: Optional[float] = None,
    diastolic: Optional[float] = None,
) -> Optional[GradeFinding]:
    """Grade one lab value against the CTCAE v5.0 thresholds.

    analyte_or_term: an analyte name or abbreviation ("ANC", "platelets", "Hb",
        "ALT", "K", "Na", "temperature", "BP") or a CTCAE term ("Platelet count
        decreased", "Hyperkalemia").
    unit: any spelling :func:`find_lab_values` understands ("x10^9/L", "/mm3",
        "g/dL", "mEq/L", "°F", "x ULN", "times the upper limit of normal", ...).
    uln / lln: stated reference limits (in ``unit``; for "x ULN" units not needed);
        REFERENCE_RANGES defaults otherwise. baseline: a baseline value in ``unit``
        (used for liver tests when above the ULN, and for creatinine).
    symptomatic: hyponatremia 125-129 -> grade 3, hypokalemia 3.0-LLN -> grade 2.
    duration_hours: fever > 40.0 C for more than 24 h -> grade 4.
    diastolic: for "BP", ``value`` is the systolic pressure.
    Returns None when the value is within the reference range;
    ValueError for an unknown analyte or a unit that does not fit it.
    """
    analyte = _resolve_analyte(analyte_or_term)
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"lab value must be a number, got {value!r}")
    canon = _canonical_unit(unit) if unit else ""
    if canon is None or (canon == "" and "" not in ANALYTES[analyte][1]):
        raise ValueError(f"unknown unit {unit!r} for {analyte_or_term!r}")
    canon = _fit_unit(analyte, canon)
    graded = _grade_value(
        analyte, float(value), canon, uln=uln, lln=lln, baseline=baseline, symptomatic=symptomatic,
        duration_hours=duration_hours, diastolic=diastolic, ref_stated=(uln is not None or lln is not None),
    )
    if graded.grade is None:
        return None
    return GradeFinding(graded.grade, "lab", f"lab: {graded.detail}", 0, 0, graded.term)


def _fit_unit(analyte: str, canon: str) -> str:
    if analyte == "hemoglobin" and canon == "mmol/L":
        return "mmol/L (Hb)"
    if analyte in ("anc", "wbc", "lymphocytes", "platelets") and canon == "g/L":
        return "10^9/L"  # G/L = giga-cells per litre
    return canon


# ==========================================================================
# find_lab_values
# ==========================================================================


def find_lab_values(text: str) -> List[LabFinding]:
    """Every analyte + value (+ unit) in ``text``, graded.

    Finds "ANC 0.4 x 10^9/L", "platelet count was 22,000/mm3", "Hb 7.9 g/dL",
    "ALT 250 U/L (ULN 40)", "ALT 5.2 x ULN", "bilirubin 3 times the upper limit
    of normal", "K+ 6.1 mEq/L", "sodium 118", "temperature 39.5 °C", "fever of
    103 F", "BP 165/100 mmHg". A value without a unit is read in the unit its
    magnitude implies (ANC 400 -> /mm3, ANC 0.4 -> 10^9/L; the evidence says
    "unit not stated"); percentages, doses and durations are skipped. "from A
    to B" takes B. Findings are in text order, one per value.
    """
    if not isinstance(text, str):
        raise TypeError(f"find_lab_values expects a str, got {type(text).__name__}")
    findings: List[LabFinding] = []
    taken: List[Tuple[int, int]] = []
    for m in _ANALYTE_RE.finditer(text):
        name = m.group(0)
        try:
            analyte = _resolve_analyte(name)
        except ValueError:
            continue
        before = text[max(0, m.start() - 12) : m.start()].lower()
        if analyte == "bilirubin" and re.search(r"(?:direct|indirect|conjugated|unconjugated)\W*$", before):
            continue
        if analyte == "potassium" and re.search(r"vitamin\W*$", before):
            continue
        if analyte == "creatinine" and re.match(r"\s*(?:clearance|kinase)", text[m.end() :], re.I):
            continue
        if analyte in ("anc", "wbc", "lymphocytes", "platelets") and re.match(r"\s*(?:transfusion|infusion)", text[m.end():], re.I):
            continue
        if analyte == "calcium" and re.search(r"(?:ioni[sz]ed|free|urin\w*)\W*$", before):
            continue  # ionised calcium has its own thresholds; urinary calcium is not graded
        if analyte == "cholesterol" and re.search(r"(?:hdl|ldl|vldl|non-hdl)[\s-]*$", before):
            continue
        if analyte == "albumin" and re.search(r"(?:urin\w*|micro)\W*$", before):
            continue
        if analyte == "glucose" and re.search(r"(?:urin\w*|csf)\W*$", before):
            continue
        if analyte == "cpk" and re.match(r"\s*-?\s*MB", text[m.end() :]):
            continue
        finding = _value_after(text, m, analyte, require_unit=name in _UNIT_REQUIRED_ABBREV)
        if finding is None:
            continue
        if any(finding.start_char < e and s < finding.end_char for s, e in taken):
            continue
        taken.append((finding.start_char, finding.end_char))
        findings.append(finding)
    # "fever of 39.5 °C" / "febrile to 40.2": fever words introduce temperatures
    for m in _FEVER_RE.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        finding = _value_after(text, m, "temperature", require_unit=m.group(0).lower() not in ("temperature", "temp"))
        if finding is None or any(finding.start_char < e and s < finding.end_char for s, e in taken):
            continue
        taken.append((finding.start_char, finding.end_char))
        findings.append(finding)
    findings.sort(key=lambda f: f.start_char)
    return findings


def _value_after(text: str, m: re.Match, analyte: str, require_unit: bool = False) -> Optional[LabFinding]:
    window_end = min(len(text), m.end() + 60)
    rest = text[m.end() : window_end]
    # stop at a sentence/clause boundary
    stop = re.search(r"[;.](?:\s|$)|\band\b(?=\s+(?:the\s+)?[A-Za-z]{2,}\s)", rest)
    if analyte == "bp":
        bp = _BP_RE.search(rest)
        if bp is None or not _BRIDGE_RE.match(rest[: bp.start()]):
            return None
        systolic, diastolic = float(bp.group("sys")), float(bp.group("dia"))
        if not (60 <= systolic <= 300 and 30 <= diastolic <= 200):
            return None
        start, end = m.start(), m.end() + bp.end()
        graded = _grade_value("bp", systolic, "mmHg", diastolic=diastolic)
        return _lab_finding("bp", graded, systolic, "mmHg", start, end, text, "")
    for vm in _VALUE_RE.finditer(rest):
        if stop is not None and vm.start() > stop.start():
            return None
        if not _BRIDGE_RE.match(rest[: vm.start()]):
            return None
        if analyte != "ef" and re.match(r"\s*%", rest[vm.end() :]):
            return None  # a percentage (differential count, change), not a value
        # a number glued to letters ("CD4") or part of a date is not a value
        if vm.start("num") > 0 and rest[vm.start("num") - 1].isalpha():
            return None
        value = _parse_number(vm.group("num"))
        after = rest[vm.end() :]
        um = re.match(r"\s*", after)
        unit_match = None
        for cand in _UNIT_RE.finditer(after[um.end() : um.end() + 50]):
            if cand.start() == 0:
                unit_match = cand
            break
        unit = None
        if unit_match is not None:
            unit = _canonical_unit(unit_match.group(0))
            if unit is not None:
                unit = _fit_unit(analyte, unit)
                if _UNITS[unit][0] not in ANALYTES[analyte][1] and unit not in ANALYTES[analyte][1]:
                    return None
        note = ""
        if unit is None:
            if require_unit:
                return None
            unit = _infer_unit(analyte, value)
            if unit is None:
                return None
            note = f"unit not stated; {unit} assumed from the magnitude" if unit else ""
        cmp_ = (vm.group("cmp") or "").lower()
        graded_value = value
        if cmp_ in ("<", "≤", "<=", "below", "under", "less than"):
            graded_value = value - (1e-6 if cmp_ in ("<", "below", "under", "less than") else 0)
        elif cmp_ in (">", "≥", ">=", "above", "over", "more than", "greater than"):
            graded_value = value + (1e-6 if cmp_ in (">", "above", "over", "more than", "greater than") else 0)
        end_rel = vm.end() + (um.end() + unit_match.end() if unit_match is not None else 0)
        start, end = m.start(), m.end() + end_rel
        tail = text[end : min(len(text), end + 80)]
        uln = lln = baseline = None
        ref_stated = False
        if unit not in ("x ULN", "x baseline"):
            ref = _REF_RE.search(tail)
            if ref is not None and not _VALUE_RE.search(tail[: ref.start()]) and ref.start() < 40:
                a, b = float(ref.group("a")), ref.group("b")
                high_side = analyte not in ("anc", "wbc", "lymphocytes", "platelets", "hemoglobin")
                if b is not None:
                    lln, uln = a, float(b)
                elif re.match(r"(?i)\s*\(?\s*(?:LLN|lower)", tail):
                    lln = a
                elif high_side:
                    uln = a
                else:
                    lln = a
                ref_stated = True
                end = end + ref.end()
                unit_tail = _UNIT_RE.match(text[end:].lstrip()) if text[end:end + 1] == " " else None
                if unit_tail is not None:
                    end += len(text[end:]) - len(text[end:].lstrip()) + unit_tail.end()
            bl = _BASELINE_RE.search(tail)
            if bl is not None and bl.start() < 50:
                baseline = float(bl.group("v"))
        quoted = text[start:end]
        if quoted.count("(") > quoted.count(")") and text[end:].lstrip(" ").startswith(")"):
            end = end + (len(text[end:]) - len(text[end:].lstrip(" "))) + 1  # close "(7.2 x ULN)"
        context = text[max(0, m.start() - 80) : min(len(text), end + 80)]
        symptomatic = bool(_SYMPTOMATIC_RE.search(context)) if analyte in ("sodium", "potassium", "lipase", "amylase") else False
        duration = None
        if analyte == "temperature":
            dm = _DURATION_24H_RE.search(text[end : min(len(text), end + 60)])
            if dm is not None:
                if dm.group("h"):
                    duration = float(dm.group("h"))
                else:
                    words = {"two": 2, "three": 3, "four": 4, "five": 5, "several": 2}
                    d = dm.group("d").lower()
                    duration = 24.0 * (float(d) if d.isdigit() else words[d])
        try:
            graded = _grade_value(
                analyte, graded_value, unit, uln=uln, lln=lln, baseline=baseline, symptomatic=symptomatic,
                duration_hours=duration, ref_stated=ref_stated,
            )
        except (ValueError, KeyError, ZeroDivisionError):
            return None
        if cmp_:
            # "<X" / ">X" is a bound: keep only the grade every value beyond it has
            below = graded_value < value or cmp_ in ("≤", "<=")
            extreme = value * (1e-3 if below else 1e3)
            try:
                far = _grade_value(
                    analyte, extreme, unit, uln=uln, lln=lln, baseline=baseline, symptomatic=symptomatic,
                    duration_hours=duration, ref_stated=ref_stated,
                )
            except (ValueError, KeyError, ZeroDivisionError):
                far = None
            note = (note + "; " if note else "") + f"value stated as '{vm.group('cmp')}{vm.group('num')}'"
            stated = f"{vm.group('cmp').strip()}{_fmt(value)}"
            if graded.grade is not None and (far is None or far.term != graded.term or far.grade is None):
                detail = f"{stated} {'' if unit in ('', '%') else unit + ' '}includes values without a CTCAE {graded.term} grade: not graded"
                graded = _Graded(None, graded.term, graded.value_si, graded.unit_si, detail.replace("  ", " "))
            elif graded.grade is not None:
                graded.detail = graded.detail.replace(_fmt(value), stated, 1)
                note += f", graded as just {'below' if below else 'above'} {vm.group('num')}"
        return _lab_finding(analyte, graded, value, unit, start, end, text, note)
    return None


def _infer_unit(analyte: str, value: float) -> Optional[str]:
    for unit, low, high in _UNITLESS.get(analyte, ()):
        if low <= value < high:
            return unit
    return None


def _lab_finding(analyte, graded: _Graded, value, unit, start, end, text, note) -> LabFinding:
    quoted = text[start:end]
    shown_unit = "mmol/L" if unit == "mmol/L (Hb)" else unit
    evidence = f"lab: '{quoted}': {graded.detail}"
    if note:
        evidence += f" [{note}]"
    finding = GradeFinding(graded.grade, "lab", evidence, start, end, graded.term) if graded.grade is not None else None
    return LabFinding(
        analyte=analyte, ctcae_term=graded.term, value=value, unit=shown_unit, value_si=graded.value_si,
        unit_si=graded.unit_si, grade=graded.grade, start_char=start, end_char=end, text=quoted,
        evidence=evidence, finding=finding,
    )


# ==========================================================================
# Explicit grades
# ==========================================================================

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
_G = r"(?:[1-5]|IV|V|I{1,3})"
_EXPLICIT_RE = re.compile(
    r"(?P<prefix>\b(?:CTCAE|NCI[\s-]*CTC(?:AE)?|CTC)\s*(?:v(?:ersion)?\.?\s*\d(?:\.\d+)*\s*)?)?"
    r"\b(?P<word>(?i:grades?|gr\.?))\s*(?:(?i:of)\s*)?"
    r"(?P<cmp>≥|>=|>|(?i:at\s+least)\s+)?\s*(?P<g1>" + _G + r")(?![\w.]\d)"
    r"(?:\s*(?:/|-|–|(?i:to|or|and))\s*(?P<g2>" + _G + r")\b)?"
    r"(?P<plus>\s*\+|\s+(?i:or\s+(?:higher|greater|above|more|worse)))?(?!\w)"
    r"|\b(?P<gshort>G(?P<gs>[1-5]))\b(?![-/]?\w)"
)
_TUMOUR_BEFORE = re.compile(
    r"(?i)(?:tumou?r|histolog\w*|gleason|who|nuclear|fuhrman|isup|figo|differentiat\w*|fnclcc|nottingham|bloom|"
    r"elston|pathologic\w*|low|high|intermediate|histo)\W*$"
)
_TUMOUR_AFTER = re.compile(
    r"(?i)^\W{0,3}(?:\w+\W+)?(?:glioma|astrocytoma|oligodendroglioma|ependymoma|meningioma|lymphoma|carcinoma|"
    r"adenocarcinoma|sarcoma|tumou?rs?|cancer|neoplasms?|dysplasia|cin|follicular|differentiat\w*|gliomas|disease\s+of\s+the\s+prostate)\b"
)


_GSHORT_BEFORE = re.compile(
    r"(?i)(?:carboxypeptidase|glucarpidase|protein|prostaglandin|cyclin|immunoglobulin|gravida|phase|cycle|type|"
    r"strain|clone|group|generation|gen|receptor|subunit|factor|antigen|series|stage)\W*$"
)
_GSHORT_AFTER = re.compile(r"(?i)\s*(?:phase|/\s*[MS]\b|-?phase|arrest|checkpoint|cells?\b|strain|protein)")


def _roman(g: str) -> int:
    return int(g) if g.isdigit() else _ROMAN[g.upper()]


def find_explicit_grades(text: str) -> List[GradeFinding]:
    """Stated CTCAE grades, in text order.

    "grade 3", "Grade III", "G3", "Gr. 3", "CTCAE grade 2", "grade 3/4" and
    "grade 2-3" (worst of the range), "grade >= 3" / "grade 3 or higher"
    (the minimum stated). Tumour grades are skipped (see the module docstring).
    """
    if not isinstance(text, str):
        raise TypeError(f"find_explicit_grades expects a str, got {type(text).__name__}")
    out: List[GradeFinding] = []
    for m in _EXPLICIT_RE.finditer(text):
        before = text[max(0, m.start() - 25) : m.start()]
        after = text[m.end() : m.end() + 40]
        if _TUMOUR_BEFORE.search(before) or _TUMOUR_AFTER.search(after):
            continue
        quoted = m.group(0).strip()
        if m.group("gshort") and (_GSHORT_BEFORE.search(before) or _GSHORT_AFTER.match(after)):
            continue  # "carboxypeptidase G2", "G1 phase", "G2/M arrest"
        if m.group("gshort"):
            grade = int(m.group("gs"))
            out.append(GradeFinding(grade, "explicit", f"explicit: '{quoted}' (grade {grade})", m.start(), m.end()))
            continue
        g1 = _roman(m.group("g1"))
        if m.group("g1").isalpha() and m.group("g1") != m.group("g1").upper():
            continue  # "grade i..." in lower case is prose, not a roman numeral
        if m.group("g2"):
            g2 = _roman(m.group("g2"))
            if not g1 < g2:
                continue
            grade = g2
            evidence = f"explicit: '{quoted}' (range {g1}-{g2}: the worst stated grade, {g2}, is taken)"
        elif m.group("cmp") or m.group("plus"):
            grade = g1
            evidence = f"explicit: '{quoted}' (at least grade {g1}: the stated minimum is taken)"
        else:
            grade = g1
            evidence = f"explicit: '{quoted}' (grade {grade})"
        out.append(GradeFinding(grade, "explicit", evidence, m.start(), m.end()))
    return out


# ==========================================================================
# Outcome and severity words
# ==========================================================================

_DEATH_RE = re.compile(
    r"(?i)\b(?P<w>died|dies|dying|death|deaths|fatal|fatally|fatality|fatalities|fatal\s+outcome|deceased|"
    r"passed\s+away|lethal|succumbed|grade\s+5|grade\s+V\b)(?!\w)"
)
_NEAR_FATAL_RE = re.compile(r"(?i)\bnear[\s-]+(?:fatal|death|lethal)\b")
_LIFE_RE = re.compile(r"(?i)\blife[\s-]+threatening\b|\bthreatened\s+(?:her|his|their|the\s+patient'?s)\s+life\b")
_OUTCOME_HEDGES = re.compile(
    r"(?i)(?:\bnon|\bnot|\bno|\bwithout|\bpotentially|\bpossibly|\bmay\s+be|\bcould\s+be|\bcan\s+be|\brisk\s+of|"
    r"\bnear|\bcell|\bprevent\w*|\bavoid\w*|\bbrain|\bsudden\s+infant)[\s-]*(?:\w+[\s-]+)?$"
)


def find_outcome_grade(text: str) -> Optional[GradeFinding]:
    """Death words -> grade 5, life-threatening / near-fatal -> grade 4 (the highest found).

    Negated or hedged forms are ignored: "non-fatal", "no deaths", "not
    life-threatening", "without life-threatening", "potentially fatal",
    "potentially life-threatening", "risk of death", "cell death".
    """
    if not isinstance(text, str):
        raise TypeError(f"find_outcome_grade expects a str, got {type(text).__name__}")
    best: Optional[GradeFinding] = None
    near_spans = [(m.start(), m.end()) for m in _NEAR_FATAL_RE.finditer(text)]
    for m in _DEATH_RE.finditer(text):
        if any(s <= m.start() < e for s, e in near_spans):
            continue
        if _OUTCOME_HEDGES.search(text[max(0, m.start() - 30) : m.start()]):
            continue
        return GradeFinding(5, "outcome", f"outcome: '{m.group(0)}' (death -> CTCAE grade 5)", m.start(), m.end())
    for s, e in near_spans:
        best = GradeFinding(4, "outcome", f"outcome: '{text[s:e]}' (near-fatal -> life-threatening, CTCAE grade 4)", s, e)
        break
    if best is None:
        for m in _LIFE_RE.finditer(text):
            if _OUTCOME_HEDGES.search(text[max(0, m.start() - 30) : m.start()]):
                continue
            best = GradeFinding(4, "outcome", f"outcome: '{m.group(0)}' (life-threatening -> CTCAE grade 4)", m.start(), m.end())
            break
    return best


_SEVERITY_WORDS = {
    "mild": 1, "mildly": 1, "slight": 1, "slightly": 1, "minor": 1, "minimal": 1,
    "moderate": 2, "moderately": 2,
    "severe": 3, "severely": 3,
}
_SEVERITY_RE = re.compile(
    r"(?i)\b(?P<a>" + "|".join(_SEVERITY_WORDS) + r")(?:[\s-]+(?:to|or|and)[\s-]+(?P<b>" + "|".join(_SEVERITY_WORDS) + r"))?\b"
)
_SEVERITY_NEG = re.compile(r"(?i)(?:\bnot|\bnon|\bless|\bno|\bwithout|\bnever|\bneither|\bnor)[\s-]*(?:very\s+|particularly\s+|so\s+)?$")


def find_severity_grade(text: str) -> Optional[GradeFinding]:
    """mild -> 1, moderate -> 2, severe -> 3 (the highest found; ranges take the worst).

    Not mapped: "marked", "profound", "massive", "significant" (ambiguous),
    "serious" (that is seriousness, not severity). Negated forms are ignored.
    """
    if not isinstance(text, str):
        raise TypeError(f"find_severity_grade expects a str, got {type(text).__name__}")
    best: Optional[GradeFinding] = None
    for m in _SEVERITY_RE.finditer(text):
        if _SEVERITY_NEG.search(text[max(0, m.start() - 25) : m.start()]):
            continue
        grade = _SEVERITY_WORDS[m.group("a").lower()]
        if m.group("b"):
            grade = max(grade, _SEVERITY_WORDS[m.group("b").lower()])
        if best is None or grade > best.grade:
            word = m.group(0)
            best = GradeFinding(grade, "severity", f"severity: '{word}' -> CTCAE grade {grade} (severity word; used only without explicit, lab or outcome evidence)", m.start(), m.end())
    return best


# ==========================================================================
# Precedence
# ==========================================================================


def choose_grade(findings: Sequence[GradeFinding]) -> Optional[GradeFinding]:
    """The grade to report from all findings for one AE.

    1. A grade-5 outcome (death) wins: an AE that led to death is grade 5.
    2. Explicit grades next (the highest stated).
    3. Lab and outcome findings: the highest of them (both are CTCAE criteria;
       CTCAE assigns the highest grade whose criteria are met).
    4. Severity words only when nothing else is present.
    None when ``findings`` is empty.
    """
    findings = [f for f in findings if f is not None]
    for f in findings:
        if f.basis not in PRECEDENCE:
            raise ValueError(f"unknown grade basis {f.basis!r}; expected one of {PRECEDENCE}")
    deaths = [f for f in findings if f.basis == "outcome" and f.grade == 5]
    if deaths:
        return deaths[0]
    explicit = [f for f in findings if f.basis == "explicit"]
    if explicit:
        return max(explicit, key=lambda f: f.grade)
    objective = [f for f in findings if f.basis in ("lab", "outcome")]
    if objective:
        # ties: the lab finding (it carries the term and the number)
        return max(objective, key=lambda f: (f.grade, f.basis == "lab"))
    severity = [f for f in findings if f.basis == "severity"]
    if severity:
        return max(severity, key=lambda f: f.grade)
    return None
