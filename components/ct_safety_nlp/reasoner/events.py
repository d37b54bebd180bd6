"""The ``doc._.ct_adverse_events`` record of one AE mention: term, grade,
context, seriousness, suspect drugs, protocol DLT and action, each with its
evidence. Negated mentions keep ``grade`` None (no event, no grade); negated
or historical mentions are never serious and never a DLT."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from ..protocol import apply_protocol
from ..regimens import link_drugs
from ..seriousness import assess_seriousness
from .grading_window import decide_grade
from .mentions import Mention
from .tables import ReasonerTables

__all__ = ["AE_KEYS", "add_course", "build_event"]

#: the keys of every AE record, in order (the README's output contract)
AE_KEYS = (
    "text", "start_char", "end_char", "ctcae_term", "meddra_code", "soc", "ctcae_version", "grade", "grade_basis", "negated",
    "speculated", "historical", "serious", "seriousness_criteria", "drugs", "drug_basis", "dlt", "action", "evidence",
    "relatedness", "action_taken", "outcome", "course_evidence",
)

Offsets = Tuple[int, int]


def build_event(
    text: str,
    m: Mention,
    sentence: Offsets,
    clause: Offsets,
    in_sentence: Sequence[Mention],
    drugs: Sequence[Tuple[int, int, str]],
    linked: Sequence[Offsets],
    tables: ReasonerTables,
    ctx=None,
) -> Dict[str, Any]:
    """The AE record of mention ``m`` (keys :data:`AE_KEYS`); ``ctx``: its context
    (:meth:`ct_safety_nlp.context.ContextMatcher.assess`) when already assessed."""
    evidence: List[str] = list(m.evidence)
    if ctx is None:
        ctx = tables.context.assess(text, m.start, m.end, sentence)
    evidence += ctx.evidence
    term = m.match.term if m.match is not None else None
    decision = decide_grade(text, m, clause, in_sentence, tables.kb, tables.grading_rules, linked)
    grade, basis = decision.grade, decision.basis
    evidence += decision.evidence
    if ctx.negated and grade is not None:
        evidence.append(f"grade: {grade} not reported because the mention is negated")
        grade, basis = None, None
    criteria = assess_seriousness(
        text, clause, sentence, term, grade, negated=ctx.negated, historical=ctx.historical,
        linked_clauses=linked, rules=tables.seriousness,
    )
    evidence += [c.evidence for c in criteria]
    drug_names, drug_evidence = link_drugs(text, (m.start, m.end), clause, drugs, tables.regimens) if not ctx.negated else ([], "")
    if drug_evidence:
        evidence.append(drug_evidence)
    event: Dict[str, Any] = {
        "text": m.text,
        "start_char": m.start,
        "end_char": m.end,
        "ctcae_term": term,
        "meddra_code": m.match.meddra_code if m.match is not None else None,
        "soc": m.match.soc if m.match is not None else None,
        "ctcae_version": tables.kb.version,
        "grade": grade,
        "grade_basis": basis,
        "negated": ctx.negated,
        "speculated": ctx.speculated,
        "historical": ctx.historical,
        "serious": bool(criteria),
        "seriousness_criteria": [c.criterion for c in criteria],
        "drugs": drug_names,
        # where the drugs come from: the AE's "sentence" (ct_safety_nlp.regimens.link_drugs), a
        # "later sentence" or the "document" (ct_safety_nlp.reasoner.attribution)
        "drug_basis": "sentence" if drug_names else None,
        "dlt": None,
        "action": None,
        "evidence": evidence,
    }
    if tables.protocol is not None and term is not None:
        if ctx.negated or ctx.historical:
            event["dlt"] = False
        else:
            verdict = apply_protocol(tables.protocol, event)
            event["dlt"], event["action"] = verdict["dlt"], verdict["action"]
            evidence += verdict["evidence"]
    return event


def add_course(text: str, events: List[Dict[str, Any]], sentences: Sequence[Offsets], course: Any) -> None:
    """Add ``relatedness`` (level), ``action_taken`` (AEACN), ``outcome`` (AEOUT)
    and ``course_evidence`` (attribute -> matched text, offsets and region) to
    each record, from :class:`ct_safety_nlp.course.CourseRules`. A value found
    only in a document-wide statement (or not at all) gives way to one stated
    nearer another mention of the same CTCAE term. A negated mention gets none."""
    asserted = [e for e in events if not e["negated"]]
    memo: Dict[Any, Any] = {}  # what each sentence without the mention states, found once per document
    found = {
        id(e): course.assess(text, (e["start_char"], e["end_char"]), sentences, [o["start_char"] for o in asserted if o is not e], memo)
        for e in asserted
    }
    for event in events:
        hits = found.get(id(event), {})
        evidence = {}
        for attr in ("relatedness", "action_taken", "outcome"):
            hit = hits.get(attr)
            if event["ctcae_term"] and (hit is None or hit["where"] == "document"):
                near = [found[id(o)][attr] for o in asserted if o is not event and o["ctcae_term"] == event["ctcae_term"]]
                near = [h for h in near if h is not None and h["where"] != "document"]
                if near:
                    hit = dict(near[0], where="same term")
            event[attr] = hit["value"] if hit else None
            if hit:
                evidence[attr] = {k: hit[k] for k in ("text", "start_char", "end_char", "where")}
                event["evidence"].append(f"{attr}: {hit['value']} from {hit['text']!r} at {hit['start_char']}-{hit['end_char']} ({hit['where']})")
        event["course_evidence"] = evidence
