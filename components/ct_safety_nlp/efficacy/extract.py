"""Tumour-response assessments in text: stated responses, lesion measurements,
new lesions and non-target lesions, each with RECIST 1.1 applied and evidence.

:func:`find_responses` is the whole analysis, a function of the text, the
compiled rule table (:class:`~ct_safety_nlp.efficacy.rules.CompiledRules`) and a
ConText matcher (:class:`~ct_safety_nlp.context.ContextMatcher`); the
``ct_efficacy`` component is a thin layer over it.

How the text is read
--------------------
* *Units*: sentences (the Doc's, else :func:`ct_safety_nlp.text.split_sentences`),
  cut again before report headings ("TARGET LESIONS:", "Non-target:",
  "New lesions:", "IMPRESSION:"). A heading opens a *section* that lasts to
  the next heading or the end of the paragraph (blank line).
* *Timepoint*: the first one a unit names ("week 8", "C4D1", "cycle 6",
  "2024-03-12", "14 March 2024", "6-month"), else the previous unit's in the
  same paragraph; a date right after "baseline" is the baseline's, not this
  assessment's. Units in a paragraph with one timepoint form a *block*: one
  time point's assessment.
* *Measurements*: a number with a unit (mm, cm converted to mm; inches,
  volumes and areas reported with ``mm`` null, never converted); "2.5 x 1.8 cm"
  (longest diameter, or the short axis for a lymph node: RECIST 1.1 4.3.2);
  "6 and 8 mm"; "31 -> 24" under a heading that names the unit; "too small to
  measure" (5 mm, 4.3.2); a target lesion that "has resolved" / "is no longer
  visible" (0 mm). Each has a *role* from the words around it (baseline,
  nadir, prior scan, else current) and a *kind* (a sum of diameters, or one
  lesion). Numbers of mm Hg, slice thickness and "/mm3" counts are not
  measurements.
* *Groups*: the measurements of one target-lesion section, else of one
  unit, make one ``measured`` assessment; a unit that only states a baseline
  or nadir joins the previous group. The sum is the stated sum, else the sum
  of the lesions; a reference sum likewise (only if every lesion has one).
  When a sum has no baseline of its own, the baseline sum stated earlier in
  the text is used, and earlier sums bound the nadir (each said in the
  evidence).
* *Stated* responses ("partial response", "progressive disease", "stable
  disease", "no evidence of disease", "not evaluable", and the codes CR / PR /
  SD / PD / NE after a response word); *target* statements ("all target
  lesions have disappeared", "target lesions: stable"); *non-target*
  statements (CR, non-CR/non-PD, PD); *new lesions* (present, absent,
  equivocal). Negation, speculation and history come from the library's
  ConText rules plus the table's radiology cues; a cue inside the phrase
  itself ("no evidence of disease") does not count.

What each assessment's ``response`` means: for a stated response, the
category stated (null when negated, speculated or history). For a measured or
target statement, the RECIST 1.1 time point response (Table 1) of the target
response with the non-target response and new lesions stated in the same
block; what is not stated is not assumed (the evidence says so). For a new
lesion, PD (4.3.5); for non-target progression, PD.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..context import NEGATED, SPECULATED, ContextMatcher
from ..text import split_sentences
from . import recist
from .rules import CompiledRules

#: every key of a ``doc._.ct_responses`` dict, in this order
RESPONSE_KEYS = (
    "text", "start_char", "end_char", "response", "basis", "target_response", "non_target_response", "new_lesions",
    "measurements", "sum_mm", "baseline_sum_mm", "nadir_sum_mm", "percent_change_from_baseline",
    "percent_change_from_nadir", "change_from_nadir_mm", "negated", "speculated", "historical", "timepoint",
    "timepoint_days", "timepoint_date", "evidence",
)
#: every key of a measurement dict
MEASUREMENT_KEYS = (
    "text", "start_char", "end_char", "value", "unit", "mm", "long_axis_mm", "short_axis_mm", "lymph_node", "role", "kind",
)
BASES = ("stated", "measured", "new_lesion", "non_target")

_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_CLAUSE_PARTS = re.compile(r"[,;:]|\band\b|\bwith\b|\bwhile\b|\bwhereas\b|\bbut\b|\bhowever\b", re.IGNORECASE)
_WORD = re.compile(r"[\w'.-]+")


# ------------------------------------------------------------------ units, sections, timepoints
@dataclass
class _Unit:
    start: int
    end: int
    para: int
    section: Optional[str] = None
    header: Optional[Tuple[int, int]] = None  # the heading that opened this unit's section
    timepoint: Optional[Dict[str, Any]] = None
    block: int = 0


def _paragraphs(text: str) -> List[Tuple[int, int]]:
    spans, pos = [], 0
    for m in re.finditer(r"\n[ \t]*\n", text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    return spans


def _units(text: str, sentences: Sequence[Tuple[int, int]], rules: CompiledRules) -> List[_Unit]:
    paras = _paragraphs(text)
    para_of = lambda pos: next((i for i, (s, e) in enumerate(paras) if s <= pos <= e), len(paras) - 1)  # noqa: E731
    units: List[_Unit] = []
    for s, e in sentences:
        cuts = {s}
        for rx, _ in rules.sections:
            for m in rx.finditer(text, s, e):
                # a heading starts a line or follows ".", ";" (not "progression of non-target lesions:")
                if m.start() > s and text[s:m.start()].strip() and re.search(r"(?:^|[.;\n])\s*$", text[s:m.start()]):
                    cuts.add(m.start())
        bounds = sorted(cuts) + [e]
        for a, b in zip(bounds, bounds[1:]):
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if a < b:
                units.append(_Unit(a, b, para_of(a)))
    prev: Optional[_Unit] = None
    for u in units:
        head = None
        for rx, section in rules.sections:
            m = rx.match(text, u.start, u.end)
            if m is None:
                # headings like "TARGET LESIONS:" may follow a list number "1." of the previous unit
                m = rx.search(text, u.start, min(u.end, u.start + 4))
            if m is not None:
                head = (section, m.start(), m.end())
                break
        if head is not None:
            u.section, u.header = head[0], (head[1], head[2])
        elif prev is not None and prev.para == u.para and prev.section in ("target", "non_target", "new_lesion"):
            u.section, u.header = prev.section, prev.header
        prev = u
    # timepoints and blocks
    block, last_tp, last_para = 0, None, None
    for u in units:
        tp = _timepoint(text, u, rules)
        if u.para != last_para:
            if last_para is not None:
                block += 1
            last_tp = None
        if tp is not None:
            if last_tp is not None and tp["timepoint"].lower() != last_tp["timepoint"].lower():
                block += 1
            last_tp = tp
        u.timepoint = last_tp
        u.block = block
        last_para = u.para
    return units


def _timepoint(text: str, u: _Unit, rules: CompiledRules) -> Optional[Dict[str, Any]]:
    found = []
    for rx, kind in rules.timepoints:
        for m in rx.finditer(text, u.start, u.end):
            if rules.timepoint_exclude_before.search(text[u.start : m.start()]):
                continue
            found.append((m.start("tp"), m, kind))
    if not found:
        return None
    start, m, kind = min(found, key=lambda f: f[0])
    tp = m.group("tp")
    n = m.groupdict().get("n")
    days = None
    if n is not None and n.isdigit():
        n = int(n)
        days = {"week": 7 * n, "day": n, "month": int(round(n * 30.4375))}.get(kind)
    return {"timepoint": tp, "timepoint_days": days, "timepoint_date": _iso_date(tp, kind)}


def _iso_date(tp: str, kind: str) -> Optional[str]:
    try:
        if kind == "iso_date":
            return _dt.date.fromisoformat(tp).isoformat()
        if kind == "date":
            parts = re.findall(r"[A-Za-z]+|\d+", tp)
            words = [p for p in parts if p.isalpha()]
            nums = [int(p) for p in parts if p.isdigit()]
            month = _MONTHS.get(words[0][:3].lower()) if words else None
            if month is None or len(nums) != 2:
                return None
            day, year = (nums[0], nums[1]) if nums[1] > 31 else (nums[1], nums[0])
            return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None
    return None


# ------------------------------------------------------------------ measurements
@dataclass
class _Meas:
    start: int
    end: int
    value: Optional[float]
    unit: str
    mm: Optional[float]
    long_axis_mm: Optional[float]
    short_axis_mm: Optional[float]
    dims: List[float]
    factor: Optional[float]
    role: str = "current"
    kind: str = "lesion"
    lymph_node: bool = False
    cue: Optional[str] = None
    note: Optional[str] = None
    unit_ix: int = 0

    def as_dict(self, text: str) -> Dict[str, Any]:
        return {
            "text": text[self.start : self.end], "start_char": self.start, "end_char": self.end, "value": self.value,
            "unit": self.unit, "mm": self.mm, "long_axis_mm": self.long_axis_mm, "short_axis_mm": self.short_axis_mm,
            "lymph_node": self.lymph_node, "role": self.role, "kind": self.kind,
        }


def _to_mm(number: str, factor) -> float:
    return float(Decimal(number) * Decimal(repr(factor)))


def _make_meas(start, end, numbers: List[str], unit: Dict[str, Any]) -> _Meas:
    factor = unit["mm_per_unit"]
    value = float(numbers[0])
    if factor is None:
        return _Meas(start, end, value, unit["unit"], None, None, None, [], None, note=unit.get("note"))
    dims = [_to_mm(n, factor) for n in numbers]
    return _Meas(start, end, value, unit["unit"], dims[0], max(dims) if len(dims) > 1 else None,
                 min(dims) if len(dims) > 1 else None, dims, factor)


def _find_measurements(text: str, u: _Unit, ui: int, rules: CompiledRules, excluded: List[Tuple[int, int]]) -> List[_Meas]:
    found: List[_Meas] = []
    s, e = u.start, u.end
    for m in rules.measure_re.finditer(text, s, e):
        if rules.not_after.match(text[m.end() : e]) or rules.not_before.search(text[max(s, m.start() - 30) : m.start()]):
            continue
        unit = rules.unit_of(m)
        numbers = [g for g in (m.group("a"), m.group("b"), m.group("c")) if g]
        meas = _make_meas(m.start(), m.end(), numbers, unit)
        found.append(meas)
        # "6 and 8 mm", "from 40 to 49 mm": earlier bare numbers share the unit
        pos = m.start()
        while True:
            lm = rules.list_before_re.search(text[s:pos])
            if lm is None:
                break
            n_start, n_end = s + lm.start("n"), s + lm.end("n")
            if re.search(r"(?i)(?:recist|version|grade|cycle|week|day|month|segment|lesion|\bC|\bD|#|\bx|×)\s*$", text[max(s, n_start - 12) : n_start]):
                break
            found.append(_make_meas(n_start, n_end, [text[n_start:n_end]], unit))
            pos = n_start
    # "31 -> 24" under a heading that names the unit
    if u.section == "target" and u.header is not None:
        head_text = text[u.header[0] : u.header[1]]
        hu = rules.arrow_unit.search(head_text)
        if hu is not None:
            unit = next(x for x in rules.table["units"] if x["unit"] == hu.group("unit").lower())
            first_role = "baseline" if rules.arrow_baseline_first.search(head_text) else "prior"
            for m in rules.arrow.finditer(text, s, e):
                if any(f.start < m.end() and m.start() < f.end for f in found):
                    continue
                a = _make_meas(m.start("a"), m.end("a"), [m.group("a")], unit)
                a.role, a.cue = first_role, "the heading's column order"
                b = _make_meas(m.start("b"), m.end("b"), [m.group("b")], unit)
                b.cue = f"unit {unit['unit']} from the heading"
                found.extend([a, b])
    # target lesions that disappeared (0 mm) or are too small to measure (5 mm, RECIST 1.1 4.3.2)
    target_ctx = u.section == "target"
    for rx_list, mm, label in ((rules.too_small, recist.TOO_SMALL_TO_MEASURE_MM, "too small to measure"),
                               (rules.lesion_disappeared, 0.0, "disappeared")):
        for rx in rx_list:
            for m in rx.finditer(text, s, e):
                if any(a < m.end() and m.start() < b for a, b in excluded) or any(
                    f.start < m.end() and m.start() < f.end for f in found
                ):
                    continue
                part = _part_around(text, u, m.start(), m.end())
                if not (target_ctx or rules.target_context.search(text[part[0] : m.end()]) or label.startswith("too")):
                    continue
                meas = _Meas(m.start(), m.end(), mm, "mm", mm, None, None, [mm], 1)
                meas.cue = (f"'{m.group(0)}': RECIST 1.1 4.3.2 records {mm:g} mm" if mm else f"'{m.group(0)}': 0 mm")
                found.append(meas)
    found = [f for f in found if not any(a <= f.start and f.end <= b for a, b in excluded)]
    found.sort(key=lambda f: f.start)
    for f in found:
        f.unit_ix = ui
    _roles_and_kinds(text, u, found, rules)
    return found


def _part_around(text: str, u: _Unit, start: int, end: int) -> Tuple[int, int]:
    """The piece of the unit around [start, end) between commas, semicolons, colons and conjunctions."""
    a, b = u.start, u.end
    for m in _CLAUSE_PARTS.finditer(text, u.start, u.end):
        if m.end() <= start:
            a = m.end()
        elif m.start() >= end:
            b = m.start()
            break
    return a, b


def _roles_and_kinds(text: str, u: _Unit, found: List[_Meas], rules: CompiledRules) -> None:
    for i, f in enumerate(found):
        left_bound = found[i - 1].end if i > 0 else u.start
        right_bound = found[i + 1].start if i + 1 < len(found) else u.end
        before, after = text[left_bound : f.start], text[f.end : right_bound]
        if f.role == "current" and f.cue is None or f.role == "current" and "heading" in (f.cue or ""):
            for rx, role in rules.roles["after"]:
                m = rx.match(after)
                if m:
                    f.role, f.cue = role, f"'{m.group(0).strip()}'"
                    break
            else:
                for rx, role in rules.roles["before"]:
                    m = rx.search(before)
                    if m:
                        f.role, f.cue = role, f"'{m.group(0).strip()}'"
                        break
                else:
                    for rx, role in rules.roles["clause_start"]:
                        m = rx.search(text[u.start : f.start])
                        if m and i == 0:
                            f.role, f.cue = role, f"'{m.group(0).strip()}'"
                            break
        # kind: a sum of diameters, or one lesion
        sm = None
        for sm in rules.sum_before.finditer(before):
            pass
        if sm is not None and not rules.lesion_nouns.search(before[sm.end() :]):
            f.kind = "sum"
        elif rules.sum_after.match(after):
            f.kind = "sum"
        # lymph node: the words since the previous measurement (at most 80 characters), or "short axis" after
        near = before[-80:]
        if rules.lymph_node.search(near) or rules.short_axis.match(after.lstrip()[:20]) or re.match(
            r"\s*(?:in\s+)?short[\s-]+axis", after, re.IGNORECASE
        ):
            f.lymph_node = True
        if f.lymph_node and len(f.dims) > 1:
            f.mm = min(f.dims)
        elif len(f.dims) > 1:
            f.mm = max(f.dims)
        if f.lymph_node and len(f.dims) == 1 and re.search(r"short[\s-]+axis", near + after[:20], re.IGNORECASE):
            f.short_axis_mm = f.mm


# ------------------------------------------------------------------ findings
@dataclass
class _Finding:
    basis: str
    start: int
    end: int
    unit_ix: int
    response: Optional[str] = None
    mentioned: Optional[str] = None  # the category the words name, before context
    target_response: Optional[str] = None
    non_target_response: Optional[str] = None
    new_lesions: Optional[bool] = None
    negated: bool = False
    speculated: bool = False
    historical: bool = False
    measurements: List[_Meas] = field(default_factory=list)
    evidence: List[str] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)


def _context(matcher: ContextMatcher, text: str, start: int, end: int, u: _Unit, inside_ok: bool = False):
    """ConText flags of text[start:end] within its unit; cues inside the phrase itself do not count."""
    res = matcher.assess(text, start, end, (u.start, u.end))
    hits = [h for h in res.hits if inside_ok or not (start <= h.start_char and h.end_char <= end)]
    flags = {c: any(h.category == c for h in hits) for c in ("negated", "speculated", "historical")}
    return flags, [h.evidence() for h in hits]


def _overlaps(a: Tuple[int, int], spans: Iterable[Tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in spans)


def _non_target(text, units, rules, matcher) -> List[_Finding]:
    out: List[_Finding] = []
    for ui, u in enumerate(units):
        mentions = []
        for rx in rules.nt_mentions:
            for m in rx.finditer(text, u.start, u.end):
                if not _overlaps((m.start(), m.end()), [(x.start(), x.end()) for x in mentions]):
                    mentions.append(m)
        if not mentions and u.section == "non_target" and u.header is not None and u.start == u.header[0]:
            mentions = [re.compile(re.escape(text[u.header[0] : u.header[1]])).match(text, u.header[0])]
        for m in mentions:
            part = _part_around(text, u, m.start(), m.end())
            windows = [part]
            header = re.match(r"\s*(?:\([^)]*\))?\s*:", text[m.end() : u.end])
            if header:
                windows.append((m.end() + header.end(), u.end))
            span = (min(w[0] for w in windows), max(w[1] for w in windows))
            span = _trim(text, *span)
            f = _Finding("non_target", span[0], span[1], ui)
            cues: Dict[str, List[str]] = {}
            for a, b in windows:
                for rx, category in rules.nt_status:
                    for c in rx.finditer(text, a, b):
                        if a <= m.start() < c.end() and c.start() < m.end():
                            continue
                        flags, ev = _context(matcher, text, c.start(), c.end(), u)
                        word = c.group(0).strip()
                        if category == recist.PD and (flags["negated"] or flags["speculated"]):
                            f.evidence.append(f"non-target: '{word}' is {'negated' if flags['negated'] else 'speculated'}: not PD")
                            f.evidence.extend(ev)
                            if flags["negated"]:
                                cues.setdefault(recist.NON_CR_NON_PD, []).append(f"no {word}")
                            continue
                        cues.setdefault(category, []).append(word)
            if recist.PD in cues:
                f.non_target_response = recist.PD
            elif recist.CR in cues and recist.NON_CR_NON_PD not in cues:
                f.non_target_response = recist.CR
            elif recist.NON_CR_NON_PD in cues:
                f.non_target_response = recist.NON_CR_NON_PD
            if f.non_target_response is None:
                f.evidence.append("non-target lesions named without a status the rules know: no non-target response")
            else:
                f.evidence.append(
                    f"RECIST 1.1 4.3.3: non-target {f.non_target_response} ('{', '.join(cues[f.non_target_response])}')"
                )
            if f.non_target_response == recist.PD:
                f.response = recist.PD
                f.evidence.append("RECIST 1.1 Table 1: unequivocal non-target progression is PD")
            out.append(f)
    return out


def _trim(text: str, a: int, b: int) -> Tuple[int, int]:
    while a < b and (text[a].isspace() or text[a] in ",;:"):
        a += 1
    while b > a and (text[b - 1].isspace() or text[b - 1] in ",;:."):
        b -= 1
    return a, b


def _new_lesions(text, units, rules, matcher) -> List[_Finding]:
    out: List[_Finding] = []
    for ui, u in enumerate(units):
        for rx in rules.new_mentions:
            for m in rx.finditer(text, u.start, u.end):
                start, end = m.start(), m.end()
                f = _Finding("new_lesion", start, end, ui)
                absent = rules.new_absent_after.match(text[end : u.end])
                present = rules.new_present_after.match(text[end : u.end])
                flags, ev = _context(matcher, text, start, end, u)
                if absent:
                    f.end = end + absent.end() - absent.start()
                    f.negated = True
                    f.evidence.append(f"new lesions: '{text[start:f.end]}'")
                elif present:
                    f.end = end + present.end() - present.start()
                f.negated = f.negated or flags["negated"]
                f.speculated = flags["speculated"] and not f.negated
                f.evidence.extend(ev)
                if f.negated:
                    f.new_lesions = False
                    f.evidence.append("no new lesions")
                elif f.speculated:
                    f.new_lesions = None
                    f.evidence.append("equivocal new lesion: not PD until confirmed (RECIST 1.1 4.3.5)")
                else:
                    f.new_lesions = True
                    f.response = recist.PD
                    f.evidence.append(f"RECIST 1.1 4.3.5: new lesion '{m.group(0)}' is PD")
                out.append(f)
    return out


def _stated(text, units, rules, matcher, blocked: List[Tuple[int, int]]) -> Tuple[List[_Finding], List[_Finding]]:
    """(target statements, stated responses)."""
    targets: List[_Finding] = []
    stated: List[_Finding] = []
    for ui, u in enumerate(units):
        exclusions = [(m.start(), m.end()) for rx in rules.stated_exclusions for m in rx.finditer(text, u.start, u.end)]
        cands: List[Tuple[int, int, str, str, int]] = []  # start, end, category, kind, order
        for order, (rx, cat) in enumerate(rules.target_stated):
            for m in rx.finditer(text, u.start, u.end):
                cands.append((m.start(), m.end(), cat, "target", order))
        for order, (rx, cat) in enumerate(rules.stated):
            for m in rx.finditer(text, u.start, u.end):
                cands.append((m.start(), m.end(), cat, "stated", 100 + order))
        for m in rules.code_re.finditer(text, u.start, u.end):
            window = text[max(u.start, m.start() - rules.code_window) : m.start()]
            if rules.code_context.search(window):
                cands.append((m.start(), m.end(), rules.codes[m.group(0)], "code", 200))
        cands = [c for c in cands if not _overlaps((c[0], c[1]), exclusions) and not _overlaps((c[0], c[1]), blocked)]
        # longest first, target statements before generic ones on ties
        cands.sort(key=lambda c: (-(c[1] - c[0]), c[4]))
        kept: List[Tuple[int, int, str, str, int]] = []
        for c in cands:
            if not _overlaps((c[0], c[1]), [(k[0], k[1]) for k in kept]):
                kept.append(c)
        for start, end, cat, kind, _ in sorted(kept):
            f = _Finding("stated", start, end, ui)
            flags, ev = _context(matcher, text, start, end, u)
            f.negated, f.speculated, f.historical = flags["negated"], flags["speculated"], flags["historical"]
            f.mentioned = cat
            f.evidence.append(f"stated: '{text[start:end]}' -> {cat}" + (" (target lesions)" if kind == "target" else ""))
            f.evidence.extend(ev)
            asserted = not (f.negated or f.speculated or f.historical)
            if not asserted:
                why = "negated" if f.negated else "speculated" if f.speculated else "history (an earlier response)"
                f.evidence.append(f"{why}: no response")
            if kind == "target":
                f.target_response = cat if asserted else None
                f.extra["target_statement"] = True
                targets.append(f)
            else:
                f.response = cat if asserted else None
                stated.append(f)
    return targets, stated


def _percent_statements(text: str, u: _Unit, ui: int, rules: CompiledRules) -> List[Dict[str, Any]]:
    out = []
    for rx, sign in rules.pct_change:
        for m in rx.finditer(text, u.start, u.end):
            value = float(m.group("pct"))
            if sign == 0:
                value = -value if m.group("sign") in "-\u2212\u2013" else value
            else:
                value = sign * value
            ref = None
            for rrx, reference in rules.pct_reference:
                if rrx.match(text[m.end() : u.end]):
                    ref = reference
                    break
            if not any(o["start"] < m.end() and m.start() < o["end"] for o in out):
                out.append({"start": m.start(), "end": m.end(), "value": value, "reference": ref, "unit_ix": ui,
                            "text": m.group(0)})
    return out


# ------------------------------------------------------------------ measured groups
@dataclass
class _Entity:
    current: Optional[_Meas] = None
    refs: Dict[str, _Meas] = field(default_factory=dict)
    kind: str = "lesion"

    def members(self) -> List[_Meas]:
        return ([self.current] if self.current else []) + list(self.refs.values())


def _entities(meas: List[_Meas]) -> List[_Entity]:
    out: List[_Entity] = []
    pending: Dict[str, _Meas] = {}
    for f in meas:
        if f.role == "current":
            ent = _Entity(current=f, refs=dict(pending))
            pending = {}
            out.append(ent)
        elif (out and out[-1].current is not None and f.role not in out[-1].refs and not pending
              and not (f.kind == "sum" and out[-1].current.kind != "sum")):
            out[-1].refs[f.role] = f
        else:
            if f.role in pending:
                out.append(_Entity(refs=dict(pending)))
                pending = {}
            pending[f.role] = f
    if pending:
        out.append(_Entity(refs=pending))
    for ent in out:
        members = ent.members()
        if any(m.kind == "sum" for m in members):
            ent.kind = "sum"
            for m in members:  # "52 mm, down from 80 mm at baseline": 80 is the sum's baseline
                m.kind = "sum"
        if ent.current is not None and ent.current.lymph_node:
            for r in ent.refs.values():
                if not r.lymph_node:
                    r.lymph_node = True
                    if len(r.dims) > 1:
                        r.mm = min(r.dims)
    return out


def _sum_of(ents: List[_Entity], role: str, evidence: List[str]) -> Optional[float]:
    """The sum of diameters for ``role`` ("current" or a reference) over a group's entities."""
    def get(e: _Entity) -> Optional[_Meas]:
        return e.current if role == "current" else e.refs.get(role)

    sums = [e for e in ents if e.kind == "sum" and get(e) is not None]
    if sums:
        m = get(sums[-1])
        return m.mm
    lesions = [e for e in ents if e.kind != "sum" and e.current is not None]
    if not lesions:
        return None
    values = [get(e) for e in lesions]
    if role != "current" and all(v is None for v in values):
        return None
    if any(v is None for v in values):
        missing = [f"'{e.current.unit}' lesion at {e.current.start}" for e, v in zip(lesions, values) if v is None]
        evidence.append(f"no {role} for {len(missing)} of {len(lesions)} lesions: no {role} sum")
        return None
    if any(v.mm is None for v in values):
        return None
    return float(sum(Decimal(repr(v.mm)) for v in values))


def _groups(text, units, meas_by_unit: Dict[int, List[_Meas]], pcts_by_unit: Dict[int, List[Dict[str, Any]]], rules):
    groups: List[Dict[str, Any]] = []
    current = None
    for ui, u in enumerate(units):
        ms, ps = meas_by_unit.get(ui, []), pcts_by_unit.get(ui, [])
        if u.section == "target":
            if current is not None and current["target"] and current["block"] == u.block and current["para"] == u.para:
                current["meas"].extend(ms)
                current["pcts"].extend(ps)
                current["units"].append(ui)
                continue
            current = {"meas": list(ms), "pcts": list(ps), "units": [ui], "block": u.block, "para": u.para, "target": True}
            groups.append(current)
            continue
        if not ms:
            usable = [p for p in ps if p["reference"] is not None]
            ctx = rules.target_context.search(text, u.start, u.end) or rules.sum_before.search(text, u.start, u.end) or (
                rules.lesion_nouns.search(text, u.start, u.end))
            if usable and ctx:
                current = {"meas": [], "pcts": list(ps), "units": [ui], "block": u.block, "para": u.para, "target": False}
                groups.append(current)
            continue
        only_refs = all(m.role in ("baseline", "nadir") for m in ms)
        if only_refs and current is not None and current["block"] == u.block and current["para"] == u.para:
            have = {m.role for m in current["meas"] if m.role != "current"}
            if not ({m.role for m in ms} & have) and any(m.role == "current" for m in current["meas"]):
                current["meas"].extend(ms)
                current["pcts"].extend(ps)
                current["units"].append(ui)
                continue
        # "Sum of target lesions 46 mm; baseline 78 mm" after a list of the lesions: one assessment
        if (any(m.role == "current" and m.kind == "sum" for m in ms) and current is not None and not current["target"]
                and current["block"] == u.block and current["para"] == u.para and current["meas"]
                and all(m.role == "current" and m.kind == "lesion" for m in current["meas"])):
            current["meas"].extend(ms)
            current["pcts"].extend(ps)
            current["units"].append(ui)
            continue
        current = {"meas": list(ms), "pcts": list(ps), "units": [ui], "block": u.block, "para": u.para, "target": False}
        groups.append(current)
    return groups


def _measured(text, units, group, rules, matcher, earlier: List[Dict[str, Any]], carry: bool) -> _Finding:
    meas, pcts = group["meas"], group["pcts"]
    spans = [(m.start, m.end) for m in meas] + [(p["start"], p["end"]) for p in pcts if p["reference"] or not meas]
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    first_unit = units[group["units"][0]]
    f = _Finding("measured", start, end, group["units"][0])
    f.measurements = meas
    ev = f.evidence
    ents = _entities(meas)
    for m in meas:
        desc = f"{m.role} {m.kind}" + (", lymph node" if m.lymph_node else "")
        if m.mm is None:
            ev.append(f"'{text[m.start:m.end]}': {desc}; unit {m.unit} is reported, not converted ({m.note})")
        else:
            conv = f" = {m.mm:g} mm" if m.unit != "mm" or len(m.dims) > 1 else ""
            ev.append(f"'{text[m.start:m.end]}'{conv}: {desc}" + (f" ({m.cue})" if m.cue else ""))
    unconverted = [m for m in meas if m.mm is None]
    cur = _sum_of(ents, "current", ev)
    base = _sum_of(ents, "baseline", ev)
    nadir = _sum_of(ents, "nadir", ev)
    lesion_ents = [e for e in ents if e.kind != "sum" and e.current is not None]
    scope = "sum" if any(e.kind == "sum" for e in ents) or len(lesion_ents) > 1 else "lesion"
    if cur is not None and not any(e.kind == "sum" for e in ents if e.current is not None) and len(lesion_ents) > 1:
        ev.append(f"sum of the {len(lesion_ents)} lesions' diameters: {cur:g} mm")
    if scope == "lesion" and lesion_ents and not rules.target_context.search(text, first_unit.start, first_unit.end) and first_unit.section != "target":
        ev.append("one lesion measured, not said to be a target lesion: RECIST sums all target lesions; this is that lesion's change")
    # the baseline and earlier sums stated before (the same patient's earlier time points)
    if carry and scope == "sum" and cur is not None:
        prior = [g for g in earlier if g["scope"] == "sum"]
        if base is None:
            with_base = [g for g in prior if g["baseline"] is not None]
            if with_base:
                base = with_base[-1]["baseline"]
                ev.append(f"baseline sum {base:g} mm as stated earlier in the text")
        earlier_sums = [g["sum"] for g in prior if g["sum"] is not None]
        if earlier_sums and (nadir is None or min(earlier_sums) < nadir):
            low = min(earlier_sums)
            if base is None or low < base:
                nadir = low
                ev.append(f"smallest sum stated earlier in the text ({low:g} mm) bounds the nadir from above")
    pct_base_stated = next((p["value"] for p in pcts if p["reference"] == "baseline"), None)
    pct_nadir_stated = next((p["value"] for p in pcts if p["reference"] == "nadir"), None)
    lesions = None
    if lesion_ents and not any(e.kind == "sum" and e.current is not None for e in ents):
        if all(e.current.mm is not None for e in lesion_ents):
            lesions = [recist.TargetLesion(e.current.mm, e.current.lymph_node) for e in lesion_ents]
    if unconverted and cur is None:
        ev.append("no diameters in mm or cm: no sum, no percentage")
    targeted = first_unit.section == "target" or any(
        rules.target_context.search(text, units[ui].start, units[ui].end) for ui in group["units"]
    )
    if lesions is not None and base is None and nadir is None and not targeted:
        # a lone lesion < 10 mm (or gone) with nothing to compare is not a CR: only target lesions respond
        ev.append("no baseline or nadir, and not said to be target lesions: no target response")
        lesions = None
        cur_for_rule = None
    else:
        cur_for_rule = cur
    result = recist.target_response(
        lesions, sum_mm=cur_for_rule, baseline_sum_mm=base, nadir_sum_mm=nadir,
        percent_from_baseline=pct_base_stated, percent_from_nadir=pct_nadir_stated,
    )
    if cur is not None and base is None and nadir is None and not unconverted:
        ev.append("no baseline stated: no percentage from baseline")
    if cur_for_rule is not None or cur is None:
        ev.extend(result.reasons)
    for p in pcts:
        computed = result.percent_change_from_baseline if p["reference"] != "nadir" else result.percent_change_from_nadir
        if computed is not None and cur is not None and abs(computed - p["value"]) > 1.0:
            ev.append(f"stated change '{p['text']}' differs from the computed {recist.round_percent(computed):+.1f} %")
    f.target_response = result.response
    f.extra.update(
        sum_mm=cur, baseline_sum_mm=result.baseline_sum_mm, nadir_sum_mm=result.nadir_sum_mm,
        percent_change_from_baseline=recist.round_percent(result.percent_change_from_baseline),
        percent_change_from_nadir=recist.round_percent(result.percent_change_from_nadir),
        change_from_nadir_mm=result.change_from_nadir_mm, scope=scope,
    )
    flags, cev = _context(matcher, text, start, end, first_unit, inside_ok=True)
    f.speculated = flags["speculated"]
    if f.speculated:
        ev.extend(e for e in cev if SPECULATED in e)
    return f


def _combine(f: _Finding, block_findings: List[_Finding]) -> None:
    """Set the time point response of a measured / target-statement finding from its block."""
    nts = [b.non_target_response for b in block_findings if b.basis == "non_target" and b.non_target_response]
    news = [b for b in block_findings if b.basis == "new_lesion"]
    nt = recist.PD if recist.PD in nts else (recist.CR if nts and all(n == recist.CR for n in nts) else (
        recist.NON_CR_NON_PD if nts else None))
    new = True if any(n.new_lesions is True for n in news) else (False if any(n.new_lesions is False for n in news) else None)
    f.non_target_response, f.new_lesions = nt, new
    if f.negated or f.speculated:
        f.response = None
        f.evidence.append("hedged: the numbers are given, the text does not assert a response" if f.speculated else "negated: no response")
        return
    if f.target_response is None:
        if new or nt == recist.PD:
            f.response = recist.PD
            f.evidence.append("target response not decided, but " + ("a new lesion" if new else "non-target progression") + " is PD")
        return
    response, row = recist.overall_response(f.target_response, nt, new)
    f.response = response
    notes = []
    if nt is None:
        notes.append("non-target lesions not mentioned")
    if new is None:
        notes.append("new lesions not mentioned")
    f.evidence.append(row + (f" ({'; '.join(notes)})" if notes else ""))


# ------------------------------------------------------------------ the whole analysis
def find_responses(
    text: str,
    rules: CompiledRules,
    matcher: ContextMatcher,
    sentences: Optional[Sequence[Tuple[int, int]]] = None,
    carry_baseline: bool = True,
) -> List[Dict[str, Any]]:
    """All tumour-response assessments of ``text`` as JSON-safe dicts (keys
    :data:`RESPONSE_KEYS`), in text order."""
    if not isinstance(text, str):
        raise TypeError(f"find_responses expects a str, got {type(text).__name__}")
    if not text.strip():
        return []
    sentences = list(sentences) if sentences is not None else (split_sentences(text) or [(0, len(text))])
    units = _units(text, sentences, rules)
    nts = _non_target(text, units, rules, matcher)
    nt_spans = [(f.start, f.end) for f in nts]
    news = _new_lesions(text, units, rules, matcher)
    targets, stated = _stated(text, units, rules, matcher, nt_spans)
    target_spans = [(f.start, f.end) for f in targets]
    meas_by_unit: Dict[int, List[_Meas]] = {}
    pcts_by_unit: Dict[int, List[Dict[str, Any]]] = {}
    for ui, u in enumerate(units):
        if u.section == "non_target":
            continue
        found = _find_measurements(text, u, ui, rules, nt_spans + target_spans)
        # measurements of a new lesion belong to it
        keep = []
        for m in found:
            owner = None
            for n in news:
                if n.unit_ix != ui:
                    continue
                if n.start <= m.start and m.end <= n.end:
                    owner = n
                    break
                gap = text[n.end : m.start]
                if n.end <= m.start and len(_WORD.findall(gap)) <= rules.new_attach_words and not re.search(
                    r"[;:]|\b(?:but|however|whereas|while|target|sum|baseline|nadir)\b", gap, re.IGNORECASE
                ) and not any(n.end <= k.start < m.start for k in keep):
                    owner = n
                    break
            if owner is not None:
                owner.measurements.append(m)
            else:
                keep.append(m)
        if keep:
            meas_by_unit[ui] = keep
        pcts = _percent_statements(text, u, ui, rules)
        if pcts:
            pcts_by_unit[ui] = pcts
    measured: List[_Finding] = []
    earlier: List[Dict[str, Any]] = []
    for g in _groups(text, units, meas_by_unit, pcts_by_unit, rules):
        if not g["meas"] and not any(p["reference"] for p in g["pcts"]):
            continue
        f = _measured(text, units, g, rules, matcher, earlier, carry_baseline)
        measured.append(f)
        earlier.append({"scope": f.extra["scope"], "sum": f.extra["sum_mm"], "baseline": f.extra["baseline_sum_mm"]})
    findings = nts + news + targets + stated + measured
    for f in measured + targets:
        block = units[f.unit_ix].block
        _combine(f, [b for b in nts + news if units[b.unit_ix].block == block])
    out = [_as_dict(text, f, units) for f in findings]
    out.sort(key=lambda d: (d["start_char"], BASES.index(d["basis"])))
    return out


def _as_dict(text: str, f: _Finding, units: List[_Unit]) -> Dict[str, Any]:
    tp = units[f.unit_ix].timepoint or {}
    d = {key: None for key in RESPONSE_KEYS}
    d.update(
        text=text[f.start : f.end], start_char=f.start, end_char=f.end, response=f.response, basis=f.basis,
        target_response=f.target_response, non_target_response=f.non_target_response, new_lesions=f.new_lesions,
        measurements=[m.as_dict(text) for m in f.measurements], negated=f.negated, speculated=f.speculated,
        historical=f.historical, timepoint=tp.get("timepoint"), timepoint_days=tp.get("timepoint_days"),
        timepoint_date=tp.get("timepoint_date"), evidence=list(dict.fromkeys(f.evidence)),
    )
    for key in ("sum_mm", "baseline_sum_mm", "nadir_sum_mm", "percent_change_from_baseline", "percent_change_from_nadir",
                "change_from_nadir_mm"):
        if key in f.extra:
            value = f.extra[key]
            d[key] = None if value is None else (float(value) if key.startswith("percent") else _num(value))
    return d


def _num(value: float):
    """mm values as written: 52 rather than 52.0 where whole."""
    value = float(value)
    return int(value) if value.is_integer() else round(value, 3)
