"""``python -m ct_safety_nlp.cli ...``: the ``en-clinical-trials`` command."""

from . import main

main()
