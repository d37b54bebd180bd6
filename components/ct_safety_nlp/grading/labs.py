"""Lab values in text, graded against the CTCAE thresholds of :class:`LabRules`.

:func:`find_lab_values` reads "ANC 0.4 x 10^9/L", "platelet count was
22,000/mm3", "Hb 7.9 g/dL", "ALT 250 U/L (ULN 40)", "ALT 5.2 x ULN",
"bilirubin 3 times the upper limit of normal", "K+ 6.1 mEq/L", "sodium 118",
"temperature 39.5 °C", "fever of 103 F", "BP 165/100 mmHg". :func:`grade_lab`
grades one given value.

Assumptions (documented in the lab table, ``resources/lab_rules.yml``): CTCAE
grade 1 for many labs starts at the LLN or ULN, which text rarely gives. A
stated reference ("ULN 40", "normal 7-56", "upper limit of normal 1.2") is
used; otherwise the adult default of the table is, and the evidence says
"assumed". Thresholds that are absolute in CTCAE (ANC < 1.5, platelets < 75,
K > 5.5, ...) never depend on these defaults. A value without a unit is read
in the unit its magnitude implies (ANC 400 -> /mm3, ANC 0.4 -> 10^9/L; the
evidence says "unit not stated"); percentages, doses and durations are
skipped; "from A to B" takes B; a value written as a bound ("INR <1.7",
"platelets >100") keeps only the grade every value beyond the bound has.
"""

from __future__ import annotations

import math
import re
from typing import List, Optional, Tuple

from ..text import parse_number
from .findings import GradeFinding, LabFinding
from .graders import Graded, fmt, grade_value
from .tables import LabRules, default_lab_rules

__all__ = ["find_lab_values", "grade_lab"]

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?![\d.,])|\d+(?:[.,]\d+)?(?!\d)|\.\d+"
_CMP = r"(?P<cmp><=|>=|≤|≥|<|>|below|above|under|over|less than|more than|greater than)?"
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
_DURATION_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "several": 2}
_LOW_CMP = ("<", "≤", "<=", "below", "under", "less than")
_HIGH_CMP = (">", "≥", ">=", "above", "over", "more than", "greater than")
_STRICT_CMP = ("<", "below", "under", "less than", ">", "above", "over", "more than", "greater than")


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
    rules: Optional[LabRules] = None,
) -> Optional[GradeFinding]:
    """Grade one lab value against the CTCAE thresholds.

    analyte_or_term: an analyte name or abbreviation ("ANC", "platelets", "Hb",
        "ALT", "K", "Na", "temperature", "BP") or a CTCAE term ("Platelet count
        decreased", "Hyperkalemia").
    unit: any spelling :func:`find_lab_values` understands ("x10^9/L", "/mm3",
        "g/dL", "mEq/L", "°F", "x ULN", "times the upper limit of normal", ...).
    uln / lln: stated reference limits (in ``unit``; for "x ULN" units not needed);
        the table's adult defaults otherwise. baseline: a baseline value in ``unit``
        (used for liver tests when above the ULN, and for creatinine).
    symptomatic: hyponatremia 125-129 -> grade 3, hypokalemia 3.0-LLN -> grade 2.
    duration_hours: fever > 40.0 C for more than 24 h -> grade 4.
    diastolic: for "BP", ``value`` is the systolic pressure.
    rules: the lab table (default: the shipped one).
    Returns None when the value is within the reference range;
    ValueError for an unknown analyte or a unit that does not fit it.
    """
    R = rules or default_lab_rules()
    analyte = R.resolve_analyte(analyte_or_term)
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"lab value must be a number, got {value!r}")
    canon = R.canonical_unit(unit) if unit else ""
    if canon is None or (canon == "" and "" not in R.analytes[analyte].units):
        raise ValueError(f"unknown unit {unit!r} for {analyte_or_term!r}")
    canon = R.fit_unit(analyte, canon)
    graded = grade_value(
        R, analyte, float(value), canon, uln=uln, lln=lln, baseline=baseline, symptomatic=symptomatic,
        duration_hours=duration_hours, diastolic=diastolic, ref_stated=(uln is not None or lln is not None),
    )
    if graded.grade is None:
        return None
    return GradeFinding(graded.grade, "lab", f"lab: {graded.detail}", 0, 0, graded.term)


def find_lab_values(text: str, rules: Optional[LabRules] = None) -> List[LabFinding]:
    """Every analyte + value (+ unit) in ``text``, graded; in text order, one per value."""
    if not isinstance(text, str):
        raise TypeError(f"find_lab_values expects a str, got {type(text).__name__}")
    R = rules or default_lab_rules()
    findings: List[LabFinding] = []
    taken: List[Tuple[int, int]] = []
    for m in R.analyte_re.finditer(text):
        name = m.group(0)
        try:
            analyte = R.resolve_analyte(name)
        except ValueError:
            continue
        if R.excluded(analyte, text[max(0, m.start() - 12) : m.start()], text[m.end() :]):
            continue  # "direct bilirubin", "creatinine clearance", "platelet transfusion", ...
        finding = _value_after(R, text, m, analyte, require_unit=name in R.unit_required)
        if finding is None or any(finding.start_char < e and s < finding.end_char for s, e in taken):
            continue
        taken.append((finding.start_char, finding.end_char))
        findings.append(finding)
    # "fever of 39.5 °C" / "febrile to 40.2": fever words introduce temperatures
    for m in R.fever_re.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        finding = _value_after(R, text, m, "temperature", require_unit=m.group(0).lower() not in ("temperature", "temp"))
        if finding is None or any(finding.start_char < e and s < finding.end_char for s, e in taken):
            continue
        taken.append((finding.start_char, finding.end_char))
        findings.append(finding)
    findings.sort(key=lambda f: f.start_char)
    return findings


def _value_after(R: LabRules, text: str, m: re.Match, analyte: str, require_unit: bool = False) -> Optional[LabFinding]:
    window_end = min(len(text), m.end() + 60)
    rest = text[m.end() : window_end]
    # stop at a sentence/clause boundary
    stop = re.search(r"[;.](?:\s|$)|\band\b(?=\s+(?:the\s+)?[A-Za-z]{2,}\s)", rest)
    if R.analytes[analyte].grader == "blood_pressure":
        bp = _BP_RE.search(rest)
        if bp is None or not R.bridge_re.match(rest[: bp.start()]):
            return None
        systolic, diastolic = float(bp.group("sys")), float(bp.group("dia"))
        if not (60 <= systolic <= 300 and 30 <= diastolic <= 200):
            return None
        start, end = m.start(), m.end() + bp.end()
        graded = grade_value(R, analyte, systolic, "mmHg", diastolic=diastolic)
        return _lab_finding(analyte, graded, systolic, "mmHg", start, end, text, "")
    for vm in _VALUE_RE.finditer(rest):
        if stop is not None and vm.start() > stop.start():
            return None
        if not R.bridge_re.match(rest[: vm.start()]):
            return None
        if analyte != "ef" and re.match(r"\s*%", rest[vm.end() :]):
            return None  # a percentage (differential count, change), not a value
        # a number glued to letters ("CD4") or part of a date is not a value
        if vm.start("num") > 0 and rest[vm.start("num") - 1].isalpha():
            return None
        value = parse_number(vm.group("num"))
        after = rest[vm.end() :]
        um = re.match(r"\s*", after)
        unit_match = None
        for cand in R.unit_re.finditer(after[um.end() : um.end() + 50]):
            if cand.start() == 0:
                unit_match = cand
            break
        unit = None
        if unit_match is not None:
            unit = R.canonical_unit(unit_match.group(0))
            if unit is not None:
                unit = R.fit_unit(analyte, unit)
                if not R.unit_allowed(analyte, unit):
                    return None
        note = ""
        if unit is None:
            if require_unit:
                return None
            unit = R.infer_unit(analyte, value)
            if unit is None:
                return None
            note = f"unit not stated; {unit} assumed from the magnitude" if unit else ""
        cmp_ = (vm.group("cmp") or "").lower()
        graded_value = value
        if cmp_ in _LOW_CMP:
            graded_value = value - (1e-6 if cmp_ in _STRICT_CMP else 0)
        elif cmp_ in _HIGH_CMP:
            graded_value = value + (1e-6 if cmp_ in _STRICT_CMP else 0)
        end_rel = vm.end() + (um.end() + unit_match.end() if unit_match is not None else 0)
        start, end = m.start(), m.end() + end_rel
        tail = text[end : min(len(text), end + 80)]
        uln = lln = baseline = None
        ref_stated = False
        if unit not in ("x ULN", "x baseline"):
            ref = _REF_RE.search(tail)
            if ref is not None and not _VALUE_RE.search(tail[: ref.start()]) and ref.start() < 40:
                a, b = float(ref.group("a")), ref.group("b")
                high_side = R.analytes[analyte].grader not in ("count", "hemoglobin")
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
                unit_tail = R.unit_re.match(text[end:].lstrip()) if text[end : end + 1] == " " else None
                if unit_tail is not None:
                    end += len(text[end:]) - len(text[end:].lstrip()) + unit_tail.end()
            bl = _BASELINE_RE.search(tail)
            if bl is not None and bl.start() < 50:
                baseline = float(bl.group("v"))
        quoted = text[start:end]
        if quoted.count("(") > quoted.count(")") and text[end:].lstrip(" ").startswith(")"):
            end = end + (len(text[end:]) - len(text[end:].lstrip(" "))) + 1  # close "(7.2 x ULN)"
        context = text[max(0, m.start() - 80) : min(len(text), end + 80)]
        symptomatic = bool(_SYMPTOMATIC_RE.search(context)) if analyte in R.symptomatic_analytes else False
        duration = None
        if R.analytes[analyte].grader == "temperature":
            dm = _DURATION_24H_RE.search(text[end : min(len(text), end + 60)])
            if dm is not None:
                if dm.group("h"):
                    duration = float(dm.group("h"))
                else:
                    d = dm.group("d").lower()
                    duration = 24.0 * (float(d) if d.isdigit() else _DURATION_WORDS[d])
        kwargs = dict(uln=uln, lln=lln, baseline=baseline, symptomatic=symptomatic, duration_hours=duration, ref_stated=ref_stated)
        try:
            graded = grade_value(R, analyte, graded_value, unit, **kwargs)
        except (ValueError, KeyError, ZeroDivisionError):
            return None
        if cmp_:
            # "<X" / ">X" is a bound: keep only the grade every value beyond it has
            below = graded_value < value or cmp_ in ("≤", "<=")
            extreme = value * (1e-3 if below else 1e3)
            try:
                far = grade_value(R, analyte, extreme, unit, **kwargs)
            except (ValueError, KeyError, ZeroDivisionError):
                far = None
            note = (note + "; " if note else "") + f"value stated as '{vm.group('cmp')}{vm.group('num')}'"
            stated = f"{vm.group('cmp').strip()}{fmt(value)}"
            if graded.grade is not None and (far is None or far.term != graded.term or far.grade is None):
                shown = f"{stated} {'' if unit in ('', '%') else unit + ' '}includes values without a CTCAE {graded.term} grade: not graded"
                graded = Graded(None, graded.term, graded.value_si, graded.unit_si, shown.replace("  ", " "))
            elif graded.grade is not None:
                graded.detail = graded.detail.replace(fmt(value), stated, 1)
                note += f", graded as just {'below' if below else 'above'} {vm.group('num')}"
        return _lab_finding(analyte, graded, value, unit, start, end, text, note)
    return None


def _lab_finding(analyte, graded: Graded, value, unit, start, end, text, note) -> LabFinding:
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
