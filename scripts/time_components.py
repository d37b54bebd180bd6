"""Seconds spent in each pipeline component, first pass and second pass.

    python scripts/time_components.py en_clinical_trials assets/phee/dev.json --n-docs 300 --output metrics/components.json

The first pass includes one-time costs (ct_reasoner loads its MiniLM fallback
model lazily, at the first mention that needs it); the second pass, on the next
--n-docs texts, shows the steady state. Each component runs over the whole batch
with its own ``pipe`` (as ``nlp.pipe`` does), in one process.
"""

import json
import time
from pathlib import Path
from typing import Dict, List

import typer

app = typer.Typer(add_completion=False)


def _texts(path: Path, n: int) -> List[str]:
    from ct_safety_nlp.fileio import read_jsonl_texts

    try:
        texts = read_jsonl_texts(path)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    if len(texts) < n:
        raise typer.BadParameter(
            f"{path} has {len(texts)} texts; --n-docs {n} needs at least {n} (2 x {n} for two different passes)"
        )
    return texts


def time_pass(nlp, texts: List[str], batch_size: int) -> Dict[str, float]:
    seconds = {name: 0.0 for name in nlp.pipe_names}
    for i in range(0, len(texts), batch_size):
        docs = [nlp.make_doc(t) for t in texts[i : i + batch_size]]
        for name, proc in nlp.pipeline:
            start = time.perf_counter()
            docs = list(proc.pipe(docs, batch_size=batch_size)) if hasattr(proc, "pipe") else [proc(d) for d in docs]
            seconds[name] += time.perf_counter() - start
    return {name: round(s, 3) for name, s in seconds.items()}


@app.command()
def main(
    model: str = typer.Argument(..., help="Installed package or pipeline folder"),
    texts_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON lines with 'text' or 'context'"),
    n_docs: int = typer.Option(300, "--n-docs", min=1, help="Documents per pass"),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    output: Path = typer.Option(None, "--output", help="JSON file for the results"),
) -> None:
    import spacy

    texts = _texts(texts_path, n_docs)
    try:
        nlp = spacy.load(model)
    except (OSError, ValueError) as err:
        raise typer.BadParameter(f"cannot load pipeline {model!r}: {err}") from err
    first = time_pass(nlp, texts[:n_docs], batch_size)
    rest = texts[n_docs : 2 * n_docs] or texts[:n_docs]
    second = time_pass(nlp, rest, batch_size)
    result = {"model": model, "texts": str(texts_path), "first_pass": {"docs": n_docs, "seconds": first},
              "second_pass": {"docs": len(rest), "seconds": second}}
    for name in nlp.pipe_names:
        typer.echo(f"{name:14s} first {first[name]:8.3f} s   second {second[name]:8.3f} s "
                   f"({1000 * second[name] / len(rest):.1f} ms/doc)")
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    app()
