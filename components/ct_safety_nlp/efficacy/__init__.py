"""Tumour response: RECIST 1.1 rules (:mod:`.recist`, pure functions) and the
``ct_efficacy`` component that finds stated responses, lesion measurements,
new and non-target lesions in text (:mod:`.component`)."""
