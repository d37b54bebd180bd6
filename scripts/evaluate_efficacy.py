"""Score ct_efficacy on a hand-written evaluation set (assets/eval/efficacy_eval.jsonl;
format in assets/eval/efficacy_eval.md).

An expected assessment is matched to an unmatched predicted one of the same
``basis`` whose span overlaps the first occurrence of its ``text`` (the one
with the largest overlap). Every other key of the expected assessment is a
field to score: percentages within 0.1, mm within 0.01, timepoints
case-insensitively, measurements as "each expected one is among the
predicted". A missing prediction counts as wrong on every field. Predicted
assessments matching no expected one are "unexpected" (they lower precision).

    python scripts/evaluate_efficacy.py [PIPELINE] --eval-path assets/eval/efficacy_eval.jsonl \
        --output metrics/efficacy_eval.json --markdown metrics/efficacy_eval.md

PIPELINE: a path or package name; empty (default) = spacy.blank("en") +
ct_efficacy initialised with the shipped rule table (or --rules FILE).
Exit code 0; 1 when the evaluation file is malformed.
"""

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import typer

FIELDS = (
    "response", "target_response", "non_target_response", "new_lesions", "sum_mm", "baseline_sum_mm", "nadir_sum_mm",
    "percent_change_from_baseline", "percent_change_from_nadir", "negated", "speculated", "historical", "timepoint",
    "measurements",
)
PCT_FIELDS = ("percent_change_from_baseline", "percent_change_from_nadir")
MM_FIELDS = ("sum_mm", "baseline_sum_mm", "nadir_sum_mm")


def load_eval(path: Path) -> List[Dict[str, Any]]:
    items = []
    with path.open(encoding="utf8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not valid JSON ({err.msg})") from None
            if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not isinstance(item.get("ct_responses"), list):
                raise ValueError(f"{path}:{n}: expected an object with 'text' (str) and 'ct_responses' (list)")
            for r in item["ct_responses"]:
                if not isinstance(r, dict) or r.get("text") not in item["text"]:
                    raise ValueError(f"{path}:{n}: expected assessment text {r.get('text')!r} is not in the item's text")
                if r.get("basis") not in ("stated", "measured", "new_lesion", "non_target"):
                    raise ValueError(f"{path}:{n}: expected assessment {r.get('text')!r} has no valid 'basis'")
                unknown = set(r) - set(FIELDS) - {"text", "basis"}
                if unknown:
                    raise ValueError(f"{path}:{n}: unknown field(s) {sorted(unknown)} in expected assessment {r['text']!r}")
            item["_line"] = n
            items.append(item)
    return items


def build_default_pipeline(rules: Optional[Path] = None):
    import spacy
    from spacy import registry

    import ct_safety_nlp.efficacy.rules  # noqa: F401  (registers ct.read_efficacy_rules.v1)

    nlp = spacy.blank("en")
    nlp.add_pipe("ct_efficacy")
    table = registry.misc.get("ct.read_efficacy_rules.v1")(str(rules) if rules else None)
    nlp.get_pipe("ct_efficacy").initialize(lambda: [], nlp=nlp, rules=table)
    return nlp


def _same(field: str, expected, predicted) -> bool:
    if field in PCT_FIELDS or field in MM_FIELDS:
        if expected is None or predicted is None:
            return expected is None and predicted is None
        return abs(float(expected) - float(predicted)) <= (0.1 if field in PCT_FIELDS else 0.01) + 1e-9
    if field == "timepoint":
        norm = lambda s: None if s is None else " ".join(str(s).lower().split())  # noqa: E731
        return norm(expected) == norm(predicted)
    if field == "measurements":
        return all(any(_measurement_matches(e, p) for p in predicted or []) for e in expected)
    return expected == predicted


def _measurement_matches(expected: Dict[str, Any], predicted: Dict[str, Any]) -> bool:
    for key, value in expected.items():
        got = predicted.get(key)
        if key in ("mm", "value", "long_axis_mm", "short_axis_mm"):
            if value is None or got is None:
                if value is not None or got is not None:
                    return False
            elif abs(float(value) - float(got)) > 0.01:
                return False
        elif key == "unit":
            if str(value).lower() != str(got).lower():
                return False
        elif value != got:
            return False
    return True


def _match(item: Dict[str, Any], predicted: List[Dict[str, Any]]) -> List[Tuple[Dict[str, Any], Optional[Dict[str, Any]]]]:
    used = set()
    pairs = []
    for exp in item["ct_responses"]:
        a = item["text"].index(exp["text"])
        b = a + len(exp["text"])
        best, best_overlap = None, 0
        for i, p in enumerate(predicted):
            if i in used or p["basis"] != exp["basis"]:
                continue
            overlap = min(b, p["end_char"]) - max(a, p["start_char"])
            if overlap > best_overlap:
                best, best_overlap = i, overlap
        if best is not None:
            used.add(best)
            pairs.append((exp, predicted[best]))
        else:
            pairs.append((exp, None))
    return pairs, [p for i, p in enumerate(predicted) if i not in used]


def score(items: List[Dict[str, Any]], nlp) -> Dict[str, Any]:
    field_counts = {f: [0, 0] for f in FIELDS}
    matched = n_expected = n_predicted = exact = 0
    errors, unexpected_all = [], []
    t0 = time.perf_counter()
    docs = list(nlp.pipe([it["text"] for it in items]))
    seconds = time.perf_counter() - t0
    for item, doc in zip(items, docs):
        predicted = doc._.ct_responses or []
        n_predicted += len(predicted)
        n_expected += len(item["ct_responses"])
        pairs, unexpected = _match(item, predicted)
        item_ok = not unexpected
        for exp, pred in pairs:
            if pred is not None:
                matched += 1
            for field in FIELDS:
                if field not in exp:
                    continue
                field_counts[field][1] += 1
                ok = pred is not None and _same(field, exp[field], pred.get(field))
                field_counts[field][0] += int(ok)
                if not ok:
                    item_ok = False
                    errors.append({
                        "id": item["id"], "expected_text": exp["text"], "basis": exp["basis"], "field": field,
                        "expected": exp[field], "predicted": None if pred is None else pred.get(field),
                        "matched": pred is not None,
                    })
            if pred is None:
                item_ok = False
        for p in unexpected:
            unexpected_all.append({"id": item["id"], "text": p["text"], "basis": p["basis"], "response": p["response"]})
        exact += int(item_ok)
    precision = matched / n_predicted if n_predicted else 0.0
    recall = matched / n_expected if n_expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n_items": len(items), "n_expected": n_expected, "n_predicted": n_predicted, "matched": matched,
        "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
        "response_accuracy": round(field_counts["response"][0] / field_counts["response"][1], 4) if field_counts["response"][1] else None,
        "fields": {f: {"correct": c, "total": t, "accuracy": round(c / t, 4) if t else None} for f, (c, t) in field_counts.items()},
        "items_exact": exact, "items_exact_share": round(exact / len(items), 4) if items else None,
        "seconds": round(seconds, 3), "errors": errors, "unexpected": unexpected_all,
    }


def markdown(result: Dict[str, Any], eval_path: str) -> str:
    lines = [
        f"# ct_efficacy on `{eval_path}`",
        "",
        f"{result['n_items']} items, {result['n_expected']} expected assessments, {result['n_predicted']} predicted.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| assessments found (recall) | {result['recall']:.3f} ({result['matched']}/{result['n_expected']}) |",
        f"| predictions that are expected (precision) | {result['precision']:.3f} ({result['matched']}/{result['n_predicted']}) |",
        f"| F1 | {result['f1']:.3f} |",
        f"| `response` accuracy (over expected assessments) | {result['response_accuracy']:.3f} |",
        f"| items entirely right | {result['items_exact']}/{result['n_items']} |",
        "",
        "| field | correct / scored | accuracy |",
        "|---|---|---|",
    ]
    for f, c in result["fields"].items():
        if c["total"]:
            lines.append(f"| `{f}` | {c['correct']}/{c['total']} | {c['accuracy']:.3f} |")
    lines += ["", f"Errors: {len(result['errors'])} field values, {len(result['unexpected'])} unexpected assessments "
              f"(listed in the JSON file)."]
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(
    pipeline: str = typer.Argument("", help="pipeline path or package; empty: blank en + ct_efficacy with the shipped rules"),
    eval_path: Path = typer.Option(Path("assets/eval/efficacy_eval.jsonl"), help="evaluation set (JSON lines)"),
    output: Path = typer.Option(Path("metrics/efficacy_eval.json"), help="JSON results"),
    markdown_path: Path = typer.Option(Path("metrics/efficacy_eval.md"), "--markdown", help="Markdown summary"),
    rules: Optional[Path] = typer.Option(None, help="efficacy rule table for the default pipeline (default: the shipped one)"),
):
    try:
        items = load_eval(eval_path)
    except (OSError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1)
    if pipeline:
        import spacy

        nlp = spacy.load(pipeline)
    else:
        nlp = build_default_pipeline(rules)
    result = score(items, nlp)
    result = {"eval_path": str(eval_path), "pipeline": pipeline or "blank en + ct_efficacy (shipped rules)", **result}
    _atomic_write(output, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    _atomic_write(markdown_path, markdown(result, str(eval_path)))
    typer.echo(
        f"{eval_path}: {result['n_items']} items; assessments P {result['precision']:.3f} R {result['recall']:.3f} "
        f"F1 {result['f1']:.3f}; response accuracy {result['response_accuracy']:.3f}; "
        f"items entirely right {result['items_exact']}/{result['n_items']} -> {output}, {markdown_path}"
    )


if __name__ == "__main__":
    typer.run(main)
