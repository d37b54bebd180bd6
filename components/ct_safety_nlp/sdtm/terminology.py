"""The SDTM AE controlled terminology and the AE head nouns, compiled from
their tables (``ct.read_sdtm_ct.v1``, ``ct.read_ae_head_nouns.v1``)."""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, List, Optional, Sequence

from ..rules import sdtm as _readers  # noqa: F401 - registers the readers
from ..rules.io import CompiledTable

__all__ = ["GENERIC_PHRASE", "NONSPECIFIC", "NO_HEAD_NOUN", "PROCEDURE", "TREATMENT", "AeTerminology", "HeadNouns", "default_head_nouns", "default_terminology"]


class AeTerminology(CompiledTable):
    """Codelists (variable -> allowed values), the relatedness -> AEREL map,
    the required variables and the seriousness flags."""

    def __init__(self, data: Dict[str, Any], aerel: Optional[Sequence[str]] = None):
        if not isinstance(data, dict) or "codelists" not in data:
            raise ValueError("AeTerminology needs the dict read by ct.read_sdtm_ct.v1")
        self.data = data
        self.codelists: Dict[str, List[str]] = {k: list(v) for k, v in data["codelists"].items()}
        if aerel is not None:
            self.codelists["AEREL"] = list(aerel)
        self.relatedness_map: Dict[str, str] = dict(data["relatedness_map"])
        self.required: List[str] = list(data["required"])
        self.seriousness_flags: List[str] = list(data["seriousness_flags"])
        self.criteria_flags: Dict[str, str] = dict(data["criteria_flags"])
        self.date_variables: List[str] = list(data["date_variables"])

    def with_aerel(self, values: Sequence[str]) -> "AeTerminology":
        """The same terminology with the sponsor's AEREL codelist."""
        return AeTerminology(self.data, aerel=values)

    def aerel(self, level: Optional[str]) -> str:
        """The AEREL value of a relatedness level ('' when unknown or not in the codelist)."""
        if not level:
            return ""
        value = self.relatedness_map.get(str(level).strip().lower(), "")
        return value if value in self.codelists["AEREL"] else ""

    def valid(self, variable: str, value: str) -> bool:
        return variable not in self.codelists or value == "" or value in self.codelists[variable]


#: why a term-less candidate is not an AE (:meth:`HeadNouns.not_an_event`)
NO_HEAD_NOUN = "not an adverse event: no CTCAE term and no AE head noun (resources/ae_head_nouns.yml)"
GENERIC_PHRASE = "not an adverse event: a generic phrase that names no event (generic_words, resources/ae_head_nouns.yml)"
TREATMENT = "not an adverse event: names a treatment (treatment_words, resources/ae_head_nouns.yml)"
NONSPECIFIC = "not an adverse event: a finding its own words call nonspecific (nonspecific_words, resources/ae_head_nouns.yml)"
PROCEDURE = "not an adverse event: names a diagnostic test or imaging study (procedure_words, resources/ae_head_nouns.yml)"


class HeadNouns(CompiledTable):
    """Whole-word, case-insensitive matcher of the AE head nouns (plural too),
    and the generic words that name no event."""

    def __init__(self, data: Dict[str, Any]):
        self.data = data
        words = sorted({w.lower() for w in data["head_nouns"]}, key=len, reverse=True)
        self.rx = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in words) + r")(?:e?s)?(?![\w-])", re.IGNORECASE)
        self.generic = frozenset(w.lower() for w in data.get("generic_words") or ())
        self.treatments = frozenset(w.lower() for w in data.get("treatment_words") or ())
        self.procedures = frozenset(w.lower() for w in data.get("procedure_words") or ())
        self.nonspecific = frozenset(w.lower() for w in data.get("nonspecific_words") or ())

    def find(self, text: str) -> Optional[str]:
        m = self.rx.search(text or "")
        return m.group(0) if m else None

    @staticmethod
    def _words(text: str) -> List[str]:
        return re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", (text or "").lower())

    def is_generic(self, text: str) -> bool:
        """Every word of ``text`` is a generic word or a number ("Adverse reactions",
        "side effects", "grade 3 toxicities")."""
        words = self._words(text)
        return bool(words) and bool(self.generic) and all(w in self.generic or w.isdigit() for w in words)

    def not_an_event(self, text: str, *, require_head_noun: bool = True) -> Optional[str]:
        """Why a candidate with no CTCAE term is not an AE (None: it is one): a
        generic phrase; a treatment (no head noun, a treatment word last); a
        diagnostic test or imaging study (no head noun, a procedure word first); a
        finding its own words call nonspecific (a nonspecific word anywhere); with
        ``require_head_noun`` (the SDTM export), any text without a head noun."""
        if self.is_generic(text):
            return GENERIC_PHRASE
        words = self._words(text)
        if not self.nonspecific.isdisjoint(words):
            return NONSPECIFIC
        if self.find(text) is None:
            if words and words[-1] in self.treatments:
                return TREATMENT
            if words and words[0] in self.procedures:
                return PROCEDURE
            if require_head_noun:
                return NO_HEAD_NOUN
        return None


@functools.lru_cache(maxsize=1)
def default_terminology() -> AeTerminology:
    """The shipped codelists (``resources/sdtm_ct.yml``)."""
    from ..rules.io import resource_path
    from ..rules.sdtm import read_sdtm_ct

    return AeTerminology(read_sdtm_ct(str(resource_path("sdtm_ct.yml"))))


@functools.lru_cache(maxsize=1)
def default_head_nouns() -> HeadNouns:
    """The shipped AE head nouns (``resources/ae_head_nouns.yml``)."""
    from ..rules.io import resource_path
    from ..rules.sdtm import read_ae_head_nouns

    return HeadNouns(read_ae_head_nouns(str(resource_path("ae_head_nouns.yml"))))
