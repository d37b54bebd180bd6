"""The compiled lab grading table: :class:`LabRules`, built from the data that
``ct.read_lab_rules.v1`` reads (``resources/lab_rules.yml``)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Pattern, Tuple

from ..rules.io import CompiledTable

__all__ = ["Cut", "LabRules", "Rule", "default_lab_rules"]


@dataclass(frozen=True)
class Cut:
    """``value OP threshold`` puts the value at least at ``grade``.

    threshold None: the rule's reference limit (LLN / ULN). workbook: for each
    unit label, the fragment of the CTCAE grade text that states this cut.
    """

    grade: int
    op: str
    threshold: Optional[float]
    workbook: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rule:
    term: str
    direction: str  # "low" | "high"
    unit: str  # the unit the cuts are in
    cuts: Tuple[Cut, ...]
    reference: Optional[str] = None  # "LLN" / "ULN": grade 1 starts there
    baseline_when: str = "above_ULN"  # baseline rules: above_ULN / always / below_LLN


@dataclass(frozen=True)
class Analyte:
    key: str
    name: str  # display name
    units: Tuple[str, ...]  # allowed unit families or unit labels
    grader: str  # key of ct_safety_nlp.grading.graders.GRADERS


class LabRules(CompiledTable):
    """Lab grading knowledge, compiled for :mod:`ct_safety_nlp.grading.labs`.

    Holds the data it was built from (``to_dict``) so a component saves it
    with the pipeline; pickles by that data.
    """

    def __init__(self, data: Dict[str, Any]):
        if not isinstance(data, dict) or not isinstance(data.get("rules"), dict):
            raise ValueError("LabRules needs the dict read by ct.read_lab_rules.v1 (with 'rules', 'analytes', ...)")
        self.data = data
        self.ctcae_version = str(data.get("ctcae_version", "5.0"))
        self.rules: Dict[str, Rule] = {
            key: Rule(
                term=r["term"],
                direction=r["direction"],
                unit=r["unit"],
                reference=r.get("reference"),
                baseline_when=r.get("baseline_when", "above_ULN"),
                cuts=tuple(
                    Cut(c["grade"], c["op"], None if c["threshold"] is None else float(c["threshold"]), tuple((c.get("workbook") or {}).items()))
                    for c in r["cuts"]
                ),
            )
            for key, r in data["rules"].items()
        }
        self.reference_ranges: Dict[str, Dict[str, Tuple[Optional[float], Optional[float]]]] = {
            a: {u: (lo, hi) for u, (lo, hi) in ranges.items()} for a, ranges in data["reference_ranges"].items()
        }
        self.analytes: Dict[str, Analyte] = {
            a: Analyte(a, spec["name"], tuple(spec["units"]), spec["grader"]) for a, spec in data["analytes"].items()
        }
        self.aliases: Dict[str, str] = {name: a for a, names in data["aliases"].items() for name in names}
        self.units: Dict[str, Tuple[str, float, str]] = {u: (s["family"], float(s["factor"]), s["si"]) for u, s in data["units"].items()}
        self.unit_patterns: Tuple[Tuple[str, str], ...] = tuple((p, label) for p, label in data["unit_patterns"])
        self.unit_re: Pattern = re.compile("|".join(f"(?P<u{i}>{p})" for i, (p, _) in enumerate(self.unit_patterns)), re.I)
        self.unitless: Dict[str, Tuple[Tuple[str, float, float], ...]] = {
            a: tuple((u, float(lo), float(hi)) for u, lo, hi in v) for a, v in data["unitless"].items()
        }
        self.meq_to_mmol: Dict[str, float] = dict(data.get("meq_to_mmol", {}))
        self.direct: Dict[str, Tuple[str, ...]] = {a: tuple(v) for a, v in data["direct"].items()}
        self.direct_other_side: Dict[str, str] = dict(data.get("direct_other_side", {}))
        self.symptomatic_grades: Dict[str, int] = dict(data["symptomatic_grades"])
        self.symptomatic_analytes = frozenset(data.get("symptomatic_analytes", ()))
        self.unit_required = frozenset(data.get("unit_required_abbreviations", ()))
        self.unit_fits: Dict[str, Dict[str, str]] = {a: dict(v) for a, v in data.get("unit_fits", {}).items()}
        self.exclusions: Dict[str, Tuple[Optional[Pattern], Optional[Pattern]]] = {
            a: (re.compile(spec["before"], re.I) if spec.get("before") else None, re.compile(spec["after"], re.I) if spec.get("after") else None)
            for a, spec in data.get("exclusions", {}).items()
        }
        # analyte names: case-insensitive full names, case-sensitive abbreviations
        names = sorted((a for a in self.aliases if len(a) > 4 or a in ("temp",)), key=len, reverse=True)
        names = [
            n for n in names
            if not n.endswith(("decreased", "increased", "prolonged", " high"))
            and not re.match(r"^hyp[eo]r?\w*(?:emia|tension|thermia)$|^hypo\w*emia$|^anemia$|^leukocytosis$", n)
        ]
        self.analyte_re: Pattern = re.compile(
            r"(?<![\w+-])(?:(?i:" + "|".join(re.escape(n).replace("\\ ", r"[\s-]+") for n in names) + r")|"
            + "|".join(a.replace(" ", r"\s+") for a in data["abbreviations"]) + r")(?![\w])",
        )
        fever = data.get("fever_words") or ["fever"]
        self.fever_re: Pattern = re.compile(r"(?i)\b(?:" + "|".join(re.escape(w) for w in fever) + r")\b")
        bridge = "|".join(data.get("bridge_words") or ["was"])
        self.bridge_re: Pattern = re.compile(r"^(?:[\s:=(,\[–-]|(?i:\b(?:" + bridge + r")\b))*$")

    # ---- serialisation ---------------------------------------------------

    # ---- look-ups ----------------------------------------------------------
    @property
    def terms(self) -> List[str]:
        """The CTCAE terms the table grades."""
        return sorted({r.term for r in self.rules.values()} | set(self.direct_other_side.values()))

    def resolve_analyte(self, name: str) -> str:
        """An analyte name, abbreviation or CTCAE term -> the analyte key; ValueError if unknown."""
        key = re.sub(r"\s+", " ", name.strip().lower().replace("-", " "))
        key = key.replace("haem", "hem").replace("leuc", "leuk")
        if key in self.analytes:
            return key
        if key in self.aliases:
            return self.aliases[key]
        for alias, analyte in self.aliases.items():
            if alias.replace("-", " ") == key:
                return analyte
        raise ValueError(
            f"unknown analyte {name!r}: expected one of {sorted(self.analytes)} or a name/abbreviation such as "
            "'ANC', 'platelets', 'Hb', 'ALT', 'K', 'Na', 'temperature', 'BP'"
        )

    def canonical_unit(self, raw: str) -> Optional[str]:
        """A unit as written ("x10^9/L", "/mm3", "mEq/L", "times the ULN") -> its label, or None."""
        m = self.unit_re.fullmatch(raw.strip())
        if not m:
            return None
        for i, (_, label) in enumerate(self.unit_patterns):
            if m.group(f"u{i}") is not None:
                return label
        return None

    def fit_unit(self, analyte: str, unit: str) -> str:
        """The unit label as it applies to ``analyte`` (see ``unit_fits``)."""
        return self.unit_fits.get(analyte, {}).get(unit, unit)

    def unit_allowed(self, analyte: str, unit: str) -> bool:
        allowed = self.analytes[analyte].units
        return self.units[unit][0] in allowed or unit in allowed

    def infer_unit(self, analyte: str, value: float) -> Optional[str]:
        """The unit a value without one is read in, from its magnitude (None if implausible)."""
        for unit, low, high in self.unitless.get(analyte, ()):
            if low <= value < high:
                return unit
        return None

    def excluded(self, analyte: str, before: str, after: str) -> bool:
        """True when the words around an analyte name say it is another test."""
        rx_before, rx_after = self.exclusions.get(analyte, (None, None))
        return bool((rx_before is not None and rx_before.search(before)) or (rx_after is not None and rx_after.search(after[:40])))


@functools.lru_cache(maxsize=1)
def default_lab_rules() -> LabRules:
    """The library's shipped lab table (``resources/lab_rules.yml``), read once."""
    from ..rules.io import resource_path
    from ..rules.lab import read_lab_rules

    return LabRules(read_lab_rules(str(resource_path("lab_rules.yml"))))
