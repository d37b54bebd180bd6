"""Schema and reader of the grading rules (``resources/grading.yml``):
``ct.read_grading_rules.v1``. Compiled by :class:`ct_safety_nlp.grading.rules.GradingRules`."""

from __future__ import annotations

from typing import Any, Dict

from spacy.util import registry

from .io import Dict_, Int, List_, Map, Nullable, Str, Tuple_, read_table

_RX = Str(regex=True)
SCHEMA = Map(
    {
        "schema_version": Int(min=1, max=1),
        "name": Str(),
        "source": Str(),
        "explicit": Map({"tumour_before": _RX, "tumour_after": _RX, "gshort_before": _RX, "gshort_after": _RX},
                        required=("tumour_before", "tumour_after", "gshort_before", "gshort_after")),
        "outcome": Map({"death": _RX, "near_fatal": _RX, "life_threatening": _RX, "hedges": List_(_RX, unique=True)},
                       required=("death", "near_fatal", "life_threatening", "hedges")),
        "severity_words": Dict_(Int(min=1, max=5), min_len=1),
        "interventions": List_(Tuple_(Str(regex=True, flags=2), Str(regex=True, flags=2))),
        "criteria_words": Dict_(Str(regex=True, flags=2)),
        "criteria": List_(Tuple_(Str(), Str(regex=True, flags=2), Str(regex=True, flags=2))),
        "counted_criteria": List_(
            Map(
                {"name": Str(), "value": Nullable(Str(regex=True, flags=2)), "count": Nullable(Str(regex=True, flags=2)),
                 "baseline": Nullable(Str(regex=True, flags=2)), "band_unit": Str(regex=True, flags=2)},
                required=("name", "band_unit"),
            )
        ),
        "windows": Map({"coordinator": _RX, "group_noun": _RX, "distributive": _RX}, required=("coordinator", "group_noun", "distributive")),
    },
    required=("schema_version", "explicit", "outcome", "severity_words", "interventions", "windows"),
)


@registry.misc("ct.read_grading_rules.v1")
def read_grading_rules(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_grading_rules.v1``: the grading words and patterns at ``path``."""
    return read_table(path, SCHEMA, kind="grading rules")
