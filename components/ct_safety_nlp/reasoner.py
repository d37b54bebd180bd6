"""``ct_reasoner``: CTCAE term, grade, context, seriousness, suspect drugs, DLT and
dose action for every adverse-event mention of a Doc, each with its evidence.

Reads
    ``doc.ents`` / ``doc.spans[spans_key]`` labelled ``ADVERSE_EVENT`` (the
    trained NER / spancat; optional), ``DRUG``, ``DOSE``, ``ROUTE``,
    ``FREQUENCY``, ``DURATION`` entities (optional), and the text itself:
    CTCAE terms and synonyms (:meth:`CtcaeKB.find_mentions`) and lab values
    (:func:`ct_safety_nlp.grading.find_lab_values`), so a blank pipeline works.
    Sentences come from the Doc when a parser/senter set them, else from
    :func:`ct_safety_nlp.context.split_sentences`.

Writes
    ``doc._.ct_adverse_events`` (list of dicts; keys in :data:`AE_KEYS`) and
    ``doc._.ct_regimens`` (list of dicts; keys in :data:`REGIMEN_KEYS`).

Mentions. Model spans come first; a CTCAE mention found in the text that
overlaps a model span is merged into it: the model's text is kept and
normalised with the KB, unless the model span is only part of the CTCAE
mention ("febrile" of "febrile neutropenia") or normalises to nothing, in
which case the CTCAE mention's extent and term are taken. Two model spans over
one AE give one mention. A lab
value that grades >= 1 is attached to an AE mention of the same CTCAE term in
the same sentence (overlapping, or in the same clause), else it becomes an AE
mention of its own ("ANC 0.4 x 10^9/L"). A CTCAE mention that merely names a
lab test whose value is within normal limits (no grade) is dropped.

Grading precedence (:data:`ct_safety_nlp.grading.PRECEDENCE`): explicit grade >
lab value > outcome word (death 5, life-threatening 4) > severity word. Each
mention is graded from its own window: the text of its clause between the
previous and the next AE mention, so "mild nausea and moderate vomiting" grade
1 and 2; "..., all grade 1" applies to every mention of the clause and "grade
3-4 adverse events were X and Y" to every mention after it. Two rules
of this module then apply, both from the workbook's grade texts:

* *criterion*: when only a severity word (or nothing) graded the mention, an
  intervention named in the clause (dialysis, intubation / ventilation,
  transfusion, tube feeding / TPN, hospitalisation) sets the lowest grade
  whose CTCAE text names that intervention for the term ("acute kidney injury
  requiring dialysis" -> 4);
* *minimum*: a term with no grade 1 and no grade 2 in CTCAE (febrile
  neutropenia, sepsis, hepatic failure, respiratory failure ...) gets its
  lowest defined grade when nothing else graded it.

Negated mentions keep ``grade`` None (no event, no grade); they stay in the
list, flagged. Context, seriousness and drug links: see
:mod:`ct_safety_nlp.context`, :mod:`ct_safety_nlp.seriousness` and
:mod:`ct_safety_nlp.regimens`. DLT and dose action come from the protocol
rules (:mod:`ct_safety_nlp.protocol`) for mentions that are neither negated nor
historical.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path, minibatch

from .context import ContextMatcher, split_sentences
from .extensions import register_extensions
from .protocol import apply_protocol, validate_protocol
from .regimens import build_regimen, find_doses, find_drugs_by_rule, link_drugs
from .seriousness import IME_TERMS, assess_seriousness, clause_spans

AE_KEYS = (
    "text", "start_char", "end_char", "ctcae_term", "meddra_code", "soc", "grade", "grade_basis", "negated",
    "speculated", "historical", "serious", "seriousness_criteria", "drugs", "dlt", "action", "evidence",
)
REGIMEN_KEYS = ("drug", "dose_text", "value", "unit", "per", "route", "frequency", "duration", "start_char", "end_char")

#: intervention cue -> words to look for in the CTCAE grade text of the term
INTERVENTION_CUES: List[Tuple[str, str]] = [
    (r"dialy[sz](?:is|ed)|hemodialysis|haemodialysis|renal\s+replacement", r"dialysis"),
    (r"intubat(?:ed|ion)|mechanical(?:ly)?\s+ventilat(?:ed|ion)|ventilatory\s+support", r"intubation|ventilat"),
    (r"transfus(?:ed|ion|ions)|(?:packed\s+)?red\s+(?:blood\s+)?cells\s+were\s+given", r"transfusion"),
    (r"tube\s+feeding|TPN|total\s+parenteral\s+nutrition|feeding\s+tube", r"tube\s+feeding|TPN"),
    (r"admitted|hospitali[sz](?:ed|ation)|admission", r"hospitali[sz]ation"),
]
_COORDINATOR = re.compile(r",|;|\band\b|\bor\b|\bwith\b|\bplus\b|\bas\s+well\s+as\b", re.IGNORECASE)
_GROUP_NOUN = re.compile(
    r"\s*(?:or\s+(?:higher|greater|worse)\s+)?(?:\(?[\w-]*\)?\s+){0,2}?(?:adverse\s+(?:events?|reactions?|effects?)|"
    r"AEs?|TEAEs?|toxicit(?:y|ies)|side[\s-]+effects?|events?|reactions?)\b",
    re.IGNORECASE,
)
_ALL_GRADE = re.compile(r"\b(?:all|each|both|every\s+one)\s+(?:were\s+|was\s+|of\s+)?(?:CTCAE\s+)?$", re.IGNORECASE)


@dataclass
class _Mention:
    start: int
    end: int
    text: str
    source: str  # "model:<label>" | "kb" | "lab"
    match: Any = None  # ctcae.TermMatch
    labs: List[Any] = field(default_factory=list)  # grading.LabFinding
    evidence: List[str] = field(default_factory=list)


@Language.factory(
    "ct_reasoner",
    assigns=["doc._.ct_adverse_events", "doc._.ct_regimens"],
    default_config={
        "ae_labels": ["ADVERSE_EVENT"],
        "spans_key": "sc",
        "use_kb_mentions": True,
        "use_lab_mentions": True,
        "drug_rule": True,
        "max_scope_words": 8,
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
) -> "CtReasoner":
    """Create the reasoner. Reads AE / DRUG / DOSE / ROUTE / FREQUENCY / DURATION
    entities and spans when present, and the text; writes ``doc._.ct_adverse_events``
    and ``doc._.ct_regimens``. Needs ``initialize`` (or ``from_disk``) first."""
    register_extensions()
    return CtReasoner(
        name,
        ae_labels=ae_labels,
        spans_key=spans_key,
        use_kb_mentions=use_kb_mentions,
        use_lab_mentions=use_lab_mentions,
        drug_rule=drug_rule,
        max_scope_words=max_scope_words,
    )


class CtReasoner:
    """The ``ct_reasoner`` component (see the module docstring)."""

    def __init__(
        self,
        name: str = "ct_reasoner",
        *,
        ae_labels: Iterable[str] = ("ADVERSE_EVENT",),
        spans_key: str = "sc",
        use_kb_mentions: bool = True,
        use_lab_mentions: bool = True,
        drug_rule: bool = True,
        max_scope_words: int = 8,
    ):
        self.name = name
        self.ae_labels = list(ae_labels)
        self.spans_key = spans_key
        self.use_kb_mentions = use_kb_mentions
        self.use_lab_mentions = use_lab_mentions
        self.drug_rule = drug_rule
        self.context = ContextMatcher(max_scope_words=max_scope_words)
        self.kb = None
        self.protocol: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------------ setup
    def initialize(
        self,
        get_examples: Optional[Callable] = None,
        *,
        nlp: Optional[Language] = None,
        kb: Optional[Dict[str, Any]] = None,
        synonyms: Optional[Dict[str, str]] = None,
        protocol: Optional[Dict[str, Any]] = None,
        fallback: Optional[str] = None,
        fallback_threshold: Optional[float] = None,
    ) -> None:
        """Receive the compiled CTCAE table (``ct.read_ctcae.v1``), the synonym
        table (``ct.read_synonyms.v1``) and optional protocol rules
        (``ct.read_protocol.v1``); they are saved with the pipeline by to_disk."""
        from .ctcae import CtcaeKB

        if not isinstance(kb, dict) or not kb.get("terms"):
            raise ValueError(
                f"{self.name}.initialize needs kb=<CTCAE table> (from ct.read_ctcae.v1 in "
                f"[initialize.components.{self.name}.kb]); got {type(kb).__name__}"
            )
        if synonyms is None:
            synonyms = {}
        if not isinstance(synonyms, dict):
            raise ValueError(f"{self.name}.initialize: synonyms must be a dict (ct.read_synonyms.v1), got {type(synonyms).__name__}")
        kwargs = {}
        if fallback is not None:
            kwargs["fallback"] = fallback
        if fallback_threshold is not None:
            kwargs["fallback_threshold"] = fallback_threshold
        self.kb = CtcaeKB(kb, synonyms, **kwargs)
        self.protocol = validate_protocol(protocol, source=f"{self.name} protocol") if protocol is not None else None

    def _require(self) -> None:
        if self.kb is None:
            raise ValueError(
                f"[{self.name}] the component has no CTCAE knowledge base: call nlp.initialize() with "
                f"[initialize.components.{self.name}] kb/synonyms set (or load a saved pipeline) before using it."
            )

    # ---------------------------------------------------------- serialisation
    def _cfg(self) -> Dict[str, Any]:
        return {
            "ae_labels": self.ae_labels,
            "spans_key": self.spans_key,
            "use_kb_mentions": self.use_kb_mentions,
            "use_lab_mentions": self.use_lab_mentions,
            "drug_rule": self.drug_rule,
        }

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        self._require()
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_gzip_json(path / "kb.json.gz", self.kb.to_dict())
        srsly.write_json(path / "context.json", self.context.to_dict())
        srsly.write_json(path / "protocol.json", self.protocol)
        srsly.write_json(path / "cfg.json", self._cfg())

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "CtReasoner":
        from .ctcae import CtcaeKB

        path = ensure_path(path)
        kb_path = path / "kb.json.gz"
        if not kb_path.exists():
            raise ValueError(f"[{self.name}] {kb_path} is missing: not a directory written by ct_reasoner.to_disk")
        self.kb = CtcaeKB.from_dict(srsly.read_gzip_json(kb_path))
        if (path / "context.json").exists():
            self.context = ContextMatcher.from_dict(srsly.read_json(path / "context.json"))
        self.protocol = srsly.read_json(path / "protocol.json") if (path / "protocol.json").exists() else None
        if (path / "cfg.json").exists():
            for key, value in srsly.read_json(path / "cfg.json").items():
                setattr(self, key, value)
        return self

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        self._require()
        return srsly.msgpack_dumps(
            {"kb": self.kb.to_dict(), "context": self.context.to_dict(), "protocol": self.protocol, "cfg": self._cfg()}
        )

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = tuple()) -> "CtReasoner":
        from .ctcae import CtcaeKB

        msg = srsly.msgpack_loads(data)
        self.kb = CtcaeKB.from_dict(msg["kb"])
        self.context = ContextMatcher.from_dict(msg["context"])
        self.protocol = msg["protocol"]
        for key, value in msg["cfg"].items():
            setattr(self, key, value)
        return self

    # ------------------------------------------------------------------- run
    def __call__(self, doc: Doc) -> Doc:
        self._require()
        ents = list(doc.ents)
        return self._annotate(doc, ents, self._span_candidates(doc, ents))

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128):
        """:meth:`__call__` on each Doc; the KB first normalises all the model's
        AE spans of a batch in one go (one encoder call for the embedding fallback)."""
        for batch in minibatch(stream, size=batch_size):
            self._require()
            ents = [list(doc.ents) for doc in batch]
            candidates = [self._span_candidates(doc, doc_ents) for doc, doc_ents in zip(batch, ents)]
            self.kb.normalize_many(span[2] for model_ents, group in candidates for span in model_ents + group)
            for doc, doc_ents, doc_candidates in zip(batch, ents, candidates):
                yield self._annotate(doc, doc_ents, doc_candidates)

    def _annotate(self, doc: Doc, ents: List[Any], candidates) -> Doc:
        """Write the AEs and regimens of ``doc``, given its entities (``doc.ents``,
        built once) and its model AE spans (:meth:`_span_candidates`)."""
        text = doc.text
        sentences = self._sentences(doc)
        labs = self._lab_findings(text) if self.use_lab_mentions else []
        mentions = self._mentions(doc, labs, sentences, self._model_spans(candidates))
        drugs_by_sent = self._drugs(doc, ents, sentences)
        events = []
        for sent in sentences:
            in_sent = [m for m in mentions if sent[0] <= m.start < sent[1]]
            clauses = clause_spans(text, *sent)
            linked = self._linked_clauses(clauses, in_sent)
            for m in in_sent:
                clause = next((c for c in clauses if c[0] <= m.start < c[1]), sent)
                events.append(
                    self._event(text, m, sent, clause, in_sent, drugs_by_sent.get(sent, []), linked.get(clause, []))
                )
        doc._.ct_adverse_events = events
        doc._.ct_regimens = self._regimens(doc, ents, sentences)
        return doc

    # --------------------------------------------------------------- helpers
    @staticmethod
    def _linked_clauses(clauses: List[Tuple[int, int]], mentions: List[_Mention]) -> Dict[Tuple[int, int], List[Tuple[int, int]]]:
        """Clauses without an AE mention -> the nearest preceding clause with one (else the next)."""
        has_ae = [any(c[0] <= m.start < c[1] for m in mentions) for c in clauses]
        linked: Dict[Tuple[int, int], List[Tuple[int, int]]] = {}
        for i, clause in enumerate(clauses):
            if has_ae[i]:
                continue
            before = [j for j in range(i) if has_ae[j]]
            after = [j for j in range(i + 1, len(clauses)) if has_ae[j]]
            owner = before[-1] if before else (after[0] if after else None)
            if owner is not None:
                linked.setdefault(clauses[owner], []).append(clause)
        return linked

    @staticmethod
    def _sentences(doc: Doc) -> List[Tuple[int, int]]:
        if doc.has_annotation("SENT_START"):
            return [(s.start_char, s.end_char) for s in doc.sents]
        spans = split_sentences(doc.text)
        return spans or [(0, len(doc.text))]

    @staticmethod
    def _lab_findings(text: str) -> list:
        from .grading import find_lab_values

        return list(find_lab_values(text))

    @staticmethod
    def _trim(span) -> Optional[Any]:
        """The span without leading / trailing stop words, punctuation and spaces
        ("with febrile" -> "febrile", "vomiting." -> "vomiting"); None if nothing is left."""
        start, end = span.start, span.end
        doc = span.doc
        while start < end and (doc[start].is_stop or doc[start].is_punct or doc[start].is_space):
            start += 1
        while end > start and (doc[end - 1].is_stop or doc[end - 1].is_punct or doc[end - 1].is_space):
            end -= 1
        return doc[start:end] if end > start else None

    def _span_candidates(self, doc: Doc, doc_ents: List[Any]) -> Tuple[List[Tuple[int, int, str, str]], List[Tuple[int, int, str, str, float]]]:
        """The model's AE spans before any KB look-up, trimmed: the NER entities
        ``(start, end, text, label)``, and the span-group spans that overlap none
        of them ``(start, end, text, label, spancat score)``."""
        ents = []
        for e in doc_ents:
            t = self._trim(e) if e.label_ in self.ae_labels else None
            if t is not None:
                ents.append((t.start_char, t.end_char, t.text, e.label_))
        candidates = []
        if self.spans_key in doc.spans:
            group = doc.spans[self.spans_key]
            scores = group.attrs.get("scores") if hasattr(group, "attrs") else None
            for i, s in enumerate(group):
                if s.label_ not in self.ae_labels:
                    continue
                t = self._trim(s)
                if t is None or any(a < t.end_char and t.start_char < b for a, b, _, _ in ents):
                    continue
                score = float(scores[i]) if scores is not None and len(scores) == len(group) else 1.0
                candidates.append((t.start_char, t.end_char, t.text, s.label_, score))
        return ents, candidates

    def _model_spans(self, span_candidates) -> List[Tuple[int, int, str, str]]:
        """AE spans of the model: NER entities first, then span-group spans that
        overlap none of them. Overlapping span-group spans (a span categorizer
        proposes "febrile neutropenia" and "with febrile neutropenia") are one
        cluster, of which one span is kept: the one whose text the KB
        normalises, then the highest spancat score, then the shortest (greedy,
        so two AEs side by side stay two)."""
        spans, candidates = span_candidates
        known = [m is not None for m in self.kb.normalize_many(c[2] for c in candidates)]
        # greedy: best candidates first, each kept if it overlaps nothing kept
        ranked = sorted(zip(candidates, known), key=lambda ck: (not ck[1], -ck[0][4], ck[0][1] - ck[0][0], ck[0][0]))
        kept: List[Tuple[int, int, str, str]] = []
        for c, _ in ranked:
            if not any(a < c[1] and c[0] < b for a, b, _, _ in kept):
                kept.append(c[:4])
        return sorted(set(spans + kept))

    def _mentions(self, doc: Doc, labs: list, sentences: List[Tuple[int, int]], model_spans: List[Tuple[int, int, str, str]]) -> List[_Mention]:
        text = doc.text
        mentions: List[_Mention] = []
        kb_mentions = self.kb.find_mentions(text) if self.use_kb_mentions else []
        absorbed = set()  # KB mentions merged into a model span
        for start, end, span_text, label in model_spans:
            overlapping = [k for k in kb_mentions if k.start_char < end and start < k.end_char]
            match = self.kb.normalize(span_text)
            covering = [k for k in overlapping if k.start_char <= start and end <= k.end_char and (k.start_char, k.end_char) != (start, end)]
            evidence = [f"mention: model span {label} '{span_text}'"]
            if covering or (match is None and overlapping):
                # the model span is part of a longer CTCAE mention ("febrile" in "febrile
                # neutropenia") or names nothing the KB knows: take the CTCAE mention
                k = (covering or overlapping)[0]
                if any(m.start == k.start_char and m.end == k.end_char for m in mentions):
                    absorbed.update(id(x) for x in overlapping)
                    continue
                start, end, span_text, match = k.start_char, k.end_char, k.text, k.match
                evidence.append(f"mention: widened to the CTCAE mention '{k.text}'")
            absorbed.update(id(x) for x in overlapping)
            if any(m.start < end and start < m.end for m in mentions):
                continue  # two model spans over one AE: keep the first
            m = _Mention(start, end, span_text, f"model:{label}", match, evidence=evidence)
            if m.match is not None:
                m.evidence.append(f"term: {m.match.term} by {m.match.method} ('{m.match.matched}', score {m.match.score})")
            else:
                m.evidence.append(f"term: no CTCAE term for '{span_text}' reached the threshold")
            mentions.append(m)
        for k in kb_mentions:
            if id(k) in absorbed or any(m.start < k.end_char and k.start_char < m.end for m in mentions):
                continue
            lab_here = [lab for lab in labs if lab.start_char < k.end_char and k.start_char < lab.end_char]
            if lab_here and all(lab.grade is None for lab in lab_here):
                continue  # "platelet count was 250 x 10^9/L": names a lab test within normal limits, not an AE
            m = _Mention(k.start_char, k.end_char, k.text, "kb", k.match)
            m.evidence.append(
                f"mention: CTCAE {'term' if k.match.method == 'exact' else 'synonym'} '{k.text}' -> {k.match.term}"
            )
            mentions.append(m)
        mentions.sort(key=lambda m: m.start)
        self._attach_labs(text, mentions, labs, sentences)
        # an unnamed span inside a lab value that belongs to another AE is part of that AE
        attached = [(lab.start_char, lab.end_char) for m in mentions for lab in m.labs]
        mentions = [
            m for m in mentions
            if not (m.match is None and any(a <= m.start and m.end <= b for a, b in attached))
        ]
        return sorted(mentions, key=lambda m: m.start)

    def _attach_labs(self, text: str, mentions: List[_Mention], labs: list, sentences: List[Tuple[int, int]]) -> None:
        for lab in labs:
            if lab.grade is None or lab.grade < 1 or not lab.ctcae_term:
                continue
            sent = next((s for s in sentences if s[0] <= lab.start_char < s[1]), (0, len(text)))
            clauses = clause_spans(text, *sent)
            lab_clause = next((c for c in clauses if c[0] <= lab.start_char < c[1]), sent)
            same = [
                m for m in mentions
                if m.match is not None and m.match.term == lab.ctcae_term and sent[0] <= m.start < sent[1]
            ]
            target = next((m for m in same if m.start < lab.end_char and lab.start_char < m.end), None)
            if target is None:
                target = next((m for m in same if lab_clause[0] <= m.start < lab_clause[1]), None)
            if target is None:
                target = next((m for m in same if abs(m.start - lab.start_char) <= 60), None)
            if target is None:
                # a model span over the lab value that the KB could not name, or named only
                # by a fallback ("serum sodium" -> a guess): the graded lab value names it
                # (its direction decides hypo- vs hyper-), and the mention covers both
                loose = next(
                    (
                        m for m in mentions
                        if m.start < lab.end_char and lab.start_char < m.end
                        and (m.match is None or m.match.method not in ("exact", "synonym", "lemma"))
                    ),
                    None,
                )
                match = self.kb.normalize(lab.ctcae_term) if loose is not None else None
                if match is not None:
                    loose.match = match
                    loose.start, loose.end = min(loose.start, lab.start_char), max(loose.end, lab.end_char)
                    loose.text = text[loose.start : loose.end]
                    loose.evidence.append(f"term: {lab.ctcae_term} from the lab value '{lab.text}' in the span")
                    target = loose
            if target is None:
                match = self.kb.normalize(lab.ctcae_term)
                if match is None:
                    continue
                target = _Mention(lab.start_char, lab.end_char, lab.text, "lab", match)
                target.evidence.append(f"mention: lab value '{lab.text}' grades {lab.grade} for {lab.ctcae_term}")
                mentions.append(target)
            target.labs.append(lab)

    def _drugs(self, doc: Doc, doc_ents: List[Any], sentences: List[Tuple[int, int]]) -> Dict[Tuple[int, int], List[Tuple[int, int, str]]]:
        ents = [(e.start_char, e.end_char, e.text) for e in doc_ents if e.label_ == "DRUG"]
        if self.spans_key in doc.spans:
            ents += [(s.start_char, s.end_char, s.text) for s in doc.spans[self.spans_key] if s.label_ == "DRUG"]
        use_rule = self.drug_rule and not ents
        out = {}
        for sent in sentences:
            if use_rule:
                out[sent] = find_drugs_by_rule(doc.text, *sent)
            else:
                out[sent] = sorted({d for d in ents if sent[0] <= d[0] < sent[1]})
        return out

    def _windows(self, text: str, mention: _Mention, clause: Tuple[int, int], in_sent: List[_Mention]) -> Tuple[int, int]:
        """The grading window of a mention: its clause, cut between it and its
        neighbouring mentions at the first coordinator ("and", "or", ",", "with")
        of each gap, so the words before the next mention belong to that one
        ("mild nausea and moderate vomiting")."""
        # only mentions with a CTCAE term cut windows: a span the KB cannot name
        # (a model span "G2" or "the patient") must not take a grade word from its neighbour
        others = [m for m in in_sent if m is not mention and m.match is not None and clause[0] <= m.start < clause[1]]
        prev = [m for m in others if m.end <= mention.start]
        nxt = [m for m in others if m.start >= mention.end]
        start, end = clause
        if prev:
            p_end = max(m.end for m in prev)
            cut = _COORDINATOR.search(text, p_end, mention.start)
            start = cut.end() if cut else p_end
        if nxt:
            n_start = min(m.start for m in nxt)
            cut = _COORDINATOR.search(text, mention.end, n_start)
            end = cut.start() if cut else n_start
        return max(clause[0], start), min(clause[1], end)

    def _grade_findings(self, text: str, m: _Mention, clause, in_sent) -> list:
        from .grading import GradeFinding, find_explicit_grades, find_outcome_grade, find_severity_grade

        w_start, w_end = self._windows(text, m, clause, in_sent)
        window = text[w_start:w_end]
        findings = []

        def shift(f):
            return GradeFinding(f.grade, f.basis, f.evidence, f.start_char + w_start, f.end_char + w_start)

        findings += [shift(f) for f in find_explicit_grades(window)]
        # distributive grades: "..., all grade 1" covers every mention of the clause;
        # "grade 3-4 adverse events were X and Y" covers every mention after it
        for f in find_explicit_grades(text[clause[0] : clause[1]]):
            a, b = f.start_char + clause[0], f.end_char + clause[0]
            if any(g.start_char == a for g in findings):
                continue
            if _ALL_GRADE.search(text[clause[0] : a]) or (_GROUP_NOUN.match(text, b, clause[1]) and a < m.start):
                findings.append(GradeFinding(f.grade, f.basis, f.evidence, a, b))
        for lab in m.labs:
            if lab.grade is not None:
                findings.append(GradeFinding(lab.grade, "lab", lab.evidence, lab.start_char, lab.end_char))
        for finder in (find_outcome_grade, find_severity_grade):
            f = finder(window)
            if f is not None:
                findings.append(shift(f))
        return findings

    def _criterion_grade(self, text: str, term: str, clause) -> Optional[Tuple[int, str]]:
        record = self.kb.term(term)
        if not record:
            return None
        clause_text = text[clause[0] : clause[1]]
        for cue, grade_words in INTERVENTION_CUES:
            hit = re.search(rf"(?<![\w-])(?:{cue})(?![\w-])", clause_text, re.IGNORECASE)
            if not hit:
                continue
            before = clause_text[max(0, hit.start() - 30) : hit.start()]
            if re.search(r"\b(?:no|not|without|never)\b[\w\s-]*$", before, re.IGNORECASE):
                continue
            for g in range(1, 6):
                gtext = (record.get("grades") or {}).get(str(g))
                if gtext and re.search(grade_words, gtext, re.IGNORECASE):
                    return g, f"grade {g} (criterion): '{hit.group(0)}' matches CTCAE grade {g} text of {term}: \"{gtext[:90]}\""
        return None

    def _minimum_grade(self, term: str) -> Optional[int]:
        record = self.kb.term(term)
        grades = (record or {}).get("grades") or {}
        if grades.get("1") is None and grades.get("2") is None:
            defined = [int(g) for g, t in grades.items() if t]
            return min(defined) if defined else None
        return None

    def _event(self, text, m: _Mention, sent, clause, in_sent, drugs, linked_clauses=()) -> Dict[str, Any]:
        from .grading import choose_grade

        evidence = list(m.evidence)
        ctx = self.context.assess(text, m.start, m.end, sent)
        evidence += ctx.evidence
        term = m.match.term if m.match is not None else None
        grade, basis = None, None
        if term is not None:
            findings = self._grade_findings(text, m, clause, in_sent)
            best = choose_grade(findings)
            if best is not None:
                grade, basis = best.grade, best.basis
            if basis in (None, "severity"):
                crit = self._criterion_grade(text, term, clause)
                if crit is not None and (grade is None or crit[0] > grade):
                    grade, basis = crit[0], "criterion"
                    evidence.append(crit[1])
                    best = None
            if best is not None:
                evidence.append(best.evidence)
            if grade is None:
                floor = self._minimum_grade(term)
                if floor is not None:
                    grade, basis = floor, "minimum"
                    evidence.append(f"grade {floor} (minimum): CTCAE defines no grade below {floor} for {term}")
        if ctx.negated and grade is not None:
            evidence.append(f"grade: {grade} not reported because the mention is negated")
            grade, basis = None, None
        criteria = assess_seriousness(
            text, clause, sent, term, grade, negated=ctx.negated, historical=ctx.historical, ime_terms=IME_TERMS,
            linked_clauses=linked_clauses,
        )
        evidence += [c.evidence for c in criteria]
        drug_names, drug_evidence = link_drugs(text, (m.start, m.end), clause, drugs) if not ctx.negated else ([], "")
        if drug_evidence:
            evidence.append(drug_evidence)
        event = {
            "text": m.text,
            "start_char": m.start,
            "end_char": m.end,
            "ctcae_term": term,
            "meddra_code": m.match.meddra_code if m.match is not None else None,
            "soc": m.match.soc if m.match is not None else None,
            "grade": grade,
            "grade_basis": basis,
            "negated": ctx.negated,
            "speculated": ctx.speculated,
            "historical": ctx.historical,
            "serious": bool(criteria),
            "seriousness_criteria": [c.criterion for c in criteria],
            "drugs": drug_names,
            "dlt": None,
            "action": None,
            "evidence": evidence,
        }
        if self.protocol is not None and term is not None:
            if ctx.negated or ctx.historical:
                event["dlt"] = False
            else:
                verdict = apply_protocol(self.protocol, event)
                event["dlt"], event["action"] = verdict["dlt"], verdict["action"]
                evidence += verdict["evidence"]
        return event

    def _regimens(self, doc: Doc, ents: List[Any], sentences) -> List[Dict[str, Any]]:
        text = doc.text
        doses = [(e.start_char, e.end_char) for e in ents if e.label_ == "DOSE"]
        from_model = bool(doses)
        if not from_model:
            doses = find_doses(text)
        drugs = [(e.start_char, e.end_char, e.text) for e in ents if e.label_ == "DRUG"]
        out = []
        for i, (start, end) in enumerate(sorted(doses)):
            sent = next((s for s in sentences if s[0] <= start < s[1]), (0, len(text)))
            next_dose = min([s for s, _ in doses if s >= end], default=sent[1])
            scope_end = min(sent[1], next_dose)
            sent_drugs = [d for d in drugs if sent[0] <= d[0] < sent[1]] or (
                find_drugs_by_rule(text, *sent) if self.drug_rule and not drugs else []
            )
            before = [d for d in sent_drugs if d[1] <= start]
            after = [d for d in sent_drugs if d[0] >= end and d[0] < scope_end]
            drug = before[-1][2] if before else (after[0][2] if after else None)

            def ent_after(label):
                found = [e.text for e in ents if e.label_ == label and e.start_char >= end and e.start_char < scope_end]
                return found[0] if found else None

            reg = build_regimen(text, (start, end), scope_end, drug, ent_after("ROUTE"), ent_after("FREQUENCY"), ent_after("DURATION"))
            if reg is not None:
                out.append(reg)
        return out
