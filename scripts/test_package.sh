#!/usr/bin/env bash
# Smoke-test the built wheels the way a user installs them: a fresh virtualenv,
# `pip install` of the pipeline wheel and the ct-safety-nlp library wheel,
# then scripts/check_installed_pipeline.py: every component, ct_reasoner's tables,
# AE records with the shipped protocol's DLT/action, regimens, the follow-up record
# and its faithfulness check, annotate and generate run on the installed pipeline.
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
    | { grep -v "^WARNING: Location" || true; }
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$venv"  # away from the repo, so only the installed packages can be imported
# The whole shipped pipeline, its tables and the commands on it (scripts/check_installed_pipeline.py)
OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 "$venv/bin/python" \
    "$repo/scripts/check_installed_pipeline.py" "$repo/configs/assemble.cfg" "$repo/assets/protocol_rules.yml"
# CTCAE v6.0 from the installed pipeline (ct_reasoner's ctcae_version setting)
OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 "$venv/bin/python" - <<'PY'
import spacy

v6 = spacy.load("en_clinical_trials", config={"components": {"ct_reasoner": {"ctcae_version": "6.0"}}})
aes = {ae["ctcae_term"]: ae["grade"] for ae in v6("ANC 0.8 x 10^9/L on day 8. Platelets 18,000/mm3 on day 15.")._.ct_adverse_events}
print("CTCAE v6.0:", aes)
assert aes.get("Neutrophil count decreased") == 2 and aes.get("Thrombocytopenia") == 3, aes
PY
# the knowledge-base command on the installed pipeline (no --model: en_clinical_trials)
OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 "$venv/bin/en-clinical-trials" kb search "low platelets" --json --ctcae-version 6.0 \
    | "$venv/bin/python" -c 'import json, sys; r = json.load(sys.stdin); assert r[0]["term"] == "Thrombocytopenia", r; print("kb search:", r[0]["term"])'
echo "test-package: CTCAE v6.0 and kb search OK"
