"""All ``Doc._`` extensions of the library, registered in one idempotent place.

Every value stored here is JSON/msgpack-safe (dicts, lists, str, int, float,
bool, None: offsets and ids, never Span objects), so that
``DocBin(store_user_data=True)``, ``nlp.pipe(n_process=N)`` and Ray keep them.

``None`` means "the component that fills this attribute has not run".
"""

from spacy.tokens import Doc

#: name -> (default, description). The README's output contract mirrors this.
DOC_EXTENSIONS = {
    "ct_adverse_events": "list of AE dicts written by ct_reasoner",
    "ct_regimens": "list of regimen dicts written by ct_reasoner",
    "ct_ae_rejected": "list of the model's AE spans ct_reasoner did not make AE records (no CTCAE term, no event named), each with its reason",
    "ct_context": "visit context dict given by the caller (patient, trial, visit, drug, dose)",
    "ct_followup": "follow-up record dict written by ct_followup",
    "ct_followup_issues": "list of faithfulness violations found in ct_followup",
    "ct_responses": "list of tumour-response assessment dicts (RECIST 1.1) written by ct_efficacy",
}


def register_extensions() -> None:
    """Register every ``ct_`` Doc extension once; safe to call any number of times."""
    for name in DOC_EXTENSIONS:
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)
