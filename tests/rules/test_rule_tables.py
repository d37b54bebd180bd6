"""Every shipped rule table reads through its registered, versioned reader, and a
broken table is an error naming FILE:LINE and the problem."""

from pathlib import Path

import pytest
from spacy import registry

import ct_safety_nlp.kb  # noqa: F401 - registers the readers
import ct_safety_nlp.rules.course  # noqa: F401
import ct_safety_nlp.rules.sdtm  # noqa: F401
from ct_safety_nlp.rules.io import RuleFileError, resource_path

READERS = {
    "text.yml": "ct.read_text_rules.v1",
    "drugs.yml": "ct.read_drug_vocabulary.v1",
    "terms.yml": "ct.read_term_rules.v1",
    "lab_rules.yml": "ct.read_lab_rules.v1",
    "grading.yml": "ct.read_grading_rules.v1",
    "context_rules.yml": "ct.read_context_rules.v1",
    "seriousness.yml": "ct.read_seriousness_rules.v1",
    "regimens.yml": "ct.read_regimen_rules.v1",
    "ae_course.yml": "ct.read_ae_course.v1",
    "sdtm_ct.yml": "ct.read_sdtm_ct.v1",
    "ae_head_nouns.yml": "ct.read_ae_head_nouns.v1",
}


def test_every_shipped_table_has_a_reader():
    shipped = {p.name for p in Path(resource_path("")).glob("*.yml")}
    assert set(READERS) <= shipped
    for name, reader in READERS.items():
        data = registry.misc.get(reader)(str(resource_path(name)))
        assert data["schema_version"] == 1 and data.get("name")


# (table, text to replace, replacement, expected "LINE: problem" fragment)
BROKEN = [
    ("lab_rules.yml", 'op: "<", threshold: 1.5', 'op: "=<", threshold: 1.5', r"op must be one of"),
    ("lab_rules.yml", "grader: count}", "grader: counts}", r"grader must be one of"),
    ("lab_rules.yml", '"mmol/L": "mmol/L (Hb)"', '"mmol/L": "mmol/L (Hb)", "mmol/L": "x"', r"duplicate key 'mmol/L'"),
    ("context_rules.yml", '- ["denied", negated, forward]', '- ["denied", negated, sideways]', r"must be one of \['forward'"),
    ("grading.yml", "severe: 3,", "severe: 7,", r"severity_words.severe must be between 1 and 5"),
    ("seriousness.yml", "death: '(?<![\\w-])(?:died", "death: '(?<![\\w-])((?:died", r"not a valid regular expression"),
    ("regimens.yml", "schema_version: 1", "schema_version: 2", r"schema_version 2 is not supported \(this library reads 1\)"),
    ("text.yml", "plural_min_length: 5", "plural_min_length: five", r"plural_min_length must be an integer"),
    ("drugs.yml", "min_extra: 2", "min_extra: 2\nextra_key: 1", r"unknown key 'extra_key'"),
    ("terms.yml", "short_word_length: 4", "short_word_length: [4", r"not valid YAML"),
    ("ae_course.yml", "max_following: 2", "max_following: 20", r"max_following must be between 0 and 10"),
    ("ae_course.yml", "  - value: DOSE INCREASED", "  - value: DOSE DOUBLED", r"'DOSE DOUBLED' is not in action_rank"),
    ("sdtm_ct.yml", "  unlikely related: NOT RELATED", "  unlikely related: UNLIKELY", r"'UNLIKELY' is not in codelists.AEREL"),
    ("sdtm_ct.yml", "  death: AESDTH", "  death: AEDEATH", r"AEDEATH is not in seriousness_flags"),
    ("ae_head_nouns.yml", "head_nouns: [pain,", "head_nouns: [Pain!,", r"does not match"),
]


@pytest.mark.parametrize("name,old,new,problem", BROKEN)
def test_a_broken_table_names_file_line_and_problem(tmp_path, name, old, new, problem):
    text = resource_path(name).read_text(encoding="utf-8")
    assert old in text, (name, old)
    broken = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(broken, encoding="utf-8")
    line = broken[: broken.index(new)].count("\n") + 1
    with pytest.raises(RuleFileError) as err:
        registry.misc.get(READERS[name])(str(path))
    message = str(err.value)
    assert message.startswith(f"{path}:"), message
    reported = int(message.split(":")[1])
    assert abs(reported - line) <= 1, (message, line)  # YAML syntax errors point at the next token
    import re

    assert re.search(problem, message), message


def test_cross_references_are_checked(tmp_path):
    text = resource_path("lab_rules.yml").read_text(encoding="utf-8")
    path = tmp_path / "lab_rules.yml"
    path.write_text(text.replace("  calcium: {before:", "  calcum: {before:", 1), encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"exclusions: unknown analyte 'calcum'"):
        registry.misc.get("ct.read_lab_rules.v1")(str(path))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="rule table not found"):
        registry.misc.get("ct.read_lab_rules.v1")(str(tmp_path / "nope.yml"))
    (tmp_path / "empty.yml").write_text("", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"empty.yml:1: the file is empty"):
        registry.misc.get("ct.read_text_rules.v1")(str(tmp_path / "empty.yml"))
    (tmp_path / "tag.yml").write_text("schema_version: !!python/object:os.system 1\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"tag.yml:1: tag .* is not allowed"):
        registry.misc.get("ct.read_text_rules.v1")(str(tmp_path / "tag.yml"))
