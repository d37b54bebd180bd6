"""ct_reasoner's ctcae_version: both versions compiled at initialize and saved; the
setting picks the one that grades; every AE record says its version; a protocol of
another version is an error."""

import pytest
import spacy

TEXT = "On day 15 her platelet count was 18,000/mm3 and ANC 0.8 x 10^9/L; lymphocyte count 0.3 x 10^9/L."


def _terms(doc):
    return {(ae["ctcae_term"], ae["grade"], ae["ctcae_version"]) for ae in doc._.ct_adverse_events}


def test_v5_is_the_default_and_records_carry_the_version(make_nlp):
    from ct_safety_nlp.reasoner import AE_KEYS

    nlp = make_nlp()
    doc = nlp(TEXT)
    assert "ctcae_version" in AE_KEYS
    assert _terms(doc) == {("Platelet count decreased", 4, "5.0"), ("Neutrophil count decreased", 3, "5.0"),
                           ("Lymphocyte count decreased", 3, "5.0")}
    assert all(list(ae) == list(AE_KEYS) for ae in doc._.ct_adverse_events)


def test_v6_grades_and_names_the_v6_terms(make_nlp):
    doc = make_nlp("6.0")(TEXT)
    assert _terms(doc) == {("Thrombocytopenia", 3, "6.0"), ("Neutrophil count decreased", 2, "6.0"), ("Lymphopenia", 1, "6.0")}


def test_v6_synonyms_are_the_v5_ones_re_pointed(make_nlp):
    doc = make_nlp("6.0")("She had low platelets and thrombocytopenia.")
    assert {ae["ctcae_term"] for ae in doc._.ct_adverse_events} == {"Thrombocytopenia"}


def test_saved_pipeline_switches_version_by_config(saved_pipeline):
    v5 = spacy.load(saved_pipeline)
    v6 = spacy.load(saved_pipeline, config={"components": {"ct_reasoner": {"ctcae_version": "6.0"}}})
    assert _terms(v5(TEXT)) != _terms(v6(TEXT))
    assert ("Thrombocytopenia", 3, "6.0") in _terms(v6(TEXT))
    assert (saved_pipeline / "ct_reasoner" / "kb_v6.json.gz").exists()


def test_bytes_round_trip_keeps_both_versions(make_nlp):
    nlp = make_nlp()
    data = nlp.get_pipe("ct_reasoner").to_bytes()
    fresh = spacy.blank("en")
    fresh.add_pipe("ct_reasoner", config={"ctcae_version": "6.0"}).from_bytes(data)
    assert ("Thrombocytopenia", 3, "6.0") in _terms(fresh(TEXT))


def test_v6_without_v6_tables_is_a_clear_error(init_data, make_nlp):
    data = {k: v for k, v in init_data.items() if k not in ("kb_v6", "mapping")}
    with pytest.raises(ValueError, match=r"ctcae_version is \"6.0\" but no kb_v6"):
        make_nlp("6.0", data)
    v5_only = make_nlp("5.0", data)
    blob = v5_only.get_pipe("ct_reasoner").to_bytes()
    other = spacy.blank("en").add_pipe("ct_reasoner", config={"ctcae_version": "6.0"})
    with pytest.raises(ValueError, match="no CTCAE v6.0 tables"):
        other.from_bytes(blob)


def test_unknown_version_is_refused():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="ctcae_version must be"):
        nlp.add_pipe("ct_reasoner", config={"ctcae_version": "4.03"})


def _protocol(version=None, term="Thrombocytopenia"):
    rules = {"schema_version": 1, "name": "test protocol", "dlt": [{"id": "plt", "description": "G4 platelets", "when": {"terms": [term], "min_grade": 4}}]}
    if version is not None:
        rules["ctcae_version"] = version
    return rules


def test_protocol_version_mismatch_is_an_error(make_nlp):
    from ct_safety_nlp.protocol import ProtocolError

    with pytest.raises(ProtocolError, match=r"states ctcae_version 6.0 but ct_reasoner grades with CTCAE v5.0"):
        make_nlp("5.0", protocol=_protocol("6.0"))
    nlp = make_nlp("6.0", protocol=_protocol("6.0"))
    ae = nlp("Platelet count 9,000/mm3 on day 10.")._.ct_adverse_events[0]
    assert (ae["ctcae_term"], ae["grade"], ae["dlt"]) == ("Thrombocytopenia", 4, True)
    # the terms are checked in the component's version
    with pytest.raises(ProtocolError, match="'Platelet count decreased' is not a CTCAE v6.0 term"):
        make_nlp("6.0", protocol=_protocol(None, "Platelet count decreased"))


def test_protocol_file_states_its_version(tmp_path):
    from ct_safety_nlp.protocol import ProtocolError, load_protocol

    good = tmp_path / "p.yml"
    good.write_text('schema_version: 1\nname: p\nctcae_version: "6.0"\ndlt: []\n')
    assert load_protocol(good)["ctcae_version"] == "6.0"
    bad = tmp_path / "bad.yml"
    bad.write_text('schema_version: 1\nname: p\nctcae_version: "4.03"\ndlt: []\n')
    with pytest.raises(ProtocolError, match=r"bad\.yml:3: ctcae_version '4\.03' is not one of 5\.0, 6\.0"):
        load_protocol(bad)


def test_v6_lab_table_must_be_a_v6_table(make_nlp):
    from ct_safety_nlp.rules.io import resource_path
    from ct_safety_nlp.rules.lab import read_lab_rules

    with pytest.raises(ValueError, match=r"lab_rules_v6 states ctcae_version '5.0'"):
        make_nlp("6.0", lab_rules_v6=read_lab_rules(str(resource_path("lab_rules.yml"))))


def test_important_medical_events_exist_in_v6(make_nlp):
    doc = make_nlp("6.0")("A venous thromboembolism was diagnosed on day 20.")
    (ae,) = [a for a in doc._.ct_adverse_events if a["ctcae_term"] == "Venous thromboembolism"]
    assert ae["serious"] and "important_medical_event" in ae["seriousness_criteria"]
