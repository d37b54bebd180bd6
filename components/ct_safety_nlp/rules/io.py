"""Reading rule tables: YAML or JSON files, checked against a small schema,
every problem reported as ``FILE:LINE: problem``.

Every knowledge table of the library (lab thresholds, context triggers,
seriousness cues, drug stems, spelling folds, protocol rules, ...) is a data
file read through :func:`read_table`. Files are parsed by PyYAML's safe
composer (JSON is read the same way, so JSON files get line numbers too; no
Python objects are ever constructed), then checked node by node against a
schema built from the classes below, so an error names the line of the
offending value.

This module is a leaf: it imports nothing from the library.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

__all__ = [
    "Bool",
    "CompiledTable",
    "Dict_",
    "Float",
    "Int",
    "List_",
    "Map",
    "Nullable",
    "RuleFileError",
    "Str",
    "Tuple_",
    "compose_file",
    "read_table",
    "resource_path",
]


class CompiledTable:
    """Base of every compiled rule table: it keeps the plain data it was built
    from (``data``), returns it from ``to_dict`` (what components save) and
    pickles by it. ``_state_keys`` name further constructor arguments that
    pickling keeps (e.g. the text rules a table was compiled with)."""

    data: Dict[str, Any]
    _state_keys: Tuple[str, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        return self.data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]):
        return cls(data)

    def __getstate__(self) -> Dict[str, Any]:
        return {"data": self.data, **{key: getattr(self, key) for key in self._state_keys}}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["data"], *[state[key] for key in self._state_keys])


class RuleFileError(ValueError):
    """A rule table that cannot be used; the message reads ``FILE:LINE: problem``."""


def _line(node) -> Union[int, str]:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else "?"


class _Ctx:
    def __init__(self, source: str):
        self.source = source

    def fail(self, node, problem: str):
        raise RuleFileError(f"{self.source}:{_line(node)}: {problem}")


def _kind(node) -> str:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.ScalarNode):
        return f"the scalar {node.value!r}"
    return type(node).__name__


def _scalar_value(node):
    """The plain value of a scalar node (safe resolution: str, int, float, bool, null)."""
    import yaml

    tag = node.tag
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return node.value.lower() in ("true", "yes", "on")
    if tag == "tag:yaml.org,2002:int":
        digits = node.value.replace("_", "")
        try:
            return int(digits)
        except ValueError:
            return int(digits, 0)  # 0x.., 0o..
    if tag == "tag:yaml.org,2002:float":
        return float(node.value.replace("_", ""))
    if tag == "tag:yaml.org,2002:str":
        return node.value
    raise yaml.YAMLError(f"unsupported tag {tag}")


class Schema:
    """Base class: ``check(node, where, ctx)`` returns the plain value or fails with the node's line."""

    def check(self, node, where: str, ctx: _Ctx):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class _Scalar(Schema):
    kinds: Tuple[type, ...] = ()
    name = "a value"

    def value(self, node, where, ctx):
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            ctx.fail(node, f"{where} must be {self.name}, got {_kind(node)}")
        try:
            return _scalar_value(node)
        except (ValueError, yaml.YAMLError) as err:
            ctx.fail(node, f"{where}: {err}")

    def describe(self) -> str:
        return self.name


class Str(_Scalar):
    """A non-empty string (``empty=True`` allows ""), optionally one of ``choices``,
    matching ``pattern``, or a valid regular expression (``regex=True``)."""

    name = "a string"

    def __init__(self, *, empty: bool = False, choices: Optional[Iterable[str]] = None, pattern: Optional[str] = None, regex: bool = False, flags: int = 0):
        self.empty = empty
        self.choices = tuple(choices) if choices is not None else None
        self.pattern = re.compile(pattern) if pattern else None
        self.regex = regex
        self.flags = flags

    def check(self, node, where, ctx):
        value = self.value(node, where, ctx)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and node.style is None:
            value = node.value  # "01", "3.0" written without quotes: keep the text
        if not isinstance(value, str):
            ctx.fail(node, f"{where} must be a string, got {value!r}")
        if not self.empty and not value.strip():
            ctx.fail(node, f"{where} must not be empty")
        if self.choices is not None and value not in self.choices:
            ctx.fail(node, f"{where} must be one of {list(self.choices)}, got {value!r}")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            ctx.fail(node, f"{where} {value!r} does not match {self.pattern.pattern!r}")
        if self.regex:
            try:
                re.compile(value, self.flags)
            except re.error as err:
                ctx.fail(node, f"{where} is not a valid regular expression ({err}): {value!r}")
        return value


class Int(_Scalar):
    name = "an integer"

    def __init__(self, *, min: Optional[int] = None, max: Optional[int] = None):
        self.min, self.max = min, max

    def check(self, node, where, ctx):
        value = self.value(node, where, ctx)
        if isinstance(value, bool) or not isinstance(value, int):
            ctx.fail(node, f"{where} must be an integer, got {value!r}")
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            if self.min is not None and self.min == self.max:
                ctx.fail(node, f"{where} {value} is not supported (this library reads {self.min})")
            ctx.fail(node, f"{where} must be between {self.min} and {self.max}, got {value}")
        return value


class Float(_Scalar):
    name = "a number"

    def __init__(self, *, min: Optional[float] = None, max: Optional[float] = None):
        self.min, self.max = min, max

    def check(self, node, where, ctx):
        value = self.value(node, where, ctx)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            ctx.fail(node, f"{where} must be a number, got {value!r}")
        value = float(value)
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            ctx.fail(node, f"{where} must be between {self.min} and {self.max}, got {value}")
        return value


class Bool(_Scalar):
    name = "true or false"

    def check(self, node, where, ctx):
        value = self.value(node, where, ctx)
        if not isinstance(value, bool):
            ctx.fail(node, f"{where} must be true or false, got {value!r}")
        return value


class Nullable(Schema):
    """``null`` or the inner schema."""

    def __init__(self, inner: Schema):
        self.inner = inner

    def check(self, node, where, ctx):
        import yaml

        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return None
        return self.inner.check(node, where, ctx)

    def describe(self) -> str:
        return f"null or {self.inner.describe()}"


class List_(Schema):
    """A list of items; ``unique`` forbids repeated values (``ignore_case`` compares
    strings case-insensitively)."""

    def __init__(self, item: Schema, *, min_len: int = 0, unique: bool = False, ignore_case: bool = False):
        self.item, self.min_len, self.unique, self.ignore_case = item, min_len, unique, ignore_case

    def check(self, node, where, ctx):
        import yaml

        if not isinstance(node, yaml.SequenceNode):
            ctx.fail(node, f"{where} must be a list of {self.item.describe()}, got {_kind(node)}")
        if len(node.value) < self.min_len:
            ctx.fail(node, f"{where} needs at least {self.min_len} item(s)")
        out, seen = [], {}
        for i, child in enumerate(node.value):
            value = self.item.check(child, f"{where}[{i}]", ctx)
            if self.unique:
                key = value.lower() if isinstance(value, str) and self.ignore_case else repr(value)
                if key in seen:
                    ctx.fail(child, f"{where}[{i}] repeats {value!r} (first at item {seen[key]})")
                seen[key] = i
            out.append(value)
        return out

    def describe(self) -> str:
        return f"a list of {self.item.describe()}"


class Tuple_(Schema):
    """A list of fixed length, one schema per position."""

    def __init__(self, *items: Schema):
        self.items = items

    def check(self, node, where, ctx):
        import yaml

        if not isinstance(node, yaml.SequenceNode) or len(node.value) != len(self.items):
            ctx.fail(node, f"{where} must be a list of {len(self.items)} items ({', '.join(s.describe() for s in self.items)}), got {_kind(node)}")
        return [schema.check(child, f"{where}[{i}]", ctx) for i, (schema, child) in enumerate(zip(self.items, node.value))]

    def describe(self) -> str:
        return f"[{', '.join(s.describe() for s in self.items)}]"


def _mapping_items(node, where, ctx) -> List[Tuple[str, Any, Any]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        ctx.fail(node, f"{where} must be a mapping, got {_kind(node)}")
    out, seen = [], set()
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            ctx.fail(key_node, f"{where}: keys must be plain strings")
        key = key_node.value
        if key in seen:
            ctx.fail(key_node, f"{where}: duplicate key {key!r}")
        seen.add(key)
        out.append((key, key_node, value_node))
    return out


class Map(Schema):
    """An object with known keys: ``fields = {name: schema}``; ``required`` names
    the keys that must be present; unknown keys are errors unless ``extra``."""

    def __init__(self, fields: Dict[str, Schema], *, required: Iterable[str] = (), extra: bool = False):
        self.fields, self.required, self.extra = fields, tuple(required), extra

    def check(self, node, where, ctx):
        items = _mapping_items(node, where, ctx)
        out: Dict[str, Any] = {}
        for key, key_node, value_node in items:
            schema = self.fields.get(key)
            if schema is None:
                if self.extra:
                    continue
                ctx.fail(key_node, f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(self.fields))})")
            out[key] = schema.check(value_node, f"{where}.{key}" if where else key, ctx)
        missing = [k for k in self.required if k not in out]
        if missing:
            ctx.fail(node, f"{where or 'the file'}: missing required key(s) {missing}")
        return out

    def describe(self) -> str:
        return "a mapping"


class Dict_(Schema):
    """A mapping with free keys (checked by ``key``) and values of one schema."""

    def __init__(self, value: Schema, *, key: Optional[Schema] = None, min_len: int = 0):
        self.value, self.key, self.min_len = value, key or Str(), min_len

    def check(self, node, where, ctx):
        items = _mapping_items(node, where, ctx)
        if len(items) < self.min_len:
            ctx.fail(node, f"{where} needs at least {self.min_len} entr{'y' if self.min_len == 1 else 'ies'}")
        out = {}
        for key, key_node, value_node in items:
            key = self.key.check(key_node, f"{where} key", ctx)
            out[key] = self.value.check(value_node, f"{where}.{key}" if where else key, ctx)
        return out

    def describe(self) -> str:
        return f"a mapping of {self.value.describe()}"


def compose_file(path: Union[str, Path]):
    """The YAML node tree of ``path`` (YAML or JSON); errors name FILE:LINE."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"rule table not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RuleFileError(f"{path}:?: not UTF-8 text ({err})") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark is not None else "?"
        raise RuleFileError(f"{path}:{line}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {err.problem}") from None
    except yaml.YAMLError as err:
        raise RuleFileError(f"{path}:?: not valid YAML/JSON: {err}") from None
    if node is None:
        raise RuleFileError(f"{path}:1: the file is empty")
    return node


def _reject_tags(node, ctx: _Ctx) -> None:
    """Only plain YAML: no anchors-as-objects, no Python tags."""
    import yaml

    if isinstance(node, yaml.ScalarNode):
        if node.tag.startswith("tag:yaml.org,2002:") and node.tag.rsplit(":", 1)[-1] in ("str", "int", "float", "bool", "null"):
            return
        ctx.fail(node, f"tag {node.tag!r} is not allowed (plain values only)")
    children = node.value if isinstance(node, yaml.SequenceNode) else [c for kv in node.value for c in kv]
    if not (node.tag.endswith(":seq") or node.tag.endswith(":map")):
        ctx.fail(node, f"tag {node.tag!r} is not allowed (plain values only)")
    for child in children:
        _reject_tags(child, ctx)


def read_table(
    path: Union[str, Path],
    schema: Schema,
    *,
    kind: str,
    check: Optional[Callable[[Any, Any, Callable[[Any, str], None]], None]] = None,
) -> Dict[str, Any]:
    """Read and check one rule table.

    kind: what the table is ("lab rules", "context rules", ...), shown in errors.
    check: optional extra validation ``check(data, root_node, fail)``; ``fail(node,
    problem)`` raises RuleFileError at that node's line.
    Returns the plain data (dicts, lists, str, int, float, bool, None).
    """
    node = compose_file(path)
    ctx = _Ctx(str(path))
    _reject_tags(node, ctx)
    data = schema.check(node, "", ctx)
    if check is not None:
        check(data, node, ctx.fail)
    return data


def find_node(root, *keys):
    """The node at ``root[key][index]...`` (for error lines in extra checks), or root."""
    import yaml

    node = root
    for key in keys:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            nxt = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            return node
        node = nxt
    return node


def resource_path(name: str) -> Path:
    """Path of a table shipped in ``ct_safety_nlp/resources/`` (the library's defaults)."""
    return Path(str(resources.files("ct_safety_nlp").joinpath("resources", name)))
