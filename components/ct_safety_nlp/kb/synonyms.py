"""The curated synonym table (everyday wording -> CTCAE term): ``ct.read_synonyms.v1``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from spacy.util import registry

from ..text import clean_key as _clean_key
from .workbook import CTCAE_VERSION, read_ctcae_workbook

__all__ = ["read_synonyms", "read_synonyms_table", "table_terms", "validate_synonyms"]


def _no_duplicate_keys(path: Path):
    def hook(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise ValueError(f"{path}: duplicate key '{key}' in synonym file")
            seen[key] = value
        return seen

    return hook


def read_synonyms(path: Union[str, Path], ctcae_path: Optional[Union[str, Path]] = None) -> Dict[str, str]:
    """Read and validate a synonym table: ``{surface form (lowercase): CTCAE term}``.

    The file is JSON (``.json``) or YAML (``.yml`` / ``.yaml``, safe-loaded),
    either a flat mapping or an object with a ``"synonyms"`` mapping (other
    top-level keys such as ``"notes"`` are documentation). Keys are
    lower-cased and whitespace-collapsed. With ``ctcae_path`` every target is
    checked against the workbook (and put in its exact spelling); without it,
    :class:`CtcaeKB` does the same check when both meet.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"synonym file not found: {path}")
    text = path.read_text(encoding="utf8")
    if path.suffix.lower() in (".yml", ".yaml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ValueError(f"{path}: invalid YAML ({err})") from err
    else:
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys(path))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from err
    if isinstance(data, dict) and "synonyms" in data:
        data = data["synonyms"]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of surface form -> CTCAE term (or {{'synonyms': {{...}}}}), got {type(data).__name__}")
    synonyms: Dict[str, str] = {}
    problems = []
    for key, target in data.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(target, str) or not target.strip():
            problems.append(f"{key!r} -> {target!r} (both must be non-empty strings)")
            continue
        surface = _clean_key(key)
        if surface in synonyms and synonyms[surface] != target.strip():
            problems.append(f"{key!r} maps to both {synonyms[surface]!r} and {target!r}")
            continue
        synonyms[surface] = target.strip()
    if problems:
        raise ValueError(f"{path}: bad synonym entries: " + "; ".join(problems))
    if ctcae_path is not None:
        synonyms = validate_synonyms(synonyms, read_ctcae_workbook(ctcae_path), source=str(path))
    return synonyms


@registry.misc("ct.read_synonyms.v1")
def read_synonyms_table(path: str, ctcae_path: Optional[str] = None) -> Dict[str, str]:
    """Registered ``ct.read_synonyms.v1``: :func:`read_synonyms` for configs.

    ``synonyms = {"@misc": "ct.read_synonyms.v1", "path": "assets/ctcae_synonyms.json"}``.
    """
    return read_synonyms(path, ctcae_path)


def validate_synonyms(synonyms: Dict[str, str], table: Dict[str, Any], *, source: str = "synonyms") -> Dict[str, str]:
    """Return ``synonyms`` with targets in the workbook's spelling; ValueError naming every bad entry."""
    by_lower = {rec["term"].lower(): rec["term"] for rec in table_terms(table)}
    bad = [f"{k!r} -> {v!r}" for k, v in synonyms.items() if v.lower() not in by_lower]
    if bad:
        raise ValueError(f"{source}: {len(bad)} synonym target(s) are not CTCAE v{table.get('version', CTCAE_VERSION)} terms: " + ", ".join(bad))
    return {k: by_lower[v.lower()] for k, v in synonyms.items()}


def table_terms(table: Dict[str, Any]) -> List[Dict[str, Any]]:
    if not isinstance(table, dict) or not isinstance(table.get("terms"), list) or not table["terms"]:
        raise ValueError("CTCAE table must be a dict with a non-empty 'terms' list (as returned by read_ctcae_workbook)")
    for rec in table["terms"]:
        if not isinstance(rec, dict) or not {"term", "meddra_code", "soc"} <= set(rec):
            raise ValueError(f"CTCAE table record lacks term/meddra_code/soc: {rec!r:.200}")
    return table["terms"]


