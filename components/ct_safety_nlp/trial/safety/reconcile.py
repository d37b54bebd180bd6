"""Reconciliation of the AEs found in the text with an SDTM AE / ADAE table
(the EDC): per subject and term, found in both (do grade and seriousness
agree?), only in the text, only in the EDC.

Matching: subject USUBJID equal; term equal after case folding and the
CTCAE normaliser's British -> American spelling folds
(:func:`ct_safety_nlp.text.canonical_tokens`: DIARRHOEA = Diarrhea, ANAEMIA =
Anemia); the text side is the CTCAE term, the EDC side AEDECOD (else AETERM,
tried too). All episodes count, treatment-emergent or not. Grades compare the
worst grade of each side: ``yes`` / ``no``, ``unknown`` when one side has no
grade; seriousness the same with Y / N.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from ..inputs import AeRow, Subject
from .episodes import Episode

__all__ = ["reconcile", "term_key", "RECONCILIATION_FIELDS"]

RECONCILIATION_FIELDS = (
    "usubjid", "arm", "term", "status", "text_term", "edc_term", "text_episodes", "edc_records",
    "text_worst_grade", "edc_worst_grade", "grade_agrees", "text_serious", "edc_serious", "serious_agrees",
    "documents", "edc_where",
)


def term_key(term: str) -> str:
    from ...text import canonical_tokens

    return " ".join(canonical_tokens(term or ""))


def _worst(values):
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _agree(a, b) -> str:
    if a is None or b is None:
        return "unknown"
    return "yes" if a == b else "no"


def reconcile(episodes: Sequence[Episode], ae_rows: Sequence[AeRow], subjects: Dict[str, Subject]) -> List[Dict[str, Any]]:
    """One row per (subject, term) seen on either side, sorted by subject and term.
    ``_episodes`` (text episode ids) and ``_rows`` (EDC FILE:LINE) carry the links."""
    text: Dict[Tuple[str, str], List[Episode]] = {}
    for e in episodes:
        if e.source == "text":
            text.setdefault((e.usubjid, term_key(e.term)), []).append(e)
    edc: Dict[Tuple[str, str], List[AeRow]] = {}
    for r in ae_rows:
        key = (r.usubjid, term_key(r.term))
        if key not in text and r.verbatim and (r.usubjid, term_key(r.verbatim)) in text:
            key = (r.usubjid, term_key(r.verbatim))
        edc.setdefault(key, []).append(r)
    rows = []
    for key in sorted(set(text) | set(edc), key=lambda k: (k[0], k[1])):
        eps, recs = text.get(key, []), edc.get(key, [])
        usubjid = key[0]
        t_grade = _worst(e.worst_grade for e in eps) if eps else None
        e_grade = _worst(r.grade for r in recs) if recs else None
        t_ser = any(e.serious for e in eps) if eps else None
        e_ser = (any(r.serious for r in recs) if any(r.serious is not None for r in recs) else None) if recs else None
        status = "both" if eps and recs else ("text_only" if eps else "edc_only")
        docs: List[str] = []
        for e in eps:
            for d in e.documents:
                if d not in docs:
                    docs.append(d)
        yn = lambda v: "" if v is None else ("Y" if v else "N")  # noqa: E731
        rows.append(
            {
                "usubjid": usubjid,
                "arm": subjects[usubjid].arm if usubjid in subjects else "",
                "term": eps[0].term if eps else recs[0].term,
                "status": status,
                "text_term": eps[0].term if eps else "",
                "edc_term": recs[0].term if recs else "",
                "text_episodes": len(eps),
                "edc_records": len(recs),
                "text_worst_grade": "" if t_grade is None else t_grade,
                "edc_worst_grade": "" if e_grade is None else e_grade,
                "grade_agrees": _agree(t_grade, e_grade) if status == "both" else "",
                "text_serious": yn(t_ser),
                "edc_serious": yn(e_ser),
                "serious_agrees": _agree(t_ser, e_ser) if status == "both" else "",
                "documents": "; ".join(docs),
                "edc_where": "; ".join(r.where for r in recs),
                "_episodes": [e.episode_id for e in eps],
                "_rows": [r.where for r in recs],
            }
        )
    rows.sort(key=lambda r: (r["usubjid"], r["term"].casefold()))
    return rows
