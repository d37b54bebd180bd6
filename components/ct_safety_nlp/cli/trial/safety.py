"""``en-clinical-trials trial summarize``: the typer front of
:func:`ct_safety_nlp.trial.safety.run.summarize` (thin on purpose)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def summarize_command(
    annotations: Path = typer.Argument(..., help="The --output folder of `en-clinical-trials annotate` (its docs.jsonl)."),
    subjects: Path = typer.Option(..., "--subjects", "-s", help="ADSL-shaped subject file (csv or parquet): USUBJID, TRT01A or ARM, SAFFL, TRTSDT[, TRTEDT]."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the tables, episodes, reconciliation and report.html."),
    map_path: Optional[Path] = typer.Option(None, "--map", help="csv: document id -> usubjid, visit_date or ady, cycle."),
    edc: Optional[Path] = typer.Option(None, "--edc", help="SDTM AE or ADaM ADAE table (csv or parquet) to reconcile with."),
    protocol: Optional[Path] = typer.Option(None, "--protocol", help="Protocol rules (YAML/JSON): DLT and recommended action per episode."),
    end_window: Optional[int] = typer.Option(None, "--end-window", help="TEAE only if onset <= last dose + N days (admiral end_window; default: no limit)."),
    tables_from: str = typer.Option("text", "--tables-from", help="Count episodes from the text (default) or from the --edc table."),
    dose_level_column: Optional[str] = typer.Option(None, "--dose-level-column", help="Dose level column of the subject file (escalation trials)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Subjects, AE episodes, treatment-emergent AE tables by arm, EDC reconciliation and an HTML report.

    Exit status: 0 done (excluded records are listed in excluded.csv and counted,
    not an error); 2 an input file cannot be used (the message names FILE:LINE)
    or bad options; 1 crashed.
    """
    from ...protocol import ProtocolError
    from ...trial.inputs import InputFileError
    from ...trial.safety.run import SummarizeOptions, summarize, summary_line

    opts = SummarizeOptions(
        annotations=str(annotations), subjects=str(subjects), output=str(output),
        map_path=str(map_path) if map_path else None, edc=str(edc) if edc else None,
        protocol=str(protocol) if protocol else None, end_window=end_window, tables_from=tables_from,
        dose_level_column=dose_level_column, report=report,
    )
    try:
        summary = summarize(opts)
    except (InputFileError, ProtocolError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(summary_line(summary))


def register(app: typer.Typer) -> None:
    app.command("summarize")(summarize_command)
