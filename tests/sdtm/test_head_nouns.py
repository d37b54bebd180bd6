"""HeadNouns.not_an_event: the one table (resources/ae_head_nouns.yml) that
says which term-less AE candidates are events, for ct_reasoner (a head noun
not required) and the SDTM export (required). Table-driven, both sides of
each rule."""

import pytest

from ct_safety_nlp.sdtm import default_head_nouns
from ct_safety_nlp.sdtm.terminology import GENERIC_PHRASE, NONSPECIFIC, NO_HEAD_NOUN, PROCEDURE, TREATMENT


@pytest.mark.parametrize(
    "text, reasoner, export",
    [
        ("Adverse reactions", GENERIC_PHRASE, GENERIC_PHRASE),
        ("serious adverse events", GENERIC_PHRASE, GENERIC_PHRASE),
        ("grade 3 toxicities", GENERIC_PHRASE, GENERIC_PHRASE),  # a number is generic
        ("AEs", GENERIC_PHRASE, GENERIC_PHRASE),
        ("hepatic toxicity", None, None),  # one word that is not generic
        ("methotrexate toxicity", None, None),
        ("IV fluids", TREATMENT, TREATMENT),
        ("antiemetics", TREATMENT, TREATMENT),
        ("fluids were low", None, NO_HEAD_NOUN),  # the treatment word must be last
        ("infusion reaction", None, None),  # a head noun: an event, though "infusion" is a treatment word
        ("hand and foot peeling", None, NO_HEAD_NOUN),
        ("CT chest/abdomen/pelvis with contrast - restaging", PROCEDURE, PROCEDURE),  # a radiology report's heading
        ("MRI brain with and without contrast", PROCEDURE, PROCEDURE),
        ("brain MRI showed new enhancement", None, NO_HEAD_NOUN),  # the procedure word must be first
        ("CT-confirmed worsening", None, NO_HEAD_NOUN),  # a whole word: "ct-confirmed" is not "ct"
        ("PET avid lesion", None, None),  # a head noun: a finding, though "PET" is a procedure word
        ("Mild colonic wall thickening, nonspecific", NONSPECIFIC, NONSPECIFIC),
        ("incidental 4 mm nodule", NONSPECIFIC, NONSPECIFIC),
        ("indeterminate liver lesion", NONSPECIFIC, NONSPECIFIC),  # even with a head noun
        ("specific pain", None, None),  # whole words: "specific" is not "nonspecific"
        ("chest pain", None, None),
        ("", None, NO_HEAD_NOUN),
    ],
)
def test_not_an_event(text, reasoner, export):
    heads = default_head_nouns()
    assert heads.not_an_event(text, require_head_noun=False) == reasoner
    assert heads.not_an_event(text) == export
