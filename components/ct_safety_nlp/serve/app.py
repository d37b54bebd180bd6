"""The FastAPI app: REST API under ``/v1``, the review page at ``/``, OpenAPI docs.

Build one with :func:`create_app` (tests, embedding) or let uvicorn build one
per worker process with :func:`create_app_from_env` (``en-clinical-trials
serve``). Each app loads its pipeline once, when it is built.

Safe by default:

* every ``/v1`` endpoint but ``/v1/health`` asks for the API key when the
  settings name one (``Authorization: Bearer <key>`` or ``X-API-Key: <key>``,
  compared with :func:`hmac.compare_digest`): 401 otherwise;
* a request body over ``max_bytes`` is refused before it is read whole: 413;
  more than ``max_documents`` documents: 413;
* the pipeline work of a request (waiting for the worker thread included)
  has ``timeout_s``; past it the answer is 504 and the work stops at the next
  batch;
* malformed JSON, a missing, misspelt or wrongly typed field: 422 naming
  each field (``body.documents[2].text``);
* every error is JSON: ``{"error": {"status", "code", "message", "fields"?}}``;
* the log has one line per request (method, path without the query string,
  status, documents, characters, milliseconds, request id) and, for a crash,
  the exception's type and where it was raised, never its message: no
  document text reaches the log;
* nothing is kept between requests (see :mod:`ct_safety_nlp.serve.service`);
  API responses carry ``Cache-Control: no-store``;
* CORS headers only for the origins listed in the settings (none by default).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, Callable, Dict, List, Optional

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..bulk.records import dumps
from ..followup import validate_context
from . import schemas
from .service import Cancelled, NotAvailable, PipelineService, file_format
from .settings import ServeSettings

log = logging.getLogger("ct_safety_nlp.serve")

#: Content-Security-Policy of the review page: nothing but this server
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    501: "not_available",
    504: "timeout",
}


class ApiError(Exception):
    """An error answer: status, machine code, human message, optional fields."""

    def __init__(self, status: int, message: str, *, code: Optional[str] = None, fields: Optional[List[Dict[str, str]]] = None, headers: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def error_body(status: int, message: str, *, code: Optional[str] = None, fields=None) -> bytes:
    detail: Dict[str, Any] = {"status": status, "code": code or _CODES.get(status, "error"), "message": message}
    if fields:
        detail["fields"] = fields
    return dumps({"error": detail}).encode("utf-8")


def error_response(err: ApiError) -> Response:
    return Response(
        error_body(err.status, err.message, code=err.code, fields=err.fields),
        status_code=err.status,
        media_type="application/json",
        headers=err.headers,
    )


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload).encode("utf-8"), status_code=status, media_type="application/json")


def _loc(parts) -> str:
    """("body", "documents", 2, "text") -> "body.documents[2].text"."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def validation_fields(errors) -> List[Dict[str, str]]:
    """pydantic errors as [{"field", "problem"}], never echoing the input."""
    fields = []
    for err in errors:
        loc = list(err.get("loc") or ())
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error") or "not valid JSON"
            where = f" at character {loc[1]}" if len(loc) > 1 and isinstance(loc[1], int) else ""
            fields.append({"field": "body", "problem": f"malformed JSON: {reason}{where}"})
            continue
        msg = err.get("msg", "invalid")
        if loc == ["body"] and err.get("type") in ("model_attributes_type", "dict_type"):
            msg = "expected a JSON object (send it with Content-Type: application/json)"
        if err.get("type") == "missing" and loc == ["body"]:
            msg = "no request body: expected a JSON object"
        if err.get("type") == "extra_forbidden":
            msg = "unknown field (misspelt?)"
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        fields.append({"field": _loc(loc), "problem": msg})
    return fields


# ---- ASGI middleware ------------------------------------------------------


class BodyLimitMiddleware:
    """Refuse a request body over ``max_bytes`` with 413, before the app sees it.

    The body is read here (at most ``max_bytes`` + one chunk) and handed on,
    so a chunked upload without Content-Length is bounded as well."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_error(send, 400, "Content-Length is not a number")
                return
            if declared > self.max_bytes:
                await _send_error(send, 413, self._too_large(declared))
                return
        chunks: List[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_error(send, 413, self._too_large(None))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, declared: Optional[int]) -> str:
        size = f"{declared} bytes" if declared is not None else "more"
        return f"the request body is {size}, over the limit of {self.max_bytes} bytes (--max-bytes); send fewer or shorter documents per request"


async def _send_error(send, status: int, message: str) -> None:
    body = error_body(status, message)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")],
    })
    await send({"type": "http.response.body", "body": body})


class ServiceMiddleware:
    """Outermost: request id, security headers, one log line per request,
    and a JSON 500 for anything that escaped (logged without its message)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex[:12]
        scope.setdefault("state", {})["request_id"] = rid
        path = scope.get("path", "")
        started = time.perf_counter()
        status = {"code": 0, "sent": False}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-request-id", rid.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if path.startswith("/v1/") and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                headers.extend(h for h in extra if h[0] not in names)
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as err:  # noqa: BLE001 - the last line of defence
            where = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
            log.error(
                "request %s %s crashed: %s at %s:%s (message not logged; it may hold document text)",
                rid, path, type(err).__name__, where.filename if where else "?", where.lineno if where else "?",
            )
            if not status["sent"]:
                await _send_error(send_wrapper, 500, f"internal error (request id {rid}); the server log has its type and place")
                status["code"] = 500
        finally:
            state = scope.get("state") or {}
            log.info(
                "%s %s %d docs=%s chars=%s %.1f ms id=%s",
                scope.get("method"), path, status["code"], state.get("n_docs", "-"), state.get("n_chars", "-"),
                (time.perf_counter() - started) * 1000, rid,
            )


# ---- the app ---------------------------------------------------------------


def _static_dir() -> str:
    return str(resources.files("ct_safety_nlp.serve") / "static")


def _docs_static_dir() -> Optional[str]:
    """Swagger UI / ReDoc files shipped by the fastapi-offline package (no CDN)."""
    try:
        return str(resources.files("fastapi_offline") / "static")
    except (ModuleNotFoundError, TypeError):
        return None


def adverse_events_csv(records: List[Dict[str, Any]]) -> str:
    """``adverse_events.csv`` of ``records``: the columns and cells that
    :func:`ct_safety_nlp.bulk.exporters.export_tables` writes."""
    import csv
    import io

    from ..bulk.exporters import AE_FIELDS, cell

    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=["doc_id", "ae_index", *AE_FIELDS], extrasaction="ignore")
    writer.writeheader()
    for record in records:
        for i, ae in enumerate(record.get("adverse_events") or []):
            row = {"doc_id": record["id"], "ae_index": i}
            row.update({k: cell(ae.get(k)) for k in AE_FIELDS})
            writer.writerow(row)
    return out.getvalue()


def create_app(settings: ServeSettings, service: Optional[PipelineService] = None) -> FastAPI:
    """The app for ``settings``; loads ``settings.model`` unless ``service`` is given.

    RAISES SettingsError (API key variable unset) or ModelLoadError."""
    api_key = settings.api_key()  # fail at start, not at the first request
    if service is None:
        service = PipelineService.load(settings.model, batch_size=settings.batch_size, max_bytes=settings.max_bytes)
    executor: Dict[str, Optional[ThreadPoolExecutor]] = {"pool": None}

    def pool() -> ThreadPoolExecutor:
        if executor["pool"] is None:
            executor["pool"] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ct-serve-nlp")
        return executor["pool"]

    @asynccontextmanager
    async def lifespan(app):
        yield
        if executor["pool"] is not None:
            executor["pool"].shutdown(wait=False, cancel_futures=True)
            executor["pool"] = None

    docs_static = _docs_static_dir()
    app = FastAPI(
        title="en_clinical_trials safety NLP",
        version=__version__,
        description=(
            "Clinical-trial safety NLP over HTTP: adverse events with CTCAE term, grade, seriousness, suspect drug "
            "and evidence; regimens; follow-up records with their faithfulness check; CTCAE look-up. "
            "`/v1/annotate` returns the records `en-clinical-trials annotate` writes to docs.jsonl. "
            "Errors are JSON: `{\"error\": {\"status\", \"code\", \"message\", \"fields\"}}`."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service

    # middleware: the last added is the outermost
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_bytes)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(ServiceMiddleware)

    # ---- errors ----
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError):
        return error_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException):
        message = err.detail if isinstance(err.detail, str) else _CODES.get(err.status_code, "error")
        if err.status_code == 404:
            message = f"no such endpoint: {request.url.path} (see /docs)"
        elif err.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_response(ApiError(err.status_code, message, headers=getattr(err, "headers", None)))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError):
        fields = validation_fields(err.errors())
        message = "; ".join(f"{f['field']}: {f['problem']}" for f in fields)
        return error_response(ApiError(422, message, fields=fields))

    # ---- auth ----
    bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")
    header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")

    def require_key(
        credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer),
        x_api_key: Optional[str] = Depends(header_key),
    ) -> None:
        if api_key is None:
            return
        given = x_api_key if x_api_key is not None else (credentials.credentials if credentials is not None else None)
        if given is None or not hmac.compare_digest(given.encode("utf-8"), api_key.encode("utf-8")):
            raise ApiError(
                401,
                "missing or wrong API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    protected = [Depends(require_key)]
    errors_doc = {
        s: {"model": schemas.ErrorResponse, "description": _CODES[s].replace("_", " ")}
        for s in (401, 413, 422, 504)
    }

    # ---- running the pipeline ----
    async def run(request: Request, fn: Callable, **kwargs) -> Any:
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(pool(), functools.partial(fn, cancel=cancel, **kwargs))
        try:
            return await asyncio.wait_for(future, timeout=settings.timeout_s)
        except asyncio.TimeoutError:
            cancel.set()
            raise ApiError(
                504,
                f"the request took longer than the limit of {settings.timeout_s:g} s (--timeout); its work was stopped. "
                "Send fewer documents per request.",
            ) from None
        except Cancelled:  # pragma: no cover - only after a timeout, answered above
            raise ApiError(504, "the request's work was stopped") from None
        except NotAvailable as err:
            raise ApiError(501, str(err)) from None

    def items_of(body: schemas._Batch, request: Request) -> List[Dict[str, Any]]:
        if body.documents is None:
            docs = [{"id": body.id or "1", "text": body.text, "context": body.context, "meta": body.meta}]
            where = ["body"]
        else:
            docs = [{"id": d.id or str(i + 1), "text": d.text, "context": d.context, "meta": d.meta} for i, d in enumerate(body.documents)]
            where = None
        if len(docs) > settings.max_documents:
            raise ApiError(413, f"{len(docs)} documents in one request, over the limit of {settings.max_documents}; split the batch")
        fields = []
        seen: Dict[str, int] = {}
        items = []
        for i, doc in enumerate(docs):
            prefix = "body" if where else f"body.documents[{i}]"
            if doc["id"] in seen:
                fields.append({"field": f"{prefix}.id", "problem": f"duplicate id {doc['id']!r} (also documents[{seen[doc['id']]}])"})
            seen.setdefault(doc["id"], i)
            try:
                context = validate_context(doc["context"], where="context") if doc["context"] is not None else None
            except ValueError as err:
                fields.append({"field": f"{prefix}.context", "problem": str(err)})
                context = None
            items.append({"id": doc["id"], "source": None, "row": None, "decoded": "json", "text": doc["text"],
                          "context": context, "meta": doc["meta"]})
        if fields:
            raise ApiError(422, "; ".join(f"{f['field']}: {f['problem']}" for f in fields), fields=fields)
        request.scope["state"]["n_docs"] = len(items)
        request.scope["state"]["n_chars"] = sum(len(it["text"]) for it in items)
        return items

    # ---- endpoints ----
    @app.post("/v1/annotate", dependencies=protected, response_model=None, tags=["annotate"],
              responses={200: {"model": schemas.AnnotateResponse}, **errors_doc, 501: {"model": schemas.ErrorResponse}})
    async def annotate(body: schemas.AnnotateRequest, request: Request):
        """Annotate one text (`text`, optional `context`) or a batch (`documents`).

        Each entry of `documents` is a docs.jsonl record exactly as
        `en-clinical-trials annotate` writes it (`source`/`row` are null,
        `decoded` is "json"); a document the pipeline fails on is in `errors`
        instead. With `followup: true` each record also has `followup`."""
        items = items_of(body, request)
        result = await run(request, service.annotate, items=items, include_text=body.include_text, followup=body.followup)
        return json_response(result)

    @app.post("/v1/annotate/file", dependencies=protected, response_model=None, tags=["annotate"],
              responses={200: {"model": schemas.AnnotateResponse}, **errors_doc},
              openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def annotate_file(
        request: Request,
        filename: str = Query(..., min_length=1, max_length=255, description="the file's name; its extension picks the reader (.txt .md .jsonl .csv .tsv)"),
        text_field: str = Query("text", min_length=1, max_length=200, description="field / column with the text (jsonl, csv, tsv)"),
        include_text: bool = Query(True),
        followup: bool = Query(False),
    ):
        """Annotate an uploaded file (the raw bytes as the body), read exactly as
        `annotate` reads one from disk: ids `<filename>` or `<filename>#<row>`,
        honest decoding, refused rows in `errors` with their reason."""
        if "/" in filename or "\\" in filename or filename in (".", ".."):
            raise ApiError(422, "filename: a bare file name, without folders", fields=[{"field": "query.filename", "problem": "a bare file name, without folders"}])
        try:
            file_format(filename)
        except ValueError as err:
            raise ApiError(422, f"query.filename: {err}", fields=[{"field": "query.filename", "problem": str(err)}]) from None
        data = await request.body()
        if not data:
            raise ApiError(422, "body: empty upload", fields=[{"field": "body", "problem": "empty upload"}])
        request.scope["state"]["n_chars"] = len(data)
        result = await run(request, service.annotate_file, filename=filename, data=data, text_field=text_field,
                           include_text=include_text, followup=followup)
        request.scope["state"]["n_docs"] = len(result["documents"]) + len(result["errors"])
        return json_response(result)

    @app.post("/v1/generate", dependencies=protected, response_model=None, tags=["generate"],
              responses={200: {"model": schemas.GenerateResponse}, **errors_doc, 501: {"model": schemas.ErrorResponse}})
    async def generate(body: schemas.GenerateRequest, request: Request):
        """Follow-up record (Markdown), AE narrative (serious events) and faithfulness
        issues per document: the lines `en-clinical-trials generate` writes."""
        items = items_of(body, request)
        return json_response(await run(request, service.generate, items=items))

    @app.get("/v1/kb/search", dependencies=protected, response_model=None, tags=["knowledge base"],
             responses={200: {"model": schemas.KbSearchResponse}, **errors_doc, 501: {"model": schemas.ErrorResponse}})
    async def kb_search(
        request: Request,
        q: str = Query(..., min_length=2, max_length=200, description="a term, synonym or AE mention"),
        limit: int = Query(10, ge=1, le=50),
    ):
        """CTCAE look-up: the term the reasoner would choose for `q`, then terms and
        synonyms containing it (with MedDRA code, SOC, definition, grade texts)."""
        if not q.strip():
            raise ApiError(422, "query.q: must contain text", fields=[{"field": "query.q", "problem": "must contain text"}])

        def lookup(cancel=None):
            return service.kb_search(q, limit)

        return json_response(await run(request, lookup))

    @app.post("/v1/export/adverse-events.csv", dependencies=protected, response_model=None, tags=["annotate"],
              responses={200: {"content": {"text/csv": {}}, "description": "the CSV table"}, **errors_doc})
    async def export_csv(body: schemas.ExportRequest, request: Request):
        """The AE table of annotated records (as `/v1/annotate` returned them) as CSV:
        the columns and cell rules of `annotate`'s adverse_events.csv."""
        request.scope["state"]["n_docs"] = len(body.documents)
        return Response(adverse_events_csv([d.model_dump() for d in body.documents]), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="adverse_events.csv"'})

    @app.get("/v1/health", response_model=schemas.Health, tags=["service"])
    async def health():
        """Liveness: the worker is up and its pipeline is loaded (no API key needed)."""
        return {"status": "ok", "api_key_required": api_key is not None}

    @app.get("/v1/info", dependencies=protected, response_model=None, tags=["service"],
             responses={200: {"model": schemas.Info}, 401: errors_doc[401]})
    async def info():
        """Pipeline name, version, components and labels; CTCAE version; limits."""
        return json_response(dict(service.info(), limits=settings.public()))

    # ---- page and docs ----
    static_dir = _static_dir()
    app.mount("/static", StaticFiles(directory=static_dir), name="static")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(f"{static_dir}/index.html", media_type="text/html",
                            headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"})

    if docs_static is not None:
        app.mount("/static-docs", StaticFiles(directory=docs_static), name="static-docs")

        @app.get("/docs", include_in_schema=False)
        async def swagger() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url=app.openapi_url, title=f"{app.title} - API",
                swagger_js_url="/static-docs/swagger-ui-bundle.js", swagger_css_url="/static-docs/swagger-ui.css",
                swagger_favicon_url="/static-docs/favicon.png",
            )

        @app.get("/redoc", include_in_schema=False)
        async def redoc() -> HTMLResponse:
            return get_redoc_html(
                openapi_url=app.openapi_url, title=f"{app.title} - API", redoc_js_url="/static-docs/redoc.standalone.js",
                redoc_favicon_url="/static-docs/favicon.png", with_google_fonts=False,
            )

    return app


def configure_logging(level: str = "info") -> None:
    """One handler on the service's logger (stderr), unless one is set up already."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(level.upper())


def create_app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process: settings from the environment
    (:data:`ct_safety_nlp.serve.settings.SETTINGS_ENV`), the pipeline loaded once."""
    import os

    configure_logging(os.environ.get("CT_SAFETY_NLP_SERVE_LOG_LEVEL", "info"))
    settings = ServeSettings.from_env()
    started = time.perf_counter()
    app = create_app(settings)
    service = app.state.service
    log.info("worker ready: pipeline %s (%s) loaded in %.1f s", service.model_name, ", ".join(service.nlp.pipe_names),
             time.perf_counter() - started)
    return app
