"""Grading one lab value against the CTCAE thresholds of :class:`LabRules`.

Each analyte names its *grader* in the table (``analytes.<key>.grader``);
:data:`GRADERS` maps that name to the function below. A grader takes the
rules, the analyte, the value in a unit label and the context the text gave
(stated reference limits, baseline, symptoms, duration, diastolic pressure)
and returns a :class:`Graded`: the grade (None within the reference range),
the CTCAE term, the value in SI and an evidence line.

How each family reads CTCAE (the workbook's grade texts):

* ``count`` (ANC, platelets, WBC, lymphocytes): below the LLN, the LLN-based
  cuts; WBC and lymphocytes above the ULN, leukocytosis / lymphocytosis.
* ``hemoglobin``: one rule per unit (g/dL, g/L, mmol/L).
* ``electrolyte`` (K, Na): both sides; hyponatremia 125-129 mmol/L is grade
  2, grade 3 when symptomatic; hypokalemia LLN-3.0 is grade 1, grade 2 when
  symptomatic.
* ``temperature``: fever (C, F) and hypothermia; fever > 40.0 C for more than
  24 h is grade 4.
* ``blood_pressure``: the higher of the systolic and diastolic grades (adult
  criteria; grade 4 needs clinical words, not a number).
* ``ratio`` (ALT, AST, ALP, bilirubin, GGT, CPK, lipase, amylase, LDH, aPTT,
  creatinine): multiples of the ULN, or of an abnormal baseline where CTCAE
  has them (creatinine: the higher of the ULN and baseline grades);
  lipase / amylase one grade higher "with signs or symptoms".
* ``direct`` (glucose, Mg, Ca, albumin, cholesterol, triglycerides, QTc,
  ejection fraction, INR): thresholds per unit, mEq/L converted; ejection
  fraction also by its drop from baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from .tables import LabRules, Rule

__all__ = ["GRADERS", "Graded", "fmt", "grade_value"]


@dataclass
class Graded:
    grade: Optional[int]
    term: str
    value_si: float
    unit_si: str
    detail: str


def fmt(x: Optional[float]) -> str:
    """A number as the evidence shows it ("22,000", "0.5", "3")."""
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


def apply_rule(rule: Rule, value: float, reference: Optional[float]) -> Tuple[Optional[int], Optional[Tuple]]:
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


def show(value: float, unit: str) -> str:
    if unit == "%":
        return f"{fmt(value)}%"
    if unit == "":
        return fmt(value)
    if unit == "/mm3":
        return f"{fmt(value)}/mm3"
    if unit == "10^9/L":
        return f"{fmt(value)} x10^9/L"
    return f"{fmt(value)} {unit}"


def detail(value, unit, si, unit_si, fired, rule: Rule, grade, reference, ref_note) -> str:
    shown = show(value, unit)
    if unit != unit_si and unit not in ("C", "F"):
        shown += f" = {show(round(si, 4), unit_si)}"
    if unit == "F":
        shown += f" = {fmt(round(si, 2))} C"
    if grade is None or fired is None:
        if reference is not None:
            side = "LLN" if rule.direction == "low" else "ULN"
            return f"{shown} is within the reference range ({side} {fmt(reference)}, {ref_note})"
        return f"{shown} meets no CTCAE {rule.term} grade"
    op, threshold = fired[0], fired[1]
    if isinstance(op, str) and op.startswith("symptomatic"):
        return f"{shown}, {op} mmol/L (CTCAE {rule.term} grade {grade})"
    is_ref = rule.reference is not None and not any(c.threshold == threshold for c in rule.cuts if c.threshold is not None)
    if is_ref and reference is not None and abs(threshold - reference) < 1e-9:
        return f"{shown} {op} {rule.reference} {show(threshold, rule.unit)} ({ref_note}) (CTCAE {rule.term} grade {grade})"
    return f"{shown} {op} {show(threshold, rule.unit)} (CTCAE {rule.term} grade {grade})"


# --------------------------------------------------------------------------
# the graders
# --------------------------------------------------------------------------


def _count(R: LabRules, analyte, value, unit, *, factor, lln, uln, ref_note, **_) -> Graded:
    si = value * factor
    default_lln, default_uln = R.reference_ranges[analyte]["10^9/L"]
    low = lln * factor if lln is not None else default_lln
    high = uln * factor if uln is not None else default_uln
    high_rule = R.rules.get(f"{analyte}_high")
    if si < low - 1e-9:
        rule = R.rules[analyte]
        grade, fired = apply_rule(rule, si, low)
    elif high_rule is not None and si > high + 1e-9:
        rule = high_rule
        grade, fired = apply_rule(rule, si, high)
    else:
        rule, grade, fired = R.rules[analyte], None, None
    text = detail(value, unit, si, "10^9/L", fired, rule, grade, low if rule.direction == "low" else high, ref_note)
    return Graded(grade, rule.term, round(si, 6), "10^9/L", text)


def _hemoglobin(R: LabRules, analyte, value, unit, *, factor, unit_si, lln, ref_note, **_) -> Graded:
    native = "mmol/L" if unit == "mmol/L (Hb)" else unit
    rule = R.rules[f"{analyte}:{native}"]
    low = lln if lln is not None else R.reference_ranges[analyte][native][0]
    grade, fired = apply_rule(rule, value, low)
    si = value * factor
    return Graded(grade, rule.term, round(si, 4), unit_si, detail(value, native, si, unit_si, fired, rule, grade, low, ref_note))


def _electrolyte(R: LabRules, analyte, value, unit, *, lln, uln, symptomatic, ref_note, **_) -> Graded:
    default_lln, default_uln = R.reference_ranges[analyte]["mmol/L"]
    low = lln if lln is not None else default_lln
    high = uln if uln is not None else default_uln
    if value > high + 1e-9:
        rule = R.rules[f"{analyte}_high"]
        grade, fired = apply_rule(rule, value, high)
        ref = high
    elif value < low - 1e-9:
        rule = R.rules[f"{analyte}_low"]
        grade, fired = apply_rule(rule, value, low)
        ref = low
        if symptomatic and rule.term == "Hyponatremia" and grade == 2:
            grade = R.symptomatic_grades["hyponatremia_125_129"]
            fired = ("symptomatic 125-129", 125.0)
        if symptomatic and rule.term == "Hypokalemia" and grade == 1:
            grade = R.symptomatic_grades["hypokalemia_lln_3_0"]
            fired = ("symptomatic <LLN - 3.0", 3.0)
    else:
        rule = R.rules[f"{analyte}_high"] if value >= (low + high) / 2 else R.rules[f"{analyte}_low"]
        grade, fired, ref = None, None, (high if rule.direction == "high" else low)
    return Graded(grade, rule.term, value, "mmol/L", detail(value, unit, value, "mmol/L", fired, rule, grade, ref, ref_note))


def _temperature(R: LabRules, analyte, value, unit, *, duration_hours, ref_note, **_) -> Graded:
    rule = R.rules[f"temperature:{unit}"]
    grade, fired = apply_rule(rule, value, None)
    cold = R.rules[f"temperature_low:{unit}"]
    g_cold, f_cold = apply_rule(cold, value, None)
    if g_cold is not None:
        rule, grade, fired = cold, g_cold, f_cold
    si = value if unit == "C" else (value - 32.0) * 5.0 / 9.0
    text = detail(value, unit, si, "C", fired, rule, grade, None, ref_note)
    if grade == 3 and rule.term == "Fever" and duration_hours is not None and duration_hours > 24:
        grade = 4
        text += f"; lasted {fmt(duration_hours)} h > 24 h (CTCAE Fever grade 4)"
    return Graded(grade, rule.term, round(si, 2), "C", text)


def _blood_pressure(R: LabRules, analyte, value, unit, *, diastolic, **_) -> Graded:
    systolic_rule, diastolic_rule = R.rules["bp_systolic"], R.rules["bp_diastolic"]
    g_sys, f_sys = apply_rule(systolic_rule, value, None)
    parts, grade = [], None
    if g_sys is not None:
        parts.append(f"systolic {fmt(value)} {f_sys[0]} {fmt(f_sys[1])} mmHg (grade {g_sys})")
        grade = g_sys
    if diastolic is not None:
        g_dia, f_dia = apply_rule(diastolic_rule, diastolic, None)
        if g_dia is not None:
            parts.append(f"diastolic {fmt(diastolic)} {f_dia[0]} {fmt(f_dia[1])} mmHg (grade {g_dia})")
            grade = max(grade or 0, g_dia)
    shown = f"{fmt(value)}/{fmt(diastolic)}" if diastolic is not None else fmt(value)
    if grade is None:
        lowest = (systolic_rule.cuts[0].threshold, diastolic_rule.cuts[0].threshold)
        text = f"BP {shown} mmHg is below the CTCAE adult hypertension thresholds ({fmt(lowest[0])}/{fmt(lowest[1])})"
    else:
        text = f"BP {shown} mmHg: " + ", ".join(parts) + f" (CTCAE {systolic_rule.term} grade {grade}, adult criteria)"
    return Graded(grade, systolic_rule.term, value, "mmHg", text)


def _ratio(R: LabRules, analyte, value, unit, *, uln, lln=None, baseline, symptomatic, ref_note, **_) -> Graded:
    """Multiples of the ULN and, where CTCAE says so, of an abnormal baseline."""
    baseline_rule = R.rules.get(f"{analyte}:baseline")
    if unit == "x baseline" and baseline_rule is None:
        raise ValueError(f"CTCAE grades {analyte!r} by multiples of the ULN, not of baseline")
    if unit == "x ULN":
        ratio, how = value, f"{fmt(value)} x ULN"
    elif unit == "x baseline":
        ratio, how = None, None
    else:
        ref = uln if uln is not None else R.reference_ranges[analyte][unit][1]
        ratio = value / ref
        how = f"{fmt(value)} {unit} / ULN {fmt(ref)} {unit} ({ref_note}) = {fmt(round(ratio, 2))} x ULN"
    rule = R.rules[analyte]
    grade, fired = None, None
    parts = []
    if ratio is not None:
        grade, fired = apply_rule(rule, ratio, None)
        symptomatic_rule = R.rules.get(f"{analyte}:symptomatic")
        if symptomatic and symptomatic_rule is not None:
            g_s, f_s = apply_rule(symptomatic_rule, ratio, None)
            if g_s is not None and (grade is None or g_s > grade):
                grade, fired = g_s, (f_s[0], f_s[1], " with signs or symptoms")
        if fired:
            parts.append(f"{how} {fired[0]} {fmt(fired[1])} x ULN{fired[2] if len(fired) > 2 else ''} (grade {grade})")
        else:
            parts.append(f"{how} is not above the ULN")
    b_ratio = None
    if unit == "x baseline":
        b_ratio = value
    elif baseline is not None and unit != "x ULN" and baseline_rule is not None:
        ref = uln if uln is not None else R.reference_ranges[analyte][unit][1]
        low = lln if lln is not None else R.reference_ranges[analyte][unit][0]
        # the rule's baseline_when: v5 creatinine always; liver tests for an abnormal (>ULN)
        # baseline; v6 creatinine only for a baseline below the LLN
        when = baseline_rule.baseline_when
        if when == "always" or (when == "above_ULN" and baseline > ref) or (when == "below_LLN" and low is not None and baseline < low):
            b_ratio = value / baseline
    if b_ratio is not None:
        g_b, f_b = apply_rule(baseline_rule, b_ratio, None)
        if f_b:
            parts.append(f"{fmt(round(b_ratio, 2))} x baseline {f_b[0]} {fmt(f_b[1])} x baseline (grade {g_b})")
        if baseline_rule.baseline_when != "above_ULN" or unit == "x baseline":
            if g_b is not None and (grade is None or g_b > grade):
                grade = g_b
        else:  # abnormal baseline: CTCAE uses the baseline multiples instead of the ULN ones
            grade = g_b
    si_value = ratio if ratio is not None else b_ratio
    si_unit = "x ULN" if ratio is not None else "x baseline"
    text = f"{R.analytes[analyte].name} " + "; ".join(parts)
    if grade is not None:
        text += f" (CTCAE {rule.term} grade {grade})"
    return Graded(grade, rule.term, round(si_value, 4), si_unit, text)


def _direct(R: LabRules, analyte, value, unit, *, lln, uln, baseline, ref_note, **_) -> Graded:
    native, prefix = unit, ""
    if unit == "mEq/L":
        prefix = f"{fmt(value)} mEq/L = "
        value, native = value * R.meq_to_mmol.get(analyte, 1.0), "mmol/L"
    ranges = R.reference_ranges.get(analyte, {}).get(native, (None, None))
    low = lln if lln is not None else ranges[0]
    high = uln if uln is not None else ranges[1]
    sides = R.direct[analyte]
    rule = grade = fired = ref = None
    if "low" in sides:
        cand = R.rules[f"{analyte}_low:{native}"]
        g, f = apply_rule(cand, value, low)
        if g is not None:
            rule, grade, fired, ref = cand, g, f, low
    if grade is None and "high" in sides:
        cand = R.rules[f"{analyte}_high:{native}"]
        g, f = apply_rule(cand, value, high)
        if g is not None:
            rule, grade, fired, ref = cand, g, f, high
    extra = ""
    if analyte == "ef" and baseline is not None and baseline > value:
        # CTCAE "Ejection fraction decreased": absolute drop of 10-19% grade 2, >= 20% grade 3
        drop = baseline - value
        g_drop = 3 if drop >= 20 else (2 if drop >= 10 else None)
        if g_drop is not None and (grade is None or g_drop > grade):
            rule = R.rules["ef_low:%"]
            grade, fired = g_drop, None
            extra = f"; drop of {fmt(drop)} points from baseline {fmt(baseline)}% ({'>=20' if g_drop == 3 else '10-19'}% drop: grade {g_drop})"
    if rule is None:
        rule = R.rules[f"{analyte}_{sides[0]}:{native}"]
        ref = low if rule.direction == "low" else high
        other = R.direct_other_side.get(analyte)
        if other and high is not None and value > high:
            text = f"{show(value, native)}: CTCAE v{R.ctcae_version} grades {other} by the intervention needed, not by the value"
            return Graded(None, other, value, native, text)
    if fired is None and grade is not None:
        text = f"{show(value, native)}{extra} (CTCAE {rule.term} grade {grade})"
    else:
        text = detail(value, native, value, native, fired, rule, grade, ref, ref_note) + extra
    return Graded(grade, rule.term, round(value, 6), native, prefix + text)


#: grader name (``analytes.<key>.grader`` in the lab table) -> function
GRADERS: Dict[str, Callable[..., Graded]] = {
    "count": _count,
    "hemoglobin": _hemoglobin,
    "electrolyte": _electrolyte,
    "temperature": _temperature,
    "blood_pressure": _blood_pressure,
    "ratio": _ratio,
    "direct": _direct,
}


def grade_value(
    R: LabRules,
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
) -> Graded:
    """Grade ``value`` (in the unit label ``unit``) of ``analyte`` with its family's grader."""
    family, factor, unit_si = R.units[unit]
    if not R.unit_allowed(analyte, unit):
        raise ValueError(f"unit {unit!r} does not fit analyte {analyte!r} (allowed: {R.analytes[analyte].units})")
    grader = GRADERS[R.analytes[analyte].grader]
    return grader(
        R, analyte, value, unit, factor=factor, unit_si=unit_si, uln=uln, lln=lln, baseline=baseline,
        symptomatic=symptomatic, duration_hours=duration_hours, diastolic=diastolic,
        ref_note="stated" if ref_stated else "assumed adult default",
    )
