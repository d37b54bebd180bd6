"""Convert PHEE v2 JSON lines into spaCy DocBins under the pipeline's label contract.

    python scripts/convert.py assets/phee/train.json assets/phee/dev.json corpus/

writes ``train.spacy``, ``dev.spacy`` (model selection) and ``test.spacy`` (a
fixed, seeded held-out part of PHEE's dev split, grouped by PubMed id so no
abstract is split between the two), plus ``convert_report.json`` with the
alignment and overlap counts.

Label contract (README, "Labels"):

* ``doc.ents`` (flat): DRUG, DOSE, ROUTE, FREQUENCY, DURATION, ADVERSE_EVENT.
* ``doc.spans["sc"]`` (may nest/overlap): the six above plus TREATMENT,
  SUBJECT, AGE, GENDER, TIME_ELAPSED, SEVERITY. (INDICATION and SPECULATION
  were tried and dropped: see the README, "What limits the scores".)
* ``doc.spans["span_candidates"]``: the unlabeled boundaries of every sc span,
  the training signal of the ``span_finder`` that suggests spans to spancat.

Each fragment of a discontinuous mention becomes its own span.
"""

import json
import random
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Tuple

import spacy
import typer
from spacy.tokens import Doc, DocBin, Span
from spacy.util import filter_spans

from ct_safety_nlp.kb import file_sha256 as sha256

ENT_LABELS = ("DRUG", "DOSE", "ROUTE", "FREQUENCY", "DURATION", "ADVERSE_EVENT")
# (path inside an event, label). "Treatment.Combination.Drug" covers every
# drug of a combination therapy.
ENT_PATHS: Tuple[Tuple[str, str], ...] = (
    ("Treatment.Drug", "DRUG"),
    ("Treatment.Combination.Drug", "DRUG"),
    ("Treatment.Dosage", "DOSE"),
    ("Treatment.Route", "ROUTE"),
    ("Treatment.Freq", "FREQUENCY"),
    ("Treatment.Duration", "DURATION"),
)
EXTRA_SPAN_PATHS: Tuple[Tuple[str, str], ...] = (
    ("Treatment", "TREATMENT"),
    ("Subject", "SUBJECT"),
    ("Subject.Age", "AGE"),
    ("Subject.Gender", "GENDER"),
    ("Treatment.Time_elapsed", "TIME_ELAPSED"),
    ("Severity", "SEVERITY"),
)
SPAN_LABELS = ENT_LABELS + tuple(label for _, label in EXTRA_SPAN_PATHS)
SPANS_KEY = "sc"
CANDIDATES_KEY = "span_candidates"
# Entities that overlap are resolved longest-first; on equal length, this order wins.
ENT_PRIORITY = {label: i for i, label in enumerate(("ADVERSE_EVENT", "DRUG", "DOSE", "ROUTE", "FREQUENCY", "DURATION"))}

app = typer.Typer(add_completion=False)


class PheeFormatError(ValueError):
    pass


def read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as err:
                raise PheeFormatError(f"{path}:{line_no}: not valid JSON ({err.msg})") from err


def _walk(obj: dict, path: str) -> List[dict]:
    """Argument objects at a dotted path inside one event; lists fan out."""
    nodes = [obj]
    for key in path.split("."):
        nxt = []
        for node in nodes:
            value = node.get(key) if isinstance(node, dict) else None
            if value is None:
                continue
            nxt.extend(value if isinstance(value, list) else [value])
        nodes = nxt
    return nodes


def fragments(arg: dict) -> Iterator[Tuple[int, int, str]]:
    """(start_char, end_char, text) of each fragment of each mention of an argument."""
    for texts, starts in zip(arg.get("text", []), arg.get("start", [])):
        for text, start in zip(texts, starts):
            yield start, start + len(text), text


def label_fragments(record: dict) -> Iterator[Tuple[int, int, str, str]]:
    """(start, end, text, label) for every labelled fragment of a record."""
    for annotation in record.get("annotations", []):
        for event in annotation.get("events", []):
            for path, label in ENT_PATHS + EXTRA_SPAN_PATHS:
                for arg in _walk(event, path):
                    for start, end, text in fragments(arg):
                        yield start, end, text, label
            if event.get("event_type") == "Adverse_event":
                for arg in _walk(event, "Effect"):
                    for start, end, text in fragments(arg):
                        yield start, end, text, "ADVERSE_EVENT"


def make_doc(nlp, record: dict, stats: Counter) -> Doc:
    text = record["context"]
    doc = nlp.make_doc(text)
    spans: Dict[Tuple[int, int, str], Span] = {}
    for start, end, frag_text, label in label_fragments(record):
        stats["fragments"] += 1
        if text[start:end] != frag_text:
            stats["offset_mismatch"] += 1
            continue
        span = doc.char_span(start, end, label=label, alignment_mode="strict")
        if span is None:
            stats["misaligned_strict"] += 1
            # Annotation boundaries inside a token (e.g. "injection sit" for
            # "site"): snap outwards to whole tokens rather than lose the span.
            span = doc.char_span(start, end, label=label, alignment_mode="expand")
            if span is None or len(span) == 0:
                stats["misaligned_dropped"] += 1
                continue
            stats["misaligned_expanded"] += 1
        spans[(span.start, span.end, label)] = span
    sc = sorted(spans.values(), key=lambda s: (s.start, s.end, s.label_))
    doc.spans[SPANS_KEY] = sc
    doc.spans[CANDIDATES_KEY] = [doc[s:e] for s, e in sorted({(s.start, s.end) for s in sc})]
    ent_candidates = [s for s in sc if s.label_ in ENT_LABELS]
    # Deduplicate same-offset, different-label clashes first, then overlaps.
    ent_candidates.sort(key=lambda s: (-(s.end - s.start), ENT_PRIORITY[s.label_], s.start))
    kept = filter_spans(ent_candidates)
    unique_offsets = {(s.start, s.end) for s in ent_candidates}
    stats["ents_candidates"] += len(unique_offsets)
    stats["ents_dropped_overlap"] += len(unique_offsets) - len(kept)
    doc.ents = kept
    for s in sc:
        stats[f"sc_{s.label_}"] += 1
    for s in kept:
        stats[f"ents_{s.label_}"] += 1
    stats["docs"] += 1
    return doc


def split_dev(records: List[dict], test_fraction: float, seed: int) -> Tuple[List[dict], List[dict]]:
    """Seeded split of dev by PubMed id (the part of ``id`` before ``_``)."""
    pmids = sorted({r["id"].split("_")[0] for r in records})
    random.Random(seed).shuffle(pmids)
    n_test = round(len(pmids) * test_fraction)
    test_ids = set(pmids[:n_test])
    dev = [r for r in records if r["id"].split("_")[0] not in test_ids]
    test = [r for r in records if r["id"].split("_")[0] in test_ids]
    return dev, test


def write_docbin(nlp, records: Iterable[dict], path: Path, stats: Counter) -> None:
    db = DocBin(attrs=["ORTH", "ENT_IOB", "ENT_TYPE"], store_user_data=False)
    for record in records:
        try:
            db.add(make_doc(nlp, record, stats))
        except KeyError as err:
            raise PheeFormatError(f"record {record.get('id', '?')!r}: missing field {err}") from err
    db.to_disk(path)


@app.command()
def main(
    train_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="PHEE train.json"),
    dev_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="PHEE dev.json"),
    output_dir: Path = typer.Argument(..., help="Folder for train/dev/test .spacy and convert_report.json"),
    test_fraction: float = typer.Option(0.5, help="Share of dev PubMed ids held out as the test split"),
    seed: int = typer.Option(42, help="Seed of the dev/test split"),
    lang: str = typer.Option("en", help="Language of the tokenizer"),
) -> None:
    nlp = spacy.blank(lang)
    output_dir.mkdir(parents=True, exist_ok=True)
    train = list(read_jsonl(train_path))
    dev, test = split_dev(list(read_jsonl(dev_path)), test_fraction, seed)
    report = {"inputs": {str(train_path): sha256(train_path), str(dev_path): sha256(dev_path)},
              "test_fraction": test_fraction, "seed": seed, "splits": {}}
    for name, records in (("train", train), ("dev", dev), ("test", test)):
        stats: Counter = Counter()
        write_docbin(nlp, records, output_dir / f"{name}.spacy", stats)
        report["splits"][name] = dict(sorted(stats.items()))
        typer.echo(
            f"{name}: {stats['docs']} docs, {stats['fragments']} fragments; "
            f"misaligned (strict) {stats['misaligned_strict']}, expanded {stats['misaligned_expanded']}, "
            f"dropped {stats['misaligned_dropped'] + stats['offset_mismatch']}; "
            f"ents dropped for overlap {stats['ents_dropped_overlap']} of {stats['ents_candidates']}"
        )
    (output_dir / "convert_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    app()
