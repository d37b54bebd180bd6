"""Score pipelines on the whole-document AE evaluation set (issue 11).

    python scripts/evaluate_documents.py [--gold assets/eval/documents/gold.jsonl]
        [--rules/--no-rules] [--model NAME=PATH ...] [--with-spans SPANS ...] [--ids ID,ID]
        --output metrics/documents_eval.json --markdown metrics/documents_eval.md

Configurations, one row each: ``rules`` (``spacy.blank("en")`` + ``ct_reasoner``
initialised from the assets, as ``evaluate_reasoner.py`` builds it) unless
``--no-rules``, then every ``--model`` (a path or package; ``NAME=PATH`` names
the row), each followed by a row ``NAME+SPANS`` for every ``--with-spans
SPANS``: the same pipeline loaded with another transformer span getter (a name
of :func:`ct_safety_nlp.sentences.transformer_spans`: ``strided``,
``sentence-groups-8``, ...). A model path that does not exist is reported as skipped, not an
error. ``--validate-only`` checks the gold file and exits.

The scoring rules are in :mod:`ct_safety_nlp.evaluation.documents`.

Exit status: 0 scored (or valid); 1 the gold file is invalid (every problem
printed as FILE:LINE: problem); 2 bad arguments, a table file missing, or a
pipeline that exists but does not load.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

import typer


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    os.chmod(tmp, 0o644)  # mkstemp makes it 0600; metrics are shared files
    try:
        with os.fdopen(fd, "w", encoding="utf8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _progress(name: str):
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] > 10:
            last[0] = now
            typer.echo(f"  {name}: {done}/{total} documents", err=True)

    return report


def main(
    gold: Path = typer.Option(Path("assets/eval/documents/gold.jsonl"), "--gold", help="gold JSON lines"),
    rules: bool = typer.Option(True, "--rules/--no-rules", help="score blank en + ct_reasoner from the assets"),
    model: List[str] = typer.Option([], "--model", help="pipeline to score: PATH or NAME=PATH (repeatable)"),
    with_spans: List[str] = typer.Option([], "--with-spans", help="also score each --model with this transformer span getter (a name of ct_safety_nlp.sentences.transformer_spans, e.g. strided), as row NAME+SPANS (repeatable)"),
    ids: str = typer.Option("", "--ids", help="comma-separated document ids to score (default: all)"),
    ctcae: Path = typer.Option(Path("assets/ctcae/CTCAE_v5.0.xlsx"), "--ctcae"),
    synonyms: Path = typer.Option(Path("assets/ctcae_synonyms.json"), "--synonyms"),
    protocol: Optional[Path] = typer.Option(Path("assets/protocol_rules.yml"), "--protocol"),
    output: Path = typer.Option(Path("metrics/documents_eval.json"), "--output"),
    markdown: Path = typer.Option(Path("metrics/documents_eval.md"), "--markdown"),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    validate_only: bool = typer.Option(False, "--validate-only", help="check the gold file and exit"),
    as_json: bool = typer.Option(False, "--json", help="print the whole report as JSON on stdout"),
) -> None:
    """Run each configuration over the documents; write JSON and Markdown metrics."""
    from ct_safety_nlp.kb import read_ctcae_workbook
    from ct_safety_nlp.evaluation import documents as D
    from ct_safety_nlp.evaluation.pipelines import load_pipeline, rules_pipeline
    from spacy.util import is_package

    def say(message: str) -> None:  # human output; on stderr when stdout carries --json
        typer.echo(message, err=as_json)

    try:
        table = read_ctcae_workbook(ctcae)
    except (FileNotFoundError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2)
    try:
        golds = D.load_gold(gold, table)
    except D.GoldError as err:
        for p in err.problems:
            typer.echo(p, err=True)
        typer.echo(f"gold file invalid: {len(err.problems)} problem(s)", err=True)
        raise typer.Exit(1)
    summary = D.gold_summary(golds)
    if validate_only:
        say(
            f"{gold}: valid: {summary['documents']} documents, {len(summary['genres'])} genres, "
            f"{summary['adverse_events']} AEs ({summary['present']} present, {summary['negated']} negated, "
            f"{summary['historical']} historical), {summary['regimens']} regimens"
        )
        return
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        unknown = sorted(set(wanted) - {g.id for g in golds})
        if unknown:
            typer.echo(f"error: --ids: unknown document id(s) {unknown}", err=True)
            raise typer.Exit(2)
        golds = [g for g in golds if g.id in set(wanted)]
        summary = D.gold_summary(golds)

    from ct_safety_nlp.sentences import transformer_spans

    overrides = {}
    for spans in with_spans:
        try:
            getter = transformer_spans(spans)[0]
        except ValueError as err:
            typer.echo(f"error: --with-spans: {err}", err=True)
            raise typer.Exit(2)
        overrides[spans] = {"components": {"transformer": {"model": {"get_spans": getter}}}}
    configs = []  # (row name, label, path, config overrides)
    if rules:
        configs.append(("rules", "blank:en + ct_reasoner (assets)", None, None))
    for spec in model:
        name, _, path = spec.partition("=") if "=" in spec else (spec, "", spec)
        configs.append((name, path, path, None))
        configs.extend((f"{name}+{spans}", f"{path}, transformer spans {spans}", path, override)
                       for spans, override in overrides.items())
    if not configs:
        typer.echo("error: nothing to score (--no-rules and no --model)", err=True)
        raise typer.Exit(2)

    report = {"gold": str(gold), "gold_summary": summary, "configurations": []}
    for name, label, path, override in configs:
        if path is not None and not Path(path).exists() and not is_package(path):
            say(f"{name}: skipped ({path} does not exist)")
            report["configurations"].append({"name": name, "pipeline": label, "status": "skipped",
                                             "reason": f"{path} does not exist"})
            continue
        try:
            nlp = rules_pipeline(ctcae, synonyms, protocol) if path is None else load_pipeline(path, config=override)
            if override is not None and "transformer" not in nlp.pipe_names:
                raise ValueError(f"it has no transformer component for the span getter (pipes: {nlp.pipe_names})")
        except (OSError, ValueError) as err:
            typer.echo(f"error: {name}: pipeline {label!r} does not load: {err}", err=True)
            raise typer.Exit(2)
        start = time.monotonic()
        preds = D.run_pipeline(nlp, golds, batch_size=batch_size, progress=_progress(name))
        seconds = round(time.monotonic() - start, 1)
        result = D.score(golds, preds)
        report["configurations"].append({"name": name, "pipeline": label, "status": "scored",
                                         "pipes": list(nlp.pipe_names), "seconds": seconds, **result})
        o, r = result["overall"]["counts"], result["overall"]["ratios"]
        say(
            f"{name}: AEs found {o['found']}/{o['gold_present']}, false positives {o['false_positives']}, "
            f"term-less records {o['termless']}, grade {r['grade']['correct']}/{r['grade']['total']}, "
            f"suspect drug {r['suspect_drug']['correct']}/{r['suspect_drug']['total']} ({seconds} s)"
        )
    _write_atomic(output, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    _write_atomic(markdown, D.to_markdown(report))
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    scored = sum(1 for c in report["configurations"] if c["status"] == "scored")
    say(f"scored {scored} configuration(s) on {summary['documents']} documents -> {output}, {markdown}")


if __name__ == "__main__":
    typer.run(main)
