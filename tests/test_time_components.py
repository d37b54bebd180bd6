"""scripts/time_components.py: per-component seconds for two passes, on a small
real pipeline; clear errors for too few texts."""

import json
import os
import subprocess

from bulk_helpers import PY, REPO, blank_ruler_model

SCRIPT = str(REPO / "scripts" / "time_components.py")


def _run(*args):
    return subprocess.run([PY, SCRIPT, *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COLUMNS="300"))


def test_two_passes_per_component(tmp_path, phee_dev_path):
    model, _ = blank_ruler_model()
    out = tmp_path / "components.json"
    result = _run(model, str(phee_dev_path), "--n-docs", "20", "--batch-size", "8", "--output", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    for name in ("first_pass", "second_pass"):
        assert data[name]["docs"] == 20
        assert list(data[name]["seconds"]) == ["entity_ruler"]
        assert data[name]["seconds"]["entity_ruler"] >= 0
    assert "entity_ruler" in result.stdout and "ms/doc" in result.stdout


def test_too_few_texts_is_a_clear_error(tmp_path):
    model, _ = blank_ruler_model()
    texts = tmp_path / "few.jsonl"
    texts.write_text(json.dumps({"text": "one"}) + "\n" + json.dumps({"context": "two"}) + "\n")
    result = _run(model, str(texts), "--n-docs", "3")
    assert result.returncode != 0
    assert "few.jsonl has 2 texts" in result.stderr and "--n-docs 3" in result.stderr


def test_unknown_model_is_a_clear_error(tmp_path, phee_dev_path):
    result = _run(str(tmp_path / "no_such_pipeline"), str(phee_dev_path), "--n-docs", "2")
    assert result.returncode != 0
    assert "cannot load pipeline" in result.stderr and "no_such_pipeline" in result.stderr


def test_bad_line_is_named(tmp_path):
    model, _ = blank_ruler_model()
    for content, message in (('{"text": "one"}\nnot json\n', "bad.jsonl:2: not JSON"),
                             ('{"text": "one"}\n["a list"]\n', "bad.jsonl:2: expected a JSON object")):
        texts = tmp_path / "bad.jsonl"
        texts.write_text(content)
        result = _run(model, str(texts), "--n-docs", "1")
        assert result.returncode != 0
        assert message in result.stderr, result.stderr[-2000:]
