"""``en-clinical-trials trial ...``: trial-level commands.

Each command lives in its own module of this package, which defines
``register(app: typer.Typer) -> None``; :data:`COMMAND_MODULES` lists them.
Modules are imported only when the CLI starts, and each imports its library
code inside the command function, so ``--help`` stays fast.
"""

import importlib

import typer

#: module names under ``ct_safety_nlp.cli.trial``, in the order ``--help`` lists them
COMMAND_MODULES: tuple = ("safety", "response", "escalation", "allocation")


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="trial",
        help="Trial-level reasoning: patients and AE episodes, AE tables, dose escalation, allocation, response.",
        no_args_is_help=True,
        add_completion=False,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(app)
    return app
