"""The course of an adverse event as the text states it: the action taken
with study treatment (CDISC AEACN), the outcome (CDISC AEOUT) and the
relatedness to study treatment (a level: related / possibly related /
unlikely related / not related; the SDTM export maps it to the sponsor's AEREL
codelist, ``resources/sdtm_ct.yml``).

Rules: ``resources/ae_course.yml`` (``ct.read_ae_course.v1``), compiled by
:class:`CourseRules`. For one AE mention each attribute is looked for, in
order, in the mention's clause, its sentence, the next sentences of the
document (up to ``max_following``) that mention no AE, then (with
``document_statements``) any other sentence of the document that mentions no
AE ("Related to capecitabine." after the course of a single event; "Proceed
with C4 at full dose." in a visit note's plan). Within one region the table's
``pick`` decides: the first listed entry that matches, or the leftmost match.
The reasoner then gives a mention whose value came only from a document-wide
statement (or none) the value stated nearer another mention of the same CTCAE
term (:func:`ct_safety_nlp.reasoner.events.add_course`). A negated mention
gets none. Each value comes with its evidence: the matched text and
its character offsets in the document.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .rules import course as _reader  # noqa: F401 - registers ct.read_ae_course.v1
from .rules.io import CompiledTable
from .text import clause_spans

__all__ = ["ATTRIBUTES", "CourseRules", "default_course_rules"]

#: attribute name of the AE record -> key of the rule table
ATTRIBUTES = {"action_taken": "action_taken", "outcome": "outcome", "relatedness": "relatedness"}

Offsets = Tuple[int, int]


class CourseRules(CompiledTable):
    """Action-taken, outcome and relatedness cues, compiled. Pickles by its data."""

    def __init__(self, data: Dict[str, Any]):
        if not isinstance(data, dict) or "action_taken" not in data:
            raise ValueError("CourseRules needs the dict read by ct.read_ae_course.v1")
        self.data = data
        self.max_following = int(data.get("max_following", 0))
        self.document_statements = bool(data.get("document_statements", False))
        self.pick = {attr: (data.get("pick") or {}).get(key, "first_listed") for attr, key in ATTRIBUTES.items()}
        self.rules = {attr: [(e["value"], _compile(e["patterns"])) for e in data[key]] for attr, key in ATTRIBUTES.items()}
        # all of an attribute's patterns in one: a region it does not match states no value (one search, not one per entry)
        self.any_rule = {attr: _compile([p for e in data[key] for p in e["patterns"]]) for attr, key in ATTRIBUTES.items()}
        self.action_rank = {v: i for i, v in enumerate(data["action_rank"])}
        self.source = data.get("source", "")

    def first(self, attr: str, text: str, start: int, end: int, skip: Optional[Offsets] = None) -> Optional[Dict[str, Any]]:
        """The value of ``attr`` stated in ``text[start:end]``, with its evidence:
        the first listed entry that matches (``pick: first_listed``) or the
        leftmost match, ties to the first listed (``pick: leftmost``). A match
        overlapping ``skip`` (the AE's own words: "infusion related reaction") does not count."""
        if self.any_rule[attr].search(text, start, end) is None:
            return None
        best = None
        for rank, (value, rx) in enumerate(self.rules[attr]):
            m = _search(rx, text, start, end, skip)
            if not m:
                continue
            if self.pick[attr] == "first_listed":
                best = (m.start(), rank, value, m)
                break
            if best is None or (m.start(), rank) < best[:2]:
                best = (m.start(), rank, value, m)
        if best is None:
            return None
        m = best[3]
        return {"value": best[2], "text": m.group(0), "start_char": m.start(), "end_char": m.end()}

    def assess(
        self, text: str, mention: Offsets, sentences: Sequence[Offsets], mention_starts: Sequence[int],
        memo: Optional[Dict[Any, Any]] = None,
    ) -> Dict[str, Optional[Dict[str, Any]]]:
        """attr -> {value, text, start_char, end_char, where} or None for the
        mention at ``mention`` (start, end). ``sentences``: the document's
        sentences; ``mention_starts``: the starts of the document's other
        asserted AE mentions. ``where`` says which region stated it: clause,
        sentence, following (a next sentence without an AE mention) or
        document (a sentence without an AE mention elsewhere in the document,
        after the mention first, then before it, nearest first; only with
        ``document_statements``). ``memo``: a dict shared by the calls for one
        document (:func:`reasoner.events.add_course` passes one), keeping what
        a sentence without the mention states, so that the cost per mention
        does not grow with the document's length."""
        start = mention[0]
        si = next((i for i, (a, b) in enumerate(sentences) if a <= start < b), None)
        sent = sentences[si] if si is not None else (0, len(text))
        clause = next((c for c in clause_spans(text, *sent) if c[0] <= start < c[1]), sent)
        regions: List[Tuple[str, Offsets]] = [("clause", clause), ("sentence", sent)]
        if si is not None:
            orphan = _orphans(sentences, list(mention_starts) + [start])
            for j in range(si + 1, min(len(sentences), si + 1 + self.max_following)):
                if not orphan[j]:
                    break
                regions.append(("following", sentences[j]))
            if self.document_statements:
                seen = {r for _, r in regions}
                order = list(range(si + 1, len(sentences))) + list(range(si - 1, -1, -1))
                regions += [("document", sentences[j]) for j in order if orphan[j] and sentences[j] not in seen]
        out: Dict[str, Optional[Dict[str, Any]]] = {}
        for attr in ATTRIBUTES:
            out[attr] = None
            for where, (a, b) in regions:
                if where in ("following", "document") and memo is not None:  # the mention is not in there: no skip
                    key = (attr, a, b)
                    if key not in memo:
                        memo[key] = self.first(attr, text, a, b)
                    found = dict(memo[key]) if memo[key] is not None else None
                else:
                    found = self.first(attr, text, a, b, skip=mention)
                if found is not None:
                    found["where"] = where
                    out[attr] = found
                    break
        return out

    def more_far_reaching(self, a: Optional[str], b: Optional[str]) -> Optional[str]:
        """The more far-reaching of two AEACN values (``action_rank``)."""
        if a is None:
            return b
        if b is None:
            return a
        big = len(self.action_rank)
        return a if self.action_rank.get(a, big) <= self.action_rank.get(b, big) else b


def _orphans(sentences: Sequence[Offsets], starts: Sequence[int]) -> List[bool]:
    """For each sentence (in text order), whether none of ``starts`` falls in it."""
    import bisect

    begins = [a for a, _ in sentences]
    orphan = [True] * len(sentences)
    for s in starts:
        i = bisect.bisect_right(begins, s) - 1
        if i >= 0 and s < sentences[i][1]:
            orphan[i] = False
    return orphan


def _search(rx: "re.Pattern", text: str, start: int, end: int, skip: Optional[Offsets]) -> Optional["re.Match"]:
    """The first match of ``rx`` in text[start:end] not overlapping ``skip``."""
    pos = start
    while pos <= end:
        m = rx.search(text, pos, end)
        if m is None or skip is None or m.end() <= skip[0] or m.start() >= skip[1]:
            return m
        pos = max(m.start() + 1, skip[1]) if m.start() < skip[1] else m.start() + 1
    return None


def _compile(patterns: Sequence[str]) -> "re.Pattern":
    joined = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(rf"(?<![\w-])(?:{joined})(?![\w-])", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def default_course_rules() -> CourseRules:
    """The shipped course rules (``resources/ae_course.yml``), read once."""
    from .rules.course import read_ae_course
    from .rules.io import resource_path

    return CourseRules(read_ae_course(str(resource_path("ae_course.yml"))))
