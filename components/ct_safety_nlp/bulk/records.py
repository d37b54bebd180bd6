"""The ``docs.jsonl`` / ``errors.jsonl`` record of one document.

A docs.jsonl record (one JSON object per line)::

    id              path relative to the input root, plus "#<row>" for rows
    source, row     the file (relative) and the 1-based row (null for txt/md)
    sha256          hex SHA-256 of the UTF-8 text that was annotated
    decoded         how the bytes became text (see readers), "replaced" count
                    when invalid bytes were replaced
    n_chars, n_words  characters; tokens that are not whitespace
    text            the text (omitted with --no-text)
    ents            [{start_char, end_char, label, text}]
    spans           {key: [{start_char, end_char, label, text, score?}]}
    adverse_events  doc._.ct_adverse_events, or [] when the pipeline has no
                    ct_reasoner (any spaCy pipeline works)
    ae_rejected     doc._.ct_ae_rejected (the model's AE spans ct_reasoner did
                    not make AE records, each with its reason), or []
    regimens        doc._.ct_regimens, or []
    responses       doc._.ct_responses (tumour-response assessments of
                    ct_efficacy), or [] when the pipeline has no ct_efficacy
    meta            the other fields/columns of a jsonl/csv row, or null

An errors.jsonl record: ``id``, ``source``, ``row``, ``error`` (the reason),
``stage`` ("read": the file/row could not be turned into text; "nlp": the
pipeline raised on this document).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List

DOC_FIELDS = (
    "id", "source", "row", "sha256", "decoded", "n_chars", "n_words",
    "text", "ents", "spans", "adverse_events", "regimens", "responses", "meta",
)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _ext_list(doc, name: str) -> List[Any]:
    if not doc.has_extension(name):
        return []
    value = getattr(doc._, name)
    return list(value) if value else []


def n_words(doc) -> int:
    return sum(1 for token in doc if not token.is_space)


def doc_record(doc, item: Dict[str, Any], include_text: bool = True) -> Dict[str, Any]:
    """The docs.jsonl record of an annotated ``doc`` read from ``item``."""
    spans: Dict[str, List[Dict[str, Any]]] = {}
    for key, group in doc.spans.items():
        scores = group.attrs.get("scores") if hasattr(group, "attrs") else None
        out = []
        for i, span in enumerate(group):
            entry = {"start_char": span.start_char, "end_char": span.end_char, "label": span.label_, "text": span.text}
            if scores is not None and i < len(scores):
                entry["score"] = round(float(scores[i]), 4)
            out.append(entry)
        spans[key] = out
    record: Dict[str, Any] = {
        "id": item["id"],
        "source": item.get("source"),
        "row": item.get("row"),
        "sha256": text_sha256(doc.text),
        "decoded": item.get("decoded"),
        "n_chars": len(doc.text),
        "n_words": n_words(doc),
    }
    if item.get("replaced"):
        record["replaced"] = item["replaced"]
    if include_text:
        record["text"] = doc.text
    record["ents"] = [
        {"start_char": e.start_char, "end_char": e.end_char, "label": e.label_, "text": e.text} for e in doc.ents
    ]
    record["spans"] = spans
    record["adverse_events"] = _ext_list(doc, "ct_adverse_events")
    record["ae_rejected"] = _ext_list(doc, "ct_ae_rejected")
    record["regimens"] = _ext_list(doc, "ct_regimens")
    record["responses"] = _ext_list(doc, "ct_responses")
    record["meta"] = item.get("meta")
    return record


def error_record(item: Dict[str, Any], error: str, stage: str) -> Dict[str, Any]:
    return {"id": item["id"], "source": item.get("source"), "row": item.get("row"), "error": error, "stage": stage}


def dumps(record: Dict[str, Any]) -> str:
    """One JSON line. Non-JSON values a component may have left (numpy
    scalars, sets) are converted rather than crashing the run."""
    return json.dumps(record, ensure_ascii=False, default=_fallback)


def _fallback(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
