"""ct_safety_nlp.kb.encoder: the embedding fallback's sentence encoder."""

import pickle

import numpy
import pytest

from ct_safety_nlp.kb.encoder import SentenceEncoder, length_batches, minilm_encoder


@pytest.mark.parametrize(
    "lengths,max_items,max_tokens,expected",
    [
        ([2, 2, 2], 2, 100, [[0, 1], [2]]),  # at most max_items per batch
        ([2, 2, 2], 10, 6, [[0, 1, 2]]),  # 3 x 2 = 6 padded tokens: fits exactly
        ([2, 2, 2], 10, 5, [[0, 1], [2]]),  # 3 x 2 = 6 > 5
        ([1, 1, 10], 10, 20, [[0, 1], [2]]),  # the long one would pad the others to 30
        ([1, 1, 10], 10, 30, [[0, 1, 2]]),
        ([50], 10, 20, [[0]]),  # longer than max_tokens alone: a batch of its own
        ([], 10, 20, []),
    ],
)
def test_length_batches(lengths, max_items, max_tokens, expected):
    assert length_batches(list(range(len(lengths))), lengths, max_items, max_tokens) == expected


def test_length_batches_keep_the_order_given():
    assert length_batches([2, 0, 1], [5, 1, 3], 2, 100) == [[2, 0], [1]]


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder()


TEXTS = ["nausea", "grade 3 febrile neutropenia after the second cycle of docetaxel and cyclophosphamide", "rash", "liver injury"]


def test_embeddings_in_the_order_given_match_one_at_a_time(encoder):
    together = encoder.embed(TEXTS).astype(numpy.float32)
    alone = numpy.concatenate([encoder.embed([t]) for t in TEXTS]).astype(numpy.float32)
    assert together.shape == (4, 384) and together.dtype == numpy.float32
    assert numpy.abs(together - alone).max() < 2e-3  # float16 rounding only
    assert numpy.allclose(numpy.linalg.norm(together, axis=1), 1, atol=2e-3)
    assert encoder.embed([]).shape == (0, 384)


def test_int8_encoder_is_close_to_fp32_and_pickles_its_setting(encoder, tmp_path, monkeypatch):
    from ct_safety_nlp.onnx_int8 import OnnxInt8Encoder

    monkeypatch.setenv("CT_CACHE_DIR", str(tmp_path))
    int8 = minilm_encoder(inference_int8=True)
    assert int8.config()["inference_int8"] is True and not int8.is_loaded
    a = encoder.embed(TEXTS).astype(numpy.float32)
    b = int8.embed(TEXTS).astype(numpy.float32)
    assert isinstance(int8.load()[1], OnnxInt8Encoder)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.97 and numpy.abs(a - b).max() > 0  # close, and the int8 copy really ran
    again = pickle.loads(pickle.dumps(int8))
    assert again.inference_int8 is True and not again.is_loaded


def test_int8_setting_must_be_a_bool():
    with pytest.raises(ValueError, match="inference_int8 must be true or false"):
        SentenceEncoder(inference_int8="yes")
