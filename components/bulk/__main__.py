"""``python -m ct_safety_nlp.bulk INPUT... --output DIR``: the annotate command
on its own (same options as ``en-clinical-trials annotate``)."""

import typer

from ..annotate import annotate_command


def main() -> None:
    app = typer.Typer(add_completion=False)
    app.command()(annotate_command)
    app()


if __name__ == "__main__":
    main()
