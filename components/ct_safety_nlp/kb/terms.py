"""The compiled term matching rules (:class:`TermRules`, from ``ct.read_term_rules.v1``)."""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, Optional

from ..text import TextRules, default_text_rules

from ..rules.io import CompiledTable

__all__ = ["TermRules", "default_term_rules"]


class TermRules(CompiledTable):
    """Leading junk, lemma-step modifiers, wordings that name no single term,
    forms never matched in text, short words, preceding blockers and the gap
    allowed between the words of a form; folds from the text rules."""

    _state_keys = ("text_rules",)

    def __init__(self, data: Dict[str, Any], text_rules: Optional[TextRules] = None):
        if not isinstance(data, dict) or "modifiers" not in data:
            raise ValueError("TermRules needs the dict read by ct.read_term_rules.v1")
        self.data = data
        self.text_rules = text_rules or default_text_rules()
        self.leading_junk = re.compile(data["leading_junk"], re.I)
        self.modifiers = frozenset(data["modifiers"])
        self.no_single_term = frozenset(self.text_rules.canonical(t) for t in data["no_single_term"])
        self.mention_exclude = frozenset(data["mention_exclude"])
        self.short_word_length = int(data.get("short_word_length", 4))
        self.short_words = frozenset(data["short_words"])
        self.preceding_blockers = {form: frozenset(words) for form, words in data["preceding_blockers"].items()}
        self.gap = re.compile(data["gap"])



@functools.lru_cache(maxsize=1)
def default_term_rules() -> TermRules:
    """The shipped term matching rules (``resources/terms.yml``), read once."""
    from ..rules.io import resource_path
    from ..rules.terms import read_term_rules

    return TermRules(read_term_rules(str(resource_path("terms.yml"))))
