"""`en-clinical-trials trial randomise | minimise | allocation-sim`: the issue's commands, outputs,
records, reports and exit codes."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ct_safety_nlp.cli.trial import COMMAND_MODULES, build_app

ISSUE_SHA256 = "c21d954b4faa933a782461bf08cacdb6d1b89f09a21ae49e0c962a76699a4f85"  # tests/trial/test_allocation_blocks.py
RANDOMISE = ["randomise", "--arms", "A,B", "--ratio", "1:1", "--blocks", "4,6", "--strata", "sex=F,M", "--strata", "site=01,02",
             "--n", "120", "--seed", "7"]


@pytest.fixture(scope="module")
def app():
    return build_app()


def invoke(app, *args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_allocation_is_registered():
    assert "allocation" in COMMAND_MODULES


def test_issue_randomise_command_as_a_console_script(tmp_path):
    exe = Path(sys.executable).parent / "en-clinical-trials"
    out = subprocess.run([str(exe), "trial", *RANDOMISE, "--output", "list.csv"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert hashlib.sha256((tmp_path / "list.csv").read_bytes()).hexdigest() == ISSUE_SHA256
    meta = json.loads((tmp_path / "list.meta.json").read_text())
    assert meta["sha256"] == ISSUE_SHA256 and meta["seed"] == 7 and meta["list_file"] == "list.csv"
    assert ISSUE_SHA256 in out.stdout


def test_randomise_report_json_and_refusal_to_overwrite(app, tmp_path):
    out = tmp_path / "l.csv"
    res = invoke(app, *RANDOMISE, "--output", str(out), "--report", str(tmp_path / "l.html"), "--json")
    assert res.exit_code == 0, res.output
    meta = json.loads(res.output)
    assert meta["sha256"] == ISSUE_SHA256 and meta["rows"] == 492
    html = (tmp_path / "l.html").read_text()
    assert "<svg" in html and "<table" in html and "sex=F;site=01" in html
    assert "src=\"http" not in html and "<script" not in html
    again = invoke(app, *RANDOMISE, "--output", str(out))
    assert again.exit_code == 2 and "exists (pass --overwrite" in again.output
    assert invoke(app, *RANDOMISE, "--output", str(out), "--overwrite").exit_code == 0


def test_randomise_with_blocks_master_copy(app, tmp_path):
    res = invoke(app, "randomise", "--arms", "T,C", "--ratio", "2:1", "--blocks", "3,6", "--n", "9", "--seed", "1", "--output", str(tmp_path / "m.csv"), "--with-blocks")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m.csv").read_text().splitlines()[0] == "stratum,seq,arm,block,block_size"


@pytest.mark.parametrize("args,message", [
    (["--arms", "A,B", "--ratio", "2:1", "--blocks", "4,6"], "--blocks: block size 4 does not fit the ratio 2:1"),
    (["--arms", "A,B", "--ratio", "1:1:1", "--blocks", "4"], "--ratio: 3 parts for 2 arms"),
    (["--arms", "A", "--blocks", "4"], "--arms: need at least two arms"),
    (["--arms", "A,B", "--blocks", "4", "--strata", "sex=F,F"], "--strata: levels of sex must be distinct"),
    (["--arms", "A,B", "--blocks", "4", "--strata", "sex"], "--strata: 'sex' is not FACTOR=LEVEL"),
])
def test_randomise_bad_parameters_exit_2(app, tmp_path, args, message):
    res = invoke(app, "randomise", *args, "--n", "10", "--seed", "1", "--output", str(tmp_path / "x.csv"))
    assert res.exit_code == 2
    assert message in res.output
    assert not (tmp_path / "x.csv").exists()


def test_minimise_init_allocate_verify_report(app, tmp_path):
    state = tmp_path / "s.jsonl"
    res = invoke(app, "minimise", "--state", str(state), "--init", "--arms", "A,B", "--factor", "sex=F,M", "--factor", "site=01,02",
                 "--weight", "site=2", "--p", "0.8", "--seed", "7")
    assert res.exit_code == 0, res.output
    arms = []
    for i, subject in enumerate(["sex=F,site=02", "sex=M,site=01", "sex=F,site=01", "sex=M,site=02"]):
        res = invoke(app, "minimise", "--state", str(state), "--subject", subject, "--id", f"S{i}", "--json")
        assert res.exit_code == 0, res.output
        record = json.loads(res.output)["allocation"]
        assert record["new"] and record["index"] == i + 1
        arms.append(record["arm"])
    res = invoke(app, "minimise", "--state", str(state), "--subject", "sex=F,site=02", "--id", "S0")
    assert res.exit_code == 0 and f"-> {arms[0]} (already allocated; nothing written)" in res.output
    res = invoke(app, "minimise", "--state", str(state), "--verify", "--report", str(tmp_path / "b.html"))
    assert res.exit_code == 0 and "4 allocations replayed, ok" in res.output
    html = (tmp_path / "b.html").read_text()
    assert "<svg" in html and "site=01" in html
    assert '"seed"' not in html and ">seed<" not in html  # the report does not leak the seed


def test_minimise_errors(app, tmp_path):
    state = tmp_path / "s.jsonl"
    assert invoke(app, "minimise", "--state", str(state), "--subject", "sex=F").exit_code == 2
    invoke(app, "minimise", "--state", str(state), "--init", "--arms", "A,B", "--factor", "sex=F,M", "--factor", "site=01,02", "--seed", "1")
    for args, message in [
        (["--subject", "sex=X,site=01"], "sex=X is not a level of sex"),
        (["--subject", "sex=F"], "no value for factor site"),
        (["--subject", "sex=F,site=01,age=3"], "unknown factor age"),
        (["--arms", "A,B", "--subject", "sex=F,site=01"], "--arms only with --init"),
        (["--init", "--arms", "A,B", "--factor", "sex=F,M"], "already exists"),
        ([], "nothing to do"),
    ]:
        res = invoke(app, "minimise", "--state", str(state), *args)
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output, (args, res.output)
    lines = state.read_text().splitlines()
    state.write_text("\n".join(lines) + "\n{}\n")
    res = invoke(app, "minimise", "--state", str(state), "--verify")
    assert res.exit_code == 2 and "s.jsonl:2: checksum chain broken" in res.output


def test_minimise_verify_exit_1_when_an_allocation_does_not_replay(app, tmp_path):
    from ct_safety_nlp.trial.allocation import allocate, create_state
    from ct_safety_nlp.trial.allocation.state import canonical_json, chain_hash

    state = tmp_path / "s.jsonl"
    create_state(state, {"arms": ["A", "B"], "factors": {"sex": ["F", "M"]}, "seed": 3, "p": 1.0})
    for sex in "FMFF":
        allocate(state, {"sex": sex})
    records = [json.loads(line) for line in state.read_text().splitlines()]
    records[4]["u"] = 0.123
    previous = "0" * 64
    for r in records:
        r["chain"] = chain_hash(previous, r)
        previous = r["chain"]
    state.write_text("".join(canonical_json(r) + "\n" for r in records))
    res = invoke(app, "minimise", "--state", str(state), "--verify")
    assert res.exit_code == 1 and "allocation #4 u" in res.output


def test_allocation_sim_writes_table_report_and_json(app, tmp_path):
    res = invoke(app, "allocation-sim", "--factor", "sex=F,M", "--factor", "site=01,02", "--n", "40", "--runs", "20", "--seed", "2",
                 "--report", str(tmp_path / "sim.html"), "--output", str(tmp_path / "sim.json"))
    assert res.exit_code == 0, res.output
    assert "minimisation p=0.8" in res.output and "20 runs x 40 subjects, 4 strata, seed 2" in res.output
    sim = json.loads((tmp_path / "sim.json").read_text())
    assert [m["method"] for m in sim["methods"]] == ["simple", "blocks", "minimisation p=0.8", "minimisation p=1"]
    html = (tmp_path / "sim.html").read_text()
    assert html.count("<svg") >= 3 and "<table" in html
    bad = invoke(app, "allocation-sim", "--factor", "sex=F,M", "--p", "0.8,x")
    assert bad.exit_code == 2 and "--p:" in bad.output
