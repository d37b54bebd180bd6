"""scripts/convert.py on real PHEE records: label mapping, nesting, discontinuous
mentions, alignment and the dev/test split."""

from pathlib import Path
import json
from collections import Counter

import pytest
import spacy

REPO_ROOT = Path(__file__).resolve().parents[1]

from scripts import convert  # noqa: E402 - scripts/ is a package on pytest's pythonpath (setup.cfg)


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


@pytest.fixture(scope="module")
def train_records(phee_train_path):
    return {r["id"]: r for r in convert.read_jsonl(phee_train_path)}


def spans_of(doc, key="sc"):
    return {(s.text, s.label_) for s in doc.spans[key]}


def test_nested_treatment_drug_and_labels(nlp, train_records):
    # "The authors report a case of Balint syndrome ... following intrathecal methotrexate and cytarabine."
    doc = convert.make_doc(nlp, train_records["12552054_1"], Counter())
    sc = spans_of(doc)
    assert ("intrathecal methotrexate and cytarabine", "TREATMENT") in sc
    assert ("methotrexate", "DRUG") in sc and ("cytarabine", "DRUG") in sc  # Combination drugs too
    assert ("intrathecal", "ROUTE") in sc
    ents = {(e.text, e.label_) for e in doc.ents}
    assert {("methotrexate", "DRUG"), ("cytarabine", "DRUG"), ("intrathecal", "ROUTE")} <= ents
    assert all(e.label_ in convert.ENT_LABELS for e in doc.ents)
    assert not any(label == "TREATMENT" for _, label in ents)


def test_subject_age_and_effect(nlp, train_records):
    doc = convert.make_doc(nlp, train_records["2332596_1"], Counter())  # Phenobarbital hepatotoxicity in an 8-month-old infant.
    sc = spans_of(doc)
    assert ("an 8-month-old infant", "SUBJECT") in sc
    assert ("8-month-old infant", "AGE") in sc
    assert ("hepatotoxicity", "ADVERSE_EVENT") in {(e.text, e.label_) for e in doc.ents}
    # span_finder's training signal: every sc boundary, unlabeled
    assert {(s.start, s.end) for s in doc.spans["span_candidates"]} == {(s.start, s.end) for s in doc.spans["sc"]}


def test_discontinuous_mention_gives_one_span_per_fragment(nlp, train_records):
    record = next(
        r for r in train_records.values()
        if any(len(frags) > 1 for ev in r["annotations"][0]["events"] for frags in ev.get("Effect", {}).get("text", []))
        and r["annotations"][0]["events"][0]["event_type"] == "Adverse_event"
    )
    event = record["annotations"][0]["events"][0]
    fragments = [t for frags in event["Effect"]["text"] for t in frags]
    doc = convert.make_doc(nlp, record, Counter())
    ae_spans = {s.text for s in doc.spans["sc"] if s.label_ == "ADVERSE_EVENT"}
    for fragment in fragments:
        assert any(fragment in text for text in ae_spans), (fragment, ae_spans)


def test_potential_therapeutic_effects_are_not_adverse_events(nlp, train_records):
    record = next(r for r in train_records.values()
                  if all(ev["event_type"] == "Potential_therapeutic_event" for ev in r["annotations"][0]["events"]))
    doc = convert.make_doc(nlp, record, Counter())
    assert not [s for s in doc.spans["sc"] if s.label_ == "ADVERSE_EVENT"]


def test_alignment_and_overlap_counts_stay_near_zero(nlp, phee_train_path):
    stats = Counter()
    for record in convert.read_jsonl(phee_train_path):
        convert.make_doc(nlp, record, stats)
    assert stats["docs"] == 2898
    assert stats["misaligned_dropped"] == 0 and stats["offset_mismatch"] == 0
    assert stats["misaligned_strict"] / stats["fragments"] < 0.01  # snapped to token boundaries, counted
    assert stats["ents_dropped_overlap"] / stats["ents_candidates"] < 0.01


def test_dev_test_split_is_seeded_and_grouped_by_pubmed_id(phee_dev_path):
    records = list(convert.read_jsonl(phee_dev_path))
    dev_a, test_a = convert.split_dev(records, 0.5, 42)
    dev_b, test_b = convert.split_dev(records, 0.5, 42)
    assert [r["id"] for r in test_a] == [r["id"] for r in test_b]
    assert len(dev_a) + len(test_a) == len(records) == 961
    assert not {r["id"].split("_")[0] for r in dev_a} & {r["id"].split("_")[0] for r in test_a}
    _, test_c = convert.split_dev(records, 0.5, 7)
    assert [r["id"] for r in test_c] != [r["id"] for r in test_a]


def test_cli_writes_docbins_and_report(tmp_path, phee_dev_path):
    from typer.testing import CliRunner

    # a small real slice: the first 40 dev records as both "train" and "dev"
    slice_path = tmp_path / "slice.json"
    slice_path.write_text("".join(phee_dev_path.read_text(encoding="utf8").splitlines(keepends=True)[:40]), encoding="utf8")
    result = CliRunner().invoke(convert.app, [str(slice_path), str(slice_path), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "convert_report.json").read_text())
    assert report["splits"]["train"]["docs"] == 40
    assert report["splits"]["dev"]["docs"] + report["splits"]["test"]["docs"] == 40
    assert "misaligned" in result.output and "dropped for overlap" in result.output


def test_bad_json_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "1", "context": "x", "annotations": []}\n{not json\n', encoding="utf8")
    with pytest.raises(convert.PheeFormatError, match=r"bad.json:2"):
        list(convert.read_jsonl(bad))
