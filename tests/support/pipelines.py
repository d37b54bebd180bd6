"""One set-up helper per kind of test pipeline.

* :func:`reasoner_tables` - what ``[initialize.components.ct_reasoner]`` of
  configs/assemble.cfg reads: the CTCAE workbook, the project's synonym table
  and the shipped protocol (assets/protocol_rules.yml), so ``dlt`` / ``action``
  are set as in the shipped pipeline;
* :func:`reasoner_pipeline` - ``spacy.blank("en")`` [+ entity_ruler] +
  ``ct_reasoner`` [+ ``ct_followup``], initialised with those tables;
* :func:`saved_reasoner_pipeline` - the same, saved to a temporary folder (for
  the commands run as processes), optionally with extra test components
  registered by a ``--code`` file.

Tests that need a variant (no protocol, a replaced table) pass it here rather
than writing their own set-up.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
PROTOCOL = REPO / "assets" / "protocol_rules.yml"
SYNONYMS = REPO / "assets" / "ctcae_synonyms.json"


@lru_cache(maxsize=None)
def _read_tables(ctcae_xlsx_path: str, protocol: Optional[str]) -> Tuple[Tuple[str, Any], ...]:
    from spacy import registry

    import ct_safety_nlp.kb  # noqa: F401 - registers ct.read_ctcae.v1 / ct.read_synonyms.v1
    import ct_safety_nlp.protocol  # noqa: F401 - registers ct.read_protocol.v1

    data = [
        ("kb", registry.misc.get("ct.read_ctcae.v1")(ctcae_xlsx_path)),
        ("synonyms", registry.misc.get("ct.read_synonyms.v1")(str(SYNONYMS))),
    ]
    if protocol is not None:
        data.append(("protocol", registry.misc.get("ct.read_protocol.v1")(protocol)))
    return tuple(data)


def reasoner_tables(ctcae_xlsx_path, *, protocol=PROTOCOL) -> Dict[str, Any]:
    """The initialize data of ct_reasoner (read once per session): kb,
    synonyms and, unless ``protocol=None``, the protocol (default: the shipped one)."""
    return dict(_read_tables(str(ctcae_xlsx_path), None if protocol is None else str(protocol)))


def reasoner_pipeline(
    ctcae_xlsx_path,
    *,
    protocol=PROTOCOL,
    ruler_patterns: Optional[Sequence[Dict[str, Any]]] = None,
    before_reasoner: Iterable[str] = (),
    followup: bool = False,
    tables: Optional[Dict[str, Any]] = None,
):
    """spacy.blank("en") [+ entity_ruler with ``ruler_patterns``] [+ the
    registered components ``before_reasoner``] + ct_reasoner [+ ct_followup],
    initialised as configs/assemble.cfg does (``tables`` replaces or adds
    reasoner tables, e.g. ``{"lab_rules": ...}``; with ``ctcae_xlsx_path``
    None the initialize data is ``tables`` alone, e.g. :func:`reasoner_tables`
    already read)."""
    import spacy

    nlp = spacy.blank("en")
    if ruler_patterns:
        nlp.add_pipe("entity_ruler").add_patterns(list(ruler_patterns))
    for name in before_reasoner:
        nlp.add_pipe(name)
    nlp.add_pipe("ct_reasoner")
    data = reasoner_tables(ctcae_xlsx_path, protocol=protocol) if ctcae_xlsx_path is not None else {}
    data.update(tables or {})
    nlp.get_pipe("ct_reasoner").initialize(lambda: [], nlp=nlp, **data)
    if followup:
        nlp.add_pipe("ct_followup")
        nlp.get_pipe("ct_followup").initialize(lambda: [], nlp=nlp)
    return nlp


@lru_cache(maxsize=None)
def code_file(code: str) -> str:
    """Write ``code`` (a --code file registering test components) to a
    temporary file and import it here too, once per process (spaCy refuses a
    second registration of a component name from another file); RETURNS the file."""
    import importlib.util
    import sys

    path = Path(tempfile.mkdtemp(prefix="ct_test_code_")) / "test_components.py"
    path.write_text(code)
    name = f"ct_test_code_{len(code)}_{abs(hash(code))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return str(path)


@lru_cache(maxsize=None)
def saved_reasoner_pipeline(
    ctcae_xlsx_path: str,
    *,
    code: str = "",
    before_reasoner: Tuple[str, ...] = (),
    ruler_patterns: Tuple[Tuple[str, str], ...] = (),
    followup: bool = False,
) -> Tuple[str, str]:
    """(model dir, code file or '') of :func:`reasoner_pipeline` saved to a
    temporary folder. ``code``: the source of a --code file registering the
    components named in ``before_reasoner`` (:func:`code_file`);
    ``ruler_patterns``: (label, lower-case word) pairs for an entity_ruler."""
    root = Path(tempfile.mkdtemp(prefix="ct_test_models_"))
    code_path = code_file(code) if code else ""
    patterns: List[Dict[str, Any]] = [{"label": label, "pattern": [{"LOWER": word}]} for label, word in ruler_patterns]
    nlp = reasoner_pipeline(ctcae_xlsx_path, ruler_patterns=patterns, before_reasoner=before_reasoner, followup=followup)
    nlp.to_disk(root / "model")
    return str(root / "model"), code_path
