"""Set the CPU inference precision of an assembled pipeline's transformer.

The transformer is sourced from the training run, so its config comes with
it; this writes ``inference_int8`` and ``int8_scheme`` of
``ct.TransformerModel.v1`` into ``PIPELINE/config.cfg`` (the weights stay
fp32: the int8 copy is made at run time, on CPU only).

    python scripts/set_inference_precision.py training/assembled --int8 per-channel-ffn
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


@app.command()
def main(
    pipeline: Path = typer.Argument(..., help="a saved pipeline folder (training/assembled)"),
    int8: Optional[str] = typer.Option(None, "--int8", help="int8 scheme for CPU inference (per-channel-ffn, per-channel, per-tensor)"),
    fp32: bool = typer.Option(False, "--fp32", help="fp32 inference (turn int8 off)"),
) -> None:
    if (int8 is None) == (not fp32):
        raise typer.BadParameter("give exactly one of --int8 SCHEME or --fp32")
    set_precision(pipeline, None if fp32 else int8)
    typer.echo(f"{pipeline}: transformer inference {'fp32' if fp32 else 'int8 ' + int8} on CPU")


if __name__ == "__main__":
    app()
