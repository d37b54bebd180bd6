"""``en-clinical-trials generate``: good and bad input lines, --strict, backends, model errors.

Most tests call the typer app in-process (CliRunner); one runs the installed
console script, as a user would. Pipelines are built in tmp dirs:
spacy.blank("en") + ct_followup, or + ct_reasoner for the "Done when" example.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from typer.testing import CliRunner

from ct_safety_nlp import cli
from followup_cases import V1_CONTEXT, V1_TEXT

cli._register_subcommands()
runner = CliRunner()

DONE_WHEN_LINE = {"id": "v1", "text": V1_TEXT, "context": V1_CONTEXT}


def run(*args):
    return runner.invoke(cli.app, ["generate", *map(str, args)])


def write_jsonl(path: Path, lines):
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def read_jsonl(path: Path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def blank_pipeline(tmp_path_factory):
    """A pipeline without ct_followup: the command must add it."""
    path = tmp_path_factory.mktemp("blank") / "pipeline"
    spacy.blank("en").to_disk(path)
    return path


@pytest.fixture(scope="module")
def reasoner_pipeline_dir(tmp_path_factory, ctcae_xlsx_path):
    from followup_cases import reasoner_pipeline

    path = tmp_path_factory.mktemp("reasoner") / "pipeline"
    reasoner_pipeline(ctcae_xlsx_path).to_disk(path)
    return path


def test_done_when_example(tmp_path, reasoner_pipeline_dir):
    src = write_jsonl(tmp_path / "in.jsonl", [DONE_WHEN_LINE])
    out = tmp_path / "out.jsonl"
    result = run(src, "--output", out, "--model", reasoner_pipeline_dir, "--strict")
    assert result.exit_code == 0, result.output
    (rec,) = read_jsonl(out)
    assert set(rec) == {"id", "record", "narrative", "issues"}
    assert rec["id"] == "v1" and rec["narrative"] is None and rec["issues"] == []
    record = rec["record"]
    assert "patient P-001" in record
    assert "irinotecan 180 mg/m2" in record
    assert "Diarrhea: grade 3" in record
    assert "## Pertinent negatives\n- No fever" in record
    assert "wrote 1 records" in result.stderr


def test_a_disabled_ct_followup_is_enabled_not_added_again(tmp_path, reasoner_pipeline_dir):
    """The shipped pipeline saves ct_followup disabled (made on request): generate turns it on."""
    nlp = spacy.load(reasoner_pipeline_dir)
    if "ct_followup" not in nlp.component_names:
        nlp.add_pipe("ct_followup")
    nlp.disable_pipe("ct_followup")
    saved = tmp_path / "disabled"
    nlp.to_disk(saved)
    assert spacy.load(saved).disabled == ["ct_followup"]
    src = write_jsonl(tmp_path / "in.jsonl", [DONE_WHEN_LINE])
    out = tmp_path / "out.jsonl"
    result = run(src, "--output", out, "--model", saved, "--strict")
    assert result.exit_code == 0, result.output
    (rec,) = read_jsonl(out)
    assert "Diarrhea: grade 3" in rec["record"] and rec["issues"] == []


def test_bad_lines_are_reported_with_line_numbers_and_skipped(tmp_path, blank_pipeline):
    lines = [
        {"id": "a", "text": "Visit one.", "context": {"patient_id": "P-1"}},
        "{not json",
        "[1, 2]",
        {"text": "no id"},
        {"id": "b", "text": ""},
        {"id": "c", "text": "bad context", "context": "P-1"},
        {"id": "d", "text": "bad value", "context": {"patient_id": {"x": 1}}},
        {"id": "a", "text": "duplicate id"},
        "",
        {"id": 7, "text": "Visit two."},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    result = run(src, "--output", out, "--model", blank_pipeline)
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_jsonl(out)] == ["a", 7]
    err = result.stderr
    for lineno, message in [
        (2, "not valid JSON"),
        (3, "expected a JSON object, got list"),
        (4, "missing 'id'"),
        (5, "'text' must be a non-empty string"),
        (6, "context must be a JSON object"),
        (7, "context.patient_id must be a string"),
        (8, "duplicate id 'a'"),
    ]:
        assert f"{src}:{lineno}: {message}" in err, (lineno, err)
    assert "7 bad input lines skipped; 1 blank lines ignored" in err


def test_strict_fails_on_bad_lines(tmp_path, blank_pipeline):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Visit."}, "{oops"])
    result = run(src, "--output", tmp_path / "o.jsonl", "--model", blank_pipeline, "--strict")
    assert result.exit_code == 1
    assert "--strict" in result.stderr
    # the good line is still written
    assert [r["id"] for r in read_jsonl(tmp_path / "o.jsonl")] == ["a"]


def test_strict_fails_on_faithfulness_issues(tmp_path, blank_pipeline):
    # a user template that invents a grade: the check must catch it and --strict must fail
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "record.md.j2").write_text("Patient {{ ctx.patient_id }}: nausea grade 2 on oxaliplatin.\n")
    cfg = tmp_path / "followup.cfg"
    cfg.write_text(f'[components.ct_followup]\nfactory = "ct_followup"\ntemplate_dir = "{tpl}"\ncheck = true\n')
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Visit.", "context": {"patient_id": "P-1"}}])
    out = tmp_path / "o.jsonl"
    lenient = run(src, "--output", out, "--model", blank_pipeline, "--config", cfg)
    assert lenient.exit_code == 0, lenient.output
    (rec,) = read_jsonl(out)
    assert rec["record"] == "Patient P-1: nausea grade 2 on oxaliplatin.\n"
    assert "'grade 2' is not a grade of any AE in the input" in rec["issues"]
    assert "drug 'oxaliplatin' is not in the input" in rec["issues"]
    strict = run(src, "--output", out, "--model", blank_pipeline, "--config", cfg, "--strict")
    assert strict.exit_code == 1


def test_llm_backend_through_a_config_file(tmp_path, blank_pipeline):
    pytest.importorskip("spacy_llm")
    from scripted_server import Scripted, answer

    src = write_jsonl(tmp_path / "in.jsonl", [DONE_WHEN_LINE | {"id": "x"}])
    out = tmp_path / "o.jsonl"
    with Scripted(default=(200, answer("Patient P-001 had grade 4 neutropenia on cisplatin."))) as srv:
        cfg = tmp_path / "llm.cfg"
        cfg.write_text(
            "[components.llm]\nfactory = \"llm\"\n\n"
            "[components.llm.task]\n@llm_tasks = \"ct.FollowUpRecord.v1\"\nae_terms = [\"Neutropenia\"]\n\n"
            "[components.llm.model]\n@llm_models = \"ct.OpenAICompatible.v1\"\n"
            f"endpoint = \"{srv.url}\"\nname = \"m\"\nmax_tries = 1\n"
        )
        result = run(src, "--output", out, "--model", blank_pipeline, "--backend", "llm", "--config", cfg)
    assert result.exit_code == 0, result.output
    (rec,) = read_jsonl(out)
    assert rec["record"] == "Patient P-001 had grade 4 neutropenia on cisplatin.\n"
    # the blank pipeline extracted no AE: everything the model claims is invented
    assert "AE term 'neutropenia' is not in the input" in rec["issues"]
    assert "drug 'cisplatin' is not in the input" in rec["issues"]
    assert len(srv.requests) == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["--backend", "gpt"], "--backend must be one of template, llm"),
        (["--backend", "llm"], "--backend llm needs --config FILE"),
        (["--config", "missing.cfg"], "missing.cfg: no such file"),
    ],
)
def test_usage_errors(tmp_path, blank_pipeline, args, message):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    result = run(src, "--output", tmp_path / "o.jsonl", "--model", blank_pipeline, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_input_file(tmp_path, blank_pipeline):
    result = run(tmp_path / "nope.jsonl", "--output", tmp_path / "o.jsonl", "--model", blank_pipeline)
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_default_model_missing_says_how_to_get_it(tmp_path):
    if importlib.util.find_spec("en_clinical_trials") is not None:
        pytest.skip("en_clinical_trials is installed here")
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    result = run(src, "--output", tmp_path / "o.jsonl")
    assert result.exit_code == 2
    assert "'en_clinical_trials' is not installed" in result.stderr and "--model" in result.stderr


def test_unknown_model_path(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    result = run(src, "--output", tmp_path / "o.jsonl", "--model", tmp_path / "no_pipeline")
    assert result.exit_code == 2 and "could not load the pipeline" in result.stderr


def test_console_script(tmp_path, blank_pipeline):
    exe = Path(sys.executable).parent / "en-clinical-trials"
    if not exe.exists():
        pytest.fail(f"console script {exe} not installed (pip install -e .)")
    src = write_jsonl(tmp_path / "in.jsonl", [DONE_WHEN_LINE, "{bad"])
    out = tmp_path / "o.jsonl"
    proc = subprocess.run([str(exe), "generate", str(src), "--output", str(out), "--model", str(blank_pipeline),
                           "--strict"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert f"{src}:2: not valid JSON" in proc.stderr
    (rec,) = read_jsonl(out)
    # no reasoner in this pipeline: the record shows the context's regimen and no AE
    assert "irinotecan 180 mg/m2" in rec["record"] and "- None reported" in rec["record"]


def test_llm_backend_on_the_reasoner_pipeline(tmp_path, reasoner_pipeline_dir):
    """The llm replaces ct_followup; the task takes ct_followup's CTCAE vocabulary (terms + synonyms)."""
    pytest.importorskip("spacy_llm")
    from scripted_server import Scripted, answer

    src = write_jsonl(tmp_path / "in.jsonl", [DONE_WHEN_LINE])
    out = tmp_path / "o.jsonl"
    reply = "P-001, visit C1D8: diarrhoea grade 3 on irinotecan 180 mg/m2; no fever. Also neutropenia."
    with Scripted(default=(200, answer(reply))) as srv:
        cfg = tmp_path / "llm.cfg"
        cfg.write_text(
            "[components.llm]\nfactory = \"llm\"\n\n[components.llm.task]\n@llm_tasks = \"ct.FollowUpRecord.v1\"\n\n"
            f"[components.llm.model]\n@llm_models = \"ct.OpenAICompatible.v1\"\nendpoint = \"{srv.url}\"\nname = \"m\"\n"
        )
        result = run(src, "--output", out, "--model", reasoner_pipeline_dir, "--backend", "llm", "--config", cfg)
    assert result.exit_code == 0, result.output
    (rec,) = read_jsonl(out)
    assert rec["record"] == reply + "\n"
    # 'neutropenia' is a CTCAE synonym (Neutrophil count decreased) the input does not have
    assert rec["issues"] == ["AE term 'neutropenia' is not in the input"]
    prompt = srv.requests[0]["body"]["messages"][-1]["content"]
    assert "adverse event: Diarrhea, grade 3" in prompt and V1_TEXT not in prompt
