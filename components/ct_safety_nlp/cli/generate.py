"""``en-clinical-trials generate``: follow-up records for a JSON-lines file.

Each input line: ``{"id": str|int, "text": str, "context": {...}}`` (context
optional, see ``ct_safety_nlp.followup`` for its keys). Each output line, in
input order: ``{"id": ..., "record": str, "narrative": str|null, "issues": [str]}``.

A bad input line (not JSON, not an object, no id, no text, a bad context, an id
seen before, or a Doc the pipeline fails on) is reported on stderr as
``FILE:LINE: problem``, counted and skipped; blank lines are ignored. With
``--strict`` the command exits 1 when any line was bad or any record has a
faithfulness issue. Fatal problems (model, config, input file) exit 2.
"""

import json
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import typer

DEFAULT_MODEL = "en_clinical_trials"
BACKENDS = ("template", "llm")


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _fatal(message: str) -> "typer.Exit":
    _err(f"generate: error: {message}")
    return typer.Exit(code=2)


def _load_pipeline(model: str):
    import spacy

    try:
        return spacy.load(model)
    except OSError as err:
        if model == DEFAULT_MODEL:
            raise _fatal(
                f"the packaged pipeline '{DEFAULT_MODEL}' is not installed. Build and install it with "
                "`spacy project run all` followed by `pip install packages/en_clinical_trials-*/dist/*.whl`, "
                "or pass --model with a pipeline name or directory."
            ) from err
        raise _fatal(f"could not load the pipeline {model!r}: {err}") from err


def _read_config(path: Path):
    """A spaCy config file; a bare ``[components.llm]`` section is enough (``[components]`` is implied)."""
    from confection import Config

    if not path.is_file():
        raise _fatal(f"--config {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
        if not any(line.strip() == "[components]" for line in text.splitlines()):
            text = "[components]\n\n" + text
        return Config().from_str(text, interpolate=True)
    except Exception as err:  # confection raises several types for bad files
        raise _fatal(f"--config {path}: not a valid spaCy config file: {err}") from err


def _component_cfg(config, name: str) -> Optional[Dict[str, Any]]:
    section = config.get("components", {}).get(name)
    if section is None:
        return None
    cfg = dict(section)
    cfg.pop("factory", None)
    return cfg


def _prepare(nlp, backend: str, config_path: Optional[Path]) -> List[str]:
    """Add the generation component for ``backend``; return pipes to disable."""
    config = _read_config(config_path) if config_path is not None else None
    if backend == "template":
        cfg = _component_cfg(config, "ct_followup") if config is not None else None
        if cfg is not None:
            if "ct_followup" in nlp.component_names:
                nlp.remove_pipe("ct_followup")
            nlp.add_pipe("ct_followup", config=cfg)
        elif "ct_followup" in nlp.disabled:  # the shipped pipeline makes the record on request only
            nlp.enable_pipe("ct_followup")
        elif "ct_followup" not in nlp.pipe_names:
            nlp.add_pipe("ct_followup")
        return []
    if config is None:
        raise _fatal("--backend llm needs --config FILE with a [components.llm] section (task ct.FollowUpRecord.v1, "
                     "model ct.OpenAICompatible.v1); see the README")
    cfg = _component_cfg(config, "llm")
    if cfg is None:
        raise _fatal(f"--config {config_path}: no [components.llm] section")
    try:
        import spacy_llm  # noqa: F401
    except ImportError as err:
        raise _fatal("--backend llm needs spacy-llm: pip install 'ct-safety-nlp[llm]'") from err
    if "llm" in nlp.pipe_names:
        nlp.remove_pipe("llm")
    try:
        llm = nlp.add_pipe("llm", config=cfg)
    except Exception as err:
        raise _fatal(f"--config {config_path}: could not build the llm component: {err}") from err
    task = llm.task
    if hasattr(task, "initialize") and hasattr(task, "ae_terms") and not task.ae_terms:
        task.initialize(lambda: [], nlp)  # take the check's vocabulary from ct_followup / ct_reasoner
    return ["ct_followup"] if "ct_followup" in nlp.pipe_names else []


def _parse_line(raw: str, seen: set) -> Tuple[Any, str, Dict[str, Any]]:
    from ..followup import validate_context

    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if "id" not in obj:
        raise ValueError("missing 'id'")
    rid = obj["id"]
    if isinstance(rid, bool) or not isinstance(rid, (str, int)) or (isinstance(rid, str) and not rid.strip()):
        raise ValueError(f"'id' must be a non-empty string or an integer, got {rid!r}")
    if rid in seen:
        raise ValueError(f"duplicate id {rid!r}")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' must be a non-empty string")
    context = validate_context(obj.get("context"), where="context")
    return rid, text, context


def _records(path: Path, stats: Dict[str, int]) -> Iterator[Tuple[int, Any, str, Dict[str, Any]]]:
    seen: set = set()
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                stats["blank"] += 1
                continue
            try:
                rid, text, context = _parse_line(raw, seen)
            except ValueError as err:
                stats["bad"] += 1
                _err(f"{path}:{lineno}: {err}; line skipped")
                continue
            seen.add(rid)
            yield lineno, rid, text, context


def _collect_errors(failed: Dict[int, str]):
    """A spaCy error handler that records, per input line, which component failed."""

    def on_error(proc_name, proc, docs, error) -> None:
        for doc in docs:
            failed[doc.user_data.get("ct_line")] = f"pipeline component {proc_name!r} failed: {type(error).__name__}: {error}"

    return on_error


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def generate_command(
    input_path: Path = typer.Argument(..., metavar="INPUT.jsonl", help="JSON lines: {\"id\", \"text\", \"context\"}"),
    output: Path = typer.Option(..., "--output", "-o", help="where to write the records (JSON lines)"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="pipeline package name or directory"),
    backend: str = typer.Option("template", "--backend", "-b", help="template (default) or llm"),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="spaCy config file with a components.llm section (llm backend) or a components.ct_followup section (template backend)"
    ),
    strict: bool = typer.Option(False, "--strict", help="exit 1 if any line is bad or any record has an issue"),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="docs per nlp.pipe batch"),
) -> None:
    """Write a follow-up record (and AE narrative for serious events) for each input line,
    checked for faithfulness against the facts the pipeline extracted."""
    from ..bulk.engine_local import run_components, set_error_handler
    from ..extensions import register_extensions

    if backend not in BACKENDS:
        raise _fatal(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not input_path.is_file():
        raise _fatal(f"input file {input_path} does not exist")
    register_extensions()
    started = time.perf_counter()
    nlp = _load_pipeline(model)
    disable = _prepare(nlp, backend, config)
    _err(f"generate: pipeline {model} ({', '.join(p for p in nlp.pipe_names if p not in disable)}), backend {backend}")

    stats = {"written": 0, "bad": 0, "blank": 0, "with_issues": 0}
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as out:
        for batch in _batches(_records(input_path, stats), batch_size):
            docs = []
            for lineno, _rid, text, context in batch:
                doc = nlp.make_doc(text)
                doc._.ct_context = context
                doc.user_data["ct_line"] = lineno
                docs.append(doc)
            failed: Dict[int, str] = {}
            on_error = _collect_errors(failed)
            set_error_handler(nlp, on_error)
            try:
                with nlp.select_pipes(disable=disable):
                    done = {doc.user_data["ct_line"]: doc for doc in nlp.pipe(docs)}
            except Exception:  # noqa: BLE001
                # a component that cannot take the error handler (spaCy's ner) raised:
                # run this batch one document at a time, naming the component that fails
                done = {}
                for doc in docs:
                    line = doc.user_data["ct_line"]
                    annotated, error = run_components(nlp, doc, disable)
                    if error is None:
                        done[line] = annotated
                    else:
                        failed[line] = error
            results = []
            for item, doc in zip(batch, docs):
                lineno = item[0]
                if lineno in done:
                    results.append((item, done[lineno]))
                    continue
                stats["bad"] += 1
                reason = failed.get(lineno, "the pipeline dropped this line")
                _err(f"{input_path}:{lineno}: {reason}; line skipped")
            for (lineno, rid, _text, _ctx), doc in results:
                result = doc._.ct_followup or {}
                issues = [str(i) for i in (doc._.ct_followup_issues or [])]
                if not result.get("record"):
                    issues.append("no record was generated")
                out.write(json.dumps(
                    {"id": rid, "record": result.get("record", ""), "narrative": result.get("narrative"),
                     "issues": issues},
                    ensure_ascii=False,
                ) + "\n")
                stats["written"] += 1
                if issues:
                    stats["with_issues"] += 1
                    for issue in issues:
                        _err(f"{input_path}:{lineno}: id {rid!r}: {issue}")
            if stats["written"] and stats["written"] % (batch_size * 10) == 0:
                _err(f"generate: {stats['written']} records written...")
    elapsed = time.perf_counter() - started
    _err(
        f"generate: wrote {stats['written']} records to {output} ({stats['with_issues']} with issues); "
        f"{stats['bad']} bad input lines skipped; {stats['blank']} blank lines ignored; {elapsed:.1f}s"
    )
    if strict and (stats["bad"] or stats["with_issues"]):
        _err("generate: --strict: failing because of bad lines or faithfulness issues")
        raise typer.Exit(code=1)


if __name__ == "__main__":  # pragma: no cover
    typer.run(generate_command)
