"""``ct_release_trf_data``: empties ``doc._.trf_data`` (the transformer's
wordpieces and hidden states) once the components that listen to it have run.

The shipped pipeline places it right after ``spancat``, the last listener. A
Doc then carries no hidden states (384 floats per wordpiece for MiniLM, more
than the text itself many times over): less memory in a bulk run, and with
``nlp.pipe(n_process=N)`` the workers send back Docs a fraction of the size.
Who wants the hidden states loads the pipeline with
``exclude=["ct_release_trf_data"]``.
"""

from typing import Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["ReleaseTrfData", "make_release_trf_data"]


class ReleaseTrfData:
    """Sets ``doc._.trf_data`` to spacy-transformers' empty TransformerData."""

    def __init__(self, name: str = "ct_release_trf_data"):
        self.name = name

    def __call__(self, doc: Doc) -> Doc:
        if Doc.has_extension("trf_data"):
            from spacy_transformers.data_classes import TransformerData

            doc._.trf_data = TransformerData.empty()
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        for doc in stream:
            yield self(doc)


@Language.factory("ct_release_trf_data", assigns=["doc._.trf_data"], default_config={})
def make_release_trf_data(nlp: Language, name: str) -> ReleaseTrfData:
    """Factory of ``ct_release_trf_data`` (see the module docstring)."""
    return ReleaseTrfData(name)
