"""Tests of ct_safety_nlp.reasoner.attribution (suspect drugs from the document's
structure) and of the drug vocabulary's regimen acronyms and product codes."""

import pytest
from spacy.util import registry

from ct_safety_nlp.text import default_drug_vocabulary
from support.pipelines import reasoner_pipeline


@pytest.fixture(scope="module")
def nlp(ctcae_xlsx_path):
    return reasoner_pipeline(ctcae_xlsx_path, protocol=None)


def _drugs(nlp, text):
    return {ae["ctcae_term"]: ae["drugs"] for ae in nlp(text)._.ct_adverse_events if not ae["negated"]}


@pytest.mark.parametrize(
    "text,term,drugs",
    [
        # an attribution sentence after the event
        ("Subject 104-003: Gr 3 diarrhea C1D6, hospitalised 2 days. Related to capecitabine.", "Diarrhea", ["capecitabine"]),
        ("Grade 2 rash on the trunk. Possibly related to erlotinib.", "Rash maculo-papular", ["erlotinib"]),
        # an action sentence naming the drug, either word order
        ("Hand-foot skin reaction G3 on both soles. Sorafenib was interrupted.", "Palmar-plantar erythrodysesthesia syndrome", ["Sorafenib"]),
        ("Grade 3 neutropenia on day 15. Held docetaxel until recovery.", "Neutrophil count decreased", ["docetaxel"]),
        # three sentences after at most; this is the third
        ("Grade 3 nausea. She was admitted. Fluids were given. Attributed to cisplatin.", "Nausea", ["cisplatin"]),
        # the treatment the note opens with
        ("Regimen: paclitaxel 80 mg/m2 IV weekly.\nReports fatigue and constipation since C2.", "Fatigue", ["paclitaxel"]),
        # ... else the drugs named with the document's first AE
        ("Febrile neutropenia after C2 of TC (docetaxel 75 mg/m2).\nAlso had G1 diarrhea.", "Diarrhea", ["TC", "docetaxel"]),
    ],
)
def test_drug_from_the_document(nlp, text, term, drugs):
    assert _drugs(nlp, text)[term] == drugs


@pytest.mark.parametrize(
    "text,term",
    [
        # a sentence with an AE of its own ends the search: the attribution is that AE's
        ("Grade 2 nausea. Grade 3 rash, related to cetuximab.", "Nausea"),
        # four sentences after: beyond the window
        ("Grade 3 nausea. She was admitted. Fluids were given. Antiemetics were changed. Attributed to cisplatin.", "Nausea"),
        # a drug named later without an attribution or action cue
        ("Grade 2 nausea. Ondansetron 8 mg was given.", "Nausea"),
        # called unrelated: nothing from the opening either
        ("Cohort 2 (olaparib 300 mg BID).\n1) Fatigue G2, ongoing. Not related to study drug.", "Fatigue"),
        ("Cohort 2 (olaparib 300 mg BID).\n4) Headache G1 - resolved, unlikely related.", "Headache"),
        ("Day 140: G1 nausea. Investigator: unlikely related to niraparib.", "Nausea"),
        # one sentence, no drug: no opening to take
        ("Grade 2 fatigue was reported.", "Fatigue"),
    ],
)
def test_no_drug_from_the_document(nlp, text, term):
    assert _drugs(nlp, text)[term] == []


def test_each_document_link_says_where_it_came_from(nlp):
    doc = nlp("Regimen: mFOLFOX6 q2w.\nGrade 2 nausea on day 3.")
    (ae,) = [a for a in doc._.ct_adverse_events if a["ctcae_term"] == "Nausea"]
    assert ae["drugs"] == ["mFOLFOX6"] and ae["drug_basis"] == "document"
    assert any("before its first AE" in line for line in ae["evidence"])
    later = next(a for a in nlp("Grade 3 nausea. Attributed to cisplatin.")._.ct_adverse_events if a["ctcae_term"] == "Nausea")
    assert later["drug_basis"] == "later sentence"
    own = next(a for a in nlp("Grade 3 nausea after cisplatin.")._.ct_adverse_events if a["ctcae_term"] == "Nausea")
    assert own["drug_basis"] == "sentence"
    none = next(a for a in nlp("Grade 3 nausea.")._.ct_adverse_events if a["ctcae_term"] == "Nausea")
    assert none["drugs"] == [] and none["drug_basis"] is None
    assert any(line.startswith("drug link: mFOLFOX6 = fluorouracil, leucovorin, oxaliplatin") for line in ae["evidence"])


def test_the_sentence_rule_decides_first(nlp):
    # the AE's own sentence names a drug: the document is not consulted
    ae = _drugs(nlp, "Regimen: cisplatin 75 mg/m2.\nGrade 2 nausea after ondansetron was stopped. Related to cisplatin.")
    assert ae["Nausea"] == ["ondansetron"]


@pytest.mark.parametrize(
    "text,found",
    [
        ("on mFOLFOX6 q2w", ["mFOLFOX6"]),
        ("R-CHOP-21 x6", ["R-CHOP-21"]),
        ("AC-T then TC x4", ["AC-T", "TC"]),
        ("5-FU/LV bolus", ["5-FU/LV"]),
        ("Ipi/nivo and cape", ["Ipi", "nivo", "cape"]),
        ("XR-417 and MK-3475", ["XR-417", "MK-3475"]),
        # capitals-only names and clinical words that look like codes or regimens
        ("ac joint pain, tc of the lab", []),
        ("CA-125 rose; ICE score 8; PAC on ECG; LV dysfunction; HLA-B5801", []),
        ("XR-41 is too short a code", []),
        ("venetoclax and vismodegib", ["venetoclax", "vismodegib"]),
    ],
)
def test_drug_vocabulary_finds_regimens_and_codes(text, found):
    assert [name for _, _, name in default_drug_vocabulary().find(text)] == found


@pytest.mark.parametrize(
    "name,drugs",
    [
        ("mFOLFOX6", ["fluorouracil", "leucovorin", "oxaliplatin"]),
        ("FOLFOX", ["fluorouracil", "leucovorin", "oxaliplatin"]),
        ("R-CHOP-21", ["rituximab", "cyclophosphamide", "doxorubicin", "vincristine", "prednisone"]),
        ("Ipi", ["ipilimumab"]),
        ("cisplatin", None),
        ("mTOR", None),
    ],
)
def test_regimen_drugs(name, drugs):
    assert default_drug_vocabulary().regimen_drugs(name) == drugs


def test_regimen_table_errors_name_the_line(tmp_path):
    from ct_safety_nlp.rules.io import RuleFileError, resource_path

    text = resource_path("drugs.yml").read_text(encoding="utf-8").replace("  FOLFIRI: [fluorouracil, leucovorin, irinotecan]", "  FOLFIRI: []")
    bad = tmp_path / "drugs.yml"
    bad.write_text(text, encoding="utf-8")
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("  FOLFIRI:"))
    with pytest.raises(RuleFileError, match=rf"drugs.yml:{line}:"):
        registry.misc.get("ct.read_drug_vocabulary.v1")(str(bad))
