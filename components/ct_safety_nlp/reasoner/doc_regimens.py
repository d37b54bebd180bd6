"""``doc._.ct_regimens``: one record per dose mention, with its drug, route,
frequency and duration (model entities when present, else the rules of
:mod:`ct_safety_nlp.regimens` and :class:`ct_safety_nlp.text.DrugVocabulary`)."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from ..regimens import build_regimen, find_doses
from .tables import ReasonerTables

__all__ = ["REGIMEN_KEYS", "doc_regimens", "drugs_by_sentence"]

#: the keys of every regimen record, in order
REGIMEN_KEYS = ("drug", "dose_text", "value", "unit", "per", "route", "frequency", "duration", "start_char", "end_char")

Offsets = Tuple[int, int]


def drugs_by_sentence(doc, ents: Sequence[Any], sentences: Sequence[Offsets], spans_key: str, drug_rule: bool, tables: ReasonerTables) -> Dict[Offsets, List[Tuple[int, int, str]]]:
    """sentence -> (start, end, name) of its drugs: DRUG entities and spans of the
    model, or (with ``drug_rule`` and no model drugs at all) the drug vocabulary."""
    found = [(e.start_char, e.end_char, e.text) for e in ents if e.label_ == "DRUG"]
    if spans_key in doc.spans:
        found += [(s.start_char, s.end_char, s.text) for s in doc.spans[spans_key] if s.label_ == "DRUG"]
    use_rule = drug_rule and not found
    out = {}
    for sent in sentences:
        if use_rule:
            out[sent] = tables.drugs.find(doc.text, *sent)
        else:
            out[sent] = sorted({d for d in found if sent[0] <= d[0] < sent[1]})
    return out


def doc_regimens(doc, ents: Sequence[Any], sentences: Sequence[Offsets], drug_rule: bool, tables: ReasonerTables) -> List[Dict[str, Any]]:
    """The regimen records of ``doc`` (keys :data:`REGIMEN_KEYS`)."""
    text = doc.text
    doses = [(e.start_char, e.end_char) for e in ents if e.label_ == "DOSE"]
    if not doses:
        doses = find_doses(text, rules=tables.regimens)
    drugs = [(e.start_char, e.end_char, e.text) for e in ents if e.label_ == "DRUG"]
    out = []
    for start, end in sorted(doses):
        sent = next((s for s in sentences if s[0] <= start < s[1]), (0, len(text)))
        next_dose = min([s for s, _ in doses if s >= end], default=sent[1])
        scope_end = min(sent[1], next_dose)
        sent_drugs = [d for d in drugs if sent[0] <= d[0] < sent[1]] or (
            tables.drugs.find(text, *sent) if drug_rule and not drugs else []
        )
        before = [d for d in sent_drugs if d[1] <= start]
        after = [d for d in sent_drugs if d[0] >= end and d[0] < scope_end]
        drug = before[-1][2] if before else (after[0][2] if after else None)

        def ent_after(label):
            found = [e.text for e in ents if e.label_ == label and e.start_char >= end and e.start_char < scope_end]
            return found[0] if found else None

        reg = build_regimen(text, (start, end), scope_end, drug, ent_after("ROUTE"), ent_after("FREQUENCY"), ent_after("DURATION"), rules=tables.regimens)
        if reg is not None:
            out.append(reg)
    return out
