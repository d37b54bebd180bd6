"""The CTCAE knowledge base: the NCI workbook compiled into a table
(:mod:`.workbook`, ``ct.read_ctcae.v1``, v5.0 or v6.0), NCI's v5 -> v6 mapping
(:mod:`.mapping`, ``ct.read_ctcae_mapping.v1``), curated synonyms (:mod:`.synonyms`,
``ct.read_synonyms.v1``), matching rules (:mod:`.terms`, ``resources/terms.yml``),
the phrase index shared with the faithfulness check (:mod:`.matcher`), the
sentence encoder of the embedding fallback (:mod:`.encoder`,
``ct.minilm_encoder.v1``) and the normaliser (:class:`CtcaeKB`)."""

from .encoder import SentenceEncoder, minilm_encoder
from .matcher import PhraseIndex
from .normalizer import (
    DEFAULT_EMBEDDING_THRESHOLD,
    DEFAULT_FALLBACK,
    DEFAULT_FALLBACK_THRESHOLD,
    FALLBACK_MEASUREMENT,
    CtcaeKB,
    Mention,
    TermMatch,
)
from .synonyms import read_synonyms, read_synonyms_table, validate_synonyms
from .terms import TermRules, default_term_rules
from .workbook import CTCAE_VERSION, CTCAE_VERSIONS, file_sha256, read_ctcae_table, read_ctcae_workbook
from .mapping import CtcaeMapping, read_ctcae_mapping, read_ctcae_mapping_table, repoint_synonyms

__all__ = [
    "CTCAE_VERSION",
    "CTCAE_VERSIONS",
    "CtcaeMapping",
    "DEFAULT_EMBEDDING_THRESHOLD",
    "DEFAULT_FALLBACK",
    "DEFAULT_FALLBACK_THRESHOLD",
    "FALLBACK_MEASUREMENT",
    "CtcaeKB",
    "Mention",
    "PhraseIndex",
    "SentenceEncoder",
    "TermMatch",
    "TermRules",
    "default_term_rules",
    "file_sha256",
    "minilm_encoder",
    "read_ctcae_mapping",
    "read_ctcae_mapping_table",
    "read_ctcae_table",
    "read_ctcae_workbook",
    "read_synonyms",
    "read_synonyms_table",
    "repoint_synonyms",
    "validate_synonyms",
]
