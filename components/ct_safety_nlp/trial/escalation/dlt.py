"""DLT assessment per dose level: from subjects and their adverse-event mentions
to cohorts of DLT-evaluable subjects, each DLT with its evidence.

Plain-data interface (what :func:`read_dlt_inputs` builds from ``annotate``
output and a subject file read by the trial input layer,
:mod:`ct_safety_nlp.trial.inputs`):

subject
    ``{"subject": str, "dose": int, "first_dose": date, "cohort": str | None,
    "followup_end": date | None, "last_note": date | None, "where": str}``
    ``followup_end`` is the last date the subject is known to have been followed
    (e.g. ADSL ``LSTALVDT``); without it the date of the subject's last note is used.
event (one adverse-event mention, the ``annotate`` AE dict plus where it is)
    ``{"subject": str, "date": date | None, "study_day": int | None, "ctcae_term",
    "soc", "grade", "serious", "negated", "historical", "speculated", "text",
    "doc_id": str, "where": str}``

Rules (the protocol file, :mod:`ct_safety_nlp.protocol`):

* study day (CDISC, no day 0): day 1 is the first-dose date;
* a mention counts as a DLT when it is asserted (not negated, not historical),
  falls in the DLT window (study days 1..``dlt_window_days``) and meets one of
  the protocol's ``dlt`` rules (evaluated by ``protocol.matches``, the one home
  of the DLT definitions);
* speculated mentions and mentions without a grade are not counted but listed
  under ``to_review`` for the committee; every other mention not counted is
  listed under ``not_counted`` with its reason;
* a subject is DLT-evaluable when followed at least ``min_followup_days`` from
  the first dose, or (``dlt_always_evaluable``) when they had a DLT in the window;
* cohorts: the subject file's cohort column when present, else consecutive
  subjects (in first-dose order) at the same dose level form a cohort.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Dict, List, Optional, Sequence, Tuple

from ._common import EscalationError


def study_day(day: date, first_dose: date) -> int:
    """CDISC study day: day 1 is the first dose; the day before is -1."""
    delta = (day - first_dose).days
    return delta + 1 if delta >= 0 else delta


def _window(protocol: Dict, window_days: Optional[int]) -> Dict:
    window = window_days if window_days is not None else protocol.get("dlt_window_days")
    if window is None:
        raise EscalationError(f"protocol {protocol.get('file', protocol.get('name', ''))!r} has no dlt_window_days: the DLT assessment needs the DLT window (add dlt_window_days to the protocol file)")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise EscalationError(f"the DLT window must be a positive number of days, got {window!r}")
    ev = dict(protocol.get("evaluability") or {})
    ev.setdefault("min_followup_days", window)
    ev.setdefault("dlt_always_evaluable", True)
    return {"window_days": window, **ev}


def _dlt_rule(protocol: Dict, event: Dict) -> Optional[Dict]:
    from ct_safety_nlp.protocol import matches

    for rule in protocol.get("dlt", []):
        if matches(protocol, rule["when"], event):
            return rule
    return None


def assess_dlts(
    subjects: Sequence[Dict],
    events: Sequence[Dict],
    protocol: Dict,
    *,
    window_days: Optional[int] = None,
    num_doses: Optional[int] = None,
    excluded: Sequence[Dict] = (),
) -> Dict:
    """Assess DLTs per subject and group subjects into cohorts.

    Returns ``{"window": {...}, "subjects": [...], "cohorts": [...], "excluded": [...]}``;
    each cohort is ``{"cohort", "label", "dose", "subjects" (evaluable, in order),
    "outcomes" (1 = DLT), "not_evaluable": [{subject, reason}], "dlt_evidence": [...],
    "source"}``, ready for :func:`.engine.escalate`. ``excluded``: records a reader
    already left out (kept in the result; mentions of those subjects are not
    reported again).
    """
    win = _window(protocol, window_days)
    name = protocol.get("name", "protocol")
    excluded: List[Dict] = list(excluded)
    by_id: Dict[str, Dict] = {}
    for s in subjects:
        sid = s["subject"]
        if sid in by_id:
            raise EscalationError(f"{s.get('where', 'subjects')}: subject {sid!r} is listed twice (first at {by_id[sid]['where']})")
        if s.get("first_dose") is None:
            excluded.append({"kind": "subject", "record": sid, "where": s.get("where"), "reason": "no first-dose date: the DLT window cannot be placed"})
            continue
        dose = s.get("dose")
        if isinstance(dose, bool) or not isinstance(dose, int) or dose < 1:
            excluded.append({"kind": "subject", "record": sid, "where": s.get("where"), "reason": f"dose level {dose!r} is not a positive integer"})
            continue
        if num_doses is not None and dose > num_doses:
            raise EscalationError(f"{s.get('where', 'subjects')}: subject {sid!r} has dose level {dose}, out of range (the design has {num_doses} doses)")
        by_id[sid] = {"raw": s, "dlts": [], "not_counted": [], "to_review": []}
    for ev in events:
        rec = by_id.get(ev["subject"])
        if rec is None:
            if not any(x["record"] == ev["subject"] for x in excluded):
                excluded.append({"kind": "mention", "record": f"{ev.get('doc_id')}: {ev.get('text')!r}", "where": ev.get("where"), "reason": f"subject {ev['subject']!r} is not in the subject file"})
            continue
        first = rec["raw"]["first_dose"]
        day = study_day(ev["date"], first) if ev.get("date") is not None else ev.get("study_day")
        item = {
            "ctcae_term": ev.get("ctcae_term"),
            "grade": ev.get("grade"),
            "text": ev.get("text"),
            "study_day": day,
            "date": ev["date"].isoformat() if ev.get("date") is not None else None,
            "doc_id": ev.get("doc_id"),
            "where": ev.get("where"),
        }
        if day is None:
            rec["to_review"].append({**item, "reason": "no date or study day: cannot place it in the DLT window"})
            continue
        if ev.get("negated"):
            rec["not_counted"].append({**item, "reason": "negated"})
            continue
        if ev.get("historical"):
            rec["not_counted"].append({**item, "reason": "historical (before the study)"})
            continue
        if not 1 <= day <= win["window_days"]:
            rec["not_counted"].append({**item, "reason": f"study day {day} is outside the DLT window (days 1-{win['window_days']})"})
            continue
        if ev.get("ctcae_term") is None:
            rec["to_review"].append({**item, "reason": "not mapped to a CTCAE term"})
            continue
        rule = _dlt_rule(protocol, ev)
        if ev.get("speculated"):
            rec["to_review"].append({**item, "reason": "speculated (possible / suspected)" + (f"; would meet DLT rule {rule['id']!r}" if rule else "")})
            continue
        if rule is None:
            if ev.get("grade") is None:
                rec["to_review"].append({**item, "reason": "no grade: the DLT rules cannot be checked"})
            else:
                rec["not_counted"].append({**item, "reason": f"grade {ev.get('grade')} {ev.get('ctcae_term')} meets no DLT rule of protocol {name!r}"})
            continue
        desc = f": {rule['description']}" if rule.get("description") else ""
        rec["dlts"].append(
            {
                **item,
                "rule": rule["id"],
                "evidence": [
                    f"{rec['raw']['subject']} day {day}: {ev.get('text')!r} -> {ev.get('ctcae_term')} grade {ev.get('grade')} ({ev.get('doc_id')})",
                    f"protocol {name!r}: DLT rule {rule['id']!r}{desc}",
                    f"within the DLT window (days 1-{win['window_days']})",
                ],
            }
        )
    out_subjects = []
    for sid, rec in by_id.items():
        s = rec["raw"]
        end = s.get("followup_end") or s.get("last_note")
        follow = study_day(end, s["first_dose"]) if end is not None else None
        has_dlt = bool(rec["dlts"])
        if has_dlt and win["dlt_always_evaluable"]:
            evaluable, why = True, f"DLT on study day {rec['dlts'][0]['study_day']}"
        elif follow is not None and follow >= win["min_followup_days"]:
            evaluable, why = True, f"followed {follow} days (>= {win['min_followup_days']})"
        else:
            evaluable = False
            basis = "no follow-up date" if follow is None else f"followed {follow} days (< {win['min_followup_days']})"
            why = f"{basis}, no DLT" if not has_dlt else f"{basis}; DLTs do not make a subject evaluable under this protocol"
        out_subjects.append(
            {
                "subject": sid,
                "cohort": s.get("cohort"),
                "dose": s["dose"],
                "first_dose": s["first_dose"].isoformat(),
                "followup_days": follow,
                "followup_from": "followup_end" if s.get("followup_end") else ("last_note" if s.get("last_note") else None),
                "evaluable": evaluable,
                "evaluable_reason": why,
                "dlt": has_dlt and evaluable,
                "dlts": rec["dlts"],
                "not_counted": rec["not_counted"],
                "to_review": rec["to_review"],
                "where": s.get("where"),
            }
        )
    cohorts = _group_cohorts(out_subjects)
    return {"window": win, "protocol": name, "subjects": out_subjects, "cohorts": cohorts, "excluded": excluded}


def _group_cohorts(subjects: List[Dict]) -> List[Dict]:
    ordered = sorted(subjects, key=lambda s: (s["first_dose"], s["subject"]))
    groups: List[Dict] = []
    if all(s["cohort"] not in (None, "") for s in ordered):
        labels: Dict[str, Dict] = {}
        for s in ordered:
            g = labels.get(str(s["cohort"]))
            if g is None:
                g = labels[str(s["cohort"])] = {"label": str(s["cohort"]), "dose": s["dose"], "members": []}
                groups.append(g)
            elif g["dose"] != s["dose"]:
                first = g["members"][0]
                raise EscalationError(f"{s['where']}: subject {s['subject']} of cohort {s['cohort']!r} is at dose {s['dose']}, but {first['subject']} ({first['where']}) of the same cohort is at dose {g['dose']}")
            g["members"].append(s)
        if all(g["label"].isdigit() for g in groups):
            groups.sort(key=lambda g: int(g["label"]))
    else:
        if any(s["cohort"] not in (None, "") for s in ordered):
            missing = [s["subject"] for s in ordered if s["cohort"] in (None, "")]
            raise EscalationError(f"the subject file gives a cohort for some subjects but not for {', '.join(missing)}")
        for s in ordered:
            if not groups or groups[-1]["dose"] != s["dose"]:
                groups.append({"label": str(len(groups) + 1), "dose": s["dose"], "members": []})
            groups[-1]["members"].append(s)
    cohorts = []
    for k, g in enumerate(groups, start=1):
        ev = [s for s in g["members"] if s["evaluable"]]
        cohorts.append(
            {
                "cohort": k,
                "label": g["label"],
                "dose": g["dose"],
                "subjects": [s["subject"] for s in ev],
                "outcomes": [1 if s["dlt"] else 0 for s in ev],
                "not_evaluable": [{"subject": s["subject"], "reason": s["evaluable_reason"]} for s in g["members"] if not s["evaluable"]],
                "dlt_evidence": [dict(d, subject=s["subject"]) for s in ev for d in s["dlts"]],
                "source": ", ".join(sorted({s["where"] for s in g["members"] if s.get("where")})) or None,
            }
        )
    return cohorts


def _excluded(x) -> Dict:
    """An :class:`~ct_safety_nlp.trial.inputs.Excluded` as this module's plain dict
    (the subject file named without its folder, as in the subjects' ``where``)."""
    return {"kind": x.kind, "record": x.record, "where": os.path.basename(x.where), "reason": x.reason}


def read_dlt_inputs(annotations, subjects_file, dose_level_column: Optional[str] = None) -> Tuple[List[Dict], List[Dict], List[Dict]]:
    """(subjects, events, excluded) for :func:`assess_dlts`, read by the trial input
    layer: :func:`~ct_safety_nlp.trial.inputs.read_dose_subjects` (``USUBJID``,
    ``TRTSDT``, a dose level column, optional ``COHORT``, ``LSTALVDT``, ``SAFFL``)
    and :func:`~ct_safety_nlp.trial.inputs.read_annotations` (the subject from the
    row field ``usubjid`` or ``subject``; a mention's date is the document's
    ``visit_date``, else its study day ``ady``). A subject's ``last_note`` is the
    latest visit date of their documents. Bad files raise
    :class:`~ct_safety_nlp.trial.inputs.InputFileError` (FILE:LINE); records
    that cannot be used come back in ``excluded`` with their reason."""
    from ..inputs import read_annotations, read_dose_subjects

    by_id, excl_subjects = read_dose_subjects(os.fspath(subjects_file), dose_level_column=dose_level_column)
    documents, excl_docs = read_annotations(os.fspath(annotations), subject_fields=("usubjid", "subject"))
    events: List[Dict] = []
    last_note: Dict[str, date] = {}
    doc_excluded: List[Dict] = []
    for doc in documents:
        if not doc.usubjid:
            doc_excluded.append({"kind": "document", "record": doc.id, "where": doc.where, "reason": "no subject (usubjid) in the row fields"})
            continue
        if doc.bad_date:
            doc_excluded.append({"kind": "document", "record": doc.id, "where": doc.where, "reason": doc.bad_date})
            continue
        sid, when = doc.usubjid, doc.visit_date
        if when is not None and (sid not in last_note or when > last_note[sid]):
            last_note[sid] = when
        for ae in doc.adverse_events:
            events.append(
                {
                    "subject": sid,
                    "date": when,
                    "study_day": doc.study_day if when is None else None,
                    "ctcae_term": ae.get("ctcae_term"),
                    "soc": ae.get("soc"),
                    "grade": ae.get("grade"),
                    "serious": ae.get("serious"),
                    "negated": bool(ae.get("negated")),
                    "historical": bool(ae.get("historical")),
                    "speculated": bool(ae.get("speculated")),
                    "text": ae.get("text"),
                    "doc_id": doc.id,
                    "where": doc.where,
                }
            )
    doc_excluded += [_excluded(x) for x in excl_docs]
    subjects = [
        {"subject": s.usubjid, "dose": s.dose_level, "first_dose": s.trtsdt, "cohort": s.cohort, "followup_end": s.lstalvdt, "last_note": last_note.get(s.usubjid), "where": os.path.basename(s.where)}
        for s in by_id.values()
    ]
    known = set(by_id) | {x.record for x in excl_subjects}
    for sid in sorted(set(last_note) - known):
        doc_excluded.append({"kind": "document", "record": sid, "where": os.fspath(annotations), "reason": f"notes for subject {sid!r}, who is not in the subject file"})
    return subjects, events, [_excluded(x) for x in excl_subjects] + doc_excluded


def assess_trial(annotations, subjects_csv, protocol: Dict, *, window_days: Optional[int] = None, num_doses: Optional[int] = None, dose_level_column: Optional[str] = None) -> Dict:
    """Read ``annotate`` output + a subject file (:func:`read_dlt_inputs`) and assess DLTs."""
    subjects, events, excluded = read_dlt_inputs(annotations, subjects_csv, dose_level_column)
    return assess_dlts(subjects, events, protocol, window_days=window_days, num_doses=num_doses, excluded=excluded)


def cohorts_for_escalation(assessment: Dict) -> List[Dict]:
    """The assessment's cohorts, checked: a cohort without any DLT-evaluable subject
    cannot be decided on and is an error naming its subjects."""
    for c in assessment["cohorts"]:
        if not c["outcomes"]:
            why = "; ".join(f"{x['subject']}: {x['reason']}" for x in c["not_evaluable"]) or "no subjects"
            raise EscalationError(f"cohort {c['label']} (dose {c['dose']}) has no DLT-evaluable subject ({why})")
    return assessment["cohorts"]
