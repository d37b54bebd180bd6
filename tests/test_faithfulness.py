"""The faithfulness check: planted wrong facts are caught, faithful text passes.

Each planted case edits the template's own (faithful) record of a hand-made
Doc, so the only difference between a passing and a failing text is the
planted claim.
"""

import pytest
import spacy

from ct_safety_nlp.faithfulness import check_faithfulness, find_doses, find_grades, normalize_dose
from ct_safety_nlp.followup import build_facts
from followup_cases import AE_VOCAB, sae_doc, v1_doc


@pytest.fixture(scope="module")
def v1():
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_followup")
    doc = nlp(v1_doc(nlp))
    return build_facts(doc), doc._.ct_followup["record"]


@pytest.fixture(scope="module")
def sae():
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_followup")
    doc = nlp(sae_doc(nlp))
    return build_facts(doc), doc._.ct_followup["record"] + "\n\n" + doc._.ct_followup["narrative"]


def check(text, facts):
    return check_faithfulness(text, facts, ae_vocabulary=AE_VOCAB)


def test_faithful_records_have_no_issues(v1, sae):
    assert check(v1[1], v1[0]) == []
    assert check(sae[1], sae[0]) == []


V1_PLANTS = [
    # (what is planted, old, new, expected violation)
    ("wrong grade", "grade 3", "grade 4", "'grade 4' stated for 'diarrhea', but the input grade is 3"),
    ("wrong grade, roman", "grade 3", "grade IV", "'grade IV' stated for 'diarrhea', but the input grade is 3"),
    ("wrong grade, G-form", "grade 3", "G2", "'G2' stated for 'diarrhea', but the input grade is 3"),
    ("invented drug (INN stem)", "irinotecan 180", "oxaliplatin 180",
     "drug 'oxaliplatin' is not in the input"),
    ("invented dose", "180 mg/m2", "200 mg/m2", "dose '200 mg/m2' is not in the input"),
    ("invented dose unit", "180 mg/m2", "180 mg/kg", "dose '180 mg/kg' is not in the input"),
    ("invented AE term", "## Pertinent negatives", "- Neutropenia: grade 3\n\n## Pertinent negatives",
     "AE term 'neutropenia' is not in the input"),
    ("serious when not", "not serious", "serious (hospitalization)",
     "AE 'diarrhea' is called serious, but the input does not report it as serious"),
    ("SAE without a term", "## Plan", "An SAE was reported.\n\n## Plan",
     "the text states a serious event, but no AE of the input is serious"),
    ("omitted grade-3 AE", "- Diarrhea: grade 3; not serious; suspected drug: irinotecan; action taken: not reported\n",
     "", "grade 3 AE 'Diarrhea' of the input is missing from the text"),
    ("negated AE stated as present", "- No fever", "- Fever",
     "AE 'fever' is stated as present, but the input reports it as negated (absent)"),
    ("present AE stated as absent", "- No fever", "- No diarrhoea",
     "AE 'diarrhea' is stated as absent, but the input reports it as present"),
]


@pytest.mark.parametrize("what,old,new,expected", V1_PLANTS, ids=[p[0] for p in V1_PLANTS])
def test_planted_error_is_reported(v1, what, old, new, expected):
    facts, record = v1
    assert old in record, "the plant must edit the real record"
    planted = record.replace(old, new, 1)
    assert expected in check(planted, facts)


def test_sae_plants(sae):
    facts, text = sae
    # calling the serious event not serious is a contradiction
    assert "AE 'febrile neutropenia' is called not serious, but the input reports it as serious" in check(
        text.replace("serious (hospitalization)", "not serious", 1), facts
    )
    # dropping every mention of the serious grade-4 event
    dropped = "\n".join(line for line in text.splitlines() if "Febrile neutropenia" not in line)
    assert "serious AE 'Febrile neutropenia' of the input is missing from the text" in check(dropped, facts)
    # the rash was denied: stating it is an invention
    assert any("rash maculo-papular" in i for i in check(text + "\nRash maculo-papular grade 1.", facts))


@pytest.mark.parametrize(
    "aes,must_appear",
    [
        # coverage boundary: grade 2 non-serious may be left out, grade 3 may not
        ([{"term": "Nausea", "grade": 2, "serious": False}], False),
        ([{"term": "Nausea", "grade": 3, "serious": False}], True),
        # serious of any grade must appear
        ([{"term": "Nausea", "grade": 1, "serious": True}], True),
        ([{"term": "Nausea", "grade": None, "serious": True}], True),
        # grade unknown and not serious: may be left out
        ([{"term": "Nausea", "grade": None, "serious": None}], False),
        # historical grade 4: not a current event, may be left out
        ([{"term": "Nausea", "grade": 4, "serious": True, "historical": True}], False),
    ],
)
def test_coverage_boundaries(aes, must_appear):
    facts = {"adverse_events": aes}
    issues = check("Visit unremarkable.", facts)
    assert bool(issues) is must_appear, issues
    # and naming the AE satisfies coverage
    assert check("Nausea was reported.", facts) == []


def test_grade_without_a_term_must_be_some_input_grade():
    facts = {"adverse_events": [{"term": "Nausea", "grade": 2, "serious": False}]}
    assert check("Nausea. A grade 2 event.", facts) == []
    assert check("Nausea. A grade 3 event.", facts) == ["'grade 3' is not a grade of any AE in the input"]


def test_dose_normalisation():
    facts = {"doses": ["180 mg/m2"], "adverse_events": []}
    for same in ("180 mg/m²", "180.0 mg/m2", "180mg/m2", "180 MG/M2"):
        assert check(f"Given {same}.", facts) == [], same
    assert check("Given 18 mg/m2.", facts) == ["dose '18 mg/m2' is not in the input"]
    assert normalize_dose("2,5", "mcg") == ("2.5", "ug")
    assert [k for k, _ in find_doses("AUC 5 and 1.5 g/m2 on day 8")] == [("5", "auc"), ("1.5", "g/m2")]


def test_grade_forms():
    assert [g for g, _, _ in find_grades("grade 3, Grade: 2, grade-1, CTCAE grade III, G4")] == [3, 2, 1, 3, 4]
    assert find_grades("day 3, 3 grades, aggregate") == []


def test_claims_in_the_context_free_text_are_facts():
    facts = {"adverse_events": [], "context_texts": ["Prior dexamethasone 8 mg and rituximab"]}
    assert check("Premedication: dexamethasone 8 mg; prior rituximab.", facts) == []
    assert check("Premedication: dexamethasone 12 mg.", facts) == ["dose '12 mg' is not in the input"]


def test_extra_drug_vocabulary_catches_drugs_without_an_inn_stem():
    facts = {"adverse_events": [], "drugs": ["irinotecan"]}
    assert check_faithfulness("Given colchicine.", facts) == []  # unknown word, no stem, no vocabulary
    assert check_faithfulness("Given colchicine.", facts, drug_vocabulary=["Colchicine"]) == [
        "drug 'colchicine' is not in the input"
    ]


def test_bad_arguments():
    with pytest.raises(TypeError, match="text must be a str"):
        check_faithfulness(None, {})
    with pytest.raises(TypeError, match="facts must be a dict"):
        check_faithfulness("x", [])


def test_synonym_vocabulary_names_the_input_ae():
    facts = {"adverse_events": [{"term": "Neutrophil count decreased", "grade": 3, "serious": False}]}
    vocab = {"Neutrophil count decreased": "Neutrophil count decreased", "neutropenia": "Neutrophil count decreased",
             "low platelets": "Platelet count decreased", "Platelet count decreased": "Platelet count decreased"}
    # a synonym of the input term is the same AE: it covers it and its grade is checked
    assert check_faithfulness("Grade 3 neutropenia.", facts, ae_vocabulary=vocab) == []
    assert check_faithfulness("Grade 4 neutropenia.", facts, ae_vocabulary=vocab) == [
        "'Grade 4' stated for 'neutropenia', but the input grade is 3"
    ]
    # a synonym of a term the input does not have is an invented AE
    issues = check_faithfulness("Grade 3 neutropenia and low platelets.", facts, ae_vocabulary=vocab)
    assert issues == ["AE term 'low platelets' is not in the input"]
    # without the synonym table the same text misses the grade-3 AE
    assert check_faithfulness("Grade 3 neutropenia.", facts) == [
        "grade 3 AE 'Neutrophil count decreased' of the input is missing from the text"
    ]
