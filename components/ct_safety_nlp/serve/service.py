"""The pipeline behind the service, without any web framework.

One :class:`PipelineService` per worker process: it loads the pipeline once and
turns requests (plain dicts) into the project's records:

* :meth:`PipelineService.annotate` gives ``docs.jsonl`` records, built by
  :func:`ct_safety_nlp.bulk.records.doc_record` (the same function
  ``en-clinical-trials annotate`` uses), and ``errors.jsonl``-style error
  records for documents the pipeline fails on;
* :meth:`PipelineService.generate` gives ``en-clinical-trials generate``'s
  output lines (``id``, ``record``, ``narrative``, ``issues``) from the
  pipeline's ``ct_followup`` component;
* :meth:`PipelineService.annotate_file` reads an uploaded txt/md/jsonl/csv/tsv
  file with the bulk readers (same ids, decoding and refusals as ``annotate``);
* :meth:`PipelineService.kb_search` looks a term up in the CTCAE knowledge base.

Documents go through ``nlp.pipe`` in batches. Each call runs inside
``nlp.memory_zone()``, so strings a request adds to the vocabulary are freed
when it ends and no Doc outlives its request: nothing is kept between
requests. A ``threading.Event`` given as ``cancel`` stops the work at the next
batch (the app sets it when a request runs past its time limit).

The methods are not meant to run concurrently on one service: the app runs
them one at a time on a single worker thread.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .. import __version__
from ..bulk.readers import EXTENSIONS, read_ref
from ..bulk.records import doc_record, error_record
from ..extensions import register_extensions
from ..kb.search import find_kb, search_kb

#: the ``decoded`` value of documents that arrived as JSON strings
JSON_DECODED = "json"


class Cancelled(Exception):
    """The request ran past its time limit; its work was stopped."""


class NotAvailable(Exception):
    """The loaded pipeline lacks the component a request needs."""


class ModelLoadError(Exception):
    """The pipeline could not be loaded; the message says which and why."""


def load_pipeline(model: str):
    """``spacy.load(model)`` with a clear error naming the model."""
    import spacy

    register_extensions()
    try:
        return spacy.load(model)
    except OSError as err:
        if model == "en_clinical_trials":
            raise ModelLoadError(
                "the packaged pipeline 'en_clinical_trials' is not installed. Build and install it with "
                "`spacy project run all` (or pip install its wheel), or pass --model with a pipeline directory"
            ) from err
        raise ModelLoadError(f"could not load the pipeline {model!r}: {err}") from err
    except Exception as err:  # a broken config or a missing factory
        raise ModelLoadError(f"could not load the pipeline {model!r}: {type(err).__name__}: {err}") from err


def followup_output(rid: Any, doc) -> Dict[str, Any]:
    """``en-clinical-trials generate``'s output line for one annotated Doc."""
    result = doc._.ct_followup or {}
    issues = [str(i) for i in (doc._.ct_followup_issues or [])]
    if not result.get("record"):
        issues.append("no record was generated")
    return {"id": rid, "record": result.get("record", ""), "narrative": result.get("narrative"), "issues": issues}


def _check(cancel: Optional[threading.Event]) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _chunks(items: List[Dict[str, Any]], size: int) -> Iterator[List[Dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PipelineService:
    """A loaded pipeline and the operations the API offers on it."""

    def __init__(self, nlp, *, batch_size: int = 32, max_bytes: int = 1_000_000, model_name: Optional[str] = None):
        register_extensions()
        self.nlp = nlp
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        meta = nlp.meta or {}
        self.model_name = model_name or f"{meta.get('lang', nlp.lang)}_{meta.get('name', 'pipeline')}"
        self.kb = find_kb(nlp)
        # the shipped pipeline has ct_followup disabled (the record is made on request): run it here when asked
        self.has_followup = "ct_followup" in nlp.component_names

    @classmethod
    def load(cls, model: str, **kwargs) -> "PipelineService":
        return cls(load_pipeline(model), **kwargs)

    # ---- description ----------------------------------------------------

    def info(self) -> Dict[str, Any]:
        meta = self.nlp.meta or {}
        ctcae = None
        if self.kb is not None:
            table = self.kb.table
            ctcae = {
                "version": table.get("version"),
                "source": table.get("source"),
                "source_sha256": table.get("source_sha256"),
                "terms": len(self.kb),
                "synonyms": len(self.kb.synonyms),
            }
        return {
            "pipeline": {
                "name": self.model_name,
                "version": meta.get("version"),
                "spacy_version": meta.get("spacy_version"),
                "description": meta.get("description") or None,
                "components": list(self.nlp.pipe_names),
                "labels": meta.get("labels") or {},
            },
            "ctcae": ctcae,
            "library": {"name": "ct-safety-nlp", "version": __version__},
            "features": {"annotate": True, "generate": self.has_followup, "kb_search": self.kb is not None},
        }

    # ---- the pipeline ---------------------------------------------------

    def _make_doc(self, item: Dict[str, Any]):
        doc = self.nlp.make_doc(item["text"])
        if item.get("context") is not None:  # untouched otherwise: the same Doc as nlp(text) makes
            doc._.ct_context = dict(item["context"])
        return doc

    def _with_followup(self, doc):
        """``doc`` with its follow-up record: made now when ct_followup is disabled
        (a failure becomes an issue of the record, not an error of the request)."""
        if "ct_followup" in self.nlp.disabled:
            try:
                doc = self.nlp.get_pipe("ct_followup")(doc)
            except Exception as err:  # noqa: BLE001 - reported in the record's issues
                doc._.ct_followup = None
                doc._.ct_followup_issues = [f"ct_followup failed: {type(err).__name__}: {err}"]
        return doc

    def _one(self, item: Dict[str, Any]) -> Tuple[Any, Optional[str]]:
        """Run one document component by component, so a failure names the component."""
        try:
            doc = self._make_doc(item)
        except Exception as err:  # noqa: BLE001 - any tokenizer failure is reported
            return None, f"tokenizer failed: {type(err).__name__}: {err}"
        for name, proc in self.nlp.pipeline:
            try:
                doc = proc(doc)
            except Exception as err:  # noqa: BLE001
                return None, f"pipeline component {name!r} failed: {type(err).__name__}: {err}"
        return doc, None

    def _process(
        self,
        items: List[Dict[str, Any]],
        to_output: Callable[[Any, Dict[str, Any]], Dict[str, Any]],
        cancel: Optional[threading.Event],
    ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
        """(outputs in input order, error records). Items with an ``error`` key
        (read errors) become error records without running the pipeline."""
        outputs: List[Dict[str, Any]] = []
        errors: List[Dict[str, Any]] = []
        with self.nlp.memory_zone():
            for batch in _chunks(items, self.batch_size):
                _check(cancel)
                todo = []
                for item in batch:
                    if "error" in item:
                        errors.append(error_record(item, item["error"], item.get("stage", "read")))
                    else:
                        todo.append(item)
                if not todo:
                    continue
                try:
                    done = list(self.nlp.pipe([self._make_doc(item) for item in todo], batch_size=self.batch_size))
                except Exception:  # noqa: BLE001 - settle this batch one document at a time
                    done = None
                if done is not None:
                    outputs.extend(to_output(doc, item) for item, doc in zip(todo, done))
                    continue
                for item in todo:
                    _check(cancel)
                    doc, problem = self._one(item)
                    if doc is None:
                        errors.append(error_record(item, problem, "nlp"))
                    else:
                        outputs.append(to_output(doc, item))
        return outputs, errors

    def annotate(
        self,
        items: List[Dict[str, Any]],
        *,
        include_text: bool = True,
        followup: bool = False,
        cancel: Optional[threading.Event] = None,
    ) -> Dict[str, Any]:
        """``{"documents": [docs.jsonl records], "errors": [error records]}``.

        items: ``{"id", "text", "context"?, "meta"?, "source"?, "row"?,
        "decoded"?}``. With ``followup`` each record gains one key,
        ``followup`` (``generate``'s output line without the id).
        """
        if followup and not self.has_followup:
            raise NotAvailable("the pipeline has no ct_followup component, so no follow-up record can be generated")

        def to_output(doc, item):
            record = doc_record(doc, item, include_text)
            if followup:
                out = followup_output(item["id"], self._with_followup(doc))
                out.pop("id")
                record["followup"] = out
            return record

        documents, errors = self._process(items, to_output, cancel)
        return {"documents": documents, "errors": errors}

    def generate(self, items: List[Dict[str, Any]], *, cancel: Optional[threading.Event] = None) -> Dict[str, Any]:
        """``{"results": [generate's output lines], "errors": [error records]}``."""
        if not self.has_followup:
            raise NotAvailable("the pipeline has no ct_followup component, so no follow-up record can be generated")
        results, errors = self._process(items, lambda doc, item: followup_output(item["id"], self._with_followup(doc)), cancel)
        return {"results": results, "errors": errors}

    def annotate_file(
        self,
        filename: str,
        data: bytes,
        *,
        text_field: str = "text",
        include_text: bool = True,
        followup: bool = False,
        cancel: Optional[threading.Event] = None,
    ) -> Dict[str, Any]:
        """Annotate an uploaded file, read by the bulk readers as ``annotate``
        would read it from disk (ids ``<filename>`` or ``<filename>#<row>``).
        RAISES ValueError when the file name's extension is not a readable format."""
        fmt = file_format(filename)
        with tempfile.TemporaryDirectory(prefix="ct_serve_") as tmp:
            path = os.path.join(tmp, "upload" + os.path.splitext(filename)[1].lower())
            with open(path, "wb") as fh:
                fh.write(data)
            ref = {"path": path, "rel": filename, "fmt": fmt, "size": len(data)}
            items = list(read_ref(ref, max_bytes=self.max_bytes, text_field=text_field))
        return self.annotate(items, include_text=include_text, followup=followup, cancel=cancel)

    # ---- knowledge base -------------------------------------------------

    def kb_search(self, query: str, limit: int = 10) -> Dict[str, Any]:
        if self.kb is None:
            raise NotAvailable("the pipeline has no CTCAE knowledge base (no ct_reasoner component)")
        return search_kb(self.kb, query, limit=limit)


def file_format(filename: str) -> str:
    """The bulk reader format of an upload's file name. RAISES ValueError."""
    ext = os.path.splitext(filename)[1].lower()
    fmt = EXTENSIONS.get(ext)
    if fmt is None:
        raise ValueError(
            f"unsupported file type {ext or '(no extension)'!r}; send one of {', '.join(sorted(EXTENSIONS))}"
        )
    return fmt
