#!/usr/bin/env bash
# Smoke-test the built wheels the way a user installs them: a fresh virtualenv,
# `pip install` of the pipeline wheel and the ct-safety-nlp library wheel,
# then spacy.load("en_clinical_trials") on a sentence, printing what it found.
#
#   bash scripts/test_package.sh PIPELINE_DIST_DIR LIBRARY_DIST_DIR
#
# TORCH_SPEC (default torch==2.13.0, the CPU wheel pip finds on this kind of
# machine) rides in the same pip call so pip does not pick a multi-GB CUDA build.
set -euo pipefail
pipeline_dist=${1:?usage: test_package.sh PIPELINE_DIST_DIR LIBRARY_DIST_DIR}
library_dist=${2:?usage: test_package.sh PIPELINE_DIST_DIR LIBRARY_DIST_DIR}
pipeline_wheel=$(ls -t "$pipeline_dist"/en_clinical_trials-*.whl 2>/dev/null | head -n 1 || true)
library_wheel=$(ls -t "$library_dist"/ct_safety_nlp-*.whl 2>/dev/null | head -n 1 || true)
[ -n "$pipeline_wheel" ] || { echo "test-package: no en_clinical_trials wheel in $pipeline_dist" >&2; exit 2; }
[ -n "$library_wheel" ] || { echo "test-package: no ct_safety_nlp wheel in $library_dist" >&2; exit 2; }

venv=$(mktemp -d "${TMPDIR:-/tmp}/ct-test-package.XXXXXX")
trap 'rm -rf "$venv"' EXIT
python -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "$pipeline_wheel" "$library_wheel" "${TORCH_SPEC:-torch==2.13.0}" "transformers==4.53.2" 2>&1 \
    | grep -v "^WARNING: Location" || true
cd "$venv"  # away from the repo, so only the installed packages can be imported
OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 "$venv/bin/python" - <<'PY'
import json
import spacy

nlp = spacy.load("en_clinical_trials")
text = ("On day 15 her platelet count was 22,000/mm3 and she was admitted with febrile "
        "neutropenia after carboplatin 400 mg/m2 IV every 3 weeks; she denied vomiting.")
doc = nlp(text)
print("pipeline:", nlp.pipe_names)
print("entities:", [(e.text, e.label_) for e in doc.ents])
print("spans:", [(s.text, s.label_) for s in doc.spans.get("sc", [])])
if doc.has_extension("ct_adverse_events") and doc._.ct_adverse_events is not None:
    for ae in doc._.ct_adverse_events:
        print("AE:", json.dumps({k: ae[k] for k in ("text", "ctcae_term", "grade", "negated", "serious")}))
assert nlp.pipe_names[:2] == ["transformer", "ner"], nlp.pipe_names
assert "ct_efficacy" in nlp.pipe_names, nlp.pipe_names
responses = nlp("Target lesions measured 52 mm, down from 80 mm at baseline; no new lesions.")._.ct_responses
for r in responses:
    print("response:", json.dumps({k: r[k] for k in ("text", "basis", "response", "percent_change_from_baseline")}))
measured = [r for r in responses if r["basis"] == "measured"]
assert measured and measured[0]["response"] == "PR" and measured[0]["percent_change_from_baseline"] == -35.0, responses
assert {"DRUG", "ADVERSE_EVENT"} <= set(nlp.get_pipe("ner").labels), nlp.get_pipe("ner").labels
v6 = spacy.load("en_clinical_trials", config={"components": {"ct_reasoner": {"ctcae_version": "6.0"}}})
aes = {ae["ctcae_term"]: ae["grade"] for ae in v6("ANC 0.8 x 10^9/L on day 8. Platelets 18,000/mm3 on day 15.")._.ct_adverse_events}
print("CTCAE v6.0:", aes)
assert aes.get("Neutrophil count decreased") == 2 and aes.get("Thrombocytopenia") == 3, aes
print("test-package: OK")
PY
# the knowledge-base command on the installed pipeline (no --model: en_clinical_trials)
OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 "$venv/bin/en-clinical-trials" kb search "low platelets" --json --ctcae-version 6.0 \
    | "$venv/bin/python" -c 'import json, sys; r = json.load(sys.stdin); assert r[0]["term"] == "Thrombocytopenia", r; print("kb search:", r[0]["term"])'
