"""ct_efficacy: the component on spacy.blank("en"), its rule table reader, its
serialisation (to_disk / from_disk / bytes / pickle, exclude honoured, config
settings kept), the error handler, and the text cases the issue names."""

import json
import pickle

import pytest
import spacy
from spacy import registry

from ct_safety_nlp.efficacy.extract import MEASUREMENT_KEYS, RESPONSE_KEYS
from ct_safety_nlp.efficacy.rules import EfficacyRulesError, default_rules_path, load_efficacy_rules

ISSUE_SENTENCE = "Target lesions measured 52 mm, down from 80 mm at baseline; no new lesions."


@pytest.fixture(scope="module")
def nlp():
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_efficacy")
    nlp.initialize()
    return nlp


def _by_basis(doc, basis):
    return [r for r in doc._.ct_responses if r["basis"] == basis]


def test_issue_sentence_is_pr_minus_35_percent(nlp):
    doc = nlp(ISSUE_SENTENCE)
    measured = _by_basis(doc, "measured")
    assert len(measured) == 1
    m = measured[0]
    assert m["response"] == "PR" and m["target_response"] == "PR"
    assert m["percent_change_from_baseline"] == -35.0
    assert (m["sum_mm"], m["baseline_sum_mm"], m["new_lesions"]) == (52, 80, False)
    assert any("4.3.1" in e for e in m["evidence"]) and any("Table 1" in e for e in m["evidence"])
    new = _by_basis(doc, "new_lesion")
    assert len(new) == 1 and new[0]["negated"] is True and new[0]["response"] is None


def test_every_dict_has_the_contract_keys_and_is_json_safe(nlp):
    doc = nlp(
        "TARGET LESIONS:\n1. Liver: 22 mm (baseline 35 mm).\n2. Left para-aortic lymph node: 9 mm short axis "
        "(baseline 16 mm).\nNON-TARGET LESIONS: effusion unchanged.\nNEW LESIONS: None.\nIMPRESSION: Partial response."
    )
    assert doc._.ct_responses
    for r in doc._.ct_responses:
        assert tuple(r) == RESPONSE_KEYS
        assert doc.text[r["start_char"] : r["end_char"]] == r["text"]
        for m in r["measurements"]:
            assert tuple(m) == MEASUREMENT_KEYS
            assert doc.text[m["start_char"] : m["end_char"]] == m["text"]
    assert json.loads(json.dumps(doc._.ct_responses)) == doc._.ct_responses
    measured = _by_basis(doc, "measured")[0]
    assert (measured["sum_mm"], measured["baseline_sum_mm"], measured["response"]) == (31, 51, "PR")
    node = next(m for m in measured["measurements"] if m["lymph_node"] and m["role"] == "current")
    assert node["mm"] == 9


@pytest.mark.parametrize(
    "text,sum_mm,baseline,pct",
    [
        ("Sum of target lesion diameters 4.1 cm (baseline 5.0 cm).", 41, 50, -18.0),  # cm converted
        ("Pathologic right axillary lymph node (target), 1.4 x 1.1 cm (baseline 2.6 x 1.9 cm).", 11, 19, -42.1),
        ("Target lesion: 2.5 x 1.8 cm (baseline 3.1 x 2.2 cm).", 25, 31, -19.4),
    ],
)
def test_units_and_axes(nlp, text, sum_mm, baseline, pct):
    m = _by_basis(nlp(text), "measured")[0]
    assert (m["sum_mm"], m["baseline_sum_mm"], m["percent_change_from_baseline"]) == (sum_mm, baseline, pct)


def test_other_units_are_reported_not_converted(nlp):
    m = _by_basis(nlp("The lesion measures 1.5 inches, previously 2 inches."), "measured")[0]
    assert [(x["value"], x["unit"], x["mm"], x["role"]) for x in m["measurements"]] == [
        (1.5, "inches", None, "current"), (2.0, "inches", None, "prior")]
    assert m["sum_mm"] is None and m["percent_change_from_baseline"] is None and m["response"] is None
    assert any("not converted" in e for e in m["evidence"])


def test_no_baseline_gives_no_percentage_and_says_why(nlp):
    m = _by_basis(nlp("The liver lesion measures 25 mm, compared with 31 mm on the prior CT."), "measured")[0]
    assert m["percent_change_from_baseline"] is None and m["response"] is None
    assert any("no baseline" in e for e in m["evidence"])
    assert [x["role"] for x in m["measurements"]] == ["current", "prior"]


@pytest.mark.parametrize(
    "text,basis,response,flag",
    [
        ("No evidence of progression.", "stated", None, "negated"),
        ("Possible progression in the liver.", "stated", None, "speculated"),
        ("She previously had a partial response to carboplatin.", "stated", None, "historical"),
        ("No evidence of disease.", "stated", "CR", None),  # the cue inside the phrase does not negate it
        ("Equivocal new lesion in the liver.", "new_lesion", None, "speculated"),
        ("A new 9 mm liver lesion.", "new_lesion", "PD", None),
    ],
)
def test_negation_speculation_history(nlp, text, basis, response, flag):
    r = _by_basis(nlp(text), basis)[0]
    assert r["response"] == response
    for name in ("negated", "speculated", "historical"):
        assert r[name] is (name == flag)


def test_not_measurements(nlp):
    for text in ("Blood pressure 140/90 mm Hg.", "Platelets 80,000/mm3.", "Images were acquired with 5 mm slice thickness.",
                 "ER/PR positive, HER2 negative.", "PD-L1 expression was 60%."):
        assert nlp(text)._.ct_responses == [], text


def test_timepoints_and_blocks(nlp):
    doc = nlp("Week 8: target sum 62 mm (baseline 80 mm), stable disease. Week 16: target sum 50 mm, partial response.")
    measured = _by_basis(doc, "measured")
    assert [(m["timepoint"], m["timepoint_days"], m["response"]) for m in measured] == [("Week 8", 56, "SD"), ("Week 16", 112, "PR")]
    assert measured[1]["baseline_sum_mm"] == 80 and any("stated earlier" in e for e in measured[1]["evidence"])
    dated = nlp("The scan dated 14 March 2024 demonstrates progressive disease.")._.ct_responses[0]
    assert (dated["timepoint"], dated["timepoint_date"]) == ("14 March 2024", "2024-03-14")


def test_carry_baseline_is_a_setting():
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_efficacy", config={"carry_baseline": False})
    nlp.initialize()
    measured = _by_basis(nlp("Week 8: target sum 62 mm (baseline 80 mm). Week 16: target sum 50 mm."), "measured")
    assert measured[1]["baseline_sum_mm"] is None and measured[1]["response"] is None


# ------------------------------------------------------------------ serialisation and pickling
def test_to_disk_from_disk_roundtrip_keeps_config(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_efficacy", config={"max_scope_words": 3})
    nlp.initialize()
    expected = nlp(ISSUE_SENTENCE)._.ct_responses
    nlp.to_disk(tmp_path / "model")
    assert (tmp_path / "model" / "ct_efficacy" / "rules.json").exists()
    loaded = spacy.load(tmp_path / "model")
    pipe = loaded.get_pipe("ct_efficacy")
    assert pipe.max_scope_words == 3 and pipe.context.max_scope_words == 3
    assert loaded(ISSUE_SENTENCE)._.ct_responses == expected


def test_saved_rules_are_used_not_the_library_defaults(tmp_path):
    table = load_efficacy_rules(default_rules_path())
    table["stated"] = [r for r in table["stated"] if r["response"] != "PR"]
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_efficacy")
    nlp.initialize()
    nlp.get_pipe("ct_efficacy").initialize(nlp=nlp, rules=table)
    nlp.to_disk(tmp_path / "m")
    loaded = spacy.load(tmp_path / "m")
    assert _by_basis(loaded("Partial response."), "stated") == []


def test_exclude_rules_is_honoured(tmp_path):
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("ct_efficacy")
    nlp.initialize()
    pipe.to_disk(tmp_path / "p", exclude=["rules"])
    assert not (tmp_path / "p" / "rules.json").exists()
    other = spacy.blank("en").add_pipe("ct_efficacy")
    other.from_disk(tmp_path / "p", exclude=["rules"])
    assert other.rules is None
    assert other.from_bytes(pipe.to_bytes(exclude=["rules"]), exclude=["rules"]).rules is None


def test_bytes_roundtrip_and_pickle(nlp):
    pipe = nlp.get_pipe("ct_efficacy")
    other = spacy.blank("en").add_pipe("ct_efficacy")
    other.from_bytes(pipe.to_bytes())
    doc = nlp.make_doc(ISSUE_SENTENCE)
    assert other(doc)._.ct_responses == nlp(ISSUE_SENTENCE)._.ct_responses
    clone = pickle.loads(pickle.dumps(pipe))
    assert clone(nlp.make_doc(ISSUE_SENTENCE))._.ct_responses == nlp(ISSUE_SENTENCE)._.ct_responses
    assert pickle.loads(pickle.dumps(nlp))(ISSUE_SENTENCE)._.ct_responses == nlp(ISSUE_SENTENCE)._.ct_responses


def test_from_disk_of_a_foreign_directory_is_a_clear_error(tmp_path):
    pipe = spacy.blank("en").add_pipe("ct_efficacy")
    with pytest.raises(ValueError, match="not a directory written by ct_efficacy"):
        pipe.from_disk(tmp_path)


def test_uninitialised_component_goes_through_the_error_handler():
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_efficacy")
    with pytest.raises(ValueError, match="no rule table"):
        nlp("No new lesions.")
    seen = []
    nlp.set_error_handler(lambda name, proc, docs, e: seen.append((name, type(e).__name__)))
    list(nlp.pipe(["No new lesions."]))
    assert seen == [("ct_efficacy", "ValueError")]


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="max_scope_words"):
        spacy.blank("en").add_pipe("ct_efficacy", config={"max_scope_words": 0})


# ------------------------------------------------------------------ the rule table reader
def _write(tmp_path, mutate):
    table = json.loads(default_rules_path().read_text(encoding="utf8"))
    mutate(table)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(table, indent=1), encoding="utf8")
    return path


def _line_of(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_reader_is_registered_and_reads_the_shipped_table():
    table = registry.misc.get("ct.read_efficacy_rules.v1")()
    assert table["schema_version"] == 1 and table["file"] == "efficacy_rules.json"
    assert table == load_efficacy_rules(default_rules_path())


def test_reader_bad_regex_names_file_and_line(tmp_path):
    path = _write(tmp_path, lambda t: t["stated"].insert(0, {"pattern": "partial (response", "response": "PR"}))
    with pytest.raises(EfficacyRulesError) as err:
        load_efficacy_rules(path)
    assert str(err.value).startswith(f"{path}:{_line_of(path, 'partial (response')}:")
    assert "invalid regular expression" in str(err.value)


def test_reader_bad_value_and_unknown_key(tmp_path):
    path = _write(tmp_path, lambda t: t["stated"].insert(0, {"pattern": "x", "response": "MR"}))
    line = _line_of(path, '"MR"')
    with pytest.raises(EfficacyRulesError, match=rf"{path}:{line}: stated\[0\]\.response must be one of"):
        load_efficacy_rules(path)
    path = _write(tmp_path, lambda t: t.update(extra=1))
    with pytest.raises(EfficacyRulesError, match="unknown key 'extra'"):
        load_efficacy_rules(path)
    path = _write(tmp_path, lambda t: t.pop("units"))
    with pytest.raises(EfficacyRulesError, match="missing key 'units'"):
        load_efficacy_rules(path)


def test_reader_invalid_json_and_missing_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n "schema_version": 1,\n "name": oops\n}\n', encoding="utf8")
    with pytest.raises(EfficacyRulesError, match=rf"{path}:3: invalid JSON"):
        load_efficacy_rules(path)
    with pytest.raises(EfficacyRulesError, match="not found"):
        load_efficacy_rules(tmp_path / "nope.json")


def test_initialize_validates_a_table_given_in_python():
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("ct_efficacy")
    table = load_efficacy_rules(default_rules_path())
    table["units"] = [u for u in table["units"] if u["unit"] != "mm"]
    with pytest.raises(EfficacyRulesError, match="units must include mm"):
        pipe.initialize(nlp=nlp, rules=table)
