"""Write the package meta: configs/meta.json plus the measured test-split scores.

    python scripts/write_meta.py configs/meta.json metrics/transformer/scores.json OUT.json --version 0.1.0

``spacy package`` copies ``performance`` into the wheel's meta.json, so users
see the held-out numbers with `spacy info en_clinical_trials`.
"""

import json
from pathlib import Path

import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(
    meta_path: Path = typer.Argument(..., exists=True, dir_okay=False),
    scores_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="scores.json from scripts/evaluate.py"),
    output_path: Path = typer.Argument(...),
    version: str = typer.Option(..., help="Package version"),
) -> None:
    meta = json.loads(meta_path.read_text(encoding="utf8"))
    scores = json.loads(scores_path.read_text(encoding="utf8"))
    performance = {}
    for group in ("ents", "spans_sc"):
        micro = scores[group]["micro"]
        for key in "prf":
            performance[f"{group}_{key}"] = round(micro[key], 4)
        performance[f"{group}_per_type"] = {
            row["label"]: {k: round(row[k], 4) for k in "prf"} for row in scores[group]["per_label"]
        }
    meta["version"] = version
    meta["performance"] = performance
    meta["performance_note"] = f"exact match on {scores['data']} ({scores['n_docs']} held-out PHEE dev sentences)"
    output_path.parent.mkdir(parents=True, exist_ok=True)
    output_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf8")
    typer.echo(f"wrote {output_path}")


if __name__ == "__main__":
    app()
