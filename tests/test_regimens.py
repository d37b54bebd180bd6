"""Tests of ct_safety_nlp.regimens: dose parsing, route / frequency / duration, drug links."""

import pytest

from ct_safety_nlp.regimens import build_regimen, find_doses, link_drugs, parse_dose
from ct_safety_nlp.text import find_drug_names as find_drugs_by_rule


@pytest.mark.parametrize(
    "text,value,unit,per",
    [
        ("75 mg/m2", 75.0, "mg", "m2"),
        ("75 mg/m^2", 75.0, "mg", "m2"),
        ("75 mg/m²", 75.0, "mg", "m2"),
        ("75 mg / m 2", 75.0, "mg", "m2"),
        ("1 mg/kg", 1.0, "mg", "kg"),
        ("10 mg/kg/day", 10.0, "mg", "kg"),
        ("2.5 mg", 2.5, "mg", None),
        ("1,000 mg", 1000.0, "mg", None),
        ("0,5 mg", 0.5, "mg", None),
        ("200 mcg", 200.0, "µg", None),
        ("200 µg", 200.0, "µg", None),
        ("5000 IU", 5000.0, "IU", None),
        ("10 units", 10.0, "U", None),
        ("100-200 mg", 100.0, "mg", None),
        ("AUC 5", 5.0, "AUC", None),
        ("60 Gy", 60.0, "Gy", None),
    ],
)
def test_parse_dose_value_unit_per(text, value, unit, per):
    dose = parse_dose(text)
    assert (dose.value, dose.unit, dose.per) == (value, unit, per)


@pytest.mark.parametrize(
    "text,route,frequency",
    [
        ("200 mg orally bid", "oral", "twice daily"),
        ("200 mg p.o. b.i.d.", "oral", "twice daily"),
        ("100 mg PO qd", "oral", "daily"),
        ("100 mg once daily", None, "daily"),
        ("10 mg/kg/day", None, "daily"),
        ("75 mg/m2 IV q3w", "intravenous", "every 3 weeks"),
        ("75 mg/m2 intravenously every 3 weeks", "intravenous", "every 3 weeks"),
        ("75 mg/m2 i.v. every three weeks", "intravenous", "every 3 weeks"),
        ("40 mg sc weekly", "subcutaneous", "weekly"),
        ("40 mg SC once a week", "subcutaneous", "weekly"),
        ("5 mg tid", None, "three times daily"),
        ("5 mg three times daily", None, "three times daily"),
        ("2 mg q8h", None, "three times daily"),
        ("2 mg every 4 hours", None, "every 4 hours"),
        ("8 mg q2w", None, "every 2 weeks"),
        ("500 mg intramuscularly monthly", "intramuscular", "monthly"),
        ("12 mg intrathecally", "intrathecal", None),
        ("25 mg", None, None),
    ],
)
def test_parse_dose_route_frequency(text, route, frequency):
    dose = parse_dose(text)
    assert (dose.route, dose.frequency) == (route, frequency)


@pytest.mark.parametrize("text", ["grade 3", "day 15", "no dose here", "22,000/mm3", ""])
def test_parse_dose_none(text):
    assert parse_dose(text) is None


def test_parse_dose_type_error():
    with pytest.raises(TypeError, match="parse_dose"):
        parse_dose(75)


def test_build_regimen_reads_after_the_dose():
    text = "Patients received paclitaxel 175 mg/m2 IV over 3 hours every 3 weeks for 6 cycles."
    (dose,) = find_doses(text)
    reg = build_regimen(text, dose, len(text), "paclitaxel")
    assert reg == {
        "drug": "paclitaxel",
        "dose_text": "175 mg/m2",
        "value": 175.0,
        "unit": "mg",
        "per": "m2",
        "route": "intravenous",
        "frequency": "every 3 weeks",
        "duration": "for 6 cycles",
        "start_char": dose[0],
        "end_char": dose[1],
    }


def test_build_regimen_model_values_win():
    text = "Capecitabine 1000 mg/m2 orally twice daily for 14 days."
    (dose,) = find_doses(text)
    reg = build_regimen(text, dose, len(text), "Capecitabine", route="by mouth", frequency="BID", duration="14 days")
    assert (reg["route"], reg["frequency"], reg["duration"]) == ("by mouth", "BID", "14 days")


def test_build_regimen_route_before_dose():
    text = "IV cisplatin 75 mg/m2 on day 1."
    (dose,) = find_doses(text)
    assert build_regimen(text, dose, len(text), "cisplatin")["route"] == "intravenous"


@pytest.mark.parametrize(
    "text,drugs",
    [
        ("Paclitaxel and carboplatin were given.", ["Paclitaxel", "carboplatin"]),
        ("She received pembrolizumab and 5-FU.", ["pembrolizumab", "5-FU"]),
        ("Toxicity of the study drug was mild.", ["study drug"]),
        ("In April the patient felt potassium was low.", []),
        ("Sunitinib 50 mg daily.", ["Sunitinib"]),
    ],
)
def test_find_drugs_by_rule(text, drugs):
    assert [name for _, _, name in find_drugs_by_rule(text)] == drugs


def _link(text, ae, drugs):
    a = text.index(ae)
    spans = [(text.index(d), text.index(d) + len(d), d) for d in drugs]
    return link_drugs(text, (a, a + len(ae)), (0, len(text)), spans)


@pytest.mark.parametrize(
    "text,ae,drugs,expected,rule",
    [
        ("Neuropathy after oxaliplatin; fluorouracil was continued.", "Neuropathy", ["oxaliplatin", "fluorouracil"], ["oxaliplatin"], "causal"),
        ("Rash induced by lamotrigine while on valproate.", "Rash", ["lamotrigine", "valproate"], ["lamotrigine"], "causal"),
        ("Heparin-induced thrombocytopenia under warfarin.", "thrombocytopenia", ["Heparin", "warfarin"], ["Heparin"], "causal"),
        ("Patients on cisplatin and etoposide had nausea.", "nausea", ["cisplatin", "etoposide"], ["cisplatin", "etoposide"], "clause"),
        ("Nausea was reported.", "Nausea", [], [], None),
        ("The pneumonia was considered unrelated to the study drug.", "pneumonia", ["study drug"], [], None),
        ("Rash, not related to cisplatin, and nausea after etoposide.", "Rash", ["cisplatin", "etoposide"], ["etoposide"], "clause"),
    ],
)
def test_link_drugs(text, ae, drugs, expected, rule):
    names, evidence = _link(text, ae, drugs)
    assert names == expected
    if rule == "causal":
        assert "causal cue" in evidence
    elif rule == "clause":
        assert "same clause" in evidence


def test_link_drugs_sentence_fallback():
    text = "Cisplatin was given on day 1; nausea followed."
    a = text.index("nausea")
    names, evidence = link_drugs(text, (a, a + 6), (a, len(text)), [(0, 9, "Cisplatin")])
    assert names == ["Cisplatin"] and "same sentence" in evidence


@pytest.mark.parametrize(
    "text,doses",
    [
        ("Creatinine clearance decreased to 45 mL/min.", []),
        ("Urine output was 300 mL over 24 hours.", []),
        ("Lidocaine 10 mL was injected; cisplatin 75 mg/m2 followed.", ["10 mL", "75 mg/m2"]),
    ],
)
def test_find_doses_skips_measurements(text, doses):
    assert [text[a:b] for a, b in find_doses(text)] == doses
