"""ct_safety_nlp: the component library behind the ``en_clinical_trials`` pipeline.

Importing this package is cheap on purpose: spaCy imports the modules named by
our ``spacy_factories`` / ``spacy_misc`` entry points whenever it resolves a
factory, so nothing heavy (torch, spacy_llm, ray) is imported at module level
anywhere in the library. Heavy imports live inside the functions that need them.
"""

__version__ = "0.1.0"

from .extensions import register_extensions  # noqa: E402

__all__ = ["__version__", "register_extensions"]
