"""Shared helpers for the bulk-annotation tests: small real pipelines saved to
disk, document folders with good and bad files, reading the outputs."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable

DRUGS = ["paclitaxel", "heparin", "cisplatin", "lithium", "metoprolol", "carboplatin", "methotrexate", "warfarin"]
AES = ["thrombocytopenia", "neutropenia", "nausea", "vomiting", "rash", "hepatotoxicity", "tremor", "fever"]

#: a --code file registering a component that sleeps per document, so a test
#: can kill a run part-way reliably
DELAY_CODE = '''
import time
from spacy.language import Language

@Language.component("ct_test_delay")
def ct_test_delay(doc):
    """Sleeps 15 ms per document (test helper for killing runs part-way)."""
    time.sleep(0.015)
    return doc
'''


def ruler_patterns():
    pats = [{"label": "DRUG", "pattern": [{"LOWER": d}]} for d in DRUGS]
    pats += [{"label": "ADVERSE_EVENT", "pattern": [{"LOWER": a}]} for a in AES]
    return pats


def _model_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="ct_bulk_models_"))


def _add_delay_component(nlp) -> str:
    """Register the slow test component (its --code file), add it to nlp; return the file."""
    from support.pipelines import code_file

    code = code_file(DELAY_CODE)
    nlp.add_pipe("ct_test_delay")
    return code


@lru_cache(maxsize=None)
def blank_ruler_model(delay: bool = False) -> Tuple[str, str]:
    """(model dir, code file or '') of spacy.blank('en') + entity_ruler."""
    import spacy

    root = _model_root()
    code = ""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(ruler_patterns())
    if delay:
        code = _add_delay_component(nlp)
    nlp.to_disk(root / "model")
    return str(root / "model"), code


def reasoner_model(ctcae_xlsx_path: str, delay: bool = False) -> Tuple[str, str]:
    """(model dir, code file or '') of blank + entity_ruler (drugs) [+ the slow
    test component] + ct_reasoner with the shipped protocol
    (:func:`support.pipelines.saved_reasoner_pipeline`)."""
    from support.pipelines import saved_reasoner_pipeline

    return saved_reasoner_pipeline(
        ctcae_xlsx_path, code=DELAY_CODE if delay else "", before_reasoner=("ct_test_delay",) if delay else (),
        ruler_patterns=tuple(("DRUG", d) for d in DRUGS),
    )


def phee_texts(phee_dev_path, n: int) -> List[str]:
    texts = []
    with open(phee_dev_path, encoding="utf-8") as fh:
        for line in fh:
            texts.append(json.loads(line)["context"])
            if len(texts) == n:
                break
    assert len(texts) == n, f"{phee_dev_path} has fewer than {n} sentences"
    return texts


def write_phee_folder(folder: Path, phee_dev_path, n: int) -> List[str]:
    """n PHEE dev sentences as folder/phee/NNNN.txt; RETURNS their ids."""
    ids = []
    for i, text in enumerate(phee_texts(phee_dev_path, n)):
        rel = f"phee/{i:04d}.txt"
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        ids.append(rel)
    return ids


def write_bad_files(folder: Path) -> Dict[str, str]:
    """One file of each bad kind. RETURNS id -> expected outcome:
    'error:<substring of the reason>' or 'doc:<decoded>'."""
    bad = folder / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    expected: Dict[str, str] = {}
    (bad / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    expected["bad/binary.txt"] = "error:binary"
    (bad / "empty.txt").write_bytes(b"")
    expected["bad/empty.txt"] = "error:empty"
    (bad / "blank.md").write_text("  \n\t\n")
    expected["bad/blank.md"] = "error:whitespace"
    (bad / "utf16.txt").write_bytes("Grade 3 neutropenia after cisplatin.".encode("utf-16"))
    expected["bad/utf16.txt"] = "doc:utf-16"
    (bad / "latin1.txt").write_bytes("Fi\xe8vre et naus\xe9e apr\xe8s paclitaxel; nausea grade 2.".encode("latin-1"))
    expected["bad/latin1.txt"] = "doc:cp1252"
    (bad / "broken_utf8.txt").write_bytes("Caf\u00e9 patient: nausea \u2013 grade 1 ".encode("utf-8") + b"\xff\xfe tail")
    expected["bad/broken_utf8.txt"] = "doc:utf-8-replace"
    (bad / "huge.txt").write_bytes(b"nausea " * 200_000)  # 1.4 MB > default --max-bytes
    expected["bad/huge.txt"] = "error:--max-bytes"
    os.symlink(str(bad / "no-such-target.txt"), str(bad / "dangling.txt"))
    expected["bad/dangling.txt"] = "error:broken symbolic link"
    os.mkfifo(str(bad / "pipe.txt"))
    expected["bad/pipe.txt"] = "error:not a regular file"
    if os.geteuid() != 0:  # root reads chmod-000 files, so only a non-root run can test this
        locked = bad / "locked.txt"
        locked.write_text("nausea")
        locked.chmod(0)
        expected["bad/locked.txt"] = "error:permission denied"
    return expected


def read_jsonl(path: Path) -> List[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_csv(path: Path) -> List[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def cli(args: List[str], **kw) -> subprocess.CompletedProcess:
    """Run ``python -m ct_safety_nlp.cli annotate`` (the annotate command) in a subprocess."""
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.run([PY, "-m", "ct_safety_nlp.cli", "annotate", *args], capture_output=True, text=True, env=env, **kw)


def check_exactly_once(out: Path, expected_ids) -> Tuple[List[dict], List[dict]]:
    """Every expected id exactly once across docs.jsonl + errors.jsonl, and nothing else."""
    docs = read_jsonl(out / "docs.jsonl")
    errors = read_jsonl(out / "errors.jsonl")
    ids = [r["id"] for r in docs] + [r["id"] for r in errors]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"ids written more than once: {dupes[:10]}"
    assert sorted(ids) == sorted(expected_ids), (
        f"missing: {sorted(set(expected_ids) - set(ids))[:10]}, unexpected: {sorted(set(ids) - set(expected_ids))[:10]}"
    )
    return docs, errors


def check_exports(out: Path, docs: List[dict]) -> None:
    """The CSV tables agree with docs.jsonl row for row."""
    by_id = {d["id"]: d for d in docs}
    ae_rows = read_csv(out / "adverse_events.csv")
    assert len(ae_rows) == sum(len(d["adverse_events"]) for d in docs)
    for row in ae_rows:
        ae = by_id[row["doc_id"]]["adverse_events"][int(row["ae_index"])]
        assert row["text"] == ae["text"]
        assert row["start_char"] == str(ae["start_char"])
        assert by_id[row["doc_id"]]["text"][ae["start_char"] : ae["end_char"]] == ae["text"]
    reg_rows = read_csv(out / "regimens.csv")
    assert len(reg_rows) == sum(len(d["regimens"]) for d in docs)
    for row in reg_rows:
        reg = by_id[row["doc_id"]]["regimens"][int(row["regimen_index"])]
        assert row["drug"] == (reg["drug"] or "")
    sdtm = read_csv(out / "ae_sdtm.csv")
    supp = {}
    for q in read_csv(out / "ae_suppae.csv"):
        supp.setdefault((q["USUBJID"], q["IDVARVAL"]), {})[q["QNAM"]] = q["QVAL"]
    excluded = {(r["DOCID"], int(r["AE_INDEX"])) for r in read_csv(out / "ae_sdtm_excluded.csv")}
    asserted = [
        (d["id"], ae) for d in docs for i, ae in enumerate(d["adverse_events"]) if (d["id"], i) not in excluded
    ]
    assert all(not ae["negated"] and not ae["historical"] for _, ae in asserted)
    assert len(sdtm) == len(asserted) and len(sdtm) + len(excluded) == len(ae_rows)
    for row, (doc_id, ae) in zip(sdtm, asserted):
        prov = supp[(row["USUBJID"], row["AESEQ"])]  # provenance joins by subject + AESEQ, as SUPPAE does
        assert prov["AEDOCID"] == doc_id
        assert row["AETERM"] == ae["text"]
        assert row["AEDECOD"] == (ae["ctcae_term"] or "")
        assert row["AETOXGR"] == ("" if ae["grade"] is None else str(ae["grade"]))
        assert row["AESER"] == {True: "Y", False: "N", None: ""}[ae["serious"]]
        assert prov["AESPAN"] == f"{ae['start_char']}-{ae['end_char']}"
        assert row["DOMAIN"] == "AE"
    # every export passes the SDTM AE check, except the subject / study its inputs did not give
    from ct_safety_nlp.sdtm.check import check_ae_file

    problems = [p for p in check_ae_file(str(out / "ae_sdtm.csv")) if p.severity == "error"]
    assert all(p.rule == "required" and p.variable in ("USUBJID", "STUDYID") and not sdtm[p.row - 1][p.variable] for p in problems), problems[:5]
