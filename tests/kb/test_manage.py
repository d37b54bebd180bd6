"""kb.manage: the AE and synonym tables the kb commands read (errors as FILE:LINE)."""

import pytest

from ct_safety_nlp.kb.manage import read_ae_table, read_synonym_table


def test_ae_table_formats_and_errors(tmp_path):
    csv_path = tmp_path / "a.csv"
    csv_path.write_text("ctcae_term,grade\nNausea,2\n")
    assert read_ae_table(csv_path) == [(2, {"ctcae_term": "Nausea", "grade": "2"})]
    bad_header = tmp_path / "b.csv"
    bad_header.write_text("event,grade\nNausea,2\n")
    with pytest.raises(ValueError, match=r"b\.csv:1: the header needs a column term"):
        read_ae_table(bad_header)
    bad_json = tmp_path / "c.jsonl"
    bad_json.write_text('{"term": "Nausea"}\n{oops\n')
    with pytest.raises(ValueError, match=r"c\.jsonl:2: not valid JSON"):
        read_ae_table(bad_json)
    with pytest.raises(ValueError, match=r"\.txt"):
        (tmp_path / "d.txt").write_text("x")
        read_ae_table(tmp_path / "d.txt")


def test_synonym_table_errors(tmp_path):
    good = tmp_path / "s.tsv"
    good.write_text("synonym\tterm\nplt drop\tThrombocytopenia\n")
    assert read_synonym_table(good) == [(2, "plt drop", "Thrombocytopenia")]
    empty_cell = tmp_path / "e.csv"
    empty_cell.write_text("synonym,term\nplt drop,\n")
    with pytest.raises(ValueError, match=r"e\.csv:2: both 'synonym' and 'term' must be filled"):
        read_synonym_table(empty_cell)
    header = tmp_path / "h.csv"
    header.write_text("a,b\nx,y\n")
    with pytest.raises(ValueError, match=r"h\.csv:1: the header needs the columns 'synonym' and 'term'"):
        read_synonym_table(header)
