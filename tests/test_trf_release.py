"""ct_release_trf_data: the transformer's hidden states are dropped after the listeners."""

import pickle

import pytest
import spacy

from ct_safety_nlp.trf_release import ReleaseTrfData


def test_empties_trf_data_and_keeps_everything_else():
    spacy_transformers = pytest.importorskip("spacy_transformers")
    from spacy_transformers.data_classes import TransformerData
    from spacy_transformers.pipeline_component import install_extensions

    install_extensions()  # what a transformer component does when built
    nlp = spacy.blank("en")
    release = nlp.add_pipe("ct_release_trf_data")
    assert isinstance(release, ReleaseTrfData) and spacy_transformers
    doc = nlp.make_doc("Grade 3 nausea after cisplatin.")
    doc._.trf_data = TransformerData.zeros(4, 8, xp=__import__("numpy"))
    assert len(doc._.trf_data.tensors) > 0
    doc.ents = [doc.char_span(8, 14, label="ADVERSE_EVENT")]
    (out,) = list(release.pipe([doc]))
    assert len(out._.trf_data.tensors) == 0
    assert [(e.text, e.label_) for e in out.ents] == [("nausea", "ADVERSE_EVENT")]
    assert nlp("No trf_data set: nothing to drop.").text  # a Doc that never had hidden states


def test_pickles_and_saves():
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_release_trf_data")
    again = pickle.loads(pickle.dumps(nlp.get_pipe("ct_release_trf_data")))
    assert again.name == "ct_release_trf_data"
    assert spacy.blank("en").from_bytes(nlp.to_bytes()) is not None
    assert "ct_release_trf_data" in spacy.blank("en").from_config(nlp.config).pipe_names
