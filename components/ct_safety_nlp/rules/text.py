"""Schemas and readers of the text rules (``resources/text.yml``,
``ct.read_text_rules.v1``) and the drug vocabulary (``resources/drugs.yml``,
``ct.read_drug_vocabulary.v1``). Compiled by :class:`ct_safety_nlp.text.TextRules`
and :class:`ct_safety_nlp.text.DrugVocabulary`."""

from __future__ import annotations

import re
from typing import Any, Dict

from spacy.util import registry

NEGATION_USES = ("core", "seriousness", "severity", "outcome", "intervention", "faithfulness")


def _text_schema():
    from .io import Dict_, Int, List_, Map, Str, Tuple_

    return Map(
        {
            "schema_version": Int(min=1, max=1),
            "name": Str(),
            "source": Str(),
            "spelling_folds": List_(Tuple_(Str(), Str(empty=True)), min_len=0),
            "ised_min_length": Int(min=1),
            "plural_min_length": Int(min=1),
            "plural_keep_endings": List_(Str(), unique=True),
            "sentence_abbreviations": List_(Str(), unique=True),
            "negation": Map({use: List_(Str(), unique=True) for use in NEGATION_USES}, required=("core",)),
        },
        required=("schema_version", "spelling_folds", "plural_keep_endings", "sentence_abbreviations", "negation"),
    )


@registry.misc("ct.read_text_rules.v1")
def read_text_rules(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_text_rules.v1``: the text rules table at ``path``
    (YAML/JSON, schema in ``resources/text.yml``), checked; errors name FILE:LINE."""
    from .io import read_table

    return read_table(path, _text_schema(), kind="text rules")


def _drug_schema():
    from .io import Dict_, Int, List_, Map, Str

    return Map(
        {
            "schema_version": Int(min=1, max=1),
            "name": Str(),
            "source": Str(),
            "inn_stems": List_(Str(), min_len=1, unique=True),
            "min_extra": Int(min=0),
            "not_drugs": List_(Str(), unique=True),
            "words": List_(Str(), unique=True),
            "study_drug_pattern": Str(regex=True, flags=re.I),
            "product_code_pattern": Str(regex=True),
            "not_product_codes": List_(Str(), unique=True),
            "regimen_acronyms": Dict_(List_(Str(), min_len=1, unique=True)),
        },
        required=("schema_version", "inn_stems", "words"),
    )


@registry.misc("ct.read_drug_vocabulary.v1")
def read_drug_vocabulary(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_drug_vocabulary.v1``: the drug-name vocabulary at ``path``
    (schema in ``resources/drugs.yml``); errors name FILE:LINE."""
    from .io import read_table

    return read_table(path, _drug_schema(), kind="drug vocabulary")
