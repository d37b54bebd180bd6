"""``en-clinical-trials serve``: the REST API and the review page (uvicorn).

Needs the ``serve`` extra (``pip install 'ct-safety-nlp[serve]'``). Binds
127.0.0.1 unless ``--host`` says otherwise. Each of the ``--workers`` processes
loads the pipeline once. Exit status: 2 for bad options, a missing extra, a
missing API key variable or a pipeline that does not load; 1 when the server
could not start (port in use, a worker failed). Ctrl+C or SIGTERM shut it
down gracefully (requests in flight are answered), after which uvicorn
re-raises the signal, so the process ends with that signal's status (130 /
143 in a shell).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import List, Optional

import typer

DEFAULT_MODEL = "en_clinical_trials"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _fatal(message: str) -> typer.Exit:
    typer.echo(f"serve: error: {message}", err=True)
    return typer.Exit(code=2)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _model_exists(model: str) -> Optional[str]:
    """None when ``model`` looks loadable (a pipeline folder or an installed
    package), else the reason; cheap, for the multi-worker start where the
    parent process does not load the pipeline itself."""
    import importlib.util

    path = Path(model)
    if path.exists():
        return None if (path / "config.cfg").is_file() else f"{model} has no config.cfg, so it is not a spaCy pipeline folder"
    if importlib.util.find_spec(model.replace("-", "_")) is not None:
        return None
    if model == DEFAULT_MODEL:
        return ("the packaged pipeline 'en_clinical_trials' is not installed. Build and install it with "
                "`spacy project run all` (or pip install its wheel), or pass --model with a pipeline folder")
    return f"no pipeline folder or installed pipeline package named {model!r}"


def serve_command(
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Installed pipeline package or pipeline directory."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. The default serves this machine only."),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes, each loading the pipeline once."),
    api_key_env: Optional[str] = typer.Option(
        None, "--api-key-env", metavar="NAME",
        help="Ask every /v1 request (but /v1/health) for the key held in environment variable NAME.",
    ),
    max_bytes: int = typer.Option(1_000_000, "--max-bytes", min=1, help="Largest request body in bytes (413 beyond)."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.001, help="Seconds of pipeline work per request (504 beyond)."),
    max_documents: int = typer.Option(1000, "--max-documents", min=1, help="Most documents in one request (413 beyond)."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Documents per nlp.pipe batch."),
    cors_origin: Optional[List[str]] = typer.Option(
        None, "--cors-origin", help="Allow browser calls from this origin (repeatable; none by default)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="critical, error, warning, info or debug."),
) -> None:
    """Serve the pipeline over HTTP: the REST API under /v1, the review page at /,
    API documentation at /docs. Document text is never logged."""
    from ..serve.settings import ServeSettings, SettingsError, SETTINGS_ENV, origins

    if log_level not in LOG_LEVELS:
        raise _fatal(f"--log-level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    try:
        settings = ServeSettings(
            model=model, max_bytes=max_bytes, timeout_s=timeout, max_documents=max_documents, batch_size=batch_size,
            api_key_env=api_key_env, cors_origins=origins(cors_origin),
        )
        settings.api_key()
    except SettingsError as err:
        raise _fatal(str(err)) from None
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as err:
        raise _fatal(f"the service needs the 'serve' extra ({err.name} is missing): pip install 'ct-safety-nlp[serve]'") from None

    if not _is_loopback(host) and api_key_env is None:
        typer.echo(
            f"serve: warning: serving {host} (not this machine only) without an API key; "
            "anyone who can reach it can send documents. Consider --api-key-env.",
            err=True,
        )
    url = f"http://{host if ':' not in host else '[' + host + ']'}:{port}"
    common = dict(host=host, port=port, log_level=log_level, access_log=False, server_header=False)
    if workers == 1:
        from ..serve.app import configure_logging, create_app
        from ..serve.service import ModelLoadError

        configure_logging(log_level)
        try:
            app = create_app(settings)
        except (ModelLoadError, SettingsError) as err:
            raise _fatal(str(err)) from None
        service = app.state.service
        target = app
        typer.echo(f"serve: pipeline {service.model_name} ({', '.join(service.nlp.pipe_names)}) loaded", err=True)
    else:
        problem = _model_exists(model)
        if problem:
            raise _fatal(problem)
        os.environ[SETTINGS_ENV] = settings.to_json()
        os.environ["CT_SAFETY_NLP_SERVE_LOG_LEVEL"] = log_level
        target = "ct_safety_nlp.serve.app:create_app_from_env"
        common.update(factory=True, workers=workers)
    typer.echo(
        f"serve: review page {url}/ · API {url}/v1/ · docs {url}/docs · {workers} worker(s) · "
        f"API key {'required ($' + api_key_env + ')' if api_key_env else 'not required'} · "
        f"limits {max_bytes} bytes, {max_documents} documents, {timeout:g} s per request",
        err=True,
    )
    try:
        uvicorn.run(target, **common)
    except SystemExit as err:  # uvicorn exits 1 / 3 when it cannot start (port in use, worker failed)
        code = err.code if isinstance(err.code, int) else 1
        if code:
            typer.echo(f"serve: the server stopped with status {code}", err=True)
        raise typer.Exit(code=1 if code else 0) from None
    typer.echo("serve: stopped", err=True)
