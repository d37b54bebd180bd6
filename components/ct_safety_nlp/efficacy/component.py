"""``ct_efficacy``: tumour-response assessments (RECIST 1.1) found in text.

Reads
    the text, and the Doc's sentences when a parser / senter set them (else
    :func:`ct_safety_nlp.context.split_sentences`). Needs nothing before it;
    in the shipped pipeline it sits after ``ct_reasoner``.

Writes
    ``doc._.ct_responses``: a list of JSON-safe dicts, one per assessment, keys
    :data:`~ct_safety_nlp.efficacy.extract.RESPONSE_KEYS` (see
    :mod:`ct_safety_nlp.efficacy.extract` for how the text is read and
    :mod:`ct_safety_nlp.efficacy.recist` for the rules).

Rules
    a rule table (``ct.read_efficacy_rules.v1``; default: the table shipped
    in ``ct_safety_nlp/resources/efficacy_rules.json``) received at
    ``initialize``, merged with the library's ConText negation / speculation
    rules, and saved with the pipeline by ``to_disk`` / ``to_bytes`` (so a
    packaged pipeline never reads the library's defaults at run time).
    Settings come from the config only; ``from_disk`` never changes them.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional

import srsly
from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc
from spacy.util import ensure_path

from ..context import ContextMatcher, default_context_rules
from ..extensions import register_extensions
from .extract import find_responses
from .rules import CompiledRules, read_efficacy_rules, validate_efficacy_rules

RULES_FILE = "rules.json"
CONTEXT_FILE = "context.json"


@Language.factory(
    "ct_efficacy",
    assigns=["doc._.ct_responses"],
    default_config={"max_scope_words": 8, "carry_baseline": True},
)
def make_efficacy(nlp: Language, name: str, max_scope_words: int, carry_baseline: bool) -> "CtEfficacy":
    """Create the component. Reads the text (and the Doc's sentences if set);
    writes ``doc._.ct_responses``. Needs ``initialize`` (or ``from_disk``) first.

    max_scope_words: the ConText window for negation / speculation;
    carry_baseline: a sum without its own baseline takes the baseline sum
    stated earlier in the same text (and earlier sums bound the nadir)."""
    register_extensions()
    return CtEfficacy(nlp.vocab, name, max_scope_words=max_scope_words, carry_baseline=carry_baseline)


class CtEfficacy(Pipe):
    """The ``ct_efficacy`` component (see the module docstring)."""

    def __init__(self, vocab=None, name: str = "ct_efficacy", *, max_scope_words: int = 8, carry_baseline: bool = True):
        if isinstance(max_scope_words, bool) or not isinstance(max_scope_words, int) or max_scope_words < 1:
            raise ValueError(f"[{name}] max_scope_words must be a positive int, got {max_scope_words!r}")
        if not isinstance(carry_baseline, bool):
            raise ValueError(f"[{name}] carry_baseline must be true or false, got {carry_baseline!r}")
        self.vocab = vocab
        self.name = name
        self.max_scope_words = max_scope_words
        self.carry_baseline = carry_baseline
        self.cfg = {"max_scope_words": max_scope_words, "carry_baseline": carry_baseline}
        self.rules: Optional[CompiledRules] = None
        self.context: Optional[ContextMatcher] = None

    # ------------------------------------------------------------------ setup
    def initialize(
        self,
        get_examples: Optional[Callable] = None,
        *,
        nlp: Optional[Language] = None,
        rules: Optional[Dict[str, Any]] = None,
        context_rules: Optional[Dict[str, Any]] = None,
    ) -> None:
        """Receive the rule table (``ct.read_efficacy_rules.v1`` in
        ``[initialize.components.ct_efficacy.rules]``; default: the shipped
        table) and the ConText rules it extends (``ct.read_context_rules.v1``;
        default: the shipped ones); both are saved with the pipeline."""
        self._context_rules = context_rules if context_rules is not None else default_context_rules()
        if rules is None:
            rules = read_efficacy_rules()
        table = validate_efficacy_rules(rules, source=f"{self.name} rules")
        if "file" in rules:
            table["file"] = rules["file"]
        self._set_rules(table, self._merged_context(table))

    def _merged_context(self, table: Dict[str, Any]) -> Dict[str, Any]:
        """The library's ConText tables plus the rule table's radiology cues."""
        ctx, base = table["context"], self._context_rules
        return {
            "rules": [list(r) for r in base["rules"]] + [list(r) for r in ctx["rules"]],
            "pseudo": list(base["pseudo"]) + list(ctx["pseudo"]),
            "terminators": list(base["terminators"]) + list(ctx["terminators"]),
        }

    def _set_rules(self, table: Dict[str, Any], context: Dict[str, Any]) -> None:
        self.rules = CompiledRules(table)
        self.context = ContextMatcher(context["rules"], context["pseudo"], context["terminators"], self.max_scope_words)

    def _require(self) -> None:
        if self.rules is None or self.context is None:
            raise ValueError(
                f"[{self.name}] the component has no rule table: call nlp.initialize() (the shipped table is the "
                f"default; set [initialize.components.{self.name}.rules] to use another) or load a saved pipeline."
            )

    # ------------------------------------------------------------------- run
    def __call__(self, doc: Doc) -> Doc:
        self._require()
        sentences = None
        if doc.has_annotation("SENT_START"):
            sentences = [(s.start_char, s.end_char) for s in doc.sents]
        doc._.ct_responses = find_responses(doc.text, self.rules, self.context, sentences, self.carry_baseline)
        return doc

    # pipe(): spaCy's Pipe.pipe calls __call__ per Doc and routes errors to the error handler

    # ---------------------------------------------------------- serialisation
    def _context_dict(self) -> Dict[str, Any]:
        d = self.context.to_dict()
        d.pop("max_scope_words", None)  # a setting: the config's value always wins
        return d

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        self._require()
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        if "rules" not in exclude:
            srsly.write_json(path / RULES_FILE, self.rules.table)
            srsly.write_json(path / CONTEXT_FILE, self._context_dict())

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "CtEfficacy":
        if "rules" in exclude:
            return self
        path = ensure_path(path)
        rules_path, ctx_path = path / RULES_FILE, path / CONTEXT_FILE
        for p in (rules_path, ctx_path):
            if not p.exists():
                raise ValueError(f"[{self.name}] {p} is missing: not a directory written by ct_efficacy.to_disk")
        table = validate_efficacy_rules(srsly.read_json(rules_path), source=str(rules_path))
        self._set_rules(table, srsly.read_json(ctx_path))
        return self

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        self._require()
        msg = {} if "rules" in exclude else {"rules": self.rules.table, "context": self._context_dict()}
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = tuple()) -> "CtEfficacy":
        msg = srsly.msgpack_loads(data)
        if "rules" not in exclude and "rules" in msg:
            table = validate_efficacy_rules(msg["rules"], source=f"{self.name} bytes")
            self._set_rules(table, msg["context"])
        return self

    # ---------------------------------------------------------------- pickle
    def __getstate__(self):
        return {
            "vocab": self.vocab, "name": self.name, "cfg": dict(self.cfg),
            "rules": None if self.rules is None else self.rules.table,
            "context": None if self.context is None else self._context_dict(),
        }

    def __setstate__(self, state):
        self.__init__(state.get("vocab"), state["name"], **state["cfg"])
        if state["rules"] is not None:
            self._set_rules(state["rules"], state["context"])

    def __reduce__(self):
        return (_rebuild, (self.__getstate__(),))


def _rebuild(state: Dict[str, Any]) -> CtEfficacy:
    obj = CtEfficacy.__new__(CtEfficacy)
    obj.__setstate__(state)
    return obj
