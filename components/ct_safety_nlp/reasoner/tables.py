"""The knowledge a ``ct_reasoner`` carries, as one bundle of compiled tables.

:class:`ReasonerTables` holds the CTCAE knowledge base and every rule table
the reasoner reads: text rules (folds, negation words), drug vocabulary,
lab thresholds, grading words, context rules, seriousness rules, regimen
rules and the optional protocol; with CTCAE v6.0 beside v5.0 also the v6.0
knowledge base, its lab thresholds and NCI's v5 -> v6 mapping
(:meth:`ReasonerTables.for_version` gives the view a ``ctcae_version`` grades
with). Each table is saved as its own file of the
component's folder (:data:`TABLE_FILES`), so ``exclude`` can leave one out and
a reader can inspect them; a loaded pipeline reads only these files, never
the library's shipped defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional

import srsly

from ..context import ContextMatcher
from ..course import CourseRules
from ..grading import GradingRules, LabRules
from ..kb import CtcaeKB, SentenceEncoder
from ..regimens import RegimenRules
from ..sdtm.terminology import HeadNouns
from ..seriousness import SeriousnessRules
from ..text import DrugVocabulary, TextRules

__all__ = ["OPTIONAL_TABLES", "TABLE_FILES", "ReasonerTables"]

#: table name -> file in the component's folder (``exclude`` takes these names)
TABLE_FILES = {
    "kb": "kb.json.gz",
    "text_rules": "text_rules.json",
    "drug_vocabulary": "drug_vocabulary.json",
    "lab_rules": "lab_rules.json",
    "grading_rules": "grading_rules.json",
    "context": "context.json",
    "seriousness_rules": "seriousness_rules.json",
    "regimen_rules": "regimen_rules.json",
    "protocol": "protocol.json",
    "kb_v6": "kb_v6.json.gz",
    "lab_rules_v6": "lab_rules_v6.json",
    "mapping": "ctcae_mapping.json.gz",
    "course_rules": "course_rules.json",
    "ae_head_nouns": "ae_head_nouns.json",
}
#: tables a saved reasoner may lack (a v5-only pipeline has no v6 tables)
OPTIONAL_TABLES = ("protocol", "kb_v6", "lab_rules_v6", "mapping")


@dataclass
class ReasonerTables:
    kb: CtcaeKB
    text_rules: TextRules
    drugs: DrugVocabulary
    lab_rules: LabRules
    grading_rules: GradingRules
    context: ContextMatcher
    seriousness: SeriousnessRules
    regimens: RegimenRules
    protocol: Optional[Dict[str, Any]] = None
    kb_v6: Optional[CtcaeKB] = None
    lab_rules_v6: Optional[LabRules] = None
    mapping: Optional[Dict[str, Any]] = None
    course: Optional[CourseRules] = None
    head_nouns: Optional[HeadNouns] = None
    version: str = "5.0"

    @property
    def versions(self) -> tuple:
        """The CTCAE versions these tables can grade with."""
        return ("5.0", "6.0") if self.kb_v6 is not None else ("5.0",)

    def for_version(self, version: str, where: str = "ct_reasoner") -> "ReasonerTables":
        """The tables that grade with CTCAE ``version`` ("5.0": these; "6.0": the v6
        knowledge base and lab table in place of v5's). ValueError when not compiled."""
        version = str(version)
        if version == "5.0":
            return self
        if version == "6.0":
            if self.kb_v6 is None or self.lab_rules_v6 is None:
                raise ValueError(
                    f"{where}: ctcae_version '6.0' but the pipeline has no CTCAE v6.0 tables: initialize ct_reasoner with "
                    "kb_v6 (ct.read_ctcae.v1, version 6.0, assets/ctcae/CTCAE_v6.0.xlsx) and mapping (ct.read_ctcae_mapping.v1)"
                )
            return replace(self, kb=self.kb_v6, lab_rules=self.lab_rules_v6, version="6.0")
        raise ValueError(f"{where}: unknown ctcae_version {version!r}; known: 5.0, 6.0")

    # ---- serialisation ---------------------------------------------------
    def to_data(self) -> Dict[str, Any]:
        """name -> JSON-safe data of each table (never loads a model)."""
        return {
            "kb": self.kb.to_dict(),
            "text_rules": self.text_rules.to_dict(),
            "drug_vocabulary": self.drugs.to_dict(),
            "lab_rules": self.lab_rules.to_dict(),
            "grading_rules": self.grading_rules.to_dict(),
            "context": self.context.to_dict(),
            "seriousness_rules": self.seriousness.to_dict(),
            "regimen_rules": self.regimens.to_dict(),
            "protocol": self.protocol,
            "kb_v6": self.kb_v6.to_dict() if self.kb_v6 is not None else None,
            "lab_rules_v6": self.lab_rules_v6.to_dict() if self.lab_rules_v6 is not None else None,
            "mapping": self.mapping,
            "course_rules": self.course.to_dict() if self.course is not None else None,
            "ae_head_nouns": self.head_nouns.to_dict() if self.head_nouns is not None else None,
        }

    @classmethod
    def from_data(cls, data: Dict[str, Any], *, encoder: Optional[SentenceEncoder], max_scope_words: int, where: str) -> "ReasonerTables":
        missing = [name for name in TABLE_FILES if name not in OPTIONAL_TABLES and data.get(name) is None]
        if missing:
            raise ValueError(f"{where}: the saved reasoner lacks its table(s) {missing} (files {[TABLE_FILES[m] for m in missing]})")
        text_rules = TextRules(data["text_rules"])
        context = dict(data["context"])
        return cls(
            kb=CtcaeKB.from_dict(data["kb"], encoder=encoder),
            text_rules=text_rules,
            drugs=DrugVocabulary(data["drug_vocabulary"]),
            lab_rules=LabRules(data["lab_rules"]),
            grading_rules=GradingRules(data["grading_rules"], text_rules),
            context=ContextMatcher(context["rules"], context["pseudo"], context["terminators"], max_scope_words),
            seriousness=SeriousnessRules(data["seriousness_rules"], text_rules),
            regimens=RegimenRules(data["regimen_rules"]),
            protocol=data.get("protocol"),
            kb_v6=CtcaeKB.from_dict(data["kb_v6"], encoder=encoder) if data.get("kb_v6") else None,
            lab_rules_v6=LabRules(data["lab_rules_v6"]) if data.get("lab_rules_v6") else None,
            mapping=data.get("mapping"),
            course=CourseRules(data["course_rules"]),
            head_nouns=HeadNouns(data["ae_head_nouns"]),
        )

    def to_disk(self, path: Path, exclude: Iterable[str] = ()) -> None:
        path.mkdir(parents=True, exist_ok=True)
        exclude = set(exclude)
        for name, value in self.to_data().items():
            if name in exclude:
                continue  # (a table a pipeline lacks is saved as null, like the protocol)
            target = path / TABLE_FILES[name]
            if target.suffix == ".gz":
                srsly.write_gzip_json(target, value)
            else:
                srsly.write_json(target, value)

    @staticmethod
    def read_disk(path: Path, exclude: Iterable[str] = ()) -> Dict[str, Any]:
        """name -> data of each saved table file present (and not excluded)."""
        exclude = set(exclude)
        data: Dict[str, Any] = {}
        for name, filename in TABLE_FILES.items():
            target = path / filename
            if name in exclude or not target.exists():
                continue
            data[name] = srsly.read_gzip_json(target) if target.suffix == ".gz" else srsly.read_json(target)
        return data


def shipped(reader: str, filename: str) -> Callable[[], Dict[str, Any]]:
    """A loader of one of the library's shipped tables through its registered reader."""

    def load() -> Dict[str, Any]:
        from spacy.util import registry

        from ..rules.io import resource_path

        return registry.misc.get(reader)(str(resource_path(filename)))

    return load
