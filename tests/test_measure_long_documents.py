"""scripts/measure_long_documents.py: held-out sentences joined into pages with
their gold annotations, config overrides of each variant, and the command end
to end on a small real pipeline (a trained NER would take minutes; a blank
pipeline with an entity ruler is scored instead, whose output does not depend
on the joining, so both figures must agree)."""

import json
import re
import subprocess

import pytest
import spacy
from spacy.tokens import Doc, DocBin

from bulk_helpers import PY, REPO
from scripts.measure_long_documents import VARIANTS, _nested, join_documents


def _doc(nlp, words, ents):
    doc = Doc(nlp.vocab, words=words)
    doc.ents = [doc.char_span(*span, label=label) for span, label in ents]
    return doc


def test_join_keeps_order_annotations_and_the_minimum(tmp_path):
    nlp = spacy.blank("en")
    docs = [_doc(nlp, ["Rash", "after", "amoxicillin", "."], [((0, 4), "ADVERSE_EVENT"), ((11, 22), "DRUG")]) for _ in range(5)]
    pages = join_documents(docs, min_words=8)
    assert [len(p) for p in pages] == [8, 8, 4]  # the last may be shorter
    assert [e.text for e in pages[0].ents] == ["Rash", "amoxicillin", "Rash", "amoxicillin"]
    assert sum(len(p.ents) for p in pages) == 10
    assert join_documents(docs, min_words=1) and len(join_documents(docs, min_words=1)) == 5
    assert len(join_documents(docs, min_words=1000)) == 1


def test_overrides_nest_by_dotted_path():
    assert _nested({"components.spancat.suggester.within_sentences": False}) == {
        "components": {"spancat": {"suggester": {"within_sentences": False}}}}
    assert VARIANTS["shipped"] == {}
    assert VARIANTS["sentence-spans"]["components.transformer.model.get_spans"]["@span_getters"] == "spacy-transformers.sent_spans.v1"


@pytest.fixture
def ruler_model(tmp_path):
    nlp = spacy.blank("en")
    # named "ner": the script scores only the trained components' names (KEEP)
    nlp.add_pipe("entity_ruler", name="ner").add_patterns([{"label": "DRUG", "pattern": "amoxicillin"}])
    nlp.to_disk(tmp_path / "model")
    db = DocBin(store_user_data=True)
    for i in range(30):
        db.add(_doc(nlp, ["Rash", "after", "amoxicillin", f"dose{i}", "."], [((11, 22), "DRUG")]))
    db.to_disk(tmp_path / "test.spacy")
    return tmp_path


def test_the_command_scores_sentences_and_pages(ruler_model):
    out = ruler_model / "long.json"
    proc = subprocess.run([PY, str(REPO / "scripts" / "measure_long_documents.py"), str(ruler_model / "model"),
                           str(ruler_model / "test.spacy"), "--min-words", "40", "--variants", "shipped",
                           "--output", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(out.read_text())["variants"]["shipped"]
    assert row["sentences"]["docs"] == 30 and row["long"]["docs"] == 4  # 150 words in pages of >= 40
    assert row["sentences"]["ents_f"] == row["long"]["ents_f"] == 100.0
    assert row["ents_f_long_minus_sentences"] == 0.0


def test_an_unknown_variant_is_named(ruler_model):
    proc = subprocess.run([PY, str(REPO / "scripts" / "measure_long_documents.py"), str(ruler_model / "model"),
                           str(ruler_model / "test.spacy"), "--variants", "shipped,windows-64",
                           "--output", str(ruler_model / "x.json")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "windows-64" in proc.stderr


def test_a_test_file_that_is_not_a_docbin_is_named(ruler_model):
    bad = ruler_model / "test.jsonl"
    bad.write_text('{"text": "Rash."}\n', encoding="utf-8")
    proc = subprocess.run([PY, str(REPO / "scripts" / "measure_long_documents.py"), str(ruler_model / "model"),
                           str(bad), "--variants", "shipped", "--output", str(ruler_model / "x.json")],
                          capture_output=True, text=True, timeout=300)
    unboxed = " ".join(re.sub("[\u2500-\u257f]", " ", proc.stderr).split())  # typer's error box wraps at the terminal's width
    assert proc.returncode == 2 and "not a spaCy DocBin (.spacy) file" in unboxed
    assert not (ruler_model / "x.json").exists()
