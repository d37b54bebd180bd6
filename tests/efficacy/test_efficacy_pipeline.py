"""ct_efficacy in the shipped pipeline's config (configs/assemble.cfg): after
ct_reasoner, its rule table fed through [initialize.components.ct_efficacy];
a blank pipeline built from those sections gives the issue's PR with -35 %."""

from pathlib import Path

from spacy.util import load_config, load_model_from_config

REPO_ROOT = Path(__file__).resolve().parents[2]

SENTENCE = "Target lesions measured 52 mm, down from 80 mm at baseline; no new lesions."


def test_assemble_config_places_ct_efficacy_after_the_reasoner():
    config = load_config(REPO_ROOT / "configs" / "assemble.cfg")
    pipeline = config["nlp"]["pipeline"]
    assert pipeline.index("ct_efficacy") == pipeline.index("ct_reasoner") + 1
    assert config["components"]["ct_efficacy"]["factory"] == "ct_efficacy"
    rules = config["initialize"]["components"]["ct_efficacy"]["rules"]
    assert rules["@misc"] == "ct.read_efficacy_rules.v1"
    assert (REPO_ROOT / config["paths"]["efficacy_rules"]).is_file()


def test_blank_pipeline_from_the_assemble_sections_gives_pr_minus_35():
    full = load_config(REPO_ROOT / "configs" / "assemble.cfg", interpolate=True)
    rules_path = str(REPO_ROOT / full["paths"]["efficacy_rules"])
    config = {
        "nlp": {"lang": "en", "pipeline": ["ct_efficacy"]},
        "components": {"ct_efficacy": dict(full["components"]["ct_efficacy"])},
        "initialize": {"components": {"ct_efficacy": {"rules": {"@misc": "ct.read_efficacy_rules.v1", "path": rules_path}}}},
    }
    nlp = load_model_from_config(load_config_from_dict(config), auto_fill=True, validate=True)
    nlp.initialize()
    measured = [r for r in nlp(SENTENCE)._.ct_responses if r["basis"] == "measured"]
    assert len(measured) == 1
    assert measured[0]["response"] == "PR" and measured[0]["percent_change_from_baseline"] == -35.0


def load_config_from_dict(data):
    from thinc.api import Config

    return Config(data)
