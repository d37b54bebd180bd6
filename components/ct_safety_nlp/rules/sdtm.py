"""Schemas and readers of the SDTM AE tables: the controlled terminology
(``resources/sdtm_ct.yml``, ``ct.read_sdtm_ct.v1``) and the AE head nouns
(``resources/ae_head_nouns.yml``, ``ct.read_ae_head_nouns.v1``). Used by
:mod:`ct_safety_nlp.sdtm`."""

from __future__ import annotations

from typing import Any, Dict

from spacy.util import registry

from .io import Dict_, Int, List_, Map, Str, find_node, read_table

_VAR = Str(pattern=r"^[A-Z][A-Z0-9]{1,7}$")
CT_SCHEMA = Map(
    {
        "schema_version": Int(min=1, max=1),
        "name": Str(),
        "source": Str(),
        "codelists": Dict_(List_(Str(), min_len=1, unique=True), key=_VAR, min_len=1),
        "relatedness_map": Dict_(Str()),
        "required": List_(_VAR, min_len=1, unique=True),
        "seriousness_flags": List_(_VAR, unique=True),
        "criteria_flags": Dict_(_VAR),
        "date_variables": List_(_VAR, unique=True),
    },
    required=("schema_version", "codelists", "relatedness_map", "required", "seriousness_flags", "criteria_flags", "date_variables"),
)


def _check_ct(data: Dict[str, Any], root, fail) -> None:
    codelists = data["codelists"]
    for name in ("AESER", "AEREL", "AEACN", "AEOUT"):
        if name not in codelists:
            fail(find_node(root, "codelists"), f"codelists: {name} is missing")
    for level, value in data["relatedness_map"].items():
        if value not in codelists["AEREL"]:
            fail(find_node(root, "relatedness_map", level), f"relatedness_map.{level}: {value!r} is not in codelists.AEREL")
    for i, flag in enumerate(data["seriousness_flags"]):
        if flag not in codelists:
            fail(find_node(root, "seriousness_flags", i), f"seriousness_flags[{i}]: {flag} has no codelist")
    for crit, flag in data["criteria_flags"].items():
        if flag not in data["seriousness_flags"]:
            fail(find_node(root, "criteria_flags", crit), f"criteria_flags.{crit}: {flag} is not in seriousness_flags")


@registry.misc("ct.read_sdtm_ct.v1")
def read_sdtm_ct(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_sdtm_ct.v1``: the AE domain's codelists and required variables at ``path``."""
    return read_table(path, CT_SCHEMA, kind="SDTM controlled terminology", check=_check_ct)


HEAD_SCHEMA = Map(
    {
        "schema_version": Int(min=1, max=1),
        "name": Str(),
        "source": Str(),
        "head_nouns": List_(Str(pattern=r"^[a-z][a-z -]*$"), min_len=1, unique=True, ignore_case=True),
        "generic_words": List_(Str(pattern=r"^[a-z][a-z0-9-]*$"), unique=True, ignore_case=True),
        "treatment_words": List_(Str(pattern=r"^[a-z][a-z0-9-]*$"), unique=True, ignore_case=True),
        "procedure_words": List_(Str(pattern=r"^[a-z][a-z0-9-]*$"), unique=True, ignore_case=True),
        "nonspecific_words": List_(Str(pattern=r"^[a-z][a-z0-9-]*$"), unique=True, ignore_case=True),
    },
    required=("schema_version", "head_nouns"),
)


@registry.misc("ct.read_ae_head_nouns.v1")
def read_ae_head_nouns(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_ae_head_nouns.v1``: the words that make a term-less AE candidate an AE at ``path``."""
    return read_table(path, HEAD_SCHEMA, kind="AE head nouns")
