"""Hand-made Docs for the follow-up tests: extensions set as ct_reasoner would set them.

Offsets are computed from the text, so every AE / regimen dict points at its
real span, as the reasoner's contract says.
"""

import spacy

from ct_safety_nlp.extensions import register_extensions

register_extensions()


def ae(text, span, *, term, grade=None, negated=False, speculated=False, historical=False, serious=False,
       criteria=(), drugs=(), dlt=None, action=None, code=None, soc=None):
    start = text.index(span)
    return {
        "text": span,
        "start_char": start,
        "end_char": start + len(span),
        "ctcae_term": term,
        "meddra_code": code,
        "soc": soc,
        "grade": grade,
        "grade_basis": "explicit" if grade is not None else None,
        "negated": negated,
        "speculated": speculated,
        "historical": historical,
        "serious": serious,
        "seriousness_criteria": list(criteria),
        "drugs": list(drugs),
        "dlt": dlt,
        "action": action,
        "evidence": [],
    }


def regimen(text, span, *, drug, dose_text=None, value=None, unit=None, route=None, frequency=None, duration=None):
    start = text.index(span)
    return {
        "drug": drug, "dose_text": dose_text, "value": value, "unit": unit, "per": None, "route": route,
        "frequency": frequency, "duration": duration, "start_char": start, "end_char": start + len(span),
    }


def set_ents(doc, pairs):
    """pairs: (surface, label); the first occurrence of each surface becomes an entity."""
    spans = []
    for surface, label in pairs:
        start = doc.text.index(surface)
        span = doc.char_span(start, start + len(surface), label=label)
        assert span is not None, surface
        spans.append(span)
    doc.ents = spans
    return doc


V1_TEXT = "Grade 3 diarrhoea on day 5 after irinotecan 180 mg/m2; no fever."
V1_CONTEXT = {"patient_id": "P-001", "trial_id": "T-1", "phase": "II", "visit": "C1D8", "drug": "irinotecan",
              "dose": "180 mg/m2"}


def v1_doc(nlp=None):
    """The issue's 'Done when' example, as ct_reasoner would annotate it."""
    nlp = nlp or spacy.blank("en")
    doc = nlp.make_doc(V1_TEXT)
    set_ents(doc, [("diarrhoea", "ADVERSE_EVENT"), ("irinotecan", "DRUG"), ("180 mg/m2", "DOSE"), ("fever", "ADVERSE_EVENT")])
    doc._.ct_context = dict(V1_CONTEXT)
    doc._.ct_adverse_events = [
        ae(V1_TEXT, "diarrhoea", term="Diarrhea", grade=3, drugs=["irinotecan"], code="10012735",
           soc="Gastrointestinal disorders"),
        ae(V1_TEXT, "fever", term="Fever", negated=True, code="10016558",
           soc="General disorders and administration site conditions"),
    ]
    doc._.ct_regimens = [regimen(V1_TEXT, "irinotecan 180 mg/m2", drug="irinotecan", dose_text="180 mg/m2",
                                 value=180.0, unit="mg/m2")]
    return doc


SAE_TEXT = ("Patient hospitalised with febrile neutropenia (grade 4) on day 10 of cisplatin 75 mg/m2 IV every 3 weeks; "
            "cisplatin was held. Grade 1 nausea, possibly related. History of grade 2 anemia. Denies rash.")
SAE_CONTEXT = {"patient_id": "P-017", "age": 63, "sex": "F", "trial_id": "ONC-22", "phase": "III", "arm": "B",
               "cycle": 2, "day": 10, "drug": "cisplatin", "dose": "75 mg/m2",
               "plan": ["Repeat blood count in 48 hours", "G-CSF per protocol"], "site": "Site 04"}


def sae_doc(nlp=None):
    """A serious grade-4 event plus a minor, a historical and a negated one."""
    nlp = nlp or spacy.blank("en")
    doc = nlp.make_doc(SAE_TEXT)
    set_ents(doc, [("febrile neutropenia", "ADVERSE_EVENT"), ("cisplatin", "DRUG"), ("75 mg/m2", "DOSE"),
                   ("IV", "ROUTE"), ("every 3 weeks", "FREQUENCY")])
    doc._.ct_context = dict(SAE_CONTEXT)
    doc._.ct_adverse_events = [
        ae(SAE_TEXT, "febrile neutropenia", term="Febrile neutropenia", grade=4, serious=True,
           criteria=["hospitalization"], drugs=["cisplatin"], dlt=True, action="drug interrupted"),
        ae(SAE_TEXT, "nausea", term="Nausea", grade=1, speculated=True, drugs=["cisplatin"]),
        ae(SAE_TEXT, "anemia", term="Anemia", grade=2, historical=True),
        ae(SAE_TEXT, "rash", term="Rash maculo-papular", negated=True),
    ]
    doc._.ct_regimens = [regimen(SAE_TEXT, "cisplatin 75 mg/m2 IV every 3 weeks", drug="cisplatin",
                                 dose_text="75 mg/m2", value=75.0, unit="mg/m2", route="IV",
                                 frequency="every 3 weeks")]
    return doc


def bare_doc(nlp=None):
    """No reasoner output and no context: the record must still render."""
    nlp = nlp or spacy.blank("en")
    return nlp.make_doc("Visit unremarkable.")


#: An extra AE vocabulary for the check (a few CTCAE terms the inputs do not have).
AE_VOCAB = ["Diarrhea", "Fever", "Neutropenia", "Febrile neutropenia", "Nausea", "Vomiting", "Anemia",
            "Rash maculo-papular", "Fatigue", "Cough", "Alopecia"]


def reasoner_pipeline(ctcae_xlsx_path, *, followup=True):
    """spacy.blank("en") + ct_reasoner (CTCAE workbook, synonym table, shipped
    protocol) [+ ct_followup, whose check vocabulary is taken from the
    reasoner's knowledge base]: :func:`support.pipelines.reasoner_pipeline`."""
    from support.pipelines import reasoner_pipeline as build

    return build(ctcae_xlsx_path, followup=followup)
