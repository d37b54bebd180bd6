"""Tests of ct_safety_nlp.protocol: safe loading, schema errors with file and line, DLT and dose rules."""

import json
from pathlib import Path

import pytest
from spacy import registry

from ct_safety_nlp.protocol import ProtocolError, apply_protocol, load_protocol, validate_protocol

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RULES = REPO / "assets" / "protocol_rules.yml"

GOOD = """\
schema_version: 1
name: test rules
categories:
  heme:
    terms: [Neutrophil count decreased, Platelet count decreased]
dlt:
  - id: g4_heme
    when: {categories: [heme], min_grade: 4}
dose_modifications:
  - id: g5
    when: {min_grade: 5}
    action: stop
  - id: heme
    when: {categories: [heme], min_grade: 3}
    action: hold
"""


def _write(tmp_path, text, name="rules.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    return path


def test_default_rules_load_and_check_terms(ctcae_xlsx_path):
    from ct_safety_nlp.kb import read_ctcae_workbook

    terms = {t["term"] for t in read_ctcae_workbook(ctcae_xlsx_path)["terms"]}
    rules = load_protocol(DEFAULT_RULES, known_terms=terms)
    assert rules["schema_version"] == 1 and rules["dlt"] and rules["dose_modifications"]
    assert "phase I" in DEFAULT_RULES.read_text().splitlines()[3] or "PHASE I" in DEFAULT_RULES.read_text()


def test_registered_reader(tmp_path):
    path = _write(tmp_path, GOOD)
    reader = registry.misc.get("ct.read_protocol.v1")
    assert reader(str(path))["name"] == "test rules"


def test_json_file(tmp_path):
    import yaml

    path = _write(tmp_path, json.dumps(yaml.safe_load(GOOD), indent=2), "rules.json")
    assert load_protocol(path)["dose_modifications"][1]["action"] == "hold"


BAD = [
    # replacement applied to GOOD, expected line, expected words in the message
    (("schema_version: 1", "schema_version: 2"), 1, "schema_version 2 is not supported"),
    (("name: test rules\n", ""), 1, "missing required key 'name'"),
    (("    action: hold", "    action: pause"), 15, "'pause' is not one of"),
    (("{categories: [heme], min_grade: 4}", "{categories: [heme], min_grade: 7}"), 8, "grade 1-5"),
    (("{categories: [heme], min_grade: 4}", "{categories: [blood], min_grade: 4}"), 8, "unknown category 'blood'"),
    (("{categories: [heme], min_grade: 4}", "{categories: [heme], min_grade: four}"), 8, "must be an integer"),
    (("{categories: [heme], min_grade: 4}", "{categories: [heme], min_grad: 4}"), 8, "unknown key 'min_grad'"),
    (("{min_grade: 5}", "{min_grade: 5, max_grade: 4}"), 11, "above max_grade"),
    (("  - id: heme\n", "  - id: g5\n"), 13, "duplicate id 'g5'"),
    (("    action: stop\n", ""), 10, "missing required key 'action'"),
    (("    terms: [Neutrophil", "    terms: Neutrophil"), 5, "must be a list"),
    (("test rules", "[unclosed"), 3, "invalid YAML"),
    (("test rules", "!!python/object:os.system {}"), 2, "is not allowed"),
]


@pytest.mark.parametrize("replace,line,problem", BAD)
def test_errors_name_file_line_problem(tmp_path, replace, line, problem):
    old, new = replace
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert problem in message, message


def test_unknown_term_with_known_terms(tmp_path):
    path = _write(tmp_path, GOOD.replace("Platelet count decreased", "Platelets low"))
    with pytest.raises(ProtocolError, match=r"rules.yml:5: .*'Platelets low' is not a CTCAE v5.0 term"):
        load_protocol(path, known_terms={"Neutrophil count decreased", "Platelet count decreased"})


def test_json_syntax_error_has_line(tmp_path):
    path = _write(tmp_path, '{\n  "schema_version": 1,\n  "name": "x",\n}\n', "rules.json")
    with pytest.raises(ProtocolError, match=r"rules.json:4: invalid JSON"):
        load_protocol(path)


@pytest.mark.parametrize(
    "name,text,problem",
    [
        ("missing.yml", None, "not found"),
        ("rules.txt", "a: 1", "must end in"),
        ("empty.yml", "", "empty"),
        ("list.yml", "- 1\n- 2\n", "must be a mapping"),
    ],
)
def test_file_level_errors(tmp_path, name, text, problem):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(ProtocolError, match=problem):
        load_protocol(path)


def test_validate_protocol_inline():
    import yaml

    rules = validate_protocol(yaml.safe_load(GOOD))
    assert rules["categories"]["heme"]["terms"][0] == "Neutrophil count decreased"
    with pytest.raises(ProtocolError, match="inline"):
        validate_protocol({"schema_version": 1}, source="inline")


def _ae(term, grade, soc="Investigations", serious=False):
    return {"ctcae_term": term, "soc": soc, "grade": grade, "serious": serious}


DEFAULT_TABLE = [
    # term, soc, grade, dlt, action
    ("Neutrophil count decreased", "Investigations", 4, True, "hold"),
    ("Neutrophil count decreased", "Investigations", 3, False, "hold"),
    ("Neutrophil count decreased", "Investigations", 2, False, "continue"),
    ("Platelet count decreased", "Investigations", 4, True, "hold"),
    ("Platelet count decreased", "Investigations", 3, False, "hold"),
    ("Febrile neutropenia", "Blood and lymphatic system disorders", 3, True, "hold"),
    ("Diarrhea", "Gastrointestinal disorders", 3, False, "reduce_one_level"),
    ("Diarrhea", "Gastrointestinal disorders", 4, True, "stop"),
    ("Pneumonitis", "Respiratory, thoracic and mediastinal disorders", 3, True, "reduce_one_level"),
    ("Pneumonitis", "Respiratory, thoracic and mediastinal disorders", 2, False, "continue"),
    ("Pneumonitis", "Respiratory, thoracic and mediastinal disorders", 4, True, "stop"),
    ("Hyponatremia", "Metabolism and nutrition disorders", 3, False, "reduce_one_level"),
    ("Hyponatremia", "Metabolism and nutrition disorders", 4, True, "hold"),
    ("Nausea", "Gastrointestinal disorders", 5, True, "stop"),
    ("Nausea", "Gastrointestinal disorders", 1, False, "continue"),
    ("Nausea", "Gastrointestinal disorders", None, None, None),
]


@pytest.mark.parametrize("term,soc,grade,dlt,action", DEFAULT_TABLE)
def test_default_rules_table(term, soc, grade, dlt, action):
    rules = load_protocol(DEFAULT_RULES)
    verdict = apply_protocol(rules, _ae(term, grade, soc))
    assert (verdict["dlt"], verdict["action"]) == (dlt, action)
    if dlt:
        assert any("DLT rule" in line for line in verdict["evidence"])
    if action:
        assert any(f"-> {action}" in line for line in verdict["evidence"])


def test_serious_condition(tmp_path):
    text = GOOD + "  - id: sae\n    when: {serious: true}\n    action: hold\n"
    rules = load_protocol(_write(tmp_path, text))
    assert apply_protocol(rules, _ae("Nausea", 1, serious=True))["action"] == "hold"
    assert apply_protocol(rules, _ae("Nausea", 1, serious=False))["action"] is None
