"""The course of an adverse event as the text states it: the action taken
with study treatment (CDISC AEACN), the outcome (CDISC AEOUT) and the
relatedness to study treatment (a level: related / possibly related /
unlikely related / not related; the SDTM export maps it to the sponsor's AEREL
codelist, ``resources/sdtm_ct.yml``).

Rules: ``resources/ae_course.yml`` (``ct.read_ae_course.v1``), compiled by
:class:`CourseRules`. For one AE mention each attribute is looked for, in
order, in the mention's clause, its sentence, then the next sentences of the
document (up to ``max_following``) that mention no other AE; within one
region the first entry of the table whose pattern matches wins. A negated
mention gets none. Each value comes with its evidence: the matched text and
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
        self.rules = {attr: [(e["value"], _compile(e["patterns"])) for e in data[key]] for attr, key in ATTRIBUTES.items()}
        self.action_rank = {v: i for i, v in enumerate(data["action_rank"])}
        self.source = data.get("source", "")

    def first(self, attr: str, text: str, start: int, end: int) -> Optional[Dict[str, Any]]:
        """The first rule value of ``attr`` matching ``text[start:end]``, with its evidence."""
        for value, rx in self.rules[attr]:
            m = rx.search(text, start, end)
            if m:
                return {"value": value, "text": m.group(0), "start_char": m.start(), "end_char": m.end()}
        return None

    def assess(
        self, text: str, mention: Offsets, sentences: Sequence[Offsets], mention_starts: Sequence[int]
    ) -> Dict[str, Optional[Dict[str, Any]]]:
        """attr -> {value, text, start_char, end_char} or None for the mention at
        ``mention`` (start, end). ``sentences``: the document's sentences;
        ``mention_starts``: the starts of the document's asserted AE mentions
        (a following sentence holding one belongs to that AE)."""
        start = mention[0]
        si = next((i for i, (a, b) in enumerate(sentences) if a <= start < b), None)
        sent = sentences[si] if si is not None else (0, len(text))
        clause = next((c for c in clause_spans(text, *sent) if c[0] <= start < c[1]), sent)
        regions: List[Offsets] = [clause, sent]
        if si is not None:
            for a, b in sentences[si + 1 : si + 1 + self.max_following]:
                if any(a <= s < b for s in mention_starts):
                    break
                regions.append((a, b))
        out: Dict[str, Optional[Dict[str, Any]]] = {}
        for attr in ATTRIBUTES:
            out[attr] = None
            for a, b in regions:
                found = self.first(attr, text, a, b)
                if found is not None:
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


def _compile(patterns: Sequence[str]) -> "re.Pattern":
    joined = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(rf"(?<![\w-])(?:{joined})(?![\w-])", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def default_course_rules() -> CourseRules:
    """The shipped course rules (``resources/ae_course.yml``), read once."""
    from .rules.course import read_ae_course
    from .rules.io import resource_path

    return CourseRules(read_ae_course(str(resource_path("ae_course.yml"))))
