"""Shared helpers for the service tests: a real small pipeline saved to disk,
a real uvicorn started with ``en-clinical-trials serve``, narratives."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bulk_helpers import DRUGS

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable

SERVE_DRUGS = sorted(set(DRUGS) | {"docetaxel", "irinotecan", "oxaliplatin", "pembrolizumab", "capecitabine"})
DOSE_UNITS = ["mg", "g", "mcg", "µg", "ug", "units", "iu", "ml"]

NARRATIVE = (
    "On day 8 of cycle 2 the patient was hospitalised with febrile neutropenia (grade 4) after docetaxel "
    "75 mg/m2; docetaxel was held. Platelet count 22,000/mm3. Grade 1 nausea, possibly related. "
    "She denied vomiting. History of grade 2 anemia."
)

#: a few visit notes with AEs of every kind (graded, negated, speculated, lab, serious)
NOTES = [
    NARRATIVE,
    "Grade 3 diarrhoea on day 5 after irinotecan 180 mg/m2; no fever.",
    "Patient admitted with grade 3 vomiting after cisplatin 75 mg/m2; cisplatin was held.",
    "Mild fatigue and grade 2 peripheral sensory neuropathy after oxaliplatin 85 mg/m2.",
    "Grade 2 rash on day 12 of capecitabine 1000 mg twice daily; denies pruritus.",
    "Pneumonitis grade 2 after pembrolizumab 200 mg, possibly related; dyspnea improving.",
    "Hemoglobin 7.5 g/dL on day 15; transfused. No bleeding.",
    "Visit unremarkable, no adverse events reported.",
]


def expected_record(nlp, text, rid="1", meta=None, include_text=True, context=None) -> dict:
    """What /v1/annotate must answer for ``text``: the docs.jsonl record of
    ``nlp(text)`` (as JSON), with the service's id / source / row / decoded."""
    from ct_safety_nlp.bulk.records import doc_record, dumps

    doc = nlp.make_doc(text)
    if context is not None:
        doc._.ct_context = context
    item = {"id": rid, "source": None, "row": None, "decoded": "json", "meta": meta}
    return json.loads(dumps(doc_record(nlp(doc), item, include_text)))


def ruler_patterns() -> List[dict]:
    pats = [{"label": "DRUG", "pattern": [{"LOWER": d}]} for d in SERVE_DRUGS]
    number = {"LIKE_NUM": True}
    for unit in DOSE_UNITS:
        pats.append({"label": "DOSE", "pattern": [number, {"LOWER": unit}, {"ORTH": "/"}, {"LOWER": {"IN": ["m2", "m²", "kg"]}}]})
        pats.append({"label": "DOSE", "pattern": [number, {"LOWER": unit}]})
    return pats


def build_pipeline(ctcae_xlsx_path):
    """spacy.blank("en") + entity_ruler (DRUG, DOSE) + ct_reasoner (CTCAE
    workbook, the project's synonym table, the shipped protocol) + ct_followup."""
    from support.pipelines import reasoner_pipeline

    nlp = reasoner_pipeline(ctcae_xlsx_path, ruler_patterns=ruler_patterns(), followup=True)
    nlp.meta.update({"name": "serve_test", "version": "0.0.1"})
    return nlp


@lru_cache(maxsize=None)
def saved_model(ctcae_xlsx_path: str) -> str:
    """The test pipeline saved to a temporary folder (built once per test session)."""
    root = Path(tempfile.mkdtemp(prefix="ct_serve_model_"))
    build_pipeline(ctcae_xlsx_path).to_disk(root / "model")
    return str(root / "model")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``en-clinical-trials serve`` in a subprocess on 127.0.0.1; stderr to a file."""

    def __init__(self, model: str, *args: str, env: Optional[Dict[str, str]] = None, workers: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.mkstemp(prefix="ct_serve_log_", suffix=".txt")[1])
        full_env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", **(env or {}))
        cmd = [PY, "-m", "ct_safety_nlp.cli", "serve", "--model", model, "--port", str(self.port),
               "--workers", str(workers), *args]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=full_env)

    def wait_ready(self, timeout: float = 120.0, workers: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/v1/health", timeout=2) as resp:
                    # one worker: the app is built before the port opens; more: each logs "worker ready"
                    if resp.status == 200 and (workers == 1 or self.log().count("worker ready") >= workers):
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def post_json(url: str, payload, headers: Optional[Dict[str, str]] = None, timeout: float = 60.0) -> Tuple[int, dict]:
    data = json.dumps(payload).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")
