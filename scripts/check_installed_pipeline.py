"""Check an installed en_clinical_trials the way a user gets it (run by
scripts/test_package.sh inside the fresh virtualenv, away from the repo).

    python check_installed_pipeline.py ASSEMBLE_CFG PROTOCOL_YML [MODEL]

MODEL: the installed package (default en_clinical_trials) or a pipeline
folder (e.g. training/assembled, to check an assembled pipeline before it is
packaged).

Asserts the whole shipped pipeline, not only that it loads: every component
of ASSEMBLE_CFG's [nlp] pipeline, in order; ct_reasoner's tables saved in the
package and the protocol being PROTOCOL_YML's; on real sentences the
adverse-event records (CTCAE term, grade, seriousness, suspect drug, DLT and
dose action from the shipped protocol), the regimen, the follow-up record and its faithfulness issues (the installed check
catching a planted invented and a planted missing event); the tumour response of ct_efficacy; then
``en-clinical-trials annotate`` and ``generate`` run as processes on the
installed pipeline. The trained components' predictions are not asserted (the
smoke-test model is trained for 4 steps): ct_reasoner finds these events from
its knowledge base, whatever ner/spancat predict.

Exit status 0 and "test-package: OK" on success; an AssertionError otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import spacy
import yaml

#: real sentences, with the facts the shipped rules must give (written here, not computed)
DLT_TEXT = "Grade 4 neutropenia occurred after cisplatin in cycle 1."
SAE_TEXT = (
    "On day 15 her platelet count was 22,000/mm3 and she was admitted with febrile "
    "neutropenia after carboplatin 400 mg/m2 IV every 3 weeks; she denied vomiting."
)
REDUCE_TEXT = "Grade 3 diarrhea was reported on day 8 after paclitaxel."
RESPONSE_TEXT = "Target lesions measured 52 mm, down from 80 mm at baseline; no new lesions."


def _ae(doc, term):
    hits = [ae for ae in doc._.ct_adverse_events if ae["ctcae_term"] == term]
    assert len(hits) == 1, (term, doc._.ct_adverse_events)
    print("AE:", json.dumps({k: hits[0][k] for k in ("text", "ctcae_term", "grade", "negated", "serious", "drugs", "dlt", "action") if k in hits[0]}))
    return hits[0]


def _links(ae, drug):
    """Whether ``drug`` is among the AE's suspect drugs (a DRUG entity of the smoke-test model may
    hold more than the name, e.g. 'carboplatin 400 mg')."""
    return any(drug in str(d).lower() for d in ae.get("drugs") or [])


#: what the shipped pipeline must hold, whatever configs/assemble.cfg says
REQUIRED = ["ct_sentences", "transformer", "ct_prefetch", "ner", "span_finder", "spancat", "ct_release_trf_data", "ct_reasoner", "ct_efficacy", "ct_followup"]
#: made on request only (nlp.enable_pipe / generate / the service): disabled when loaded
DISABLED = ["ct_followup"]


def _model_folder(model: str) -> Path:
    if Path(model).is_dir():
        return Path(model)
    import importlib

    package = Path(importlib.import_module(model).__file__).parent
    folders = [p for p in package.iterdir() if (p / "config.cfg").is_file()]
    assert len(folders) == 1, folders
    return folders[0]


def check_components(nlp, model: str, assemble_cfg: Path, protocol_yml: Path) -> None:
    from spacy.util import load_config

    from ct_safety_nlp.reasoner.tables import TABLE_FILES

    expected = list(load_config(assemble_cfg, interpolate=False)["nlp"]["pipeline"])
    print("pipeline:", nlp.component_names, "disabled:", nlp.disabled)
    assert nlp.component_names == expected, (nlp.component_names, expected)
    assert [name for name in nlp.component_names if name in REQUIRED] == REQUIRED, (nlp.component_names, REQUIRED)
    assert nlp.disabled == DISABLED, nlp.disabled
    assert {"DRUG", "ADVERSE_EVENT"} <= set(nlp.get_pipe("ner").labels), nlp.get_pipe("ner").labels
    # the library's span getter (an entry point of the ct-safety-nlp wheel), resolved by spacy.load
    spans = nlp.config["components"]["transformer"]["model"]["get_spans"]
    print("transformer spans:", dict(spans))
    assert spans["@span_getters"] == "ct.sentence_groups.v1", spans
    folders = [_model_folder(model) / "ct_reasoner"]
    saved = {p.name for p in folders[0].iterdir()}
    print("ct_reasoner tables:", sorted(saved))
    assert saved == set(TABLE_FILES.values()), (saved, TABLE_FILES)
    reasoner = nlp.get_pipe("ct_reasoner")
    assert len(reasoner.kb.terms) > 800, len(reasoner.kb.terms)  # CTCAE v5.0 has 837 terms
    shipped = yaml.safe_load(protocol_yml.read_text(encoding="utf-8"))
    assert reasoner.protocol is not None and reasoner.protocol["name"] == shipped["name"], reasoner.protocol


def check_documents(nlp) -> None:
    from ct_safety_nlp.faithfulness import check_faithfulness
    from ct_safety_nlp.followup import build_facts

    doc = nlp(DLT_TEXT)
    print("entities:", [(e.text, e.label_) for e in doc.ents])
    print("spans:", [(s.text, s.label_) for s in doc.spans.get("sc", [])])
    ae = _ae(doc, "Neutrophil count decreased")
    assert (ae["grade"], ae["dlt"], ae["action"]) == (4, True, "hold"), ae
    assert _links(ae, "cisplatin"), ae
    ae = _ae(nlp(REDUCE_TEXT), "Diarrhea")
    assert (ae["grade"], ae["dlt"], ae["action"]) == (3, False, "reduce_one_level"), ae

    doc = nlp(SAE_TEXT)
    assert doc._.ct_followup is None  # disabled: no record unless asked
    assert len(doc._.trf_data.tensors) == 0  # ct_release_trf_data emptied the hidden states
    ae = _ae(doc, "Febrile neutropenia")
    assert ae["serious"] is True and ae["negated"] is False and _links(ae, "carboplatin"), ae
    assert _ae(doc, "Vomiting")["negated"] is True
    print("regimens:", json.dumps(doc._.ct_regimens))
    (regimen,) = [r for r in doc._.ct_regimens if "carboplatin" in str(r.get("drug", "")).lower()]
    assert "400" in json.dumps(regimen), regimen
    doc = nlp.get_pipe("ct_followup")(doc)  # the record on request
    record = doc._.ct_followup
    print("follow-up record:", record["record"][:200].replace("\n", " | "), "...")
    assert record["backend"] == "template" and "Febrile neutropenia" in record["record"], record
    assert record["narrative"], record  # a serious event gets a narrative
    # The check ran on the record (a list; printed). Not asserted empty: with the 4-step smoke-test
    # model's noisy entities (DRUG 'carboplatin 400 mg') the template record states facts the check
    # rejects (measured: "dose '400 mg' is not in the input", "AE term 'neutropenia' is not in the input").
    issues = doc._.ct_followup_issues
    print("follow-up issues:", issues)
    assert isinstance(issues, list) and all(isinstance(i, str) for i in issues), issues
    # the installed check against facts written here: an invented event, a missing one
    facts = build_facts(doc)
    vocab = sorted(nlp.get_pipe("ct_reasoner").kb.terms)
    invented = check_faithfulness(record["record"] + "\nGrade 2 alopecia was also reported.", facts, ae_vocabulary=vocab)
    assert any("alopecia" in issue.lower() for issue in invented), invented
    missing = check_faithfulness("Follow-up: nothing to report.", facts, ae_vocabulary=vocab)
    assert any("Febrile neutropenia" in issue and "missing" in issue for issue in missing), missing

    responses = nlp(RESPONSE_TEXT)._.ct_responses
    measured = [r for r in responses if r["basis"] == "measured"]
    assert measured and measured[0]["response"] == "PR" and measured[0]["percent_change_from_baseline"] == -35.0, responses


def check_commands(model: str) -> None:
    """annotate and generate as processes on the installed pipeline (MODEL as --model)."""
    cli = str(Path(sys.executable).with_name("en-clinical-trials"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        (tmp / "in" / "dlt.txt").write_text(DLT_TEXT, encoding="utf-8")
        (tmp / "in" / "sae.txt").write_text(SAE_TEXT, encoding="utf-8")
        res = subprocess.run([cli, "annotate", str(tmp / "in"), "--output", str(tmp / "out"), "--model", model, "--progress", "none"],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        docs = {json.loads(line)["id"]: json.loads(line) for line in (tmp / "out" / "docs.jsonl").read_text().splitlines()}
        assert sorted(docs) == ["dlt.txt", "sae.txt"], sorted(docs)
        (ae,) = [a for a in docs["dlt.txt"]["adverse_events"] if a["ctcae_term"] == "Neutrophil count decreased"]
        assert (ae["grade"], ae["dlt"], ae["action"]) == (4, True, "hold"), ae
        print("annotate:", res.stderr.strip().splitlines()[0])

        line = {"id": "v1", "text": SAE_TEXT, "context": {"patient_id": "P-001", "visit": "C1D15"}}
        (tmp / "visits.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
        res = subprocess.run([cli, "generate", str(tmp / "visits.jsonl"), "--output", str(tmp / "records.jsonl"), "--model", model],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        (out,) = [json.loads(x) for x in (tmp / "records.jsonl").read_text().splitlines()]
        assert out["id"] == "v1" and "Febrile neutropenia" in out["record"], out
        assert "P-001" in out["record"] and out["narrative"] and isinstance(out["issues"], list), out
        print(f"generate: 1 record, {len(out['issues'])} issues")


def main(argv) -> int:
    assemble_cfg, protocol_yml = (Path(a) for a in argv[1:3])
    model = argv[3] if len(argv) > 3 else "en_clinical_trials"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    nlp = spacy.load(model)
    check_components(nlp, model, assemble_cfg, protocol_yml)
    check_documents(nlp)
    check_commands(model)
    print("test-package: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
