"""Mention resolution of the trained model's AE spans (reasoner/mentions.py):
a list in one span becomes one mention per CTCAE term, each graded on its
own; a guess never hides a CTCAE term written inside the span; a term-less
span that is a generic phrase or a treatment is no AE record but is kept, with
its reason, in doc._.ct_ae_rejected. The model's spans are given to the
reasoner as doc.spans["sc"], as the trained span categorizer writes them."""

import pickle

import pytest

from support.pipelines import reasoner_pipeline


@pytest.fixture(scope="module")
def nlp(ctcae_xlsx_path):
    return reasoner_pipeline(str(ctcae_xlsx_path))


def _run(nlp, text, *phrases):
    doc = nlp.make_doc(text)
    doc.spans["sc"] = [doc.char_span(text.index(p), text.index(p) + len(p), label="ADVERSE_EVENT") for p in phrases]
    return nlp.get_pipe("ct_reasoner")(doc)


def _terms(doc):
    return [(a["text"], a["ctcae_term"], a["grade"]) for a in doc._.ct_adverse_events]


@pytest.mark.parametrize(
    "text, span, expected",
    [
        ("Adverse reactions included fatigue, decreased appetite, constipation, arthralgia, peripheral edema and dysgeusia.",
         "fatigue, decreased appetite, constipation, arthralgia, peripheral edema and dysgeusia",
         [("fatigue", "Fatigue", None), ("decreased appetite", "Anorexia", None), ("constipation", "Constipation", None),
          ("arthralgia", "Arthralgia", None), ("peripheral edema", "Edema limbs", None), ("dysgeusia", "Dysgeusia", None)]),
        ("During the infusion she developed flushing, chills and hypotension.", "flushing, chills and hypotension",
         [("flushing", "Flushing", None), ("chills", "Chills", None), ("hypotension", "Hypotension", None)]),
        ("Grade 3 fatigue and grade 2 alopecia were reported.", "Grade 3 fatigue and grade 2 alopecia",
         [("fatigue", "Fatigue", 3), ("alopecia", "Alopecia", 2)]),
        ("She had nausea/vomiting after the first cycle.", "nausea/vomiting",
         [("nausea", "Nausea", None), ("vomiting", "Vomiting", None)]),
    ],
)
def test_a_list_in_one_span_is_one_mention_per_term(nlp, text, span, expected):
    doc = _run(nlp, text, span)
    assert _terms(doc) == expected
    for ae in doc._.ct_adverse_events:
        assert ae["evidence"][0] == f"mention: model span ADVERSE_EVENT '{span}'"
        assert any(e.startswith("mention: split from the model span") for e in ae["evidence"]), ae["evidence"]
    assert doc._.ct_ae_rejected == []


def test_one_term_in_a_span_keeps_the_models_extent(nlp):
    """One CTCAE mention inside: no split (below the list boundary of two)."""
    doc = _run(nlp, "He developed severe febrile neutropenia on day 10.", "severe febrile neutropenia")
    ((text, term, _),) = _terms(doc)
    assert (text, term) == ("severe febrile neutropenia", "Febrile neutropenia")


def test_each_split_mention_has_its_own_context(nlp):
    doc = _run(nlp, "No nausea, but vomiting twice.", "nausea, but vomiting")
    by_term = {a["ctcae_term"]: a for a in doc._.ct_adverse_events}
    assert by_term["Nausea"]["negated"] is True and by_term["Vomiting"]["negated"] is False


@pytest.mark.parametrize(
    "text, span, reason",
    [
        ("Adverse reactions are listed below.", "Adverse reactions", "a generic phrase"),
        ("The common side effects were mild.", "common side effects", "a generic phrase"),
        ("Grade 3 toxicities led to a dose delay.", "Grade 3 toxicities", "a generic phrase"),
        ("She was given IV fluids overnight.", "IV fluids", "names a treatment"),
        ("Antiemetics were started.", "Antiemetics", "names a treatment"),
        ("MRI brain with and without contrast: no new lesions.", "MRI brain with and without contrast", "names a diagnostic test"),
        ("Mild colonic wall thickening, nonspecific.", "Mild colonic wall thickening, nonspecific", "words call nonspecific"),
    ],
)
def test_a_termless_span_that_names_no_event_is_rejected_with_its_reason(nlp, text, span, reason):
    doc = _run(nlp, text, span)
    assert [a for a in doc._.ct_adverse_events if a["text"] == span] == []
    (rejected,) = doc._.ct_ae_rejected
    assert rejected["text"] == span and reason in rejected["reason"]
    assert (rejected["start_char"], rejected["end_char"]) == (text.index(span), text.index(span) + len(span))
    assert rejected["source"] == "model:ADVERSE_EVENT"


@pytest.mark.parametrize(
    "text, span",
    [
        ("The patient developed hand and foot peeling after capecitabine.", "hand and foot peeling"),  # no head noun: stays
        ("A drug reaction with eosinophilia was suspected.", "drug reaction with eosinophilia"),  # one non-generic word
        ("Hepatic toxicity was seen.", "Hepatic toxicity"),
        ("She needed a transfusion reaction work-up.", "transfusion reaction"),  # a head noun: not a treatment
    ],
)
def test_a_termless_span_naming_an_event_stays_an_ae(nlp, text, span):
    doc = _run(nlp, text, span)
    assert span in [a["text"] for a in doc._.ct_adverse_events], _terms(doc)
    assert doc._.ct_ae_rejected == []


def test_rejected_spans_survive_pickling_and_the_rules_alone_reject_nothing(nlp):
    doc = _run(nlp, "Adverse reactions: grade 2 nausea.", "Adverse reactions")
    assert [r["text"] for r in pickle.loads(pickle.dumps(doc))._.ct_ae_rejected] == ["Adverse reactions"]
    assert nlp("Adverse reactions: grade 2 nausea.")._.ct_ae_rejected == []  # no model spans: the text's terms only


# ------------------------------------------------------------ the model's drugs and doses beside the rules'

def _with_ents(nlp, text, *ents):
    """``ents``: (phrase, label) pairs set as doc.ents, as the trained NER writes them."""
    doc = nlp.make_doc(text)
    doc.ents = [doc.char_span(text.index(p), text.index(p) + len(p), label=label) for p, label in ents]
    return nlp.get_pipe("ct_reasoner")(doc)


@pytest.mark.parametrize(
    "text, phrase, trusted",
    [
        ("She took foobarimab for a week.", "foobarimab", True),  # unknown to the vocabulary, a real word
        ("Given 5-FU by infusion.", "5-FU", True),  # short, but the vocabulary knows it
        ("AEs in window: G2 nausea.", "AEs", False),  # no word of four letters
        ("Drug X was given.", "Drug X", True),  # a placeholder name: four letters
        ("Proceed to C2 at the same dose.", "C2", False),  # no word of four letters
        ("Seen as pt 1-004 today.", "pt 1-004", False),
        ("Then G2 mucositis appeared.", "G2 mucositis", False),  # names a CTCAE term
        ("Her uric acid 11.2 mg/dL was high.", "uric acid", False),  # a value in a lab unit after it
        ("Her uric acid was high.", "uric acid", True),  # no value after it: the other side of that rule
        ("Her bilirubin was high.", "bilirubin", False),  # a lab alias
    ],
)
def test_plausible_drug(nlp, text, phrase, trusted):
    from ct_safety_nlp.reasoner.doc_regimens import plausible_drug

    start = text.index(phrase)
    assert plausible_drug(text, start, start + len(phrase), nlp.get_pipe("ct_reasoner").tables) is trusted


def test_rule_and_model_drugs_are_one_list(nlp):
    """The model's drug the vocabulary does not know links, so does the
    vocabulary's drug the model missed; the model's "AEs" does not."""
    text = "Grade 3 diarrhea after foobarimab. Grade 2 rash after capecitabine. AEs: nausea."
    doc = _with_ents(nlp, text, ("foobarimab", "DRUG"), ("AEs", "DRUG"))
    drugs = {a["ctcae_term"]: a["drugs"] for a in doc._.ct_adverse_events}
    assert drugs["Diarrhea"] == ["foobarimab"] and drugs["Rash maculo-papular"] == ["capecitabine"]
    assert "AEs" not in drugs["Nausea"]


def test_rule_doses_win_over_an_overlapping_model_dose(nlp):
    text = "Paclitaxel 80 mg/m2 IV weekly was given; then foobarimab 3 mg/kg."
    doc = _with_ents(nlp, text, ("80 mg", "DOSE"), ("foobarimab", "DRUG"))
    by_drug = {r["drug"].lower(): r["dose_text"] for r in doc._.ct_regimens}
    assert by_drug["paclitaxel"].startswith("80 mg/m2") and by_drug["foobarimab"] == "3 mg/kg"


@pytest.mark.parametrize(
    "span, reason",
    [("IV cefepime", "a route"), ("PO hydration", "names a treatment"), ("oral capecitabine", "names a drug")],
)
def test_treatment_spans_are_rejected(nlp, span, reason):
    doc = _run(nlp, f"She was started on {span} yesterday.", span)
    (rejected,) = doc._.ct_ae_rejected
    assert rejected["text"] == span and reason in rejected["reason"], rejected
