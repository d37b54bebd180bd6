"""``ct_reasoner``: CTCAE term, grade, context, seriousness, suspect drugs, DLT
and dose action for every adverse-event mention of a Doc, each with its evidence.

Modules: :mod:`.component` (the spaCy Pipe: config, initialize, serialisation,
run), :mod:`.tables` (the knowledge it carries and saves), :mod:`.mentions`
(model spans merged with CTCAE terms and lab values), :mod:`.grading_window`
(each mention's grading window and grade), :mod:`.events` (the AE record),
:mod:`.doc_regimens` (regimen records).
"""

from .component import AE_KEYS, REGIMEN_KEYS, CtReasoner, make_reasoner

__all__ = ["AE_KEYS", "REGIMEN_KEYS", "CtReasoner", "make_reasoner"]
