"""ct_followup (template backend): golden files, determinism, overrides, serialization.

Golden files live in tests/golden/; after an intended template change, rewrite
them with ``CT_UPDATE_GOLDEN=1 pytest tests/test_followup.py`` and review the diff.
"""

import json
import os
import pickle
from pathlib import Path

import pytest
import spacy

from ct_safety_nlp.followup import build_facts, load_templates, validate_context
from followup_cases import AE_VOCAB, bare_doc, sae_doc, v1_doc

GOLDEN = Path(__file__).parent / "golden"


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CT_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"golden file {path} missing (run with CT_UPDATE_GOLDEN=1)"
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture()
def nlp():
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_followup")
    return nlp


@pytest.mark.parametrize(
    "make_doc,stem",
    [(v1_doc, "v1"), (sae_doc, "sae"), (bare_doc, "bare")],
)
def test_golden_record_and_narrative(nlp, make_doc, stem):
    doc = nlp(make_doc(nlp))
    out = doc._.ct_followup
    assert out["backend"] == "template"
    _golden(f"{stem}_record.md", out["record"])
    if out["narrative"] is None:
        assert not (GOLDEN / f"{stem}_narrative.txt").exists() or os.environ.get("CT_UPDATE_GOLDEN")
    else:
        _golden(f"{stem}_narrative.txt", out["narrative"])
    assert doc._.ct_followup_issues == []


def test_v1_record_states_the_done_when_facts(nlp):
    doc = nlp(v1_doc(nlp))
    record = doc._.ct_followup["record"]
    assert "P-001" in record
    assert "irinotecan 180 mg/m2" in record
    assert "Diarrhea: grade 3" in record
    assert "- No fever" in record
    assert doc._.ct_followup["narrative"] is None  # nothing serious
    assert doc._.ct_followup_issues == []


def test_sae_narrative_only_for_the_serious_event(nlp):
    doc = nlp(sae_doc(nlp))
    narrative = doc._.ct_followup["narrative"]
    assert "Febrile neutropenia (grade 4)" in narrative
    assert "serious (hospitalization)" in narrative
    assert "dose-limiting toxicity" in narrative
    assert "Nausea" not in narrative and "Anemia" not in narrative


def test_output_is_deterministic_and_json_safe(nlp):
    first = nlp(sae_doc(nlp))
    other = spacy.blank("en")
    other.add_pipe("ct_followup")
    second = other(sae_doc(other))
    assert first._.ct_followup == second._.ct_followup
    json.dumps({"f": first._.ct_followup, "i": first._.ct_followup_issues})


def test_user_template_folder_overrides_one_template(tmp_path):
    (tmp_path / "record.md.j2").write_text(
        "Visit {{ visit }} of {{ ctx.patient_id }}:{% for ae in aes %} {{ ae.term }} {{ ae.grade_text }}{% endfor %}\n"
    )
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_followup", config={"template_dir": str(tmp_path)})
    doc = nlp(sae_doc(nlp))
    assert doc._.ct_followup["record"] == "Visit cycle 2, day 10 of P-017: Febrile neutropenia grade 4 Nausea grade 1\n"
    # the narrative template was not overridden: the shipped one is used
    assert doc._.ct_followup["narrative"].startswith("Patient P-017 (age 63, sex F)")


def test_bad_template_dir_is_a_clear_error(tmp_path):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="is not a folder"):
        nlp.add_pipe("ct_followup", config={"template_dir": str(tmp_path / "missing")})
    with pytest.raises(ValueError, match="none of the template files"):
        nlp.add_pipe("ct_followup", config={"template_dir": str(tmp_path)})


def test_broken_user_template_names_the_problem(tmp_path):
    (tmp_path / "record.md.j2").write_text("{{ no_such_variable }}")
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_followup", config={"template_dir": str(tmp_path)})
    with pytest.raises(ValueError, match="template failed to render.*no_such_variable"):
        nlp(v1_doc(nlp))


@pytest.mark.parametrize(
    "context,message",
    [
        (["P-001"], "must be a JSON object"),
        ({"patient_id": {"id": 1}}, r"ct_context.patient_id must be a string"),
        ({"plan": ["ok", 3]}, "plan must be a string or a list of strings"),
        ({"": "x"}, "keys must be non-empty strings"),
    ],
)
def test_bad_context_is_a_clear_error(nlp, context, message):
    doc = v1_doc(nlp)
    doc._.ct_context = context
    with pytest.raises(ValueError, match=message):
        nlp(doc)


def test_context_none_and_free_fields():
    assert validate_context(None) == {}
    assert validate_context({"site": " Site 04 ", "plan": "Recheck"}) == {"site": "Site 04", "plan": "Recheck"}


def test_facts_split_negated_and_collect_drugs_and_doses():
    doc = sae_doc()
    doc._.ct_adverse_events[0]["drugs"] = ["Cisplatin", "cisplatin"]  # the reasoner may repeat a drug
    facts = build_facts(doc)
    assert facts["adverse_events"][0]["drugs"] == ["Cisplatin"]
    assert [a["term"] for a in facts["adverse_events"]] == ["Febrile neutropenia", "Nausea", "Anemia"]
    assert [n["term"] for n in facts["pertinent_negatives"]] == ["Rash maculo-papular"]
    assert facts["drugs"] == ["cisplatin"]
    assert "75 mg/m2" in facts["doses"]


def test_to_disk_from_disk_keeps_templates_and_vocabulary(tmp_path):
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "record.md.j2").write_text("Custom record for {{ ctx.patient_id }}\n")
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("ct_followup")
    nlp.initialize()
    pipe.initialize(nlp=nlp, template_dir=str(tmp_path / "tpl"), ae_terms=AE_VOCAB, drug_names=["oxaliplatin"])
    nlp.to_disk(tmp_path / "pipeline")
    # the template folder is gone; the saved pipeline carries its own copy
    (tmp_path / "tpl" / "record.md.j2").unlink()
    loaded = spacy.load(tmp_path / "pipeline")
    doc = loaded(v1_doc(loaded))
    assert doc._.ct_followup["record"] == "Custom record for P-001\n"
    assert loaded.get_pipe("ct_followup").ae_terms == sorted(AE_VOCAB)
    assert loaded.get_pipe("ct_followup").drug_names == ["oxaliplatin"]


def test_pipeline_pickles_and_runs_in_two_processes(nlp):
    clone = pickle.loads(pickle.dumps(nlp))
    docs = [v1_doc(nlp), sae_doc(nlp)]
    expected = [nlp(d)._.ct_followup for d in (v1_doc(nlp), sae_doc(nlp))]
    assert [clone(d)._.ct_followup for d in (v1_doc(clone), sae_doc(clone))] == expected
    got = [d._.ct_followup for d in nlp.pipe(docs, n_process=2)]
    assert got == expected


def test_shipped_templates_are_package_data():
    templates = load_templates()
    assert set(templates) == {"record.md.j2", "narrative.txt.j2"}
    assert all(t.strip() for t in templates.values())


# --------------------------------------------------------------------------
# With the real ct_reasoner in front (the issue's "Done when" example)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reasoner_nlp(ctcae_xlsx_path):
    from followup_cases import reasoner_pipeline

    return reasoner_pipeline(ctcae_xlsx_path)


def test_done_when_with_ct_reasoner(reasoner_nlp):
    from followup_cases import V1_CONTEXT, V1_TEXT

    doc = reasoner_nlp.make_doc(V1_TEXT)
    doc._.ct_context = dict(V1_CONTEXT)
    doc = reasoner_nlp(doc)
    record = doc._.ct_followup["record"]
    assert "patient P-001" in record
    assert "- irinotecan 180 mg/m2" in record
    assert "- Diarrhea: grade 3; not serious; suspected drug: irinotecan" in record
    assert "## Pertinent negatives\n- No fever\n" in record
    assert doc._.ct_followup["narrative"] is None
    assert doc._.ct_followup_issues == []


def test_vocabulary_comes_from_the_reasoner_kb(reasoner_nlp):
    pipe = reasoner_nlp.get_pipe("ct_followup")
    assert len(pipe.ae_terms) > 700 and "Neutrophil count decreased" in pipe.ae_terms
    assert pipe.ae_synonyms.get("neutropenia") == "Neutrophil count decreased"


@pytest.mark.parametrize("make_doc", [v1_doc, sae_doc, bare_doc])
def test_template_words_never_trip_the_full_ctcae_vocabulary(reasoner_nlp, make_doc):
    """The shipped templates' own words (headings, 'not serious', ...) are no AE claims."""
    pipe = reasoner_nlp.get_pipe("ct_followup")
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_followup")
    nlp.get_pipe("ct_followup").initialize(ae_terms=pipe.ae_terms, ae_synonyms=pipe.ae_synonyms)
    doc = nlp(make_doc(nlp))
    assert doc._.ct_followup_issues == []


def test_serious_event_end_to_end_with_ct_reasoner(reasoner_nlp):
    text = ("On day 15 she was admitted with febrile neutropenia after docetaxel 75 mg/m2; "
            "docetaxel was held. She denied vomiting.")
    doc = reasoner_nlp.make_doc(text)
    doc._.ct_context = {"patient_id": "P-9", "trial_id": "T-2", "cycle": 1, "day": 15}
    doc = reasoner_nlp(doc)
    out = doc._.ct_followup
    assert "experienced Febrile neutropenia (grade" in out["narrative"]
    assert "assessed as serious (hospitalization" in out["narrative"]
    assert "_" not in out["narrative"]  # criteria are written as words
    assert "- No vomiting" in out["record"]
    assert doc._.ct_followup_issues == []


def test_initialize_from_config_takes_the_vocabulary_from_ct_reasoner(ctcae_xlsx_path, tmp_path):
    """The assemble route: nlp.initialize() initializes ct_reasoner first, then ct_followup."""
    from followup_cases import V1_CONTEXT, V1_TEXT

    repo = Path(__file__).resolve().parents[1]
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_reasoner")
    nlp.add_pipe("ct_followup")
    nlp.config["initialize"]["components"]["ct_reasoner"] = {
        "kb": {"@misc": "ct.read_ctcae.v1", "path": str(ctcae_xlsx_path)},
        "synonyms": {"@misc": "ct.read_synonyms.v1", "path": str(repo / "assets" / "ctcae_synonyms.json")},
    }
    nlp.initialize()
    assert "Neutrophil count decreased" in nlp.get_pipe("ct_followup").ae_terms
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    assert loaded.get_pipe("ct_followup").ae_synonyms == nlp.get_pipe("ct_followup").ae_synonyms
    doc = loaded.make_doc(V1_TEXT)
    doc._.ct_context = dict(V1_CONTEXT)
    assert loaded(doc)._.ct_followup_issues == []
