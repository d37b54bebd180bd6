"""Schema and reader of the AE course rules (``resources/ae_course.yml``):
``ct.read_ae_course.v1``. Compiled by :class:`ct_safety_nlp.course.CourseRules`."""

from __future__ import annotations

from typing import Any, Dict

from spacy.util import registry

from .io import Bool, Int, List_, Map, Str, find_node, read_table

_RX = Str(regex=True, flags=2)
_ENTRIES = List_(Map({"value": Str(), "patterns": List_(_RX, min_len=1)}, required=("value", "patterns")), min_len=1)
SCHEMA = Map(
    {
        "schema_version": Int(min=1, max=1),
        "name": Str(),
        "source": Str(),
        "max_following": Int(min=0, max=10),
        "document_statements": Bool(),
        "pick": Map({k: Str(choices=("first_listed", "leftmost")) for k in ("action_taken", "outcome", "relatedness")}),
        "action_taken": _ENTRIES,
        "action_rank": List_(Str(), unique=True, min_len=1),
        "outcome": _ENTRIES,
        "relatedness": _ENTRIES,
    },
    required=("schema_version", "max_following", "action_taken", "action_rank", "outcome", "relatedness"),
)


def _check(data: Dict[str, Any], root, fail) -> None:
    ranked = set(data["action_rank"])
    for i, entry in enumerate(data["action_taken"]):
        if entry["value"] not in ranked:
            fail(find_node(root, "action_taken", i, "value"), f"action_taken[{i}]: {entry['value']!r} is not in action_rank")
    for key in ("action_taken", "outcome", "relatedness"):
        seen = set()
        for i, entry in enumerate(data[key]):
            if entry["value"] in seen:
                fail(find_node(root, key, i, "value"), f"{key}[{i}]: value {entry['value']!r} is listed twice")
            seen.add(entry["value"])


@registry.misc("ct.read_ae_course.v1")
def read_ae_course(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_ae_course.v1``: action-taken, outcome and relatedness cues at ``path``."""
    return read_table(path, SCHEMA, kind="AE course rules", check=_check)
