"""A bounded load test against a real uvicorn on 127.0.0.1.

``en-clinical-trials serve --workers 2`` with the small real pipeline; 500
``POST /v1/annotate`` requests (PHEE dev sentences and the test notes) from 8
concurrent clients with keep-alive connections; it stops by itself (a fixed
number of requests, a deadline for the whole run). Every response must be 200
and equal to the docs.jsonl record of ``nlp(text)``. Prints p50 / p95 / p99
latency and throughput; with ``CT_SERVE_METRICS_DIR`` set, also writes them to
``$CT_SERVE_METRICS_DIR/load_test.json``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from bulk_helpers import phee_texts
from serve_helpers import NOTES, Server, expected_record

N_REQUESTS = 500
N_CLIENTS = 8
N_WORKERS = 2
DEADLINE_S = 300.0


def percentile(values, q):
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


@pytest.mark.slow
def test_500_requests_from_8_clients_all_equal_to_nlp(serve_model_dir, serve_nlp, phee_dev_path):
    texts = phee_texts(phee_dev_path, 100) + NOTES
    expected = [expected_record(serve_nlp, t, rid=f"t{k}") for k, t in enumerate(texts)]
    bodies = [json.dumps({"id": f"t{k}", "text": t}).encode("utf-8") for k, t in enumerate(texts)]

    with Server(serve_model_dir, workers=N_WORKERS) as server:
        server.wait_ready(workers=N_WORKERS, timeout=240)
        lock = threading.Lock()
        counter = {"next": 0}
        latencies, failures = [], []
        deadline = time.monotonic() + DEADLINE_S

        def client(warmup: int = 0):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            try:
                while time.monotonic() < deadline:
                    with lock:
                        i = counter["next"]
                        if i >= N_REQUESTS:
                            return
                        counter["next"] += 1
                    k = i % len(texts)
                    started = time.perf_counter()
                    try:
                        conn.request("POST", "/v1/annotate", body=bodies[k], headers={"Content-Type": "application/json"})
                        resp = conn.getresponse()
                        payload = resp.read()
                    except (OSError, http.client.HTTPException) as err:
                        failures.append(f"request {i}: {type(err).__name__}: {err}")
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                        continue
                    elapsed = time.perf_counter() - started
                    if resp.status != 200:
                        failures.append(f"request {i}: HTTP {resp.status}: {payload[:200]!r}")
                        continue
                    body = json.loads(payload)
                    if body != {"documents": [expected[k]], "errors": []}:
                        failures.append(f"request {i} (text {k}): the response differs from nlp(text)")
                        continue
                    with lock:
                        latencies.append(elapsed)
            finally:
                conn.close()

        # warm-up (not measured): each worker's first requests load lazy parts of the pipeline
        warm = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        for k in range(2 * N_WORKERS):
            warm.request("POST", "/v1/annotate", body=bodies[k], headers={"Content-Type": "application/json"})
            assert warm.getresponse().read()
        warm.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(N_CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DEADLINE_S + 60)
        wall = time.perf_counter() - started
        assert not any(t.is_alive() for t in threads), "a client did not stop"
        log = server.log()

    assert counter["next"] == N_REQUESTS, f"only {counter['next']} of {N_REQUESTS} requests sent before the deadline"
    assert failures == [], failures[:5]
    assert len(latencies) == N_REQUESTS
    pids = re.findall(r"\[(\d+)\] ct_safety_nlp\.serve: POST /v1/annotate 200", log)
    per_worker = sorted(Counter(pids).values(), reverse=True)  # the warm-up requests included
    for text in texts[:20] + NOTES:
        assert text[:40] not in log  # no document text in the server log
    figures = {
        "requests": N_REQUESTS, "clients": N_CLIENTS, "workers": N_WORKERS, "errors": len(failures),
        "mismatches": 0, "distinct_texts": len(texts), "wall_s": round(wall, 2),
        "throughput_rps": round(N_REQUESTS / wall, 1),
        "latency_ms": {name: round(1000 * percentile(latencies, q), 1)
                       for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))},
        "requests_per_worker": per_worker,
        "pipeline": "spacy.blank('en') + entity_ruler + ct_reasoner (CTCAE v5.0) + ct_followup",
        "cpu_count": os.cpu_count(),
    }
    print("\nload test:", json.dumps(figures))
    out_dir = os.environ.get("CT_SERVE_METRICS_DIR")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "load_test.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
