"""Dose regimens and AE -> suspect-drug links, by rule.

:func:`parse_dose` turns a DOSE mention ("75 mg/m2", "1 mg/kg daily",
"2.5 mg/m^2 IV q3w") into value, unit, per (``kg`` / ``m2`` / None) and,
where the mention itself says so, route and frequency. :func:`find_regimen_cues`
finds route, frequency and duration phrases in the text after a dose (same
sentence, before the next dose), which is how "paclitaxel 175 mg/m2 IV over
3 hours every 3 weeks for 6 cycles" gets its route, frequency and duration.

When the pipeline has no DOSE / DRUG entities (a blank pipeline), doses are
found with :data:`ct_safety_nlp.text.DOSE_RE` and drugs with
:class:`ct_safety_nlp.text.DrugVocabulary` (INN stems, common trial drugs,
"study drug" / "investigational product").

The route, frequency, duration and causal-cue tables are data
(``resources/regimens.yml``, ``ct.read_regimen_rules.v1``), compiled by
:class:`RegimenRules`.

Suspect-drug link rule (:func:`link_drugs`), per AE mention, among the drugs
of its sentence:

1. a drug joined to the AE by a causal cue: "<drug>-induced/-related/
   -associated AE", "AE induced by / due to / after / following / associated
   with / secondary to / attributed to / related to / on / with <drug>"
   (cue and drug at most 6 words after the AE, or the drug right before the
   hyphenated cue);
2. otherwise the drugs of the AE's clause;
3. otherwise every drug of the sentence (the reviewer sees them all; none is
   dropped by guessing).

A drug the text calls unrelated ("considered unrelated to the study drug",
"not attributed to X") is never linked. When no DOSE entities exist, a
number+unit after "clearance", "GFR", "output", "intake", "volume" is a
measurement, not a dose.
"""

import functools
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Pattern, Sequence, Tuple

from .text import DOSE_RE, dose_value, normalize_dose_per, normalize_dose_unit

from .rules.io import CompiledTable

__all__ = [
    "DoseParse",
    "RegimenRules",
    "build_regimen",
    "default_regimen_rules",
    "find_doses",
    "find_regimen_cues",
    "link_drugs",
    "parse_dose",
]


class RegimenRules(CompiledTable):
    """Route / frequency / duration phrases and drug-link cues, compiled; pickles by its data."""

    def __init__(self, data: Dict[str, Any]):
        if not isinstance(data, dict) or "routes" not in data:
            raise ValueError("RegimenRules needs the dict read by ct.read_regimen_rules.v1")
        self.data = data
        self.case_sensitive_routes = frozenset(data.get("case_sensitive_routes", ()))
        self.routes: List[Tuple[Pattern, str]] = [
            (re.compile(rf"(?<![\w.])(?:{p})(?![\w])", re.IGNORECASE), name) for p, name in data["routes"]
        ]
        self.frequencies: List[Tuple[Pattern, Optional[str]]] = [
            (re.compile(rf"(?<![\w])(?:{p})(?![\w])", re.IGNORECASE), name) for p, name in data["frequencies"]
        ]
        self.number_words: Dict[str, str] = dict(data.get("number_words", {}))
        self.durations = re.compile(data["durations"], re.IGNORECASE)
        self.causal_after = re.compile(data["causal_after"], re.IGNORECASE)
        self.causal_hyphen = re.compile(data["causal_hyphen"], re.IGNORECASE)
        self.not_causal_before = re.compile(data["not_causal_before"], re.IGNORECASE)
        self.lab_before_dose = re.compile(data["lab_before_dose"], re.IGNORECASE)
        links = data.get("document_links") or {}
        self.sentences_after = int(links.get("sentences_after", 0))
        self.opening_treatment = bool(links.get("opening_treatment", False))
        self.attribution_before = _optional_re(links.get("attribution_before"))
        self.action_after_drug = _optional_re(links.get("action_after_drug"))
        self.action_before_drug = _optional_re(links.get("action_before_drug"))


def _optional_re(pattern: Optional[str]) -> Optional[Pattern]:
    return re.compile(pattern, re.IGNORECASE) if pattern else None



@functools.lru_cache(maxsize=1)
def default_regimen_rules() -> RegimenRules:
    """The shipped regimen rules (``resources/regimens.yml``), read once."""
    from .rules.io import resource_path
    from .rules.regimens import read_regimen_rules

    return RegimenRules(read_regimen_rules(str(resource_path("regimens.yml"))))


@dataclass(frozen=True)
class DoseParse:
    value: Optional[float]
    value_text: str
    unit: Optional[str]
    per: Optional[str]
    route: Optional[str]
    frequency: Optional[str]


def parse_dose(text: str, rules: Optional[RegimenRules] = None) -> Optional[DoseParse]:
    """Parse one DOSE mention; None when it holds no number with a dose unit.

    >>> parse_dose("75 mg/m2").per
    'm2'
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_dose expects a str, got {type(text).__name__}")
    m = DOSE_RE.search(text)
    if not m:
        return None
    if m.group("auc"):
        value_text = m.group("auc")
        dose = DoseParse(dose_value(value_text), value_text, "AUC", None, None, None)
    else:
        value_text = m.group("value")
        unit = normalize_dose_unit(m.group("unit"))
        per = normalize_dose_per(m.group("per"))
        frequency = None
        if m.group("rate"):
            rate = m.group("rate").strip("/ ").lower()
            if rate in ("day", "d"):
                frequency = "daily"
            elif rate in ("week", "wk"):
                frequency = "weekly"
            else:
                unit = f"{unit}/{rate}"
        dose = DoseParse(dose_value(value_text), value_text, unit, per, None, frequency)
    rest_route, rest_freq, _ = find_regimen_cues(text, m.end(), len(text), rules)
    route = rest_route[0] if rest_route else None
    frequency = dose.frequency or (rest_freq[0] if rest_freq else None)
    return DoseParse(dose.value, dose.value_text, dose.unit, dose.per, route, frequency)


def _match_route(R: RegimenRules, text: str, start: int, end: int) -> List[Tuple[str, int, int]]:
    found = []
    for rx, name in R.routes:
        for m in rx.finditer(text[start:end]):
            if m.group(0) in R.case_sensitive_routes or m.group(0).upper() not in R.case_sensitive_routes:
                found.append((name, start + m.start(), start + m.end()))
    return sorted(found, key=lambda x: x[1])


def _match_frequency(R: RegimenRules, text: str, start: int, end: int) -> List[Tuple[str, int, int]]:
    candidates = []
    for order, (rx, name) in enumerate(R.frequencies):
        for m in rx.finditer(text[start:end]):
            if name is None:
                label = m.group(0)
            elif "{n}" in name:
                n = next((g for g in m.groups() if g), "")
                label = name.format(n=R.number_words.get(n.lower(), n))
            else:
                label = name
            candidates.append((start + m.start(), start + m.end(), order, label))
    # longest match first ("three times daily" over "daily"), then the table order
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[2]))
    found, taken = [], set()
    for a, b, _, label in candidates:
        if any(i in taken for i in range(a, b)):
            continue
        taken.update(range(a, b))
        found.append((label, a, b))
    return sorted(found, key=lambda x: x[1])


def find_regimen_cues(text: str, start: int, end: int, rules: Optional[RegimenRules] = None) -> Tuple[List[str], List[str], List[str]]:
    """Route, frequency and duration phrases in text[start:end], in text order."""
    R = rules or default_regimen_rules()
    routes = [r for r, _, _ in _match_route(R, text, start, end)]
    freqs = [f for f, _, _ in _match_frequency(R, text, start, end)]
    durations = [m.group(0) for m in R.durations.finditer(text, start, end)]
    return routes, freqs, durations


def find_doses(text: str, start: int = 0, end: Optional[int] = None, rules: Optional[RegimenRules] = None) -> List[Tuple[int, int]]:
    """(start, end) of dose expressions found by :data:`ct_safety_nlp.text.DOSE_RE` in text[start:end]."""
    R = rules or default_regimen_rules()
    end = len(text) if end is None else end
    return [
        (m.start(), m.end())
        for m in DOSE_RE.finditer(text, start, end)
        if not R.lab_before_dose.search(text[max(0, m.start() - 40) : m.start()])  # "creatinine clearance 45 mL/min"
    ]


def link_drugs(
    text: str,
    ae: Tuple[int, int],
    clause: Tuple[int, int],
    drugs: Sequence[Tuple[int, int, str]],
    rules: Optional[RegimenRules] = None,
) -> Tuple[List[str], str]:
    """Suspect drugs of one AE (rule in the module docstring) and an evidence line.

    drugs: (start, end, name) of the drugs in the AE's sentence.
    """
    R = rules or default_regimen_rules()
    if not drugs:
        return [], ""
    a_start, a_end = ae
    # "considered unrelated to the study drug": the investigator excluded it
    excluded = [name for d_start, _, name in drugs if R.not_causal_before.search(text[max(0, d_start - 60) : d_start])]
    drugs = [d for d in drugs if d[2] not in excluded]
    if not drugs:
        return [], f"drug link: none ({', '.join(excluded)} stated as unrelated)"
    causal = []
    for d_start, d_end, name in drugs:
        between_other = any(a_end <= s2 and e2 <= d_start for s2, e2, _ in drugs if (s2, e2) != (d_start, d_end))
        if d_start >= a_end and not between_other and R.causal_after.match(text[a_end:d_start]) and len(text[a_end:d_start].split()) <= 6:
            causal.append(name)
        elif d_end <= a_start and R.causal_hyphen.match(text[d_end:a_start]) and a_start - d_end <= 30:
            causal.append(name)
    if causal:
        names = _unique(causal)
        return names, f"drug link: causal cue between the AE and {', '.join(names)}"
    c_start, c_end = clause
    in_clause = [name for s, e, name in drugs if s >= c_start and e <= c_end]
    if in_clause:
        names = _unique(in_clause)
        return names, f"drug link: {', '.join(names)} named in the same clause"
    names = _unique([name for _, _, name in drugs])
    return names, f"drug link: {', '.join(names)} named in the same sentence"


def _unique(names: Sequence[str]) -> List[str]:
    seen: Dict[str, None] = {}
    for n in names:
        seen.setdefault(n, None)
    return list(seen)


def build_regimen(
    text: str,
    dose: Tuple[int, int],
    scope_end: int,
    drug: Optional[str],
    route: Optional[str] = None,
    frequency: Optional[str] = None,
    duration: Optional[str] = None,
    rules: Optional[RegimenRules] = None,
) -> Optional[Dict]:
    """The ``doc._.ct_regimens`` dict for one dose mention text[dose[0]:dose[1]].

    Route / frequency / duration come from (in order) the caller (model
    entities), the dose text itself, then the text after the dose up to scope_end.
    """
    start, end = dose
    dose_text = text[start:end]
    R = rules or default_regimen_rules()
    parsed = parse_dose(dose_text, R)
    if parsed is None:
        return None
    routes, freqs, durs = find_regimen_cues(text, end, scope_end, R)
    # treatment duration ("for 6 cycles") before infusion time ("over 3 hours")
    durs = sorted(durs, key=lambda d: d.lower().startswith("over"))
    # a route written just before the dose ("IV cisplatin 75 mg/m2")
    before_routes = [r for r, a, b in _match_route(R, text, max(0, start - 25), start)]
    return {
        "drug": drug,
        "dose_text": dose_text,
        "value": parsed.value,
        "unit": parsed.unit,
        "per": parsed.per,
        "route": route or parsed.route or (routes[0] if routes else None) or (before_routes[-1] if before_routes else None),
        "frequency": frequency or parsed.frequency or (freqs[0] if freqs else None),
        "duration": duration or (durs[0] if durs else None),
        "start_char": start,
        "end_char": end,
    }
