"""Trial-level reasoning over annotated documents and trial data: subjects, AE
episodes and tables, dose-escalation designs and their simulation, arm
allocation, tumour response. Pure functions over plain data; the CLI
(:mod:`ct_safety_nlp.cli.trial`) is a thin layer on top."""
