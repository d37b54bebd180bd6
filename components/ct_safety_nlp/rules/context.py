"""Schema and reader of the context rules (``resources/context_rules.yml``):
``ct.read_context_rules.v1``. Compiled by :class:`ct_safety_nlp.context.ContextMatcher`."""

from __future__ import annotations

from typing import Any, Dict

from spacy.util import registry

from .io import Int, List_, Map, Str, Tuple_, read_table

CATEGORIES = ("negated", "speculated", "historical")
DIRECTIONS = ("forward", "backward", "both")

SCHEMA = Map(
    {
        "schema_version": Int(min=1, max=1),
        "name": Str(),
        "source": Str(),
        "rules": List_(Tuple_(Str(), Str(choices=CATEGORIES), Str(choices=DIRECTIONS)), min_len=1),
        "pseudo": List_(Str(), unique=True),
        "terminators": List_(Str(), unique=True),
    },
    required=("schema_version", "rules", "pseudo", "terminators"),
)


@registry.misc("ct.read_context_rules.v1")
def read_context_rules(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_context_rules.v1``: triggers, pseudo-triggers and
    terminators at ``path`` (YAML/JSON); errors name FILE:LINE."""
    return read_table(path, SCHEMA, kind="context rules")
