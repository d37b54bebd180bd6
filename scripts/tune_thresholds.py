"""Tune the span finder's and the span categorizer's decision thresholds on dev.

    python scripts/tune_thresholds.py training/transformer/model-best corpus/dev.spacy training/transformer/model-tuned

Both thresholds are inference-time settings: the span finder's decides which
tokens start or end a candidate span (recall of the candidates), spancat's
decides which scored candidates become spans. Training does not choose them, so
this step grid-searches them on the dev split (never on the held-out test
split) for the best ``spans_sc`` micro F1, and saves a copy of the pipeline
with the chosen values in both its config.cfg and the components' own cfg.
The transformer runs once; each grid point only re-runs the two small heads.
NER is untouched. The grid and the scores go to ``thresholds.json`` in the output.
"""

import json
from pathlib import Path
from typing import List

import spacy
import typer
from spacy.tokens import DocBin
from spacy.training import Example

app = typer.Typer(add_completion=False)


def parse_grid(text: str) -> List[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise typer.BadParameter(f"not a comma-separated list of numbers: {text!r}") from err
    if not values or not all(0.0 < v < 1.0 for v in values):
        raise typer.BadParameter(f"thresholds must lie strictly between 0 and 1: {text!r}")
    return values


@app.command()
def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline folder"),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Dev .spacy DocBin (not the test split)"),
    output: Path = typer.Argument(..., help="Folder for the tuned pipeline"),
    finder_grid: str = typer.Option("0.1,0.2,0.3,0.4", help="span_finder thresholds to try"),
    spancat_grid: str = typer.Option("0.2,0.25,0.3,0.35,0.4,0.45,0.5", help="spancat thresholds to try"),
    spans_key: str = typer.Option("sc", help="spancat's span group"),
) -> None:
    finder_values, spancat_values = parse_grid(finder_grid), parse_grid(spancat_grid)
    nlp = spacy.load(model)
    for name in ("span_finder", "spancat"):
        if name not in nlp.pipe_names:
            raise typer.BadParameter(f"{model} has no {name!r} component (pipeline: {nlp.pipe_names})")
    finder, spancat = nlp.get_pipe("span_finder"), nlp.get_pipe("spancat")
    gold = list(DocBin().from_disk(dev_path).get_docs(nlp.vocab))
    if not gold:
        raise typer.BadParameter(f"{dev_path} holds no documents")

    # Everything before the span finder (tokenizer, transformer, ner) runs once.
    upstream = nlp.pipe_names[: nlp.pipe_names.index("span_finder")]
    with nlp.select_pipes(enable=upstream):
        base_docs = list(nlp.pipe(g.text for g in gold))
    finder_scores = finder.predict(base_docs)

    results = []
    for f_threshold in finder_values:
        finder.cfg["threshold"] = f_threshold
        docs = [doc.copy() for doc in base_docs]
        for doc, base in zip(docs, base_docs):
            doc._.trf_data = base._.trf_data
        finder.set_annotations(docs, finder_scores)
        span_scores = spancat.predict(docs)
        n_candidates = sum(len(doc.spans["span_candidates"]) for doc in docs)
        for s_threshold in spancat_values:
            spancat.cfg["threshold"] = s_threshold
            spancat.set_annotations(docs, span_scores)
            scores = spancat.score([Example(doc, ref) for doc, ref in zip(docs, gold)])
            row = {
                "span_finder_threshold": f_threshold,
                "spancat_threshold": s_threshold,
                "candidates_per_doc": round(n_candidates / len(docs), 1),
                "p": scores[f"spans_{spans_key}_p"],
                "r": scores[f"spans_{spans_key}_r"],
                "f": scores[f"spans_{spans_key}_f"],
            }
            results.append(row)
            typer.echo(
                f"span_finder {f_threshold:.2f}  spancat {s_threshold:.2f}  "
                f"candidates/doc {row['candidates_per_doc']:6.1f}  P {row['p']:.3f} R {row['r']:.3f} F {row['f']:.3f}"
            )
    best = max(results, key=lambda r: (r["f"], -abs(r["spancat_threshold"] - 0.5)))
    typer.echo(f"best on dev: span_finder {best['span_finder_threshold']}, spancat {best['spancat_threshold']}, F {best['f']:.3f}")

    # Rebuild with the chosen values in the config, then restore the trained
    # weights (from_disk also restores the old cfg, so set it again).
    overrides = {
        "components": {
            "span_finder": {"threshold": best["span_finder_threshold"]},
            "spancat": {"threshold": best["spancat_threshold"]},
        }
    }
    tuned = spacy.load(model, config=overrides)
    tuned.get_pipe("span_finder").cfg["threshold"] = best["span_finder_threshold"]
    tuned.get_pipe("spancat").cfg["threshold"] = best["spancat_threshold"]
    tuned.to_disk(output)
    report = {"model": str(model), "dev": str(dev_path), "objective": f"spans_{spans_key}_f", "best": best, "grid": results}
    (output / "thresholds.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")
    typer.echo(f"saved {output}")


if __name__ == "__main__":
    app()
