"""The protocol file's DLT window and evaluability rule (schema_version 1, optional keys):
backward compatible (files without them load as before), checked with file and line."""

from pathlib import Path

import pytest

from ct_safety_nlp.protocol import ProtocolError, load_protocol, validate_protocol

REPO = Path(__file__).resolve().parents[2]

BASE = """\
schema_version: 1
name: window rules
dlt:
  - id: g4
    when: {min_grade: 4}
"""


def _write(tmp_path, text):
    path = tmp_path / "rules.yml"
    path.write_text(text, encoding="utf8")
    return path


def test_files_without_the_new_keys_load_unchanged(tmp_path):
    rules = load_protocol(_write(tmp_path, BASE))
    assert "dlt_window_days" not in rules and "evaluability" not in rules
    default = load_protocol(REPO / "assets" / "protocol_rules.yml")
    assert "dlt_window_days" not in default


def test_window_and_evaluability_with_defaults(tmp_path):
    rules = load_protocol(_write(tmp_path, BASE + "dlt_window_days: 21\nevaluability: {}\n"))
    assert rules["dlt_window_days"] == 21
    assert rules["evaluability"] == {"min_followup_days": 21, "dlt_always_evaluable": True}
    rules = load_protocol(_write(tmp_path, BASE + "dlt_window_days: 28\nevaluability:\n  min_followup_days: 21\n  dlt_always_evaluable: false\n"))
    assert rules["evaluability"] == {"min_followup_days": 21, "dlt_always_evaluable": False}
    assert validate_protocol(rules)["evaluability"] == rules["evaluability"]


def test_fixture_protocol_loads():
    rules = load_protocol(REPO / "tests" / "fixtures" / "escalation" / "dlt_notes" / "protocol.yml")
    assert rules["dlt_window_days"] == 28 and rules["evaluability"]["min_followup_days"] == 28


@pytest.mark.parametrize(
    "extra,message",
    [
        ("dlt_window_days: 0\n", r"rules.yml:6: dlt_window_days must be 1-365 days, got 0"),
        ("dlt_window_days: 400\n", r"rules.yml:6: dlt_window_days must be 1-365"),
        ("dlt_window_days: 2.5\n", r"rules.yml:6: dlt_window_days must be an integer"),
        ("evaluability: {min_followup_days: 10}\n", r"rules.yml:6: evaluability needs dlt_window_days"),
        ("dlt_window_days: 28\nevaluability: {min_followup_days: -1}\n", r"rules.yml:7: evaluability.min_followup_days must be >= 0"),
        ("dlt_window_days: 28\nevaluability: {dlt_always_evaluable: maybe}\n", r"rules.yml:7: evaluability.dlt_always_evaluable must be true or false"),
        ("dlt_window_days: 28\nevaluability: {window: 3}\n", r"rules.yml:7: evaluability: unknown key 'window'"),
        ("dlt_window_days: 28\nevaluability: [1]\n", r"rules.yml:7: evaluability must be a mapping"),
    ],
)
def test_bad_window_or_evaluability_names_file_and_line(tmp_path, extra, message):
    with pytest.raises(ProtocolError, match=message):
        load_protocol(_write(tmp_path, BASE + extra))
