"""The ``ct_efficacy`` rule table: reader, schema check, compiled form.

The table is a JSON file (the shipped one:
``ct_safety_nlp/resources/efficacy_rules.json``) read by the registered
reader ``ct.read_efficacy_rules.v1``. Every problem is an
:class:`EfficacyRulesError` ``"<file>:<line>: <problem>"``, the line being that
of the offending value (JSON is read through PyYAML's composer, which keeps
node positions; JSON syntax errors come from :mod:`json` with its line).

Schema (``schema_version: 1``; every key required unless marked optional)::

    schema_version: 1
    name, source: str;   notes: str (optional)
    stated:          [{pattern, response: CR|PR|SD|PD|NE, case_sensitive?: bool}]
                     stated responses, most specific first
    stated_exclusions: [pattern]     text that is never a stated response
    stated_codes:    {codes: {CODE: response}, pattern, context_before, window_chars: int}
                     abbreviations, case-sensitive, accepted after a response context
    target_stated:   [{pattern, target_response: CR|PR|SD|PD}]
    lesion_disappeared, too_small_to_measure: [pattern]
    target_context, lesion_nouns, lymph_node, short_axis, timepoint_exclude_before: pattern
    non_target:      {mention: [pattern], status: [{pattern, non_target_response: CR|non-CR/non-PD|PD}]}
    new_lesion:      {mention: [pattern], absent_after, present_after: pattern, attach_words: int}
    sections:        [{pattern, section: target|non_target|new_lesion|other}]
    units:           [{pattern, unit: str, mm_per_unit: number|null, note?: str}]
    not_a_measurement: {after, before: pattern}
    arrow:           {pattern (groups a, b), header_unit (group unit), header_baseline_first}
    roles:           {after|before|clause_start: [{pattern, role: baseline|nadir|prior}]}
    sum:             {before, after: pattern}
    percent:         {change: [{pattern (group pct, optional group sign), sign: -1|0|1}],
                      reference_after: [{pattern, reference: baseline|nadir}]}
    timepoints:      [{pattern (group tp, optional group n), kind: week|day|month|cycle|cycle_day|cycles|iso_date|date|ambiguous_date}]
    context:         {rules: [[phrase, negated|speculated|historical, forward|backward|both]],
                      pseudo: [str], terminators: [str]}   added to the library's ConText tables

Patterns are Python regular expressions, compiled case-insensitively unless
``case_sensitive`` is true.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from spacy import registry

from ..context import CATEGORIES, DIRECTIONS

SCHEMA_VERSION = 1
RESPONSES = ("CR", "PR", "SD", "PD", "NE")
NON_TARGET = ("CR", "non-CR/non-PD", "PD")
SECTIONS = ("target", "non_target", "new_lesion", "other")
ROLES = ("baseline", "nadir", "prior")
TIMEPOINT_KINDS = ("week", "day", "month", "cycle", "cycle_day", "cycles", "iso_date", "date", "ambiguous_date")
DEFAULT_RULES_FILE = "efficacy_rules.json"


class EfficacyRulesError(ValueError):
    """An efficacy rule table that cannot be used; the message names file, line and problem."""


def default_rules_path() -> Path:
    """The rule table shipped with the library (read at ``initialize`` only)."""
    return Path(str(resources.files("ct_safety_nlp").joinpath("resources", DEFAULT_RULES_FILE)))


# ------------------------------------------------------------------ node checking
class _Check:
    """Walks a PyYAML node tree, returning plain values and failing with FILE:LINE."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, node, problem: str):
        line = node.start_mark.line + 1 if node is not None and getattr(node, "start_mark", None) else "?"
        raise EfficacyRulesError(f"{self.source}:{line}: {problem}")

    def mapping(self, node, where: str, required: Tuple[str, ...], optional: Tuple[str, ...] = ()) -> Dict[str, Any]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{where} must be an object")
        out: Dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key in out:
                self.fail(key_node, f"{where}: duplicate key {key!r}")
            if key not in required and key not in optional:
                self.fail(key_node, f"{where}: unknown key {key!r} (allowed: {', '.join(required + optional)})")
            out[key] = value_node
        for key in required:
            if key not in out:
                self.fail(node, f"{where}: missing key {key!r}")
        return out

    def sequence(self, node, where: str, allow_empty: bool = False) -> list:
        import yaml

        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{where} must be a list")
        if not node.value and not allow_empty:
            self.fail(node, f"{where} must not be empty")
        return list(node.value)

    def scalar(self, node, where: str):
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"{where} must be a plain value")
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_object(node, deep=True)
        finally:
            loader.dispose()

    def string(self, node, where: str) -> str:
        value = self.scalar(node, where)
        if not isinstance(value, str) or not value.strip():
            self.fail(node, f"{where} must be a non-empty string, got {value!r}")
        return value

    def choice(self, node, where: str, allowed: tuple):
        value = self.scalar(node, where)
        if value not in allowed:
            self.fail(node, f"{where} must be one of {', '.join(map(str, allowed))}; got {value!r}")
        return value

    def boolean(self, node, where: str) -> bool:
        value = self.scalar(node, where)
        if not isinstance(value, bool):
            self.fail(node, f"{where} must be true or false, got {value!r}")
        return value

    def integer(self, node, where: str, minimum: int = 0) -> int:
        value = self.scalar(node, where)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(node, f"{where} must be an integer >= {minimum}, got {value!r}")
        return value

    def pattern(self, node, where: str, groups: Tuple[str, ...] = (), case_sensitive: bool = False) -> str:
        value = self.string(node, where)
        try:
            rx = re.compile(value, 0 if case_sensitive else re.IGNORECASE)
        except re.error as err:
            self.fail(node, f"{where}: invalid regular expression: {err}")
        for group in groups:
            if group not in rx.groupindex:
                self.fail(node, f"{where}: the pattern needs a named group (?P<{group}>...)")
        return value

    def patterns(self, node, where: str) -> List[str]:
        return [self.pattern(item, f"{where}[{i}]") for i, item in enumerate(self.sequence(node, where))]


def _check(root, source: str) -> Dict[str, Any]:
    c = _Check(source)
    top = c.mapping(
        root,
        "the rule table",
        (
            "schema_version", "name", "source", "stated", "stated_exclusions", "stated_codes", "target_stated",
            "lesion_disappeared", "too_small_to_measure", "target_context", "non_target", "new_lesion", "sections",
            "units", "not_a_measurement", "arrow", "roles", "sum", "lesion_nouns", "lymph_node", "short_axis",
            "percent", "timepoints", "timepoint_exclude_before", "context",
        ),
        ("notes",),
    )
    out: Dict[str, Any] = {}
    version = c.scalar(top["schema_version"], "schema_version")
    if version != SCHEMA_VERSION:
        c.fail(top["schema_version"], f"schema_version must be {SCHEMA_VERSION}, got {version!r}")
    out["schema_version"] = version
    out["name"] = c.string(top["name"], "name")
    out["source"] = c.string(top["source"], "source")
    if "notes" in top:
        out["notes"] = c.string(top["notes"], "notes")

    def rule_list(key: str, value_key: str, allowed: tuple, extra_optional: Tuple[str, ...] = ()) -> List[Dict[str, Any]]:
        items = []
        for i, node in enumerate(c.sequence(top[key], key)):
            where = f"{key}[{i}]"
            fields = c.mapping(node, where, ("pattern", value_key), extra_optional)
            cs = c.boolean(fields["case_sensitive"], f"{where}.case_sensitive") if "case_sensitive" in fields else False
            item = {"pattern": c.pattern(fields["pattern"], f"{where}.pattern", case_sensitive=cs),
                    value_key: c.choice(fields[value_key], f"{where}.{value_key}", allowed)}
            if "case_sensitive" in fields:
                item["case_sensitive"] = cs
            items.append(item)
        return items

    out["stated"] = rule_list("stated", "response", RESPONSES, ("case_sensitive",))
    out["stated_exclusions"] = c.patterns(top["stated_exclusions"], "stated_exclusions")
    codes = c.mapping(top["stated_codes"], "stated_codes", ("codes", "pattern", "context_before", "window_chars"))
    code_map = c.mapping(codes["codes"], "stated_codes.codes", tuple(c.scalar(k, "code") for k, _ in codes["codes"].value))
    out["stated_codes"] = {
        "codes": {k: c.choice(v, f"stated_codes.codes.{k}", RESPONSES) for k, v in code_map.items()},
        "pattern": c.pattern(codes["pattern"], "stated_codes.pattern", case_sensitive=True),
        "context_before": c.pattern(codes["context_before"], "stated_codes.context_before", case_sensitive=True),
        "window_chars": c.integer(codes["window_chars"], "stated_codes.window_chars", 1),
    }
    out["target_stated"] = rule_list("target_stated", "target_response", ("CR", "PR", "SD", "PD"))
    for key in ("lesion_disappeared", "too_small_to_measure"):
        out[key] = c.patterns(top[key], key)
    for key in ("target_context", "lesion_nouns", "lymph_node", "short_axis", "timepoint_exclude_before"):
        out[key] = c.pattern(top[key], key)

    nt = c.mapping(top["non_target"], "non_target", ("mention", "status"))
    statuses = []
    for i, node in enumerate(c.sequence(nt["status"], "non_target.status")):
        f = c.mapping(node, f"non_target.status[{i}]", ("pattern", "non_target_response"))
        statuses.append({"pattern": c.pattern(f["pattern"], f"non_target.status[{i}].pattern"),
                         "non_target_response": c.choice(f["non_target_response"], f"non_target.status[{i}].non_target_response", NON_TARGET)})
    out["non_target"] = {"mention": c.patterns(nt["mention"], "non_target.mention"), "status": statuses}

    nl = c.mapping(top["new_lesion"], "new_lesion", ("mention", "absent_after", "present_after", "attach_words"))
    out["new_lesion"] = {
        "mention": c.patterns(nl["mention"], "new_lesion.mention"),
        "absent_after": c.pattern(nl["absent_after"], "new_lesion.absent_after"),
        "present_after": c.pattern(nl["present_after"], "new_lesion.present_after"),
        "attach_words": c.integer(nl["attach_words"], "new_lesion.attach_words"),
    }
    sections = []
    for i, node in enumerate(c.sequence(top["sections"], "sections")):
        f = c.mapping(node, f"sections[{i}]", ("pattern", "section"))
        sections.append({"pattern": c.pattern(f["pattern"], f"sections[{i}].pattern"),
                         "section": c.choice(f["section"], f"sections[{i}].section", SECTIONS)})
    out["sections"] = sections

    units = []
    for i, node in enumerate(c.sequence(top["units"], "units")):
        where = f"units[{i}]"
        f = c.mapping(node, where, ("pattern", "unit", "mm_per_unit"), ("note",))
        factor = c.scalar(f["mm_per_unit"], f"{where}.mm_per_unit")
        if factor is not None and (isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0):
            c.fail(f["mm_per_unit"], f"{where}.mm_per_unit must be a positive number or null, got {factor!r}")
        unit = {"pattern": c.pattern(f["pattern"], f"{where}.pattern"), "unit": c.string(f["unit"], f"{where}.unit"),
                "mm_per_unit": factor}
        if "note" in f:
            unit["note"] = c.string(f["note"], f"{where}.note")
        units.append(unit)
    if not any(u["unit"] == "mm" and u["mm_per_unit"] == 1 for u in units):
        c.fail(top["units"], "units must include mm with mm_per_unit 1")
    out["units"] = units

    nam = c.mapping(top["not_a_measurement"], "not_a_measurement", ("after", "before"))
    out["not_a_measurement"] = {k: c.pattern(v, f"not_a_measurement.{k}") for k, v in nam.items()}
    arrow = c.mapping(top["arrow"], "arrow", ("pattern", "header_unit", "header_baseline_first"))
    out["arrow"] = {
        "pattern": c.pattern(arrow["pattern"], "arrow.pattern", ("a", "b")),
        "header_unit": c.pattern(arrow["header_unit"], "arrow.header_unit", ("unit",)),
        "header_baseline_first": c.pattern(arrow["header_baseline_first"], "arrow.header_baseline_first"),
    }
    roles = c.mapping(top["roles"], "roles", ("after", "before", "clause_start"))
    out["roles"] = {}
    for side, node in roles.items():
        items = []
        for i, item in enumerate(c.sequence(node, f"roles.{side}")):
            f = c.mapping(item, f"roles.{side}[{i}]", ("pattern", "role"))
            items.append({"pattern": c.pattern(f["pattern"], f"roles.{side}[{i}].pattern"),
                          "role": c.choice(f["role"], f"roles.{side}[{i}].role", ROLES)})
        out["roles"][side] = items
    sm = c.mapping(top["sum"], "sum", ("before", "after"))
    out["sum"] = {k: c.pattern(v, f"sum.{k}") for k, v in sm.items()}

    pct = c.mapping(top["percent"], "percent", ("change", "reference_after"))
    changes = []
    for i, node in enumerate(c.sequence(pct["change"], "percent.change")):
        f = c.mapping(node, f"percent.change[{i}]", ("pattern", "sign"))
        sign = c.choice(f["sign"], f"percent.change[{i}].sign", (-1, 0, 1))
        groups = ("pct", "sign") if sign == 0 else ("pct",)
        changes.append({"pattern": c.pattern(f["pattern"], f"percent.change[{i}].pattern", groups), "sign": sign})
    refs = []
    for i, node in enumerate(c.sequence(pct["reference_after"], "percent.reference_after")):
        f = c.mapping(node, f"percent.reference_after[{i}]", ("pattern", "reference"))
        refs.append({"pattern": c.pattern(f["pattern"], f"percent.reference_after[{i}].pattern"),
                     "reference": c.choice(f["reference"], f"percent.reference_after[{i}].reference", ("baseline", "nadir"))})
    out["percent"] = {"change": changes, "reference_after": refs}

    tps = []
    for i, node in enumerate(c.sequence(top["timepoints"], "timepoints")):
        f = c.mapping(node, f"timepoints[{i}]", ("pattern", "kind"))
        tps.append({"pattern": c.pattern(f["pattern"], f"timepoints[{i}].pattern", ("tp",)),
                    "kind": c.choice(f["kind"], f"timepoints[{i}].kind", TIMEPOINT_KINDS)})
    out["timepoints"] = tps

    ctx = c.mapping(top["context"], "context", ("rules", "pseudo", "terminators"))
    rules = []
    for i, node in enumerate(c.sequence(ctx["rules"], "context.rules", allow_empty=True)):
        items = c.sequence(node, f"context.rules[{i}]")
        if len(items) != 3:
            c.fail(node, f"context.rules[{i}] must be [phrase, category, direction]")
        rules.append([c.string(items[0], f"context.rules[{i}][0]"),
                      c.choice(items[1], f"context.rules[{i}][1]", CATEGORIES),
                      c.choice(items[2], f"context.rules[{i}][2]", DIRECTIONS)])
    out["context"] = {
        "rules": rules,
        "pseudo": [c.string(n, f"context.pseudo[{i}]") for i, n in enumerate(c.sequence(ctx["pseudo"], "context.pseudo", True))],
        "terminators": [c.string(n, f"context.terminators[{i}]")
                        for i, n in enumerate(c.sequence(ctx["terminators"], "context.terminators", True))],
    }
    return out


def load_efficacy_rules(path: Union[str, Path]) -> Dict[str, Any]:
    """Read and schema-check an efficacy rule table; returns the checked table (plain JSON-safe dict)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise EfficacyRulesError(f"{path}: efficacy rule file not found")
    try:
        text = path.read_text(encoding="utf8")
    except UnicodeDecodeError as err:
        raise EfficacyRulesError(f"{path}: not UTF-8 text ({err})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise EfficacyRulesError(f"{path}:{err.lineno}: invalid JSON: {err.msg} (column {err.colno})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:  # JSON that PyYAML's composer does not take (rare escapes)
        mark = getattr(err, "problem_mark", None)
        raise EfficacyRulesError(f"{path}:{mark.line + 1 if mark else '?'}: cannot read: {err}") from None
    if root is None:
        raise EfficacyRulesError(f"{path}:1: the rule file is empty")
    table = _check(root, str(path))
    table["file"] = path.name
    return table


def validate_efficacy_rules(table: Dict[str, Any], source: str = "efficacy rules") -> Dict[str, Any]:
    """Re-check an already loaded table (given in Python, or read back from a saved pipeline)."""
    import yaml

    if not isinstance(table, dict):
        raise EfficacyRulesError(f"{source}: the efficacy rules must be a dict, got {type(table).__name__}")
    data = {k: v for k, v in table.items() if k != "file"}
    root = yaml.compose(json.dumps(data, indent=1, ensure_ascii=False), Loader=yaml.SafeLoader)
    checked = _check(root, source)
    if "file" in table:
        checked["file"] = table["file"]
    return checked


@registry.misc("ct.read_efficacy_rules.v1")
def read_efficacy_rules(path: Optional[str] = None) -> Dict[str, Any]:
    """Registered reader for ``[initialize.components.ct_efficacy.rules]``; no path:
    the table shipped with the library."""
    return load_efficacy_rules(path if path else default_rules_path())


# ------------------------------------------------------------------ compiled form
class CompiledRules:
    """The checked table with its patterns compiled; pickles as the plain table."""

    def __init__(self, table: Dict[str, Any]):
        self.table = copy.deepcopy(table)
        t = self.table

        def rx(p: str, cs: bool = False):
            return re.compile(p, 0 if cs else re.IGNORECASE)

        self.stated = [(rx(r["pattern"], r.get("case_sensitive", False)), r["response"]) for r in t["stated"]]
        self.stated_exclusions = [rx(p) for p in t["stated_exclusions"]]
        sc = t["stated_codes"]
        self.codes = dict(sc["codes"])
        self.code_re = rx(sc["pattern"], True)
        self.code_context = rx(sc["context_before"], True)
        self.code_window = sc["window_chars"]
        self.target_stated = [(rx(r["pattern"]), r["target_response"]) for r in t["target_stated"]]
        self.lesion_disappeared = [rx(p) for p in t["lesion_disappeared"]]
        self.too_small = [rx(p) for p in t["too_small_to_measure"]]
        self.target_context = rx(t["target_context"])
        self.lesion_nouns = rx(t["lesion_nouns"])
        self.lymph_node = rx(t["lymph_node"])
        self.short_axis = rx(t["short_axis"])
        self.timepoint_exclude_before = rx(t["timepoint_exclude_before"])
        self.nt_mentions = [rx(p) for p in t["non_target"]["mention"]]
        self.nt_status = [(rx(r["pattern"]), r["non_target_response"]) for r in t["non_target"]["status"]]
        nl = t["new_lesion"]
        self.new_mentions = [rx(p) for p in nl["mention"]]
        self.new_absent_after = rx(nl["absent_after"])
        self.new_present_after = rx(nl["present_after"])
        self.new_attach_words = nl["attach_words"]
        self.sections = [(rx(s["pattern"]), s["section"]) for s in t["sections"]]
        self.units = [dict(u, rx=rx(r"(?:" + u["pattern"] + r")")) for u in t["units"]]
        unit_alt = "|".join(f"(?P<u{i}>{u['pattern']})" for i, u in enumerate(t["units"]))
        num = r"(?<![\w.,/])\d+(?:\.\d+)?(?![\d,]*\d)"
        self.number_re = re.compile(num)
        self.measure_re = re.compile(
            rf"(?P<a>{num})(?:\s*(?:x|×|by)\s*(?P<b>{num}))?(?:\s*(?:x|×|by)\s*(?P<c>{num}))?\s*(?:{unit_alt})(?![\w²³])",
            re.IGNORECASE,
        )
        self.list_before_re = re.compile(rf"(?P<n>{num})\s*(?:,|and|or|to|-|–)\s*$", re.IGNORECASE)
        self.not_after = rx(t["not_a_measurement"]["after"])
        self.not_before = rx(t["not_a_measurement"]["before"])
        self.arrow = rx(t["arrow"]["pattern"])
        self.arrow_unit = rx(t["arrow"]["header_unit"])
        self.arrow_baseline_first = rx(t["arrow"]["header_baseline_first"])
        self.roles = {side: [(rx(r["pattern"]), r["role"]) for r in items] for side, items in t["roles"].items()}
        self.sum_before = rx(t["sum"]["before"])
        self.sum_after = rx(t["sum"]["after"])
        self.pct_change = [(rx(r["pattern"]), r["sign"]) for r in t["percent"]["change"]]
        self.pct_reference = [(rx(r["pattern"]), r["reference"]) for r in t["percent"]["reference_after"]]
        self.timepoints = [(rx(r["pattern"]), r["kind"]) for r in t["timepoints"]]
        self.context = t["context"]

    def unit_of(self, match: "re.Match") -> Dict[str, Any]:
        """The unit entry of a :attr:`measure_re` match."""
        for i, unit in enumerate(self.table["units"]):
            if match.group(f"u{i}") is not None:
                return unit
        raise AssertionError("measure_re matched no unit group")

    def __getstate__(self):
        return {"table": self.table}

    def __setstate__(self, state):
        self.__init__(state["table"])
