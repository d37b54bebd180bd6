"""The CTCAE knowledge base: the NCI workbook compiled into a table
(:mod:`.workbook`, ``ct.read_ctcae.v1``), curated synonyms (:mod:`.synonyms`,
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
from .workbook import CTCAE_VERSION, file_sha256, read_ctcae_table, read_ctcae_workbook

__all__ = [
    "CTCAE_VERSION",
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
    "read_ctcae_table",
    "read_ctcae_workbook",
    "read_synonyms",
    "read_synonyms_table",
    "validate_synonyms",
]
