"""Benchmark: words/s and docs/s of a pipeline, and memory.

Measures, each in a fresh subprocess (clean peak RSS), at every --processes value:

* ``full``        - nlp.pipe with the whole pipeline;
* ``sequential``  - the whole pipeline without ``ct_prefetch`` (every
                    component in the caller's thread, one batch at a time;
                    skipped, with a note, when the pipeline has none);
* ``records``     - the whole pipeline with the follow-up record on (the shipped
                    pipeline has ``ct_followup`` disabled: it is made on request);
* ``transformer`` - only the transformer component (with ``ct_sentences`` and
                    ``ct_release_trf_data`` when the pipeline has them; skipped,
                    with a note, when the pipeline has no transformer);
* ``hf``          - a plain fp32 forward pass of the pipeline's own encoder
                    (Hugging Face transformers, torch, no spaCy), over the same
                    texts in the same batches (one process: with more it is
                    skipped, torch uses the threads);
* ``tokenizer``   - only the tokenizer (nlp.pipe with every component off);
* ``annotate``    - the ``annotate`` command end to end (reading files,
                    journal with fsync, exports), from its summary.json;

and, with --files-rss, the peak RSS of ``annotate`` over folders of 1k / 10k
small files (streaming: it should stay flat), using --rss-model (default: a
blank English pipeline with an entity ruler, built on the fly).

Results go to --output (JSON) and the same name with .md (a table for the
README). Texts: PHEE sentences (``context`` field of a JSON-lines file) or any
JSON-lines file with ``text``, cycled to --n-docs documents.

With ``--rounds R`` the whole set of measurements runs R times, one after the
other, each in fresh processes (no cache of one pass helps the next: each
pass starts cold, like a new batch of documents); a row reports its best round
(``words_per_s``, what ``ratios`` use: a shared machine's stalls only ever
slow a pass down) and the median (``median_words_per_s``, ``median_ratios``),
with every round's figure in ``rounds_words_per_s``.

With ``--long-words N`` every mode runs a second time on long documents: the
same sentences joined in order, those of one abstract (the PubMed id before
"_" in PHEE's ``id``) into one paragraph, paragraphs into documents of at
least N words (pages); ``ratios`` gives each mode's words/s on long documents
over its figure on sentences, and the whole pipeline's over ``hf``.

    python scripts/bench.py --model en_clinical_trials --texts assets/phee/dev.json \\
        --n-docs 1000 --processes 1,2 --files-rss 1000,10000 --output metrics/bench.json
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

app = typer.Typer(add_completion=False, help=__doc__)

WARMUP = 16


def _threads_env(n_process: int) -> Dict[str, str]:
    per = max(1, (os.cpu_count() or 1) // n_process)
    return dict(os.environ, OMP_NUM_THREADS=str(per), MKL_NUM_THREADS=str(per), TOKENIZERS_PARALLELISM="false")


def _read_rows(path: Path) -> List[Dict[str, str]]:
    from ct_safety_nlp.fileio import read_jsonl_text_rows

    try:
        return read_jsonl_text_rows(path)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


def _load_texts(path: Path, n_docs: int) -> List[str]:
    texts = [r["text"] for r in _read_rows(path)]
    return [texts[i % len(texts)] for i in range(n_docs)]


def long_documents(rows: List[Dict[str, str]], n_docs: int, min_words: int) -> List[str]:
    """The first ``n_docs`` sentences of ``rows`` (cycled) joined in order: the
    sentences of one abstract (id "PMID_k") into a paragraph, paragraphs into
    documents of at least ``min_words`` whitespace words (the last may be shorter)."""
    paragraphs: List[List[str]] = []
    last = None
    for i in range(n_docs):
        row = rows[i % len(rows)]
        abstract = row["id"].split("_")[0]
        if abstract != last or not paragraphs:
            paragraphs.append([])
            last = abstract
        paragraphs[-1].append(row["text"].strip())
    docs: List[str] = []
    current: List[str] = []
    words = 0
    for sentences in paragraphs:
        current.append(" ".join(sentences))
        words += sum(len(s.split()) for s in sentences)
        if words >= min_words:
            docs.append("\n\n".join(current))
            current, words = [], 0
    if current:
        docs.append("\n\n".join(current))
    return docs


def _transformer_name(nlp) -> Optional[str]:
    for name, proc in nlp.pipeline:
        if "transformer" in type(proc).__name__.lower() or "transformer" in name:
            return name
    return None


@app.command("measure", hidden=True)
def measure(model: str, mode: str, n_process: int, texts_file: Path, batch_size: int,
            gpu_id: int = typer.Option(-1, "--gpu-id")) -> None:
    """(internal) one measurement in this process; prints a JSON line."""
    import spacy

    from ct_safety_nlp.extensions import register_extensions

    register_extensions()
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    if "torch" in sys.modules:  # only when the pipeline uses torch (importing it costs RSS)
        sys.modules["torch"].set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    texts = json.loads(texts_file.read_text(encoding="utf-8"))
    result: Dict[str, Any] = {"mode": mode, "n_process": n_process, "batch_size": batch_size}
    if gpu_id >= 0:
        result["gpu_id"] = gpu_id
    if mode == "hf":
        result.update(_hf_forward(nlp, texts, n_process, batch_size, gpu_id))
        print(json.dumps(result))
        return
    if mode == "full":
        enable = [name for name, _ in nlp.pipeline]
    elif mode == "sequential":
        if "ct_prefetch" not in nlp.pipe_names:
            result["skipped"] = "the pipeline has no ct_prefetch component"
            print(json.dumps(result))
            return
        enable = [name for name in nlp.pipe_names if name != "ct_prefetch"]
    elif mode == "records":
        if "ct_followup" not in nlp.component_names:
            result["skipped"] = "the pipeline has no ct_followup component"
            print(json.dumps(result))
            return
        if "ct_followup" in nlp.disabled:
            nlp.enable_pipe("ct_followup")
        enable = list(nlp.pipe_names)
    elif mode == "transformer":
        name = _transformer_name(nlp)
        if name is None:
            result["skipped"] = "the pipeline has no transformer component"
            print(json.dumps(result))
            return
        # with what it needs: the sentences its span getter reads, and the release of its output
        enable = [n for n in nlp.pipe_names if n in (name, "ct_sentences", "ct_release_trf_data")]
    elif mode == "tokenizer":
        enable = []
    else:
        raise typer.BadParameter(f"unknown mode {mode!r}")
    with nlp.select_pipes(enable=enable):
        list(nlp.pipe(texts[:WARMUP], batch_size=batch_size))
        start = time.perf_counter()
        words = docs = 0
        for doc in nlp.pipe(texts, n_process=n_process, batch_size=batch_size):
            docs += 1
            words += sum(1 for t in doc if not t.is_space)
        seconds = time.perf_counter() - start
    result.update(_gpu_peak(gpu_id))
    result.update(
        {
            "docs": docs,
            "words": words,
            "seconds": round(seconds, 3),
            "words_per_s": round(words / seconds, 1),
            "docs_per_s": round(docs / seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
            if n_process > 1 else None,
        }
    )
    print(json.dumps(result))


def _gpu_peak(gpu_id: int) -> Dict[str, Any]:
    """torch's peak GPU memory of this process, on a GPU run."""
    if gpu_id < 0 or "torch" not in sys.modules:
        return {}
    torch = sys.modules["torch"]
    torch.cuda.synchronize(gpu_id)
    return {"gpu_peak_mb": round(torch.cuda.max_memory_allocated(gpu_id) / 2**20, 1)}


def _hf_forward(nlp, texts: List[str], n_process: int, batch_size: int, gpu_id: int = -1) -> Dict[str, Any]:
    """A plain fp32 forward pass of the pipeline's encoder (its trained weights,
    its Hugging Face tokenizer; no spaCy, no int8), batch by batch as given;
    on GPU ``gpu_id`` when it is one."""
    name = _transformer_name(nlp)
    if name is None:
        return {"skipped": "the pipeline has no transformer component"}
    if n_process > 1:
        return {"skipped": "one process only (torch uses the threads)"}
    import torch

    model = nlp.get_pipe(name).model
    device = torch.device(f"cuda:{gpu_id}") if gpu_id >= 0 else torch.device("cpu")
    module = model.layers[0].shims[0]._model.eval().to(device)
    tokenizer = model.tokenizer
    words = sum(1 for doc in nlp.tokenizer.pipe(texts) for t in doc if not t.is_space)
    batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    max_length = min(512, getattr(tokenizer, "model_max_length", 512))

    def forward(batch):
        inputs = tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        return module(**{k: v.to(device) for k, v in inputs.items()})

    with torch.no_grad():
        forward(batches[0][:WARMUP])
        start = time.perf_counter()
        for batch in batches:
            forward(batch)
        if gpu_id >= 0:
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    return {**_gpu_peak(gpu_id),
        "docs": len(texts), "words": words, "seconds": round(seconds, 3), "words_per_s": round(words / seconds, 1),
        "docs_per_s": round(len(texts) / seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "worker_peak_rss_mb": None,
    }


def _run_child(cmd: List[str], env: Dict[str, str]) -> (int, str, str, float):
    """Run cmd; RETURNS (exit code, stdout, stderr, peak RSS in MB of that
    process and its children) via wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read().decode(), err.read().decode(), usage.ru_maxrss / 1024


def _measure_child(model: str, mode: str, n_process: int, texts_file: Path, batch_size: int,
                   gpu_id: int = -1) -> Dict[str, Any]:
    cmd = [sys.executable, __file__, "measure", model, mode, str(n_process), str(texts_file), str(batch_size),
           "--gpu-id", str(gpu_id)]
    code, out, err, _ = _run_child(cmd, _threads_env(n_process))
    if code != 0:
        raise RuntimeError(f"measurement {mode} x{n_process} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def _annotate(model: str, folder: Path, n_process: int, batch_size: Optional[int], env=None,
              gpu_id: int = -1) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "ct_safety_nlp.cli", "annotate", str(folder), "--output", str(out), "--model", model,
               "--n-process", str(n_process), "--progress", "none", "--gpu-id", str(gpu_id)]
        if batch_size:
            cmd += ["--batch-size", str(batch_size)]
        code, _, err, rss = _run_child(cmd, env or _threads_env(n_process))
        if code not in (0, 3):  # 3: finished, some documents in errors.jsonl
            raise RuntimeError(f"annotate x{n_process} failed (exit {code}):\n{err[-3000:]}")
        summary = json.loads((out / "summary.json").read_text())
    return {
        "mode": "annotate", "n_process": n_process, "batch_size": summary["batch_size"],
        "docs": summary["run_documents"], "errors": summary["run_errors"], "words": summary["run_words"],
        "seconds": summary["processing_s"], "wall_s": summary["wall_s"],
        "words_per_s": round(summary["words_per_s"], 1), "docs_per_s": round(summary["docs_per_s"], 2),
        "peak_rss_mb": round(rss, 1),
    }


def _write_files(folder: Path, texts: List[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(texts):
        sub = folder / f"{i // 1000:04d}"
        sub.mkdir(exist_ok=True)
        (sub / f"{i:06d}.txt").write_text(text, encoding="utf-8")


def _blank_ruler(path: Path) -> str:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "DRUG", "pattern": [{"LOWER": d}]} for d in ("cisplatin", "paclitaxel", "heparin", "lithium")]
        + [{"label": "ADVERSE_EVENT", "pattern": [{"LOWER": a}]} for a in ("nausea", "neutropenia", "rash", "fever")]
    )
    nlp.to_disk(path)
    return str(path)


def ratios(throughput: List[Dict[str, Any]]) -> Dict[str, float]:
    """Words/s ratios of one run: ``full_vs_hf_x1`` (whole pipeline over the plain
    fp32 forward pass, sentences, one process), ``full_best_vs_hf`` (the whole
    pipeline's best process count), ``<mode>_long_vs_sentences_x<n>``."""
    wps = {(r["mode"], r["n_process"], r.get("texts", "sentences")): r["words_per_s"]
           for r in throughput if not r.get("skipped") and r.get("words_per_s")}
    out: Dict[str, float] = {}
    hf = wps.get(("hf", 1, "sentences"))
    full = {n: v for (m, n, kind), v in wps.items() if m == "full" and kind == "sentences"}
    if hf and 1 in full:
        out["full_vs_hf_x1"] = round(full[1] / hf, 3)
    if hf and full:
        out["full_best_vs_hf"] = round(max(full.values()) / hf, 3)
    for (mode, n, kind), value in sorted(wps.items()):
        if kind == "long" and (mode, n, "sentences") in wps:
            out[f"{mode}_long_vs_sentences_x{n}"] = round(value / wps[(mode, n, "sentences")], 3)
    return out


def best_of_rounds(passes: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One row per (mode, processes, texts), in first-seen order: the round with
    the most words/s, with ``rounds_words_per_s`` (every round, in order) and
    ``median_words_per_s``; a skipped measurement stays as it came."""
    import statistics

    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for r in passes:
        groups.setdefault((r["mode"], r["n_process"], r.get("texts", "sentences")), []).append(r)
    rows = []
    for group in groups.values():
        measured = [r for r in group if not r.get("skipped") and r.get("words_per_s")]
        if not measured:
            rows.append(dict(group[0]))
            continue
        best = dict(max(measured, key=lambda r: r["words_per_s"]))
        best["rounds_words_per_s"] = [r["words_per_s"] for r in measured]
        best["median_words_per_s"] = round(statistics.median(best["rounds_words_per_s"]), 1)
        rows.append(best)
    return rows


def _markdown(results: Dict[str, Any]) -> str:
    lines = [
        f"# Benchmark: `{results['model']}`",
        "",
        f"{results['n_docs']} documents ({results['texts']}), batch size {results['batch_size']}, "
        f"{results['machine']['cpus']} CPUs, {results['machine']['platform']}, {results['date']}.",
        "",
        f"Command: `{results['command']}`",
        "",
        "| what | texts | processes | words/s (best) | median | docs/s (best) | peak RSS (MB) | note |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    if results.get("rounds", 1) > 1:
        lines[2] += (f" Each measurement {results['rounds']} times (rounds one after the other, fresh processes): "
                     "the best round and the median.")
    if results.get("long_documents"):
        ld = results["long_documents"]
        lines[2] += (f" Long documents: the same sentences joined by abstract into {ld['docs']} documents of at least "
                     f"{ld['min_words']} words (mean {ld['mean_words']}).")
    for r in results["throughput"]:
        kind = r.get("texts", "sentences")
        if r.get("skipped"):
            lines.append(f"| {r['mode']} | {kind} | {r['n_process']} | - | - | - | - | {r['skipped']} |")
            continue
        rss = f"{r['peak_rss_mb']:.0f}"
        if r.get("worker_peak_rss_mb"):
            rss += f" (+ workers {r['worker_peak_rss_mb']:.0f} each)"
        median = r.get("median_words_per_s", r["words_per_s"])
        lines.append(f"| {r['mode']} | {kind} | {r['n_process']} | {r['words_per_s']:.0f} | {median:.0f} | {r['docs_per_s']:.1f} | {rss} | |")
    if results.get("ratios"):
        lines += ["", "Ratios (words/s, this run, best rounds): " + ", ".join(f"{k} {v:.2f}" for k, v in results["ratios"].items()) + "."]
    if results.get("median_ratios"):
        lines += ["", "Ratios of the medians: " + ", ".join(f"{k} {v:.2f}" for k, v in results["median_ratios"].items()) + "."]
    if results.get("files_rss"):
        lines += ["", "Streaming: peak RSS of `annotate` by number of input files "
                  f"(model `{results['rss_model']}`):", "", "| files | peak RSS (MB) | docs/s |", "|---:|---:|---:|"]
        for r in results["files_rss"]:
            lines.append(f"| {r['files']} | {r['peak_rss_mb']:.0f} | {r['docs_per_s']:.1f} |")
    return "\n".join(lines) + "\n"


@app.command("run")
def run(
    model: str = typer.Option("en_clinical_trials", "--model", help="Installed package or pipeline directory."),
    texts: Path = typer.Option(Path("assets/phee/dev.json"), "--texts", help="JSON lines with 'text' or 'context'."),
    n_docs: int = typer.Option(1000, "--n-docs", help="Documents per measurement (texts are cycled)."),
    processes: str = typer.Option("1,2", "--processes", help="Comma-separated process counts."),
    modes: str = typer.Option("full,transformer,tokenizer,annotate", "--modes", help="What to measure."),
    batch_size: int = typer.Option(64, "--batch-size"),
    long_words: int = typer.Option(0, "--long-words", help="Also measure on long documents of at least this many words (0: no)."),
    files_rss: str = typer.Option("", "--files-rss", help="Comma-separated file counts for the RSS-vs-files check, e.g. 1000,10000."),
    rss_model: str = typer.Option("", "--rss-model", help="Model for --files-rss (default: blank + entity ruler)."),
    output: Path = typer.Option(Path("metrics/bench.json"), "--output"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="Measure on this CUDA GPU (one process; -1: the CPU)."),
    rounds: int = typer.Option(1, "--rounds", min=1, help="Run every measurement this many times; rows report the best and the median."),
) -> None:
    """Measure and write OUTPUT (.json) and OUTPUT with .md."""
    if not texts.exists():
        raise typer.BadParameter(f"--texts {texts} does not exist")
    rows = _read_rows(texts)
    all_texts = _load_texts(texts, n_docs)
    long_texts = long_documents(rows, n_docs, long_words) if long_words > 0 else []
    procs = [int(p) for p in processes.split(",") if p.strip()]
    wanted = [m.strip() for m in modes.split(",") if m.strip()]
    results: Dict[str, Any] = {
        "model": model, "texts": str(texts), "n_docs": n_docs, "batch_size": batch_size,
        "command": "python scripts/bench.py run " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "python scripts/bench.py run",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "gpu_id": gpu_id, "rounds": rounds, "throughput": [], "passes": [], "files_rss": [],
    }
    if long_texts:
        results["long_documents"] = {"min_words": long_words, "docs": len(long_texts),
                                     "mean_words": round(sum(len(t.split()) for t in long_texts) / len(long_texts), 1)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        texts_file = tmp_path / "texts.json"
        texts_file.write_text(json.dumps(all_texts), encoding="utf-8")
        folder = tmp_path / "files"
        if "annotate" in wanted:
            _write_files(folder, all_texts)
        long_file = tmp_path / "long.json"
        long_file.write_text(json.dumps(long_texts), encoding="utf-8")
        sets = [("sentences", texts_file)] + ([("long", long_file)] if long_texts else [])
        plan = [(n, mode, kind, path) for n in procs for mode in wanted for kind, path in sets
                if not (mode == "annotate" and kind != "sentences")]
        for round_no in range(1, rounds + 1):
            for n, mode, kind, path in plan:
                typer.echo(f"round {round_no}/{rounds}: measuring {mode} x{n} on {kind} ...", err=True)
                if gpu_id >= 0 and n > 1:
                    r = {"mode": mode, "n_process": n, "batch_size": batch_size,
                         "skipped": "one process per GPU"}
                elif mode == "annotate":
                    r = _annotate(model, folder, n, batch_size, gpu_id=gpu_id)
                elif mode == "hf" and kind == "long":
                    r = {"mode": mode, "n_process": n, "batch_size": batch_size,
                         "skipped": "long documents exceed the encoder's 512 positions (the pipeline reads them in spans: windows or sentences)"}
                else:
                    r = _measure_child(model, mode, n, path, batch_size, gpu_id)
                r["texts"] = kind
                r["round"] = round_no
                results["passes"].append(r)
                typer.echo("  " + json.dumps(r), err=True)
        results["throughput"] = best_of_rounds(results["passes"])
        results["ratios"] = ratios(results["throughput"])
        if rounds > 1:
            results["median_ratios"] = ratios(
                [{**r, "words_per_s": r["median_words_per_s"]} for r in results["throughput"] if r.get("median_words_per_s")])
        counts = [int(c) for c in files_rss.split(",") if c.strip()]
        if counts:
            results["rss_model"] = rss_model or "blank en + entity_ruler"
            rmodel = rss_model or _blank_ruler(tmp_path / "blank_ruler")
            for count in counts:
                typer.echo(f"RSS with {count} files ...", err=True)
                sub = tmp_path / f"rss_{count}"
                _write_files(sub, [all_texts[i % len(all_texts)] for i in range(count)])
                r = _annotate(rmodel, sub, 1, None)
                results["files_rss"].append({"files": count, "peak_rss_mb": r["peak_rss_mb"], "docs_per_s": r["docs_per_s"]})
                typer.echo("  " + json.dumps(results["files_rss"][-1]), err=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    output.with_suffix(".md").write_text(_markdown(results), encoding="utf-8")
    typer.echo(_markdown(results))


if __name__ == "__main__":
    app()
