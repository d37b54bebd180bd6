"""scripts/bench.py on a tiny pipeline: it runs, and its results file holds
plausible, internally consistent numbers for every requested measurement."""

import json
import os
import subprocess

import pytest

from bulk_helpers import PY, REPO, blank_ruler_model



def _bench_module():
    from scripts import bench

    return bench


@pytest.mark.slow  # three subprocesses, each importing spaCy
def test_bench_writes_results(tmp_path, phee_dev_path):
    model, _ = blank_ruler_model()
    out = tmp_path / "bench.json"
    cmd = [
        PY, str(REPO / "scripts" / "bench.py"), "run", "--model", model, "--texts", str(phee_dev_path),
        "--n-docs", "40", "--processes", "1", "--modes", "full,annotate",
        "--files-rss", "30", "--output", str(out),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    by_mode = {r["mode"]: r for r in data["throughput"]}
    assert set(by_mode) == {"full", "annotate"}
    for mode in ("full", "annotate"):
        r = by_mode[mode]
        assert r["docs"] == 40 and r["words"] > 40 * 5, r
        # seconds are rounded to ms in the results: allow for that on tiny runs
        assert r["words"] / (r["seconds"] + 0.001) <= r["words_per_s"] <= r["words"] / max(r["seconds"] - 0.001, 1e-6)
        assert r["peak_rss_mb"] > 20
    assert by_mode["full"]["words"] == by_mode["annotate"]["words"]
    (rss,) = data["files_rss"]
    assert rss["files"] == 30 and rss["peak_rss_mb"] > 20
    md = out.with_suffix(".md").read_text()
    assert "| full | 1 |" in md and "| 30 |" in md and "scripts/bench.py run" in md


def test_bench_rejects_missing_texts(tmp_path):
    result = subprocess.run(
        [PY, str(REPO / "scripts" / "bench.py"), "run", "--texts", str(tmp_path / "none.json"), "--output", str(tmp_path / "b.json")],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="300"),
    )
    assert result.returncode != 0 and "does not exist" in result.stderr


def test_transformer_detection_and_texts(tmp_path):
    import spacy

    bench = _bench_module()
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler")
    assert bench._transformer_name(nlp) is None
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"context": "a b"}) + "\n\n" + json.dumps({"text": "c"}) + "\n")
    assert bench._load_texts(path, 5) == ["a b", "c", "a b", "c", "a b"]
