"""``en-clinical-trials annotate --engine ray`` as a user runs it: a process
that starts its own local Ray (the engine's start-up path: no --ray-address,
no $RAY_ADDRESS, --ray-num-cpus / --num-actors sizing; the engine binds it to
127.0.0.1, which this test does not observe from outside) and writes the same
records as the local engine on a blank + ct_reasoner pipeline with the shipped protocol; and
a Ray run killed part-way (SIGKILL to the driver and the Ray it started), then
``--resume``d, has every document exactly once. Small on purpose: 8 and 40
documents, one actor, one CPU."""

from __future__ import annotations

import os
import subprocess

import pytest

from bulk_helpers import PY, check_exactly_once, read_jsonl
from support.pipelines import saved_reasoner_pipeline

pytestmark = pytest.mark.slow  # Ray start-up: ~20-60 s on 2 cores

TEXTS = [
    "Grade 4 neutropenia occurred after cisplatin in cycle 1.",
    "Grade 3 diarrhea was reported on day 8 after paclitaxel.",
    "She developed grade 2 nausea after carboplatin.",
    "No vomiting was reported.",
]


@pytest.fixture(scope="module")
def ray_installed():
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install -e .[ray])")  # a failure under CI (tests/conftest.py)


def _annotate(folder, out, model, *extra):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", RAY_USAGE_STATS_ENABLED="0")
    return subprocess.run(
        [PY, "-m", "ct_safety_nlp.cli", "annotate", str(folder), "--output", str(out), "--model", model,
         "--progress", "none", *extra],
        capture_output=True, text=True, env=env, timeout=600,
    )


def test_ray_engine_from_the_cli_gives_the_local_records(tmp_path, ctcae_xlsx_path, ray_installed):
    model, _ = saved_reasoner_pipeline(
        str(ctcae_xlsx_path), ruler_patterns=(("DRUG", "cisplatin"), ("DRUG", "paclitaxel"), ("DRUG", "carboplatin")),
    )
    folder = tmp_path / "in"
    folder.mkdir()
    ids = []
    for i in range(8):
        (folder / f"d{i}.txt").write_text(TEXTS[i % len(TEXTS)], encoding="utf-8")
        ids.append(f"d{i}.txt")
    local = _annotate(folder, tmp_path / "local", model)
    assert local.returncode == 0, local.stderr[-3000:]
    ray = _annotate(folder, tmp_path / "ray", model, "--engine", "ray", "--ray-num-cpus", "1", "--num-actors", "1",
                    "--batch-size", "4")
    assert ray.returncode == 0, ray.stderr[-3000:]
    check_exactly_once(tmp_path / "ray", ids)
    by_id = {name: {r["id"]: r for r in read_jsonl(tmp_path / name / "docs.jsonl")} for name in ("local", "ray")}
    assert by_id["ray"] == by_id["local"]
    (ae,) = [a for a in by_id["ray"]["d0.txt"]["adverse_events"] if a["ctcae_term"] == "Neutrophil count decreased"]
    assert (ae["grade"], ae["dlt"], ae["action"]) == (4, True, "hold")


#: a --code file: a component sleeping 100 ms per document, so that a Ray run
#: of 40 documents (~4 s of work past start-up) can be killed part-way
RAY_DELAY_CODE = '''
import time
from spacy.language import Language

@Language.component("ct_test_ray_delay")
def ct_test_ray_delay(doc):
    time.sleep(0.1)
    return doc
'''


def _lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_ray_run_killed_part_way_then_resumed_has_every_document_once(tmp_path, ctcae_xlsx_path, ray_installed):
    """SIGKILL to the driver's whole process group (the driver and the Ray it
    started) after a few committed batches; ``--resume --engine ray`` then
    writes the rest: 40 documents, each exactly once, the committed lines kept."""
    import signal
    import time

    model, code = saved_reasoner_pipeline(
        str(ctcae_xlsx_path), code=RAY_DELAY_CODE, before_reasoner=("ct_test_ray_delay",),
        ruler_patterns=(("DRUG", "cisplatin"), ("DRUG", "paclitaxel"), ("DRUG", "carboplatin")),
    )
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    ids = []
    for i in range(40):
        (folder / f"d{i:02d}.txt").write_text(TEXTS[i % len(TEXTS)], encoding="utf-8")
        ids.append(f"d{i:02d}.txt")
    args = [PY, "-m", "ct_safety_nlp.cli", "annotate", str(folder), "--output", str(out), "--model", model,
            "--code", code, "--progress", "none", "--engine", "ray", "--ray-num-cpus", "1", "--num-actors", "1",
            "--batch-size", "2"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", RAY_USAGE_STATS_ENABLED="0")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while _lines(out / "docs.jsonl") < 4:
            assert proc.poll() is None, f"the run ended (status {proc.returncode}) before 4 lines"
            assert time.monotonic() < deadline, "fewer than 4 lines after 300 s"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == -signal.SIGKILL
    committed = [r["id"] for r in read_jsonl(out / "docs.jsonl")]
    assert 4 <= len(committed) < len(ids), len(committed)
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    docs, errors = check_exactly_once(out, ids)
    assert errors == []
    assert [r["id"] for r in read_jsonl(out / "docs.jsonl")][: len(committed)] == committed  # kept, not rewritten
    (ae,) = [a for a in {d["id"]: d for d in docs}["d00.txt"]["adverse_events"]
             if a["ctcae_term"] == "Neutrophil count decreased"]
    assert (ae["grade"], ae["dlt"], ae["action"]) == (4, True, "hold")
