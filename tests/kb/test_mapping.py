"""kb.mapping: NCI's v5.0 -> v6.0 mapping sheet compiled; CtcaeMapping.convert."""

import pytest

from ct_safety_nlp.kb import CtcaeMapping, read_ctcae_mapping_table, repoint_synonyms


@pytest.fixture(scope="module")
def mapping(mapping_data):
    return CtcaeMapping(mapping_data)


def test_every_v5_term_has_a_fate(mapping_data, v5_xlsx):
    from ct_safety_nlp.kb import read_ctcae_workbook

    v5 = {r["term"] for r in read_ctcae_workbook(v5_xlsx)["terms"]}
    assert set(mapping_data["terms"]) == v5
    kinds = {}
    for rec in mapping_data["terms"].values():
        kinds[rec["kind"]] = kinds.get(rec["kind"], 0) + 1
    assert sum(kinds.values()) == 837 and kinds["renamed"] >= 10 and kinds["merged"] >= 10 and kinds["kept"] > 300


@pytest.mark.parametrize(
    "term,grade,kind,v6_term,v6_grade,changed",
    [
        ("Platelet count decreased", 4, "renamed", "Thrombocytopenia", 4, True),
        ("Platelet count decreased", 2, "renamed", "Thrombocytopenia", 2, True),  # same band, another term
        ("Lymphocyte count decreased", 3, "renamed", "Lymphopenia", 1, True),
        ("Neutrophil count decreased", 3, "clarified", "Neutrophil count decreased", 3, True),
        ("Anemia", 2, "clarified", "Anemia", 2, False),  # NCI: Clarification, same text
        ("Anemia", 3, "clarified", "Anemia", 3, False),  # No change
        ("Rectal hemorrhage", 2, "merged", "Hematochezia", 2, True),
        ("Hypertension", 1, "clarified", "Vascular disorders - Other, specify", 1, True),  # v6 grade 1 deleted
    ],
)
def test_convert(mapping, term, grade, kind, v6_term, v6_grade, changed):
    out = mapping.convert(term, grade)
    assert (out["kind"], out["v6_term"], out["v6_grade"], out["grade_text_changed"]) == (kind, v6_term, v6_grade, changed)


def test_convert_without_grade_and_bad_input(mapping):
    out = mapping.convert("platelet COUNT decreased")
    assert out["v5_term"] == "Platelet count decreased" and out["v6_term"] == "Thrombocytopenia" and out["v6_grade"] is None
    with pytest.raises(ValueError, match="not a CTCAE v5.0 term"):
        mapping.convert("Thrombocytopenia", 2)
    with pytest.raises(ValueError, match="grade must be an int 1-5"):
        mapping.convert("Nausea", 7)


def test_registered_reader(v6_xlsx):
    from spacy.util import registry

    assert registry.misc.get("ct.read_ctcae_mapping.v1") is read_ctcae_mapping_table


def test_repoint_synonyms(mapping, v6_table):
    v6_terms = [r["term"] for r in v6_table["terms"]]
    out = repoint_synonyms({"low platelets": "Platelet count decreased", "lymphopenia": "Lymphocyte count decreased",
                            "sick": "Nausea"}, mapping, v6_terms)
    assert out == {"low platelets": "Thrombocytopenia", "lymphopenia": "Lymphopenia", "sick": "Nausea"}


def test_mapping_sheet_missing_is_an_error_naming_the_file(v5_xlsx):
    from ct_safety_nlp.kb import read_ctcae_mapping

    with pytest.raises(ValueError, match=r"CTCAE_v5\.0\.xlsx: no sheet 'CTCAE v5\.0 to v6\.0 Mapping'"):
        read_ctcae_mapping(v5_xlsx)
