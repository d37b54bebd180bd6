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
and, with ``--transformer-spans``, the transformer's span getter (by its name in
:func:`ct_safety_nlp.sentences.transformer_spans`: whole sentences packed into
64-128 tokens, as shipped; one sentence each; strided windows).

    python scripts/set_inference_precision.py training/assembled --int8 onnx-int8 --max-batch-items 512 --spans-within-sentences --transformer-spans sentence-groups
    python scripts/set_inference_precision.py training/assembled --fp32

Every option is checked against the pipeline before anything is written; then
config.cfg (and transformer/cfg, for --max-batch-items) are each written once,
atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, help=__doc__)


def _load(pipeline: Path):
    """``(path, config)`` of ``pipeline``'s config.cfg, uninterpolated."""
    from spacy.util import load_config

    path = pipeline / "config.cfg"
    if not path.is_file():
        raise typer.BadParameter(f"{path} does not exist: not a saved pipeline folder")
    return path, load_config(path, interpolate=False)


def _transformer_model(path: Path, config) -> dict:
    model = config.get("components", {}).get("transformer", {}).get("model")
    if not model or model.get("@architectures") != "ct.TransformerModel.v1":
        raise typer.BadParameter(f"{path}: [components.transformer.model] is not ct.TransformerModel.v1")
    return model


def apply_precision(path: Path, config, scheme: Optional[str]) -> None:
    """``scheme`` None: fp32; else an int8 scheme of :data:`ct_safety_nlp.models.INT8_SCHEMES`."""
    from ct_safety_nlp.models import INT8_SCHEMES

    if scheme is not None and scheme not in INT8_SCHEMES:
        raise typer.BadParameter(f"--int8 must be one of {', '.join(INT8_SCHEMES)}, got {scheme!r}")
    model = _transformer_model(path, config)
    model["inference_int8"] = scheme is not None
    if scheme is not None:
        model["int8_scheme"] = scheme


def apply_max_batch_items(path: Path, config, n: int) -> None:
    if n < 1:
        raise typer.BadParameter(f"--max-batch-items must be positive, got {n}")
    if not (path.parent / "transformer" / "cfg").is_file():
        raise typer.BadParameter(f"{path.parent} has no config.cfg and transformer/cfg: not a saved transformer pipeline")
    config["components"]["transformer"]["max_batch_items"] = n


def apply_transformer_spans(path: Path, config, kind: str) -> None:
    """The transformer's span getter, by its name in
    :func:`ct_safety_nlp.sentences.transformer_spans` (``sentence-groups``, the
    shipped one; ``sentences``; ``strided``, the training config's windows; ...);
    a getter that reads ``doc.sents`` needs ``ct_sentences`` before the transformer."""
    from ct_safety_nlp.sentences import transformer_spans

    try:
        getter, needs_sentences = transformer_spans(kind)
    except ValueError as err:
        raise typer.BadParameter(f"--transformer-spans: {err}") from err
    model = config.get("components", {}).get("transformer", {}).get("model")
    if not model:
        raise typer.BadParameter(f"{path}: no [components.transformer.model]")
    if needs_sentences and "ct_sentences" not in config["nlp"]["pipeline"][: config["nlp"]["pipeline"].index("transformer")]:
        raise typer.BadParameter(f"{path}: --transformer-spans {kind} needs ct_sentences before the transformer in [nlp] pipeline")
    model["get_spans"] = getter


def apply_spans_within_sentences(path: Path, config, on: bool) -> None:
    """``within_sentences`` of spancat's ct.span_candidates_suggester.v1."""
    suggester = config.get("components", {}).get("spancat", {}).get("suggester")
    if not suggester or suggester.get("@misc") != "ct.span_candidates_suggester.v1":
        raise typer.BadParameter(f"{path}: [components.spancat.suggester] is not ct.span_candidates_suggester.v1")
    suggester["within_sentences"] = on


def _write(path: Path, config, max_batch_items: Optional[int] = None) -> None:
    import srsly

    from ct_safety_nlp.fileio import write_atomic

    write_atomic(path, config.to_str())
    if max_batch_items is not None:
        cfg_path = path.parent / "transformer" / "cfg"
        cfg = srsly.read_json(cfg_path)
        cfg["max_batch_items"] = max_batch_items
        write_atomic(cfg_path, srsly.json_dumps(cfg, indent=2) + "\n")


def set_precision(pipeline: Path, scheme: Optional[str]) -> None:
    """Write one setting: ``scheme`` None: fp32; else an int8 scheme."""
    path, config = _load(pipeline)
    apply_precision(path, config, scheme)
    _write(path, config)


def set_max_batch_items(pipeline: Path, n: int) -> None:
    """The transformer component's ``max_batch_items``, in config.cfg and transformer/cfg."""
    path, config = _load(pipeline)
    apply_max_batch_items(path, config, n)
    _write(path, config, n)


@app.command()
def main(
    pipeline: Path = typer.Argument(..., help="a saved pipeline folder (training/assembled)"),
    int8: Optional[str] = typer.Option(None, "--int8", help="int8 scheme for CPU inference (onnx-int8, per-channel-ffn, per-channel, per-tensor)"),
    fp32: bool = typer.Option(False, "--fp32", help="fp32 inference (turn int8 off)"),
    max_batch_items: Optional[int] = typer.Option(None, "--max-batch-items", help="padded spaCy tokens per transformer forward pass"),
    spans_within_sentences: bool = typer.Option(False, "--spans-within-sentences", help="spancat candidates never cross a sentence boundary"),
    transformer_spans: Optional[str] = typer.Option(None, "--transformer-spans", help="sentence-groups (whole sentences packed into 64-128 tokens; shipped), sentence-groups-N, sentences (one each), strided (128-token windows, stride 96) or strided-W-S"),
) -> None:
    if (int8 is None) == (not fp32):
        raise typer.BadParameter("give exactly one of --int8 SCHEME or --fp32")
    path, config = _load(pipeline)
    apply_precision(path, config, None if fp32 else int8)
    done = [f"transformer inference {'fp32' if fp32 else 'int8 ' + int8} on CPU"]
    if max_batch_items is not None:
        apply_max_batch_items(path, config, max_batch_items)
        done.append(f"transformer max_batch_items {max_batch_items}")
    if spans_within_sentences:
        apply_spans_within_sentences(path, config, True)
        done.append("spancat candidates within sentences")
    if transformer_spans is not None:
        apply_transformer_spans(path, config, transformer_spans)
        done.append(f"transformer spans {transformer_spans}")
    _write(path, config, max_batch_items)  # only now: a bad option above leaves the pipeline as it was
    for line in done:
        typer.echo(f"{pipeline}: {line}")


if __name__ == "__main__":
    app()
