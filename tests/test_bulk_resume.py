"""Exactly-once: the journal's recovery rules, and a run really killed with
SIGKILL part-way, then resumed, leaving every document exactly once across
docs.jsonl and errors.jsonl with the CSV exports consistent."""

import json
import os
import signal
import subprocess
import time

import pytest

from bulk_helpers import (
    PY,
    check_exactly_once,
    check_exports,
    cli,
    read_jsonl,
    reasoner_model,
    write_bad_files,
    write_phee_folder,
)
from ct_safety_nlp.bulk.journal import OutputDir, OutputError
from ct_safety_nlp.bulk.records import text_sha256

MANIFEST = {"model": "m1"}


def _line(rid, **kw):
    return json.dumps(dict({"id": rid}, **kw))


def _write(path, lines, tail=b""):
    path.write_bytes("".join(line + "\n" for line in lines).encode() + tail)


# ---------------------------------------------------------------- journal rules

def test_resume_truncates_partial_last_line(tmp_path):
    _write(tmp_path / "docs.jsonl", [_line("a"), _line("b")], tail=b'{"id": "c", "te')
    out = OutputDir(str(tmp_path))
    done = out.open(resume=True, overwrite=False, manifest=MANIFEST)
    assert done == {"a", "b"}
    assert out.repairs == ["docs.jsonl: truncated a partial last line (15 bytes)"]
    out.commit([_line("c")], [_line("d", error="x")])
    out.close("complete", MANIFEST)
    assert [r["id"] for r in read_jsonl(tmp_path / "docs.jsonl")] == ["a", "b", "c"]
    assert [r["id"] for r in read_jsonl(tmp_path / "errors.jsonl")] == ["d"]


def test_resume_drops_garbage_and_repeated_ids(tmp_path):
    _write(tmp_path / "docs.jsonl", [_line("a"), "{garbage", _line("a"), _line("b")])
    _write(tmp_path / "errors.jsonl", [_line("b", error="x"), _line("e", error="y")])
    out = OutputDir(str(tmp_path))
    done = out.open(resume=True, overwrite=False, manifest=MANIFEST)
    out.close("complete", MANIFEST)
    assert done == {"a", "b", "e"}
    assert [r["id"] for r in read_jsonl(tmp_path / "docs.jsonl")] == ["a", "b"]
    assert [r["id"] for r in read_jsonl(tmp_path / "errors.jsonl")] == ["e"]  # the doc record wins
    assert len(out.repairs) == 2


def test_existing_results_need_resume_or_overwrite(tmp_path):
    _write(tmp_path / "docs.jsonl", [_line("a")])
    with pytest.raises(OutputError, match="--resume"):
        OutputDir(str(tmp_path)).open(resume=False, overwrite=False, manifest=MANIFEST)
    (tmp_path / "keep.txt").write_text("not ours")
    out = OutputDir(str(tmp_path))
    assert out.open(resume=False, overwrite=True, manifest=MANIFEST) == set()
    out.close("complete", MANIFEST)
    assert (tmp_path / "docs.jsonl").read_bytes() == b""
    assert (tmp_path / "keep.txt").exists()  # only this tool's files are removed


def test_resume_with_another_model_is_refused(tmp_path):
    out = OutputDir(str(tmp_path))
    out.open(resume=False, overwrite=False, manifest=MANIFEST)
    out.commit([_line("a")], [])
    out.close("complete", MANIFEST)
    with pytest.raises(OutputError, match="mix two models"):
        OutputDir(str(tmp_path)).open(resume=True, overwrite=False, manifest={"model": "m2"})


def test_one_writer_per_directory(tmp_path):
    first = OutputDir(str(tmp_path))
    first.open(resume=False, overwrite=False, manifest=MANIFEST)
    with pytest.raises(OutputError, match="another annotate run"):
        OutputDir(str(tmp_path)).open(resume=True, overwrite=False, manifest=MANIFEST)
    first.close("complete", MANIFEST)
    OutputDir(str(tmp_path)).open(resume=True, overwrite=False, manifest=MANIFEST)


# ---------------------------------------------------------------- SIGKILL

@pytest.fixture(scope="module")
def corpus(tmp_path_factory, phee_dev_path):
    """500 PHEE dev sentences as .txt, one file of each bad kind, and a jsonl
    and a csv whose rows are documents. RETURNS (folder, expected ids, texts)."""
    folder = tmp_path_factory.mktemp("corpus")
    ids = write_phee_folder(folder, phee_dev_path, 500)
    bad = write_bad_files(folder)
    texts = {rel: (folder / rel).read_text(encoding="utf-8") for rel in ids}
    rows = [json.dumps({"text": texts[ids[i]], "usubjid": f"P{i}"}) for i in range(20)]
    rows[7] = "{broken json"
    (folder / "rows.jsonl").write_text("\n".join(rows) + "\n")
    with open(folder / "visits.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("usubjid,text\n")
        for i in range(10):
            fh.write(f"S{i},\"{texts[ids[100 + i]]}\"\n")
    expected = ids + list(bad) + [f"rows.jsonl#{i}" for i in range(1, 21)] + [f"visits.csv#{i}" for i in range(1, 11)]
    return folder, expected, texts


@pytest.mark.slow
def test_sigkill_then_resume_is_exactly_once(tmp_path, corpus, ctcae_xlsx_path):
    folder, expected, texts = corpus
    model, code = reasoner_model(str(ctcae_xlsx_path), delay=True)
    out = tmp_path / "out"
    args = [str(folder), "--output", str(out), "--model", model, "--code", code, "--batch-size", "8", "--progress", "lines"]
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.Popen([PY, "-m", "ct_safety_nlp.cli", "annotate", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    docs_path = out / "docs.jsonl"
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if docs_path.exists() and docs_path.read_bytes().count(b"\n") >= 120:
                break
            if proc.poll() is not None:
                pytest.fail(f"run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.02)
        else:
            pytest.fail("no output within 180 s")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = len(read_jsonl(docs_path))
    assert 120 <= killed_at < 500, killed_at
    # a write torn by the kill: half a record, for a document not yet done
    with open(docs_path, "ab") as fh:
        fh.write(b'{"id": "phee/0499.txt", "source": "phee/04')

    result = cli(args + ["--resume"], timeout=300)
    assert result.returncode == 3, result.stderr[-3000:]  # finished, some documents in errors.jsonl
    assert "truncated a partial last line" in result.stderr
    docs, errors = check_exactly_once(out, expected)
    check_exports(out, docs)

    for record in docs:  # each record is the annotation of its own file / row
        if record["row"] is None and record["id"] in texts:
            assert record["text"] == texts[record["id"]]
            assert record["sha256"] == text_sha256(texts[record["id"]])
    assert sum(len(d["adverse_events"]) for d in docs) > 200  # the reasoner really ran
    assert {e["id"] for e in errors} >= {"rows.jsonl#8", "bad/binary.txt", "bad/empty.txt", "bad/huge.txt"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["documents"] == len(docs) and summary["errors"] == len(errors)
    assert summary["resumed"] >= killed_at and summary["exit_code"] == 3
    assert summary["run_documents"] + summary["run_errors"] + summary["resumed"] == len(expected)

    # resuming a finished run changes nothing
    before = (docs_path.read_bytes(), (out / "errors.jsonl").read_bytes())
    again = cli(args + ["--resume"], timeout=300)
    assert again.returncode == 3
    assert (docs_path.read_bytes(), (out / "errors.jsonl").read_bytes()) == before
