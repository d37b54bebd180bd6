"""``en-clinical-trials annotate``: the typer front of :mod:`ct_safety_nlp.bulk`.

Kept thin on purpose: it only maps options to :class:`bulk.run.AnnotateOptions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def annotate_command(
    inputs: List[str] = typer.Argument(..., help="Files, folders (searched recursively) or glob patterns (quote them)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output directory (created if needed)."),
    model: str = typer.Option("en_clinical_trials", "--model", "-m", help="Installed pipeline package or pipeline directory."),
    formats: List[str] = typer.Option(
        ["txt", "md", "jsonl", "csv", "tsv"], "--format", "-f",
        help="Input formats to read from folders/globs (repeat or comma-separate): txt, md, jsonl, csv, tsv.",
    ),
    n_process: int = typer.Option(1, "--n-process", "-n", help="Worker processes for nlp.pipe (local engine)."),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", "-b",
        help="Documents per nlp.pipe batch and per commit. Default: 16 (transformer, CPU), 64 (transformer, GPU), 256 otherwise.",
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to use (local engine); with --engine ray: one GPU per actor."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed or interrupted run in the same --output."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete this tool's previous results in --output first."),
    engine: str = typer.Option("local", "--engine", "-e", help="local (this machine) or ray (Ray Data; needs the 'ray' extra)."),
    text_field: str = typer.Option("text", "--text-field", help="Field / column holding the text in jsonl, csv and tsv."),
    max_bytes: int = typer.Option(1_000_000, "--max-bytes", help="Larger files or rows go to errors.jsonl."),
    encoding: str = typer.Option("auto", "--encoding", help="'auto' (BOM, UTF-8, honest fallback) or a codec applied strictly."),
    text: bool = typer.Option(True, "--text/--no-text", help="Store each document's text in docs.jsonl."),
    docbin: bool = typer.Option(False, "--docbin", help="Also write docs.spacy (a DocBin; held in memory when merged)."),
    html_limit: int = typer.Option(0, "--html", help="Write report.html (displaCy + AE table) for the first N documents."),
    progress: str = typer.Option("auto", "--progress", help="auto, bar, lines or none."),
    code: Optional[Path] = typer.Option(None, "--code", help="Python file to import first (registers custom components)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster address (default: $RAY_ADDRESS, else a local instance)."),
    ray_num_cpus: Optional[int] = typer.Option(None, "--ray-num-cpus", help="CPUs of a local Ray instance started by this command."),
    num_actors: int = typer.Option(0, "--num-actors", help="Ray actors, each loading the pipeline once (default: CPUs / --cpus-per-actor)."),
    cpus_per_actor: float = typer.Option(1.0, "--cpus-per-actor", help="CPUs reserved per Ray actor (also its torch threads)."),
    gpus_per_actor: float = typer.Option(0.0, "--gpus-per-actor", help="GPUs per Ray actor (e.g. 1, or 0.5 to share)."),
    studyid: Optional[str] = typer.Option(None, "--studyid", help="STUDYID of ae_sdtm.csv (default: each row's studyid field)."),
    subjects: Optional[Path] = typer.Option(
        None, "--subjects",
        help="Mapping file (csv/tsv: id or doc_id, usubjid; optional visit_date, ady) for documents without a usubjid field.",
    ),
) -> None:
    """Annotate folders of documents into docs.jsonl, errors.jsonl and CSV tables.

    Every input document ends up exactly once in docs.jsonl or errors.jsonl, also
    after a crash and --resume. Exit status: 0 all documents annotated, 3 finished
    with some documents in errors.jsonl, 2 bad arguments / model / output
    directory, 1 crashed, 4 output could not be written part-way (disk full),
    130 interrupted (continue with --resume).
    """
    from ..bulk.run import AnnotateOptions, annotate

    if subjects is not None:
        from ..trial.inputs import InputFileError, read_mapping

        try:
            read_mapping(str(subjects))
        except (InputFileError, OSError) as err:
            typer.echo(f"--subjects: {err}", err=True)
            raise typer.Exit(code=2)

    fmts: List[str] = []
    for f in formats:
        fmts.extend(part.strip().lower().lstrip(".") for part in f.split(",") if part.strip())
    opts = AnnotateOptions(
        inputs=list(inputs), output=str(output), model=model, formats=tuple(fmts), n_process=n_process,
        batch_size=batch_size, gpu_id=gpu_id, resume=resume, overwrite=overwrite, engine=engine,
        max_bytes=max_bytes, text_field=text_field, encoding=encoding, include_text=text, docbin=docbin,
        html_limit=html_limit, progress=progress, code=str(code) if code else None, ray_address=ray_address,
        ray_num_cpus=ray_num_cpus, num_actors=num_actors, cpus_per_actor=cpus_per_actor,
        gpus_per_actor=gpus_per_actor, studyid=studyid, subjects=str(subjects) if subjects else None,
    )
    raise typer.Exit(code=annotate(opts))
