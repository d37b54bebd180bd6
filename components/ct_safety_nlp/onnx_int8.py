"""The "onnx-int8" scheme of :func:`ct_safety_nlp.models.int8_copy`: an encoder
run by ONNX Runtime with int8 weights.

:func:`onnx_int8_copy` exports a Hugging Face encoder (a torch module) to ONNX,
quantises its MatMuls dynamically with ONNX Runtime (int8 weights, one scale
per output channel; activations quantised per batch), all of them or all but
those of the encoder layers named in ``fp32_layers`` (which keep fp32
weights: the first layer reads the embeddings, whose outliers cost int8 the
most accuracy; ``spacy project run measure-int8``), and returns an
:class:`OnnxInt8Encoder`: a torch module with the encoder's call signature and
output type, so spacy-transformers' shim runs it in place of the fp32 module
for prediction. It is made on the first CPU prediction after the weights are
loaded (about 5 s for MiniLM on this project's machine); the quantised model's
bytes are kept in a cache folder keyed by a hash of the fp32 weights
(``$CT_CACHE_DIR`` or ``~/.cache/en_clinical_trials``; nothing is written when
the folder cannot be), so a later process loads it in a fraction of a second.

An ONNX Runtime session does not survive ``fork`` (its thread pool stays in
the parent): each process, and each change of ``torch.get_num_threads()``,
gets its own session, built from the same bytes, with that many threads.

Imports torch and onnxruntime: import this module only when the scheme is used.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

__all__ = ["OnnxInt8Encoder", "cache_dir", "layer_nodes", "onnx_int8_copy", "weights_hash"]

#: ONNX operator set of the export (ONNX Runtime 1.17+ runs it)
OPSET = 17
#: rows and padded wordpieces per ONNX Runtime call when a batch is split by length
GROUP_ROWS = 64
GROUP_TOKENS = 1024
#: whether ONNX Runtime's worker threads busy-wait for the next op instead of
#: sleeping. Off: on a machine with as many cores as threads a spinning worker
#: holds a core that the Python components after the transformer (and, with
#: ``ct_prefetch`` or ``n_process``, the other stream) need (see the README's
#: Speed section for the measurement)
ALLOW_SPINNING = False
#: encoder inputs, in the order the export takes them
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: encoder outputs kept (the pooler's only when the encoder has one)
OUTPUTS = ("last_hidden_state", "pooler_output")


def cache_dir() -> Path:
    """Where quantised encoders are kept: ``$CT_CACHE_DIR/onnx`` or ``~/.cache/en_clinical_trials/onnx``."""
    root = os.environ.get("CT_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "en_clinical_trials")
    return Path(root) / "onnx"


def weights_hash(module: torch.nn.Module) -> str:
    """sha256 of a module's parameters and buffers (names, dtypes, shapes, values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return digest.hexdigest()


def _input_names(module: torch.nn.Module) -> List[str]:
    params = inspect.signature(module.forward).parameters
    return [name for name in INPUTS if name in params]


class _Export(torch.nn.Module):
    """The encoder with positional inputs and a tuple of outputs, for torch.onnx.export."""

    def __init__(self, module: torch.nn.Module, inputs: List[str], outputs: List[str]):
        super().__init__()
        self.module = module
        self.inputs = inputs
        self.outputs = outputs

    def forward(self, *args):
        out = self.module(**dict(zip(self.inputs, args)))
        return tuple(getattr(out, name) for name in self.outputs)


def layer_nodes(graph, layers: Sequence[int]) -> List[str]:
    """Names of the MatMul nodes of encoder layers ``layers`` in an exported
    ONNX graph (Hugging Face encoders name them ``.../encoder/layer.<i>/...``);
    raises ValueError naming a layer the graph does not have."""
    names: List[str] = []
    for i in layers:
        found = [n.name for n in graph.node if n.op_type == "MatMul" and f"/layer.{i}/" in n.name]
        if not found:
            raise ValueError(f"onnx-int8: the exported encoder has no MatMul of layer {i} (no node named '.../layer.{i}/...')")
        names += found
    return names


def _quantised_bytes(module: torch.nn.Module, inputs: List[str], outputs: List[str], fp32_layers: Sequence[int] = ()) -> bytes:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    example = tuple(torch.ones(2, 8, dtype=torch.long) if n != "token_type_ids" else torch.zeros(2, 8, dtype=torch.long) for n in inputs)
    axes: Dict[str, Dict[int, str]] = {n: {0: "batch", 1: "length"} for n in inputs}
    axes.update({n: ({0: "batch", 1: "length"} if n == "last_hidden_state" else {0: "batch"}) for n in outputs})
    with tempfile.TemporaryDirectory(prefix="ct-onnx-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp32_path, int8_path = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
        torch.onnx.export(
            _Export(module, inputs, outputs).eval(), example, fp32_path, input_names=inputs, output_names=outputs,
            dynamic_axes=axes, opset_version=OPSET, dynamo=False,
        )
        keep = layer_nodes(onnx.load(fp32_path).graph, fp32_layers) if fp32_layers else []
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=keep)
        return Path(int8_path).read_bytes()


def _cached_bytes(module: torch.nn.Module, inputs: List[str], outputs: List[str], fp32_layers: Sequence[int] = ()) -> bytes:
    key = weights_hash(module)
    kept = "".join(f"-fp32l{i}" for i in fp32_layers)
    path = cache_dir() / f"{key}-{'-'.join(inputs)}-opset{OPSET}{kept}-int8.onnx"
    try:
        data = path.read_bytes()
        _check(data)
        return data
    except OSError:
        pass  # not cached yet
    except Exception:  # noqa: BLE001 - a damaged cache file is made again, never trusted
        path.unlink(missing_ok=True)
    data = _quantised_bytes(module, inputs, outputs, fp32_layers)
    from .fileio import write_atomic

    try:  # written whole, then renamed: a crash never leaves half a file under the final name
        write_atomic(path, data)
    except OSError:
        pass  # a read-only home: the next process quantises again
    return data


def _check(data: bytes) -> None:
    """Raise unless ONNX Runtime can load ``data``."""
    import onnxruntime

    onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])


class OnnxInt8Encoder(torch.nn.Module):
    """A quantised encoder run by ONNX Runtime, called like the Hugging Face
    module it was made from (keyword tensors in, that module's output type out)."""

    def __init__(self, data: bytes, inputs: List[str], outputs: List[str], output_type: type, config: Any = None):
        super().__init__()
        self.data = data
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.output_type = output_type
        self.config = config
        self._session: Optional[Any] = None
        self._session_key: Optional[tuple] = None

    @property
    def device(self) -> "torch.device":
        """Where inputs go (spacy-transformers asks): ONNX Runtime's CPU provider."""
        return torch.device("cpu")

    def session(self):
        """The ONNX Runtime session of this process and torch thread count
        (and :data:`ALLOW_SPINNING`)."""
        key = (os.getpid(), torch.get_num_threads(), ALLOW_SPINNING)
        if self._session is None or self._session_key != key:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = key[1]
            options.inter_op_num_threads = 1
            spin = "1" if ALLOW_SPINNING else "0"
            options.add_session_config_entry("session.intra_op.allow_spinning", spin)
            options.add_session_config_entry("session.inter_op.allow_spinning", spin)
            self._session = onnxruntime.InferenceSession(self.data, options, providers=["CPUExecutionProvider"])
            self._session_key = key
        return self._session

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_: Any):
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        if given["attention_mask"] is None:
            given["attention_mask"] = torch.ones_like(input_ids)
        if given["token_type_ids"] is None:
            given["token_type_ids"] = torch.zeros_like(input_ids)
        feed = {name: given[name].detach().cpu().long().numpy() for name in self.inputs}  # the mask may come as floats
        return self.output_type(**{name: torch.from_numpy(v) for name, v in zip(self.outputs, self._run(feed))})

    def _run(self, feed: Dict[str, Any]) -> List[Any]:
        """The session's outputs for a padded batch, computed on groups of rows of
        similar length, each trimmed to its longest row (:func:`kb.encoder.length_batches`):
        a batch of sentences of one long document is padded to its longest
        sentence otherwise. Padding positions beyond a group's width come back as
        zeros (the caller masks them; they mean nothing either way). Activations
        are quantised per call, so a row's output depends a little on the rows
        it shares a call with, as with any batch."""
        import numpy

        from .kb.encoder import length_batches

        mask = feed["attention_mask"]
        lengths = [int(n) for n in mask.sum(axis=1)]
        if len(lengths) <= 1 or min(lengths) == max(lengths):
            return self.session().run(self.outputs, feed)
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        results: List[Any] = []
        for group in length_batches(order, lengths, GROUP_ROWS, GROUP_TOKENS):
            width = max(1, max(lengths[i] for i in group))
            part = {name: value[group, :width] for name, value in feed.items()}
            values = self.session().run(self.outputs, part)
            if not results:  # shapes of the full batch, zeros where nothing was computed
                results = [numpy.zeros((len(lengths),) + ((mask.shape[1],) if v.ndim == 3 else ()) + v.shape[2 if v.ndim == 3 else 1:], dtype=v.dtype) for v in values]
            for out, v in zip(results, values):
                if v.ndim == 3:
                    out[group, :width] = v
                else:
                    out[group] = v
        return results

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["_session"] = state["_session_key"] = None
        return state


def onnx_int8_copy(module: torch.nn.Module, fp32_layers: Sequence[int] = ()) -> OnnxInt8Encoder:
    """An ONNX Runtime int8 copy of a Hugging Face encoder (see the module
    docstring); the MatMuls of encoder layers ``fp32_layers`` keep fp32 weights."""
    inputs = _input_names(module)
    if "input_ids" not in inputs:
        raise ValueError(f"onnx-int8: {type(module).__name__}.forward takes no input_ids; only Hugging Face encoders can be exported")
    module.eval()
    with torch.no_grad():
        probe = module(**{n: torch.ones(1, 4, dtype=torch.long) if n != "token_type_ids" else torch.zeros(1, 4, dtype=torch.long) for n in inputs})
    outputs = [n for n in OUTPUTS if getattr(probe, n, None) is not None]
    data = _cached_bytes(module, inputs, outputs, tuple(fp32_layers))
    return OnnxInt8Encoder(data, inputs, outputs, type(probe), getattr(module, "config", None))
