"""``ct_prefetch``: runs the components before it in a background thread, so
that the transformer's forward pass of the next batch overlaps the components
after it on the current one.

On CPU, ``nlp.pipe`` runs one batch through one component after another, in
one thread: while ``ner``, ``spancat`` and the rule components (Python, one
core) read a batch, the transformer waits, and on a two-core machine one core
idles. Placed right after the transformer, ``ct_prefetch.pipe`` pulls the
stream before it (the tokenizer, ``ct_sentences``, the transformer) in a
thread of its own, at most ``max_ahead`` Docs ahead of what the components
after it have taken; ONNX Runtime and torch release the GIL while they
compute, so the next batch's forward pass runs beside this batch's rules.
In the shipped pipeline right after the transformer (``configs/assemble.cfg``),
where the two threads' shares are the most even (the transformer against the
heads and rules: about 0.9 s against 1.1 s per 300 PHEE sentences in
``metrics/components.json``); bench ``full`` against ``sequential`` measures
what it gains (README, Speed). ONNX Runtime's workers sleep between ops
(:data:`ct_safety_nlp.onnx_int8.ALLOW_SPINNING`) so as not to hold a core the
other thread needs. Add it to another pipeline with
``nlp.add_pipe("ct_prefetch", after="transformer")``.

What it does not change: every Doc comes out once, in order, with the same
annotations (a Doc is touched by one thread at a time: the background thread
is done with it before it is queued); an error before it is raised in the
caller's thread, where ``nlp.pipe``'s error handling sees it; a caller that
stops reading early stops the thread, and interpreter exit stops the thread
of a stream its reader left open (:func:`_stop_all`). ``nlp(text)`` (one Doc) passes through
untouched: there is nothing to overlap. With ``nlp.pipe(n_process=N)`` each
worker runs its own thread. Leave it out (``exclude=["ct_prefetch"]``) to
run everything in the caller's thread, e.g. when profiling.
"""

from __future__ import annotations

import atexit
import queue
import threading
from typing import Iterable, Iterator, List, Set, Tuple

from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["Prefetch", "make_prefetch"]

#: how long (s) the background thread waits on a full queue before it looks whether the reader has gone
_POLL_S = 0.1
#: how long (s) interpreter exit waits for a background thread to finish the batch it is computing
_EXIT_WAIT_S = 60.0
#: (stop event, thread) of every stream still running, for :func:`_stop_all` at exit
_RUNNING: Set[Tuple[threading.Event, threading.Thread]] = set()


class _End:
    """Queued after the last Doc (with the error that ended the stream, if one did)."""

    def __init__(self, error: BaseException = None):
        self.error = error


class Prefetch:
    """See the module docstring."""

    def __init__(self, name: str = "ct_prefetch", max_ahead: int = 256):
        if not isinstance(max_ahead, int) or isinstance(max_ahead, bool) or max_ahead < 1:
            raise ValueError(f"{name}: max_ahead must be a whole number of Docs >= 1, got {max_ahead!r}")
        self.name = name
        self.max_ahead = max_ahead

    def __call__(self, doc: Doc) -> Doc:
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """The Docs of ``stream``, in order, computed up to ``max_ahead`` ahead in a background thread."""
        docs: "queue.Queue" = queue.Queue(self.max_ahead)
        stop = threading.Event()
        worker = threading.Thread(target=_fill, args=(iter(stream), docs, stop), name=f"{self.name}-worker", daemon=True)
        running = (stop, worker)
        _RUNNING.add(running)
        worker.start()
        try:
            while True:
                item = docs.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:  # also when the reader stops early (generator closed): let the thread end
            stop.set()
            _drain(docs)
            worker.join()
            _RUNNING.discard(running)


@atexit.register
def _stop_all() -> None:
    """Stop the background thread of every stream nobody closed (a reader that
    raised and left its ``nlp.pipe`` generator open), and wait for each to end.
    A thread killed at exit inside ONNX Runtime or torch aborts the process
    (``terminate called without an active exception``, exit status 134)
    instead of letting it exit with the reader's own status."""
    for stop, _ in list(_RUNNING):
        stop.set()
    for running in list(_RUNNING):
        running[1].join(_EXIT_WAIT_S)
        _RUNNING.discard(running)


def _fill(stream: Iterator[Doc], docs: "queue.Queue", stop: threading.Event) -> None:
    """Put every Doc of ``stream`` on ``docs``, then an :class:`_End`; stop early when ``stop`` is set."""
    end = _End()
    try:
        for doc in stream:
            if not _put(docs, doc, stop):
                return
    except BaseException as err:  # noqa: BLE001 - handed to the reader's thread, raised there
        end = _End(err)
    finally:
        close = getattr(stream, "close", None)
        if stop.is_set() and close is not None:
            close()  # the components before this one end their own work
    _put(docs, end, stop)


def _put(docs: "queue.Queue", item, stop: threading.Event) -> bool:
    """Queue ``item``; False (nothing queued) once ``stop`` is set."""
    while not stop.is_set():
        try:
            docs.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _drain(docs: "queue.Queue") -> List[object]:
    items = []
    while True:
        try:
            items.append(docs.get_nowait())
        except queue.Empty:
            return items


@Language.factory("ct_prefetch", default_config={"max_ahead": 256})
def make_prefetch(nlp: Language, name: str, max_ahead: int) -> Prefetch:
    """Factory of ``ct_prefetch`` (see the module docstring)."""
    return Prefetch(name, max_ahead)
