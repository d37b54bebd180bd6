"""Per-label exact-match precision / recall / F1 of a trained pipeline.

    python scripts/evaluate.py training/transformer/model-best corpus/test.spacy metrics/transformer

Writes ``scores.json`` (everything spaCy's scorer reports, plus per-label
tables and the evaluation speed) and ``scores.md`` (the tables the README shows)
for ``doc.ents`` and ``doc.spans["sc"]``. Scores are exact match: a predicted
span counts only if its start, end and label equal a gold span's.
"""

import json
import time
from pathlib import Path
from typing import Dict

import spacy
import typer
from spacy.tokens import DocBin
from spacy.training import Example

app = typer.Typer(add_completion=False)


def per_label_table(per_type: Dict[str, Dict[str, float]], gold_counts: Dict[str, int]) -> list:
    rows = []
    for label in sorted(per_type):
        s = per_type[label]
        rows.append({"label": label, "p": s["p"], "r": s["r"], "f": s["f"], "support": gold_counts.get(label, 0)})
    return rows


def markdown_table(title: str, rows: list, micro: Dict[str, float]) -> str:
    lines = [f"**{title}**", "", "| label | P | R | F1 | gold spans |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['label']} | {row['p']:.3f} | {row['r']:.3f} | {row['f']:.3f} | {row['support']} |")
    total = sum(row["support"] for row in rows)
    lines.append(f"| **micro** | **{micro['p']:.3f}** | **{micro['r']:.3f}** | **{micro['f']:.3f}** | {total} |")
    return "\n".join(lines) + "\n"


@app.command()
def main(
    model: str = typer.Argument(..., help="Pipeline folder or installed package name"),
    data_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Gold .spacy DocBin"),
    output_dir: Path = typer.Argument(..., help="Folder for scores.json and scores.md"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
    spans_key: str = typer.Option("sc", help="Key of the span categorizer's span group"),
) -> None:
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    gold_docs = list(DocBin().from_disk(data_path).get_docs(nlp.vocab))
    if not gold_docs:
        raise typer.BadParameter(f"{data_path} holds no documents")
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in gold_docs]
    start = time.perf_counter()
    scores = nlp.evaluate(examples)
    seconds = time.perf_counter() - start
    n_words = sum(len(doc) for doc in gold_docs)

    ent_counts: Dict[str, int] = {}
    span_counts: Dict[str, int] = {}
    for doc in gold_docs:
        for ent in doc.ents:
            ent_counts[ent.label_] = ent_counts.get(ent.label_, 0) + 1
        for span in doc.spans.get(spans_key, []):
            span_counts[span.label_] = span_counts.get(span.label_, 0) + 1

    ents_rows = per_label_table(scores.get("ents_per_type") or {}, ent_counts)
    spans_rows = per_label_table(scores.get(f"spans_{spans_key}_per_type") or {}, span_counts)
    ents_micro = {k: scores.get(f"ents_{k}") or 0.0 for k in "prf"}
    spans_micro = {k: scores.get(f"spans_{spans_key}_{k}") or 0.0 for k in "prf"}
    result = {
        "model": model,
        "data": str(data_path),
        "n_docs": len(gold_docs),
        "n_words": n_words,
        "eval_seconds": round(seconds, 2),
        "eval_words_per_second": round(n_words / seconds, 1),
        "ents": {"micro": ents_micro, "per_label": ents_rows},
        "spans_" + spans_key: {"micro": spans_micro, "per_label": spans_rows},
        "spacy_scores": scores,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "scores.json").write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf8")
    md = (
        f"Exact match on `{data_path}` ({len(gold_docs)} sentences, {n_words} tokens); "
        f"pipeline `{model}`.\n\n"
        + markdown_table("doc.ents", ents_rows, ents_micro)
        + "\n"
        + markdown_table(f'doc.spans["{spans_key}"]', spans_rows, spans_micro)
    )
    (output_dir / "scores.md").write_text(md, encoding="utf8")
    typer.echo(md)


if __name__ == "__main__":
    app()
