"""Readers of the bulk annotator: discovery (files, folders, globs, ids),
honest decoding (table-driven, both sides of each threshold) and every kind of
bad file or row becoming an error item instead of stopping the run."""

import codecs
import json
import os

import pytest

from support.skips import ROOT_ONLY

from bulk_helpers import write_bad_files
from ct_safety_nlp.bulk.readers import (
    InputError,
    Refused,
    _looks_binary,
    decode_bytes,
    discover,
    read_ref,
)


def _items(path, root, **kw):
    refs, _ = discover([str(root)])
    ref = next(r for r in refs if r["path"] == os.path.abspath(path))
    return list(read_ref(ref, **kw))


# ---------------------------------------------------------------- decoding

@pytest.mark.parametrize(
    "data,how,text",
    [
        (b"plain ascii", "utf-8", "plain ascii"),
        ("fi\u00e8vre \u2013 grade 2".encode("utf-8"), "utf-8", "fi\u00e8vre \u2013 grade 2"),
        (codecs.BOM_UTF8 + "na\u00efve".encode("utf-8"), "utf-8-sig", "na\u00efve"),
        ("nausea grade 2".encode("utf-16"), "utf-16", "nausea grade 2"),
        ("nausea grade 2".encode("utf-16-be"), "utf-16-be", "nausea grade 2"),
        ("nausea grade 2".encode("utf-16-le"), "utf-16-le", "nausea grade 2"),
        ("nausea".encode("utf-32"), "utf-32", "nausea"),
        ("na\u00efve caf\u00e9".encode("latin-1"), "cp1252", "na\u00efve caf\u00e9"),
        ("\u201cquoted\u201d".encode("cp1252"), "cp1252", "\u201cquoted\u201d"),
        (b"undefined in cp1252: \x81\xe9", "latin-1", "undefined in cp1252: \x81\xe9"),
    ],
)
def test_decode_auto(data, how, text):
    got, got_how, replaced = decode_bytes(data)
    assert (got, got_how, replaced) == (text, how, 0)


def test_decode_mostly_utf8_replaces_and_counts():
    data = "caf\u00e9 \u2013 ".encode("utf-8") + b"\xff\xfe" + b" end"
    text, how, replaced = decode_bytes(data)
    assert how == "utf-8-replace"
    assert replaced == 2
    assert text.startswith("caf\u00e9 \u2013 ") and text.endswith(" end")


def test_decode_counts_only_new_replacement_chars():
    data = "already \ufffd here \u00e9".encode("utf-8") + b"\xff"
    _, how, replaced = decode_bytes(data)
    assert (how, replaced) == ("utf-8-replace", 1)


@pytest.mark.parametrize(
    "data,reason",
    [(b"abc\x00def", "NUL"), (b"\x01\x02\x03\x04" + b"a" * 10, "control bytes")],
)
def test_decode_refuses_binary(data, reason):
    with pytest.raises(Refused, match=reason):
        decode_bytes(data)


@pytest.mark.parametrize("controls,binary", [(10, False), (11, True)])
def test_binary_threshold_is_ten_percent_control_bytes(controls, binary):
    sample = b"\x01" * controls + b"a" * (100 - controls)
    assert bool(_looks_binary(sample)) is binary


def test_decode_explicit_encoding_is_strict():
    assert decode_bytes("caf\u00e9".encode("latin-1"), "latin-1") == ("caf\u00e9", "latin-1", 0)
    with pytest.raises(Refused, match="not valid utf-8"):
        decode_bytes(b"caf\xe9", "utf-8")
    with pytest.raises(Refused, match="unknown --encoding"):
        decode_bytes(b"x", "no-such-codec")


# ---------------------------------------------------------------- discovery

def test_discover_folders_globs_ids(tmp_path):
    root = tmp_path / "in"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.txt").write_text("x")
    (root / "y.md").write_text("y")
    (root / "rows.jsonl").write_text("{}\n")
    (root / "scan.pdf").write_bytes(b"%PDF")
    (root / ".hidden.txt").write_text("h")
    (root / ".git").mkdir()
    (root / ".git" / "c.txt").write_text("c")
    refs, skipped = discover([str(root)])
    assert [r["rel"] for r in refs] == ["a/b/x.txt", "rows.jsonl", "y.md"]
    assert [r["fmt"] for r in refs] == ["txt", "jsonl", "md"]
    assert skipped == {".pdf": 1}
    # a glob: ids relative to the pattern's static folder
    refs, _ = discover([str(root / "**" / "*.txt")])
    assert [r["rel"] for r in refs] == ["a/b/x.txt"]
    # an explicit file: id relative to its folder; unsupported ones are kept (-> error item)
    refs, _ = discover([str(root / "a" / "b" / "x.txt"), str(root / "scan.pdf")])
    assert [(r["rel"], r["fmt"]) for r in refs] == [("scan.pdf", None), ("x.txt", "txt")]
    # --format narrows what folders yield
    refs, skipped = discover([str(root)], formats=["md"])
    assert [r["rel"] for r in refs] == ["y.md"]
    assert skipped == {".txt": 1, ".jsonl": 1, ".pdf": 1}


def test_discover_same_file_twice_is_read_once(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    refs, _ = discover([str(tmp_path), str(tmp_path / "x.txt")])
    assert len(refs) == 1


def test_discover_excludes_output_dir(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "docs.txt").write_text("not an input")
    refs, _ = discover([str(tmp_path)], exclude_dirs=[str(tmp_path / "out")])
    assert [r["rel"] for r in refs] == ["x.txt"]


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: [str(p / "missing")], "does not exist"),
        (lambda p: [str(p / "*.nothing")], "matches no files"),
        (lambda p: [str(p / "a"), str(p / "b")], "same document id 'x.txt'"),
    ],
)
def test_discover_input_errors(tmp_path, make, message):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.txt").write_text(sub)
    with pytest.raises(InputError, match=message):
        discover(make(tmp_path))


def test_discover_unknown_format(tmp_path):
    with pytest.raises(InputError, match="unknown --format docx"):
        discover([str(tmp_path)], formats=["txt", "docx"])


# ---------------------------------------------------------------- bad files

def test_each_bad_kind_becomes_one_item(tmp_path):
    expected = write_bad_files(tmp_path)
    refs, _ = discover([str(tmp_path)])
    assert sorted(r["rel"] for r in refs) == sorted(expected)
    for ref in refs:
        items = list(read_ref(ref))
        assert len(items) == 1, ref
        item = items[0]
        kind, detail = expected[ref["rel"]].split(":", 1)
        assert item["id"] == ref["rel"]
        if kind == "error":
            assert detail in item["error"], (ref["rel"], item)
            assert "text" not in item
        else:
            assert "error" not in item, (ref["rel"], item)
            assert item["decoded"] == detail
            assert "nausea" in item["text"] or "neutropenia" in item["text"]


@pytest.mark.skipif(os.geteuid() == 0, reason=f"{ROOT_ONLY} root reads chmod-000 files; permission errors cannot be provoked")
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.txt"
    path.write_text("nausea")
    path.chmod(0)
    try:
        (item,) = _items(path, tmp_path)
        assert item["error"] == "cannot read: permission denied"
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("size,ok", [(100, True), (101, False)])
def test_max_bytes_boundary(tmp_path, size, ok):
    path = tmp_path / "doc.txt"
    path.write_bytes(b"a" * size)
    (item,) = _items(path, tmp_path, max_bytes=100)
    assert ("error" not in item) is ok
    if not ok:
        assert item["error"] == "file is 101 bytes, over the --max-bytes limit of 100"


def test_unsupported_explicit_file(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.4")
    refs, _ = discover([str(path)])
    (item,) = read_ref(refs[0])
    assert item["id"] == "scan.pdf" and "unsupported file type '.pdf'" in item["error"]


# ---------------------------------------------------------------- rows

def test_jsonl_rows(tmp_path):
    path = tmp_path / "rows.jsonl"
    lines = [
        json.dumps({"text": "nausea after cisplatin", "usubjid": "P1"}),
        "",
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"body": "no text field"}),
        json.dumps({"text": 42}),
        json.dumps({"text": "   "}),
        json.dumps({"text": "x" * 200}),
        json.dumps({"text": "caf\u00e9 \u2013 fever"}, ensure_ascii=False),
    ]
    path.write_bytes(codecs.BOM_UTF8 + ("\n".join(lines) + "\n").encode("utf-8"))
    items = {i["id"]: i for i in _items(path, tmp_path, max_bytes=100)}
    assert sorted(items) == [f"rows.jsonl#{n}" for n in (1, 3, 4, 5, 6, 7, 8, 9)]  # line 2 is blank
    assert items["rows.jsonl#1"]["text"] == "nausea after cisplatin"
    assert items["rows.jsonl#1"]["meta"] == {"usubjid": "P1"}
    assert items["rows.jsonl#1"]["row"] == 1
    assert items["rows.jsonl#3"]["error"].startswith("invalid JSON")
    assert "not an object" in items["rows.jsonl#4"]["error"]
    assert "no 'text' field" in items["rows.jsonl#5"]["error"]
    assert "not a string" in items["rows.jsonl#6"]["error"]
    assert "only whitespace" in items["rows.jsonl#7"]["error"]
    assert "--max-bytes" in items["rows.jsonl#8"]["error"]
    assert items["rows.jsonl#9"]["text"] == "caf\u00e9 \u2013 fever"
    # resume: done rows are skipped
    again = _items(path, tmp_path, max_bytes=100, skip_ids={"rows.jsonl#1", "rows.jsonl#3"})
    assert "rows.jsonl#1" not in {i["id"] for i in again} and len(again) == 6


def test_jsonl_oversized_line_is_skipped_not_loaded(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"text": "n" * 100_000}) + "\n" + json.dumps({"text": "fever"}) + "\n")
    items = _items(path, tmp_path, max_bytes=100)
    assert "far over the --max-bytes" in items[0]["error"]
    assert items[1]["text"] == "fever" and items[1]["id"] == "big.jsonl#2"


def test_jsonl_utf16(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes((json.dumps({"text": "nausea"}) + "\n" + json.dumps({"text": "rash"}) + "\n").encode("utf-16"))
    items = _items(path, tmp_path)
    assert [(i["id"], i["text"], i["decoded"]) for i in items] == [
        ("rows.jsonl#1", "nausea", "utf-16"), ("rows.jsonl#2", "rash", "utf-16")
    ]


def test_csv_rows(tmp_path):
    path = tmp_path / "notes.csv"
    data = (
        b"usubjid,text,visit\r\n"
        b"P1,nausea grade 2,C1D8\r\n"
        b'P2,"multi\nline, fever",C1D15\r\n'
        b"P3,,C2D1\r\n"
        b"P4,too,many,columns\r\n"
        b"P5,na\xefve patient with rash,C3D1\r\n"
    )
    path.write_bytes(data)
    items = {i["id"]: i for i in _items(path, tmp_path)}
    assert items["notes.csv#1"]["text"] == "nausea grade 2"
    assert items["notes.csv#1"]["meta"] == {"usubjid": "P1", "visit": "C1D8"}
    assert items["notes.csv#2"]["text"] == "multi\nline, fever"
    assert "empty column 'text'" in items["notes.csv#3"]["error"]
    assert "4 columns" in items["notes.csv#4"]["error"]
    assert items["notes.csv#5"]["text"] == "na\u00efve patient with rash"
    assert items["notes.csv#5"]["decoded"] == "cp1252"


def test_csv_without_text_column_is_one_file_error(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("id,body\n1,nausea\n")
    (item,) = _items(path, tmp_path)
    assert item["id"] == "notes.csv" and "no 'text' column" in item["error"]
    (item,) = [i for i in _items(path, tmp_path, text_field="body")]
    assert item["text"] == "nausea"


def test_tsv_utf16_bom(tmp_path):
    path = tmp_path / "notes.tsv"
    path.write_bytes("text\tarm\nfebrile neutropenia\tB\n".encode("utf-16"))
    (item,) = _items(path, tmp_path)
    assert (item["text"], item["decoded"], item["meta"]) == ("febrile neutropenia", "utf-16", {"arm": "B"})
