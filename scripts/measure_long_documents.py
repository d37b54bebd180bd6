"""Accuracy of the model components on long documents beside sentences (issue 16).

The held-out split's sentences are scored as they are (one Doc each) and again
joined, in file order, into documents of at least --min-words words (the gold
entities and spans carried over with ``Doc.from_docs``). The split has no
PubMed ids, so a document joins neighbouring sentences, not always of one
abstract: multi-sentence text at the length of a page, which is what the
transformer's windows and the span suggester see in a case report or a label
section. Each --variant is a set of config overrides of the loaded pipeline
(the span getter's window / stride, the suggester's ``within_sentences``),
scored in the same run.

    python scripts/measure_long_documents.py training/assembled corpus/test.spacy --min-words 1000 \\
        --output metrics/long_documents.json
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import typer

from ct_safety_nlp.sentences import transformer_spans

app = typer.Typer(add_completion=False, help=__doc__)

KEEP = ("ct_sentences", "transformer", "ner", "span_finder", "spancat")

#: name -> config overrides (dotted paths of the loaded pipeline's config)
VARIANTS: Dict[str, Dict[str, Any]] = {
    "shipped": {},
    "candidates-across-sentences": {"components.spancat.suggester.within_sentences": False},
}
# the transformer's span getters, by their names in ct_safety_nlp.sentences.transformer_spans
for _name in ["sentences", "strided-128-96", "strided-128-112", "strided-128-128", "strided-64-48", "strided-48-32"] + [
    f"sentence-groups-{n}" for n in (8, 16, 32, 64, 96, 128)
]:
    VARIANTS["sentence-spans" if _name == "sentences" else _name] = {
        "components.transformer.model.get_spans": transformer_spans(_name)[0]}

#: what a run scores unless --variants says otherwise
DEFAULT_VARIANTS = ("shipped", "strided-128-96", "sentence-spans", "candidates-across-sentences")


def join_documents(docs: List[Any], min_words: int) -> List[Any]:
    """Consecutive Docs joined into Docs of at least ``min_words`` tokens (the last may be shorter)."""
    from spacy.tokens import Doc

    out, group, words = [], [], 0
    for doc in docs:
        group.append(doc)
        words += len(doc)
        if words >= min_words:
            out.append(Doc.from_docs(group))
            group, words = [], 0
    if group:
        out.append(Doc.from_docs(group))
    return out


def _nested(overrides: Dict[str, Any]) -> Dict[str, Any]:
    config: Dict[str, Any] = {}
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return config


def score(nlp, docs: List[Any]) -> Dict[str, float]:
    from spacy.training import Example

    examples = [Example(nlp.make_doc(d.text), d) for d in docs]
    start = time.perf_counter()
    scores = nlp.evaluate(examples, batch_size=32)
    seconds = time.perf_counter() - start
    words = sum(len(d) for d in docs)
    out = {k: round(float(scores[k]) * 100, 2) for k in ("ents_f", "spans_sc_f") if scores.get(k) is not None}
    out.update({"docs": len(docs), "words": words, "words_per_s": round(words / seconds, 1)})
    return out


@app.command()
def main(
    model: str = typer.Argument(..., help="pipeline folder or package (training/assembled)"),
    test_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="held-out split (.spacy)"),
    min_words: int = typer.Option(1000, "--min-words", min=1),
    variants: str = typer.Option(",".join(DEFAULT_VARIANTS), "--variants", help=f"comma-separated, of: {', '.join(VARIANTS)}"),
    output: Path = typer.Option(Path("metrics/long_documents.json"), "--output"),
) -> None:
    import spacy
    from spacy.tokens import DocBin

    import ct_safety_nlp  # noqa: F401 - registers the architectures

    names = [v.strip() for v in variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise typer.BadParameter(f"--variants: unknown {unknown}; known: {', '.join(VARIANTS)}")
    results: Dict[str, Any] = {
        "model": model, "test": str(test_path), "min_words": min_words,
        "command": "python scripts/measure_long_documents.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "variants": {},
    }
    for name in names:
        try:
            nlp = spacy.load(model, config=_nested(VARIANTS[name]))
        except (OSError, ValueError) as err:
            raise typer.BadParameter(f"cannot load {model!r} with variant {name!r}: {err}") from err
        nlp.select_pipes(enable=[p for p in nlp.pipe_names if p in KEEP])
        try:
            sentences = list(DocBin().from_disk(test_path).get_docs(nlp.vocab))
        except ValueError as err:
            raise typer.BadParameter(f"{test_path}: not a spaCy DocBin (.spacy) file ({err})") from err
        if not sentences:
            raise typer.BadParameter(f"{test_path}: no documents")
        pages = join_documents(sentences, min_words)
        row = {"overrides": VARIANTS[name], "sentences": score(nlp, sentences), "long": score(nlp, pages)}
        for key in ("ents_f", "spans_sc_f"):
            if key in row["sentences"] and key in row["long"]:
                row[f"{key}_long_minus_sentences"] = round(row["long"][key] - row["sentences"][key], 2)
        results["variants"][name] = row
        typer.echo(f"{name}: {json.dumps(row)}", err=True)
    from ct_safety_nlp.fileio import write_atomic

    write_atomic(output, json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    app()
