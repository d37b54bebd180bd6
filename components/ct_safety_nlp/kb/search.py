"""Knowledge-base search: what the pipeline would map a text to, with the top
candidates. The one home of the look-up behind ``en-clinical-trials kb search``
and the service's ``GET /v1/kb/search``.

Built on the knowledge base's public API (:class:`ct_safety_nlp.kb.CtcaeKB`:
``normalize``, ``find_mentions``, ``terms``, ``synonyms``, ``term``), so it
searches whichever CTCAE version the KB holds.

Results, best first, each term once:

1. the term :meth:`CtcaeKB.normalize` chooses for the whole query (what the
   reasoner would pick for that mention) when it identifies it (exact,
   synonym or lemma);
2. terms whose name starts with the query (case-insensitive, shorter first):
   a type-ahead over the CTCAE terms;
3. the normaliser's choice when it came from a fallback (contained,
   embedding, fuzzy);
4. terms and synonyms found inside the query (:meth:`CtcaeKB.find_mentions`);
5. terms containing the query, then synonyms containing it.

``match`` is always the normaliser's choice, whatever its method.

Each entry has ``term``, ``meddra_code``, ``soc``, ``definition``, ``grades``,
``score``, ``matched``, ``step`` (how it was found: exact, synonym, lemma,
prefix, mention, substring, synonym-substring, contained, fuzzy, embedding)
and ``method``, the step in the words of the command line: exact / synonym /
fold (the text rules' folds and lemmas, fuzzy spelling) / contained (the
query inside a term or a term inside the query) / embedding.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional


__all__ = ["METHODS", "STRONG_METHODS", "find_kb", "search", "search_kb"]

#: normalisation steps that identify the term itself (not a fallback guess)
STRONG_METHODS = ("exact", "synonym", "lemma")
#: the reported methods
METHODS = ("exact", "synonym", "fold", "contained", "embedding")
_METHOD_OF_STEP = {
    "exact": "exact", "synonym": "synonym", "lemma": "fold", "fuzzy": "fold", "embedding": "embedding",
    "contained": "contained", "prefix": "contained", "mention": "contained", "substring": "contained",
    "synonym-substring": "contained",
}


def find_kb(nlp) -> Optional[Any]:
    """The CTCAE knowledge base of the first pipe that carries one, or None."""
    from ..kb import CtcaeKB

    for _name, pipe in nlp.pipeline:
        kb = getattr(pipe, "kb", None)
        if isinstance(kb, CtcaeKB):
            return kb
    return None


def _entry(kb, term: str, method: str, matched: str, score: float) -> Dict[str, Any]:
    record = kb.term(term) or {}
    return {
        "term": record.get("term", term),
        "meddra_code": record.get("meddra_code"),
        "soc": record.get("soc"),
        "definition": record.get("definition"),
        "grades": record.get("grades") or {},
        "method": _METHOD_OF_STEP.get(method, method),
        "step": method,
        "matched": matched,
        "score": round(float(score), 4),
    }


def search_kb(kb, query: str, *, limit: int = 10) -> Dict[str, Any]:
    """``{"query", "ctcae_version", "match", "results"}`` for ``query``.

    ``match`` is the normalised term (an entry) or None; ``results`` holds at
    most ``limit`` entries (see the module docstring for the order).
    """
    query = " ".join(query.split())
    results: List[Dict[str, Any]] = []
    seen = set()

    def add(term: str, method: str, matched: str, score: float) -> None:
        key = term.lower()
        if key not in seen and len(results) < limit:
            seen.add(key)
            results.append(_entry(kb, term, method, matched, score))

    best = kb.normalize(query)
    match = _entry(kb, best.term, best.method, best.matched, best.score) if best is not None else None
    strong = best is not None and best.method in STRONG_METHODS
    if strong:
        add(best.term, best.method, best.matched, best.score)
    needle = query.lower()
    starts, contains = [], []
    for term in kb.terms:
        low = term.lower()
        if low.startswith(needle):
            starts.append(term)
        elif needle in low:
            contains.append(term)
    by_length = lambda t: (len(t), t.lower())  # noqa: E731
    for term in sorted(starts, key=by_length):
        add(term, "prefix", term, len(needle) / len(term))
    if best is not None and not strong:
        add(best.term, best.method, best.matched, best.score)
    for mention in kb.find_mentions(query):
        add(mention.match.term, "mention", mention.text, mention.match.score)
    for term in sorted(contains, key=by_length):
        add(term, "substring", term, len(needle) / len(term))
    synonyms = sorted(((s, t) for s, t in kb.synonyms.items() if needle in s.lower()), key=lambda st: (len(st[0]), st[0]))
    for surface, term in synonyms:
        add(term, "synonym-substring", surface, len(needle) / len(surface))
    return {"query": query, "ctcae_version": kb.table.get("version"), "match": match, "results": results}


def search(kb, query: str, *, limit: int = 10) -> List[Dict[str, Any]]:
    """The candidates of :func:`search_kb`, best first (a list of entries): what
    ``en-clinical-trials kb search --json`` prints. ValueError for an empty query."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError("kb search needs a non-empty text")
    return search_kb(kb, query, limit=limit)["results"]
