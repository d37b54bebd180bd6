"""The annotate command end to end on small real pipelines: --help, outputs
checked against the documents (docs.jsonl, CSVs, SDTM, HTML, DocBin), exit
codes, pipeline failures isolated per document, n_process=2 == n_process=1."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from typer.testing import CliRunner

from bulk_helpers import (
    PY,
    blank_ruler_model,
    check_exactly_once,
    check_exports,
    cli,
    read_csv,
    read_jsonl,
    reasoner_model,
    write_bad_files,
    write_phee_folder,
)
from ct_safety_nlp.bulk.run import AnnotateOptions, annotate


def run(inputs, out, model, **kw):
    stream = io.StringIO()
    code = annotate(AnnotateOptions(inputs=[str(i) for i in inputs], output=str(out), model=model, progress="lines", **kw), stream)
    return code, stream.getvalue()


@pytest.fixture(scope="module")
def rmodel(ctcae_xlsx_path):
    return reasoner_model(str(ctcae_xlsx_path))[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, phee_dev_path):
    root = tmp_path_factory.mktemp("docs")
    ids = write_phee_folder(root, phee_dev_path, 40)
    with open(root / "visits.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("studyid,usubjid,text\n")
        fh.write('CT-01,P-001,"Grade 3 febrile neutropenia on day 8 after paclitaxel; hospitalized."\n')
        fh.write('CT-01,P-002,"No nausea. Grade 2 peripheral sensory neuropathy."\n')
    return root, ids + ["visits.csv#1", "visits.csv#2"]


# ---------------------------------------------------------------- help

def test_help_of_module_and_console_command():
    console = str(Path(PY).with_name("en-clinical-trials"))
    for cmd in ([console, "annotate", "--help"], [PY, "-m", "ct_safety_nlp.cli", "annotate", "--help"]):
        result = subprocess.run(cmd, capture_output=True, text=True, env={"COLUMNS": "200", "PATH": ""})
        assert result.returncode == 0, result.stderr
        for option in ("--output", "--model", "--format", "--n-process", "--batch-size", "--gpu-id", "--resume", "--engine"):
            assert option in result.stdout, (cmd, option)
        assert "exactly once" in result.stdout


def test_typer_registration_like_the_cli():
    import typer

    from ct_safety_nlp.cli.annotate import annotate_command

    app = typer.Typer()
    app.command("annotate")(annotate_command)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["annotate", "--help"])
    assert result.exit_code == 0 and "INPUT" in result.output.upper()


# ---------------------------------------------------------------- outputs

def test_outputs_match_documents(tmp_path, folder, rmodel):
    root, ids = folder
    out = tmp_path / "out"
    code, log = run([root], out, rmodel, html_limit=5, docbin=True)
    assert code == 0, log
    docs, errors = check_exactly_once(out, ids)
    assert errors == []
    check_exports(out, docs)
    by_id = {d["id"]: d for d in docs}
    assert set(by_id["phee/0000.txt"]) >= {"id", "sha256", "ents", "spans", "adverse_events", "regimens", "decoded"}
    fn = by_id["visits.csv#1"]
    assert fn["meta"] == {"studyid": "CT-01", "usubjid": "P-001"}
    (ae,) = [a for a in fn["adverse_events"] if a["ctcae_term"] == "Febrile neutropenia"]
    assert ae["grade"] == 3 and ae["serious"] is True and ae["drugs"] == ["paclitaxel"]
    sdtm = [r for r in read_csv(out / "ae_sdtm.csv") if r["USUBJID"] == "P-001"]
    row = next(r for r in sdtm if r["AEDECOD"] == "Febrile neutropenia")
    # "after paclitaxel" links a suspect drug but states no relation: AEREL stays empty (no guess)
    assert (row["STUDYID"], row["USUBJID"], row["AETOXGR"], row["AESER"], row["AEREL"]) == ("CT-01", "P-001", "3", "Y", "")
    assert row["AEBODSYS"] == ae["soc"] and row["AELLTCD"] == str(ae["meddra_code"])
    # negated AEs are in adverse_events.csv but not in the SDTM table
    neg = [a for a in by_id["visits.csv#2"]["adverse_events"] if a["negated"]]
    assert neg and neg[0]["text"] in {r["AETERM"] for r in read_csv(out / "ae_sdtm_excluded.csv") if r["DOCID"] == "visits.csv#2"}
    # report and DocBin
    html = (out / "report.html").read_text()
    assert "class=\"entities\"" in html and "<mark" in html and "<table>" in html
    assert "37 more documents not shown" in html
    from spacy.tokens import DocBin

    nlp = spacy.load(rmodel)
    back = list(DocBin().from_disk(out / "docs.spacy").get_docs(nlp.vocab))
    assert sorted(d.user_data["ct_bulk_id"] for d in back) == sorted(ids)
    doc = next(d for d in back if d.user_data["ct_bulk_id"] == "visits.csv#1")
    assert json.loads(json.dumps(doc._.ct_adverse_events)) == fn["adverse_events"]  # msgpack gives tuples
    assert [(e.start_char, e.label_) for e in doc.ents] == [(e["start_char"], e["label"]) for e in fn["ents"]]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["documents"] == len(ids) and summary["adverse_events"] == sum(len(d["adverse_events"]) for d in docs)
    assert "docs/s" in log and "words/s" in log and "wall time" in log


def test_any_pipeline_without_ct_extensions(tmp_path, folder):
    root, ids = folder
    model, _ = blank_ruler_model()
    code, log = run([root], tmp_path / "out", model, include_text=False)
    assert code == 0, log
    docs, _ = check_exactly_once(tmp_path / "out", ids)
    assert all(d["adverse_events"] == [] and d["regimens"] == [] and "text" not in d for d in docs)
    assert any(e["label"] == "DRUG" for d in docs for e in d["ents"])
    assert read_csv(tmp_path / "out" / "adverse_events.csv") == []


def test_two_processes_give_the_same_records(tmp_path, folder, rmodel):
    root, ids = folder
    code1, log1 = run([root], tmp_path / "one", rmodel, batch_size=8)
    code2, log2 = run([root], tmp_path / "two", rmodel, batch_size=8, n_process=2)
    assert (code1, code2) == (0, 0), log2
    one = {d["id"]: d for d in read_jsonl(tmp_path / "one" / "docs.jsonl")}
    two = {d["id"]: d for d in read_jsonl(tmp_path / "two" / "docs.jsonl")}
    assert sorted(one) == sorted(ids) and one == two


# ---------------------------------------------------------------- exit codes

def test_exit_codes(tmp_path, folder):
    root, _ = folder
    model, _ = blank_ruler_model()
    bad = tmp_path / "bad_in"
    expected = write_bad_files(bad)
    code, log = run([bad], tmp_path / "o1", model)
    assert code == 3, log
    docs, errors = check_exactly_once(tmp_path / "o1", list(expected))
    assert {e["id"] for e in errors} == {k for k, v in expected.items() if v.startswith("error:")}
    assert {d["id"]: d["decoded"] for d in docs} == {k: v[4:] for k, v in expected.items() if v.startswith("doc:")}
    assert f"errors:    {len(errors)} in errors.jsonl" in log
    assert run([tmp_path / "missing"], tmp_path / "o2", model)[0] == 2
    assert run([root], tmp_path / "o3", str(tmp_path / "no-model"))[0] == 2
    code, log = run([root], tmp_path / "o1", model)
    assert code == 2 and "--resume" in log
    assert run([root], tmp_path / "o4", model, engine="spark")[0] == 2
    assert run([root], tmp_path / "o5", model, gpu_id=0, n_process=2)[0] == 2


# ---------------------------------------------------------------- failing component

@Language.component("ct_test_fail_on_boom")
def _fail_on_boom(doc):
    if "BOOM" in doc.text:
        raise RuntimeError("cannot handle BOOM")
    return doc


def _run_on_texts(tmp_path, nlp, texts, batch_size):
    """Save nlp, write texts ({file name: text}) into a folder, annotate it;
    return (exit code, log, docs, errors) after checking exactly-once output."""
    nlp.to_disk(tmp_path / "model")
    src = tmp_path / "in"
    src.mkdir()
    for name, text in texts.items():
        (src / name).write_text(text)
    code, log = run([src], tmp_path / "out", str(tmp_path / "model"), batch_size=batch_size)
    docs, errors = check_exactly_once(tmp_path / "out", list(texts))
    return code, log, docs, errors


def test_component_failure_is_isolated_to_its_document(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_test_fail_on_boom")
    texts = {f"{i}.txt": "BOOM here" if i == 4 else f"fine document {i}" for i in range(10)}
    code, log, docs, errors = _run_on_texts(tmp_path, nlp, texts, batch_size=5)
    assert code == 3, log
    assert len(docs) == 9
    (err,) = errors
    assert err["id"] == "4.txt" and err["stage"] == "nlp"
    assert err["error"] == "pipeline component 'ct_test_fail_on_boom' failed: RuntimeError: cannot handle BOOM"


def test_progress_lines_when_not_a_terminal(tmp_path, folder):
    root, _ = folder
    model, _ = blank_ruler_model()
    result = cli([str(root), "--output", str(tmp_path / "out"), "--model", model], timeout=120)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    assert any("docs/s" in line and "ETA" in line for line in result.stderr.splitlines())


class _PipeRaises:
    """A component whose own ``pipe`` raises instead of using the error handler."""

    def __call__(self, doc):
        if "BOOM" in doc.text:
            raise ValueError("bad doc")
        return doc

    def pipe(self, docs, batch_size=128):
        for doc in docs:
            yield self(doc)


@Language.factory("ct_test_pipe_raises")
def _make_pipe_raises(nlp, name):
    return _PipeRaises()


def test_component_pipe_that_raises_does_not_end_the_run(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_test_pipe_raises")
    texts = {f"{i:02d}.txt": "BOOM" if i in (3, 9) else f"fine {i}" for i in range(12)}
    code, log, docs, errors = _run_on_texts(tmp_path, nlp, texts, batch_size=4)
    assert code == 3, log
    assert sorted(e["id"] for e in errors) == ["03.txt", "09.txt"]
    assert all("ct_test_pipe_raises" in e["error"] and "bad doc" in e["error"] for e in errors)


def test_pipeline_with_a_cython_parser_component(tmp_path, folder):
    """spaCy's ner cannot take an error handler (no attribute to set); the run
    must still work, and a failure after it still be isolated."""
    root, ids = folder
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    ner.add_label("DRUG")
    nlp.initialize()
    nlp.add_pipe("ct_test_fail_on_boom")
    texts = {f"{i}.txt": "BOOM" if i == 2 else f"paclitaxel dose {i}" for i in range(6)}
    code, log, docs, errors = _run_on_texts(tmp_path, nlp, texts, batch_size=4)
    assert code == 3, log
    assert [e["id"] for e in errors] == ["2.txt"] and len(docs) == 5


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stream_cls,mode,marker", [(_Tty, "bar", "\r["), (io.StringIO, "lines", "\n")])
def test_progress_modes(stream_cls, mode, marker):
    from ct_safety_nlp.bulk.progress import Progress

    stream = stream_cls()
    progress = Progress(1000, stream=stream, interval=0.0)
    assert progress.mode == mode
    progress.update(docs=10, errors=1, words=200, bytes_done=250)
    progress.update(docs=10, errors=0, words=200, bytes_done=250)
    progress.close()
    text = stream.getvalue()
    assert marker in text and "docs/s" in text and "ETA" in text and " 50.0%" in text
    assert "20 docs, 1 errors" in text


@pytest.mark.gpu
def test_gpu_gives_the_same_records(tmp_path, folder):
    """--gpu-id 0 (needs CUDA and the gpu extra): same records as on CPU."""
    root, ids = folder
    model, _ = blank_ruler_model()
    assert run([root], tmp_path / "cpu", model)[0] == 0
    code, log = run([root], tmp_path / "gpu", model, gpu_id=0)
    assert code == 0, log
    cpu = {d["id"]: d for d in read_jsonl(tmp_path / "cpu" / "docs.jsonl")}
    gpu = {d["id"]: d for d in read_jsonl(tmp_path / "gpu" / "docs.jsonl")}
    assert sorted(gpu) == sorted(ids) and gpu == cpu
