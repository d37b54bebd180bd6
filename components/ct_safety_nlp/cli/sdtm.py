"""``en-clinical-trials sdtm check FILE``: the SDTM AE conformance check
(:mod:`ct_safety_nlp.sdtm.check`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="SDTM AE domain tools.", no_args_is_help=True, add_completion=False)


@app.command("check")
def check_command(
    file: Path = typer.Argument(..., help="AE domain table: ae_sdtm.csv of `annotate`, or any AE CSV / parquet / XPT."),
    aerel: Optional[str] = typer.Option(
        None, "--aerel", help="The sponsor's AEREL codelist, comma-separated (default: RELATED,POSSIBLY RELATED,NOT RELATED)."
    ),
    max_shown: int = typer.Option(50, "--max-shown", help="Problems printed (all are counted)."),
) -> None:
    """Check an SDTM AE table: required variables, controlled terminology, AESEQ
    unique per subject, ISO 8601 dates, seriousness flags against AESER.
    Exit status: 0 no errors (warnings allowed), 1 errors, 2 unreadable file."""
    from ..sdtm.check import check_ae_file

    if not file.is_file():
        typer.echo(f"{file}: no such file", err=True)
        raise typer.Exit(code=2)
    values = [v.strip() for v in aerel.split(",") if v.strip()] if aerel else None
    try:
        problems = check_ae_file(str(file), aerel=values)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        typer.echo(f"{file}: cannot read the table: {err}", err=True)
        raise typer.Exit(code=2)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    for p in problems[:max_shown]:
        typer.echo(f"{file}: {p}")
    if len(problems) > max_shown:
        typer.echo(f"... {len(problems) - max_shown} more")
    typer.echo(f"{file}: {len(errors)} error(s), {len(warnings)} warning(s)")
    raise typer.Exit(code=1 if errors else 0)
