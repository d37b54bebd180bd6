"""``annotate``: discover inputs, run an engine, journal the records, export.

Exit codes (:mod:`ct_safety_nlp.bulk`):

* 0 - every input document is in ``docs.jsonl``;
* 1 - the command crashed (an unexpected Python exception; committed work is
  kept, so ``--resume`` continues after the cause is fixed);
* 2 - nothing (more) was processed: bad arguments, inputs that do not exist,
  a model that does not load, an output directory that is in use (another
  run holds its lock), holds another run's results or cannot be written;
* 3 - the run finished, but some documents are in ``errors.jsonl``
  (deliberately not 1, so scripts can tell "finished with bad documents"
  from "crashed");
* 4 - the output directory could not be written part-way (disk full, made
  read-only); what was committed is kept, ``--resume`` continues once there
  is room;
* 130 - interrupted (Ctrl-C / SIGTERM); what was committed is kept, continue
  with ``--resume``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, TextIO

from . import EXIT_DOC_ERRORS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, EXIT_WRITE_FAILED
from .journal import OutputDir, OutputError, OutputWriteError
from .readers import ALL_FORMATS, DEFAULT_MAX_BYTES, ROW_FORMATS, InputError, discover, read_ref
from .usercode import import_code


@dataclass
class AnnotateOptions:
    inputs: Sequence[str]
    output: str
    model: str = "en_clinical_trials"
    formats: Sequence[str] = ALL_FORMATS
    n_process: int = 1
    batch_size: Optional[int] = None
    gpu_id: int = -1
    resume: bool = False
    overwrite: bool = False
    engine: str = "local"
    max_bytes: int = DEFAULT_MAX_BYTES
    text_field: str = "text"
    encoding: str = "auto"
    include_text: bool = True
    docbin: bool = False
    html_limit: int = 0
    progress: str = "auto"
    progress_interval: float = 10.0
    code: Optional[str] = None
    ray_address: Optional[str] = None
    ray_num_cpus: Optional[int] = None
    num_actors: int = 0
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    studyid: Optional[str] = None
    subjects: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


def _limit_threads(n_process: int) -> None:
    """With several processes on few cores, one BLAS/torch thread each; else
    multi-threaded torch in every worker crawls."""
    if n_process > 1:
        per = max(1, (os.cpu_count() or 1) // n_process)
        os.environ.setdefault("OMP_NUM_THREADS", str(per))
        os.environ.setdefault("MKL_NUM_THREADS", str(per))
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def _load_model(opts: AnnotateOptions):
    import spacy

    from ..extensions import register_extensions

    register_extensions()
    if opts.gpu_id >= 0:
        try:
            spacy.require_gpu(opts.gpu_id)
        except Exception as err:  # noqa: BLE001 - no cupy / no device
            raise InputError(f"--gpu-id {opts.gpu_id}: no usable GPU ({err})") from None
    try:
        nlp = spacy.load(opts.model)
    except Exception as err:  # noqa: BLE001
        raise InputError(f"cannot load model {opts.model!r}: {err}") from None
    nlp.max_length = max(nlp.max_length, opts.max_bytes + 1)
    if "torch" in sys.modules and opts.n_process > 1:
        sys.modules["torch"].set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    return nlp


def _check_model_reference(model: str) -> None:
    """For Ray the driver does not load the model; catch obvious typos."""
    looks_like_path = os.sep in model or model.startswith(".")
    if looks_like_path and not os.path.exists(model):
        raise InputError(f"model path {model!r} does not exist")
    if not looks_like_path and importlib.util.find_spec(model) is None:
        raise InputError(f"model {model!r} is neither a path nor an installed package")


def _validate(opts: AnnotateOptions) -> None:
    if not opts.inputs:
        raise InputError("give at least one INPUT (file, folder or glob)")
    if opts.engine not in ("local", "ray"):
        raise InputError(f"--engine must be 'local' or 'ray', not {opts.engine!r}")
    if opts.n_process < 1:
        raise InputError("--n-process must be at least 1")
    if opts.batch_size is not None and opts.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    if opts.gpu_id >= 0 and opts.n_process > 1 and opts.engine == "local":
        raise InputError("--gpu-id with --n-process > 1 is not supported by spaCy; use one process per GPU (or --engine ray)")
    if opts.max_bytes < 1:
        raise InputError("--max-bytes must be positive")
    if opts.resume and opts.overwrite:
        raise InputError("--resume and --overwrite exclude each other")


def _items(refs, done, opts) -> Iterator[Dict[str, Any]]:
    for ref in refs:
        yield from read_ref(ref, max_bytes=opts.max_bytes, text_field=opts.text_field, encoding=opts.encoding, skip_ids=done)


def _pending(refs: List[Dict[str, Any]], done: set) -> tuple:
    """Refs with anything left to do, and per row-file the row ids done."""
    by_file: Dict[str, List[str]] = {}
    for rid in done:
        head, sep, tail = rid.rpartition("#")
        if sep and tail.isdigit():
            by_file.setdefault(head, []).append(rid)
    pending = []
    for ref in refs:
        if ref["rel"] in done:
            continue
        pending.append(ref)
    skip = {ref["rel"]: by_file.get(ref["rel"], []) for ref in pending if ref["fmt"] in ROW_FORMATS}
    return pending, skip


class _Interrupted(BaseException):
    """SIGTERM, raised in the main thread. A BaseException like
    KeyboardInterrupt, so that the engine's per-document isolation (which
    catches Exception) does not take it for a failing component and go on."""


def annotate(opts: AnnotateOptions, stream: Optional[TextIO] = None) -> int:
    """Run one annotate job; RETURNS the exit code. Messages go to ``stream``
    (stderr by default); results go to ``opts.output``."""
    stream = stream or sys.stderr
    t0 = time.monotonic()
    try:
        refs, skipped, nlp = _prepare(opts)
    except InputError as err:
        stream.write(f"error: {err}\n")
        return EXIT_USAGE
    manifest = {
        "tool": "en-clinical-trials annotate",
        "model": os.path.abspath(opts.model) if os.path.exists(opts.model) else opts.model,
        "options": {k: v for k, v in asdict(opts).items() if k not in ("extra",)},
    }
    out = OutputDir(opts.output)
    try:
        done = out.open(resume=opts.resume, overwrite=opts.overwrite, manifest=manifest)
    except OutputError as err:
        stream.write(f"error: {err}\n")
        return EXIT_USAGE
    resumed = len(done)
    for repair in out.repairs:
        stream.write(f"resume: {repair}\n")

    from .progress import Progress

    pending, skip_rows = _pending(refs, done)
    sizes = {ref["rel"]: max(0, ref["size"]) for ref in refs}
    progress = Progress(sum(sizes[r["rel"]] for r in pending), mode=opts.progress, stream=stream, interval=opts.progress_interval)
    batch_size = _batch_size(opts, nlp)
    results = _results(opts, nlp, pending, skip_rows, done, batch_size)
    t_proc = time.monotonic()
    status, run_words = _commit(results, out, done, sizes, progress, opts, t0)
    proc_s = time.monotonic() - t_proc
    out.close(status if isinstance(status, str) else "write-failed", manifest)
    if isinstance(status, OutputWriteError):
        stream.write(
            f"error: {status.strerror}; {progress.docs} documents and {progress.errors} errors of this run were saved "
            f"in {out.path} before it; free space (or fix the folder), then continue with --resume\n"
        )
        return EXIT_WRITE_FAILED
    if status == "interrupted":
        stream.write(
            f"interrupted: {progress.docs} documents and {progress.errors} errors of this run are saved in {out.path}; "
            "continue with --resume\n"
        )
        return EXIT_INTERRUPTED
    return _finish(opts, out, progress, stream, run_words=run_words, resumed=resumed, proc_s=proc_s,
                   wall=time.monotonic() - t0, batch_size=batch_size, skipped=skipped)


def _prepare(opts: AnnotateOptions):
    """Check the options, import --code, discover the inputs and (local engine) load the model."""
    _validate(opts)
    if opts.code:
        import_code(opts.code)
    refs, skipped = discover(opts.inputs, opts.formats, exclude_dirs=[opts.output])
    if opts.engine == "local":
        _limit_threads(opts.n_process)
        return refs, skipped, _load_model(opts)
    _check_model_reference(opts.model)
    return refs, skipped, None


def _batch_size(opts: AnnotateOptions, nlp) -> int:
    gpu = opts.gpu_id >= 0 or opts.gpus_per_actor > 0
    if opts.batch_size:
        return opts.batch_size
    if nlp is not None:
        from .engine_local import default_batch_size

        return default_batch_size(nlp, gpu)
    return 64 if gpu else 32


def _results(opts: AnnotateOptions, nlp, pending, skip_rows, done, batch_size):
    """The engine's stream of committable batches of results."""
    if opts.engine == "local":
        from .engine_local import annotate_stream

        return annotate_stream(
            nlp, _items(pending, done, opts), n_process=opts.n_process, batch_size=batch_size,
            include_text=opts.include_text,
        )
    from .engine_ray import run_ray

    # paths absolute: actors do not share the driver's working directory
    model = os.path.abspath(opts.model) if os.path.exists(opts.model) else opts.model
    return run_ray(
        pending, skip_rows, model=model, batch_size=batch_size, num_actors=opts.num_actors,
        cpus_per_actor=opts.cpus_per_actor, gpus_per_actor=opts.gpus_per_actor or (1.0 if opts.gpu_id >= 0 else 0.0),
        include_text=opts.include_text, keep_docs=opts.docbin, max_bytes=opts.max_bytes,
        text_field=opts.text_field, encoding=opts.encoding, address=opts.ray_address,
        num_cpus=opts.ray_num_cpus, code=os.path.abspath(opts.code) if opts.code else None, show_progress=False,
    )


def _commit(results, out: OutputDir, done: set, sizes: Dict[str, int], progress, opts: AnnotateOptions, t0: float):
    """Write each batch of results to the journal (never an id twice); returns
    (status "complete" | "interrupted" | the OutputWriteError, words of this run)."""
    from .records import dumps

    def on_term(signum, frame):
        raise _Interrupted()

    old_term = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
    status, run_words, seq = "complete", 0, 0
    try:
        for batch in results:
            doc_lines, err_lines, docs = [], [], []
            words = bytes_done = 0
            for kind, record, doc in batch:
                if record["id"] in done:  # defensive: never write an id twice
                    continue
                done.add(record["id"])
                if kind == "doc":
                    doc_lines.append(dumps(record))
                    words += record.get("n_words") or 0
                    if doc is not None and opts.docbin:
                        docs.append(doc)
                else:
                    err_lines.append(dumps(record))
                src = record.get("source")
                if record.get("row") is None:
                    bytes_done += sizes.get(src, 0)
                elif kind == "doc":
                    bytes_done += record.get("n_chars") or 0
            if docs:
                from .exporters import write_shard

                seq += 1
                write_shard(out.shard_dir(), f"part-{os.getpid()}-{int(t0 * 1000)}-{seq:06d}.spacy", _as_docs(docs))
            out.commit(doc_lines, err_lines)
            run_words += words
            progress.update(len(doc_lines), len(err_lines), words, bytes_done)
    except (KeyboardInterrupt, _Interrupted):
        status = "interrupted"
    except OutputWriteError as err:
        status = err
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        progress.close()
    return status, run_words


def _finish(opts: AnnotateOptions, out: OutputDir, progress, stream: TextIO, *, run_words: int, resumed: int,
            proc_s: float, wall: float, batch_size: int, skipped) -> int:
    """Export the tables, write summary.json, print the summary; returns the exit code."""
    from .exporters import export_tables, merge_docbin
    from .progress import format_summary

    counts = export_tables(out.path, html_limit=opts.html_limit, studyid=opts.studyid, subjects=opts.subjects)
    if opts.docbin:
        counts["docbin_docs"] = merge_docbin(out.path)
    exit_code = EXIT_DOC_ERRORS if counts["errors"] else EXIT_OK
    summary = dict(counts)
    summary.update(
        {
            "run_documents": progress.docs,
            "run_errors": progress.errors,
            "run_words": run_words,
            "resumed": resumed,
            "wall_s": round(wall, 3),
            "processing_s": round(proc_s, 3),
            "words_per_s": run_words / proc_s if proc_s > 0 else 0.0,
            "docs_per_s": progress.docs / proc_s if proc_s > 0 else 0.0,
            "engine": opts.engine,
            "n_process": opts.n_process,
            "batch_size": batch_size,
            "skipped_files": dict(skipped),
            "repairs": out.repairs,
            "status": "errors" if exit_code else "ok",
            "exit_code": exit_code,
        }
    )
    with open(os.path.join(out.path, "summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
    stream.write(format_summary(summary) + "\n")
    return exit_code


def _as_docs(docs: List[Any]) -> List[Any]:
    """Docs from the Ray engine arrive as bytes."""
    if all(not isinstance(d, (bytes, bytearray)) for d in docs):
        return docs
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    vocab = Vocab()
    return [d if not isinstance(d, (bytes, bytearray)) else Doc(vocab).from_bytes(d) for d in docs]


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
