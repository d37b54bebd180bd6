"""ct_safety_nlp.trial.inputs: the shared trial input layer (annotate output,
mapping, ADSL, SDTM AE / ADAE), bad input named by FILE:LINE, nothing dropped."""

import json
from datetime import date

import pytest

from ct_safety_nlp.trial.inputs import (
    InputFileError,
    date_to_study_day,
    load_trial_inputs,
    parse_date,
    read_ae_table,
    read_annotations,
    read_dose_subjects,
    read_mapping,
    read_response_subjects,
    read_subjects,
    study_day_to_date,
)

ADSL = """USUBJID,TRT01A,SAFFL,TRTSDT,TRTEDT,DOSELVL
S-01,Drug A,Y,2024-01-10,2024-03-01,2
S-02,Placebo,Y,2024-01-12,,1
S-03,Drug A,N,,,
S-04,Drug A,,2024-01-15,,
S-05,Drug A,Y,2024-02-30,,
S-06,Placebo,Y,2024-01-20,2024-02-20,x
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _docs(tmp_path, records, errors=()):
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    if errors:
        (folder / "errors.jsonl").write_text("".join(json.dumps(r) + "\n" for r in errors), encoding="utf-8")
    return str(folder)


def _rec(rid, meta=None, aes=()):
    return {"id": rid, "source": rid.split("#")[0], "row": None, "text": "x", "adverse_events": list(aes), "regimens": [], "meta": meta}


@pytest.mark.parametrize(
    "value,expected,problem",
    [
        ("2024-01-10", date(2024, 1, 10), False),
        ("2024-01-10T08:30", date(2024, 1, 10), False),
        ("2024-01-10T08:30:00Z", date(2024, 1, 10), False),
        (date(2024, 1, 10), date(2024, 1, 10), False),
        ("", None, False),
        (None, None, False),
        ("2024-01", None, False),  # partial: missing, no imputation
        ("2024", None, False),
        ("2024-02-30", None, True),
        ("10/01/2024", None, True),
        ("soon", None, True),
    ],
)
def test_parse_date(value, expected, problem):
    d, p = parse_date(value)
    assert d == expected
    assert bool(p) is problem


@pytest.mark.parametrize(
    "ady,expected",
    [(1, date(2024, 1, 10)), (2, date(2024, 1, 11)), (-1, date(2024, 1, 9)), (-2, date(2024, 1, 8)), (15, date(2024, 1, 24))],
)
def test_study_day_both_ways(ady, expected):
    assert study_day_to_date(date(2024, 1, 10), ady) == expected
    assert date_to_study_day(date(2024, 1, 10), expected) == ady


def test_study_day_zero_does_not_exist():
    with pytest.raises(ValueError, match="day 0"):
        study_day_to_date(date(2024, 1, 10), 0)


def test_read_subjects_flags_and_exclusions(tmp_path):
    path = _write(tmp_path, "adsl.csv", ADSL)
    subjects, excluded = read_subjects(path)
    assert sorted(subjects) == ["S-01", "S-02", "S-03", "S-06"]
    s1 = subjects["S-01"]
    assert (s1.arm, s1.saffl, s1.trtsdt, s1.trtedt, s1.dose_level) == ("Drug A", True, date(2024, 1, 10), date(2024, 3, 1), 2)
    assert subjects["S-02"].trtedt is None
    assert subjects["S-03"].saffl is False
    assert subjects["S-06"].dose_level == "x"  # not a number: kept as text, never guessed
    reasons = {e.record: (e.where, e.reason) for e in excluded}
    assert reasons["S-04"] == (f"{path}:5", "no safety flag (SAFFL is empty)")
    assert reasons["S-05"][0] == f"{path}:6" and "not a valid calendar date" in reasons["S-05"][1]


def test_read_subjects_arm_falls_back_to_ARM(tmp_path):
    path = _write(tmp_path, "adsl.csv", "usubjid,ARM,saffl,trtsdt\nA,Low,Y,2024-01-01\n")
    subjects, _ = read_subjects(path)
    assert subjects["A"].arm == "Low"


@pytest.mark.parametrize(
    "text,where,message",
    [
        ("USUBJID,TRT01A,SAFFL\nA,X,Y\n", ":1:", "missing column TRTSDT"),
        ("USUBJID,SAFFL,TRTSDT\nA,Y,2024-01-01\n", ":1:", "missing column TRT01A or ARM"),
        ("USUBJID,TRT01A,SAFFL,TRTSDT\nA,X,Y,2024-01-01\nA,X,Y,2024-01-02\n", ":3:", "appears twice"),
        ("USUBJID,TRT01A,SAFFL,TRTSDT\nA,X,Y,2024-01-01\nB,X,Y\n", ":3:", "3 fields, the header has 4"),
        ('USUBJID,TRT01A,SAFFL,TRTSDT\nA,"X,Y,2024-01-01\n', ":2:", "malformed csv"),
        ("", ":1:", "empty"),
    ],
)
def test_bad_subject_files_name_file_and_line(tmp_path, text, where, message):
    path = _write(tmp_path, "adsl.csv", text)
    with pytest.raises(InputFileError) as err:
        read_subjects(path)
    assert str(err.value).startswith(path + where)
    assert message in str(err.value)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "adsl.csv"
    path.write_bytes(b"USUBJID,TRT01A,SAFFL,TRTSDT\nA,Caf\xe9,Y,2024-01-01\n")
    with pytest.raises(InputFileError, match=r"adsl.csv:2: not UTF-8"):
        read_subjects(str(path))


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_subjects(str(tmp_path / "nope.csv"))


# --------------------------------------------------------------------------- dose-escalation subjects
def test_read_dose_subjects_keeps_and_excludes(tmp_path):
    path = _write(
        tmp_path, "adsl.csv",
        "USUBJID,TRTSDT,DOSE_LEVEL,SAFFL,LSTALVDT,COHORT\n"
        "S1,2026-01-01,1,Y,2026-03-01,1\n"  # kept
        "S2,2026-01-02,1,N,,\n"  # SAFFL N: excluded
        "S3,01/02/2026,1,Y,,\n"  # TRTSDT does not parse
        "S4,2026-01-04,two,Y,,\n"  # dose level not a whole number
        "S5,2026-01-05,2,,2026-13-01,\n"  # LSTALVDT not a calendar date
        "S6,2026-01-06,,Y,,\n"  # no dose level
        "S7,,3,,,\n"  # no first dose: kept (the DLT assessment says why it cannot use it)
    )
    subjects, excluded = read_dose_subjects(path)
    assert sorted(subjects) == ["S1", "S7"]
    s1 = subjects["S1"]
    assert (s1.trtsdt, s1.dose_level, s1.cohort, s1.lstalvdt, s1.saffl, s1.where) == (date(2026, 1, 1), 1, "1", date(2026, 3, 1), True, f"{path}:2")
    assert (subjects["S7"].trtsdt, subjects["S7"].dose_level, subjects["S7"].cohort, subjects["S7"].saffl) == (None, 3, None, True)
    reasons = {e.record: (e.kind, e.where, e.reason) for e in excluded}
    assert reasons["S2"] == ("subject", f"{path}:3", "SAFFL = N (not in the safety population)")
    assert reasons["S3"][2].startswith("bad date: TRTSDT '01/02/2026'") and "ISO date" in reasons["S3"][2]
    assert reasons["S4"][2] == "dose level 'two' is not an integer"
    assert reasons["S5"][2].startswith("bad date: LSTALVDT '2026-13-01' is not a valid calendar date")
    assert reasons["S6"][2] == "dose level '' is not an integer"
    named, _ = read_dose_subjects(_write(tmp_path, "named.csv", "USUBJID,TRTSDT,DOSELVL,LEVEL\nS1,2026-01-01,1,4\n"), dose_level_column="level")
    assert named["S1"].dose_level == 4  # the column named wins over DOSELVL


@pytest.mark.parametrize(
    "content,message",
    [
        ("USUBJID,DOSELVL\nS1,1\n", ":1: missing column TRTSDT"),
        ("USUBJID,TRTSDT\nS1,2026-01-01\n", ":1: no dose level column (looked for DOSELVL, DOSE_LEVEL, DOSELEVEL, DOSLVL"),
        ("USUBJID,TRTSDT,DOSELVL\nS1,2026-01-01,1\nS1,2026-01-02,1\n", ":3: USUBJID 'S1' appears twice (first at "),
        ("USUBJID,TRTSDT,DOSELVL\nS1,2026-01-01\n", ":2: 2 fields, the header has 3"),
        ("USUBJID,TRTSDT,DOSELVL\n,2026-01-01,1\n", ":2: empty USUBJID"),
    ],
)
def test_read_dose_subjects_errors_name_file_and_line(tmp_path, content, message):
    path = _write(tmp_path, "adsl.csv", content)
    with pytest.raises(InputFileError) as err:
        read_dose_subjects(path)
    assert str(err.value).startswith(path + message)
    with pytest.raises(InputFileError, match=r":1: missing dose level column LEVEL"):
        read_dose_subjects(_write(tmp_path, "ok.csv", "USUBJID,TRTSDT,DOSELVL\nS1,2026-01-01,1\n"), dose_level_column="LEVEL")


# --------------------------------------------------------------------------- tumour-response subjects
def test_read_response_subjects_population_arm_and_start(tmp_path):
    path = _write(
        tmp_path, "adsl.csv",
        "USUBJID,TRT01A,TRTSDT,EFFFL\n"
        "S1,A,2024-01-01,Y\n"  # kept
        "S2,A,01/02/2024,Y\n"  # start does not parse
        "S3,A,2024-01-01,N\n"  # not in the population
        "S4,,2024-01-01,Y\n"  # no arm
        ",A,2024-01-01,Y\n"  # no USUBJID: excluded, not an error
        "S6,B,2024-01,y\n"  # a partial start is missing (no imputation); y counts as Y
    )
    subjects, excluded = read_response_subjects(path, population_flag="EFFFL")
    assert sorted(subjects) == ["S1", "S6"]
    assert (subjects["S1"].arm, subjects["S1"].trtsdt, subjects["S1"].start_column, subjects["S1"].where) == ("A", date(2024, 1, 1), "TRTSDT", f"{path}:2")
    assert subjects["S6"].trtsdt is None
    assert [(e.where, e.record) for e in excluded] == [(f"{path}:3", "S2"), (f"{path}:4", "S3"), (f"{path}:5", "S4"), (f"{path}:6", "")]
    reasons = [e.reason for e in excluded]
    assert reasons[0].startswith("TRTSDT: '01/02/2024'") and reasons[1] == "EFFFL is 'N', not Y: not in the population"
    assert reasons[2] == "no arm (TRT01A empty)" and reasons[3] == "no USUBJID"
    everyone, left_out = read_response_subjects(path)  # without a population flag S3 counts
    assert sorted(everyone) == ["S1", "S3", "S6"] and len(left_out) == 3


def test_read_response_subjects_column_choice(tmp_path):
    path = _write(tmp_path, "adsl.csv", "USUBJID,TRT01P,ACTARM,RANDDT\nS1,Planned,Actual,2024-02-01\n")
    subjects, _ = read_response_subjects(path)
    assert (subjects["S1"].arm, subjects["S1"].trtsdt, subjects["S1"].start_column) == ("Actual", date(2024, 2, 1), "RANDDT")


@pytest.mark.parametrize(
    "content,flag,message",
    [
        ("USUBJID,TRTSDT\nS1,2024-01-01\n", None, ":1: missing column TRT01A or ACTARM or ARM or TRT01P"),
        ("USUBJID,ARM\nS1,A\n", None, ":1: missing column TRTSDT or RANDDT"),
        ("USUBJID,TRT01A,TRTSDT\nS1,A,2024-01-01\nS1,B,2024-01-02\n", None, ":3: USUBJID 'S1' appears twice (first at "),
        ("USUBJID,TRT01A,TRTSDT,EFFFL\nS1,A,2024-01-01,Y\n", "ITTFL", ":1: no population flag column 'ITTFL'"),
    ],
)
def test_read_response_subjects_errors_name_file_and_line(tmp_path, content, flag, message):
    path = _write(tmp_path, "adsl.csv", content)
    with pytest.raises(InputFileError) as err:
        read_response_subjects(path, population_flag=flag)
    assert str(err.value).startswith(path + message)


def test_read_annotations_subject_and_visit_field_names(tmp_path):
    folder = _docs(
        tmp_path,
        [
            dict(_rec("a", {"usubjid": "", "Subject": "S-01", "ADT": "2024-01-20"}), responses=[{"response": "PR"}]),
            _rec("b", {"SUBJID": "S-02", "visit_date": "2024-01-21"}),
        ],
    )
    plain, _ = read_annotations(folder)  # the default: usubjid and visit_date only
    assert [(d.usubjid, d.visit_date, d.responses) for d in plain] == [(None, None, [{"response": "PR"}]), (None, None, None)]
    wide, _ = read_annotations(folder, subject_fields=("usubjid", "subjid", "subject"), visit_date_fields=("visit_date", "adt"))
    assert [(d.usubjid, d.visit_date) for d in wide] == [("S-01", date(2024, 1, 20)), ("S-02", date(2024, 1, 21))]


def test_read_annotations_meta_fields_case_insensitive(tmp_path):
    folder = _docs(
        tmp_path,
        [
            _rec("v.csv#1", {"USUBJID": "S-01", "Visit_Date": "2024-01-20", "Cycle": "2"}),
            _rec("v.csv#2", {"usubjid": "S-02", "ADY": "5"}),
            _rec("note.txt"),
        ],
        errors=[{"id": "bad.txt", "source": "bad.txt", "row": None, "error": "binary file", "stage": "read"}],
    )
    docs, excluded = read_annotations(folder)
    assert [(d.id, d.usubjid, d.visit_date, d.study_day, d.cycle, d.subject_from) for d in docs] == [
        ("v.csv#1", "S-01", date(2024, 1, 20), None, "2", "meta"),
        ("v.csv#2", "S-02", None, 5, None, "meta"),
        ("note.txt", None, None, None, None, ""),
    ]
    assert [(e.kind, e.record, e.where) for e in excluded] == [("annotate_error", "bad.txt", "errors.jsonl:1")]


def test_read_annotations_bad_json_names_line(tmp_path):
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "docs.jsonl").write_text(json.dumps(_rec("a")) + "\n{not json\n")
    with pytest.raises(InputFileError, match=r"docs.jsonl:2: not valid JSON"):
        read_annotations(str(folder))


def test_read_annotations_duplicate_id(tmp_path):
    folder = _docs(tmp_path, [_rec("a"), _rec("a")])
    with pytest.raises(InputFileError, match=r"docs.jsonl:2: document id 'a' already on line 1"):
        read_annotations(folder)


def test_mapping_reader(tmp_path):
    path = _write(tmp_path, "map.csv", "Doc_ID,USUBJID,ady,cycle\nn1.txt,S-01,8,1\nn2.txt,S-02,,\n")
    m = read_mapping(path)
    assert (m["n1.txt"].usubjid, m["n1.txt"].study_day, m["n1.txt"].cycle) == ("S-01", 8, "1")
    assert m["n2.txt"].study_day is None and m["n2.txt"].where == f"{path}:3"
    dup = _write(tmp_path, "dup.csv", "id,usubjid\na,S\na,T\n")
    with pytest.raises(InputFileError, match=r"dup.csv:3: document id 'a' mapped twice"):
        read_mapping(dup)


def test_load_trial_inputs_excludes_with_reasons(tmp_path):
    adsl = _write(tmp_path, "adsl.csv", ADSL)
    folder = _docs(
        tmp_path,
        [
            _rec("ok.txt"),  # mapped to S-01, study day 11
            _rec("rows.csv#1", {"usubjid": "S-02", "visit_date": "2024-01-13"}),  # day 2
            _rec("rows.csv#2", {"usubjid": "S-99", "visit_date": "2024-01-13"}),  # unknown subject
            _rec("rows.csv#3", {"usubjid": "S-03", "visit_date": "2024-01-13"}),  # SAFFL=N
            _rec("rows.csv#4", {"usubjid": "S-04", "visit_date": "2024-01-13"}),  # no flag
            _rec("rows.csv#5", {"usubjid": "S-02", "visit_date": "13/01/2024"}),  # bad date
            _rec("orphan.txt"),  # no subject
            _rec("conflict.txt", {"usubjid": "S-01"}),  # mapped to S-02
        ],
    )
    mp = _write(tmp_path, "map.csv", "id,usubjid,ady\nok.txt,S-01,11\nconflict.txt,S-02,3\nghost.txt,S-01,4\n")
    ti = load_trial_inputs(folder, adsl, map_path=mp)
    got = {d.id: (d.usubjid, d.visit_date, d.study_day) for d in ti.documents}
    assert got == {"ok.txt": ("S-01", date(2024, 1, 20), 11), "rows.csv#1": ("S-02", date(2024, 1, 13), 2)}
    reasons = {e.record: e.reason for e in ti.excluded}
    assert reasons["rows.csv#2"].startswith("unknown subject 'S-99'")
    assert reasons["rows.csv#3"] == "subject not in the safety population (SAFFL=N)"
    assert reasons["rows.csv#4"] == "subject excluded: no safety flag (SAFFL is empty)"
    assert "does not parse" in reasons["rows.csv#5"]
    assert reasons["orphan.txt"].startswith("document without a subject")
    assert reasons["conflict.txt"].startswith("subject conflict")
    assert reasons["ghost.txt"] == "no document with this id in docs.jsonl"
    # every document is either used or excluded: nothing silently dropped
    doc_ids = {"ok.txt", "rows.csv#1", "rows.csv#2", "rows.csv#3", "rows.csv#4", "rows.csv#5", "orphan.txt", "conflict.txt"}
    excluded_docs = {e.record for e in ti.excluded if e.kind == "document"}
    assert set(got) | excluded_docs == doc_ids and not set(got) & excluded_docs
    assert sorted(ti.safety_population()) == ["S-01", "S-02", "S-06"]


def test_study_day_and_date_must_agree(tmp_path):
    adsl = _write(tmp_path, "adsl.csv", ADSL)
    folder = _docs(tmp_path, [_rec("r#1", {"usubjid": "S-01", "visit_date": "2024-01-10", "ady": "3"})])
    ti = load_trial_inputs(folder, adsl)
    assert ti.documents == []
    assert "is study day 1, but ady says 3" in ti.excluded[-1].reason


AE_CSV = """STUDYID,USUBJID,AESEQ,AETERM,AEDECOD,AEBODSYS,AETOXGR,AESER,AESTDTC,AEENDTC,AEREL,AEACN,AEOUT
X,S-01,1,feeling sick,Nausea,Gastrointestinal disorders,2,N,2024-01-15,2024-01-20,POSSIBLE,DOSE NOT CHANGED,RECOVERED/RESOLVED
X,S-01,2,rash,,Skin and subcutaneous tissue disorders,,Y,2024-02,,NOT RELATED,,
X,S-02,1,Fatigue,Fatigue,General disorders and administration site conditions,6,N,2024-01-15,,,,
X,S-02,2,Vomiting,Vomiting,Gastrointestinal disorders,1,N,someday,,,,
X,S-99,1,Vomiting,Vomiting,Gastrointestinal disorders,1,N,2024-01-15,,,,
X,S-03,1,Vomiting,Vomiting,Gastrointestinal disorders,1,N,2024-01-15,,,,
X,S-02,3,Death,Death NOS,General disorders and administration site conditions,5,Y,2024-01-30,2024-01-30,,,FATAL
"""


def test_read_ae_table_and_join(tmp_path):
    adsl = _write(tmp_path, "adsl.csv", ADSL)
    ae = _write(tmp_path, "ae.csv", AE_CSV)
    rows, excluded = read_ae_table(ae)
    r1, r2, death = [r for r in rows if r.usubjid in ("S-01", "S-02")]
    assert len(rows) == 5
    assert (r1.term, r1.verbatim, r1.grade, r1.serious, r1.start, r1.end, r1.related, r1.action, r1.outcome) == (
        "Nausea", "feeling sick", 2, False, date(2024, 1, 15), date(2024, 1, 20), True, "DOSE NOT CHANGED", "RECOVERED/RESOLVED",
    )
    assert (r2.term, r2.grade, r2.serious, r2.start, r2.raw_start, r2.related) == ("rash", None, True, None, "2024-02", False)
    assert r1.has_trtemfl is False and r1.trtemfl is None
    assert death.fatal is True and death.grade == 5
    reasons = {e.where: e.reason for e in excluded}
    assert reasons[f"{ae}:4"] == "AETOXGR 6 is not a grade 1-5"
    assert "does not parse" in reasons[f"{ae}:5"]
    ti = load_trial_inputs(None, adsl, ae_path=ae)
    assert [r.where for r in ti.ae_rows] == [f"{ae}:2", f"{ae}:3", f"{ae}:8"]
    joined = {e.where: e.reason for e in ti.excluded if e.kind == "ae_row"}
    assert joined[f"{ae}:6"].startswith("unknown subject 'S-99'")
    assert joined[f"{ae}:7"] == "subject not in the safety population (SAFFL=N)"


def test_parquet_tables(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "USUBJID": ["A", "B"], "TRT01A": ["Placebo", "High"], "SAFFL": ["Y", "Y"],
            "TRTSDT": [date(2024, 1, 1), None], "TRTEDT": [date(2024, 2, 1), None],
        }
    )
    path = str(tmp_path / "adsl.parquet")
    pq.write_table(table, path)
    subjects, excluded = read_subjects(path)
    assert subjects["A"].trtsdt == date(2024, 1, 1) and subjects["B"].trtsdt is None and not excluded
    assert subjects["B"].where == f"{path}:row 2"
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InputFileError, match="not a readable parquet file"):
        read_subjects(str(tmp_path / "broken.parquet"))
