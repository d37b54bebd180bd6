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
        "--files-rss", "30", "--rounds", "2", "--output", str(out),
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
    # two rounds of each measurement; a row is its best round
    assert sorted((p["mode"], p["round"]) for p in data["passes"]) == [("annotate", 1), ("annotate", 2), ("full", 1), ("full", 2)]
    for r in data["throughput"]:
        assert len(r["rounds_words_per_s"]) == 2 and r["words_per_s"] == max(r["rounds_words_per_s"])
    (rss,) = data["files_rss"]
    assert rss["files"] == 30 and rss["peak_rss_mb"] > 20
    md = out.with_suffix(".md").read_text()
    assert "| full | sentences | 1 |" in md and "| 30 |" in md and "scripts/bench.py run" in md


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


def test_long_documents_join_abstracts_in_order_into_pages():
    bench = _bench_module()
    rows = [{"id": "1_1", "text": "a b c."}, {"id": "1_2", "text": "d e."}, {"id": "2_1", "text": "f g h i."},
            {"id": "3_1", "text": "j."}]
    # 5 words per page: abstract 1 (5 words) is a page; abstract 2 (4) + 3 (1) make the next
    assert bench.long_documents(rows, 4, 5) == ["a b c. d e.", "f g h i.\n\nj."]
    assert bench.long_documents(rows, 4, 6) == ["a b c. d e.\n\nf g h i.", "j."]  # the last may be shorter
    assert bench.long_documents(rows, 2, 100) == ["a b c. d e."]  # only the first n sentences
    # cycled: sentence 5 is rows[0] again, a new paragraph after abstract 3
    assert bench.long_documents(rows, 5, 1000) == ["a b c. d e.\n\nf g h i.\n\nj.\n\na b c."]


def test_ratios_of_one_run():
    bench = _bench_module()
    rows = [
        {"mode": "hf", "n_process": 1, "texts": "sentences", "words_per_s": 1000.0},
        {"mode": "full", "n_process": 1, "texts": "sentences", "words_per_s": 1500.0},
        {"mode": "full", "n_process": 2, "texts": "sentences", "words_per_s": 1800.0},
        {"mode": "full", "n_process": 1, "texts": "long", "words_per_s": 1200.0},
        {"mode": "hf", "n_process": 2, "texts": "sentences", "skipped": "one process only"},
    ]
    assert bench.ratios(rows) == {"full_vs_hf_x1": 1.5, "full_best_vs_hf": 1.8, "full_long_vs_sentences_x1": 0.8}
    assert bench.ratios(rows[1:]) == {"full_long_vs_sentences_x1": 0.8}  # no hf: no ratio to it


def test_best_of_rounds_keeps_each_rows_best_round_and_the_median():
    bench = _bench_module()
    passes = [
        {"mode": "full", "n_process": 1, "texts": "sentences", "words_per_s": 900.0, "round": 1},
        {"mode": "hf", "n_process": 2, "texts": "sentences", "skipped": "one process only", "round": 1},
        {"mode": "full", "n_process": 1, "texts": "long", "words_per_s": 700.0, "round": 1},
        {"mode": "full", "n_process": 1, "texts": "sentences", "words_per_s": 1200.0, "round": 2},
        {"mode": "hf", "n_process": 2, "texts": "sentences", "skipped": "one process only", "round": 2},
        {"mode": "full", "n_process": 1, "texts": "long", "words_per_s": 800.0, "round": 2},
        {"mode": "full", "n_process": 1, "texts": "sentences", "words_per_s": 1000.0, "round": 3},
        {"mode": "full", "n_process": 1, "texts": "long", "words_per_s": 600.0, "round": 3},
    ]
    rows = bench.best_of_rounds(passes)
    assert [(r["mode"], r["n_process"], r["texts"]) for r in rows] == [
        ("full", 1, "sentences"), ("hf", 2, "sentences"), ("full", 1, "long")]
    sentences, skipped, long = rows
    assert (sentences["words_per_s"], sentences["round"], sentences["median_words_per_s"]) == (1200.0, 2, 1000.0)
    assert sentences["rounds_words_per_s"] == [900.0, 1200.0, 1000.0]
    assert (long["words_per_s"], long["median_words_per_s"]) == (800.0, 700.0)
    assert skipped["skipped"] and "rounds_words_per_s" not in skipped
    assert passes[0]["words_per_s"] == 900.0 and "rounds_words_per_s" not in passes[3]  # the passes are not changed


def test_hf_mode_is_skipped_without_a_transformer():
    import spacy

    bench = _bench_module()
    nlp = spacy.blank("en")
    assert bench._hf_forward(nlp, ["a b"], 1, 8) == {"skipped": "the pipeline has no transformer component"}
