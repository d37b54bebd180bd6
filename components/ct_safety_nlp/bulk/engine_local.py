"""The local engine: ``nlp.pipe`` over a stream of items, on one machine.

:func:`annotate_stream` is the one place where items become records; the Ray
engine's actors call it too, so both engines write identical records.

* Items are pulled lazily from the readers (streaming: only the batches in
  flight are in memory).
* ``n_process`` > 1 uses spaCy's multiprocessing (components must pickle);
  the caller limits torch/BLAS threads per worker.
* A component that raises on a document hands it to the pipeline's error
  handler (the library's components are spaCy ``Pipe``s that do; ours
  swallows the exception instead of ending the run), so that document is
  dropped from the batch. Dropped documents are noticed by id (this works
  across worker processes, where the handler's own state is not visible) and
  run again alone, component by component; a document that fails again becomes
  an error record naming the component. Components that cannot take a handler
  (spaCy's ``ner``, a cython class) end ``nlp.pipe`` when they raise: the
  documents in flight are then settled one by one. Nothing is lost and the run
  goes on.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from .records import doc_record, error_record

#: (kind, record, doc) with kind "doc" or "error"; doc is a Doc or None
Result = Tuple[str, Dict[str, Any], Any]


def swallow_errors(proc_name, proc, docs, error) -> None:
    """spaCy error handler: let the run continue; the dropped documents are
    found by id and retried one by one (module-level so that it pickles)."""
    return None


def set_error_handler(nlp, handler) -> None:
    """Like ``nlp.set_error_handler``, but component by component: spaCy's
    cython parsers (ner, parser) cannot take one (no attribute to set) and keep
    raising, which :func:`annotate_stream` handles by settling the batch in
    flight one document at a time."""
    nlp.default_error_handler = handler
    for _, pipe in nlp.pipeline:
        if hasattr(pipe, "set_error_handler"):
            try:
                pipe.set_error_handler(handler)
            except AttributeError:
                pass


def has_transformer(nlp) -> bool:
    for name, proc in nlp.pipeline:
        cls = type(proc).__name__.lower()
        if "transformer" in cls or "transformer" in name:
            return True
    return False


def default_batch_size(nlp, gpu: bool) -> int:
    """Transformers want small batches on CPU (memory, latency per commit) and
    larger ones on a GPU; rule- and CNN-only pipelines like big batches."""
    if has_transformer(nlp):
        return 64 if gpu else 16
    return 256


def run_components(nlp, doc, disable: Iterable[str] = ()) -> Tuple[Any, Optional[str]]:
    """Run the enabled components on one Doc, one by one, so that a failure names
    the component: (doc, None), or (None, "pipeline component 'x' failed: ...")."""
    disable = set(disable)
    for name, proc in nlp.pipeline:
        if name in disable:
            continue
        try:
            doc = proc(doc)
        except Exception as err:  # noqa: BLE001 - every failure is reported, never raised
            return None, f"pipeline component {name!r} failed: {type(err).__name__}: {err}"
    return doc, None


def annotate_one(nlp, item: Dict[str, Any], include_text: bool) -> Result:
    """Run the pipeline on one item, component by component, so that a
    failure names the component."""
    try:
        doc = nlp.make_doc(item["text"])
    except Exception as err:  # noqa: BLE001 - any tokenizer failure is reported
        return "error", error_record(item, f"tokenizer failed: {type(err).__name__}: {err}", "nlp"), None
    doc, error = run_components(nlp, doc)
    if error is not None:
        return "error", error_record(item, error, "nlp"), None
    doc.user_data["ct_bulk_id"] = item["id"]
    return "doc", doc_record(doc, item, include_text), doc


def annotate_stream(
    nlp,
    items: Iterable[Dict[str, Any]],
    *,
    n_process: int = 1,
    batch_size: int = 64,
    include_text: bool = True,
    commit_every: Optional[int] = None,
    commit_seconds: float = 2.0,
) -> Iterator[List[Result]]:
    """Yield lists of results, each list ready to commit as one batch.

    Every item yields exactly one result: read errors pass through as error
    records, documents become doc records (or error records when the pipeline
    fails on them twice)."""
    commit_every = commit_every or batch_size
    pending_errors: List[Result] = []
    in_flight: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()

    def texts() -> Iterator[Tuple[str, str]]:
        for item in items:
            if "error" in item:
                pending_errors.append(("error", error_record(item, item["error"], item.get("stage", "read")), None))
                continue
            in_flight[item["id"]] = item
            yield item["text"], item["id"]

    set_error_handler(nlp, swallow_errors)
    out: List[Result] = []
    last = time.monotonic()
    stream = texts()
    while True:
        try:
            for doc, rid in nlp.pipe(stream, as_tuples=True, n_process=n_process, batch_size=batch_size):
                while in_flight:
                    first_id, item = in_flight.popitem(last=False)
                    if first_id == rid:
                        break
                    out.append(annotate_one(nlp, item, include_text))  # dropped by a failing batch
                else:  # pragma: no cover - a doc we never sent
                    raise RuntimeError(f"the pipeline returned a document with unknown id {rid!r}")
                doc.user_data["ct_bulk_id"] = rid
                out.append(("doc", doc_record(doc, item, include_text), doc))
                if pending_errors:
                    out.extend(pending_errors)
                    pending_errors.clear()
                if len(out) >= commit_every or time.monotonic() - last >= commit_seconds:
                    yield out
                    out = []
                    last = time.monotonic()
            break
        except Exception:
            # A component whose own ``pipe`` raises instead of calling the error
            # handler ends nlp.pipe. Settle the documents in flight one by one
            # and carry on with a fresh nlp.pipe over the rest of the stream.
            if not in_flight:
                raise
            while in_flight:
                _, item = in_flight.popitem(last=False)
                out.append(annotate_one(nlp, item, include_text))
    while in_flight:  # dropped at the very end
        _, item = in_flight.popitem(last=False)
        out.append(annotate_one(nlp, item, include_text))
    out.extend(pending_errors)
    pending_errors.clear()
    if out:
        yield out
