"""Suspect drugs from the document's structure, for the AEs whose own sentence
names no drug (the sentence-level rule is :func:`ct_safety_nlp.regimens.link_drugs`).

Notes, CRF comments and narratives name the drug away from the event: "Gr 3
diarrhea C1D6, hospitalised 2 days. Related to capecitabine.", "Sorafenib was
interrupted.", or once at the top ("Regimen: paclitaxel 80 mg/m2 IV weekly").
For a present (not negated, not historical) AE in a sentence without drugs:

1. the drugs of the next ``sentences_after`` sentences that attribute an event
   to them or say what was done with them (``attribution_before``,
   ``action_after_drug``, ``action_before_drug``); a sentence that holds an AE
   of its own ends the search, it speaks of that AE; an event whose
   ``relatedness`` (the course rules, :mod:`ct_safety_nlp.course`, run first)
   is "not related" or "unlikely related", read near it (not from elsewhere in
   the document), takes no drug from the document;
2. otherwise (``opening_treatment``) the treatment the document states first:
   the drugs it names before its first AE mention (a note's regimen line), else
   those of its first AE's sentence ("Principal diagnosis: febrile neutropenia
   after C2 of TC (docetaxel ...)"), less those it calls unrelated.

A regimen acronym among the linked drugs is spelled out in the evidence
("R-CHOP = rituximab, cyclophosphamide, ..."; the acronym table is the drug
vocabulary's). The cue patterns are data: ``document_links`` in
``resources/regimens.yml``. Each link says in the evidence where it came from.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from .tables import ReasonerTables

__all__ = ["attribute_in_document", "grade_from_other_mentions", "spell_out_regimens"]

Offsets = Tuple[int, int]
Drug = Tuple[int, int, str]

#: relatedness levels (``ct_safety_nlp.course``) under which no drug is taken from the document
UNRELATED = ("not related", "unlikely related")


def attribute_in_document(
    text: str,
    events: List[Dict[str, Any]],
    sentences: Sequence[Offsets],
    drugs: Dict[Offsets, List[Drug]],
    tables: ReasonerTables,
) -> None:
    """Fill ``drugs`` (and the evidence) of the events the sentence rule left without (in place)."""
    R = tables.regimens
    if not events or not (R.sentences_after or R.opening_treatment):
        return
    sent_of = [_sentence_index(sentences, ev["start_char"]) for ev in events]
    with_ae = {i for i, ev in zip(sent_of, events) if not ev["negated"]}
    opening, opening_why = _opening(text, events, sentences, sent_of, drugs, R)
    for ev, i in zip(events, sent_of):
        if ev["negated"] or ev["historical"] or ev["drugs"] or i is None or drugs.get(sentences[i]):
            continue
        if _stated_unrelated(ev):
            ev["evidence"].append(f"drug link: none from the document (relatedness: {ev['relatedness']})")
            continue
        names, why = _after(text, sentences, i, with_ae, drugs, R) if R.sentences_after else ([], "")
        basis = "later sentence"
        if not names and R.opening_treatment and opening:
            names, why, basis = opening, opening_why, "document"
        if names:
            ev["drugs"], ev["drug_basis"] = names, basis
            ev["evidence"].append(f"drug link: {', '.join(names)}, {why}")


def _opening(text: str, events, sentences: Sequence[Offsets], sent_of, drugs: Dict[Offsets, List[Drug]], R) -> Tuple[List[str], str]:
    """The treatment a document states first: the drugs it names before its first
    AE mention, else those of the first AE's sentence; less those called unrelated."""
    first = min(range(len(events)), key=lambda k: events[k]["start_char"])
    first_ae, first_sent = events[first]["start_char"], sent_of[first]

    def unrelated(start: int) -> bool:
        return bool(R.not_causal_before.search(text[max(0, start - 60) : start]))

    before = _unique(name for sent in sentences for start, end, name in drugs.get(sent, []) if end <= first_ae and not unrelated(start))
    if before:
        return before, "the treatment the document names before its first AE"
    if first_sent is None:
        return [], ""
    names = _unique(name for start, _end, name in drugs.get(sentences[first_sent], []) if not unrelated(start))
    return names, "the treatment named with the document's first AE"


def _stated_unrelated(ev: Dict[str, Any]) -> bool:
    """The course rules read "not related" / "unlikely related" near the AE (its clause,
    sentence or the sentences after it; a statement elsewhere in the document may
    speak of another event)."""
    where = ((ev.get("course_evidence") or {}).get("relatedness") or {}).get("where")
    return ev.get("relatedness") in UNRELATED and where != "document"


def _after(text: str, sentences: Sequence[Offsets], i: int, with_ae: set, drugs: Dict[Offsets, List[Drug]], R):
    """(drugs, why) from the sentences after sentence ``i``."""
    for j in range(i + 1, min(len(sentences), i + 1 + R.sentences_after)):
        if j in with_ae:
            break
        sent = sentences[j]
        hits = []
        for start, end, name in drugs.get(sent, []):
            before, after = text[max(sent[0], start - 60) : start], text[end : sent[1]]
            if (R.attribution_before and R.attribution_before.search(before)) or (
                R.action_after_drug and R.action_after_drug.match(after)
            ) or (R.action_before_drug and R.action_before_drug.search(before)):
                hits.append(name)
        if hits:
            quoted = " ".join(text[sent[0] : sent[1]].split())
            if len(quoted) > 80:
                quoted = quoted[:77] + "..."
            return _unique(hits), f"named in a later sentence that attributes the event or acts on the drug ('{quoted}')"
    return [], ""


def spell_out_regimens(events: List[Dict[str, Any]], tables: ReasonerTables) -> None:
    """An evidence line per regimen acronym among an event's drugs (in place)."""
    for ev in events:
        for name in ev["drugs"]:
            parts = tables.drugs.regimen_drugs(name)
            if parts:
                ev["evidence"].append(f"drug link: {name} = {', '.join(parts)} (regimen table)")


def grade_from_other_mentions(text: str, events: List[Dict[str, Any]]) -> None:
    """A present AE mention that nothing graded takes the highest grade of the other
    present mentions of the same CTCAE term in the document ("Reports fatigue,
    constipation ... Remaining AEs all G1 (fatigue, constipation)"): one event told
    twice, graded once; ``grade_basis`` "document", the evidence names the mention
    (in place)."""

    def present(ev) -> bool:
        return ev["ctcae_term"] is not None and not ev["negated"] and not ev["historical"]

    graded: Dict[str, Dict[str, Any]] = {}
    for ev in events:
        if present(ev) and ev["grade"] is not None and ev["grade_basis"] != "document":
            best = graded.get(ev["ctcae_term"])
            if best is None or ev["grade"] > best["grade"]:
                graded[ev["ctcae_term"]] = ev
    for ev in events:
        if present(ev) and ev["grade"] is None and ev["ctcae_term"] in graded:
            src = graded[ev["ctcae_term"]]
            ev["grade"], ev["grade_basis"] = src["grade"], "document"
            ev["evidence"].append(
                f"grade {src['grade']} (document): from another mention of {ev['ctcae_term']} "
                f"at {src['start_char']} ('{src['text']}', grade basis {src['grade_basis']})"
            )


def _sentence_index(sentences: Sequence[Offsets], start: int):
    for i, (a, b) in enumerate(sentences):
        if a <= start < b:
            return i
    return None


def _unique(names) -> List[str]:
    return list(dict.fromkeys(names))
