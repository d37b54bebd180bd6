"""Schema and reader of the term matching rules (``resources/terms.yml``):
``ct.read_term_rules.v1``. Compiled by :class:`ct_safety_nlp.kb.terms.TermRules`."""

from __future__ import annotations

from typing import Any, Dict

from spacy.util import registry

from .io import Dict_, Int, List_, Map, Str, read_table

SCHEMA = Map(
    {
        "schema_version": Int(min=1, max=1),
        "name": Str(),
        "source": Str(),
        "leading_junk": Str(regex=True, flags=2),
        "modifiers": List_(Str(), unique=True),
        "no_single_term": List_(Str(), unique=True),
        "mention_exclude": List_(Str(), unique=True),
        "short_word_length": Int(min=0),
        "short_words": List_(Str(), unique=True),
        "preceding_blockers": Dict_(List_(Str(), unique=True)),
        "gap": Str(regex=True),
    },
    required=("schema_version", "leading_junk", "modifiers", "no_single_term", "mention_exclude", "short_words", "preceding_blockers", "gap"),
)


@registry.misc("ct.read_term_rules.v1")
def read_term_rules(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_term_rules.v1``: how CTCAE terms are matched in text, at ``path``."""
    return read_table(path, SCHEMA, kind="term matching rules")
