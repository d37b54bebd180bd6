"""``en-clinical-trials kb``: the commands on a saved blank + ct_reasoner pipeline
(--model), and once as a process."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ct_safety_nlp.cli.kb import app

runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _json(result):
    assert result.exit_code == 0, (result.stdout, getattr(result, "stderr", ""))
    return json.loads(result.stdout)


def test_search_json_names_the_version_s_term(saved_pipeline):
    v5 = _json(_run("search", "low platelets", "--json", "--model", saved_pipeline))
    v6 = _json(_run("search", "low platelets", "--json", "--model", saved_pipeline, "--ctcae-version", "6.0"))
    assert v5[0]["term"] == "Platelet count decreased" and v6[0]["term"] == "Thrombocytopenia"
    for row in v5 + v6:
        assert {"term", "meddra_code", "soc", "score", "method"} <= set(row)
        assert row["method"] in ("exact", "synonym", "fold", "contained", "embedding")
    assert v6[0]["meddra_code"] == "10043554" and v6[0]["method"] == "synonym" and v6[0]["score"] == 1.0
    prefix = _json(_run("search", "febrile neu", "--json", "--model", saved_pipeline))
    assert prefix[0]["term"] == "Febrile neutropenia" and prefix[0]["method"] == "contained"


def test_search_human(saved_pipeline):
    out = _run("search", "neutropenia", "--model", saved_pipeline)
    assert out.exit_code == 0 and out.stdout.startswith("'neutropenia' -> Neutrophil count decreased (CTCAE v5.0)")


def test_show(saved_pipeline):
    d = _json(_run("show", "thrombocytopenia", "--json", "--model", saved_pipeline, "-v", "6.0"))
    assert d["term"] == "Thrombocytopenia" and d["grades"]["3"].startswith("<50,000 - 10,000/mm3")
    assert "low platelets" in d["synonyms"] and d["lab_rules"][0]["cuts"][-1]["threshold"] == 10.0
    v5 = _json(_run("show", "Platelet count decreased", "--json", "--model", saved_pipeline))
    assert v5["v6"]["kind"] == "renamed" and v5["v6"]["v6_term"] == "Thrombocytopenia"
    bad = _run("show", "Platelet count decreased", "--model", saved_pipeline, "-v", "6.0")
    assert bad.exit_code == 1 and "not a CTCAE v6.0 term" in (getattr(bad, "stderr", "") or bad.output)


def test_map_csv_and_jsonl(saved_pipeline, tmp_path):
    csv_path = tmp_path / "aes.csv"
    csv_path.write_text("term,grade\nPlatelet count decreased,4\nLymphocyte count decreased,3\nNot a term,2\n")
    result = _run("map", csv_path, "--json", "--model", saved_pipeline)
    assert result.exit_code == 1  # one row cannot be converted; it is still listed
    rows = json.loads(result.stdout)
    assert [(r.get("v6_term"), r.get("v6_grade"), r.get("kind")) for r in rows[:2]] == [("Thrombocytopenia", 4, "renamed"), ("Lymphopenia", 1, "renamed")]
    assert rows[2]["error"] == f"{csv_path}:4: 'Not a term' is not a CTCAE v5.0 term"
    jsonl = tmp_path / "aes.jsonl"
    jsonl.write_text('{"ctcae_term": "Anemia", "grade": 3}\n')
    (row,) = _json(_run("map", jsonl, "--json", "--model", saved_pipeline))
    assert (row["kind"], row["v6_term"], row["grade_text_changed"]) == ("clarified", "Anemia", False)


def test_validate_protocol(saved_pipeline, tmp_path):
    from pathlib import Path

    project = Path(__file__).resolve().parents[2] / "assets" / "protocol_rules.yml"
    ok = _json(_run("validate-protocol", project, "--json", "--model", saved_pipeline))
    assert ok["valid"] and ok["ctcae_version"] == "5.0" and "Platelet count decreased" in ok["terms"]
    bad = _run("validate-protocol", project, "--model", saved_pipeline, "--ctcae-version", "6.0")
    assert bad.exit_code == 1 and "protocol_rules.yml:" in (getattr(bad, "stderr", "") or bad.output)
    stated = tmp_path / "p6.yml"
    stated.write_text('schema_version: 1\nname: p6\nctcae_version: "6.0"\ndlt:\n  - {id: a, description: b, when: {terms: [Lymphopenia]}}\n')
    assert _json(_run("validate-protocol", stated, "--json", "--model", saved_pipeline))["ctcae_version"] == "6.0"


def test_add_synonyms_errors_name_file_and_line(saved_pipeline, tmp_path):
    table = tmp_path / "syn.csv"
    table.write_text("synonym,term\nplt drop,Thrombocytopenia\nplt drop,Thrombocytopenia\nodd,No such term\nlow platelets,Anemia\nPT drop,Anemia\npt drop,Nausea\n")
    result = _run("add-synonyms", table, "--output", tmp_path / "out", "--model", saved_pipeline, "-v", "6.0")
    err = getattr(result, "stderr", "") or result.output
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    assert f"{table}:3: duplicate synonym 'plt drop' (already on line 2)" in err
    assert f"{table}:4: 'No such term' is not a CTCAE v6.0 term" in err
    assert f"{table}:5: 'low platelets' already maps to 'Thrombocytopenia'" in err
    assert f"{table}:7: 'pt drop' -> 'Nausea' conflicts with line 6 ('Anemia')" in err


def test_add_synonyms_writes_a_copy_that_uses_them(saved_pipeline, tmp_path):
    table = tmp_path / "syn.csv"
    table.write_text("synonym,term\nplt drop,Thrombocytopenia\n")
    out = tmp_path / "extended"
    assert _json(_run("add-synonyms", table, "--output", out, "--json", "--model", saved_pipeline, "-v", "6.0"))["added"] == 1
    hit = _json(_run("search", "plt drop", "--json", "--model", out, "-v", "6.0"))
    assert hit[0]["term"] == "Thrombocytopenia" and hit[0]["method"] == "synonym"
    v5 = _json(_run("search", "plt drop", "--json", "--model", out))
    assert not v5 or v5[0]["method"] != "synonym"  # merged into v6.0 only
    diff = _json(_run("diff", "--other", out, "--json", "--model", saved_pipeline, "-v", "6.0"))
    assert diff["synonyms_only_in_to"] == {"plt drop": "Thrombocytopenia"} and diff["only_in_to"] == []


def test_diff_of_the_two_versions(saved_pipeline):
    d = _json(_run("diff", "--json", "--model", saved_pipeline))
    assert (d["from"], d["to"], d["terms"]) == ("5.0", "6.0", {"from": 837, "to": 850})
    assert "Platelet count decreased" in d["only_in_from"] and "Thrombocytopenia" in d["only_in_to"]
    assert d["renamed_or_merged"]["Platelet count decreased"] == ["Thrombocytopenia"]
    assert d["lab_rules"]["changed"]["anc"]["to"]["cuts"][-1] == [4, "<", 0.1]


def test_kb_as_a_process(saved_pipeline):
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "ct_safety_nlp.cli", "kb", "search", "low platelets", "--json", "--ctcae-version", "6.0", "--model", str(saved_pipeline)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["term"] == "Thrombocytopenia"
