"""Whole-document AE evaluation: the gold file's validator and the scorer.

The gold file (``assets/eval/documents/gold.jsonl``, rules in the README
beside it) holds one JSON object per document: ``id``, ``genre``, ``text``
or ``path`` (a ``.txt`` beside the gold file), ``adverse_events``,
``components``, ``regimens``, ``not_aes`` and ``acronyms``.

:func:`load_gold` validates it (offsets against the text, CTCAE v5.0 terms
and the grades the workbook defines for them, vocabularies, types) and
raises :class:`GoldError` listing every problem as ``FILE:LINE: problem``.

:func:`score` compares predicted AE records (the ``doc._.ct_adverse_events``
contract) with the gold, per document and overall. Matching, per document,
one prediction per gold AE, in this order of preference:

1. same CTCAE term and overlapping one of the gold AE's mentions (its main
   span first: the record where the annotator placed the event is scored);
2. same CTCAE term anywhere in the document ("matched by term");
3. a prediction with no term (``ctcae_term`` null) overlapping a mention
   ("matched by offsets").

A prediction left over is a *duplicate* (same term as a gold AE, or no term
over a gold mention), else *ignored* if negated, else a *component record*
(it lies on a sign the gold gives as part of a named diagnosis), else a
*false positive*; a false positive over a gold mention of another term is
also counted as *wrong term*, one over a ``not_aes`` string as a *not-AE
hit*. *Term-less records* are all predictions with ``ctcae_term`` null.

"AEs found" counts present gold AEs (not negated, not historical). Field
accuracies are over matched gold AEs: grade (gold grade not null), serious
and criteria (present AEs; criteria where the gold states them), negated and
historical (all matched), suspect drug (present AEs with gold drugs: any gold
drug among the predicted drugs, case-insensitive, both sides expanded by the
document's ``acronyms``), and relatedness / action (AEACN) / outcome (AEOUT)
when the predictions carry such a field (see :data:`FIELD_CANDIDATES`),
'n/a' otherwise. Regimens: a gold ``{drug, dose_text}`` is found when a
predicted regimen has the same drug (expanded) and the same dose text
(case, spaces and a trailing "/day"-style rate ignored).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from ..seriousness import CRITERIA

RELATEDNESS = ("related", "possibly related", "unlikely related", "not related")
#: CDISC SDTM controlled terminology: Action Taken with Study Treatment (C66767)
AEACN = (
    "DOSE INCREASED", "DOSE NOT CHANGED", "DOSE RATE REDUCED", "DOSE REDUCED", "DRUG INTERRUPTED",
    "DRUG WITHDRAWN", "NOT APPLICABLE", "UNKNOWN",
)
#: CDISC SDTM controlled terminology: Outcome of Event (C66768)
AEOUT = (
    "FATAL", "NOT RECOVERED/NOT RESOLVED", "RECOVERED/RESOLVED", "RECOVERED/RESOLVED WITH SEQUELAE",
    "RECOVERING/RESOLVING", "UNKNOWN",
)
AE_KEYS = (
    "text", "start_char", "end_char", "ctcae_term", "grade", "serious", "seriousness_criteria", "negated",
    "historical", "suspect_drugs", "relatedness", "action", "outcome",
)
DOC_KEYS = ("id", "genre", "adverse_events", "regimens", "not_aes")

#: prediction keys tried, in order, for the optional fields. A key marked
#: "vocab" is used only when its non-null values are all in the gold
#: vocabulary (the reasoner's ``action`` holds the protocol's recommended
#: action - continue / hold / reduce_one_level ... - not AEACN).
FIELD_CANDIDATES: Dict[str, List[Tuple[str, bool]]] = {
    "relatedness": [("relatedness", False), ("aerel", False), ("causality", False)],
    "action": [("aeacn", False), ("action_taken", False), ("study_drug_action", False), ("action", True)],
    "outcome": [("aeout", False), ("outcome", False)],
}


class GoldError(ValueError):
    """The gold file is invalid; ``problems`` lists every ``FILE:LINE: problem``."""

    def __init__(self, problems: List[str]):
        self.problems = problems
        shown = "\n".join(problems[:50])
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in the gold file:\n{shown}{more}")


@dataclass
class GoldDocument:
    id: str
    genre: str
    text: str
    adverse_events: List[Dict[str, Any]]
    regimens: List[Dict[str, Any]]
    not_aes: List[str]
    components: List[Dict[str, Any]] = field(default_factory=list)
    acronyms: Dict[str, List[str]] = field(default_factory=dict)
    source: str = ""  # FILE:LINE of its gold line


# --------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------

def ctcae_grades(table: Dict[str, Any]) -> Dict[str, Set[int]]:
    """term -> the grades (1-5) the workbook defines for it, from a table of
    :func:`ct_safety_nlp.kb.read_ctcae_workbook`."""
    out: Dict[str, Set[int]] = {}
    for rec in table["terms"]:
        out[rec["term"]] = {int(g) for g, text in rec["grades"].items() if text}
    return out


def _check_span(where: str, text: str, item: Any, what: str, problems: List[str]) -> bool:
    if not isinstance(item, dict):
        problems.append(f"{where}: {what} is not an object")
        return False
    s, e, t = item.get("start_char"), item.get("end_char"), item.get("text")
    if not (isinstance(s, int) and isinstance(e, int) and isinstance(t, str)):
        problems.append(f"{where}: {what} needs int start_char/end_char and str text (got {s!r}, {e!r}, {t!r})")
        return False
    if not (0 <= s < e <= len(text)):
        problems.append(f"{where}: {what} {t!r}: offsets {s}-{e} outside the text (length {len(text)})")
        return False
    if text[s:e] != t:
        problems.append(f"{where}: {what} {t!r}: text[{s}:{e}] is {text[s:e]!r}")
        return False
    return True


def _check_ae(where: str, text: str, ae: Dict[str, Any], grades: Dict[str, Set[int]], problems: List[str]) -> None:
    if not _check_span(where, text, ae, "AE", problems):
        return
    label = f"AE {ae['text']!r}"
    missing = [k for k in AE_KEYS if k not in ae]
    if missing:
        problems.append(f"{where}: {label} lacks key(s) {missing}")
        return
    term = ae["ctcae_term"]
    if term not in grades:
        problems.append(f"{where}: {label}: ctcae_term {term!r} is not a CTCAE v5.0 term")
    grade = ae["grade"]
    if grade is not None:
        if not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 5:
            problems.append(f"{where}: {label}: grade must be an int 1-5 or null (got {grade!r})")
        elif term in grades and grade not in grades[term]:
            problems.append(f"{where}: {label}: CTCAE v5.0 defines no grade {grade} for {term!r} (defined: {sorted(grades[term])})")
    for key in ("serious", "negated", "historical"):
        if not isinstance(ae[key], bool):
            problems.append(f"{where}: {label}: {key} must be true/false (got {ae[key]!r})")
    crit = ae["seriousness_criteria"]
    if not isinstance(crit, list) or any(c not in CRITERIA for c in crit):
        problems.append(f"{where}: {label}: seriousness_criteria must be a list of {list(CRITERIA)} (got {crit!r})")
    elif crit and ae["serious"] is not True:
        problems.append(f"{where}: {label}: has seriousness criteria {crit} but serious is not true")
    if (ae["negated"] or ae["historical"]) and (ae["serious"] or grade is not None):
        problems.append(f"{where}: {label}: a negated or historical AE has no grade and is not serious")
    drugs = ae["suspect_drugs"]
    if not isinstance(drugs, list) or not all(isinstance(d, str) and d.strip() for d in drugs):
        problems.append(f"{where}: {label}: suspect_drugs must be a list of drug names (got {drugs!r})")
    for key, vocab in (("relatedness", RELATEDNESS), ("action", AEACN), ("outcome", AEOUT)):
        if ae[key] is not None and ae[key] not in vocab:
            problems.append(f"{where}: {label}: {key} {ae[key]!r} is not one of {list(vocab)} or null")
    others = ae.get("other_mentions", [])
    if not isinstance(others, list):
        problems.append(f"{where}: {label}: other_mentions must be a list")
    else:
        for m in others:
            _check_span(where, text, m, f"other mention of {label}", problems)


def _read_text(where: str, base: Path, item: Dict[str, Any], problems: List[str]) -> Optional[str]:
    if isinstance(item.get("text"), str):
        return item["text"]
    rel = item.get("path")
    if not isinstance(rel, str):
        problems.append(f"{where}: needs 'text' (str) or 'path' (a .txt beside the gold file)")
        return None
    path = base / rel
    try:
        return path.read_text(encoding="utf8")
    except (OSError, UnicodeDecodeError) as err:
        problems.append(f"{where}: cannot read {path} ({err})")
        return None


def validate_gold(path: Union[str, Path], ctcae_table: Dict[str, Any]) -> Tuple[List[GoldDocument], List[str]]:
    """Parse and check the gold file; returns (documents, problems). A line
    with problems is still returned when it could be parsed."""
    path = Path(path)
    grades = ctcae_grades(ctcae_table)
    docs: List[GoldDocument] = []
    problems: List[str] = []
    seen: Set[str] = set()
    try:
        lines = path.read_text(encoding="utf8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise GoldError([f"{path}: cannot read the gold file ({err})"]) from None
    for n, line in enumerate(lines, 1):
        where = f"{path}:{n}"
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{where}: not valid JSON ({err.msg})")
            continue
        if not isinstance(item, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        missing = [k for k in DOC_KEYS if k not in item]
        if missing:
            problems.append(f"{where}: lacks key(s) {missing}")
            continue
        doc_id = item["id"]
        if not isinstance(doc_id, str) or not doc_id:
            problems.append(f"{where}: id must be a non-empty string")
            continue
        if doc_id in seen:
            problems.append(f"{where}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        where = f"{where} ({doc_id})"
        text = _read_text(where, path.parent, item, problems)
        if text is None:
            continue
        aes = item["adverse_events"] if isinstance(item["adverse_events"], list) else []
        if not isinstance(item["adverse_events"], list):
            problems.append(f"{where}: adverse_events must be a list")
        for ae in aes:
            _check_ae(where, text, ae, grades, problems)
        terms = {ae.get("ctcae_term") for ae in aes if isinstance(ae, dict)}
        comps = item.get("components", [])
        for c in comps if isinstance(comps, list) else []:
            if _check_span(where, text, c, "component", problems) and c.get("of") not in terms:
                problems.append(f"{where}: component {c['text']!r}: 'of' {c.get('of')!r} names no AE of this document")
        for s in item["not_aes"]:
            if not isinstance(s, str) or not s or s not in text:
                problems.append(f"{where}: not_aes entry {s!r} does not occur in the text")
        for r in item["regimens"]:
            if not (isinstance(r, dict) and isinstance(r.get("drug"), str) and r["drug"].strip()
                    and isinstance(r.get("dose_text"), str)):
                problems.append(f"{where}: regimen {r!r} needs drug and dose_text strings")
            elif r["dose_text"] not in text:
                problems.append(f"{where}: regimen {r['drug']!r}: dose_text {r['dose_text']!r} does not occur in the text")
        acronyms = item.get("acronyms", {})
        if not (isinstance(acronyms, dict) and all(isinstance(v, list) and all(isinstance(d, str) for d in v)
                                                    for v in acronyms.values())):
            problems.append(f"{where}: acronyms must map a name to a list of drug names")
            acronyms = {}
        docs.append(
            GoldDocument(
                id=doc_id, genre=str(item["genre"]), text=text, adverse_events=aes, regimens=list(item["regimens"]),
                not_aes=list(item["not_aes"]), components=list(comps) if isinstance(comps, list) else [],
                acronyms=acronyms, source=f"{path}:{n}",
            )
        )
    if not docs and not problems:
        problems.append(f"{path}: no documents")
    return docs, problems


def load_gold(path: Union[str, Path], ctcae_table: Dict[str, Any]) -> List[GoldDocument]:
    """The validated gold documents; :class:`GoldError` lists every problem."""
    docs, problems = validate_gold(path, ctcae_table)
    if problems:
        raise GoldError(problems)
    return docs


def gold_summary(docs: Sequence[GoldDocument]) -> Dict[str, Any]:
    """Counts of the gold set (documents, genres, AEs by kind, regimens)."""
    genres: Dict[str, int] = {}
    for d in docs:
        genres[d.genre] = genres.get(d.genre, 0) + 1
    aes = [a for d in docs for a in d.adverse_events]
    return {
        "documents": len(docs),
        "genres": genres,
        "adverse_events": len(aes),
        "present": sum(1 for a in aes if not a["negated"] and not a["historical"]),
        "negated": sum(1 for a in aes if a["negated"]),
        "historical": sum(1 for a in aes if a["historical"]),
        "with_grade": sum(1 for a in aes if a["grade"] is not None),
        "with_suspect_drug": sum(1 for a in aes if a["suspect_drugs"] and not a["negated"] and not a["historical"]),
        "with_relatedness": sum(1 for a in aes if a["relatedness"] is not None),
        "with_action": sum(1 for a in aes if a["action"] is not None),
        "regimens": sum(len(d.regimens) for d in docs),
        "components": sum(len(d.components) for d in docs),
        "not_aes": sum(len(d.not_aes) for d in docs),
    }


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------

def _overlaps(a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _mentions(ae: Dict[str, Any]) -> List[Tuple[int, int]]:
    return [(ae["start_char"], ae["end_char"])] + [(m["start_char"], m["end_char"]) for m in ae.get("other_mentions", [])]


def _expand(names: Iterable[str], acronyms: Dict[str, List[str]]) -> Set[str]:
    table = {k.lower(): [d.lower() for d in v] for k, v in acronyms.items()}
    out: Set[str] = set()
    for name in names:
        key = str(name).strip().lower()
        if key:
            out.add(key)
            out.update(table.get(key, []))
    return out


def _drug_names(pred: Dict[str, Any]) -> List[str]:
    names = []
    for d in pred.get("drugs") or []:
        if isinstance(d, dict):
            d = d.get("drug") or d.get("name") or ""
        names.append(str(d))
    return names


_RATE = re.compile(r"/(?:day|d|dose|week|wk|h|hr|hour|min)$")


def normalize_dose(text: str) -> str:
    """Dose text for comparison: lower case, no spaces, m^2 / m² -> m2, no
    trailing per-time rate ("2 mg/kg/day" -> "2mg/kg")."""
    t = re.sub(r"\s+", "", str(text).lower()).replace("m^2", "m2").replace("m²", "m2")
    return _RATE.sub("", t)


def normalize_relatedness(value: Any) -> Optional[str]:
    """A predicted relatedness value in the gold vocabulary (or the raw string)."""
    if value is None:
        return None
    t = re.sub(r"[\s_]+", " ", str(value).strip().lower())
    if t in ("related", "probably related", "likely related", "probable", "definitely related", "definite", "y", "yes"):
        return "related"
    if t in ("possibly related", "possible", "possibly"):
        return "possibly related"
    if t in ("unlikely related", "unlikely", "doubtful"):
        return "unlikely related"
    if t in ("not related", "unrelated", "none", "n", "no"):
        return "not related"
    return t


def detect_fields(predictions: Sequence[Dict[str, Any]]) -> Dict[str, Optional[str]]:
    """Which prediction key to score for relatedness / action / outcome (None
    where no prediction carries a usable one); see :data:`FIELD_CANDIDATES`."""
    records = [p for doc in predictions for p in doc.get("adverse_events", [])]
    vocab = {"relatedness": set(RELATEDNESS), "action": set(AEACN), "outcome": set(AEOUT)}
    chosen: Dict[str, Optional[str]] = {}
    for name, candidates in FIELD_CANDIDATES.items():
        chosen[name] = None
        for key, needs_vocab in candidates:
            present = [r for r in records if key in r]
            if not present:
                continue
            if needs_vocab:
                values = {str(r[key]).upper() for r in present if r[key] is not None}
                if not values or not values <= {v.upper() for v in vocab[name]}:
                    continue
            chosen[name] = key
            break
    return chosen


def _field_value(name: str, pred: Dict[str, Any], key: str) -> Optional[str]:
    value = pred.get(key)
    if value is None:
        return None
    if name == "relatedness":
        return normalize_relatedness(value)
    return str(value).strip().upper()


class _Ratio:
    __slots__ = ("correct", "total")

    def __init__(self):
        self.correct = 0
        self.total = 0

    def add(self, ok: bool) -> None:
        self.total += 1
        self.correct += int(bool(ok))

    def to_dict(self) -> Dict[str, Any]:
        return {"correct": self.correct, "total": self.total,
                "accuracy": round(self.correct / self.total, 4) if self.total else None}


RATIO_FIELDS = ("grade", "serious", "criteria", "negated", "historical", "suspect_drug", "relatedness", "action", "outcome")
COUNT_FIELDS = (
    "gold_present", "found", "found_by_term", "found_by_offsets", "missed", "wrong_term", "false_positives",
    "not_ae_hits", "component_records", "duplicates", "ignored_negated", "predicted", "termless",
    "termless_not_negated", "negated_gold", "negated_found", "negated_flagged", "historical_gold",
    "spurious_drug_links", "gold_regimens", "regimens_found", "predicted_regimens",
)


def _assign(gold: List[Dict[str, Any]], preds: List[Dict[str, Any]]) -> Dict[int, Tuple[int, str]]:
    """gold index -> (prediction index, how): the one-to-one matching of the module docstring."""
    cands = []
    for i, g in enumerate(gold):
        spans = _mentions(g)
        for j, p in enumerate(preds):
            ps = (p["start_char"], p["end_char"])
            overlap = any(_overlaps(ps, m) for m in spans)
            if p.get("ctcae_term") == g["ctcae_term"]:
                tier, how = (0, "term") if overlap else (1, "term")
            elif p.get("ctcae_term") is None and overlap:
                tier, how = 2, "offsets"
            else:
                continue
            # prefer the record on the gold AE's own span, then the nearest one
            dist = 0 if _overlaps(ps, spans[0]) else 1 + min(abs(ps[0] - m[0]) for m in spans)
            cands.append((tier, dist, i, j, how))
    cands.sort()
    out: Dict[int, Tuple[int, str]] = {}
    used: Set[int] = set()
    for _tier, _dist, i, j, how in cands:
        if i in out or j in used:
            continue
        out[i] = (j, how)
        used.add(j)
    return out


def _occurrences(text: str, needle: str) -> List[Tuple[int, int]]:
    out, start = [], 0
    while needle:
        i = text.find(needle, start)
        if i < 0:
            break
        out.append((i, i + len(needle)))
        start = i + 1
    return out


def score_document(gold: GoldDocument, pred: Dict[str, Any], fields: Dict[str, Optional[str]]) -> Dict[str, Any]:
    """Scores of one document. ``pred``: ``{"adverse_events": [...], "regimens": [...]}``
    (the ``doc._.ct_adverse_events`` / ``doc._.ct_regimens`` contract)."""
    preds = [p for p in pred.get("adverse_events") or [] if isinstance(p, dict)]
    counts = {k: 0 for k in COUNT_FIELDS}
    ratios = {k: _Ratio() for k in RATIO_FIELDS}
    errors: List[Dict[str, Any]] = []
    gaes = gold.adverse_events
    match = _assign(gaes, preds)
    counts["predicted"] = len(preds)
    counts["termless"] = sum(1 for p in preds if p.get("ctcae_term") is None)
    counts["termless_not_negated"] = sum(1 for p in preds if p.get("ctcae_term") is None and not p.get("negated"))

    def err(ae, field, expected, got):
        errors.append({"ae": ae["text"], "start_char": ae["start_char"], "ctcae_term": ae["ctcae_term"],
                       "field": field, "expected": expected, "got": got})

    missed = []
    for i, g in enumerate(gaes):
        present = not g["negated"] and not g["historical"]
        m = match.get(i)
        p = preds[m[0]] if m else None
        if g["negated"]:
            counts["negated_gold"] += 1
            if p is not None:
                counts["negated_found"] += 1
                counts["negated_flagged"] += int(bool(p.get("negated")))
        if g["historical"]:
            counts["historical_gold"] += 1
        if present:
            counts["gold_present"] += 1
            if p is None:
                counts["missed"] += 1
                spans = _mentions(g)
                other = sorted({q.get("ctcae_term") for q in preds if q.get("ctcae_term") not in (None, g["ctcae_term"])
                                and any(_overlaps((q["start_char"], q["end_char"]), s) for s in spans)})
                if other:
                    counts["wrong_term"] += 1
                missed.append({"text": g["text"], "start_char": g["start_char"], "ctcae_term": g["ctcae_term"],
                               "overlapping_terms": other})
                continue
            counts["found"] += 1
            counts["found_by_term" if m[1] == "term" else "found_by_offsets"] += 1
        if p is None:
            continue
        if present and g["grade"] is not None:
            ratios["grade"].add(p.get("grade") == g["grade"])
            if p.get("grade") != g["grade"]:
                err(g, "grade", g["grade"], p.get("grade"))
        if present:
            ratios["serious"].add(bool(p.get("serious")) == g["serious"])
            if bool(p.get("serious")) != g["serious"]:
                err(g, "serious", g["serious"], bool(p.get("serious")))
            if not g["serious"] or g["seriousness_criteria"]:
                want, got = sorted(g["seriousness_criteria"]), sorted(p.get("seriousness_criteria") or [])
                ratios["criteria"].add(want == got)
                if want != got:
                    err(g, "criteria", want, got)
        ratios["negated"].add(bool(p.get("negated")) == g["negated"])
        if bool(p.get("negated")) != g["negated"]:
            err(g, "negated", g["negated"], bool(p.get("negated")))
        ratios["historical"].add(bool(p.get("historical")) == g["historical"])
        if bool(p.get("historical")) != g["historical"]:
            err(g, "historical", g["historical"], bool(p.get("historical")))
        if not present:
            continue
        got_drugs = _drug_names(p)
        if g["suspect_drugs"]:
            hit = bool(_expand(g["suspect_drugs"], gold.acronyms) & _expand(got_drugs, gold.acronyms))
            ratios["suspect_drug"].add(hit)
            if not hit:
                err(g, "suspect_drug", g["suspect_drugs"], got_drugs)
        elif got_drugs:
            counts["spurious_drug_links"] += 1
            err(g, "spurious_drug_link", [], got_drugs)
        for name in ("relatedness", "action", "outcome"):
            key = fields.get(name)
            if key is None or g[name] is None:
                continue
            got = _field_value(name, p, key)
            ratios[name].add(got == g[name])
            if got != g[name]:
                err(g, name, g[name], got)

    # leftover predictions
    used = {j for j, _how in match.values()}
    gold_terms = {g["ctcae_term"] for g in gaes}
    gold_spans = [(s, g) for g in gaes for s in _mentions(g)]
    comp_spans = [(c["start_char"], c["end_char"]) for c in gold.components]
    not_ae_spans = [occ for s in gold.not_aes for occ in _occurrences(gold.text, s)]
    false_positives, components, duplicates = [], [], []
    for j, p in enumerate(preds):
        if j in used:
            continue
        ps = (p["start_char"], p["end_char"])
        term = p.get("ctcae_term")
        on_gold = [g for s, g in gold_spans if _overlaps(ps, s)]
        rec = {"text": p.get("text"), "start_char": ps[0], "ctcae_term": term, "grade": p.get("grade"),
               "negated": bool(p.get("negated"))}
        if term in gold_terms or (term is None and on_gold):
            counts["duplicates"] += 1
            duplicates.append(rec)
        elif p.get("negated"):
            counts["ignored_negated"] += 1
        elif any(_overlaps(ps, s) for s in comp_spans):
            counts["component_records"] += 1
            components.append(rec)
        else:
            counts["false_positives"] += 1
            if on_gold:
                rec["over_gold_term"] = sorted({g["ctcae_term"] for g in on_gold})
            if any(_overlaps(ps, s) for s in not_ae_spans):
                counts["not_ae_hits"] += 1
                rec["not_ae"] = True
            false_positives.append(rec)

    # regimens
    counts["gold_regimens"] = len(gold.regimens)
    pregs = [r for r in pred.get("regimens") or [] if isinstance(r, dict)]
    counts["predicted_regimens"] = len(pregs)
    taken: Set[int] = set()
    regimens_missed = []
    for r in gold.regimens:
        want_drugs, want_dose = _expand([r["drug"]], gold.acronyms), normalize_dose(r["dose_text"])
        hit = None
        for k, q in enumerate(pregs):
            if k in taken or normalize_dose(q.get("dose_text") or "") != want_dose:
                continue
            if _expand([q.get("drug") or ""], gold.acronyms) & want_drugs:
                hit = k
                break
        if hit is None:
            regimens_missed.append(r)
        else:
            taken.add(hit)
            counts["regimens_found"] += 1

    return {
        "id": gold.id,
        "genre": gold.genre,
        "counts": counts,
        "ratios": {k: v.to_dict() for k, v in ratios.items()},
        "missed": missed,
        "false_positives": false_positives,
        "component_records": components,
        "duplicates": duplicates,
        "errors": errors,
        "regimens_missed": regimens_missed,
    }


def _sum(results: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    counts = {k: sum(r["counts"][k] for r in results) for k in COUNT_FIELDS}
    ratios = {}
    for k in RATIO_FIELDS:
        c = sum(r["ratios"][k]["correct"] for r in results)
        t = sum(r["ratios"][k]["total"] for r in results)
        ratios[k] = {"correct": c, "total": t, "accuracy": round(c / t, 4) if t else None}
    return {"documents": len(results), "counts": counts, "ratios": ratios}


def score(golds: Sequence[GoldDocument], predictions: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Score predictions (one ``{"adverse_events", "regimens"}`` dict per gold
    document, in order) against the gold: overall, per genre, per document."""
    if len(golds) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold documents")
    fields = detect_fields(predictions)
    per_doc = [score_document(g, p, fields) for g, p in zip(golds, predictions)]
    genres: Dict[str, List[Dict[str, Any]]] = {}
    for r in per_doc:
        genres.setdefault(r["genre"], []).append(r)
    return {
        "fields": {k: (v if v is not None else "n/a") for k, v in fields.items()},
        "overall": _sum(per_doc),
        "per_genre": {g: _sum(rs) for g, rs in sorted(genres.items())},
        "per_document": per_doc,
    }


def predictions_of(doc) -> Dict[str, Any]:
    """The plain-data prediction of one processed Doc."""
    return {"adverse_events": list(doc._.ct_adverse_events or []), "regimens": list(doc._.ct_regimens or [])}


def run_pipeline(nlp, golds: Sequence[GoldDocument], *, batch_size: int = 8, progress=None) -> List[Dict[str, Any]]:
    """Predictions of ``nlp`` over the gold documents (``nlp.pipe``);
    ``progress(done, total)`` is called after each document when given."""
    out = []
    for n, doc in enumerate(nlp.pipe((g.text for g in golds), batch_size=batch_size), 1):
        out.append(predictions_of(doc))
        if progress is not None:
            progress(n, len(golds))
    return out


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def _ratio(r: Dict[str, Any], na: bool = False) -> str:
    if na:
        return "n/a"
    if not r["total"]:
        return "-"
    return f"{r['correct']}/{r['total']} ({r['correct'] / r['total']:.0%})"


def _frac(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.0%})" if b else "-"


def to_markdown(report: Dict[str, Any]) -> str:
    """The Markdown tables of a report (one row per configuration; then
    secondary counts, per genre and per document)."""
    g = report["gold_summary"]
    scored = [c for c in report["configurations"] if c.get("status") == "scored"]
    lines = [
        "# Whole trial documents: adverse-event extraction",
        "",
        f"Gold: `{report['gold']}`: {g['documents']} documents of {len(g['genres'])} genres; "
        f"{g['present']} present AEs ({g['with_grade']} graded, {g['with_suspect_drug']} with a suspect drug, "
        f"{g['with_relatedness']} with relatedness, {g['with_action']} with an action), {g['negated']} negated "
        f"and {g['historical']} historical findings, {g['regimens']} regimens, {g['not_aes']} not-AE strings.",
        "",
        "| configuration | AEs found | false positives | term-less records | grade | serious | negated | suspect drug | relatedness | action | regimens |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in scored:
        o, r, f = c["overall"]["counts"], c["overall"]["ratios"], c["fields"]
        lines.append(
            f"| {c['name']} | {_frac(o['found'], o['gold_present'])} | {o['false_positives']} | {o['termless']} | "
            f"{_ratio(r['grade'])} | {_ratio(r['serious'])} | {_ratio(r['negated'])} | {_ratio(r['suspect_drug'])} | "
            f"{_ratio(r['relatedness'], f['relatedness'] == 'n/a')} | {_ratio(r['action'], f['action'] == 'n/a')} | "
            f"{_frac(o['regimens_found'], o['gold_regimens'])} |"
        )
    for c in report["configurations"]:
        if c.get("status") != "scored":
            lines.append(f"| {c['name']} | {c.get('status')}: {c.get('reason', '')} | | | | | | | | | |")
    lines += [
        "",
        "AEs found: present gold AEs matched by CTCAE term within the document, or by overlapping offsets for a "
        "record with no term. Field accuracies are over matched AEs. False positives: non-negated records matching "
        "no gold AE (component and duplicate records excluded, below). 'n/a': the predictions carry no such field.",
        "",
        "| configuration | found by term | by offsets only | missed with another term | not-AE hits | component records | duplicates | term-less, not negated | criteria | historical | negated findings flagged | drug links where gold has none | outcome | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in scored:
        o, r, f = c["overall"]["counts"], c["overall"]["ratios"], c["fields"]
        lines.append(
            f"| {c['name']} | {o['found_by_term']} | {o['found_by_offsets']} | {o['wrong_term']} | {o['not_ae_hits']} | "
            f"{o['component_records']} | {o['duplicates']} | {o['termless_not_negated']} | {_ratio(r['criteria'])} | "
            f"{_ratio(r['historical'])} | {_frac(o['negated_flagged'], o['negated_gold'])} | {o['spurious_drug_links']} | "
            f"{_ratio(r['outcome'], f['outcome'] == 'n/a')} | {c.get('seconds', '')} |"
        )
    if scored:
        head = "| genre | docs | AEs |" + "".join(f" {c['name']} found | {c['name']} FP |" for c in scored)
        lines += ["", "## Per genre", "", head, "|---|---:|---:|" + "---:|---:|" * len(scored)]
        for genre in sorted(scored[0]["per_genre"]):
            first = scored[0]["per_genre"][genre]
            row = f"| {genre} | {first['documents']} | {first['counts']['gold_present']} |"
            for c in scored:
                o = c["per_genre"][genre]["counts"]
                row += f" {o['found']} | {o['false_positives']} |"
            lines.append(row)
    for c in scored:
        lines += [
            "",
            f"## Per document: {c['name']}",
            "",
            "| document | AEs found | false positives | term-less | grade | suspect drug | missed |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for d in c["per_document"]:
            o, r = d["counts"], d["ratios"]
            missed = ", ".join(m["ctcae_term"] for m in d["missed"]) or ""
            lines.append(
                f"| {d['id']} | {o['found']}/{o['gold_present']} | {o['false_positives']} | {o['termless']} | "
                f"{_ratio(r['grade'])} | {_ratio(r['suspect_drug'])} | {missed} |"
            )
    return "\n".join(lines) + "\n"
