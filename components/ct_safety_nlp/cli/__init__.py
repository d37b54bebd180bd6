"""The ``en-clinical-trials`` console command.

Sits on top of the library: nothing imports this module. Each subcommand lives
in its own module and is imported only when the CLI starts.
"""

import typer

app = typer.Typer(
    name="en-clinical-trials",
    help="Clinical-trial safety NLP: annotate document folders, generate follow-up records.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("info")
def info() -> None:
    """Print the library version, its registered spaCy factories and whether the
    packaged pipeline ``en_clinical_trials`` is installed."""
    import importlib.util

    from .. import __version__

    typer.echo(f"ct-safety-nlp {__version__}")
    try:
        from importlib.metadata import entry_points

        eps = sorted(ep.name for ep in entry_points(group="spacy_factories") if ep.value.startswith("ct_safety_nlp"))
    except Exception as err:  # pragma: no cover - metadata broken in the env
        eps = [f"<could not read entry points: {err}>"]
    typer.echo("factories: " + (", ".join(eps) or "none"))
    found = importlib.util.find_spec("en_clinical_trials") is not None
    typer.echo("en_clinical_trials pipeline: " + ("installed" if found else "not installed"))


def _register_subcommands() -> None:
    # Imported here, not at module level, so `--help` of one subcommand never
    # pays for another's imports beyond its own module.
    from .annotate import annotate_command
    from .generate import generate_command
    from .serve import serve_command

    app.command("annotate")(annotate_command)
    app.command("generate")(generate_command)
    app.command("serve")(serve_command)
    from .kb import app as kb_app

    app.add_typer(kb_app, name="kb")
    from .sdtm import app as sdtm_app

    app.add_typer(sdtm_app, name="sdtm")
    from .trial import COMMAND_MODULES, build_app

    if COMMAND_MODULES:
        app.add_typer(build_app(), name="trial")


def main() -> None:
    _register_subcommands()
    app()
