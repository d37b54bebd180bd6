"""Set the CPU inference precision of an assembled pipeline's transformer.

The transformer is sourced from the training run, so its config comes with
it; this writes ``inference_int8`` and ``int8_scheme`` of
``ct.TransformerModel.v1`` into ``PIPELINE/config.cfg`` (the weights stay
fp32: the int8 copy is made at run time, on CPU only), and, with
``--max-batch-items``, the transformer component's padded batch size (spaCy
tokens per forward pass: spacy-transformers sorts a batch by length and splits
it there), in both the config and the component's saved ``cfg``, and, with
``--spans-within-sentences``, ``within_sentences`` of spancat's
``ct.span_candidates_suggester.v1`` (no candidate across a sentence boundary),
and, with ``--transformer-spans``, the transformer's span getter (each
sentence, or strided windows).

    python scripts/set_inference_precision.py training/assembled --int8 onnx-int8 --max-batch-items 512 --spans-within-sentences --transformer-spans strided
    python scripts/set_inference_precision.py training/assembled --fp32
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, help=__doc__)


def set_precision(pipeline: Path, scheme: Optional[str]) -> None:
    """``scheme`` None: fp32; else an int8 scheme of :data:`ct_safety_nlp.models.INT8_SCHEMES`."""
    from spacy.util import load_config

    from ct_safety_nlp.models import INT8_SCHEMES

    path = pipeline / "config.cfg"
    if not path.is_file():
        raise typer.BadParameter(f"{path} does not exist: not a saved pipeline folder")
    if scheme is not None and scheme not in INT8_SCHEMES:
        raise typer.BadParameter(f"--int8 must be one of {', '.join(INT8_SCHEMES)}, got {scheme!r}")
    config = load_config(path, interpolate=False)
    model = config.get("components", {}).get("transformer", {}).get("model")
    if not model or model.get("@architectures") != "ct.TransformerModel.v1":
        raise typer.BadParameter(f"{path}: [components.transformer.model] is not ct.TransformerModel.v1")
    model["inference_int8"] = scheme is not None
    if scheme is not None:
        model["int8_scheme"] = scheme
    config.to_disk(path)


def set_max_batch_items(pipeline: Path, n: int) -> None:
    """The transformer component's ``max_batch_items``, in config.cfg and transformer/cfg."""
    import srsly
    from spacy.util import load_config

    if n < 1:
        raise typer.BadParameter(f"--max-batch-items must be positive, got {n}")
    path, cfg_path = pipeline / "config.cfg", pipeline / "transformer" / "cfg"
    if not path.is_file() or not cfg_path.is_file():
        raise typer.BadParameter(f"{pipeline} has no config.cfg and transformer/cfg: not a saved transformer pipeline")
    config = load_config(path, interpolate=False)
    config["components"]["transformer"]["max_batch_items"] = n
    config.to_disk(path)
    cfg = srsly.read_json(cfg_path)
    cfg["max_batch_items"] = n
    srsly.write_json(cfg_path, cfg)


#: --transformer-spans values -> the span getter written into the config
SPAN_GETTERS = {
    "sentences": {"@span_getters": "spacy-transformers.sent_spans.v1"},
    "strided": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
}


def set_transformer_spans(pipeline: Path, kind: str) -> None:
    """The transformer's span getter in config.cfg: each sentence (``doc.sents``:
    needs ``ct_sentences`` before it) or strided 128-token windows (the training config's)."""
    from spacy.util import load_config

    if kind not in SPAN_GETTERS:
        raise typer.BadParameter(f"--transformer-spans must be one of {', '.join(SPAN_GETTERS)}, got {kind!r}")
    path = pipeline / "config.cfg"
    if not path.is_file():
        raise typer.BadParameter(f"{path} does not exist: not a saved pipeline folder")
    config = load_config(path, interpolate=False)
    model = config.get("components", {}).get("transformer", {}).get("model")
    if not model:
        raise typer.BadParameter(f"{path}: no [components.transformer.model]")
    if kind == "sentences" and "ct_sentences" not in config["nlp"]["pipeline"][: config["nlp"]["pipeline"].index("transformer")]:
        raise typer.BadParameter(f"{path}: sentence spans need ct_sentences before the transformer in [nlp] pipeline")
    model["get_spans"] = dict(SPAN_GETTERS[kind])
    config.to_disk(path)


def set_spans_within_sentences(pipeline: Path, on: bool) -> None:
    """``within_sentences`` of spancat's ct.span_candidates_suggester.v1 in config.cfg."""
    from spacy.util import load_config

    path = pipeline / "config.cfg"
    if not path.is_file():
        raise typer.BadParameter(f"{path} does not exist: not a saved pipeline folder")
    config = load_config(path, interpolate=False)
    suggester = config.get("components", {}).get("spancat", {}).get("suggester")
    if not suggester or suggester.get("@misc") != "ct.span_candidates_suggester.v1":
        raise typer.BadParameter(f"{path}: [components.spancat.suggester] is not ct.span_candidates_suggester.v1")
    suggester["within_sentences"] = on
    config.to_disk(path)


@app.command()
def main(
    pipeline: Path = typer.Argument(..., help="a saved pipeline folder (training/assembled)"),
    int8: Optional[str] = typer.Option(None, "--int8", help="int8 scheme for CPU inference (onnx-int8, per-channel-ffn, per-channel, per-tensor)"),
    fp32: bool = typer.Option(False, "--fp32", help="fp32 inference (turn int8 off)"),
    max_batch_items: Optional[int] = typer.Option(None, "--max-batch-items", help="padded spaCy tokens per transformer forward pass"),
    spans_within_sentences: bool = typer.Option(False, "--spans-within-sentences", help="spancat candidates never cross a sentence boundary"),
    transformer_spans: Optional[str] = typer.Option(None, "--transformer-spans", help="sentences or strided (128-token windows)"),
) -> None:
    if (int8 is None) == (not fp32):
        raise typer.BadParameter("give exactly one of --int8 SCHEME or --fp32")
    set_precision(pipeline, None if fp32 else int8)
    typer.echo(f"{pipeline}: transformer inference {'fp32' if fp32 else 'int8 ' + int8} on CPU")
    if max_batch_items is not None:
        set_max_batch_items(pipeline, max_batch_items)
        typer.echo(f"{pipeline}: transformer max_batch_items {max_batch_items}")
    if spans_within_sentences:
        set_spans_within_sentences(pipeline, True)
        typer.echo(f"{pipeline}: spancat candidates within sentences")
    if transformer_spans is not None:
        set_transformer_spans(pipeline, transformer_spans)
        typer.echo(f"{pipeline}: transformer spans {transformer_spans}")


if __name__ == "__main__":
    app()
