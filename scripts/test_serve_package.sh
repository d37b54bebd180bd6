#!/usr/bin/env bash
# The service from the built wheels, the way a user installs it: a fresh
# virtualenv, `pip install` of the pipeline wheel and the ct-safety-nlp wheel
# with its `serve` extra, then `en-clinical-trials serve --model
# en_clinical_trials` on 127.0.0.1 and, for every text, /v1/annotate's
# record compared with the record of spacy.load("en_clinical_trials") in the
# same environment (one text per request against nlp(text); one batch request
# against nlp.pipe). Exits 1 on any difference.
#
#   bash scripts/test_serve_package.sh PIPELINE_DIST_DIR LIBRARY_DIST_DIR [TEXTS.jsonl [N]]
#
# TEXTS.jsonl: JSON lines with a "context" (PHEE) or "text" field; the first N
# (default 50) are sent. TORCH_SPEC as in scripts/test_package.sh.
set -euo pipefail
pipeline_dist=${1:?usage: test_serve_package.sh PIPELINE_DIST_DIR LIBRARY_DIST_DIR [TEXTS.jsonl [N]]}
library_dist=${2:?usage: test_serve_package.sh PIPELINE_DIST_DIR LIBRARY_DIST_DIR [TEXTS.jsonl [N]]}
texts=${3:-}
n_texts=${4:-50}
[ -z "$texts" ] || texts=$(cd "$(dirname "$texts")" && pwd)/$(basename "$texts")
pipeline_wheel=$(ls -t "$pipeline_dist"/en_clinical_trials-*.whl 2>/dev/null | head -n 1 || true)
library_wheel=$(ls -t "$library_dist"/ct_safety_nlp-*.whl 2>/dev/null | head -n 1 || true)
[ -z "$library_wheel" ] || library_wheel=$(cd "$(dirname "$library_wheel")" && pwd)/$(basename "$library_wheel")
[ -n "$pipeline_wheel" ] || { echo "test-serve-package: no en_clinical_trials wheel in $pipeline_dist" >&2; exit 2; }
[ -n "$library_wheel" ] || { echo "test-serve-package: no ct_safety_nlp wheel in $library_dist" >&2; exit 2; }

venv=$(mktemp -d "${TMPDIR:-/tmp}/ct-test-serve.XXXXXX")
trap 'rm -rf "$venv"' EXIT
python -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "$pipeline_wheel" "$library_wheel" "${TORCH_SPEC:-torch==2.13.0}" "transformers==4.53.2" 2>&1 \
    | grep -v "^WARNING: Location" || true
# then the extra (in a second call: the pip of a fresh venv, 23.2, cannot resolve
# an extra of a local wheel that another wheel depends on in the same call)
"$venv/bin/python" -m pip install -q --disable-pip-version-check "ct-safety-nlp[serve] @ file://${library_wheel}" 2>&1 \
    | grep -v "^WARNING: Location" || true
cd "$venv"  # away from the repo, so only the installed packages can be imported
OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    CT_TEXTS="$texts" CT_N="$n_texts" "$venv/bin/python" - <<'PY'
import json, os, socket, subprocess, sys, time, urllib.request

import spacy
from ct_safety_nlp.bulk.records import doc_record, dumps

texts = [
    "On day 15 her platelet count was 22,000/mm3 and she was admitted with febrile neutropenia after "
    "carboplatin 400 mg/m2 IV every 3 weeks; she denied vomiting.",
    "Grade 3 diarrhoea on day 5 after irinotecan 180 mg/m2; no fever.",
]
if os.environ.get("CT_TEXTS"):
    with open(os.environ["CT_TEXTS"], encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            texts.append(obj.get("text") or obj["context"])
            if len(texts) >= int(os.environ["CT_N"]) + 2:
                break

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
url = f"http://127.0.0.1:{port}"
bin_dir = os.path.dirname(sys.executable)
log = open("serve.log", "wb")
started = time.perf_counter()
server = subprocess.Popen([os.path.join(bin_dir, "en-clinical-trials"), "serve", "--model", "en_clinical_trials",
                           "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)


def post(payload):
    req = urllib.request.Request(url + "/v1/annotate", data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        return json.loads(resp.read())


try:
    for _ in range(600):
        if server.poll() is not None:
            raise SystemExit("test-serve-package: the server exited:\n" + open("serve.log").read())
        try:
            with urllib.request.urlopen(url + "/v1/health", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    else:
        raise SystemExit("test-serve-package: the server did not start:\n" + open("serve.log").read())
    print(f"server up in {time.perf_counter() - started:.1f} s")
    with urllib.request.urlopen(url + "/v1/info") as resp:
        info = json.loads(resp.read())
    print("served:", info["pipeline"]["name"], info["pipeline"]["version"], info["pipeline"]["components"],
          "CTCAE", (info["ctcae"] or {}).get("version"))

    nlp = spacy.load("en_clinical_trials")
    item = lambda i: {"id": f"t{i}", "source": None, "row": None, "decoded": "json", "meta": None}  # noqa: E731
    as_json = lambda rec: json.loads(dumps(rec))  # noqa: E731
    single_diff, n_aes = [], 0
    for i, text in enumerate(texts):
        got = post({"id": f"t{i}", "text": text})["documents"][0]
        want = as_json(doc_record(nlp(text), item(i)))
        n_aes += len(want["adverse_events"])
        if got != want:
            single_diff.append(i)
    batch = post({"documents": [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)]})["documents"]
    want_batch = [as_json(doc_record(doc, item(i))) for i, doc in enumerate(nlp.pipe(texts, batch_size=32))]
    batch_diff = [i for i, (g, w) in enumerate(zip(batch, want_batch)) if g != w]
    same_aes = sum(g["adverse_events"] == w["adverse_events"] for g, w in zip(batch, want_batch))
    print(f"{len(texts)} texts, {n_aes} AEs: one text per request == nlp(text): {len(texts) - len(single_diff)}/{len(texts)}; "
          f"one batch request == nlp.pipe: {len(texts) - len(batch_diff)}/{len(texts)} records, "
          f"{same_aes}/{len(texts)} AE lists")
    if single_diff or batch_diff:
        raise SystemExit(f"test-serve-package: FAILED: differences in texts {single_diff} (single) {batch_diff} (batch)")
    text_in_log = [i for i, t in enumerate(texts) if t[:40] in open("serve.log", encoding="utf-8").read()]
    if text_in_log:
        raise SystemExit(f"test-serve-package: FAILED: document text in the server log (texts {text_in_log})")
    print("test-serve-package: OK")
finally:
    server.terminate()
    server.wait(timeout=60)
    log.close()
PY
