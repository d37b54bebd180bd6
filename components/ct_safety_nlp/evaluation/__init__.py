"""Evaluation helpers shared by the project's scoring scripts.

* :mod:`ct_safety_nlp.evaluation.pipelines` - the rules-only pipeline
  (``spacy.blank("en")`` + ``ct_reasoner`` initialised from table files) and
  loading a pipeline by name or path.
* :mod:`ct_safety_nlp.evaluation.documents` - the whole-document AE
  evaluation set (``assets/eval/documents/gold.jsonl``): its validator and
  its scorer.

Nothing here is imported by a pipeline component; heavy imports stay inside
functions.
"""
