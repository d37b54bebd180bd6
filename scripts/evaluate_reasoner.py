"""Score ct_reasoner on the hand-written evaluation set (assets/eval/reasoner_eval.jsonl).

Each line: {"id", "text", "aes": [{"text", "term", "grade", "serious", "criteria",
"negated", "speculated", "historical"}]}. An expected AE is matched to the
predicted AE whose character span overlaps the first occurrence of its "text"
in the sentence (the one with the expected term when several overlap). A
missing prediction counts as wrong on every field. Accuracy per field is over
all expected AEs; predicted AEs that overlap no expected AE are false
positives: listed as "unexpected", counted ("false_positives") and in the
mention precision (found / (found + false positives)); they are not in the
per-field accuracies.

    python scripts/evaluate_reasoner.py [PIPELINE] --output metrics/reasoner_eval.json --markdown metrics/reasoner_eval.md

PIPELINE: a path or package name; empty (default) = spacy.blank("en") +
ct_reasoner initialised from the project's assets.

CTCAE v6.0 (assets/eval/reasoner_eval_v6.jsonl, written from the v6.0 workbook):

    python scripts/evaluate_reasoner.py --ctcae-version 6.0 --ctcae-v6 assets/ctcae/CTCAE_v6.0.xlsx --no-protocol \
        --eval-path assets/eval/reasoner_eval_v6.jsonl --output metrics/reasoner_eval_v6.json --markdown metrics/reasoner_eval_v6.md

(--no-protocol: the project's protocol names v5.0 terms.) With a PIPELINE the
version is set with spacy.load's config override.
"""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

FIELDS = ("term", "grade", "serious", "criteria", "negated", "speculated", "historical")
REQUIRED = ("term", "grade", "serious", "negated")


def build_default_pipeline(ctcae: Path, synonyms: Path, protocol: Optional[Path], ctcae_v6: Optional[Path] = None, ctcae_version: str = "5.0"):
    """blank en + ct_reasoner from the table files (:func:`ct_safety_nlp.evaluation.pipelines.rules_pipeline`)."""
    from ct_safety_nlp.evaluation.pipelines import rules_pipeline

    return rules_pipeline(ctcae, synonyms, protocol, ctcae_v6=ctcae_v6, ctcae_version=ctcae_version)


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
            for ae in item.get("aes", []):
                if ae["text"] not in item["text"]:
                    raise ValueError(f"{path}:{n}: expected AE text {ae['text']!r} is not in the sentence")
            items.append(item)
    return items


def _pick(expected: Dict[str, Any], text: str, predicted: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    start = text.index(expected["text"])
    end = start + len(expected["text"])
    overlapping = [p for p in predicted if p["start_char"] < end and start < p["end_char"]]
    if not overlapping:
        return None
    same_term = [p for p in overlapping if p["ctcae_term"] == expected["term"]]
    return (same_term or overlapping)[0]


def _value(field: str, ae: Dict[str, Any], predicted: bool):
    if field == "term":
        return ae["ctcae_term"] if predicted else ae["term"]
    if field == "criteria":
        return sorted(ae["seriousness_criteria"] if predicted else ae["criteria"])
    return ae.get(field)


def score(nlp, items: List[Dict[str, Any]]) -> Dict[str, Any]:
    correct = {f: 0 for f in FIELDS}
    total, found = 0, 0
    errors, unexpected = [], []
    docs = nlp.pipe([item["text"] for item in items])
    for item, doc in zip(items, docs):
        predicted = doc._.ct_adverse_events
        used = set()
        for exp in item["aes"]:
            total += 1
            pred = _pick(exp, item["text"], predicted)
            if pred is not None:
                found += 1
                used.add(id(pred))
            for f in FIELDS:
                want = _value(f, exp, False)
                got = _value(f, pred, True) if pred is not None else "<no AE found>"
                if got == want:
                    correct[f] += 1
                else:
                    errors.append({"id": item["id"], "text": item["text"], "ae": exp["text"], "field": f, "expected": want, "got": got})
        for p in predicted:
            if id(p) not in used and not any(
                p["start_char"] < item["text"].index(e["text"]) + len(e["text"]) and item["text"].index(e["text"]) < p["end_char"]
                for e in item["aes"]
            ):
                unexpected.append({"id": item["id"], "text": p["text"], "ctcae_term": p["ctcae_term"], "grade": p["grade"], "negated": p["negated"]})
    accuracy = {f: correct[f] / total if total else 0.0 for f in FIELDS}
    return {
        "sentences": len(items),
        "expected_aes": total,
        "found": found,
        "mention_recall": found / total if total else 0.0,
        "accuracy": accuracy,
        "correct": correct,
        "target": 0.95,
        "meets_target": {f: accuracy[f] >= 0.95 for f in REQUIRED},
        "unexpected_predictions": len(unexpected),
        "false_positives": len(unexpected),
        "mention_precision": found / (found + len(unexpected)) if found + len(unexpected) else 0.0,
        "errors": errors,
        "unexpected": unexpected,
    }


def to_markdown(result: Dict[str, Any], pipeline: str) -> str:
    version = result.get("ctcae_version", "5.0")
    lines = [
        "# ct_reasoner on the hand-written evaluation set" + (f" (CTCAE v{version})" if version != "5.0" else ""),
        "",
        f"Pipeline: `{pipeline}`; {result['sentences']} sentences, {result['expected_aes']} expected AEs; "
        f"mentions found {result['found']}/{result['expected_aes']} ({result['mention_recall']:.1%}); "
        f"{result['false_positives']} false positives (predicted AEs that overlap no expected AE; "
        f"mention precision {result['mention_precision']:.1%}).",
        "",
        "| field | correct | accuracy | target 95% |",
        "|---|---:|---:|---|",
    ]
    for f in FIELDS:
        target = ("met" if result["accuracy"][f] >= 0.95 else "NOT met") if f in REQUIRED else "(reported)"
        lines.append(f"| {f} | {result['correct'][f]}/{result['expected_aes']} | {result['accuracy'][f]:.1%} | {target} |")
    if result["errors"]:
        lines += ["", "## Errors", "", "| id | AE | field | expected | got |", "|---|---|---|---|---|"]
        for e in result["errors"]:
            lines.append(f"| {e['id']} | {e['ae']} | {e['field']} | {e['expected']} | {e['got']} |")
    return "\n".join(lines) + "\n"


def main(
    pipeline: str = typer.Argument("", help="pipeline path or package; empty: blank en + ct_reasoner from the assets"),
    eval_path: Path = typer.Option(Path("assets/eval/reasoner_eval.jsonl"), "--eval-path", exists=True, dir_okay=False),
    ctcae: Path = typer.Option(Path("assets/ctcae/CTCAE_v5.0.xlsx"), "--ctcae"),
    synonyms: Path = typer.Option(Path("assets/ctcae_synonyms.json"), "--synonyms"),
    protocol: Optional[Path] = typer.Option(Path("assets/protocol_rules.yml"), "--protocol"),
    output: Path = typer.Option(Path("metrics/reasoner_eval.json"), "--output"),
    markdown: Path = typer.Option(Path("metrics/reasoner_eval.md"), "--markdown"),
    ctcae_version: str = typer.Option("5.0", "--ctcae-version", help="CTCAE version the reasoner grades with: 5.0 or 6.0"),
    ctcae_v6: Optional[Path] = typer.Option(None, "--ctcae-v6", help="the CTCAE v6.0 workbook (needed for --ctcae-version 6.0 without PIPELINE)"),
    no_protocol: bool = typer.Option(False, "--no-protocol", help="initialise without protocol rules"),
) -> None:
    """Run the reasoner over the evaluation set; write JSON and Markdown metrics."""
    import spacy

    if pipeline:
        nlp = spacy.load(pipeline, config={"components": {"ct_reasoner": {"ctcae_version": ctcae_version}}})
        if "ct_reasoner" not in nlp.pipe_names:
            raise typer.BadParameter(f"pipeline {pipeline!r} has no ct_reasoner component (pipes: {nlp.pipe_names})")
    else:
        nlp = build_default_pipeline(ctcae, synonyms, None if no_protocol else protocol, ctcae_v6, ctcae_version)
    result = score(nlp, load_eval(eval_path))
    result["pipeline"] = pipeline or "blank:en + ct_reasoner"
    if ctcae_version != "5.0":  # (v5 metrics files keep their keys)
        result["ctcae_version"] = ctcae_version
    output.parent.mkdir(parents=True, exist_ok=True)
    markdown.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf8")
    markdown.write_text(to_markdown(result, result["pipeline"]), encoding="utf8")
    for f in FIELDS:
        typer.echo(f"{f:12s} {result['accuracy'][f]:.1%}")
    typer.echo(
        f"mention recall {result['mention_recall']:.1%}; false positives {result['false_positives']} "
        f"(mention precision {result['mention_precision']:.1%})"
    )


if __name__ == "__main__":
    typer.run(main)
