"""Measure CtcaeKB.normalize fallbacks on hand-labelled strings.

For every labelled string (assets/ctcae_normalizer_eval.json: 150 PHEE v2
train Effect strings and the project's everyday wordings) the deterministic
steps (exact / synonym / lemma) run first; where they return nothing, each
fallback ("contained", "fuzzy", "embedding") proposes its best term with a
score. For each threshold the script prints

* coverage: share of all strings that get a term (deterministic + fallback),
* precision: share of returned terms that are in the string's gold list
  (an empty gold list means no single CTCAE term fits: any term is wrong),
* fb_n / fb_prec: how many fallback answers pass the threshold, and how many
  of them are right.

Usage:
    python scripts/measure_ctcae_fallback.py assets/ctcae/CTCAE_v5.0.xlsx \
        assets/ctcae_synonyms.json assets/ctcae_normalizer_eval.json
"""

import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402

import typer  # noqa: E402

from ct_safety_nlp.kb import CtcaeKB, read_ctcae_workbook, read_synonyms  # noqa: E402

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def main(
    ctcae_path: Path,
    synonyms_path: Path,
    eval_path: Path,
    fallbacks: str = typer.Option("contained,fuzzy,embedding", help="comma-separated fallbacks to measure"),
) -> None:
    table = read_ctcae_workbook(ctcae_path)
    synonyms = read_synonyms(synonyms_path, ctcae_path)
    kb = CtcaeKB(table, synonyms, fallback="none")
    data = json.loads(eval_path.read_text(encoding="utf8"))
    for name in ("phee_train_sample", "everyday"):
        items = data[name]
        print(f"\n## {name}: {len(items)} strings")
        base = [kb.normalize(text) for text, _ in items]
        det = [(m, gold) for m, (_, gold) in zip(base, items) if m is not None]
        det_ok = sum(m.term in gold for m, gold in det)
        by_method = {}
        for m, gold in det:
            ok, n = by_method.get(m.method, (0, 0))
            by_method[m.method] = (ok + (m.term in gold), n + 1)
        print(f"deterministic steps: {len(det)} returned, {det_ok} right; by method: "
              + ", ".join(f"{k} {ok}/{n}" for k, (ok, n) in sorted(by_method.items())))
        for wrong in [(t, m.term) for m, (t, gold) in zip(base, items) if m is not None and m.term not in gold]:
            print(f"   deterministic wrong: {wrong[0]!r} -> {wrong[1]!r}")
        cache = {}
        for fb in [f.strip() for f in fallbacks.split(",") if f.strip()]:
            t0 = time.perf_counter()
            props = [kb.fallback_candidates(text, fb) if m is None else None for m, (text, _) in zip(base, items)]
            elapsed = (time.perf_counter() - t0) / max(1, sum(m is None for m in base))
            print(f"\n### fallback={fb} ({elapsed * 1000:.1f} ms per string)")
            print("| threshold | coverage | precision | fb_n | fb_prec |")
            print("|---|---|---|---|---|")
            for thr in THRESHOLDS:
                fb_hits = [(p, gold) for p, (_, gold) in zip(props, items) if p is not None and p.score >= thr]
                fb_ok = sum(p.term in gold for p, gold in fb_hits)
                returned = len(det) + len(fb_hits)
                correct = det_ok + fb_ok
                cov = returned / len(items)
                prec = correct / returned if returned else 0.0
                fb_prec = f"{fb_ok / len(fb_hits):.2f}" if fb_hits else "-"
                print(f"| {thr:.2f} | {cov:.3f} | {prec:.3f} | {len(fb_hits)} | {fb_prec} |")
            cache[fb] = props
            if os.environ.get("SHOW"):
                for p, (text, gold) in zip(props, items):
                    if p is not None:
                        print(f"   {p.score:.2f} {'OK ' if p.term in gold else 'BAD'} {text!r} -> {p.term!r} via {p.matched!r}")
        if "contained" in cache and "embedding" in cache:
            print("\n### chain: contained (>= t1) else embedding (>= t2)")
            print("| t1 | t2 | coverage | precision | fb_n | fb_prec |")
            print("|---|---|---|---|---|---|")
            for t1 in (0.3, 0.4, 0.5):
                for t2 in (0.7, 0.75, 0.8, 0.85):
                    hits = []
                    for c, e, (_, gold) in zip(cache["contained"], cache["embedding"], items):
                        pick = c if c is not None and c.score >= t1 else (e if e is not None and e.score >= t2 else None)
                        if pick is not None:
                            hits.append(pick.term in gold)
                    returned = len(det) + len(hits)
                    prec = (det_ok + sum(hits)) / returned if returned else 0.0
                    fbp = f"{sum(hits) / len(hits):.2f}" if hits else "-"
                    print(f"| {t1:.2f} | {t2:.2f} | {returned / len(items):.3f} | {prec:.3f} | {len(hits)} | {fbp} |")

        print("\n### end to end: CtcaeKB.normalize with the default settings")
        full = CtcaeKB(table, synonyms)
        returned = correct = 0
        by_method = {}
        for text, gold in items:
            m = full.normalize(text)
            if m is None:
                continue
            returned += 1
            correct += m.term in gold
            ok, n = by_method.get(m.method, (0, 0))
            by_method[m.method] = (ok + (m.term in gold), n + 1)
            if os.environ.get("SHOW") and m.term not in gold:
                print(f"   wrong: {text!r} -> {m.term!r} ({m.method}, {m.score})")
        print(f"fallback={full.fallback}, thresholds {full.fallback_threshold}/{full.embedding_threshold}: "
              f"coverage {returned / len(items):.3f}, precision {correct / max(1, returned):.3f} "
              f"({correct}/{returned}); by method: " + ", ".join(f"{k} {ok}/{n}" for k, (ok, n) in sorted(by_method.items())))


if __name__ == "__main__":
    typer.run(main)
