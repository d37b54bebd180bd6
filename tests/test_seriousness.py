"""Tests of ct_safety_nlp.seriousness: ICH E2A criteria from the AE's clause."""

import pytest

from ct_safety_nlp.seriousness import (
    CRITERIA,
    default_seriousness_rules,
    assess_seriousness,
    clause_spans,
    criteria_names,
    find_cues,
)


def _assess(text, mention, term=None, grade=None, **kw):
    start = text.index(mention)
    clauses = clause_spans(text)
    clause = next(c for c in clauses if c[0] <= start < c[1])
    return assess_seriousness(text, clause, (0, len(text)), term, grade, **kw)


CASES = [
    # text, mention, term, grade, expected criteria
    ("She was admitted with febrile neutropenia.", "febrile neutropenia", "Fever", None, ["hospitalization"]),
    ("He was hospitalized for pneumonia.", "pneumonia", "Lung infection", 3, ["hospitalization"]),
    ("She was hospitalised for pneumonia.", "pneumonia", "Lung infection", 3, ["hospitalization"]),
    ("Diarrhea required hospitalization.", "Diarrhea", "Diarrhea", 3, ["hospitalization"]),
    ("Hospitalization was prolonged because of a urinary tract infection.", "urinary tract infection", "Urinary tract infection", 2, ["hospitalization"]),
    ("The rash led to prolonged hospitalisation.", "rash", "Rash maculo-papular", 2, ["hospitalization"]),
    ("Respiratory failure led to transfer to the intensive care unit.", "Respiratory failure", "Nausea", 4, ["hospitalization"]),
    # negated / planned hospitalisation cues do not count
    ("Abdominal pain led to an emergency visit but no admission.", "Abdominal pain", "Abdominal pain", 3, []),
    ("Vomiting did not require hospitalization.", "Vomiting", "Vomiting", 2, []),
    ("Fatigue was noted; she was admitted to the study in May.", "Fatigue", "Fatigue", 1, []),
    ("Nausea occurred during an elective admission for port placement.", "Nausea", "Nausea", 1, []),
    ("Nausea occurred when she was admitted for chemotherapy.", "Nausea", "Nausea", 1, []),
    # death
    ("The patient died of sepsis.", "sepsis", "Diarrhea", 5, ["death"]),
    ("Fatal bleeding occurred.", "bleeding", "Diarrhea", None, ["death"]),
    ("A bleed was reported.", "bleed", "Diarrhea", 5, ["death"]),
    # life-threatening needs the words; grade 4 alone is not enough
    ("A life-threatening reaction occurred.", "reaction", "Diarrhea", 4, ["life_threatening"]),
    ("A life threatening reaction occurred.", "reaction", "Diarrhea", 4, ["life_threatening"]),
    ("Grade 4 neutropenia was seen.", "neutropenia", "Neutrophil count decreased", 4, []),
    # disability, congenital anomaly
    ("The neuropathy resulted in permanent disability.", "neuropathy", "Peripheral sensory neuropathy", 3, ["disability"]),
    ("Hearing loss caused significant incapacity.", "Hearing loss", "Hearing impaired", 3, ["disability"]),
    ("The infant was born with a heart defect after exposure in utero.", "heart defect", "Nausea", None, ["congenital_anomaly"]),
    ("A congenital anomaly was reported.", "anomaly", "Nausea", None, ["congenital_anomaly"]),
    # important medical event: explicit words or the curated list
    ("The investigator reported the rash as an SAE.", "rash", "Rash maculo-papular", 2, ["important_medical_event"]),
    ("Hepatitis was considered medically significant.", "Hepatitis", "Nausea", None, ["important_medical_event"]),
    ("Serious adverse events included colitis.", "colitis", "Colitis", None, ["important_medical_event"]),
    ("The rash was non-serious.", "rash", "Rash maculo-papular", 1, []),
    ("The rash was not serious.", "rash", "Rash maculo-papular", 1, []),
    ("A seizure occurred on day 3.", "seizure", "Seizure", None, ["important_medical_event"]),
    ("Mild nausea occurred on day 3.", "nausea", "Nausea", 1, []),
    # criteria are per clause
    ("Her platelet count was 22,000/mm3 and she was admitted with pneumonia.", "platelet count", "Platelet count decreased", 4, []),
    ("Her platelet count was 22,000/mm3 and she was admitted with pneumonia.", "pneumonia", "Lung infection", None, ["hospitalization"]),
    ("Seizure requiring admission; the patient died of sepsis.", "Seizure", "Seizure", None, ["hospitalization", "important_medical_event"]),
]


@pytest.mark.parametrize("text,mention,term,grade,expected", CASES)
def test_criteria(text, mention, term, grade, expected):
    criteria = _assess(text, mention, term, grade)
    assert criteria_names(criteria) == expected
    for c in criteria:
        assert c.criterion in CRITERIA and c.evidence.startswith("seriousness: ")


@pytest.mark.parametrize("flag", ["negated", "historical"])
def test_negated_or_historical_is_never_serious(flag):
    assert _assess("She died of sepsis.", "sepsis", "Sepsis", 5, **{flag: True}) == []


def test_speculated_keeps_criteria():
    # seriousness ignores speculation: a suspected SAE is reported as one
    assert criteria_names(_assess("Possible sepsis required admission.", "sepsis", "Sepsis", None)) == [
        "hospitalization",
        "important_medical_event",
    ]


def test_evidence_names_the_text():
    (criterion,) = _assess("He was hospitalized for pneumonia.", "pneumonia", "Lung infection", 3)
    assert "'hospitalized'" in criterion.evidence


def test_ime_list_is_ctcae(ctcae_xlsx_path):
    from ct_safety_nlp.kb import read_ctcae_workbook

    terms = {t["term"] for t in read_ctcae_workbook(ctcae_xlsx_path)["terms"]}
    v6 = ctcae_xlsx_path.parent / "CTCAE_v6.0.xlsx"  # v6.0 names of renamed IME terms are listed too
    v6_terms = {t["term"] for t in read_ctcae_workbook(v6, "6.0")["terms"]} if v6.exists() else set()
    ime = default_seriousness_rules().ime_terms
    assert set(ime) <= terms | v6_terms, sorted(set(ime) - terms - v6_terms)
    assert len(set(ime) - terms) <= 1  # only Venous thromboembolism (v6.0 for Thromboembolic event)


@pytest.mark.parametrize(
    "text,clauses",
    [
        ("a; b", ["a", "b"]),
        ("nausea but no vomiting", ["nausea", "no vomiting"]),
        ("count was low and she was admitted", ["count was low", "she was admitted"]),
        ("nausea and vomiting", ["nausea and vomiting"]),
    ],
)
def test_clause_spans(text, clauses):
    assert [text[a:b] for a, b in clause_spans(text)] == clauses


def test_find_cues_offsets():
    text = "Admitted for fever; no hospitalization for rash."
    cues = find_cues(text)
    assert [(c.criterion, text[c.start_char : c.end_char]) for c in cues] == [("hospitalization", "Admitted")]


def test_linked_clause_cues():
    text = "Anaphylaxis occurred during the infusion and the patient was hospitalised overnight."
    clauses = clause_spans(text)
    assert len(clauses) == 2
    alone = assess_seriousness(text, clauses[0], (0, len(text)), "Nausea", None)
    linked = assess_seriousness(text, clauses[0], (0, len(text)), "Nausea", None, linked_clauses=[clauses[1]])
    assert criteria_names(alone) == [] and criteria_names(linked) == ["hospitalization"]
    assert "linked clause" in linked[0].evidence
