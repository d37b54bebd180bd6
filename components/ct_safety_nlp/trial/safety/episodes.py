"""AE episodes per subject: the mentions of one CTCAE term in a subject's
documents, merged in time order; and the rows of an SDTM AE / ADAE table as
episodes of their own, so that one table code counts both.

Merging rules (stated in the README, tested in tests/trial/test_safety_episodes.py):

1. A mention opens or joins an episode only when it is asserted: not negated
   and not historical (history belongs to medical history), and it has a CTCAE
   term. Speculated mentions ("possible pneumonitis") do count; the episode
   is marked ``speculated`` when all its mentions are. Every mention is listed
   in ``mentions.csv`` with its episode or the reason it has none; a mention
   without a CTCAE term is also an excluded record.
2. Mentions are taken in visit order (visit date, then the document's order
   in docs.jsonl, then the offset in the text); documents without a visit date
   or study day come last and join the subject's episode of the term as the
   other mentions do.
3. A mention joins the subject's open episode of the same term; if there is
   none, it opens one. An episode closes at a mention whose clause states the
   event resolved (outcome RECOVERED/RESOLVED, ... WITH SEQUELAE) or was fatal:
   its end is that document's visit date; the next mention of the term opens
   a new episode. There is no gap rule: a visit that does not mention the term
   neither ends nor splits the episode.
4. Onset is the visit date of the first mention (or its ``onset`` key when
   the AE dict carries an ISO date); worst grade the highest graded mention
   (missing when none is graded); initial grade the highest grade among the
   mentions dated before the first dose; serious when any mention is, with
   the union of the criteria; suspect drugs the union of the mentions'
   linked drugs; *related* when any mention names a suspect drug (or carries
   a ``relatedness`` of related / possibly / probably); action taken the
   most far-reaching one stated (DRUG WITHDRAWN > DRUG INTERRUPTED > DOSE
   REDUCED > DOSE INCREASED > DOSE NOT CHANGED); outcome FATAL when a
   mention is grade 5 or names death, else the last stated outcome; DLT when
   any mention is a DLT; the protocol's recommended action at the worst grade
   when a protocol is given (else the mentions' own ``action``).
5. Treatment-emergent: :func:`.teae.trtemfl` on (onset, end, TRTSDT, TRTEDT)
   with the end window, initial grade and worst grade (a pre-existing event
   that worsens counts; missing dates and grades as admiral handles them).
6. Episodes are listed by subject, then by their first mention (visit
   date, document order, offset); ids are ``USUBJID/term/n``, n counting the
   subject's episodes of the term from 1.

Action taken and outcome: the AE record's own ``action_taken`` / ``outcome``
when the reasoner wrote them (``ct_safety_nlp.course``); for older records
the same course rules (``resources/ae_course.yml``, CDISC AEACN / AEOUT values)
are applied to the document's text here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...course import CourseRules, default_course_rules
from ..inputs import AeRow, Document, Excluded, Subject, TrialInputs, date_to_study_day, parse_date
from .teae import trtemfl

__all__ = ["MentionRef", "Episode", "build_episodes", "episodes_from_ae_rows", "load_cues", "MENTION_FIELDS", "EPISODE_FIELDS"]

RESOLVED = ("RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE")
_RELATED_WORDS = {"related", "possibly related", "probably related", "definitely related", "possible", "probable", "definite", "yes", "y"}
_UNRELATED_WORDS = {"not related", "unlikely related", "unrelated", "unlikely", "no", "n", "none", "remote"}


@dataclass
class MentionRef:
    """One AE mention of a document, with where it is and what it says."""

    doc_id: str
    doc_line: int
    ae_index: int
    start_char: int
    end_char: int
    text: str
    sentence: str
    sentence_start: int
    visit_date: Optional[date]
    study_day: Optional[int]
    term: Optional[str]
    soc: Optional[str]
    meddra_code: Optional[str]
    grade: Optional[int]
    grade_basis: Optional[str]
    serious: bool
    seriousness_criteria: List[str]
    drugs: List[str]
    negated: bool
    speculated: bool
    historical: bool
    dlt: Optional[bool]
    protocol_action: Optional[str]
    action_taken: Optional[str]
    outcome: Optional[str]
    related: bool
    evidence: List[str]
    episode_id: str = ""
    disposition: str = ""  # "episode" or the reason it opened none


@dataclass
class Episode:
    episode_id: str
    usubjid: str
    arm: str
    term: str
    soc: str
    meddra_code: Optional[str]
    onset: Optional[date]
    onset_day: Optional[int]
    end: Optional[date]
    end_day: Optional[int]
    worst_grade: Optional[int]
    initial_grade: Optional[int]
    serious: bool
    seriousness_criteria: List[str]
    related: bool
    drugs: List[str]
    action_taken: Optional[str]
    outcome: Optional[str]
    fatal: bool
    speculated: bool
    dlt: Optional[bool]
    protocol_action: Optional[str]
    teae: Optional[str]
    source: str  # "text" | "edc"
    mentions: List[MentionRef] = field(default_factory=list)
    edc_where: List[str] = field(default_factory=list)

    @property
    def documents(self) -> List[str]:
        seen: List[str] = []
        for m in self.mentions:
            if m.doc_id not in seen:
                seen.append(m.doc_id)
        return seen


EPISODE_FIELDS = (
    "episode_id", "usubjid", "arm", "soc", "term", "onset", "onset_day", "end", "end_day", "n_mentions",
    "worst_grade", "initial_grade", "serious", "seriousness_criteria", "related", "drugs", "action_taken",
    "outcome", "speculated", "dlt", "protocol_action", "teae", "source", "documents",
)
MENTION_FIELDS = (
    "doc_id", "ae_index", "usubjid", "visit_date", "study_day", "text", "start_char", "end_char", "term", "grade",
    "negated", "speculated", "historical", "serious", "action_taken", "outcome", "episode_id", "disposition", "sentence",
)


# --------------------------------------------------------------------------- cues

Cues = CourseRules


def load_cues(path: Optional[str] = None) -> CourseRules:
    """The course rules (default: the shipped ``resources/ae_course.yml``;
    another file is read through ``ct.read_ae_course.v1``)."""
    if path is None:
        return default_course_rules()
    from ...rules.course import read_ae_course

    return CourseRules(read_ae_course(path))


def _first(cues: CourseRules, attr: str, text: str) -> Optional[str]:
    hit = cues.first(attr, text, 0, len(text))
    return hit["value"] if hit else None


# --------------------------------------------------------------------------- mentions


def _mention_context(doc: Document, cues: Cues) -> List[Tuple[Tuple[int, int], Optional[str], Optional[str]]]:
    """Per AE of the document: (sentence span, action taken, outcome)."""
    from ...text import clause_spans, split_sentences

    text = doc.text or ""
    aes = doc.adverse_events
    sentences = split_sentences(text) if text else []

    def sentence_of(pos: int) -> int:
        for i, (a, b) in enumerate(sentences):
            if a <= pos < b:
                return i
        return -1

    ae_sent = [sentence_of(int(ae.get("start_char") or 0)) for ae in aes]
    asserted = [not ae.get("negated") and not ae.get("historical") for ae in aes]
    # action cues: per sentence; a sentence with no asserted AE passes its cue back
    actions: Dict[int, Optional[str]] = {}
    for si, (a, b) in enumerate(sentences):
        value = _first(cues, "action_taken", text[a:b])
        if value is None:
            continue
        target = si
        while target >= 0 and not any(s == target and ok for s, ok in zip(ae_sent, asserted)):
            target -= 1
        if target >= 0:
            actions[target] = cues.more_far_reaching(actions.get(target), value)
    out = []
    for ae, si in zip(aes, ae_sent):
        span = sentences[si] if si >= 0 else (0, len(text))
        outcome = None
        if text:
            start = int(ae.get("start_char") or 0)
            clause = next(((a, b) for a, b in clause_spans(text, *span) if a <= start < b), span)
            outcome = _first(cues, "outcome", text[clause[0] : clause[1]])
        action = actions.get(si) if si >= 0 else None
        if "action_taken" in ae or "outcome" in ae:  # the reasoner's own reading (ct_safety_nlp.course)
            action, outcome = ae.get("action_taken"), ae.get("outcome")
        out.append((span, action, outcome))
    return out


def _related(ae: Dict[str, Any]) -> bool:
    """Related when the record's ``relatedness`` says so; not when it says not /
    unlikely related; else when a drug is linked from the text around the AE (a
    drug the reasoner took from the document's stated treatment, ``drug_basis``
    "document", is a suspect drug, not an attribution)."""
    rel = ae.get("relatedness")
    level = rel.get("level", "") if isinstance(rel, dict) else rel
    if isinstance(level, str) and level.strip():
        low = level.strip().lower()
        if low in _RELATED_WORDS:
            return True
        if low in _UNRELATED_WORDS:
            return False
    return bool(ae.get("drugs")) and ae.get("drug_basis") != "document"


def _mentions(doc: Document, cues: Cues) -> List[MentionRef]:
    ctx = _mention_context(doc, cues)
    out = []
    text = doc.text or ""
    for i, (ae, (span, action, outcome)) in enumerate(zip(doc.adverse_events, ctx)):
        grade = ae.get("grade")
        grade = grade if isinstance(grade, int) and not isinstance(grade, bool) else None
        crit = list(ae.get("seriousness_criteria") or [])
        if grade == 5 or "death" in crit:
            outcome = "FATAL"
        out.append(
            MentionRef(
                doc_id=doc.id, doc_line=doc.line, ae_index=i, start_char=int(ae.get("start_char") or 0),
                end_char=int(ae.get("end_char") or 0), text=str(ae.get("text") or ""),
                sentence=text[span[0] : span[1]] if text else "", sentence_start=span[0], visit_date=doc.visit_date,
                study_day=doc.study_day, term=ae.get("ctcae_term") or None, soc=ae.get("soc") or None,
                meddra_code=None if ae.get("meddra_code") is None else str(ae.get("meddra_code")), grade=grade, grade_basis=ae.get("grade_basis"),
                serious=bool(ae.get("serious")), seriousness_criteria=crit, drugs=list(ae.get("drugs") or []),
                negated=bool(ae.get("negated")), speculated=bool(ae.get("speculated")), historical=bool(ae.get("historical")),
                dlt=ae.get("dlt"), protocol_action=ae.get("action"), action_taken=action, outcome=outcome,
                related=_related(ae) and not ae.get("negated"), evidence=list(ae.get("evidence") or []),
            )
        )
    return out


# --------------------------------------------------------------------------- episodes


def build_episodes(
    inputs: TrialInputs,
    *,
    end_window: Optional[int] = None,
    protocol: Optional[Dict[str, Any]] = None,
    cues: Optional[Cues] = None,
) -> Tuple[List[Episode], List[MentionRef], List[Excluded]]:
    """Episodes of the documents' subjects (safety population only: the
    inputs already excluded the others), every mention with its disposition,
    and the mentions left out (no CTCAE term) as excluded records."""
    cues = cues or load_cues()
    subjects = inputs.subjects
    all_mentions: List[MentionRef] = []
    excluded: List[Excluded] = []
    by_subject: Dict[str, List[Tuple[Tuple, MentionRef]]] = {}
    for order, doc in enumerate(inputs.documents):
        for m in _mentions(doc, cues):
            all_mentions.append(m)
            if m.negated:
                m.disposition = "negated"
                continue
            if m.historical:
                m.disposition = "historical (medical history, not an AE)"
                continue
            if not m.term:
                m.disposition = "no CTCAE term"
                excluded.append(Excluded("mention", f"{doc.id}@{m.start_char}", doc.where, f"AE mention {m.text!r} has no CTCAE term", doc.usubjid or ""))
                continue
            onset_override = None
            raw_onset = doc.adverse_events[m.ae_index].get("onset")
            if isinstance(raw_onset, str):
                onset_override, _ = parse_date(raw_onset)
            when = onset_override or m.visit_date
            key = (when is None, when or date.min, order, m.start_char)
            by_subject.setdefault(doc.usubjid, []).append((key, m))
    keyed: List[Tuple[Tuple, Episode]] = []
    for usubjid in sorted(by_subject):
        subj = subjects[usubjid]
        open_: Dict[str, List[Tuple[Tuple, MentionRef]]] = {}
        counters: Dict[str, int] = {}
        groups: List[Tuple[str, List[Tuple[Tuple, MentionRef]]]] = []
        for key, m in sorted(by_subject[usubjid], key=lambda km: km[0]):
            group = open_.get(m.term)
            if group is None:
                group = []
                open_[m.term] = group
                groups.append((m.term, group))
            group.append((key, m))
            if m.outcome in RESOLVED or m.outcome == "FATAL":
                del open_[m.term]
        for term, group in groups:
            counters[term] = counters.get(term, 0) + 1
            keyed.append(((usubjid,) + group[0][0], _episode(subj, term, counters[term], group, end_window, protocol, cues)))
    # listed by subject, then by first mention (visit date, document order, offset)
    episodes = [ep for _, ep in sorted(keyed, key=lambda ke: ke[0])]
    for ep in episodes:
        for m in ep.mentions:
            m.episode_id = ep.episode_id
            m.disposition = "episode"
    return episodes, all_mentions, excluded


def _episode(subj: Subject, term: str, n: int, group, end_window, protocol, cues: Cues) -> Episode:
    mentions = [m for _, m in group]
    dates = [k[1] if not k[0] else None for k, _ in group]
    first = mentions[0]
    onset = dates[0]
    end = None
    outcome = None
    for d, m in zip(dates, mentions):
        if m.outcome:
            outcome = m.outcome
    last = mentions[-1]
    if last.outcome in RESOLVED or last.outcome == "FATAL":
        end = dates[-1]
    if any(m.outcome == "FATAL" for m in mentions):
        outcome = "FATAL"
    grades = [m.grade for m in mentions if m.grade is not None]
    worst = max(grades) if grades else None
    pre = [m.grade for d, m in zip(dates, mentions) if m.grade is not None and d is not None and subj.trtsdt is not None and d < subj.trtsdt]
    initial = max(pre) if pre else None
    criteria: List[str] = []
    drugs: List[str] = []
    action = None
    rank = cues.action_rank
    for m in mentions:
        for c in m.seriousness_criteria:
            if c not in criteria:
                criteria.append(c)
        for d in m.drugs:
            if d not in drugs:
                drugs.append(d)
        if m.action_taken and (action is None or rank.get(m.action_taken, 99) < rank.get(action, 99)):
            action = m.action_taken
    dlts = [m.dlt for m in mentions if m.dlt is not None]
    dlt = any(dlts) if dlts else None
    soc = next((m.soc for m in mentions if m.soc), "")
    code = next((m.meddra_code for m in mentions if m.meddra_code), None)
    protocol_action = next((m.protocol_action for m in mentions if m.protocol_action), None)
    ep = Episode(
        episode_id=f"{subj.usubjid}/{term}/{n}", usubjid=subj.usubjid, arm=subj.arm, term=term, soc=soc,
        meddra_code=code, onset=onset, onset_day=date_to_study_day(subj.trtsdt, onset), end=end,
        end_day=date_to_study_day(subj.trtsdt, end), worst_grade=worst, initial_grade=initial,
        serious=any(m.serious for m in mentions), seriousness_criteria=criteria, related=any(m.related for m in mentions),
        drugs=drugs, action_taken=action, outcome=outcome, fatal=outcome == "FATAL",
        speculated=all(m.speculated for m in mentions), dlt=dlt, protocol_action=protocol_action,
        teae=trtemfl(onset, end, subj.trtsdt, subj.trtedt, end_window=end_window, initial_intensity=initial, intensity=worst, worsening=True, trt_end_given=end_window is not None),
        source="text", mentions=mentions,
    )
    if protocol is not None:
        from ...protocol import apply_protocol

        verdict = apply_protocol(protocol, {"ctcae_term": term, "soc": soc, "grade": worst, "serious": ep.serious})
        ep.dlt, ep.protocol_action = verdict["dlt"], verdict["action"]
    return ep


def episodes_from_ae_rows(
    rows: Sequence[AeRow], subjects: Dict[str, Subject], *, end_window: Optional[int] = None, use_table_flag: bool = True
) -> List[Episode]:
    """One episode per AE table row (SDTM AE / ADAE records are already
    episodes). TEAE: the table's own TRTEMFL when it has the column and
    ``use_table_flag``; else derived with :func:`.teae.trtemfl` from the
    row's start / end and the subject's TRTSDT / TRTEDT (no worsening: the
    table gives no initial grade)."""
    out = []
    counters: Dict[Tuple[str, str], int] = {}
    for r in rows:
        subj = subjects[r.usubjid]
        key = (r.usubjid, r.term)
        counters[key] = counters.get(key, 0) + 1
        if r.has_trtemfl and use_table_flag:
            te = r.trtemfl
        else:
            te = trtemfl(r.start, r.end, subj.trtsdt, subj.trtedt, end_window=end_window, trt_end_given=end_window is not None)
        action = r.action if r.action not in (None, "NOT APPLICABLE", "UNKNOWN", "NOT EVALUABLE") else None
        out.append(
            Episode(
                episode_id=f"{r.usubjid}/{r.term}/edc{counters[key]}", usubjid=r.usubjid, arm=subj.arm, term=r.term,
                soc=r.soc, meddra_code=None, onset=r.start, onset_day=date_to_study_day(subj.trtsdt, r.start), end=r.end,
                end_day=date_to_study_day(subj.trtsdt, r.end), worst_grade=r.grade, initial_grade=None,
                serious=bool(r.serious), seriousness_criteria=[], related=bool(r.related), drugs=[], action_taken=action,
                outcome=r.outcome, fatal=bool(r.fatal), speculated=False, dlt=None, protocol_action=None, teae=te,
                source="edc", edc_where=[r.where],
            )
        )
    return out


def episode_row(ep: Episode) -> Dict[str, Any]:
    yn = lambda v: "" if v is None else ("Y" if v else "N")  # noqa: E731
    return {
        "episode_id": ep.episode_id, "usubjid": ep.usubjid, "arm": ep.arm, "soc": ep.soc, "term": ep.term,
        "onset": ep.onset.isoformat() if ep.onset else "", "onset_day": "" if ep.onset_day is None else ep.onset_day,
        "end": ep.end.isoformat() if ep.end else "", "end_day": "" if ep.end_day is None else ep.end_day,
        "n_mentions": len(ep.mentions) if ep.source == "text" else len(ep.edc_where),
        "worst_grade": "" if ep.worst_grade is None else ep.worst_grade,
        "initial_grade": "" if ep.initial_grade is None else ep.initial_grade, "serious": yn(ep.serious),
        "seriousness_criteria": "; ".join(ep.seriousness_criteria), "related": yn(ep.related), "drugs": "; ".join(ep.drugs),
        "action_taken": ep.action_taken or "", "outcome": ep.outcome or "", "speculated": yn(ep.speculated),
        "dlt": yn(ep.dlt), "protocol_action": ep.protocol_action or "", "teae": "Y" if ep.teae == "Y" else "N",
        "source": ep.source, "documents": "; ".join(ep.documents) if ep.source == "text" else "; ".join(ep.edc_where),
    }


def mention_row(m: MentionRef, usubjid: str) -> Dict[str, Any]:
    yn = lambda v: "Y" if v else "N"  # noqa: E731
    return {
        "doc_id": m.doc_id, "ae_index": m.ae_index, "usubjid": usubjid,
        "visit_date": m.visit_date.isoformat() if m.visit_date else "", "study_day": "" if m.study_day is None else m.study_day,
        "text": m.text, "start_char": m.start_char, "end_char": m.end_char, "term": m.term or "",
        "grade": "" if m.grade is None else m.grade, "negated": yn(m.negated), "speculated": yn(m.speculated),
        "historical": yn(m.historical), "serious": yn(m.serious), "action_taken": m.action_taken or "",
        "outcome": m.outcome or "", "episode_id": m.episode_id, "disposition": m.disposition, "sentence": m.sentence,
    }
