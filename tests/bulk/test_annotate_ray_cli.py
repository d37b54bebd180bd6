"""``en-clinical-trials annotate --engine ray`` as a user runs it: a process
that starts its own local Ray (the engine's start-up path: no --ray-address,
no $RAY_ADDRESS, --ray-num-cpus / --num-actors sizing; the engine binds it to
127.0.0.1, which this test does not observe from outside) and writes the same
records as the local engine on a blank + ct_reasoner pipeline with the shipped protocol. Small on
purpose: 8 documents, one actor, one CPU."""

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
