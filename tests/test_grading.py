"""Tests for ct_safety_nlp.grading: every CTCAE threshold on both sides, unit
variants, analyte names, explicit / outcome / severity words and precedence."""

import json
import pickle
import re

import pytest

from ct_safety_nlp.grading import (
    PRECEDENCE,
    GradeFinding,
    LabFinding,
    choose_grade,
    find_explicit_grades,
    find_lab_values,
    find_outcome_grade,
    find_severity_grade,
    default_lab_rules,
    grade_lab,
)

LAB_RULES = default_lab_rules().rules
REFERENCE_RANGES = default_lab_rules().reference_ranges


def _grade(analyte, value, unit, **kw):
    f = grade_lab(analyte, value, unit, **kw)
    return None if f is None else f.grade


# --------------------------------------------------------------------------
# thresholds agree with the workbook
# --------------------------------------------------------------------------

_UNIT_FACTOR = {"10^9/L": 1.0, "/mm3": 1000.0}


def _norm(text):
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def test_every_threshold_is_in_the_workbook(ctcae_xlsx_path):
    from ct_safety_nlp.kb import read_ctcae_workbook

    terms = {r["term"]: r for r in read_ctcae_workbook(ctcae_xlsx_path)["terms"]}
    checked = 0
    for key, rule in LAB_RULES.items():
        assert rule.term in terms, key
        for cut in rule.cuts:
            grade_text = _norm(terms[rule.term]["grades"][str(cut.grade)] or "")
            assert cut.workbook, f"{key} grade {cut.grade} has no workbook fragment"
            for unit, fragment in cut.workbook:
                assert _norm(fragment) in grade_text, f"{key}: '{fragment}' not in grade {cut.grade} text '{grade_text}'"
                numbers = [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", fragment)]
                if cut.threshold is None:
                    assert rule.reference and rule.reference in fragment, (key, fragment)
                elif unit == "x ULN" and cut.threshold == 1.0:
                    assert fragment.startswith(">ULN"), (key, fragment)
                else:
                    expected = cut.threshold * _UNIT_FACTOR.get(unit, 1.0)
                    assert any(abs(n - expected) < 1e-6 for n in numbers), f"{key}: {expected} not in '{fragment}'"
                checked += 1
    assert checked >= 80


def test_reference_ranges_documented():
    for analyte in ("anc", "platelets", "wbc", "lymphocytes", "hemoglobin", "potassium", "sodium", "alt", "ast", "alp", "bilirubin", "creatinine"):
        assert analyte in REFERENCE_RANGES


# --------------------------------------------------------------------------
# both sides of every boundary (grade_lab)
# --------------------------------------------------------------------------

BOUNDARIES = [
    # neutrophils, x10^9/L (default LLN 2.0) and /mm3
    ("ANC", 2.0, "x10^9/L", None), ("ANC", 1.99, "x10^9/L", 1),
    ("ANC", 1.5, "x10^9/L", 1), ("ANC", 1.49, "x10^9/L", 2),
    ("ANC", 1.0, "x10^9/L", 2), ("ANC", 0.99, "x10^9/L", 3),
    ("ANC", 0.5, "x10^9/L", 3), ("ANC", 0.49, "x10^9/L", 4),
    ("ANC", 1500, "/mm3", 1), ("ANC", 1499, "/mm3", 2), ("ANC", 1000, "/mm3", 2), ("ANC", 999, "/mm3", 3),
    ("ANC", 500, "/mm3", 3), ("ANC", 499, "/mm3", 4),
    # platelets (default LLN 150)
    ("platelets", 150, "x10^9/L", None), ("platelets", 149, "x10^9/L", 1),
    ("platelets", 75, "x10^9/L", 1), ("platelets", 74.9, "x10^9/L", 2),
    ("platelets", 50, "x10^9/L", 2), ("platelets", 49.9, "x10^9/L", 3),
    ("platelets", 25, "x10^9/L", 3), ("platelets", 24.9, "x10^9/L", 4),
    ("platelets", 75000, "/mm3", 1), ("platelets", 74999, "/mm3", 2), ("platelets", 50000, "/mm3", 2),
    ("platelets", 49999, "/mm3", 3), ("platelets", 25000, "/mm3", 3), ("platelets", 24999, "/mm3", 4),
    # white cells (default LLN 4.0); leukocytosis > 100
    ("WBC", 4.0, "x10^9/L", None), ("WBC", 3.9, "x10^9/L", 1), ("WBC", 3.0, "x10^9/L", 1), ("WBC", 2.99, "x10^9/L", 2),
    ("WBC", 2.0, "x10^9/L", 2), ("WBC", 1.99, "x10^9/L", 3), ("WBC", 1.0, "x10^9/L", 3), ("WBC", 0.99, "x10^9/L", 4),
    ("WBC", 3000, "/mm3", 1), ("WBC", 2999, "/mm3", 2), ("WBC", 1000, "/mm3", 3), ("WBC", 999, "/mm3", 4),
    ("WBC", 100, "x10^9/L", None), ("WBC", 100.1, "x10^9/L", 3), ("WBC", 100001, "/mm3", 3),
    # lymphocytes (default LLN 1.0, ULN 4.0)
    ("lymphocytes", 1.0, "x10^9/L", None), ("lymphocytes", 0.99, "x10^9/L", 1),
    ("lymphocytes", 0.8, "x10^9/L", 1), ("lymphocytes", 0.79, "x10^9/L", 2),
    ("lymphocytes", 0.5, "x10^9/L", 2), ("lymphocytes", 0.49, "x10^9/L", 3),
    ("lymphocytes", 0.2, "x10^9/L", 3), ("lymphocytes", 0.19, "x10^9/L", 4),
    ("ALC", 800, "/mm3", 1), ("ALC", 799, "/mm3", 2), ("ALC", 200, "/mm3", 3), ("ALC", 199, "/mm3", 4),
    ("lymphocytes", 4.0, "x10^9/L", None), ("lymphocytes", 4.1, "x10^9/L", 2),
    ("lymphocytes", 20.0, "x10^9/L", 2), ("lymphocytes", 20.1, "x10^9/L", 3),
    # hemoglobin in g/dL, g/L and mmol/L (default LLN 12.0 g/dL / 120 g/L / 7.4 mmol/L)
    ("Hb", 12.0, "g/dL", None), ("Hb", 11.9, "g/dL", 1), ("Hb", 10.0, "g/dL", 1), ("Hb", 9.9, "g/dL", 2),
    ("Hb", 8.0, "g/dL", 2), ("Hb", 7.9, "g/dL", 3),
    ("Hb", 120, "g/L", None), ("Hb", 119, "g/L", 1), ("Hb", 100, "g/L", 1), ("Hb", 99, "g/L", 2),
    ("Hb", 80, "g/L", 2), ("Hb", 79, "g/L", 3),
    ("Hb", 7.4, "mmol/L", None), ("Hb", 7.3, "mmol/L", 1), ("Hb", 6.2, "mmol/L", 1), ("Hb", 6.1, "mmol/L", 2),
    ("Hb", 4.9, "mmol/L", 2), ("Hb", 4.8, "mmol/L", 3),
    # potassium (default 3.5-5.0)
    ("K", 5.0, "mmol/L", None), ("K", 5.1, "mmol/L", 1), ("K", 5.5, "mmol/L", 1), ("K", 5.6, "mmol/L", 2),
    ("K", 6.0, "mmol/L", 2), ("K", 6.1, "mmol/L", 3), ("K", 7.0, "mmol/L", 3), ("K", 7.1, "mmol/L", 4),
    ("K", 3.5, "mmol/L", None), ("K", 3.4, "mmol/L", 1), ("K", 3.0, "mmol/L", 1), ("K", 2.9, "mmol/L", 3),
    ("K", 2.5, "mmol/L", 3), ("K", 2.4, "mmol/L", 4),
    ("potassium", 6.1, "mEq/L", 3), ("potassium", 2.4, "mEq/L", 4),
    # sodium (default 135-145)
    ("Na", 145, "mmol/L", None), ("Na", 146, "mmol/L", 1), ("Na", 150, "mmol/L", 1), ("Na", 151, "mmol/L", 2),
    ("Na", 155, "mmol/L", 2), ("Na", 156, "mmol/L", 3), ("Na", 160, "mmol/L", 3), ("Na", 161, "mmol/L", 4),
    ("Na", 135, "mmol/L", None), ("Na", 134, "mmol/L", 1), ("Na", 130, "mmol/L", 1), ("Na", 129, "mmol/L", 2),
    ("Na", 125, "mmol/L", 2), ("Na", 124, "mmol/L", 3), ("Na", 120, "mmol/L", 3), ("Na", 119, "mmol/L", 4),
    ("sodium", 119, "mEq/L", 4),
    # fever, C and F
    ("temperature", 37.9, "°C", None), ("temperature", 38.0, "°C", 1), ("temperature", 39.0, "°C", 1),
    ("temperature", 39.1, "°C", 2), ("temperature", 40.0, "°C", 2), ("temperature", 40.1, "°C", 3),
    ("temperature", 100.3, "°F", None), ("temperature", 100.4, "°F", 1), ("temperature", 102.2, "°F", 1),
    ("temperature", 102.3, "°F", 2), ("temperature", 104.0, "°F", 2), ("temperature", 104.1, "°F", 3),
    # ALT / AST / ALP / bilirubin / creatinine as multiples of the ULN
    ("ALT", 1.0, "x ULN", None), ("ALT", 1.1, "x ULN", 1), ("ALT", 3.0, "x ULN", 1), ("ALT", 3.1, "x ULN", 2),
    ("ALT", 5.0, "x ULN", 2), ("ALT", 5.1, "x ULN", 3), ("ALT", 20.0, "x ULN", 3), ("ALT", 20.1, "x ULN", 4),
    ("AST", 1.0, "x ULN", None), ("AST", 1.1, "x ULN", 1), ("AST", 3.0, "x ULN", 1), ("AST", 3.1, "x ULN", 2),
    ("AST", 5.0, "x ULN", 2), ("AST", 5.1, "x ULN", 3), ("AST", 20.0, "x ULN", 3), ("AST", 20.1, "x ULN", 4),
    ("ALP", 1.0, "x ULN", None), ("ALP", 2.5, "x ULN", 1), ("ALP", 2.6, "x ULN", 2), ("ALP", 5.0, "x ULN", 2),
    ("ALP", 5.1, "x ULN", 3), ("ALP", 20.0, "x ULN", 3), ("ALP", 20.1, "x ULN", 4),
    ("bilirubin", 1.0, "x ULN", None), ("bilirubin", 1.5, "x ULN", 1), ("bilirubin", 1.6, "x ULN", 2),
    ("bilirubin", 3.0, "x ULN", 2), ("bilirubin", 3.1, "x ULN", 3), ("bilirubin", 10.0, "x ULN", 3),
    ("bilirubin", 10.1, "x ULN", 4),
    ("creatinine", 1.0, "x ULN", None), ("creatinine", 1.5, "x ULN", 1), ("creatinine", 1.6, "x ULN", 2),
    ("creatinine", 3.0, "x ULN", 2), ("creatinine", 3.1, "x ULN", 3), ("creatinine", 6.0, "x ULN", 3),
    ("creatinine", 6.1, "x ULN", 4),
    ("creatinine", 1.5, "x baseline", None), ("creatinine", 1.6, "x baseline", 2),
    ("creatinine", 3.0, "x baseline", 2), ("creatinine", 3.1, "x baseline", 3),
    # QTc, ejection fraction, INR
    ("QTc", 449, "ms", None), ("QTc", 450, "ms", 1), ("QTc", 480, "ms", 1), ("QTc", 481, "ms", 2),
    ("QTcF", 500, "msec", 2), ("QTcF", 501, "msec", 3),
    ("LVEF", 51, "%", None), ("LVEF", 50, "%", 2), ("LVEF", 40, "%", 2), ("LVEF", 39, "%", 3),
    ("LVEF", 20, "%", 3), ("LVEF", 19, "%", 4),
    ("INR", 1.2, "", None), ("INR", 1.21, "", 1), ("INR", 1.5, "", 1), ("INR", 1.51, "", 2),
    ("INR", 2.5, "", 2), ("INR", 2.51, "", 3),
    # enzymes and aPTT as multiples of the ULN
    ("lipase", 1.0, "x ULN", None), ("lipase", 1.1, "x ULN", 1), ("lipase", 1.5, "x ULN", 1), ("lipase", 1.6, "x ULN", 2),
    ("lipase", 2.1, "x ULN", 2), ("lipase", 5.0, "x ULN", 2), ("lipase", 5.1, "x ULN", 3),
    ("amylase", 1.5, "x ULN", 1), ("amylase", 1.6, "x ULN", 2), ("amylase", 5.0, "x ULN", 2), ("amylase", 5.1, "x ULN", 3),
    ("GGT", 1.0, "x ULN", None), ("GGT", 2.5, "x ULN", 1), ("GGT", 2.6, "x ULN", 2), ("GGT", 5.0, "x ULN", 2),
    ("GGT", 5.1, "x ULN", 3), ("GGT", 20.0, "x ULN", 3), ("GGT", 20.1, "x ULN", 4),
    ("CPK", 1.0, "x ULN", None), ("CPK", 2.5, "x ULN", 1), ("CPK", 2.6, "x ULN", 2), ("CPK", 5.0, "x ULN", 2),
    ("CPK", 5.1, "x ULN", 3), ("CPK", 10.0, "x ULN", 3), ("CPK", 10.1, "x ULN", 4),
    ("aPTT", 1.0, "x ULN", None), ("aPTT", 1.5, "x ULN", 1), ("aPTT", 1.6, "x ULN", 2), ("aPTT", 2.5, "x ULN", 2),
    ("aPTT", 2.6, "x ULN", 3), ("aPTT", 52.5, "s", 1), ("aPTT", 53, "sec", 2),  # default ULN 35 s
    ("LDH", 1.0, "x ULN", None), ("LDH", 1.01, "x ULN", 1), ("LDH", 250, "U/L", None), ("LDH", 251, "U/L", 1),
    # glucose (hypoglycemia; default LLN 70 mg/dL / 3.9 mmol/L)
    ("glucose", 70, "mg/dL", None), ("glucose", 69, "mg/dL", 1), ("glucose", 55, "mg/dL", 1), ("glucose", 54, "mg/dL", 2),
    ("glucose", 40, "mg/dL", 2), ("glucose", 39, "mg/dL", 3), ("glucose", 30, "mg/dL", 3), ("glucose", 29, "mg/dL", 4),
    ("glucose", 3.9, "mmol/L", None), ("glucose", 3.8, "mmol/L", 1), ("glucose", 3.0, "mmol/L", 1),
    ("glucose", 2.9, "mmol/L", 2), ("glucose", 2.2, "mmol/L", 2), ("glucose", 2.1, "mmol/L", 3),
    ("glucose", 1.7, "mmol/L", 3), ("glucose", 1.6, "mmol/L", 4), ("glucose", 400, "mg/dL", None),
    # magnesium (default 1.7-2.4 mg/dL, 0.7-1.0 mmol/L; mEq/L = 2 x mmol/L)
    ("Mg", 1.7, "mg/dL", None), ("Mg", 1.6, "mg/dL", 1), ("Mg", 1.2, "mg/dL", 1), ("Mg", 1.1, "mg/dL", 2),
    ("Mg", 0.9, "mg/dL", 2), ("Mg", 0.8, "mg/dL", 3), ("Mg", 0.7, "mg/dL", 3), ("Mg", 0.6, "mg/dL", 4),
    ("Mg", 2.4, "mg/dL", None), ("Mg", 2.5, "mg/dL", 1), ("Mg", 3.0, "mg/dL", 1), ("Mg", 3.1, "mg/dL", 3),
    ("Mg", 8.0, "mg/dL", 3), ("Mg", 8.1, "mg/dL", 4),
    ("magnesium", 0.5, "mmol/L", 1), ("magnesium", 0.49, "mmol/L", 2), ("magnesium", 0.4, "mmol/L", 2),
    ("magnesium", 0.39, "mmol/L", 3), ("magnesium", 0.3, "mmol/L", 3), ("magnesium", 0.29, "mmol/L", 4),
    ("magnesium", 1.23, "mmol/L", 1), ("magnesium", 1.24, "mmol/L", 3), ("magnesium", 3.30, "mmol/L", 3),
    ("magnesium", 3.31, "mmol/L", 4), ("magnesium", 0.8, "mEq/L", 2), ("magnesium", 0.78, "mEq/L", 3),
    # corrected calcium (default 8.5-10.5 mg/dL, 2.1-2.6 mmol/L)
    ("calcium", 8.5, "mg/dL", None), ("calcium", 8.4, "mg/dL", 1), ("calcium", 8.0, "mg/dL", 1), ("calcium", 7.9, "mg/dL", 2),
    ("calcium", 7.0, "mg/dL", 2), ("calcium", 6.9, "mg/dL", 3), ("calcium", 6.0, "mg/dL", 3), ("calcium", 5.9, "mg/dL", 4),
    ("calcium", 10.5, "mg/dL", None), ("calcium", 10.6, "mg/dL", 1), ("calcium", 11.5, "mg/dL", 1),
    ("calcium", 11.6, "mg/dL", 2), ("calcium", 12.5, "mg/dL", 2), ("calcium", 12.6, "mg/dL", 3),
    ("calcium", 13.5, "mg/dL", 3), ("calcium", 13.6, "mg/dL", 4),
    ("calcium", 2.0, "mmol/L", 1), ("calcium", 1.99, "mmol/L", 2), ("calcium", 1.75, "mmol/L", 2),
    ("calcium", 1.74, "mmol/L", 3), ("calcium", 1.5, "mmol/L", 3), ("calcium", 1.49, "mmol/L", 4),
    ("calcium", 2.9, "mmol/L", 1), ("calcium", 2.91, "mmol/L", 2), ("calcium", 3.1, "mmol/L", 2),
    ("calcium", 3.11, "mmol/L", 3), ("calcium", 3.4, "mmol/L", 3), ("calcium", 3.41, "mmol/L", 4),
    # albumin (default LLN 3.5 g/dL, 35 g/L)
    ("albumin", 3.5, "g/dL", None), ("albumin", 3.4, "g/dL", 1), ("albumin", 3.0, "g/dL", 1), ("albumin", 2.9, "g/dL", 2),
    ("albumin", 2.0, "g/dL", 2), ("albumin", 1.9, "g/dL", 3),
    ("albumin", 30, "g/L", 1), ("albumin", 29, "g/L", 2), ("albumin", 20, "g/L", 2), ("albumin", 19, "g/L", 3),
    # cholesterol (default ULN 200 mg/dL / 5.2 mmol/L) and triglycerides
    ("cholesterol", 200, "mg/dL", None), ("cholesterol", 201, "mg/dL", 1), ("cholesterol", 300, "mg/dL", 1),
    ("cholesterol", 301, "mg/dL", 2), ("cholesterol", 400, "mg/dL", 2), ("cholesterol", 401, "mg/dL", 3),
    ("cholesterol", 500, "mg/dL", 3), ("cholesterol", 501, "mg/dL", 4),
    ("cholesterol", 7.75, "mmol/L", 1), ("cholesterol", 7.76, "mmol/L", 2), ("cholesterol", 10.34, "mmol/L", 2),
    ("cholesterol", 10.35, "mmol/L", 3), ("cholesterol", 12.92, "mmol/L", 3), ("cholesterol", 12.93, "mmol/L", 4),
    ("triglycerides", 149, "mg/dL", None), ("triglycerides", 150, "mg/dL", 1), ("triglycerides", 300, "mg/dL", 1),
    ("triglycerides", 301, "mg/dL", 2), ("triglycerides", 500, "mg/dL", 2), ("triglycerides", 501, "mg/dL", 3),
    ("triglycerides", 1000, "mg/dL", 3), ("triglycerides", 1001, "mg/dL", 4),
    ("triglycerides", 1.70, "mmol/L", None), ("triglycerides", 1.71, "mmol/L", 1), ("triglycerides", 3.42, "mmol/L", 1),
    ("triglycerides", 3.43, "mmol/L", 2), ("triglycerides", 5.7, "mmol/L", 2), ("triglycerides", 5.71, "mmol/L", 3),
    ("triglycerides", 11.4, "mmol/L", 3), ("triglycerides", 11.41, "mmol/L", 4),
    # hypothermia
    ("temperature", 35.1, "°C", None), ("temperature", 35.0, "°C", 2), ("temperature", 32.1, "°C", 2),
    ("temperature", 32.0, "°C", 3), ("temperature", 28.1, "°C", 3), ("temperature", 28.0, "°C", 4),
    ("temperature", 95.1, "°F", None), ("temperature", 95.0, "°F", 2), ("temperature", 89.7, "°F", 2),
    ("temperature", 89.6, "°F", 3), ("temperature", 82.5, "°F", 3), ("temperature", 82.4, "°F", 4),
    # CTCAE term names work as the analyte
    ("Platelet count decreased", 24999, "/mm3", 4), ("Hyperkalemia", 7.1, "mmol/L", 4), ("Anemia", 7.9, "g/dL", 3),
]


@pytest.mark.parametrize("analyte,value,unit,grade", BOUNDARIES)
def test_grade_lab_boundaries(analyte, value, unit, grade):
    assert _grade(analyte, value, unit) == grade


@pytest.mark.parametrize(
    "systolic,diastolic,grade",
    [
        (119, 79, None), (120, 70, 1), (110, 80, 1), (139, 89, 1), (140, 89, 2), (139, 90, 2), (140, 90, 2),
        (159, 99, 2), (160, 99, 3), (159, 100, 3), (160, 100, 3), (200, 120, 3),
    ],
)
def test_blood_pressure_boundaries(systolic, diastolic, grade):
    assert _grade("BP", systolic, "mmHg", diastolic=diastolic) == grade


@pytest.mark.parametrize(
    "analyte,value,unit,kw,grade",
    [
        # absolute values with a stated ULN, and the documented default ULN
        ("ALT", 120, "U/L", {"uln": 40}, 1), ("ALT", 121, "U/L", {"uln": 40}, 2),
        ("ALT", 200, "U/L", {}, 2), ("ALT", 201, "U/L", {}, 3),  # default ULN 40 U/L
        ("AST", 801, "IU/L", {"uln": 40}, 4),
        ("ALP", 300, "U/L", {}, 1), ("ALP", 301, "U/L", {}, 2),  # default ULN 120 U/L
        ("bilirubin", 1.8, "mg/dL", {}, 1), ("bilirubin", 1.9, "mg/dL", {}, 2),  # default ULN 1.2 mg/dL
        ("bilirubin", 64, "µmol/L", {"uln": 21}, 3),
        ("creatinine", 3.6, "mg/dL", {"uln": 1.2}, 2), ("creatinine", 3.7, "mg/dL", {"uln": 1.2}, 3),
        ("creatinine", 107, "umol/L", {}, 1),  # default ULN 106 umol/L
        # abnormal baseline: liver tests use the baseline multiples
        ("ALT", 89, "U/L", {"uln": 40, "baseline": 60}, None), ("ALT", 90, "U/L", {"uln": 40, "baseline": 60}, 1),
        ("ALT", 181, "U/L", {"uln": 40, "baseline": 60}, 2),
        # a normal baseline is ignored for liver tests
        ("ALT", 130, "U/L", {"uln": 40, "baseline": 30}, 2),
        # creatinine: the higher of the ULN and baseline grades
        ("creatinine", 1.6, "mg/dL", {"uln": 1.2, "baseline": 1.0}, 2),
        ("creatinine", 1.3, "mg/dL", {"uln": 1.2, "baseline": 1.0}, 1),
        # stated LLN / ULN override the defaults
        ("ANC", 1.7, "x10^9/L", {"lln": 1.8}, 1), ("ANC", 1.7, "x10^9/L", {"lln": 1.6}, None),
        ("K", 5.2, "mmol/L", {"uln": 5.3}, None),
        # information text rarely gives
        ("Na", 127, "mmol/L", {"symptomatic": True}, 3), ("Na", 127, "mmol/L", {}, 2),
        ("K", 3.2, "mmol/L", {"symptomatic": True}, 2), ("K", 3.2, "mmol/L", {}, 1),
        ("temperature", 40.1, "C", {"duration_hours": 24}, 3), ("temperature", 40.1, "C", {"duration_hours": 25}, 4),
        # lipase / amylase with signs or symptoms
        ("lipase", 2.0, "x ULN", {"symptomatic": True}, 2), ("lipase", 2.1, "x ULN", {"symptomatic": True}, 3),
        ("lipase", 5.0, "x ULN", {"symptomatic": True}, 3), ("lipase", 5.1, "x ULN", {"symptomatic": True}, 4),
        ("amylase", 2.1, "x ULN", {"symptomatic": True}, 3), ("amylase", 5.1, "x ULN", {"symptomatic": True}, 4),
        # ejection fraction: drop from baseline (10-19 points: 2; >= 20: 3)
        ("LVEF", 55, "%", {"baseline": 64}, None), ("LVEF", 55, "%", {"baseline": 65}, 2),
        ("LVEF", 55, "%", {"baseline": 74}, 2), ("LVEF", 55, "%", {"baseline": 75}, 3),
        # GGT with an abnormal baseline
        ("GGT", 199, "U/L", {"uln": 50, "baseline": 100}, None), ("GGT", 200, "U/L", {"uln": 50, "baseline": 100}, 1),
    ],
)
def test_grade_lab_references_and_context(analyte, value, unit, kw, grade):
    assert _grade(analyte, value, unit, **kw) == grade


def test_grade_lab_evidence_names_rule_and_term():
    f = grade_lab("platelets", 22000, "/mm3")
    assert f.basis == "lab" and f.grade == 4 and f.ctcae_term == "Platelet count decreased"
    assert f.evidence == "lab: 22,000/mm3 = 22 x10^9/L < 25 x10^9/L (CTCAE Platelet count decreased grade 4)"
    g = grade_lab("ANC", 1.8, "x10^9/L")
    assert "LLN 2" in g.evidence and "assumed" in g.evidence


@pytest.mark.parametrize(
    "args,message",
    [
        (("troponin", 40, "ng/L"), "unknown analyte 'troponin'"),
        (("ALP", 2.0, "x baseline"), None),
        (("CPK", 2.0, "x baseline"), "not of baseline"),
        (("glucose", 40, "x10^9/L"), "does not fit analyte 'glucose'"),
        (("ANC", 0.5, "g/dL"), "does not fit analyte 'anc'"),
        (("ANC", 0.5, "furlongs"), "unknown unit 'furlongs'"),
        (("ANC", "low", "x10^9/L"), "must be a number"),
    ],
)
def test_grade_lab_errors(args, message):
    if message is None:  # ALP does have baseline multiples: no error
        assert grade_lab(*args).grade == 1
        return
    with pytest.raises(ValueError, match=message):
        grade_lab(*args)


# --------------------------------------------------------------------------
# unit variants and analyte names in running text (find_lab_values)
# --------------------------------------------------------------------------

UNIT_VARIANTS = [
    ("ANC 0.4 x10^9/L", 0.4, 4), ("ANC 0.4 x 10^9/L", 0.4, 4), ("ANC 0.4 x10e9/L", 0.4, 4),
    ("ANC 0.4 10*9/L", 0.4, 4), ("ANC 0.4 × 10⁹/L", 0.4, 4), ("ANC 0.4 x 10(9)/L", 0.4, 4),
    ("ANC 0.4 G/L", 0.4, 4), ("ANC 0.4 x10^3/µL", 0.4, 4), ("ANC 0.4 K/uL", 0.4, 4),
    ("ANC 400/mm3", 0.4, 4), ("ANC 400/mm^3", 0.4, 4), ("ANC 400 /µL", 0.4, 4), ("ANC 400/μL", 0.4, 4),
    ("ANC 400/uL", 0.4, 4), ("ANC 400 cells/mm3", 0.4, 4), ("ANC 400 cells/µL", 0.4, 4),
    ("platelets 22,000/mm3", 22.0, 4), ("platelets 22 000/mm3", 22.0, 4), ("platelets 22000/µL", 22.0, 4),
    ("Hb 7.9 g/dL", 79.0, 3), ("Hb 7.9 g/dl", 79.0, 3), ("Hb 79 g/L", 79.0, 3),
    ("K 6.1 mmol/L", 6.1, 3), ("K 6.1 mEq/L", 6.1, 3), ("K 6.1 mmol/l", 6.1, 3),
    ("temperature 39.5 °C", 39.5, 2), ("temperature 39.5 ºC", 39.5, 2), ("temperature 39.5C", 39.5, 2),
    ("temperature 39.5 degrees C", 39.5, 2), ("temperature 39.5 degrees Celsius", 39.5, 2),
    ("temperature 103.1 °F", 39.5, 2), ("temperature 103.1 F", 39.5, 2), ("temperature 103.1 degrees Fahrenheit", 39.5, 2),
    ("ALT 5.2 x ULN", 5.2, 3), ("ALT 5.2xULN", 5.2, 3), ("ALT 5.2 × ULN", 5.2, 3), ("ALT 5.2 times ULN", 5.2, 3),
    ("ALT 5.2 times the upper limit of normal", 5.2, 3), ("ALT 5.2-fold ULN", 5.2, 3), ("ALT >5 x ULN", 5.0, 3),
    ("BP 165/100 mmHg", 165.0, 3), ("BP 165/100 mm Hg", 165.0, 3), ("BP 165/100", 165.0, 3),
]


@pytest.mark.parametrize("text,value_si,grade", UNIT_VARIANTS)
def test_unit_variants(text, value_si, grade):
    labs = find_lab_values(text)
    assert len(labs) == 1, labs
    lab = labs[0]
    assert lab.grade == grade
    assert lab.value_si == pytest.approx(value_si, abs=0.01)
    assert text[lab.start_char : lab.end_char] == lab.text


@pytest.mark.parametrize(
    "text,term,grade",
    [
        ("ANC 0.8 x 10^9/L", "Neutrophil count decreased", 3),
        ("absolute neutrophil count of 0.8 x 10^9/L", "Neutrophil count decreased", 3),
        ("neutrophils 0.8 x 10^9/L", "Neutrophil count decreased", 3),
        ("PLT 40 x 10^9/L", "Platelet count decreased", 3),
        ("platelets 40 x 10^9/L", "Platelet count decreased", 3),
        ("platelet count 40 x 10^9/L", "Platelet count decreased", 3),
        ("WBC 1.5 x 10^9/L", "White blood cell decreased", 3),
        ("white cell count 1.5 x 10^9/L", "White blood cell decreased", 3),
        ("leukocytes 1.5 x 10^9/L", "White blood cell decreased", 3),
        ("lymphocytes 0.3 x 10^9/L", "Lymphocyte count decreased", 3),
        ("ALC 0.3 x 10^9/L", "Lymphocyte count decreased", 3),
        ("Hb 7.5 g/dL", "Anemia", 3), ("Hgb 7.5 g/dL", "Anemia", 3),
        ("hemoglobin 7.5 g/dL", "Anemia", 3), ("haemoglobin 7.5 g/dL", "Anemia", 3),
        ("ALT 6 x ULN", "Alanine aminotransferase increased", 3), ("SGPT 6 x ULN", "Alanine aminotransferase increased", 3),
        ("AST 6 x ULN", "Aspartate aminotransferase increased", 3), ("SGOT 6 x ULN", "Aspartate aminotransferase increased", 3),
        ("ALP 6 x ULN", "Alkaline phosphatase increased", 3), ("alkaline phosphatase 6 x ULN", "Alkaline phosphatase increased", 3),
        ("bilirubin 4 x ULN", "Blood bilirubin increased", 3), ("total bilirubin 4 x ULN", "Blood bilirubin increased", 3),
        ("creatinine 4 x ULN", "Creatinine increased", 3),
        ("K 6.5 mmol/L", "Hyperkalemia", 3), ("K+ 6.5 mmol/L", "Hyperkalemia", 3), ("potassium 2.7 mmol/L", "Hypokalemia", 3),
        ("Na 158 mmol/L", "Hypernatremia", 3), ("sodium 122 mmol/L", "Hyponatremia", 3),
        ("temperature 40.5 °C", "Fever", 3), ("temp 40.5 °C", "Fever", 3), ("T 40.5 °C", "Fever", 3),
        ("fever of 40.5 °C", "Fever", 3), ("febrile to 39.4 C", "Fever", 2),
        ("BP 150/95 mmHg", "Hypertension", 2), ("blood pressure 150/95 mmHg", "Hypertension", 2),
        ("QTc 510 ms", "Electrocardiogram QT corrected interval prolonged", 3),
        ("QTcF prolonged to 485 msec", "Electrocardiogram QT corrected interval prolonged", 2),
        ("LVEF 35%", "Ejection fraction decreased", 3), ("ejection fraction decreased to 45%", "Ejection fraction decreased", 2),
        ("INR 3.2", "INR increased", 3), ("international normalized ratio of 1.8", "INR increased", 2),
        ("lipase 250 U/L", "Lipase increased", 2), ("serum amylase 6 x ULN", "Serum amylase increased", 3),
        ("GGT 300 U/L", "GGT increased", 3), ("gamma-GT 6 x ULN", "GGT increased", 3),
        ("CK 2500 U/L", "CPK increased", 4), ("creatine kinase 12 x ULN", "CPK increased", 4),
        ("aPTT 2.8 x ULN", "Activated partial thromboplastin time prolonged", 3),
        ("LDH 600 U/L", "Blood lactate dehydrogenase increased", 1),
        ("glucose 45 mg/dL", "Hypoglycemia", 2), ("blood glucose 2.0 mmol/L", "Hypoglycemia", 3),
        ("Mg 0.8 mg/dL", "Hypomagnesemia", 3), ("serum magnesium 0.7 mEq/L", "Hypomagnesemia", 3),
        ("corrected calcium 6.5 mg/dL", "Hypocalcemia", 3), ("Ca 13.8 mg/dL", "Hypercalcemia", 4),
        ("albumin 2.5 g/dL", "Hypoalbuminemia", 2), ("serum albumin 18 g/L", "Hypoalbuminemia", 3),
        ("total cholesterol 420 mg/dL", "Cholesterol high", 3), ("triglycerides 600 mg/dL", "Hypertriglyceridemia", 3),
        ("TG 12 mmol/L", "Hypertriglyceridemia", 4), ("temperature 34.5 °C", "Hypothermia", 2),
    ],
)
def test_analyte_names(text, term, grade):
    labs = find_lab_values(text)
    assert [(lab.ctcae_term, lab.grade) for lab in labs] == [(term, grade)]


@pytest.mark.parametrize(
    "text,grade,note",
    [
        ("ANC 400", 4, "unit not stated"),
        ("ANC 0.4", 4, "unit not stated"),
        ("platelets 22000", 4, "unit not stated"),
        ("Hb 7.9", 3, "unit not stated"),
        ("sodium 118", 4, "unit not stated"),
        ("ALT 250 U/L (ULN 40)", 3, "stated"),
        ("ALT 250 U/L", 3, "assumed adult default"),
        ("total bilirubin 2.5 mg/dL (normal 0.3-1.2)", 2, "stated"),
        ("creatinine 2.1 mg/dL (ULN 1.2)", 2, "stated"),
        ("ANC <0.5 x10^9/L", 4, "graded as just below 0.5"),
        ("ALT rose from 35 to 420 U/L", 3, "assumed"),
        ("fever to 40.5 C for 3 days", 4, "lasted 72 h"),
        ("fever of 40.5 C for 12 hours", 3, "40.5 C > 40 C"),
        ("Na 127 mmol/L and symptomatic confusion", 3, "symptomatic"),
        ("Na 127 mmol/L, asymptomatic", 2, "127 mmol/L <= 129"),
        ("INR <1.7", None, "includes values without a CTCAE INR increased grade"),
        ("platelets >100 x10^9/L", None, "not graded"),
        ("ANC <1.0 x10^9/L", 3, "graded as just below 1.0"),
        ("glucose 250 mg/dL", None, "grades Hyperglycemia by the intervention needed"),
        ("lipase 6 x ULN with symptomatic pancreatitis", 4, "with signs or symptoms"),
    ],
)
def test_lab_values_in_text(text, grade, note):
    labs = find_lab_values(text)
    assert len(labs) == 1 and labs[0].grade == grade, labs
    assert note in labs[0].evidence


@pytest.mark.parametrize(
    "text",
    [
        "lymphocytes 15%",
        "sodium valproate 500 mg",
        "vitamin K 10 mg",
        "creatinine clearance 40 mL/min",
        "direct bilirubin 2.5 mg/dL",
        "platelet transfusion 2 units",
        "K-ras mutation",
        "the ANC recovered",
        "T cell lymphoma",
        "given for 5 days",
        "ionized calcium 0.8 mmol/L",
        "HDL cholesterol 30 mg/dL",
        "urine albumin 300 mg/L",
        "calcium carbonate 1250 mg",
        "Mg 400 mg daily",
        "CA 19-9 of 40",
        "Ca 19-9 40",
        "CK-MB 30 U/L",
        "neutrophils 60%",
        "QT 440",
        "elevated liver transaminases (3/4), nausea (2/4)",
    ],
)
def test_lab_values_not_found(text):
    assert find_lab_values(text) == []


def test_normal_values_have_no_grade():
    labs = find_lab_values("platelet count 250 x 10^9/L, Hb 13.5 g/dL, K 4.2 mmol/L")
    assert [(lab.analyte, lab.grade) for lab in labs] == [("platelets", None), ("hemoglobin", None), ("potassium", None)]
    assert all("within the reference range" in lab.evidence for lab in labs)
    assert all(lab.finding is None for lab in labs)


def test_done_when_sentence():
    text = "On day 15 her platelet count was 22,000/mm3 and she was admitted with febrile neutropenia; she denied vomiting."
    labs = find_lab_values(text)
    assert len(labs) == 1
    lab = labs[0]
    assert (lab.analyte, lab.ctcae_term, lab.grade) == ("platelets", "Platelet count decreased", 4)
    assert (lab.value, lab.unit, lab.value_si, lab.unit_si) == (22000.0, "/mm3", 22.0, "10^9/L")
    assert lab.text == "platelet count was 22,000/mm3" == text[lab.start_char : lab.end_char]
    assert lab.evidence == (
        "lab: 'platelet count was 22,000/mm3': 22,000/mm3 = 22 x10^9/L < 25 x10^9/L (CTCAE Platelet count decreased grade 4)"
    )
    assert lab.finding.grade == 4 and lab.finding.ctcae_term == "Platelet count decreased"


def test_several_values_in_one_sentence():
    text = "Labs showed ANC 0.3 x 10^9/L, platelets 45,000/mm3, Hb 8.4 g/dL and ALT 3.5 x ULN."
    labs = find_lab_values(text)
    assert [(lab.analyte, lab.grade) for lab in labs] == [("anc", 4), ("platelets", 3), ("hemoglobin", 2), ("alt", 2)]
    for lab in labs:
        assert text[lab.start_char : lab.end_char] == lab.text


def test_results_pickle_and_json():
    lab = find_lab_values("ANC 0.4 x 10^9/L")[0]
    assert pickle.loads(pickle.dumps(lab)) == lab
    assert json.loads(json.dumps(lab.to_dict()))["grade"] == 4
    f = GradeFinding(3, "explicit", "explicit: 'grade 3' (grade 3)", 0, 7)
    assert pickle.loads(pickle.dumps(f)) == f and json.dumps(f.to_dict())
    assert isinstance(lab, LabFinding)


# --------------------------------------------------------------------------
# explicit grades
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,grades",
    [
        ("grade 3 diarrhea", [3]),
        ("Grade 4 neutropenia", [4]),
        ("G3 neutropenia", [3]),
        ("Gr. 2 nausea", [2]),
        ("grade III mucositis", [3]),
        ("Grade IV thrombocytopenia", [4]),
        ("CTCAE grade 2 rash", [2]),
        ("CTCAE v5.0 grade 3 colitis", [3]),
        ("NCI-CTC grade 4 thrombocytopenia", [4]),
        ("Grade 3/4 neutropenia", [4]),
        ("grade 2-3 fatigue", [3]),
        ("grades 3 to 4", [4]),
        ("grade 3 or 4 events", [4]),
        ("grade >=3 AEs", [3]),
        ("grade ≥ 3 toxicity", [3]),
        ("grade 3 or higher", [3]),
        ("grade 5 sepsis", [5]),
        ("grade 1 nausea and grade 2 vomiting", [1, 2]),
        ("WHO grade II glioma", []),
        ("Gleason grade 4", []),
        ("grade 2 astrocytoma", []),
        ("histologic grade 3", []),
        ("grade 3 follicular lymphoma", []),
        ("low grade fever", []),
        ("grade 0 nausea", []),
        ("G-CSF support", []),
        ("G6PD deficiency", []),
        ("upgraded 3 times", []),
        ("a dose of carboxypeptidase G2", []),
        ("cells arrested in G2/M phase", []),
        ("AST and ALT grade 3 (5 x ULN)", [3]),
        ("grade 4/3", []),
    ],
)
def test_find_explicit_grades(text, grades):
    found = find_explicit_grades(text)
    assert [f.grade for f in found] == grades
    for f in found:
        assert f.basis == "explicit" and f.evidence.startswith("explicit: '")
        assert text[f.start_char : f.end_char].strip() in f.evidence


def test_explicit_range_evidence_says_worst():
    f = find_explicit_grades("Grade 3/4 neutropenia")[0]
    assert "worst" in f.evidence and "range 3-4" in f.evidence


# --------------------------------------------------------------------------
# outcome and severity words
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,grade",
    [
        ("she died of sepsis", 5), ("fatal hepatic failure", 5), ("the outcome was fatal", 5), ("death due to pneumonitis", 5),
        ("he passed away", 5), ("lethal arrhythmia", 5), ("succumbed to infection", 5),
        ("life-threatening anaphylaxis", 4), ("life threatening bleeding", 4), ("near-fatal asthma", 4),
        ("non-fatal MI", None), ("nonfatal bleeding", None), ("no deaths occurred", None), ("not life-threatening", None),
        ("potentially life-threatening arrhythmia", None), ("potentially fatal", None), ("risk of death", None),
        ("cell death", None), ("a mild rash", None),
    ],
)
def test_find_outcome_grade(text, grade):
    f = find_outcome_grade(text)
    assert (f.grade if f else None) == grade
    if f:
        assert f.basis == "outcome" and text[f.start_char : f.end_char] in f.evidence


@pytest.mark.parametrize(
    "text,grade",
    [
        ("mild nausea", 1), ("mildly elevated", 1), ("slight headache", 1), ("minor bleeding", 1),
        ("moderate vomiting", 2), ("moderately severe", 3), ("severe diarrhoea", 3), ("severely fatigued", 3),
        ("mild-to-moderate rash", 2), ("moderate to severe pain", 3), ("mild nausea and severe vomiting", 3),
        ("marked elevation", None), ("profound neutropenia", None), ("serious infection", None),
        ("not severe", None), ("non-severe", None), ("less severe", None), ("significant weight loss", None),
    ],
)
def test_find_severity_grade(text, grade):
    f = find_severity_grade(text)
    assert (f.grade if f else None) == grade


# --------------------------------------------------------------------------
# precedence
# --------------------------------------------------------------------------


def _findings(text):
    out = list(find_explicit_grades(text))
    out += [lab.finding for lab in find_lab_values(text) if lab.finding]
    out += [f for f in (find_outcome_grade(text), find_severity_grade(text)) if f]
    return out


@pytest.mark.parametrize(
    "text,grade,basis",
    [
        ("severe neutropenia (ANC 0.8 x 10^9/L)", 3, "lab"),
        ("mild thrombocytopenia (platelets 20 x 10^9/L)", 4, "lab"),
        ("severe anaemia, Hb 9.1 g/dL", 2, "lab"),
        ("grade 2 neutropenia (ANC 0.8 x 10^9/L)", 2, "explicit"),
        ("severe nausea", 3, "severity"),
        ("life-threatening hyperkalemia, K 6.5 mmol/L", 4, "outcome"),
        ("hyperkalemia, K 7.5 mmol/L, life-threatening", 4, "lab"),
        ("grade 3 pneumonitis, fatal", 5, "outcome"),
        ("moderate, life-threatening bleeding", 4, "outcome"),
        ("nothing to see", None, None),
    ],
)
def test_choose_grade(text, grade, basis):
    best = choose_grade(_findings(text))
    assert (best.grade if best else None, best.basis if best else None) == (grade, basis)


def test_precedence_constant_and_errors():
    assert PRECEDENCE == ("explicit", "lab", "outcome", "severity")
    assert choose_grade([]) is None
    with pytest.raises(ValueError, match="unknown grade basis 'vibes'"):
        choose_grade([GradeFinding(2, "vibes", "", 0, 0)])


def test_type_errors():
    for fn in (find_lab_values, find_explicit_grades, find_outcome_grade, find_severity_grade):
        with pytest.raises(TypeError, match="expects a str"):
            fn(None)


# --------------------------------------------------------------------------
# real PHEE v2 sentences (train + dev): every lab value and explicit grade found
# --------------------------------------------------------------------------


def test_phee_sentences(phee_train_path, phee_dev_path):
    labs, grades = [], []
    for path in (phee_train_path, phee_dev_path):
        for line in path.read_text(encoding="utf8").splitlines():
            text = json.loads(line)["context"]
            labs += [(lab.text, lab.ctcae_term, lab.grade) for lab in find_lab_values(text)]
            grades += [(text[f.start_char : f.end_char], f.grade) for f in find_explicit_grades(text)]
    assert sorted(labs) == sorted([
        ("CK concentration with a peak concentration of 4000 IU/L (normal < 230)", "CPK increased", 4),
        ("INR 2.5", "INR increased", 2),
        ("international normalised ratio of 4.8", "INR increased", 3),
        ("INR increased from 2.56 to 3.54", "INR increased", 3),
        ("INR of 7.1", "INR increased", 3),
        ("INR of greater than 12.3", "INR increased", 3),
        ("international normalized ratio <1.7", "INR increased", None),  # a target bound, not a value
        ("international normalized ratio <1.7", "INR increased", None),
        ("international normalized ratio <1.7", "INR increased", None),
        ("K 2.3 mmol/L", "Hypokalemia", 4),
        ("serum creatinine to 1543 micromol/l", "Creatinine increased", 4),  # 1543 / 106 = 14.6 x ULN
        ("ALT > 5", "Alanine aminotransferase increased", None),  # "> 5 to 20 upper limit": a definition, no grade
        ("Na+ of 108 mEq/L", "Hyponatremia", 4),
        ("platelet count decreased to 102", "Platelet count decreased", 1),
        ("platelet count was 36", "Platelet count decreased", 3),
        ("fever up to 39 degrees C", "Fever", 1),
        ("WBC count of 2.8 x 10(3)/mm3", "White blood cell decreased", 2),
        ("ANC of 0.448 x 10(3)/mm3", "Neutrophil count decreased", 4),
        ("BP 70/40 mmHg", "Hypertension", None),
    ])
    assert sorted(grades) == sorted([("grade 3 or 4", 4), ("grade 3", 3), ("grade 4", 4), ("Grade 3", 3)])
