"""ct_safety_nlp.prefetch: ``ct_prefetch`` runs the components before it in a
background thread; every Doc comes out once, in order, annotated as without
it; errors reach the caller; a reader that stops early stops the thread, and so
does interpreter exit when a reader left its stream open."""

import pickle
import subprocess
import sys
import threading
import time

import pytest
import spacy
from spacy.language import Language

from ct_safety_nlp import prefetch
from ct_safety_nlp.prefetch import Prefetch

TEXTS = [f"Patient {i} had grade {i % 4 + 1} nausea after cisplatin." for i in range(300)]


@Language.component("test_prefetch_thread_mark")
def _thread_mark(doc):
    doc.user_data["thread"] = threading.current_thread().name
    return doc


def _nlp(max_ahead=8):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("test_prefetch_thread_mark", name="before")
    nlp.add_pipe("ct_prefetch", config={"max_ahead": max_ahead})
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "DRUG", "pattern": "cisplatin"}, {"label": "ADVERSE_EVENT", "pattern": "nausea"}])
    return nlp


def test_every_doc_once_in_order_with_the_same_annotations_as_without_it():
    nlp = _nlp()
    docs = list(nlp.pipe(TEXTS, batch_size=16))
    assert [d.text for d in docs] == TEXTS
    with nlp.select_pipes(disable=["ct_prefetch"]):
        plain = list(nlp.pipe(TEXTS, batch_size=16))
    assert [[(e.text, e.label_) for e in d.ents] for d in docs] == [[(e.text, e.label_) for e in d.ents] for d in plain]
    # the components before it ran in its thread, those without it in the caller's
    assert {d.user_data["thread"] for d in docs} == {"ct_prefetch-worker"}
    assert {d.user_data["thread"] for d in plain} == {threading.current_thread().name}


def test_one_doc_passes_through_and_an_empty_stream_gives_nothing():
    nlp = _nlp()
    doc = nlp("No nausea.")
    assert [e.text for e in doc.ents] == ["nausea"]
    assert list(nlp.pipe([])) == []


def test_an_error_before_it_reaches_the_caller_and_no_thread_is_left():
    nlp = spacy.blank("en")

    @Language.component("test_prefetch_fails_on_bad")
    def fails(doc):
        if "BAD" in doc.text:
            raise ValueError(f"cannot read {doc.text!r}")
        return doc

    nlp.add_pipe("test_prefetch_fails_on_bad")
    nlp.add_pipe("ct_prefetch", config={"max_ahead": 2})
    texts = ["fine"] * 5 + ["BAD one"] + ["fine"] * 5
    seen = []
    with pytest.raises(ValueError, match="cannot read 'BAD one'"):
        for doc in nlp.pipe(texts, batch_size=1):
            seen.append(doc.text)
    assert seen == ["fine"] * 5  # everything before the error came out, once
    assert not [t for t in threading.enumerate() if t.name == "ct_prefetch-worker"]


def test_a_reader_that_stops_early_stops_the_thread_and_the_stream_before_it():
    consumed = []

    def stream():
        try:
            for i in range(10_000):
                consumed.append(i)
                yield spacy.blank("en").make_doc(str(i))
        finally:
            consumed.append("closed")

    component = Prefetch(max_ahead=4)
    out = component.pipe(stream())
    assert [next(out).text for _ in range(3)] == ["0", "1", "2"]
    out.close()
    assert not [t for t in threading.enumerate() if t.name == "ct_prefetch-worker"]
    assert consumed[-1] == "closed"
    # at most max_ahead (4) queued plus the one waiting to be queued beyond the 3 read
    assert len(consumed) - 1 <= 3 + 4 + 1


def test_the_background_thread_stays_at_most_max_ahead_docs_ahead():
    made = []

    def stream():
        for i in range(100):
            made.append(i)
            yield spacy.blank("en").make_doc(str(i))

    out = Prefetch(max_ahead=5).pipe(stream())
    next(out)
    time.sleep(0.5)  # ample time to run ahead if it could
    assert 1 + 5 <= len(made) <= 1 + 5 + 1
    assert len(list(out)) == 99


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "8"])
def test_max_ahead_must_be_a_positive_whole_number(bad):
    with pytest.raises(ValueError, match="max_ahead must be a whole number of Docs >= 1"):
        Prefetch("ct_prefetch", bad)


def test_pickles_saves_and_works_with_processes(tmp_path):
    nlp = _nlp(max_ahead=3)
    again = pickle.loads(pickle.dumps(nlp.get_pipe("ct_prefetch")))
    assert again.max_ahead == 3
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    assert loaded.get_pipe("ct_prefetch").max_ahead == 3
    docs = list(loaded.pipe(TEXTS[:40], batch_size=8, n_process=2))
    assert [d.text for d in docs] == TEXTS[:40]
    assert all(len(d.ents) == 2 for d in docs)


def test_exit_stops_a_stream_its_reader_left_open():
    nlp = _nlp(max_ahead=4)
    docs = nlp.pipe(TEXTS, batch_size=4)
    next(docs)
    workers = [t for t in threading.enumerate() if t.name == "ct_prefetch-worker"]
    assert workers and all(t.is_alive() for t in workers)
    prefetch._stop_all()  # what interpreter exit runs (atexit)
    assert not any(t.is_alive() for t in workers)
    assert not prefetch._RUNNING
    docs.close()


# A reader that raises while the background thread is inside ONNX Runtime: at
# exit the thread used to be killed mid-run, and the process aborted
# ("terminate called without an active exception", status 134).
_READER_RAISES = """
import numpy as np, onnxruntime, spacy
from onnx import TensorProto, helper
from spacy.language import Language

w = helper.make_tensor("w", TensorProto.FLOAT, [512, 512], np.eye(512, dtype=np.float32).ravel())
nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"y{i - 1}", "w"], [f"y{i}"]) for i in range(40)]
graph = helper.make_graph(
    nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 512])],
    [helper.make_tensor_value_info("y39", TensorProto.FLOAT, [None, 512])], [w],
)
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = 2
session = onnxruntime.InferenceSession(
    helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString(),
    options, providers=["CPUExecutionProvider"],
)
batch = np.ones((256, 512), dtype=np.float32)


@Language.component("onnx_work")
def onnx_work(doc):
    session.run(None, {"x": batch})
    return doc


nlp = spacy.blank("en")
nlp.add_pipe("onnx_work")
nlp.add_pipe("ct_prefetch")


def read(docs):
    for doc in docs:
        raise RuntimeError("the reader fails")


read(nlp.pipe(["a b c"] * 400, batch_size=4))
"""


def test_a_reader_that_raises_exits_with_its_own_error_not_an_abort(tmp_path):
    script = tmp_path / "reader_raises.py"
    script.write_text(_READER_RAISES, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert "RuntimeError: the reader fails" in done.stderr
    assert "terminate called" not in done.stderr
    assert done.returncode == 1
