"""AE mentions of a Doc: the model's spans, merged with the CTCAE terms and lab
values found in the text.

* :func:`span_candidates`: the model's AE spans, trimmed (NER entities, then
  span-group spans that overlap none of them, with their spancat scores).
* :func:`choose_model_spans`: one span per cluster of overlapping span-group
  spans (the one the KB normalises, then the highest score, then the shortest).
* :func:`resolve_mentions`: model spans first. A model span holding two or
  more CTCAE mentions (a list: "flushing, chills and hypotension") becomes one
  mention per CTCAE mention. A CTCAE mention found in the text that overlaps a
  model span is merged into it (the model's text is kept and normalised,
  unless the model span is only part of the CTCAE mention or names nothing the
  KB knows: then the CTCAE mention's extent and term are taken; when the span's
  own look-up is only a guess and differs from the one CTCAE mention inside it,
  that mention's term is taken). Then the remaining CTCAE mentions; a mention
  that merely names a lab test within normal limits is dropped; a model span
  left with no term that names no event ("Adverse reactions", "IV fluids":
  the AE head nouns table) is rejected, with its reason.
* :func:`attach_labs`: a lab value that grades >= 1 joins an AE mention of the
  same CTCAE term in its sentence (overlapping, in the same clause, or within
  60 characters), else a model span over it that the KB could not name, else
  it becomes a mention of its own ("ANC 0.4 x 10^9/L").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ..grading import LabFinding
from ..kb import CtcaeKB, TermMatch
from ..sdtm.terminology import HeadNouns
from ..text import clause_spans

__all__ = ["Mention", "ModelSpan", "SpanCandidates", "attach_labs", "choose_model_spans", "resolve_mentions", "span_candidates"]

Offsets = Tuple[int, int]

#: look-up methods that read a CTCAE term or synonym off the text (the others guess)
STRONG_METHODS = ("exact", "synonym", "lemma")


@dataclass(frozen=True, order=True)
class ModelSpan:
    """An AE span of the trained model (character offsets into the Doc)."""

    start: int
    end: int
    text: str
    label: str
    score: float = field(default=1.0, compare=False)  # spancat score (1.0 for NER entities)

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


@dataclass
class SpanCandidates:
    """The model's AE spans of one Doc before any KB look-up."""

    entities: List[ModelSpan]  # NER
    group: List[ModelSpan]  # span-group spans that overlap no entity

    def texts(self) -> List[str]:
        return [s.text for s in self.entities + self.group]


@dataclass
class Mention:
    """One AE mention being reasoned about."""

    start: int
    end: int
    text: str
    source: str  # "model:<label>" | "kb" | "lab"
    match: Optional[TermMatch] = None
    labs: List[LabFinding] = field(default_factory=list)
    evidence: List[str] = field(default_factory=list)

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


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


def span_candidates(doc, doc_ents: Sequence[Any], ae_labels: Sequence[str], spans_key: str) -> SpanCandidates:
    """The model's AE spans, trimmed: NER entities with an AE label, then the
    span-group spans (``doc.spans[spans_key]``) that overlap none of them."""
    ents: List[ModelSpan] = []
    for e in doc_ents:
        t = _trim(e) if e.label_ in ae_labels else None
        if t is not None:
            ents.append(ModelSpan(t.start_char, t.end_char, t.text, e.label_))
    group: List[ModelSpan] = []
    if spans_key in doc.spans:
        spans = doc.spans[spans_key]
        scores = spans.attrs.get("scores") if hasattr(spans, "attrs") else None
        for i, s in enumerate(spans):
            if s.label_ not in ae_labels:
                continue
            t = _trim(s)
            if t is None or any(e.overlaps(t.start_char, t.end_char) for e in ents):
                continue
            score = float(scores[i]) if scores is not None and len(scores) == len(spans) else 1.0
            group.append(ModelSpan(t.start_char, t.end_char, t.text, s.label_, score))
    return SpanCandidates(ents, group)


def choose_model_spans(candidates: SpanCandidates, kb: CtcaeKB) -> List[ModelSpan]:
    """NER entities, then one span per cluster of overlapping span-group spans:
    greedily the best first (the KB names it, then the highest spancat score,
    then the shortest, then the leftmost), each kept if it overlaps nothing
    kept, so two AEs side by side stay two."""
    known = [m is not None for m in kb.normalize_many(c.text for c in candidates.group)]
    ranked = sorted(zip(candidates.group, known), key=lambda ck: (not ck[1], -ck[0].score, ck[0].end - ck[0].start, ck[0].start))
    kept: List[ModelSpan] = []
    for span, _ in ranked:
        if not any(k.overlaps(span.start, span.end) for k in kept):
            kept.append(span)
    return sorted(set(candidates.entities + kept))


def resolve_mentions(
    text: str,
    kb: CtcaeKB,
    model_spans: Sequence[ModelSpan],
    labs: Sequence[LabFinding],
    sentences: Sequence[Offsets],
    *,
    use_kb_mentions: bool = True,
    head_nouns: Optional[HeadNouns] = None,
    treatment: Optional[Callable[[str], Optional[str]]] = None,
    rejected: Optional[List[Dict[str, Any]]] = None,
) -> List[Mention]:
    """The AE mentions of ``text`` (see the module docstring), in text order.
    With ``head_nouns``, a model span left with no CTCAE term that names no
    event (:meth:`HeadNouns.not_an_event`; with ``treatment``, also one without
    a head noun for which it gives a reason: "IV cefepime") is no mention: it
    is appended to ``rejected`` (a JSON-safe dict with its offsets, text,
    source and reason)."""
    mentions: List[Mention] = []
    kb_mentions = kb.find_mentions(text) if use_kb_mentions else []
    absorbed = set()  # KB mentions merged into a model span
    for span in model_spans:
        start, end, span_text = span.start, span.end, span.text
        overlapping = [k for k in kb_mentions if k.start_char < end and start < k.end_char]
        inside = [k for k in overlapping if start <= k.start_char and k.end_char <= end]
        evidence = [f"mention: model span {span.label} '{span_text}'"]
        if len(inside) >= 2:
            # a list in one span ("flushing, chills and hypotension"): one mention per
            # CTCAE term or synonym, each with its own extent (so its own grade and context)
            absorbed.update(id(x) for x in overlapping)
            for k in inside:
                if any(m.overlaps(k.start_char, k.end_char) for m in mentions):
                    continue
                m = Mention(k.start_char, k.end_char, k.text, f"model:{span.label}", k.match, evidence=list(evidence))
                m.evidence.append(f"mention: split from the model span at the CTCAE mention '{k.text}' ({len(inside)} in the span)")
                m.evidence.append(f"term: {k.match.term} by {k.match.method} ('{k.match.matched}', score {k.match.score})")
                mentions.append(m)
            continue
        match = kb.normalize(span_text)
        covering = [k for k in overlapping if k.start_char <= start and end <= k.end_char and (k.start_char, k.end_char) != (start, end)]
        hidden = inside[0] if len(inside) == 1 and match is not None and match.term != inside[0].match.term and match.method not in STRONG_METHODS else None
        if covering or (match is None and overlapping):
            # the model span is part of a longer CTCAE mention ("febrile" in "febrile
            # neutropenia") or names nothing the KB knows: take the CTCAE mention
            k = (covering or overlapping)[0]
            if any(m.start == k.start_char and m.end == k.end_char for m in mentions):
                absorbed.update(id(x) for x in overlapping)
                continue
            start, end, span_text, match = k.start_char, k.end_char, k.text, k.match
            evidence.append(f"mention: widened to the CTCAE mention '{k.text}'")
        elif hidden is not None:
            # the span's own look-up is a guess (embedding / fuzzy) that differs from the
            # CTCAE term written inside it: the written term wins, the model's extent stays
            evidence.append(f"mention: the CTCAE mention '{hidden.text}' inside the span names {hidden.match.term}, not the guess {match.term}")
            match = hidden.match
        absorbed.update(id(x) for x in overlapping)
        if any(m.overlaps(start, end) for m in mentions):
            continue  # two model spans over one AE: keep the first
        m = Mention(start, end, span_text, f"model:{span.label}", match, evidence=evidence)
        if m.match is not None:
            m.evidence.append(f"term: {m.match.term} by {m.match.method} ('{m.match.matched}', score {m.match.score})")
        else:
            m.evidence.append(f"term: no CTCAE term for '{span_text}' reached the threshold")
        mentions.append(m)
    for k in kb_mentions:
        if id(k) in absorbed or any(m.overlaps(k.start_char, k.end_char) for m in mentions):
            continue
        lab_here = [lab for lab in labs if lab.start_char < k.end_char and k.start_char < lab.end_char]
        if lab_here and all(lab.grade is None for lab in lab_here):
            continue  # "platelet count was 250 x 10^9/L": names a lab test within normal limits, not an AE
        m = Mention(k.start_char, k.end_char, k.text, "kb", k.match)
        m.evidence.append(f"mention: CTCAE {'term' if k.match.method == 'exact' else 'synonym'} '{k.text}' -> {k.match.term}")
        mentions.append(m)
    mentions.sort(key=lambda m: m.start)
    attach_labs(text, kb, mentions, labs, sentences)
    # an unnamed span inside a lab value that belongs to another AE is part of that AE
    attached = [(lab.start_char, lab.end_char) for m in mentions for lab in m.labs]
    mentions = [m for m in mentions if not (m.match is None and any(a <= m.start and m.end <= b for a, b in attached))]
    if head_nouns is not None:
        kept = []
        for m in mentions:
            reason = head_nouns.not_an_event(m.text, require_head_noun=False) if m.match is None and not m.labs else None
            if reason is None and m.match is None and not m.labs and treatment is not None and head_nouns.find(m.text) is None:
                reason = treatment(m.text)
            if reason is None:
                kept.append(m)
            elif rejected is not None:
                rejected.append({"start_char": m.start, "end_char": m.end, "text": m.text, "source": m.source, "reason": reason})
        mentions = kept
    return sorted(mentions, key=lambda m: m.start)


def attach_labs(text: str, kb: CtcaeKB, mentions: List[Mention], labs: Iterable[LabFinding], sentences: Sequence[Offsets]) -> None:
    """Attach each graded lab value to its AE mention (see the module docstring); may add mentions."""
    for lab in labs:
        if lab.grade is None or lab.grade < 1 or not lab.ctcae_term:
            continue
        sent = next((s for s in sentences if s[0] <= lab.start_char < s[1]), (0, len(text)))
        clauses = clause_spans(text, *sent)
        lab_clause = next((c for c in clauses if c[0] <= lab.start_char < c[1]), sent)
        same = [m for m in mentions if m.match is not None and m.match.term == lab.ctcae_term and sent[0] <= m.start < sent[1]]
        target = next((m for m in same if m.overlaps(lab.start_char, lab.end_char)), None)
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
                    if m.overlaps(lab.start_char, lab.end_char)
                    and (m.match is None or m.match.method not in ("exact", "synonym", "lemma"))
                ),
                None,
            )
            match = kb.normalize(lab.ctcae_term) if loose is not None else None
            if match is not None:
                loose.match = match
                loose.start, loose.end = min(loose.start, lab.start_char), max(loose.end, lab.end_char)
                loose.text = text[loose.start : loose.end]
                loose.evidence.append(f"term: {lab.ctcae_term} from the lab value '{lab.text}' in the span")
                target = loose
        if target is None:
            match = kb.normalize(lab.ctcae_term)
            if match is None:
                continue
            target = Mention(lab.start_char, lab.end_char, lab.text, "lab", match)
            target.evidence.append(f"mention: lab value '{lab.text}' grades {lab.grade} for {lab.ctcae_term}")
            mentions.append(target)
        target.labs.append(lab)
