"""kb.workbook: the CTCAE v6.0 workbook compiled beside v5.0 (ct.read_ctcae.v1 version)."""

import pytest

from ct_safety_nlp.kb import CTCAE_VERSIONS, read_ctcae_table, read_ctcae_workbook


def test_v6_terms_codes_socs_and_header_quirks(v6_table):
    assert v6_table["version"] == "6.0" and CTCAE_VERSIONS == ("5.0", "6.0")
    terms = {r["term"]: r for r in v6_table["terms"]}
    assert len(terms) == 850 and len({r["soc"] for r in v6_table["terms"]}) == 26
    plt = terms["Thrombocytopenia"]
    # the "Grade 1 \xa0\xa0" headers are read: every grade is there
    assert plt["meddra_code"] == "10043554" and plt["soc"] == "Blood and lymphatic system disorders"
    assert plt["grades"]["4"].startswith("<10,000/mm3") and plt["grades"]["5"] == "Death"
    assert terms["Lymphopenia"]["grades"] == {"1": "Present", "2": None, "3": None, "4": None, "5": None}
    assert terms["Hypertension"]["grades"]["1"] is None
    assert terms["Aplastic anemia"]["note"].startswith("Do not report")
    assert "Platelet count decreased" not in terms


def test_registered_reader_takes_the_version(v6_xlsx, v5_xlsx):
    assert len(read_ctcae_table(str(v6_xlsx), "6.0")["terms"]) == 850
    assert read_ctcae_table(str(v5_xlsx))["version"] == "5.0"


def test_wrong_version_of_a_workbook_is_an_error_naming_it(v6_xlsx, v5_xlsx):
    with pytest.raises(ValueError, match=r"CTCAE_v6\.0\.xlsx.*not the CTCAE v5\.0 layout"):
        read_ctcae_workbook(v6_xlsx, "5.0")  # its first sheet is the publication notes
    with pytest.raises(ValueError, match=r"unknown CTCAE version '7\.0'"):
        read_ctcae_workbook(v5_xlsx, "7.0")
