"""The compiled grading rules (:class:`GradingRules`) from ``ct.read_grading_rules.v1``."""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, List, Optional, Pattern, Tuple

from ..text import TextRules, default_text_rules, words_regex

from ..rules.io import CompiledTable

__all__ = ["GradingRules", "default_grading_rules"]

# a band of a CTCAE grade text: "<10", "10 - 30", ">30", ">=7", "≥7" (before its unit)
_BAND = r"(?P<op>[<>]=?|[≤≥])?\s*(?P<a>\d+(?:\.\d+)?)(?:\s*-\s*(?P<b>\d+(?:\.\d+)?))?"


class GradingRules(CompiledTable):
    """Explicit-grade blockers, outcome and severity words, intervention cues and
    grading-window patterns (``resources/grading.yml``), compiled; the negation
    words come from :class:`ct_safety_nlp.text.TextRules`. Pickles by its data."""

    _state_keys = ("text_rules",)

    def __init__(self, data: Dict[str, Any], text_rules: Optional[TextRules] = None):
        if not isinstance(data, dict) or "explicit" not in data:
            raise ValueError("GradingRules needs the dict read by ct.read_grading_rules.v1")
        self.data = data
        self.text_rules = text_rules or default_text_rules()
        ex = data["explicit"]
        self.tumour_before = re.compile(ex["tumour_before"])
        self.tumour_after = re.compile(ex["tumour_after"])
        self.gshort_before = re.compile(ex["gshort_before"])
        self.gshort_after = re.compile(ex["gshort_after"])
        out = data["outcome"]
        self.death = re.compile(out["death"])
        self.near_fatal = re.compile(out["near_fatal"])
        self.life_threatening = re.compile(out["life_threatening"])
        hedges = [r"\b" + w.replace(" ", r"\s+") for w in self.text_rules.negation_words("outcome")] + [r"\b" + h for h in out["hedges"]]
        self.outcome_hedges = re.compile(r"(?i)(?:" + "|".join(hedges) + r")[\s-]*(?:\w+[\s-]+)?$")
        self.severity_words: Dict[str, int] = {k.lower(): int(v) for k, v in data["severity_words"].items()}
        alt = "|".join(re.escape(w) for w in self.severity_words)
        self.severity_re = re.compile(r"(?i)\b(?P<a>" + alt + r")(?:[\s-]+(?:to|or|and)[\s-]+(?P<b>" + alt + r"))?\b")
        neg = "|".join(r"\b" + w.replace(" ", r"\s+") for w in self.text_rules.negation_words("severity"))
        self.severity_neg = re.compile(r"(?i)(?:" + neg + r")[\s-]*(?:very\s+|particularly\s+|so\s+)?$")
        self.interventions: List[Tuple[Pattern, Pattern]] = [
            (re.compile(rf"(?<![\w-])(?:{cue})(?![\w-])", re.IGNORECASE), re.compile(words, re.IGNORECASE))
            for cue, words in data["interventions"]
        ]
        self.intervention_neg = re.compile(
            r"(?:" + words_regex(self.text_rules.negation_words("intervention")) + r")\b[\w\s-]*$", re.IGNORECASE
        )
        named = data.get("criteria_words", {})

        def expand(pattern: str) -> str:  # "{laxative}" -> its word list
            for key, words in named.items():
                pattern = pattern.replace("{" + key + "}", words)
            return pattern

        self.criteria: List[Tuple[str, Pattern, Pattern]] = [
            (name, re.compile(expand(cue), re.IGNORECASE), re.compile(words, re.IGNORECASE)) for name, cue, words in data.get("criteria", [])
        ]
        # every intervention and criterion cue in one pattern: a clause it does not match meets none of them
        self.any_cue = re.compile(
            "|".join(f"(?:{rx.pattern})" for rx in [c for c, _ in self.interventions] + [c for _, c, _ in self.criteria]) or r"(?!)",
            re.IGNORECASE,
        )
        self.counted_criteria: List[Dict[str, Any]] = [
            {
                "name": c["name"],
                **{k: re.compile(c[k], re.IGNORECASE) if c.get(k) else None for k in ("value", "count", "baseline")},
                "band": re.compile(_BAND + r"\s*(?:" + c["band_unit"] + ")", re.IGNORECASE),
            }
            for c in data.get("counted_criteria", [])
        ]
        win = data["windows"]
        self.coordinator = re.compile(win["coordinator"], re.IGNORECASE)
        self.group_noun = re.compile(win["group_noun"], re.IGNORECASE)
        self.distributive = re.compile(win["distributive"], re.IGNORECASE)



@functools.lru_cache(maxsize=1)
def default_grading_rules() -> GradingRules:
    """The library's shipped grading rules (``resources/grading.yml``), read once."""
    from ..rules.grading import read_grading_rules
    from ..rules.io import resource_path

    return GradingRules(read_grading_rules(str(resource_path("grading.yml"))))
