"""``en-clinical-trials serve``: options, refusals (exit 2), a real server with an API key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from ct_safety_nlp.cli.serve import _is_loopback
from serve_helpers import NARRATIVE, Server, expected_record, post_json

PY = sys.executable


def serve(*args, env=None, timeout=120):
    full = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([PY, "-m", "ct_safety_nlp.cli", "serve", *args], capture_output=True, text=True, env=full,
                          timeout=timeout)


def test_serve_is_a_top_level_command_with_its_options():
    out = subprocess.run([PY, "-m", "ct_safety_nlp.cli", "serve", "--help"], capture_output=True, text=True,
                         env=dict(os.environ, COLUMNS="200"))
    assert out.returncode == 0, out.stderr
    for option in ("--model", "--host", "--port", "--workers", "--api-key-env", "--max-bytes", "--timeout", "--cors-origin"):
        assert option in out.stdout, option
    assert "127.0.0.1" in out.stdout


def test_the_cli_and_the_library_do_not_import_fastapi_until_serving():
    code = ("import sys; from ct_safety_nlp.cli import _register_subcommands; _register_subcommands(); "
            "import ct_safety_nlp.serve, ct_safety_nlp.serve.service, ct_safety_nlp.bulk.run; "
            "print([m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules])")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_pipeline_that_does_not_exist_is_exit_2(tmp_path, workers):
    out = serve("--model", str(tmp_path / "nope"), "--workers", workers, "--port", "0")
    assert out.returncode == 2, out.stderr
    assert "serve: error:" in out.stderr and "nope" in out.stderr


def test_a_folder_that_is_not_a_pipeline_is_exit_2(tmp_path):
    out = serve("--model", str(tmp_path), "--workers", "2", "--port", "0")
    assert out.returncode == 2 and "config.cfg" in out.stderr


def test_unset_api_key_variable_and_bad_options_are_exit_2(serve_model_dir):
    out = serve("--model", serve_model_dir, "--api-key-env", "CT_SERVE_NO_SUCH_VARIABLE", "--port", "0")
    assert out.returncode == 2 and "CT_SERVE_NO_SUCH_VARIABLE" in out.stderr
    out = serve("--model", serve_model_dir, "--cors-origin", "*", "--port", "0")
    assert out.returncode == 2 and "never '*'" in out.stderr
    out = serve("--model", serve_model_dir, "--log-level", "loud", "--port", "0")
    assert out.returncode == 2 and "--log-level" in out.stderr


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.8.0.1", True),
                                           ("0.0.0.0", False), ("10.0.0.5", False), ("example.org", False)])
def test_loopback_hosts(host, loopback):
    assert _is_loopback(host) is loopback


@pytest.mark.slow
def test_real_server_with_api_key_answers_like_the_pipeline(serve_model_dir, serve_nlp):
    with Server(serve_model_dir, "--api-key-env", "CT_SERVE_CLI_KEY", env={"CT_SERVE_CLI_KEY": "k-123"}) as server:
        server.wait_ready()
        status, body = post_json(server.url + "/v1/annotate", {"text": NARRATIVE})
        assert status == 401 and body["error"]["code"] == "unauthorized"
        status, body = post_json(server.url + "/v1/annotate", {"text": NARRATIVE}, headers={"X-API-Key": "k-123"})
        assert status == 200
        assert body["documents"] == [expected_record(serve_nlp, NARRATIVE)]
        with urllib.request.urlopen(server.url + "/v1/health") as resp:
            assert resp.status == 200
        log = server.log()
    assert server.proc.returncode == -signal.SIGTERM  # uvicorn shuts down gracefully, then re-raises the signal
    assert "Finished server process" in server.log()
    assert "API key required ($CT_SERVE_CLI_KEY)" in log and "k-123" not in log
    assert "POST /v1/annotate 401" in log and "POST /v1/annotate 200 docs=1" in log
    assert "febrile" not in log.lower()  # no document text in the log
