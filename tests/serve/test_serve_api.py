"""The REST API through FastAPI's TestClient: every endpoint and every error path.

The pipeline is real (blank English + entity_ruler + ct_reasoner from the
CTCAE workbook + ct_followup, see serve_helpers); the expected records are
computed with the library's own functions on ``nlp(text)``.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import spacy
from fastapi.testclient import TestClient
from spacy.language import Language

from ct_safety_nlp.bulk.exporters import export_tables
from ct_safety_nlp.bulk.records import dumps
from ct_safety_nlp.serve import ServeSettings, SettingsError, create_app
from ct_safety_nlp.serve.service import PipelineService, followup_output
from ct_safety_nlp.serve.settings import SETTINGS_ENV
from serve_helpers import NARRATIVE, NOTES, expected_record

KEY_ENV = "CT_SERVE_TEST_KEY"


@pytest.fixture()
def make_client(service):
    clients = []

    def make(svc=None, **settings):
        app = create_app(ServeSettings(model="unused", **settings), svc or service)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture()
def client(make_client):
    return make_client()


def error_of(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["message"]
    return body["error"]


# ---- annotate ------------------------------------------------------------------


def test_annotate_one_text_is_the_docs_jsonl_record_of_nlp_text(client, serve_nlp):
    response = client.post("/v1/annotate", json={"text": NARRATIVE})
    assert response.status_code == 200
    body = response.json()
    assert body["errors"] == []
    assert body["documents"] == [expected_record(serve_nlp, NARRATIVE)]
    aes = body["documents"][0]["adverse_events"]
    assert [(a["ctcae_term"], a["grade"], a["negated"]) for a in aes][:2] == [
        ("Febrile neutropenia", 4, False), ("Platelet count decreased", 4, False)]
    assert any(a["negated"] and a["ctcae_term"] == "Vomiting" for a in aes)


def test_annotate_batch_keeps_order_ids_meta_and_honours_include_text(client, serve_nlp):
    docs = [{"text": t} for t in NOTES]
    docs[1]["id"] = "visit-2"
    docs[2]["meta"] = {"site": "04", "usubjid": "P-9"}
    response = client.post("/v1/annotate", json={"documents": docs, "include_text": False})
    assert response.status_code == 200
    got = response.json()["documents"]
    ids = [d.get("id", str(i + 1)) for i, d in enumerate(docs)]
    assert [r["id"] for r in got] == ids
    for record, doc, rid in zip(got, docs, ids):
        assert record == expected_record(serve_nlp, doc["text"], rid, doc.get("meta"), include_text=False)
        assert "text" not in record


def test_annotate_followup_adds_one_key_equal_to_generate(client, serve_nlp):
    context = {"patient_id": "P-017", "visit": "C2D8", "drug": "docetaxel", "dose": "75 mg/m2"}
    one = client.post("/v1/annotate", json={"text": NARRATIVE, "context": context, "followup": True}).json()
    record = one["documents"][0]
    followup = record.pop("followup")
    assert record == expected_record(serve_nlp, NARRATIVE, context=context)
    gen = client.post("/v1/generate", json={"text": NARRATIVE, "context": context}).json()
    assert gen["errors"] == []
    assert gen["results"] == [dict(id="1", **followup)]
    assert "P-017" in followup["record"] and "Febrile neutropenia" in followup["record"]
    assert followup["narrative"] and followup["issues"] == []


def test_generate_is_generates_output_line(client, serve_nlp):
    docs = [{"id": "a", "text": NOTES[1], "context": {"patient_id": "P-001", "plan": ["Repeat CBC"]}},
            {"id": "b", "text": NOTES[7]}]
    body = client.post("/v1/generate", json={"documents": docs}).json()
    expected = []
    for d in docs:
        doc = serve_nlp.make_doc(d["text"])
        if "context" in d:
            doc._.ct_context = d["context"]
        expected.append(followup_output(d["id"], serve_nlp(doc)))
    assert body == {"results": expected, "errors": []}
    assert set(body["results"][0]) == {"id", "record", "narrative", "issues"}
    assert "Repeat CBC" in body["results"][0]["record"]


def test_disabled_followup_is_made_on_request_only(make_client, serve_model_dir, serve_nlp):
    """The shipped pipeline loads with ct_followup disabled: /v1/annotate does not
    make the record, followup=true and /v1/generate make it, the same as enabled."""
    nlp = spacy.load(serve_model_dir, disable=["ct_followup"])
    assert nlp.disabled == ["ct_followup"]
    client = make_client(PipelineService(nlp))
    assert client.get("/v1/info").json()["features"]["generate"] is True
    plain = client.post("/v1/annotate", json={"text": NARRATIVE}).json()["documents"][0]
    assert "followup" not in plain
    asked = client.post("/v1/annotate", json={"text": NARRATIVE, "followup": True}).json()["documents"][0]
    enabled = followup_output("1", serve_nlp(NARRATIVE))
    enabled.pop("id")
    assert asked["followup"] == enabled and "Febrile neutropenia" in asked["followup"]["record"]
    gen = client.post("/v1/generate", json={"text": NARRATIVE}).json()
    assert gen["results"] == [dict(id="1", **enabled)] and gen["errors"] == []
    assert nlp.disabled == ["ct_followup"]  # still off for the next plain request


def test_same_request_twice_same_answer_and_no_vocab_growth(client, serve_nlp):
    text = "Grade 2 zorbulitis after qwertymab 5 mg; no flimflamia."
    first = client.post("/v1/annotate", json={"text": text})
    n_strings = len(serve_nlp.vocab.strings)
    second = client.post("/v1/annotate", json={"text": text + " Xylophonic blorbs."})
    third = client.post("/v1/annotate", json={"text": text})
    assert first.json() == third.json()
    assert second.status_code == 200
    assert len(serve_nlp.vocab.strings) == n_strings  # strings of a request are freed with it (memory zone)


# ---- uploaded files -----------------------------------------------------------


def test_annotate_file_csv_jsonl_txt_read_like_annotate(client, serve_nlp):
    csv_bytes = ("id,text,site\n1," + NOTES[1] + ",04\n2,,05\n3,\"" + NOTES[4] + "\",06\n").encode("utf-8")
    body = client.post("/v1/annotate/file", params={"filename": "batch.csv"}, content=csv_bytes).json()
    assert [d["id"] for d in body["documents"]] == ["batch.csv#1", "batch.csv#3"]
    assert [(e["id"], e["stage"]) for e in body["errors"]] == [("batch.csv#2", "read")]
    assert "empty" in body["errors"][0]["error"]
    first = body["documents"][0]
    assert first["source"] == "batch.csv" and first["row"] == 1 and first["decoded"] == "utf-8"
    assert first["meta"] == {"id": "1", "site": "04"}
    assert first["adverse_events"] == expected_record(serve_nlp, NOTES[1])["adverse_events"]

    lines = "\n".join(json.dumps({"text": t, "arm": "B"}) for t in NOTES[:3]) + "\nnot json\n"
    body = client.post("/v1/annotate/file", params={"filename": "visits.jsonl", "followup": "true"}, content=lines.encode()).json()
    assert [d["id"] for d in body["documents"]] == ["visits.jsonl#1", "visits.jsonl#2", "visits.jsonl#3"]
    assert all(d["followup"]["record"] for d in body["documents"])
    assert [e["id"] for e in body["errors"]] == ["visits.jsonl#4"]

    latin = "Fi\xe8vre; grade 2 nausea after cisplatin 75 mg/m2.".encode("latin-1")
    body = client.post("/v1/annotate/file", params={"filename": "note.txt"}, content=latin).json()
    assert body["documents"][0]["id"] == "note.txt" and body["documents"][0]["decoded"] == "cp1252"
    assert body["documents"][0]["text"].startswith("Fi\xe8vre")

    body = client.post("/v1/annotate/file", params={"filename": "scan.txt"}, content=b"\x89PNG\x00\x00\x01").json()
    assert body["documents"] == [] and "binary" in body["errors"][0]["error"]


@pytest.mark.parametrize("params,content,field", [
    ({"filename": "scan.pdf"}, b"%PDF", "query.filename"),
    ({"filename": "../etc/x.txt"}, b"abc", "query.filename"),
    ({"filename": "a.txt"}, b"", "body"),
    ({}, b"abc", "query.filename"),
])
def test_annotate_file_bad_requests_name_the_field(client, params, content, field):
    err = error_of(client.post("/v1/annotate/file", params=params, content=content), 422)
    assert err["fields"][0]["field"] == field


@pytest.mark.slow
def test_annotate_file_equals_the_annotate_commands_docs_jsonl(client, serve_model_dir, tmp_path):
    """The same csv through `en-clinical-trials annotate` and through the service: the same records."""
    from bulk_helpers import cli, read_jsonl

    folder = tmp_path / "in"
    folder.mkdir()
    rows = ["id,text"] + [f'{i},"{t}"' for i, t in enumerate(NOTES, start=1)]
    data = ("\n".join(rows) + "\n").encode("utf-8")
    (folder / "visits.csv").write_bytes(data)
    run = cli([str(folder), "--output", str(tmp_path / "out"), "--model", serve_model_dir, "--progress", "none"])
    assert run.returncode == 0, run.stderr
    from_cli = sorted(read_jsonl(tmp_path / "out" / "docs.jsonl"), key=lambda r: r["row"])
    from_api = client.post("/v1/annotate/file", params={"filename": "visits.csv"}, content=data).json()["documents"]
    assert from_api == from_cli


# ---- export -------------------------------------------------------------------


def test_export_csv_is_annotates_adverse_events_csv(client, tmp_path):
    answer = client.post("/v1/annotate", json={"documents": [{"text": t} for t in NOTES]}).json()
    records = answer["documents"]
    response = client.post("/v1/export/adverse-events.csv", json=answer)  # the annotate answer as it came
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    (tmp_path / "docs.jsonl").write_text("".join(dumps(r) + "\n" for r in records), encoding="utf-8")
    export_tables(str(tmp_path))
    with open(tmp_path / "adverse_events.csv", encoding="utf-8", newline="") as fh:
        assert response.text == fh.read()
    assert response.text.count("\n") == 1 + sum(len(r["adverse_events"]) for r in records)
    error_of(client.post("/v1/export/adverse-events.csv", json={"documents": [{"id": "x"}]}), 422)


# ---- knowledge base -------------------------------------------------------------


def test_kb_search_normalises_then_lists_terms(client):
    body = client.get("/v1/kb/search", params={"q": "neutropenia"}).json()
    assert body["ctcae_version"] == "5.0"
    assert body["match"]["term"] == "Neutrophil count decreased" and body["match"]["method"] == "synonym"
    terms = [r["term"] for r in body["results"]]
    assert terms[0] == "Neutrophil count decreased" and "Febrile neutropenia" in terms
    assert len(terms) == len(set(terms))
    fn = next(r for r in body["results"] if r["term"] == "Febrile neutropenia")
    assert fn["meddra_code"] == "10016288" and fn["grades"]["4"].startswith("Life-threatening")
    prefix = client.get("/v1/kb/search", params={"q": "febrile neu", "limit": 3}).json()
    assert prefix["results"][0]["term"] == "Febrile neutropenia" and len(prefix["results"]) <= 3
    none = client.get("/v1/kb/search", params={"q": "qqqzzz"}).json()
    assert none["match"] is None and none["results"] == []


@pytest.mark.parametrize("params,field", [({}, "query.q"), ({"q": "a"}, "query.q"), ({"q": "nausea", "limit": 0}, "query.limit"),
                                          ({"q": "nausea", "limit": 51}, "query.limit"), ({"q": "nausea", "limit": "x"}, "query.limit")])
def test_kb_search_bad_queries_are_422_naming_the_field(client, params, field):
    err = error_of(client.get("/v1/kb/search", params=params), 422)
    assert err["fields"][0]["field"] == field


# ---- health, info, docs, page ------------------------------------------------------


def test_health_info_openapi_docs_and_page(client):
    assert client.get("/v1/health").json() == {"status": "ok", "api_key_required": False}
    info = client.get("/v1/info").json()
    assert info["pipeline"]["name"] == "en_serve_test" and info["pipeline"]["version"] == "0.0.1"
    assert info["pipeline"]["components"] == ["entity_ruler", "ct_reasoner", "ct_followup"]
    assert info["ctcae"]["version"] == "5.0" and info["ctcae"]["terms"] == 837
    assert info["features"] == {"annotate": True, "generate": True, "kb_search": True}
    assert info["limits"]["max_bytes"] == 1_000_000 and info["limits"]["api_key_required"] is False
    schema = client.get("/openapi.json").json()
    for path in ("/v1/annotate", "/v1/annotate/file", "/v1/generate", "/v1/kb/search", "/v1/health", "/v1/info",
                 "/v1/export/adverse-events.csv"):
        assert path in schema["paths"], path
    for url in ("/docs", "/redoc"):
        html = client.get(url)
        assert html.status_code == 200 and "/openapi.json" in html.text
        assert "http://" not in html.text and "https://" not in html.text  # no CDN: files come from this server
    assert client.get("/static-docs/swagger-ui-bundle.js").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in page.text
    for name in ("app.js", "app.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_page_files_fetch_nothing_from_the_internet():
    from importlib import resources

    static = resources.files("ct_safety_nlp.serve") / "static"
    names = sorted(p.name for p in static.iterdir())
    assert {"index.html", "app.js", "app.css"} <= set(names)
    for name in names:
        text = (static / name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name
        assert "innerHTML" not in text, name  # document text only ever goes in as text nodes


def test_security_headers(client):
    response = client.post("/v1/annotate", json={"text": "Grade 1 nausea."})
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert len(response.headers["x-request-id"]) == 12
    assert "server" not in response.headers


# ---- API key ------------------------------------------------------------------------


def test_api_key_required_for_v1_but_health(make_client, monkeypatch):
    import hmac

    monkeypatch.setenv(KEY_ENV, "s3cret-key")
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    client = make_client(api_key_env=KEY_ENV)
    assert client.get("/v1/health").json()["api_key_required"] is True
    assert client.get("/").status_code == 200  # the page itself holds no data
    for call in (lambda h: client.get("/v1/info", headers=h),
                 lambda h: client.post("/v1/annotate", json={"text": "nausea"}, headers=h),
                 lambda h: client.post("/v1/generate", json={"text": "nausea"}, headers=h),
                 lambda h: client.get("/v1/kb/search", params={"q": "nausea"}, headers=h),
                 lambda h: client.post("/v1/annotate/file", params={"filename": "a.txt"}, content=b"nausea", headers=h)):
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "s3cret-key "}):
            err = error_of(call(headers), 401)
            assert "API key" in err["message"]
        assert call({"X-API-Key": "s3cret-key"}).status_code == 200
        assert call({"Authorization": "Bearer s3cret-key"}).status_code == 200
    assert (b"s3cret-key", b"s3cret-key") in calls  # compared in constant time


def test_api_key_env_unset_is_an_error_at_start(service, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(SettingsError, match=KEY_ENV):
        create_app(ServeSettings(model="x", api_key_env=KEY_ENV), service)
    monkeypatch.setenv(KEY_ENV, "  ")
    with pytest.raises(SettingsError, match="not set or empty"):
        create_app(ServeSettings(model="x", api_key_env=KEY_ENV), service)


# ---- size and count limits ------------------------------------------------------------


def test_body_over_max_bytes_is_413_with_or_without_content_length(make_client):
    client = make_client(max_bytes=2000)
    err = error_of(client.post("/v1/annotate", json={"text": "nausea " * 400}), 413)
    assert "2000 bytes" in err["message"] and err["code"] == "request_too_large"

    def chunks():  # no Content-Length: chunked transfer
        yield b'{"text": "'
        for _ in range(50):
            yield b"nausea " * 10
        yield b'"}'

    err = error_of(client.post("/v1/annotate", content=chunks(), headers={"content-type": "application/json"}), 413)
    assert "2000 bytes" in err["message"]
    error_of(client.post("/v1/annotate/file", params={"filename": "a.txt"}, content=b"x" * 2001), 413)
    assert client.post("/v1/annotate", json={"text": "Grade 1 nausea."}).status_code == 200


def test_too_many_documents_is_413(make_client):
    client = make_client(max_documents=3)
    err = error_of(client.post("/v1/annotate", json={"documents": [{"text": "nausea"}] * 4}), 413)
    assert "4 documents" in err["message"] and "3" in err["message"]
    assert client.post("/v1/annotate", json={"documents": [{"text": "nausea", "id": str(i)} for i in range(3)]}).status_code == 200


# ---- validation -------------------------------------------------------------------------


@pytest.mark.parametrize("body,field,words", [
    (b'{"text": "nausea"', "body", "malformed JSON"),
    (b"[1, 2]", "body", "JSON object"),
    (b"", "body", "request body"),
    (b'{"text": 5}', "body.text", "string"),
    (b'{"txt": "nausea"}', "body.txt", "unknown field"),
    (b'{"text": "   "}', "body.text", "whitespace"),
    (b'{"text": ""}', "body.text", "at least 1"),
    (b'{}', "body", "either 'text'"),
    (b'{"text": "a", "documents": [{"text": "b"}]}', "body", "not both"),
    (b'{"documents": []}', "body.documents", "at least 1"),
    (b'{"documents": [{"text": "a"}, {"txet": "b"}]}', "body.documents[1].text", "Field required"),
    (b'{"documents": [{"text": "a"}, {"text": "b", "foo": 1}]}', "body.documents[1].foo", "unknown field"),
    (b'{"documents": [{"text": "a"}], "context": {}}', "body", "inside each item"),
    (b'{"text": "a", "context": {"plan": [1]}}', "body.context", "plan must be"),
    (b'{"text": "a", "context": {"age": [1]}}', "body.context", "age"),
    (b'{"documents": [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}]}', "body.documents[1].id", "duplicate id"),
    (b'{"text": "a", "include_text": "maybe"}', "body.include_text", "boolean"),
])
def test_malformed_or_wrong_fields_are_422_naming_the_field(client, body, field, words):
    response = client.post("/v1/annotate", content=body, headers={"content-type": "application/json"})
    err = error_of(response, 422)
    assert err["code"] == "invalid_request"
    assert err["fields"][0]["field"] == field, err
    assert words.lower() in err["fields"][0]["problem"].lower(), err
    assert all(set(f) == {"field", "problem"} for f in err["fields"])  # the request's values are not echoed back
    assert "maybe" not in response.text


def test_generate_validates_like_annotate(client):
    err = error_of(client.post("/v1/generate", json={"text": "a", "followup": True}), 422)
    assert err["fields"][0]["field"] == "body.followup"


def test_unknown_path_and_method_are_json(client):
    assert "no such endpoint" in error_of(client.get("/v2/annotate"), 404)["message"]
    assert error_of(client.get("/v1/annotate"), 405)["code"] == "method_not_allowed"


# ---- pipeline problems -------------------------------------------------------------------


@Language.component("ct_test_serve_fail_on_boom")
def _fail_on_boom(doc):
    """Raises on documents that contain BOOM (test helper)."""
    if "BOOM" in doc.text:
        raise ValueError("this component does not like BOOM")
    return doc


class _Slow:
    calls = 0


@Language.component("ct_test_slow")
def _slow(doc):
    """Sleeps 0.2 s per document and counts the calls (test helper)."""
    _Slow.calls += 1
    time.sleep(0.2)
    return doc


def test_a_document_the_pipeline_fails_on_is_an_error_record(make_client, serve_model_dir):
    nlp = spacy.load(serve_model_dir)
    nlp.add_pipe("ct_test_serve_fail_on_boom", before="ct_reasoner")
    client = make_client(PipelineService(nlp, batch_size=8))
    body = client.post("/v1/annotate", json={"documents": [{"text": NOTES[1]}, {"text": "BOOM nausea"}, {"text": NOTES[2]}]}).json()
    assert [d["id"] for d in body["documents"]] == ["1", "3"]
    assert body["errors"] == [{"id": "2", "source": None, "row": None, "stage": "nlp",
                               "error": "pipeline component 'ct_test_serve_fail_on_boom' failed: ValueError: this component does not like BOOM"}]
    assert body["documents"][0]["adverse_events"] == expected_record(nlp, NOTES[1])["adverse_events"]


def test_request_over_the_time_limit_is_504_and_its_work_stops(make_client, serve_model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_test_slow")
    client = make_client(PipelineService(nlp, batch_size=1), timeout_s=0.5)
    _Slow.calls = 0
    err = error_of(client.post("/v1/annotate", json={"documents": [{"text": f"note {i}"} for i in range(20)]}), 504)
    assert err["code"] == "timeout" and "0.5 s" in err["message"]
    time.sleep(0.6)
    stopped_at = _Slow.calls
    time.sleep(0.6)
    assert _Slow.calls == stopped_at < 20  # stopped at the next batch, not run to the end
    assert client.post("/v1/annotate", json={"text": "one note"}).status_code == 200  # the worker is free again


def test_missing_components_are_501(make_client):
    client = make_client(PipelineService(spacy.blank("en")))
    assert "ct_followup" in error_of(client.post("/v1/generate", json={"text": "nausea"}), 501)["message"]
    assert "ct_followup" in error_of(client.post("/v1/annotate", json={"text": "nausea", "followup": True}), 501)["message"]
    assert "knowledge base" in error_of(client.get("/v1/kb/search", params={"q": "nausea"}), 501)["message"]
    body = client.post("/v1/annotate", json={"text": "Grade 2 nausea."}).json()
    assert body["documents"][0]["adverse_events"] == [] and body["documents"][0]["regimens"] == []
    assert client.get("/v1/info").json()["features"] == {"annotate": True, "generate": False, "kb_search": False}


def test_a_crash_is_json_500_and_the_log_never_holds_document_text(make_client, service, monkeypatch, caplog):
    secret = "Patient Zebulon Quaxley had grade 3 nausea"
    client = make_client()
    caplog.set_level(logging.DEBUG)
    assert client.post("/v1/annotate", json={"text": secret, "followup": True}).status_code == 200
    assert client.post("/v1/generate", json={"documents": [{"text": secret}]}).status_code == 200
    assert client.post("/v1/annotate/file", params={"filename": "n.txt"}, content=secret.encode()).status_code == 200
    client.post("/v1/annotate", json={"text": secret, "context": {"plan": [1]}})

    def broken(items, **kwargs):
        raise RuntimeError(f"something broke on: {items[0]['text']}")

    monkeypatch.setattr(service, "annotate", broken)
    err = error_of(client.post("/v1/annotate", json={"text": secret}), 500)
    assert err["code"] == "internal_error" and "Zebulon" not in err["message"]
    assert "RuntimeError" in caplog.text and "POST /v1/annotate 500" in caplog.text
    assert "POST /v1/annotate 200 docs=1 chars=42" in caplog.text
    assert "Zebulon" not in caplog.text and "Quaxley" not in caplog.text


# ---- CORS --------------------------------------------------------------------------------


def test_cors_is_off_by_default_and_on_only_for_listed_origins(make_client):
    plain = make_client()
    response = plain.post("/v1/annotate", json={"text": "nausea"}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    preflight = plain.options("/v1/annotate", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers

    allowed = make_client(cors_origins=("https://safety.example.org",))
    ok = allowed.options("/v1/annotate", headers={"Origin": "https://safety.example.org", "Access-Control-Request-Method": "POST"})
    assert ok.headers["access-control-allow-origin"] == "https://safety.example.org"
    other = allowed.post("/v1/annotate", json={"text": "nausea"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


# ---- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,words", [
    ({"model": " "}, "model"), ({"max_bytes": 0}, "max_bytes"), ({"max_documents": True}, "max_documents"),
    ({"batch_size": -1}, "batch_size"), ({"timeout_s": 0}, "timeout_s"), ({"api_key_env": ""}, "api_key_env"),
    ({"cors_origins": ("*",)}, "never '*'"), ({"cors_origins": ("safety.example.org",)}, "full origin"),
])
def test_bad_settings_are_errors_naming_them(kwargs, words):
    with pytest.raises(SettingsError, match=words):
        ServeSettings(**kwargs)


def test_settings_travel_to_workers_as_json(monkeypatch):
    settings = ServeSettings(model="m", max_bytes=5, timeout_s=1.5, api_key_env="K", cors_origins=("https://a.example",))
    assert ServeSettings.from_json(settings.to_json()) == settings
    monkeypatch.delenv(SETTINGS_ENV, raising=False)
    with pytest.raises(SettingsError, match=SETTINGS_ENV):
        ServeSettings.from_env()
    with pytest.raises(SettingsError, match="unknown setting"):
        ServeSettings.from_json('{"model": "m", "api_key": "x"}')
    monkeypatch.setenv(SETTINGS_ENV, settings.to_json())
    assert ServeSettings.from_env() == settings
    assert "K" not in json.dumps(settings.public()) and "api_key" not in settings.to_json().replace("api_key_env", "")


def test_requests_run_one_at_a_time_per_worker(make_client, serve_model_dir):
    """Concurrent requests to one app are served one after another on its single
    pipeline thread, each with its own answer."""
    client = make_client()
    results = {}

    def call(i):
        results[i] = client.post("/v1/annotate", json={"text": NOTES[i % len(NOTES)], "id": f"n{i}"}).json()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    nlp = spacy.load(serve_model_dir)
    for i, body in results.items():
        assert body["documents"] == [expected_record(nlp, NOTES[i % len(NOTES)], f"n{i}")]
