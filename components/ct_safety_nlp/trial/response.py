"""Tumour response at trial level: time point responses from annotated
documents, best overall response (BOR) per subject, objective response rate
(ORR) and disease control rate (DCR) per arm with exact 95 % confidence
intervals. Plain functions over plain data.

Rules and sources
* Time point and best overall response: RECIST 1.1 (Eisenhauer et al., Eur J
  Cancer 2009), as implemented in :mod:`ct_safety_nlp.efficacy.recist`;
  confirmation of CR / PR (``confirm``, ``confirm_days``), the SD minimum
  (``min_sd_days``), NE and SD allowed between a response and its confirmation
  are parameters, as in protocols.
* ORR = subjects with a BOR of CR or PR / subjects in the arm; DCR = CR, PR, SD
  or non-CR/non-PD (non-target disease only) / subjects in the arm. Every
  subject of the arm counts in the denominator, with or without an assessment
  (BOR MISSING or NE count as neither).
* Confidence intervals: the exact Clopper–Pearson interval (Clopper & Pearson,
  Biometrika 1934), found here by bisection on the binomial distribution, so
  no SciPy is needed; checked against R's ``binom.test`` and a published trial.

From a document to time point responses (:func:`document_timepoints`): the
document's ``responses`` (``doc._.ct_responses``) are grouped by the timepoint
the text names (a document about one visit has one group). In a group, any
asserted PD makes the time point PD; else the response computed from
measurements (or a target-lesion statement), which wins over a stated one when
they differ (both kept in the evidence); else the stated response (the last one,
as an impression comes last); a group with only non-target statements that are
not PD is non-CR/non-PD (non-target disease only, RECIST Table 2). A group
without an asserted response gives no time point. The day of the time point is
counted from the subject's reference start (day 0): the text's own timepoint
when the document names more than one, else the document's visit date or
study day, else the text's timepoint ("week 8" = day 56, a date).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..efficacy import recist

RESPONDERS = (recist.CR, recist.PR)
DISEASE_CONTROL = (recist.CR, recist.PR, recist.SD, recist.NON_CR_NON_PD)


# ------------------------------------------------------------------ exact binomial interval
def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    lg = math.lgamma(n + 1)
    terms = [lg - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def _bisect(f, target: float) -> float:
    """p in [0, 1] with f(p) = target for a decreasing f."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return (lo + hi) / 2


def clopper_pearson(x: int, n: int, level: float = 0.95) -> Tuple[float, float]:
    """The exact (Clopper–Pearson) confidence interval of a binomial proportion x/n.

    Lower bound: P(X >= x | p) = (1 - level) / 2 (0 when x = 0); upper bound:
    P(X <= x | p) = (1 - level) / 2 (1 when x = n)."""
    for name, v in (("x", x), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"clopper_pearson: {name} must be an int >= 0, got {v!r}")
    if x > n:
        raise ValueError(f"clopper_pearson: x ({x}) > n ({n})")
    if n == 0:
        raise ValueError("clopper_pearson: n must be > 0 (no subjects, no proportion)")
    if not (0 < level < 1):
        raise ValueError(f"clopper_pearson: level must be in (0, 1), got {level!r}")
    alpha = (1 - level) / 2
    # P(X >= x | p) = 1 - cdf(x - 1; p) grows with p: the lower bound solves cdf(x - 1; p) = 1 - alpha
    lower = 0.0 if x == 0 else _bisect(lambda p: _binom_cdf(x - 1, n, p), 1 - alpha)
    upper = 1.0 if x == n else _bisect(lambda p: _binom_cdf(x, n, p), alpha)
    return lower, upper


# ------------------------------------------------------------------ documents -> time points
@dataclass
class Timepoint:
    """One time point response of a subject."""

    usubjid: str
    day: float
    response: str
    doc_id: str
    timepoint: Optional[str]
    best_percent_change: Optional[float]
    evidence: List[str] = field(default_factory=list)


_BAD_FIRST = (recist.PD, recist.NE, recist.SD, recist.NON_CR_NON_PD, recist.PR, recist.CR)


def document_timepoints(responses: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The time point responses a document's ``ct_responses`` assert, one per
    timepoint named: ``{timepoint, timepoint_days, timepoint_date, response,
    best_percent_change, evidence}`` (see the module docstring for the rules)."""
    groups: Dict[Optional[str], List[Dict[str, Any]]] = {}
    for r in responses:
        key = (r.get("timepoint") or "").lower() or None
        groups.setdefault(key, []).append(r)
    out = []
    for key, group in groups.items():
        asserted = [r for r in group if r.get("response") is not None]
        computed = [r for r in asserted if r.get("basis") == "measured" or (r.get("basis") == "stated" and r.get("target_response"))]
        stated = [r for r in asserted if r.get("basis") == "stated" and not r.get("target_response")]
        nts = [r for r in group if r.get("basis") == "non_target" and r.get("non_target_response")]
        ev: List[str] = []
        response = None
        pd = [r for r in asserted if r["response"] == recist.PD]
        if pd:
            response = recist.PD
            ev.append("PD: " + "; ".join(f"{r['basis']} '{r['text']}'" for r in pd))
        elif computed:
            pick = computed[-1]
            response = pick["response"]
            ev.append(f"{response} from {pick['basis']} '{pick['text']}'")
            for s in stated:
                if s["response"] != response:
                    ev.append(f"stated {s['response']} ('{s['text']}') differs from the computed {response}: computed used")
        elif stated:
            pick = stated[-1]
            response = pick["response"]
            ev.append(f"{response} stated: '{pick['text']}'")
            for s in stated[:-1]:
                if s["response"] != response:
                    ev.append(f"also stated {s['response']} ('{s['text']}'): the last statement used")
        elif nts and all(r["non_target_response"] != recist.PD for r in nts) and not any(
            r.get("basis") == "new_lesion" and r.get("new_lesions") for r in group
        ):
            response = recist.CR if all(r["non_target_response"] == recist.CR for r in nts) else recist.NON_CR_NON_PD
            ev.append(f"non-target statements only: RECIST 1.1 Table 2 -> {response}")
        if response is None:
            continue
        pcts = [r["percent_change_from_baseline"] for r in group
                if r.get("basis") == "measured" and r.get("percent_change_from_baseline") is not None and not r.get("speculated")]
        first = group[0]
        out.append({
            "timepoint": first.get("timepoint"), "timepoint_days": first.get("timepoint_days"),
            "timepoint_date": first.get("timepoint_date"), "response": response,
            "best_percent_change": min(pcts) if pcts else None, "evidence": ev,
        })
    return out


def _days_since(start: Optional[date], when: Optional[date]) -> Optional[int]:
    return None if start is None or when is None else (when - start).days


def _study_day_to_days(day: int) -> int:
    """CDISC study day (1 = the first dose, no day 0) -> days since the first dose."""
    return day - 1 if day > 0 else day


def subject_timepoints(
    documents: Iterable[Dict[str, Any]],
    subjects: Dict[str, Dict[str, Any]],
) -> Tuple[List[Timepoint], List[Dict[str, Any]]]:
    """(time points, excluded) from read documents (``{id, where, usubjid,
    visit_date, study_day, responses}``) and subjects (``{usubjid, arm, start}``)."""
    points: List[Timepoint] = []
    excluded: List[Dict[str, Any]] = []
    for doc in documents:
        subject = subjects.get(doc["usubjid"])
        if subject is None:
            excluded.append({"where": doc["where"], "id": doc["id"], "reason": f"subject {doc['usubjid']!r} is not in the subject file (or was left out)"})
            continue
        tps = document_timepoints(doc["responses"])
        if not tps:
            if doc["responses"]:
                excluded.append({"where": doc["where"], "id": doc["id"], "reason": "no tumour response asserted (only negated, hedged or incomplete findings)"})
            continue
        several = len({(tp["timepoint"] or "").lower() for tp in tps}) > 1
        for tp in tps:
            day, how = None, None
            text_day = tp["timepoint_days"]
            if text_day is None and tp["timepoint_date"]:
                text_day = _days_since(subject["start"], date.fromisoformat(tp["timepoint_date"]))
            doc_day = _days_since(subject["start"], doc["visit_date"])
            if doc_day is None and doc["study_day"] is not None:
                doc_day = _study_day_to_days(doc["study_day"])
            if several and text_day is not None:
                day, how = text_day, f"the text's timepoint '{tp['timepoint']}'"
            elif doc_day is not None:
                day, how = doc_day, "the document's visit date / study day"
            elif text_day is not None:
                day, how = text_day, f"the text's timepoint '{tp['timepoint']}'"
            if day is None:
                excluded.append({"where": doc["where"], "id": doc["id"],
                                 "reason": f"{tp['response']} has no date: no visit_date / ady and no dated timepoint in the text"
                                 + ("" if subject["start"] else f" (and the subject has no {subject.get('start_column', 'start date')})")})
                continue
            points.append(Timepoint(doc["usubjid"], day, tp["response"], doc["id"], tp["timepoint"], tp["best_percent_change"],
                                    tp["evidence"] + [f"day {day:g} from {how}"]))
    return points, excluded


# ------------------------------------------------------------------ subjects and arms
def subject_results(
    subjects: Dict[str, Dict[str, Any]],
    points: Sequence[Timepoint],
    *,
    confirm: bool = True,
    confirm_days: float = recist.CONFIRM_DAYS,
    min_sd_days: float = 42,
    max_ne_between: int = 1,
    accept_sd_between: bool = False,
) -> List[Dict[str, Any]]:
    """One row per subject: BOR (with its day, confirmation and reasons), best %
    change of the target sum from baseline, the time points behind it."""
    by_subject: Dict[str, List[Timepoint]] = {s: [] for s in subjects}
    for p in points:
        by_subject.setdefault(p.usubjid, []).append(p)
    rows = []
    for usubjid in sorted(by_subject):
        subject = subjects[usubjid]
        tps = sorted(by_subject[usubjid], key=lambda p: (p.day, p.doc_id))
        merged: List[Timepoint] = []
        for p in tps:  # one response per day: PD wins, else the first document's
            if merged and merged[-1].day == p.day:
                if p.response != merged[-1].response:
                    keep = p if p.response == recist.PD else merged[-1]
                    other = merged[-1] if keep is p else p
                    keep.evidence = keep.evidence + [f"same day in {other.doc_id}: {other.response} (not used)"]
                    merged[-1] = keep
                continue
            merged.append(p)
        bor = recist.best_overall_response(
            [recist.TimepointAssessment(p.day, p.response) for p in merged], confirm=confirm, confirm_days=confirm_days,
            min_sd_days=min_sd_days, max_ne_between=max_ne_between, accept_sd_between=accept_sd_between,
        )
        pcts = [p.best_percent_change for p in merged if p.best_percent_change is not None]
        rows.append({
            "usubjid": usubjid, "arm": subject["arm"], "bor": bor.response, "bor_day": bor.day,
            "confirmed": bor.confirmed, "best_percent_change": min(pcts) if pcts else None,
            "n_timepoints": len(merged), "last_day": merged[-1].day if merged else None,
            "timepoints": [{"day": p.day, "response": p.response, "doc_id": p.doc_id, "timepoint": p.timepoint,
                            "best_percent_change": p.best_percent_change, "evidence": p.evidence} for p in merged],
            "reasons": list(bor.reasons),
        })
    return rows


def arm_rates(rows: Sequence[Dict[str, Any]], level: float = 0.95) -> List[Dict[str, Any]]:
    """Per arm: subjects, counts per BOR, ORR and DCR with exact confidence intervals (percent)."""
    arms: Dict[str, List[Dict[str, Any]]] = {}
    for r in rows:
        arms.setdefault(r["arm"], []).append(r)
    out = []
    for arm in sorted(arms):
        group = arms[arm]
        n = len(group)
        counts = {c: sum(1 for r in group if r["bor"] == c) for c in recist.BOR_ORDER}
        row: Dict[str, Any] = {"arm": arm, "n": n, **{f"n_{c}": counts[c] for c in recist.BOR_ORDER}}
        for name, members in (("orr", RESPONDERS), ("dcr", DISEASE_CONTROL)):
            x = sum(counts[c] for c in members)
            lo, hi = clopper_pearson(x, n, level)
            row.update({f"{name}_n": x, f"{name}_percent": round(100 * x / n, 1), f"{name}_ci_low": round(100 * lo, 1),
                        f"{name}_ci_high": round(100 * hi, 1)})
        out.append(row)
    return out


def read_response_inputs(
    annotations: Any, subjects_file: Any, population_flag: Optional[str] = None
) -> Tuple[Dict[str, Dict[str, Any]], List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(subjects, documents, excluded) for :func:`response_tables`, read by the
    trial input layer (:mod:`ct_safety_nlp.trial.inputs`):
    :func:`~ct_safety_nlp.trial.inputs.read_response_subjects` (``USUBJID``, an
    arm, a reference start, optionally ``population_flag``) and
    :func:`~ct_safety_nlp.trial.inputs.read_annotations` (the subject from the
    row field ``usubjid``, ``subjid`` or ``subject``, the visit from
    ``visit_date`` / ``adt`` or ``ady`` / ``study_day``; a document needs its
    ``responses``, i.e. a pipeline with ``ct_efficacy``). A subject is
    ``{usubjid, arm, start, start_column, where}``, a document ``{id, where,
    usubjid, visit_date, study_day, responses}``, an excluded record ``{where,
    id, reason}``. Bad files raise :class:`~ct_safety_nlp.trial.inputs.InputFileError`
    (FILE:LINE)."""
    from .inputs import SUBJECT_FIELDS, VISIT_DATE_FIELDS, read_annotations, read_response_subjects

    folder = Path(annotations)
    by_id, excl_subjects = read_response_subjects(os.fspath(subjects_file), population_flag=population_flag)
    docs, excl_docs = read_annotations(os.fspath(annotations), subject_fields=SUBJECT_FIELDS, visit_date_fields=VISIT_DATE_FIELDS)
    subjects = {k: {"usubjid": k, "arm": s.arm, "start": s.trtsdt, "start_column": s.start_column, "where": s.where} for k, s in by_id.items()}
    excluded = [{"where": x.where, "id": x.record or None, "reason": x.reason} for x in excl_subjects]
    documents: List[Dict[str, Any]] = []
    for doc in docs:
        where = str(folder / doc.where)
        reason = None
        if not doc.usubjid:
            reason = "no subject (meta usubjid) for this document"
        elif doc.bad_date:
            reason = doc.bad_date
        elif doc.responses is None:
            reason = "no 'responses' in the record: annotate with a pipeline that has ct_efficacy"
        if reason:
            excluded.append({"where": where, "id": doc.id, "reason": reason})
            continue
        documents.append({"id": doc.id, "where": where, "usubjid": doc.usubjid, "visit_date": doc.visit_date,
                          "study_day": doc.study_day, "responses": doc.responses})
    excluded += [{"where": str(folder / x.where), "id": x.record, "reason": x.reason} for x in excl_docs]
    return subjects, documents, excluded


def response_tables(
    documents: Iterable[Dict[str, Any]],
    subjects: Dict[str, Dict[str, Any]],
    excluded: Optional[List[Dict[str, Any]]] = None,
    **bor_params: Any,
) -> Dict[str, Any]:
    """Everything the report shows: ``subjects`` (rows), ``arms`` (rates),
    ``timepoints``, ``excluded`` (every record not used, with its reason),
    ``parameters``."""
    points, dropped = subject_timepoints(documents, subjects)
    rows = subject_results(subjects, points, **bor_params)
    params = {"confirm": True, "confirm_days": recist.CONFIRM_DAYS, "min_sd_days": 42, "max_ne_between": 1,
              "accept_sd_between": False, **bor_params}
    return {
        "subjects": rows, "arms": arm_rates(rows), "timepoints": points,
        "excluded": list(excluded or []) + dropped, "parameters": params,
    }
