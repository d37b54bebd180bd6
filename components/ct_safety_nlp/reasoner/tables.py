"""The knowledge a ``ct_reasoner`` carries, as one bundle of compiled tables.

:class:`ReasonerTables` holds the CTCAE knowledge base and every rule table
the reasoner reads: text rules (folds, negation words), drug vocabulary,
lab thresholds, grading words, context rules, seriousness rules, regimen
rules and the optional protocol. Each table is saved as its own file of the
component's folder (:data:`TABLE_FILES`), so ``exclude`` can leave one out and
a reader can inspect them; a loaded pipeline reads only these files, never
the library's shipped defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional

import srsly

from ..context import ContextMatcher
from ..course import CourseRules
from ..grading import GradingRules, LabRules
from ..kb import CtcaeKB, SentenceEncoder
from ..regimens import RegimenRules
from ..seriousness import SeriousnessRules
from ..text import DrugVocabulary, TextRules

__all__ = ["TABLE_FILES", "ReasonerTables"]

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
    "course_rules": "course_rules.json",
}


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
    course: Optional[CourseRules] = None

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
            "course_rules": self.course.to_dict() if self.course is not None else None,
        }

    @classmethod
    def from_data(cls, data: Dict[str, Any], *, encoder: Optional[SentenceEncoder], max_scope_words: int, where: str) -> "ReasonerTables":
        missing = [name for name in TABLE_FILES if name != "protocol" and data.get(name) is None]
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
            course=CourseRules(data["course_rules"]),
        )

    def to_disk(self, path: Path, exclude: Iterable[str] = ()) -> None:
        path.mkdir(parents=True, exist_ok=True)
        exclude = set(exclude)
        for name, value in self.to_data().items():
            if name in exclude:
                continue
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
