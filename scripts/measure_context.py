"""Measure ct_safety_nlp.context on PHEE's Negated / Speculated annotations.

Unit: one PHEE event with an Effect span (the AE). Gold: the event carries a
``Negated`` / ``Speculated`` attribute (with its cue). Prediction: the context
rules applied to the Effect span in its sentence. Writes precision, recall and
F1 per attribute, for each split given.

    python scripts/measure_context.py assets/phee/dev.json --output metrics/context_phee.json
"""

import json
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import typer


def phee_events(path: Path) -> Iterator[Tuple[str, int, int, bool, bool]]:
    with path.open(encoding="utf8") as f:
        for n, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not a PHEE JSON line ({err.msg})") from None
            for ann in record["annotations"]:
                for event in ann["events"]:
                    if "Effect" not in event:
                        continue
                    starts = [s for frag in event["Effect"]["start"] for s in frag]
                    texts = [t for frag in event["Effect"]["text"] for t in frag]
                    start = min(starts)
                    end = max(s + len(t) for s, t in zip(starts, texts))
                    yield record["context"], start, end, "Negated" in event, "Speculated" in event


def measure(path: Path, max_scope_words: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    from ct_safety_nlp.context import ContextMatcher

    matcher = ContextMatcher() if max_scope_words is None else ContextMatcher(max_scope_words=max_scope_words)
    counts = {"negated": [0, 0, 0], "speculated": [0, 0, 0]}
    events = 0
    for text, start, end, neg, spec in phee_events(path):
        events += 1
        result = matcher.assess(text, start, end)
        for key, gold, pred in (("negated", neg, result.negated), ("speculated", spec, result.speculated)):
            if gold and pred:
                counts[key][0] += 1
            elif pred:
                counts[key][1] += 1
            elif gold:
                counts[key][2] += 1
    out: Dict[str, Dict[str, float]] = {"events": {"n": events}}
    for key, (tp, fp, fn) in counts.items():
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        out[key] = {"gold": tp + fn, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
    return out


def main(
    paths: List[Path] = typer.Argument(..., exists=True, dir_okay=False, help="PHEE JSON-lines files"),
    output: Path = typer.Option(Path("metrics/context_phee.json"), "--output"),
) -> None:
    """Precision / recall of the negation and speculation rules per PHEE event."""
    result = {p.name: measure(p) for p in paths}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
    for name, scores in result.items():
        for key in ("negated", "speculated"):
            s = scores[key]
            typer.echo(f"{name} {key}: P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f} (gold {s['gold']}, tp {s['tp']}, fp {s['fp']}, fn {s['fn']})")


if __name__ == "__main__":
    typer.run(main)
