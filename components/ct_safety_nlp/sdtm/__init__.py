"""The SDTM AE domain: controlled terminology (``resources/sdtm_ct.yml``),
the rows of ``ae_sdtm.csv`` / ``ae_suppae.csv`` / ``ae_sdtm_excluded.csv``
(:mod:`.export`) and the conformance check (:mod:`.check`,
``en-clinical-trials sdtm check``)."""

from .terminology import AeTerminology, default_head_nouns, default_terminology

__all__ = ["AeTerminology", "default_head_nouns", "default_terminology"]
