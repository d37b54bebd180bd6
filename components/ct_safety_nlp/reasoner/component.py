"""The ``ct_reasoner`` pipeline component (a spaCy ``Pipe``).

Reads ``doc.ents`` / ``doc.spans[spans_key]`` labelled ``ADVERSE_EVENT`` (the
trained NER / spancat; optional), ``DRUG``, ``DOSE``, ``ROUTE``,
``FREQUENCY``, ``DURATION`` entities (optional), and the text itself: CTCAE
terms and synonyms, lab values, so a blank pipeline works. Sentences come
from the Doc when a parser / senter set them, else from the text rules'
splitter.

Writes ``doc._.ct_adverse_events`` (keys :data:`AE_KEYS`),
``doc._.ct_regimens`` (keys :data:`REGIMEN_KEYS`) and ``doc._.ct_ae_rejected``
(the model's AE spans that name no CTCAE term and no event, each with its
reason: kept, never silently dropped).

Knowledge: every table arrives at :meth:`CtReasoner.initialize` (the
config's ``[initialize.components.ct_reasoner]``; a table left out is the
library's shipped default) and is saved with the pipeline
(:data:`ct_safety_nlp.reasoner.tables.TABLE_FILES`). Settings come from the
config only. The embedding fallback's encoder (``encoder``,
``ct.minilm_encoder.v1``) loads its weights on first use: saving, loading and
pickling never load a model. Errors in a Doc reach ``nlp.set_error_handler``.

CTCAE versions: ``ctcae_version`` ("5.0", the default, or "6.0") picks the
knowledge base and lab table the component grades with. Both versions are
compiled at initialize when it gets ``kb_v6`` (and NCI's ``mapping``, which
re-points the v5 synonyms to the v6 terms) and are saved together, so a
saved pipeline switches with
``spacy.load(path, config={"components": {"ct_reasoner": {"ctcae_version": "6.0"}}})``.
Every AE record says its ``ctcae_version``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc
from spacy.util import ensure_path, minibatch

from ..context import ContextMatcher
from ..course import CourseRules
from ..extensions import register_extensions
from ..grading import GradingRules, LabRules
from ..kb import CtcaeKB, SentenceEncoder, TermRules
from ..protocol import check_protocol_terms, check_protocol_version, validate_protocol
from ..regimens import RegimenRules
from ..sdtm.terminology import HeadNouns
from ..seriousness import SeriousnessRules
from ..text import DrugVocabulary, TextRules, clause_spans
from .doc_regimens import REGIMEN_KEYS, doc_regimens, drugs_by_sentence, treatment_reason
from .attribution import attribute_in_document, grade_from_other_mentions, spell_out_regimens
from .events import AE_KEYS, add_course, build_event
from .grading_window import linked_clauses
from .mentions import SpanCandidates, choose_model_spans, resolve_mentions, span_candidates
from .tables import TABLE_FILES, ReasonerTables, shipped

__all__ = ["AE_KEYS", "REGIMEN_KEYS", "CtReasoner", "make_reasoner"]

#: initialize argument -> (registered reader, shipped file) used when the config gives none
SHIPPED = {
    "text_rules": ("ct.read_text_rules.v1", "text.yml"),
    "drug_vocabulary": ("ct.read_drug_vocabulary.v1", "drugs.yml"),
    "term_rules": ("ct.read_term_rules.v1", "terms.yml"),
    "lab_rules": ("ct.read_lab_rules.v1", "lab_rules.yml"),
    "grading_rules": ("ct.read_grading_rules.v1", "grading.yml"),
    "context_rules": ("ct.read_context_rules.v1", "context_rules.yml"),
    "seriousness_rules": ("ct.read_seriousness_rules.v1", "seriousness.yml"),
    "regimen_rules": ("ct.read_regimen_rules.v1", "regimens.yml"),
    "course_rules": ("ct.read_ae_course.v1", "ae_course.yml"),
    "ae_head_nouns": ("ct.read_ae_head_nouns.v1", "ae_head_nouns.yml"),
}


@Language.factory(
    "ct_reasoner",
    assigns=["doc._.ct_adverse_events", "doc._.ct_regimens", "doc._.ct_ae_rejected"],
    default_config={
        "ae_labels": ["ADVERSE_EVENT"],
        "spans_key": "sc",
        "use_kb_mentions": True,
        "use_lab_mentions": True,
        "drug_rule": True,
        "max_scope_words": 8,
        "encoder": {"@misc": "ct.minilm_encoder.v1"},
        "ctcae_version": "5.0",
    },
)
def make_reasoner(
    nlp: Language,
    name: str,
    ae_labels: List[str],
    spans_key: str,
    use_kb_mentions: bool,
    use_lab_mentions: bool,
    drug_rule: bool,
    max_scope_words: int,
    encoder: SentenceEncoder,
    ctcae_version: str = "5.0",
) -> "CtReasoner":
    """CTCAE term, grade, context, seriousness, suspect drugs, DLT and dose action
    for every AE mention. Reads AE / DRUG / DOSE / ROUTE / FREQUENCY / DURATION
    entities and spans when present, and the text; writes
    ``doc._.ct_adverse_events`` and ``doc._.ct_regimens``. Needs ``initialize``
    (or ``from_disk``) first."""
    register_extensions()
    return CtReasoner(
        nlp.vocab,
        name,
        ae_labels=ae_labels,
        spans_key=spans_key,
        use_kb_mentions=use_kb_mentions,
        use_lab_mentions=use_lab_mentions,
        drug_rule=drug_rule,
        max_scope_words=max_scope_words,
        encoder=encoder,
        ctcae_version=ctcae_version,
    )


class CtReasoner(Pipe):
    """The ``ct_reasoner`` component (see the module docstring)."""

    def __init__(
        self,
        vocab=None,
        name: str = "ct_reasoner",
        *,
        ae_labels: Iterable[str] = ("ADVERSE_EVENT",),
        spans_key: str = "sc",
        use_kb_mentions: bool = True,
        use_lab_mentions: bool = True,
        drug_rule: bool = True,
        max_scope_words: int = 8,
        encoder: Optional[SentenceEncoder] = None,
        ctcae_version: str = "5.0",
    ):
        if not isinstance(max_scope_words, int) or max_scope_words < 1:
            raise ValueError(f"[{name}] max_scope_words must be a positive int, got {max_scope_words!r}")
        if str(ctcae_version) not in ("5.0", "6.0"):
            raise ValueError(f"[{name}] ctcae_version must be \"5.0\" or \"6.0\", got {ctcae_version!r}")
        self.ctcae_version = str(ctcae_version)
        #: every compiled table, both versions (what to_disk saves); ``tables`` is the active version's view
        self.stored: Optional[ReasonerTables] = None
        self.vocab = vocab
        self.name = name
        self.ae_labels = list(ae_labels)
        self.spans_key = spans_key
        self.use_kb_mentions = use_kb_mentions
        self.use_lab_mentions = use_lab_mentions
        self.drug_rule = drug_rule
        self.max_scope_words = max_scope_words
        self.encoder = encoder if encoder is not None else SentenceEncoder()
        self.tables: Optional[ReasonerTables] = None

    # ------------------------------------------------------------------ setup
    @property
    def kb(self) -> Optional[CtcaeKB]:
        return self.tables.kb if self.tables is not None else None

    @property
    def protocol(self) -> Optional[Dict[str, Any]]:
        return self.tables.protocol if self.tables is not None else None

    def initialize(
        self,
        get_examples: Optional[Callable] = None,
        *,
        nlp: Optional[Language] = None,
        kb: Optional[Dict[str, Any]] = None,
        synonyms: Optional[Dict[str, str]] = None,
        protocol: Optional[Dict[str, Any]] = None,
        text_rules: Optional[Dict[str, Any]] = None,
        drug_vocabulary: Optional[Dict[str, Any]] = None,
        term_rules: Optional[Dict[str, Any]] = None,
        lab_rules: Optional[Dict[str, Any]] = None,
        grading_rules: Optional[Dict[str, Any]] = None,
        context_rules: Optional[Dict[str, Any]] = None,
        seriousness_rules: Optional[Dict[str, Any]] = None,
        regimen_rules: Optional[Dict[str, Any]] = None,
        course_rules: Optional[Dict[str, Any]] = None,
        ae_head_nouns: Optional[Dict[str, Any]] = None,
        fallback: Optional[str] = None,
        fallback_threshold: Optional[float] = None,
        kb_v6: Optional[Dict[str, Any]] = None,
        mapping: Optional[Dict[str, Any]] = None,
        synonyms_v6: Optional[Dict[str, str]] = None,
        lab_rules_v6: Optional[Dict[str, Any]] = None,
    ) -> None:
        """Receive the tables (each from its registered reader: ``ct.read_ctcae.v1``,
        ``ct.read_synonyms.v1``, ``ct.read_protocol.v1``, ``ct.read_text_rules.v1``,
        ...; a table not given is the library's shipped one) and compile them; the
        KB's term embeddings are computed here once. Protocol terms are checked
        against the knowledge base (a misspelt term is an error naming FILE:LINE).
        Everything is saved with the pipeline by ``to_disk``.

        CTCAE v6.0 beside v5.0: ``kb_v6`` (``ct.read_ctcae.v1`` with version "6.0"),
        ``mapping`` (``ct.read_ctcae_mapping.v1``), ``synonyms_v6`` (default: the v5
        synonyms re-pointed through the mapping) and ``lab_rules_v6`` (default: the
        shipped ``lab_rules_v6.yml``). A protocol stating another ``ctcae_version``
        than the component's is an error."""
        if not isinstance(kb, dict) or not kb.get("terms"):
            raise ValueError(
                f"{self.name}.initialize needs kb=<CTCAE table> (from ct.read_ctcae.v1 in "
                f"[initialize.components.{self.name}.kb]); got {type(kb).__name__}"
            )
        if synonyms is None:
            synonyms = {}
        if not isinstance(synonyms, dict):
            raise ValueError(f"{self.name}.initialize: synonyms must be a dict (ct.read_synonyms.v1), got {type(synonyms).__name__}")
        given = {
            "text_rules": text_rules, "drug_vocabulary": drug_vocabulary, "term_rules": term_rules, "lab_rules": lab_rules,
            "grading_rules": grading_rules, "context_rules": context_rules, "seriousness_rules": seriousness_rules,
            "regimen_rules": regimen_rules, "course_rules": course_rules, "ae_head_nouns": ae_head_nouns,
        }
        data = {}
        for key, value in given.items():
            if value is None:
                value = shipped(*SHIPPED[key])()
            elif not isinstance(value, dict):
                raise ValueError(f"{self.name}.initialize: {key} must be the dict its reader returns ({SHIPPED[key][0]}), got {type(value).__name__}")
            data[key] = value
        kb_kwargs = {}
        if fallback is not None:
            kb_kwargs["fallback"] = fallback
        if fallback_threshold is not None:
            kb_kwargs["fallback_threshold"] = fallback_threshold
        text = TextRules(data["text_rules"])
        term_rules_compiled = TermRules(data["term_rules"], text)
        knowledge = CtcaeKB(kb, synonyms, term_rules=term_rules_compiled, encoder=self.encoder, **kb_kwargs)
        knowledge.prepare()
        knowledge_v6 = labs_v6 = None
        if kb_v6 is not None:
            knowledge_v6, labs_v6 = self._compile_v6(kb_v6, mapping, synonyms, synonyms_v6, lab_rules_v6, term_rules_compiled, kb_kwargs)
        elif self.ctcae_version == "6.0":
            raise ValueError(f"{self.name}.initialize: ctcae_version is \"6.0\" but no kb_v6 (ct.read_ctcae.v1 with version \"6.0\") was given")
        if protocol is not None:
            protocol = validate_protocol(protocol, source=protocol.get("file", f"{self.name} protocol") if isinstance(protocol, dict) else f"{self.name} protocol")
            check_protocol_version(protocol, self.ctcae_version)
            active_kb = knowledge_v6 if self.ctcae_version == "6.0" else knowledge
            check_protocol_terms(protocol, set(active_kb.terms), version=active_kb.version)
        context = data["context_rules"]
        self.stored = ReasonerTables(
            kb=knowledge,
            text_rules=text,
            drugs=DrugVocabulary(data["drug_vocabulary"]),
            lab_rules=LabRules(data["lab_rules"]),
            grading_rules=GradingRules(data["grading_rules"], text),
            context=ContextMatcher(context["rules"], context["pseudo"], context["terminators"], self.max_scope_words),
            seriousness=SeriousnessRules(data["seriousness_rules"], text),
            regimens=RegimenRules(data["regimen_rules"]),
            protocol=protocol,
            kb_v6=knowledge_v6,
            lab_rules_v6=labs_v6,
            mapping=mapping,
            course=CourseRules(data["course_rules"]),
            head_nouns=HeadNouns(data["ae_head_nouns"]),
        )
        self.tables = self.stored.for_version(self.ctcae_version, self.name)

    def _compile_v6(self, kb_v6, mapping, synonyms, synonyms_v6, lab_rules_v6, term_rules, kb_kwargs):
        """The v6.0 knowledge base and lab table (see :meth:`initialize`)."""
        from ..kb.mapping import CtcaeMapping, repoint_synonyms

        if not isinstance(kb_v6, dict) or str(kb_v6.get("version")) != "6.0" or not kb_v6.get("terms"):
            raise ValueError(f"{self.name}.initialize: kb_v6 must be the CTCAE v6.0 table (ct.read_ctcae.v1 with version \"6.0\")")
        v6_terms = [rec["term"] for rec in kb_v6["terms"]]
        if synonyms_v6 is None:
            if mapping is None:
                raise ValueError(f"{self.name}.initialize: kb_v6 needs mapping (ct.read_ctcae_mapping.v1) or synonyms_v6")
            synonyms_v6 = repoint_synonyms(synonyms, CtcaeMapping(mapping), v6_terms)
        if lab_rules_v6 is None:
            lab_rules_v6 = shipped("ct.read_lab_rules.v1", "lab_rules_v6.yml")()
        labs_v6 = LabRules(lab_rules_v6)
        if labs_v6.ctcae_version != "6.0":
            raise ValueError(f"{self.name}.initialize: lab_rules_v6 states ctcae_version {labs_v6.ctcae_version!r}; the v6.0 lab table must state \"6.0\"")
        knowledge_v6 = CtcaeKB(kb_v6, synonyms_v6, term_rules=term_rules, encoder=self.encoder, **kb_kwargs)
        knowledge_v6.prepare()
        return knowledge_v6, labs_v6

    def _require(self) -> ReasonerTables:
        if self.tables is None:
            raise ValueError(
                f"[{self.name}] the component has no CTCAE knowledge base: call nlp.initialize() with "
                f"[initialize.components.{self.name}] kb/synonyms set (or load a saved pipeline) before using it."
            )
        return self.tables

    # ---------------------------------------------------------- serialisation
    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        """One file per table (:data:`TABLE_FILES`); ``exclude`` takes table names."""
        self._require()
        self.stored.to_disk(ensure_path(path), exclude)

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "CtReasoner":
        """Read the saved tables; an excluded table keeps the one this component has.
        Settings are never read from disk: the config is their one source."""
        path = ensure_path(path)
        if not (path / TABLE_FILES["kb"]).exists() and "kb" not in set(exclude):
            raise ValueError(f"[{self.name}] {path / TABLE_FILES['kb']} is missing: not a directory written by ct_reasoner.to_disk")
        data = ReasonerTables.read_disk(path, exclude)
        self._load(data, exclude, str(path))
        return self

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        import srsly

        self._require()
        data = self.stored.to_data()
        return srsly.msgpack_dumps({k: v for k, v in data.items() if k not in set(exclude)})

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = tuple()) -> "CtReasoner":
        import srsly

        msg = srsly.msgpack_loads(data)
        self._load({k: v for k, v in msg.items() if k not in set(exclude)}, exclude, f"[{self.name}] bytes")
        return self

    def _load(self, data: Dict[str, Any], exclude: Iterable[str], where: str) -> None:
        exclude = set(exclude)
        if self.stored is not None:
            current = self.stored.to_data()
            for name in exclude:
                if name in current:
                    data.setdefault(name, current[name])
        if "protocol" not in data:
            data["protocol"] = None
        stored = ReasonerTables.from_data(data, encoder=self.encoder, max_scope_words=self.max_scope_words, where=where)
        tables = stored.for_version(self.ctcae_version, where)
        if stored.protocol is not None:
            check_protocol_version(stored.protocol, self.ctcae_version, source=f"{where} (protocol {stored.protocol.get('file', '')})")
        self.stored, self.tables = stored, tables

    # ------------------------------------------------------------------- run
    def __call__(self, doc: Doc) -> Doc:
        tables = self._require()
        ents = list(doc.ents)
        candidates = span_candidates(doc, ents, self.ae_labels, self.spans_key)
        return self._annotate(doc, ents, candidates, tables)

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """:meth:`__call__` on each Doc; the KB first normalises all the model's AE
        spans of a batch in one go (one encoder call for the embedding fallback).
        A Doc that fails goes to the pipeline's error handler."""
        error_handler = self.get_error_handler()
        for batch in minibatch(stream, size=batch_size):
            tables = self._require()
            prepared = []
            for doc in batch:
                try:
                    ents = list(doc.ents)
                    prepared.append((doc, ents, span_candidates(doc, ents, self.ae_labels, self.spans_key)))
                except Exception as err:  # noqa: BLE001 - the handler decides
                    error_handler(self.name, self, [doc], err)
            try:
                tables.kb.normalize_many(text for _, _, c in prepared for text in c.texts())
            except Exception as err:  # noqa: BLE001
                error_handler(self.name, self, [doc for doc, _, _ in prepared], err)
                continue
            for doc, ents, candidates in prepared:
                try:
                    yield self._annotate(doc, ents, candidates, tables)
                except Exception as err:  # noqa: BLE001
                    error_handler(self.name, self, [doc], err)

    def _annotate(self, doc: Doc, ents: List[Any], candidates: SpanCandidates, tables: ReasonerTables) -> Doc:
        text = doc.text  # once: Doc.text joins every token
        sentences = self._sentences(doc, tables, text)
        labs = tables_lab_findings(text, tables) if self.use_lab_mentions else []
        model_spans = choose_model_spans(candidates, tables.kb)
        rejected: List[Dict[str, Any]] = []
        mentions = resolve_mentions(
            text, tables.kb, model_spans, labs, sentences, use_kb_mentions=self.use_kb_mentions,
            head_nouns=tables.head_nouns, treatment=lambda t: treatment_reason(t, tables), rejected=rejected,
        )
        drugs = drugs_by_sentence(doc, ents, sentences, self.spans_key, self.drug_rule, tables, text)
        events = []
        for sent in sentences:
            in_sent = [m for m in mentions if sent[0] <= m.start < sent[1]]
            clauses = clause_spans(text, *sent)
            contexts = [tables.context.assess(text, m.start, m.end, sent) for m in in_sent]
            # a clause whose only AE is negated ("without significant weight loss") belongs to the AE before it
            linked = linked_clauses(clauses, [m for m, ctx in zip(in_sent, contexts) if not ctx.negated])
            for m, ctx in zip(in_sent, contexts):
                clause = next((c for c in clauses if c[0] <= m.start < c[1]), sent)
                events.append(build_event(text, m, sent, clause, in_sent, drugs.get(sent, []), linked.get(clause, []), tables, ctx))
        add_course(text, events, sentences, tables.course)
        attribute_in_document(text, events, sentences, drugs, tables)
        spell_out_regimens(events, tables)
        grade_from_other_mentions(text, events)
        doc._.ct_adverse_events = events
        doc._.ct_ae_rejected = rejected
        doc._.ct_regimens = doc_regimens(doc, ents, sentences, self.drug_rule, tables, text)
        return doc

    @staticmethod
    def _sentences(doc: Doc, tables: ReasonerTables, text: str) -> List[Sequence[int]]:
        if doc.has_annotation("SENT_START"):
            return [(s.start_char, s.end_char) for s in doc.sents]
        spans = tables.text_rules.split_sentences(text)
        return spans or [(0, len(text))]


def tables_lab_findings(text: str, tables: ReasonerTables) -> list:
    from ..grading import find_lab_values

    return list(find_lab_values(text, tables.lab_rules))
