"""Schema and reader of the seriousness rules (``resources/seriousness.yml``):
``ct.read_seriousness_rules.v1``. Compiled by
:class:`ct_safety_nlp.seriousness.SeriousnessRules`."""

from __future__ import annotations

from typing import Any, Dict

from spacy.util import registry

from .io import Int, List_, Map, Str, read_table

CRITERIA = ("death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "important_medical_event")
_RX = Str(regex=True, flags=2)

SCHEMA = Map(
    {
        "schema_version": Int(min=1, max=1),
        "name": Str(),
        "source": Str(),
        "cues": Map({c: _RX for c in CRITERIA}, required=CRITERIA),
        "planned_before": _RX,
        "planned_after": _RX,
        "ime_terms": List_(Str(), unique=True),
    },
    required=("schema_version", "cues", "planned_before", "planned_after", "ime_terms"),
)


@registry.misc("ct.read_seriousness_rules.v1")
def read_seriousness_rules(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_seriousness_rules.v1``: ICH E2A cues and the IME terms at ``path``."""
    return read_table(path, SCHEMA, kind="seriousness rules")
