"""``en-clinical-trials trial response``: best overall response per subject, ORR
and DCR per arm with exact 95 % CIs, waterfall and swimmer plots.

A thin layer over :mod:`ct_safety_nlp.trial.response` (imported inside the
command). Exit status: 0 done; 2 bad parameters or an input file that cannot
be used (the message names FILE:LINE).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("response")
    def response_command(
        annotations: Path = typer.Argument(..., help="output folder of `annotate` (docs.jsonl with 'responses'; a pipeline with ct_efficacy)"),
        subjects: Path = typer.Option(..., "--subjects", help="ADSL-shaped csv (or parquet): USUBJID, TRT01A (or ACTARM, ARM, TRT01P), TRTSDT (or RANDDT)"),
        output: Path = typer.Option(..., "--output", "-o", help="folder for subjects.csv, arms.csv, timepoints.csv, excluded.csv, response.json, response.html"),
        population_flag: Optional[str] = typer.Option(None, "--population-flag", help="subject file flag column (e.g. ITTFL, EFFFL): only subjects with Y count"),
        confirm: bool = typer.Option(True, "--confirm/--no-confirm", help="CR/PR need a confirming assessment (RECIST 1.1 4.6.1; --no-confirm for randomised trials)"),
        confirm_days: int = typer.Option(28, "--confirm-days", help="minimum days between a CR/PR and its confirmation"),
        sd_min_days: int = typer.Option(42, "--sd-min-days", help="SD counts only at least this many days after the start (the protocol's minimum)"),
        max_ne: int = typer.Option(1, "--max-ne", help="NE assessments allowed between a CR/PR and its confirmation"),
        accept_sd: bool = typer.Option(False, "--accept-sd", help="allow one SD between a PR and its confirmation"),
        title: str = typer.Option("Tumour response (RECIST 1.1)", "--title", help="report title"),
        as_json: bool = typer.Option(False, "--json", help="print the per-arm rates as JSON"),
    ) -> None:
        """Best overall response per subject (RECIST 1.1, confirmation as set), ORR and
        DCR per arm with exact (Clopper–Pearson) 95% CIs, in CSV and an HTML report
        with a waterfall and a swimmer plot."""
        from ct_safety_nlp.trial.inputs import InputFileError
        from ct_safety_nlp.trial.response import read_response_inputs, response_tables
        from ct_safety_nlp.trial.response_report import write_response_outputs

        for name, value in (("--confirm-days", confirm_days), ("--sd-min-days", sd_min_days), ("--max-ne", max_ne)):
            if value < 0:
                typer.echo(f"trial response: error: {name} must be >= 0, got {value}", err=True)
                raise typer.Exit(code=2)
        try:
            subject_map, documents, excluded = read_response_inputs(annotations, subjects, population_flag)
        except InputFileError as err:
            typer.echo(f"trial response: error: {err}", err=True)
            raise typer.Exit(code=2) from None
        if not subject_map:
            n_left = sum(1 for x in excluded if str(x["where"]).startswith(f"{subjects}:"))
            typer.echo(f"trial response: error: {subjects}: no usable subject ({n_left} left out)", err=True)
            raise typer.Exit(code=2)
        typer.echo(f"trial response: {len(subject_map)} subjects, {len(documents)} documents read", err=True)
        result = response_tables(
            documents, subject_map, excluded, confirm=confirm, confirm_days=confirm_days,
            min_sd_days=sd_min_days, max_ne_between=max_ne, accept_sd_between=accept_sd,
        )
        command = "en-clinical-trials trial response " + " ".join(shlex.quote(a) for a in sys.argv[3:]) if sys.argv[1:3] == ["trial", "response"] else ""
        try:
            paths = write_response_outputs(result, str(output), title=title, command=command)
        except OSError as err:
            typer.echo(f"trial response: error: cannot write {output}: {err}", err=True)
            raise typer.Exit(code=2) from None
        if as_json:
            typer.echo(json.dumps({"arms": result["arms"], "parameters": result["parameters"], "files": paths,
                                   "excluded": len(result["excluded"])}, indent=2))
            return
        for a in result["arms"]:
            typer.echo(
                f"{a['arm']}: n={a['n']}  CR {a['n_CR']}  PR {a['n_PR']}  SD {a['n_SD']}  PD {a['n_PD']}  "
                f"NE {a['n_NE']}  missing {a['n_MISSING']}  ORR {a['orr_percent']:.1f}% ({a['orr_ci_low']:.1f}-{a['orr_ci_high']:.1f})  "
                f"DCR {a['dcr_percent']:.1f}% ({a['dcr_ci_low']:.1f}-{a['dcr_ci_high']:.1f})"
            )
        typer.echo(
            f"trial response: {len(result['subjects'])} subjects in {len(result['arms'])} arm(s), "
            f"{len(result['timepoints'])} time points, {len(result['excluded'])} records left out (excluded.csv) -> {paths['html']}"
        )
