"""resources/lab_rules_v6.yml: every CTCAE v6.0 threshold against the v6.0 workbook
text, and both sides of every boundary that v6.0 changed (as tests/test_grading.py
does for v5.0)."""

import re

import pytest

from ct_safety_nlp.grading import LabRules, grade_lab
from ct_safety_nlp.rules.io import resource_path
from ct_safety_nlp.rules.lab import read_lab_rules

V6 = LabRules(read_lab_rules(str(resource_path("lab_rules_v6.yml"))))
_UNIT_FACTOR = {"10^9/L": 1.0, "/mm3": 1000.0}


def _norm(text):
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def test_table_is_v6():
    assert V6.ctcae_version == "6.0"
    assert "cpk" not in V6.analytes and "ef" not in V6.analytes  # no numeric v6.0 term


def test_every_threshold_is_in_the_v6_workbook(v6_table):
    terms = {r["term"]: r for r in v6_table["terms"]}
    checked = 0
    for key, rule in V6.rules.items():
        assert rule.term in terms, f"{key}: {rule.term!r} is not a CTCAE v6.0 term"
        for cut in rule.cuts:
            grade_text = _norm(terms[rule.term]["grades"][str(cut.grade)] or "")
            assert cut.workbook, f"{key} grade {cut.grade} has no workbook fragment"
            for unit, fragment in cut.workbook:
                assert _norm(fragment) in grade_text, f"{key}: '{fragment}' not in v6.0 grade {cut.grade} text '{grade_text}'"
                numbers = [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", fragment)]
                if cut.threshold is None:
                    # a reference limit; Lymphopenia's only grade is "Present" (below the LLN)
                    assert (rule.reference and rule.reference in fragment) or (fragment == "Present" and len(rule.cuts) == 1), (key, fragment)
                elif unit == "x ULN" and cut.threshold == 1.0:
                    assert fragment.startswith(">ULN") or fragment == ">Baseline and ULN", (key, fragment)
                else:
                    expected = cut.threshold * _UNIT_FACTOR.get(unit, 1.0)
                    assert any(abs(n - expected) < 1e-6 for n in numbers), f"{key}: {expected} not in '{fragment}'"
                checked += 1
    assert checked >= 80


def _grade(analyte, value, unit, **kw):
    f = grade_lab(analyte, value, unit, rules=V6, **kw)
    return None if f is None else (f.grade, f.ctcae_term)


BOUNDARIES = [
    # Thrombocytopenia (default LLN 150): G3 <50 - 10, G4 <10 x10^9/L
    ("platelets", 150, "x10^9/L", None), ("platelets", 149, "x10^9/L", 1), ("platelets", 75, "x10^9/L", 1),
    ("platelets", 74.9, "x10^9/L", 2), ("platelets", 50, "x10^9/L", 2), ("platelets", 49.9, "x10^9/L", 3),
    ("platelets", 25, "x10^9/L", 3), ("platelets", 10, "x10^9/L", 3), ("platelets", 9.9, "x10^9/L", 4),
    ("platelets", 10000, "/mm3", 3), ("platelets", 9999, "/mm3", 4), ("platelets", 18000, "/mm3", 3),
    # Neutrophil count decreased one band lower: G1 <1.5, G2 <1.0, G3 <0.5, G4 <0.1; no LLN band
    ("ANC", 1.6, "x10^9/L", None), ("ANC", 1.5, "x10^9/L", None), ("ANC", 1.49, "x10^9/L", 1),
    ("ANC", 1.0, "x10^9/L", 1), ("ANC", 0.99, "x10^9/L", 2), ("ANC", 0.8, "x10^9/L", 2), ("ANC", 0.5, "x10^9/L", 2),
    ("ANC", 0.49, "x10^9/L", 3), ("ANC", 0.1, "x10^9/L", 3), ("ANC", 0.09, "x10^9/L", 4),
    ("ANC", 1500, "/mm3", None), ("ANC", 1499, "/mm3", 1), ("ANC", 100, "/mm3", 3), ("ANC", 99, "/mm3", 4),
    # Lymphopenia: grade 1 only, below the LLN (default 1.0)
    ("lymphocytes", 1.0, "x10^9/L", None), ("lymphocytes", 0.99, "x10^9/L", 1), ("lymphocytes", 0.1, "x10^9/L", 1),
    # Hyperglycemia (fasting ULN 100 mg/dL / 5.6 mmol/L assumed): >ULN-160, >160-250, >250-500, >500
    ("glucose", 100, "mg/dL", None), ("glucose", 101, "mg/dL", 1), ("glucose", 160, "mg/dL", 1), ("glucose", 161, "mg/dL", 2),
    ("glucose", 250, "mg/dL", 2), ("glucose", 251, "mg/dL", 3), ("glucose", 500, "mg/dL", 3), ("glucose", 501, "mg/dL", 4),
    ("glucose", 8.9, "mmol/L", 1), ("glucose", 9.0, "mmol/L", 2), ("glucose", 13.9, "mmol/L", 2), ("glucose", 14.0, "mmol/L", 3),
    ("glucose", 27.8, "mmol/L", 3), ("glucose", 27.9, "mmol/L", 4),
    # Hypoglycemia unchanged
    ("glucose", 55, "mg/dL", 1), ("glucose", 54, "mg/dL", 2),
    # Hyponatremia "125 - <130", "120 - <125"
    ("Na", 130, "mmol/L", 1), ("Na", 129.5, "mmol/L", 2), ("Na", 125, "mmol/L", 2), ("Na", 124.9, "mmol/L", 3),
    ("Na", 120, "mmol/L", 3), ("Na", 119, "mmol/L", 4),
    # QTc grade 3 >500 ms
    ("QTc", 500, "ms", 2), ("QTc", 501, "ms", 3),
    # alkaline phosphatase: grade 1 only
    ("ALP", 1.0, "x ULN", None), ("ALP", 1.1, "x ULN", 1), ("ALP", 30, "x ULN", 1),
    # lipase without symptoms: >1.5 G2 up to 5.0, >5.0 G3
    ("lipase", 1.5, "x ULN", 1), ("lipase", 1.6, "x ULN", 2), ("lipase", 5.0, "x ULN", 2), ("lipase", 5.1, "x ULN", 3),
]


@pytest.mark.parametrize("analyte,value,unit,grade", BOUNDARIES)
def test_boundaries(analyte, value, unit, grade):
    got = _grade(analyte, value, unit)
    assert (got[0] if got else None) == grade


@pytest.mark.parametrize("systolic,diastolic,grade", [
    (139, 89, None), (130, 85, None),  # v6.0 has no grade 1
    (140, 80, 2), (159, 99, 2), (150, 90, 2), (160, 80, 3), (179, 109, 3), (120, 100, 3),
    (180, 80, 4), (120, 110, 4), (179, 110, 4),
])
def test_hypertension(systolic, diastolic, grade):
    got = _grade("BP", systolic, "mmHg", diastolic=diastolic)
    assert (got[0] if got else None) == grade


def test_v6_terms_are_named():
    assert _grade("platelets", 18, "x10^9/L") == (3, "Thrombocytopenia")
    assert _grade("lymphocytes", 0.3, "x10^9/L") == (1, "Lymphopenia")
    assert _grade("glucose", 300, "mg/dL") == (3, "Hyperglycemia")


@pytest.mark.parametrize("baseline,value,grade", [
    # v6.0 creatinine: baseline multiples only when the baseline is below the LLN (0.6 mg/dL assumed)
    (0.5, 0.8, 2),  # baseline below the LLN: 1.6 x baseline (> 1.5) = G2, though not above the ULN
    (0.5, 1.6, 3),  # 3.2 x baseline (> 3.0) beats 1.33 x ULN (G1)
    (0.5, 0.74, None),  # 1.48 x baseline: not above 1.5
    (1.0, 1.6, 1),  # normal baseline: 1.33 x ULN only (v5.0: 1.6 x baseline = G2)
    (1.0, 3.1, 2),  # normal baseline: 2.58 x ULN = G2
])
def test_creatinine_baseline_rule_follows_v6(baseline, value, grade):
    got = _grade("creatinine", value, "mg/dL", baseline=baseline)
    assert (got[0] if got else None) == grade


def test_creatinine_v5_keeps_its_baseline_rule():
    from ct_safety_nlp.grading import default_lab_rules

    v5 = grade_lab("creatinine", 1.6, "mg/dL", baseline=1.0, rules=default_lab_rules())
    assert v5.grade == 2  # v5.0: >1.5 - 3.0 x baseline whatever the baseline
