"""Pipelines for the evaluation scripts: the rules alone, or a saved pipeline."""

from pathlib import Path
from typing import Any, Dict, Optional, Union

PathLike = Union[str, Path]


def rules_pipeline(
    ctcae: PathLike,
    synonyms: PathLike,
    protocol: Optional[PathLike] = None,
    *,
    ctcae_v6: Optional[PathLike] = None,
    ctcae_version: str = "5.0",
    fallback: Optional[str] = None,
):
    """``spacy.blank("en")`` + ``ct_reasoner`` initialised from the table files.

    ctcae: the NCI CTCAE v5.0 workbook; synonyms: the curated synonym table
    (JSON); protocol: the protocol rules (YAML/JSON) or None. The tables are
    read with the registered readers (``ct.read_ctcae.v1``,
    ``ct.read_synonyms.v1``, ``ct.read_protocol.v1``) exactly as the assemble
    config feeds them, so this is the shipped reasoner without the trained
    components. ctcae_v6: the NCI CTCAE v6.0 workbook (its term table and v5 -> v6
    mapping sheet; ``ct.read_ctcae.v1`` version 6.0, ``ct.read_ctcae_mapping.v1``),
    compiled beside v5; ctcae_version: the version the reasoner grades with
    ("6.0" needs ctcae_v6); fallback: the KB's fallback (default: the
    reasoner's; "contained" needs no sentence encoder). Raises FileNotFoundError / ValueError naming a bad file.
    """
    import spacy
    from spacy import registry

    import ct_safety_nlp.kb  # noqa: F401  (registers ct.read_ctcae.v1 / ct.read_synonyms.v1)
    import ct_safety_nlp.protocol  # noqa: F401  (registers ct.read_protocol.v1)
    import ct_safety_nlp.reasoner  # noqa: F401  (registers the ct_reasoner factory)

    import ct_safety_nlp.kb.mapping  # noqa: F401  (registers ct.read_ctcae_mapping.v1)

    for label, path in (("CTCAE workbook", ctcae), ("synonym table", synonyms), ("protocol rules", protocol), ("CTCAE v6.0 workbook", ctcae_v6)):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"{label} not found: {path}")
    nlp = spacy.blank("en")
    nlp.add_pipe("ct_reasoner", config={"ctcae_version": str(ctcae_version)})
    init = {
        "kb": registry.misc.get("ct.read_ctcae.v1")(str(ctcae)),
        "synonyms": registry.misc.get("ct.read_synonyms.v1")(str(synonyms)),
    }
    if fallback is not None:
        init["fallback"] = fallback
    if ctcae_v6 is not None:
        init["kb_v6"] = registry.misc.get("ct.read_ctcae.v1")(str(ctcae_v6), "6.0")
        init["mapping"] = registry.misc.get("ct.read_ctcae_mapping.v1")(str(ctcae_v6))
    if protocol is not None:
        init["protocol"] = registry.misc.get("ct.read_protocol.v1")(str(protocol))
    nlp.config["initialize"]["components"]["ct_reasoner"] = {}
    nlp.get_pipe("ct_reasoner").initialize(lambda: [], nlp=nlp, **init)
    return nlp


def load_pipeline(name: str, *, require_reasoner: bool = True, config: Optional[Dict[str, Any]] = None):
    """``spacy.load(name, config=config)`` (a path or an installed package;
    ``config``: overrides, as nested dicts); with ``require_reasoner`` a
    pipeline without ``ct_reasoner`` is a ValueError naming it (it would write
    no AE records to score)."""
    import spacy

    nlp = spacy.load(name, config=config or {})
    if require_reasoner and "ct_reasoner" not in nlp.pipe_names:
        raise ValueError(f"pipeline {name!r} has no ct_reasoner component (pipes: {nlp.pipe_names})")
    return nlp
