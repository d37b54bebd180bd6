"""Protocol rules: dose-limiting toxicity (DLT) definitions and dose-modification tables.

A protocol file is YAML or JSON, read with ``yaml.safe_load`` semantics (no
Python objects) and checked against the schema below. Every problem is
reported as ``ProtocolError("<file>:<line>: <problem>")`` with the line of the
offending node (taken from PyYAML's node marks, so JSON files get lines too).

Schema (``schema_version: 1``)::

    schema_version: 1
    name: str                       # shown in evidence lines
    source: str                     # optional: where the rules come from
    ctcae_version: "5.0" | "6.0"    # optional: the CTCAE version its terms are in; ct_reasoner
                                    # refuses a protocol of another version than its ctcae_version
    categories:                     # optional named groups of AEs
      <name>: {terms: [CTCAE term, ...], socs: [MedDRA SOC, ...]}
    dlt:                            # list, evaluated in order; any match -> DLT
      - id: str
        description: str
        when: <condition>
    dlt_window_days: int            # optional: the DLT observation window, days from first dose (1-365)
    evaluability:                   # optional, needs dlt_window_days: who counts in the DLT assessment
      min_followup_days: int        # days followed from first dose without a DLT (default: the window)
      dlt_always_evaluable: bool    # a subject with a DLT in the window is evaluable (default true)
    dose_modifications:             # list, evaluated in order; first match wins
      - id: str
        when: <condition>
        action: continue | hold | reduce_one_level | reduce_two_levels | stop
        note: str                   # optional

    <condition> keys (all optional, all must hold):
      terms: [CTCAE term]          categories: [category name]   socs: [SOC]
      exclude_terms: [CTCAE term]  exclude_categories: [name]
      min_grade: 1..5              max_grade: 1..5               serious: bool

Conditions that text cannot verify (durations such as "lasting > 7 days",
"despite optimal supportive care") belong in ``description`` / ``note``; the
reasoner repeats them in its evidence so the reviewer checks them.
"""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from spacy import registry

SCHEMA_VERSION = 1
ACTIONS = ("continue", "hold", "reduce_one_level", "reduce_two_levels", "stop")
CTCAE_VERSIONS = ("5.0", "6.0")
_TOP_KEYS = {"schema_version", "name", "source", "ctcae_version", "categories", "dlt", "dose_modifications", "dlt_window_days", "evaluability"}
_EVALUABILITY_KEYS = {"min_followup_days", "dlt_always_evaluable"}
_CONDITION_KEYS = {"terms", "categories", "socs", "exclude_terms", "exclude_categories", "min_grade", "max_grade", "serious"}
_LIST_KEYS = {"terms", "categories", "socs", "exclude_terms", "exclude_categories"}


class ProtocolError(ValueError):
    """A protocol rule file that cannot be used; the message names file, line and problem."""


class _Checker:
    def __init__(self, path: str):
        self.path = path

    def fail(self, node, problem: str):
        line = node.start_mark.line + 1 if node is not None and getattr(node, "start_mark", None) else "?"
        raise ProtocolError(f"{self.path}:{line}: {problem}")

    # --- node helpers (yaml.nodes.*) ------------------------------------------
    def mapping(self, node, where: str) -> Dict[str, Any]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{where} must be a mapping, got {self._kind(node)}")
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(key_node, f"{where}: keys must be plain strings")
            key = key_node.value
            if key in out:
                self.fail(key_node, f"{where}: duplicate key '{key}'")
            out[key] = (key_node, value_node)
        return out

    def sequence(self, node, where: str) -> list:
        import yaml

        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{where} must be a list, got {self._kind(node)}")
        return list(node.value)

    def scalar(self, node, where: str, kind: type):
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"{where} must be a {kind.__name__}, got {self._kind(node)}")
        value = _construct(node)
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(node, f"{where} must be an integer, got {value!r}")
        if kind is bool and not isinstance(value, bool):
            self.fail(node, f"{where} must be true or false, got {value!r}")
        if kind is str:
            if not isinstance(value, str) or not value.strip():
                self.fail(node, f"{where} must be a non-empty string, got {value!r}")
        return value

    @staticmethod
    def _kind(node) -> str:
        import yaml

        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        return f"the scalar {node.value!r}"

    def string_list(self, node, where: str) -> List[str]:
        items = self.sequence(node, where)
        if not items:
            self.fail(node, f"{where} must not be empty")
        return [self.scalar(item, f"{where}[{i}]", str) for i, item in enumerate(items)]

    def unknown_keys(self, fields: Dict[str, Any], allowed: set, where: str):
        for key, (key_node, _) in fields.items():
            if key not in allowed:
                self.fail(key_node, f"{where}: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")


def _construct(node):
    import yaml

    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


_SAFE_TAG_PREFIX = "tag:yaml.org,2002:"
_SAFE_TAGS = {_SAFE_TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


def _check_tags(c: "_Checker", node) -> None:
    """Reject tags that yaml.safe_load would refuse (python objects and the like)."""
    import yaml

    if node.tag not in _SAFE_TAGS:
        c.fail(node, f"the YAML tag '{node.tag}' is not allowed (protocol files are safe-loaded: plain data only)")
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _check_tags(c, key)
            _check_tags(c, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_tags(c, item)


def _check(root, path: str, known_terms: Optional[set]) -> Dict[str, Any]:
    c = _Checker(path)
    term_lines: Dict[str, int] = {}

    def note_terms(list_node, terms: List[str]) -> None:
        for i, term in enumerate(terms):
            term_lines.setdefault(term, list_node.value[i].start_mark.line + 1)

    _check_tags(c, root)
    top = c.mapping(root, "the protocol file")
    c.unknown_keys(top, _TOP_KEYS, "the protocol file")
    for required in ("schema_version", "name"):
        if required not in top:
            c.fail(root, f"missing required key '{required}'")
    version = c.scalar(top["schema_version"][1], "schema_version", int)
    if version != SCHEMA_VERSION:
        c.fail(top["schema_version"][1], f"schema_version {version} is not supported (this library reads {SCHEMA_VERSION})")
    rules: Dict[str, Any] = {"schema_version": version, "name": c.scalar(top["name"][1], "name", str)}
    if "source" in top:
        rules["source"] = c.scalar(top["source"][1], "source", str)
    if "ctcae_version" in top:
        node = top["ctcae_version"][1]
        stated = str(node.value)
        if stated not in CTCAE_VERSIONS:
            c.fail(node, f"ctcae_version {stated!r} is not one of {', '.join(CTCAE_VERSIONS)} (write it quoted, e.g. \"6.0\")")
        rules["ctcae_version"] = stated
        term_lines["ctcae_version"] = node.start_mark.line + 1  # (no CTCAE term is spelt so)

    categories: Dict[str, Dict[str, List[str]]] = {}
    if "categories" in top:
        for name, (key_node, value_node) in c.mapping(top["categories"][1], "categories").items():
            fields = c.mapping(value_node, f"category '{name}'")
            c.unknown_keys(fields, {"terms", "socs"}, f"category '{name}'")
            if not fields:
                c.fail(value_node, f"category '{name}' needs 'terms' and/or 'socs'")
            cat = {k: c.string_list(v, f"category '{name}'.{k}") for k, (_, v) in fields.items()}
            if "terms" in fields:
                note_terms(fields["terms"][1], cat["terms"])
            if known_terms is not None and "terms" in fields:
                _check_terms(c, fields["terms"][1], cat["terms"], known_terms, f"category '{name}'.terms")
            categories[name] = cat
    rules["categories"] = categories

    def condition(node, where: str) -> Dict[str, Any]:
        fields = c.mapping(node, where)
        c.unknown_keys(fields, _CONDITION_KEYS, where)
        cond: Dict[str, Any] = {}
        for key, (_, value_node) in fields.items():
            if key in _LIST_KEYS:
                cond[key] = c.string_list(value_node, f"{where}.{key}")
                if key in ("categories", "exclude_categories"):
                    for i, name in enumerate(cond[key]):
                        if name not in categories:
                            c.fail(value_node.value[i], f"{where}.{key}: unknown category '{name}' (defined: {', '.join(sorted(categories)) or 'none'})")
                if key in ("terms", "exclude_terms"):
                    note_terms(value_node, cond[key])
                    if known_terms is not None:
                        _check_terms(c, value_node, cond[key], known_terms, f"{where}.{key}")
            elif key in ("min_grade", "max_grade"):
                cond[key] = c.scalar(value_node, f"{where}.{key}", int)
                if not 1 <= cond[key] <= 5:
                    c.fail(value_node, f"{where}.{key} must be a CTCAE grade 1-5, got {cond[key]}")
            else:
                cond[key] = c.scalar(value_node, f"{where}.{key}", bool)
        if "min_grade" in cond and "max_grade" in cond and cond["min_grade"] > cond["max_grade"]:
            c.fail(node, f"{where}: min_grade {cond['min_grade']} is above max_grade {cond['max_grade']}")
        return cond

    def rule_list(key: str, extra: Dict[str, type], required_extra: set) -> List[Dict[str, Any]]:
        if key not in top:
            return []
        out, ids = [], set()
        for i, item in enumerate(c.sequence(top[key][1], key)):
            where = f"{key}[{i}]"
            fields = c.mapping(item, where)
            c.unknown_keys(fields, {"id", "description", "when", "note"} | set(extra), where)
            for req in {"id", "when"} | required_extra:
                if req not in fields:
                    c.fail(item, f"{where}: missing required key '{req}'")
            rule = {"id": c.scalar(fields["id"][1], f"{where}.id", str)}
            if rule["id"] in ids:
                c.fail(fields["id"][1], f"{where}: duplicate id '{rule['id']}'")
            ids.add(rule["id"])
            where = f"{key} rule '{rule['id']}'"
            for opt in ("description", "note"):
                if opt in fields:
                    rule[opt] = c.scalar(fields[opt][1], f"{where}.{opt}", str)
            rule["when"] = condition(fields["when"][1], f"{where}.when")
            for name, kind in extra.items():
                if name in fields:
                    rule[name] = c.scalar(fields[name][1], f"{where}.{name}", kind)
                    if name == "action" and rule[name] not in ACTIONS:
                        c.fail(fields[name][1], f"{where}.action '{rule[name]}' is not one of {', '.join(ACTIONS)}")
            out.append(rule)
        return out

    rules["dlt"] = rule_list("dlt", {}, set())
    rules["dose_modifications"] = rule_list("dose_modifications", {"action": str}, {"action"})
    if "dlt_window_days" in top:
        node = top["dlt_window_days"][1]
        window = c.scalar(node, "dlt_window_days", int)
        if not 1 <= window <= 365:
            c.fail(node, f"dlt_window_days must be 1-365 days, got {window}")
        rules["dlt_window_days"] = window
    if "evaluability" in top:
        key_node, node = top["evaluability"]
        if "dlt_window_days" not in rules:
            c.fail(key_node, "evaluability needs dlt_window_days (the window it is measured against)")
        fields = c.mapping(node, "evaluability")
        c.unknown_keys(fields, _EVALUABILITY_KEYS, "evaluability")
        evaluability = {"min_followup_days": rules["dlt_window_days"], "dlt_always_evaluable": True}
        if "min_followup_days" in fields:
            days = c.scalar(fields["min_followup_days"][1], "evaluability.min_followup_days", int)
            if days < 0:
                c.fail(fields["min_followup_days"][1], f"evaluability.min_followup_days must be >= 0, got {days}")
            evaluability["min_followup_days"] = days
        if "dlt_always_evaluable" in fields:
            evaluability["dlt_always_evaluable"] = c.scalar(fields["dlt_always_evaluable"][1], "evaluability.dlt_always_evaluable", bool)
        rules["evaluability"] = evaluability
    rules["term_lines"] = term_lines
    return rules


def protocol_terms(rules: Dict[str, Any]) -> List[str]:
    """Every CTCAE term a protocol names (categories and rule conditions), in file order."""
    out: List[str] = []
    for cat in (rules.get("categories") or {}).values():
        out += cat.get("terms", [])
    for key in ("dlt", "dose_modifications"):
        for rule in rules.get(key) or []:
            out += rule["when"].get("terms", []) + rule["when"].get("exclude_terms", [])
    return list(dict.fromkeys(out))


def check_protocol_version(rules: Dict[str, Any], version: str, *, source: Optional[str] = None) -> None:
    """ProtocolError ``FILE:LINE: the protocol states CTCAE v<x> but ... grades with v<y>`` when
    the protocol states a ``ctcae_version`` other than ``version``; nothing when it states none."""
    stated = rules.get("ctcae_version")
    if stated is not None and str(stated) != str(version):
        where = source or rules.get("file") or "protocol"
        line = (rules.get("term_lines") or {}).get("ctcae_version", "?")
        raise ProtocolError(
            f"{where}:{line}: the protocol states ctcae_version {stated} but ct_reasoner grades with CTCAE v{version} "
            f"(set the component's ctcae_version to \"{stated}\", or convert the protocol's terms with `en-clinical-trials kb map`)"
        )


def check_protocol_terms(rules: Dict[str, Any], known_terms: set, *, version: str = "5.0", source: Optional[str] = None) -> None:
    """ProtocolError ``FILE:LINE: 'term' is not a CTCAE v<version> term`` for the
    first term of ``rules`` that ``known_terms`` lacks (a misspelt term would
    otherwise silently never fire); lists every unknown term."""
    unknown = [t for t in protocol_terms(rules) if t not in known_terms]
    if not unknown:
        return
    where = source or rules.get("file") or "protocol"
    lines = rules.get("term_lines") or {}
    first = unknown[0]
    more = f" (also unknown: {', '.join(repr(t) for t in unknown[1:])})" if len(unknown) > 1 else ""
    raise ProtocolError(f"{where}:{lines.get(first, '?')}: '{first}' is not a CTCAE v{version} term{more}")


def _check_terms(c: _Checker, list_node, terms: List[str], known: set, where: str) -> None:
    for i, term in enumerate(terms):
        if term not in known:
            c.fail(list_node.value[i], f"{where}: '{term}' is not a CTCAE v5.0 term")


def load_protocol(path: Union[str, Path], known_terms: Optional[set] = None) -> Dict[str, Any]:
    """Read, safe-load and schema-check a protocol file (.yml, .yaml or .json).

    known_terms: CTCAE term names; when given, every term in the file must be one.
    Returns the validated rules as a plain dict (JSON-safe).
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise ProtocolError(f"{path}: protocol file not found")
    if path.suffix.lower() not in (".yml", ".yaml", ".json"):
        raise ProtocolError(f"{path}: protocol files must end in .yml, .yaml or .json")
    try:
        text = path.read_text(encoding="utf8")
    except UnicodeDecodeError as err:
        raise ProtocolError(f"{path}: not UTF-8 text ({err})") from None
    if path.suffix.lower() == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            raise ProtocolError(f"{path}:{err.lineno}: invalid JSON: {err.msg} (column {err.colno})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else "?"
        raise ProtocolError(f"{path}:{line}: invalid YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise ProtocolError(f"{path}:?: invalid YAML: {err}") from None
    if root is None:
        raise ProtocolError(f"{path}:1: the protocol file is empty")
    rules = _check(root, str(path), known_terms)
    rules["file"] = path.name
    return rules


def validate_protocol(rules: Dict[str, Any], source: str = "protocol") -> Dict[str, Any]:
    """Re-check an already loaded rules dict (e.g. given inline in Python) by the same schema."""
    import yaml

    if not isinstance(rules, dict):
        raise ProtocolError(f"{source}: protocol rules must be a dict, got {type(rules).__name__}")
    data = {k: v for k, v in rules.items() if k not in ("file", "term_lines")}
    root = yaml.compose(yaml.safe_dump(data, sort_keys=False), Loader=yaml.SafeLoader)
    checked = _check(root, source, None)
    checked["term_lines"] = dict(rules.get("term_lines") or {})  # lines of the original file, if any
    if "file" in rules:
        checked["file"] = rules["file"]
    return checked


@registry.misc("ct.read_protocol.v1")
def read_protocol(path: str) -> Dict[str, Any]:
    """Registered reader for ``[initialize.components.ct_reasoner.protocol]``."""
    return load_protocol(path)


# --------------------------------------------------------------------------- evaluation
def _in_group(term: Optional[str], soc: Optional[str], terms: List[str], socs: List[str]) -> bool:
    return (term is not None and term in terms) or (soc is not None and soc in socs)


def matches(rules: Dict[str, Any], cond: Dict[str, Any], ae: Dict[str, Any]) -> bool:
    """Does an AE dict (keys ctcae_term, soc, grade, serious) meet a condition?"""
    term, soc, grade = ae.get("ctcae_term"), ae.get("soc"), ae.get("grade")
    cats = rules.get("categories", {})
    if "min_grade" in cond and (grade is None or grade < cond["min_grade"]):
        return False
    if "max_grade" in cond and (grade is None or grade > cond["max_grade"]):
        return False
    if "serious" in cond and bool(ae.get("serious")) != cond["serious"]:
        return False
    positive = [k for k in ("terms", "socs", "categories") if k in cond]
    if positive:
        ok = _in_group(term, soc, cond.get("terms", []), cond.get("socs", []))
        ok = ok or any(_in_group(term, soc, cats[n].get("terms", []), cats[n].get("socs", [])) for n in cond.get("categories", []))
        if not ok:
            return False
    if term is not None and term in cond.get("exclude_terms", []):
        return False
    if any(_in_group(term, soc, cats[n].get("terms", []), cats[n].get("socs", [])) for n in cond.get("exclude_categories", [])):
        return False
    return True


def apply_protocol(rules: Dict[str, Any], ae: Dict[str, Any]) -> Dict[str, Any]:
    """DLT flag and dose action of one AE under the rules, with evidence lines.

    Returns {"dlt": bool|None, "action": str|None, "evidence": [str]}: None when
    the AE has no grade (a grade-free rule can still match) and nothing matched.
    """
    name = rules.get("name", "protocol")
    evidence: List[str] = []
    dlt: Optional[bool] = False
    for rule in rules.get("dlt", []):
        if matches(rules, rule["when"], ae):
            dlt = True
            desc = f": {rule['description']}" if rule.get("description") else ""
            evidence.append(f"protocol '{name}': DLT rule '{rule['id']}'{desc}")
            break
    action = None
    for rule in rules.get("dose_modifications", []):
        if matches(rules, rule["when"], ae):
            action = rule["action"]
            note = f" ({rule['note']})" if rule.get("note") else ""
            evidence.append(f"protocol '{name}': dose rule '{rule['id']}' -> {action}{note}")
            break
    if not dlt and ae.get("grade") is None:
        dlt = None
    return {"dlt": dlt, "action": action, "evidence": evidence}
