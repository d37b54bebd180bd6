"""``en-clinical-trials annotate`` as a user runs it, under faults: the command
as a process on a saved blank + ct_reasoner pipeline (shipped protocol),
killed with SIGINT / SIGTERM / SIGKILL part-way, crashing in a component
(abort, segfault, an exception the engine cannot isolate, an exception it
can), a full disk, an unwritable output folder and a second run on the same
folder; then ``--resume``. Every document ends up exactly once across
docs.jsonl and errors.jsonl, and each exit status is the one the README's
exit-code table gives (the table is read from the README and tested row by
row, so a row without a test fails).

Small on purpose (CI: 2 cores): 30 one-sentence documents, a test component
sleeping 40 ms per document, batches of 3, so a run takes ~1.5 s past
start-up and a kill lands after a few committed batches (the test waits for
lines in docs.jsonl, not a fixed time). Start-up (importing spaCy) is most of
each process's time, so faults are chained on one output folder where they
can be (SIGINT, then SIGTERM on the resumed run, then a resume that
completes)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from bulk_helpers import PY, check_exactly_once, read_jsonl
from support.pipelines import REPO, saved_reasoner_pipeline
from support.skips import skip_root_only

pytestmark = pytest.mark.slow  # ~20 processes, each importing spaCy (~4 s on a quiet 2-core machine)

N_DOCS = 30
CRASH_DOC = "d21.txt"
CRASH_MARK = "CRASH-HERE"

SENTENCES = [
    "Grade 4 neutropenia occurred after cisplatin in cycle 1.",
    "Grade 3 diarrhea was reported on day 8 after paclitaxel.",
    "She developed grade 2 nausea after carboplatin.",
    "No vomiting was reported.",
]

#: the --code file: a slow component (so a run can be killed part-way) and a
#: component that fails on the document holding CRASH_MARK in the way
#: $CT_TEST_FAULT says (unset: it does nothing, so --resume completes)
TEST_COMPONENTS = f'''
import os
import time

from spacy.language import Language


class CTTestFatal(BaseException):
    """Not an Exception: the engine's per-document isolation cannot catch it,
    standing in for a bug outside the components' error handling."""


@Language.component("ct_test_faults_slow")
def ct_test_faults_slow(doc):
    time.sleep(float(os.environ.get("CT_TEST_DELAY", "0")))
    hold = os.environ.get("CT_TEST_HOLD")  # a file: wait on the 4th document until it exists
    if hold and doc.text == "{SENTENCES[3]}":
        while not os.path.exists(hold):
            time.sleep(0.01)
    return doc


@Language.component("ct_test_fault")
def ct_test_fault(doc):
    mode = os.environ.get("CT_TEST_FAULT", "")
    if mode and "{CRASH_MARK}" in doc.text:
        if mode == "abort":
            os.abort()
        if mode == "segfault":
            import ctypes

            ctypes.string_at(0)
        if mode == "raise":
            raise RuntimeError("test fault on this document")
        if mode == "fatal":
            raise CTTestFatal("test fault the engine cannot isolate")
    return doc
'''



@pytest.fixture(scope="module")
def model(ctcae_xlsx_path):
    """(model dir, --code file): blank + entity_ruler (drugs) + the test
    components + ct_reasoner with the shipped protocol."""
    return saved_reasoner_pipeline(
        str(ctcae_xlsx_path), code=TEST_COMPONENTS, before_reasoner=("ct_test_faults_slow", "ct_test_fault"),
        ruler_patterns=(("DRUG", "cisplatin"), ("DRUG", "paclitaxel"), ("DRUG", "carboplatin")),
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults_in")
    ids = []
    for i in range(N_DOCS):
        name = f"d{i:02d}.txt"
        text = SENTENCES[i % len(SENTENCES)]
        if name == CRASH_DOC:
            text = f"{text} {CRASH_MARK}"
        (folder / name).write_text(text, encoding="utf-8")
        ids.append(name)
    return folder, ids


def _args(inputs, out, model, *extra):
    folder, _ = inputs
    model_dir, code = model
    return ["annotate", str(folder), "--output", str(out), "--model", model_dir, "--code", code,
            "--batch-size", "3", "--progress", "none", *extra]


def _env(**kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", CT_TEST_DELAY="0.04")
    env.pop("CT_TEST_FAULT", None)
    env.update(kw)
    return env


def _run(args, timeout=180, **env):
    return subprocess.run([PY, "-m", "ct_safety_nlp.cli", *args], capture_output=True, text=True,
                          env=_env(**env), timeout=timeout)


def _start(args, **env):
    return subprocess.Popen([PY, "-m", "ct_safety_nlp.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(**env))


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _wait_for_lines(proc, path: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _lines(path) < n:
        if proc.poll() is not None:
            pytest.fail(f"the run ended (status {proc.returncode}) before {n} lines: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"fewer than {n} lines in {path} after {timeout} s")
        time.sleep(0.01)


def _kill_part_way(inputs, out, model, sig, *extra):
    """Start a run, send ``sig`` once 2 more batches are committed; RETURNS (status, stderr, lines then)."""
    proc = _start(_args(inputs, out, model, *extra))
    try:
        _wait_for_lines(proc, out / "docs.jsonl", _lines(out / "docs.jsonl") + 6)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stderr, len(read_jsonl(out / "docs.jsonl"))


def _resume_completes(inputs, out, model, status=0):
    """--resume without the fault: every document exactly once; RETURNS (docs, errors)."""
    result = _run(_args(inputs, out, model, "--resume"))
    assert result.returncode == status, result.stderr[-3000:]
    return check_exactly_once(out, inputs[1])


def _check_reasoner_output(docs):
    """The records carry the shipped protocol's verdicts (so the pipeline under test really ran)."""
    by_text = {d["text"]: d for d in docs}
    (ae,) = [a for a in by_text[SENTENCES[0]]["adverse_events"] if a["ctcae_term"] == "Neutrophil count decreased"]
    assert (ae["grade"], ae["dlt"], ae["action"]) == (4, True, "hold")
    (ae,) = [a for a in by_text[SENTENCES[1]]["adverse_events"] if a["ctcae_term"] == "Diarrhea"]
    assert (ae["grade"], ae["dlt"], ae["action"]) == (3, False, "reduce_one_level")


# ------------------------------------------------------------ tmpfs (root)

@contextmanager
def _tmpfs(size: str, *options: str):
    """A real small tmpfs mounted on a fresh folder (needs root)."""
    if os.geteuid() != 0:
        skip_root_only("mounting a small tmpfs needs root")
    point = tempfile.mkdtemp(prefix="ct_tmpfs_")
    opts = ",".join((f"size={size}",) + options)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", point], capture_output=True, text=True)
    if res.returncode != 0:
        os.rmdir(point)
        # root, but without CAP_SYS_ADMIN (an unprivileged container) - not something CI can fix
        skip_root_only(f"mount -t tmpfs is not permitted here: {res.stderr.strip()}")
    try:
        yield Path(point)
    finally:
        subprocess.run(["umount", "-l", point], check=False)
        os.rmdir(point)


# ------------------------------------------------------------ the README's exit-code table, row by row

def _readme_exit_rows():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- annotate-exit-codes -->(.*?)<!-- /annotate-exit-codes -->", text, re.S)
    assert block, "README.md lost its annotate exit-code table (<!-- annotate-exit-codes --> markers)"
    rows = re.findall(r"^\| *([0-9]+|killed) *\| *(.+?) *\|$", block.group(1), re.M)
    return {status: meaning for status, meaning in rows}


def _case_ok(tmp_path, inputs, model):
    result = _run(_args(inputs, tmp_path / "out", model))
    assert result.returncode == 0, result.stderr[-3000:]
    docs, errors = check_exactly_once(tmp_path / "out", inputs[1])
    assert errors == []
    _check_reasoner_output(docs)


def _case_crash(tmp_path, inputs, model):
    out = tmp_path / "out"
    result = _run(_args(inputs, out, model), CT_TEST_FAULT="fatal")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "CTTestFatal" in result.stderr
    assert 0 < len(read_jsonl(out / "docs.jsonl")) < N_DOCS  # the batches before the crash are kept
    _resume_completes(inputs, out, model)


def _case_usage(tmp_path, inputs, model):
    used = tmp_path / "used"
    used.mkdir()
    (used / "docs.jsonl").write_text('{"id": "d00.txt"}\n')  # another run's results, and no --resume
    bad = [
        (_args(inputs, tmp_path / "o1", model) + ["--engine", "spark"], "--engine must be"),
        (["annotate", str(tmp_path / "missing"), "--output", str(tmp_path / "o2"), "--model", model[0]], "missing"),
        (_args(inputs, tmp_path / "o3", (str(tmp_path / "no-model"), model[1])), "cannot load model"),
        (_args(inputs, used, model), "pass --resume to continue that run or --overwrite"),
    ]
    for args, message in bad:
        result = _run(args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr[-2000:])
        assert "Traceback" not in result.stderr


def _case_doc_errors(tmp_path, inputs, model):
    out = tmp_path / "out"
    result = _run(_args(inputs, out, model), CT_TEST_FAULT="raise")
    assert result.returncode == 3, result.stderr[-3000:]
    docs, errors = check_exactly_once(out, inputs[1])
    (err,) = errors
    assert err["id"] == CRASH_DOC and err["stage"] == "nlp"
    assert err["error"] == "pipeline component 'ct_test_fault' failed: RuntimeError: test fault on this document"
    _check_reasoner_output(docs)


def _case_write_failed(tmp_path, inputs, model):
    """A real full disk: the output folder on a 16 KiB tmpfs (a record is ~1 KB,
    run.json takes a page), made larger before --resume."""
    with _tmpfs("16k") as disk:
        out = disk / "out"
        result = _run(_args(inputs, out, model))
        assert result.returncode == 4, result.stderr[-3000:]
        assert "No space left on device" in result.stderr and "--resume" in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        assert 0 < _lines(out / "docs.jsonl") < N_DOCS
        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
        _resume_completes(inputs, out, model)


def _case_interrupted(tmp_path, inputs, model):
    """SIGINT part-way, then SIGTERM part-way through the resumed run, then a resume that completes."""
    out, saved = tmp_path / "out", 0
    for sig, extra in ((signal.SIGINT, ()), (signal.SIGTERM, ("--resume",))):
        status, stderr, now = _kill_part_way(inputs, out, model, sig, *extra)
        assert status == 130, (sig.name, stderr[-2000:])
        assert "continue with --resume" in stderr
        assert saved < now < N_DOCS, (sig.name, saved, now)
        saved = now
    _resume_completes(inputs, out, model)


def _case_killed(tmp_path, inputs, model):
    """SIGKILL part-way, then the resumed run aborts on CRASH_DOC, the next
    segfaults on it, then a resume without the fault completes."""
    out = tmp_path / "out"
    status, _, saved = _kill_part_way(inputs, out, model, signal.SIGKILL)
    assert status == -signal.SIGKILL and 0 < saved < N_DOCS
    for fault, sig in (("abort", signal.SIGABRT), ("segfault", signal.SIGSEGV)):
        result = _run(_args(inputs, out, model, "--resume"), CT_TEST_FAULT=fault)
        assert result.returncode == -sig, (fault, result.returncode, result.stderr[-2000:])
        done = {r["id"] for r in read_jsonl(out / "docs.jsonl")}
        assert CRASH_DOC not in done and len(done) >= saved, fault  # died on it; what was committed is kept
        saved = len(done)
    docs, errors = _resume_completes(inputs, out, model)
    assert errors == []
    _check_reasoner_output(docs)


EXIT_CASES = {
    "0": _case_ok,
    "1": _case_crash,
    "2": _case_usage,
    "3": _case_doc_errors,
    "4": _case_write_failed,
    "130": _case_interrupted,
    "killed": _case_killed,
}


def test_every_documented_exit_status_has_a_case():
    rows = _readme_exit_rows()
    assert set(rows) == set(EXIT_CASES), f"README rows {sorted(rows)} vs tested {sorted(EXIT_CASES)}"


def test_exit_codes_match_the_package_constants():
    from ct_safety_nlp import bulk

    codes = {bulk.EXIT_OK, bulk.EXIT_CRASH, bulk.EXIT_USAGE, bulk.EXIT_DOC_ERRORS, bulk.EXIT_WRITE_FAILED, bulk.EXIT_INTERRUPTED}
    assert {str(c) for c in codes} == set(_readme_exit_rows()) - {"killed"}


@pytest.mark.parametrize("status", sorted(EXIT_CASES))
def test_exit_status(status, tmp_path, inputs, model):
    EXIT_CASES[status](tmp_path, inputs, model)


# ------------------------------------------------------------ the output folder

def test_unwritable_output_folder_is_a_clear_error(tmp_path, inputs, model):
    if os.geteuid() == 0:
        ctx = _tmpfs("1m", "ro")  # root writes through chmod; a read-only mount stops it
    else:
        parent = tmp_path / "ro"
        parent.mkdir()
        parent.chmod(0o555)

        @contextmanager
        def _ro():
            try:
                yield parent
            finally:
                parent.chmod(0o755)

        ctx = _ro()
    with ctx as parent:
        out = parent / "out"
        result = _run(_args(inputs, out, model))
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"error: cannot write to output directory {out}" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_second_run_on_the_same_folder_is_refused(tmp_path, inputs, model):
    """The first run holds on its 4th document (until a file exists) while two
    more runs try the folder: both refused by the lock, nothing interleaved."""
    out, release = tmp_path / "out", tmp_path / "release"
    first = _start(_args(inputs, out, model), CT_TEST_HOLD=str(release))
    try:
        _wait_for_lines(first, out / "docs.jsonl", 3)
        for extra in ((), ("--resume",)):
            second = _run(_args(inputs, out, model, *extra))
            assert second.returncode == 2, (extra, second.stderr[-2000:])
            assert f"another annotate run is writing to {out}" in second.stderr
        release.touch()
        _, stderr = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, stderr[-2000:]
    check_exactly_once(out, inputs[1])  # the first run's records, each once
