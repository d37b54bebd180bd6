"""Schema and reader of the regimen rules (``resources/regimens.yml``):
``ct.read_regimen_rules.v1``. Compiled by :class:`ct_safety_nlp.regimens.RegimenRules`."""

from __future__ import annotations

from typing import Any, Dict

from spacy.util import registry

from .io import Bool, Dict_, Int, List_, Map, Nullable, Str, Tuple_, read_table

_RX = Str(regex=True, flags=2)
SCHEMA = Map(
    {
        "schema_version": Int(min=1, max=1),
        "name": Str(),
        "source": Str(),
        "routes": List_(Tuple_(_RX, Str()), min_len=1),
        "case_sensitive_routes": List_(Str(), unique=True),
        "frequencies": List_(Tuple_(_RX, Nullable(Str())), min_len=1),
        "number_words": Dict_(Str()),
        "durations": _RX,
        "causal_after": _RX,
        "causal_hyphen": _RX,
        "not_causal_before": _RX,
        "lab_before_dose": _RX,
        "document_links": Map(
            {
                "sentences_after": Int(min=0, max=10),
                "attribution_before": _RX,
                "action_after_drug": _RX,
                "action_before_drug": _RX,
                "opening_treatment": Bool(),
            },
            required=("sentences_after", "attribution_before", "action_after_drug", "action_before_drug", "opening_treatment"),
        ),
    },
    required=("schema_version", "routes", "frequencies", "durations", "causal_after", "causal_hyphen", "not_causal_before", "lab_before_dose"),
)


@registry.misc("ct.read_regimen_rules.v1")
def read_regimen_rules(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_regimen_rules.v1``: routes, frequencies, durations and drug-link cues at ``path``."""
    return read_table(path, SCHEMA, kind="regimen rules")
