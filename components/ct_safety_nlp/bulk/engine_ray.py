"""The Ray engine: the same work on a Ray cluster, via Ray Data.

Plan of the dataset (streaming, executed by Ray Data)::

    from_items(file references)            small: paths + ids to skip
      .flat_map(read_items)                readers run on the workers
      .map_batches(RayAnnotator,           actor pool: each actor loads the
                   concurrency=N,          pipeline once and runs the local
                   num_gpus=G)             engine's annotate_stream on a batch
      .iter_batches()                      back to the driver, which alone
                                           writes DIR (exactly-once journal)

Because the actors call the local engine's :func:`annotate_stream`, the
records are the same as with ``--engine local``. Only the driver writes, so the
journal and ``--resume`` work unchanged.

Requirements on a multi-node cluster: every node can read the input paths (a
shared filesystem mounted at the same path) and load the model (the package
installed on every node, or a path on shared storage). ``ray`` is imported only
inside :func:`run_ray`; this module imports without it.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional

from .engine_local import Result


def read_items(row: Dict[str, Any], max_bytes: int, text_field: str, encoding: str) -> List[Dict[str, Any]]:
    """Ray ``flat_map`` function: one file reference -> its items as JSON."""
    from .readers import read_ref

    ref = json.loads(row["ref"])
    skip = set(json.loads(row["skip"]))
    return [
        {"item": json.dumps(item, ensure_ascii=False)}
        for item in read_ref(ref, max_bytes=max_bytes, text_field=text_field, encoding=encoding, skip_ids=skip)
    ]


class RayAnnotator:
    """Ray Data actor: loads the pipeline once, annotates batches of items."""

    def __init__(self, model: str, include_text: bool, keep_docs: bool, use_gpu: bool, batch_size: int, code: Optional[str] = None):
        import spacy

        from ..extensions import register_extensions

        if code:
            from .usercode import import_code

            import_code(code)
        register_extensions()
        if use_gpu:
            spacy.require_gpu(0)  # Ray sets CUDA_VISIBLE_DEVICES to this actor's GPU
        self.nlp = spacy.load(model)
        self.include_text = include_text
        self.keep_docs = keep_docs
        self.batch_size = batch_size
        try:  # one thread per CPU Ray gave us, not one per core of the node
            import torch

            torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
        except ImportError:
            pass

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        import numpy as np

        from .engine_local import annotate_stream
        from .records import dumps

        items = [json.loads(s) for s in batch["item"]]
        kinds, records, docs = [], [], []
        for results in annotate_stream(
            self.nlp, items, n_process=1, batch_size=self.batch_size, include_text=self.include_text,
            commit_every=len(items) + 1, commit_seconds=float("inf"),
        ):
            for kind, record, doc in results:
                kinds.append(kind)
                records.append(dumps(record))
                docs.append(doc.to_bytes() if (self.keep_docs and doc is not None) else b"")
        return {
            "kind": np.array(kinds, dtype=object),
            "record": np.array(records, dtype=object),
            "docbytes": np.array(docs, dtype=object),
        }


def init_ray(address: Optional[str], num_cpus: Optional[int]) -> bool:
    """Connect to ``address`` (or $RAY_ADDRESS), or start a local instance
    bound to 127.0.0.1. RETURNS True if this call started Ray (and the caller
    should shut it down)."""
    import logging

    address = address or os.environ.get("RAY_ADDRESS")
    local = not address or address == "local"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if local:
        # Ray's own switch for single-machine instances (what it does on macOS):
        # the node then advertises and binds 127.0.0.1, not the host's address.
        # Read when ray is first imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if ray.is_initialized():
        return False
    if not local:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    else:
        ray.init(
            address="local",
            num_cpus=num_cpus or os.cpu_count(),
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            object_store_memory=512 * 1024 * 1024,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    return True


def run_ray(
    refs: List[Dict[str, Any]],
    skip_by_ref: Dict[str, List[str]],
    *,
    model: str,
    batch_size: int,
    num_actors: int,
    cpus_per_actor: float,
    gpus_per_actor: float,
    include_text: bool,
    keep_docs: bool,
    max_bytes: int,
    text_field: str,
    encoding: str,
    address: Optional[str] = None,
    num_cpus: Optional[int] = None,
    code: Optional[str] = None,
    show_progress: bool = False,
) -> Iterator[List[Result]]:
    """Yield result batches like the local engine (``doc`` is Doc bytes or None)."""
    import ray
    import ray.data

    started = init_ray(address, num_cpus)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = show_progress
        if hasattr(ctx, "print_on_execution_start"):
            ctx.print_on_execution_start = False
        if not refs:
            return
        if num_actors < 1:  # one actor per cpus_per_actor CPUs (or GPUs) of the cluster
            resources = ray.cluster_resources()
            if gpus_per_actor > 0:
                num_actors = int(resources.get("GPU", 0) // gpus_per_actor)
                if num_actors < 1:
                    raise RuntimeError(f"the Ray cluster has no GPU for --gpus-per-actor {gpus_per_actor}")
            else:
                num_actors = max(1, int(resources.get("CPU", 1) // max(cpus_per_actor, 0.01)))
        rows = [{"ref": json.dumps(ref), "skip": json.dumps(skip_by_ref.get(ref["rel"], []))} for ref in refs]
        threads = str(max(1, int(cpus_per_actor)))
        ds = ray.data.from_items(rows, override_num_blocks=min(len(rows), max(1, num_actors * 4)))
        # Reading is light I/O: it reserves no CPU, so that an actor pool sized to
        # all CPUs cannot starve it (which would deadlock the dataset).
        ds = ds.flat_map(
            read_items, fn_kwargs={"max_bytes": max_bytes, "text_field": text_field, "encoding": encoding},
            num_cpus=0, concurrency=max(1, num_actors),
        )
        ds = ds.map_batches(
            RayAnnotator,
            fn_constructor_kwargs={
                "model": model, "include_text": include_text, "keep_docs": keep_docs,
                "use_gpu": gpus_per_actor > 0, "batch_size": batch_size, "code": code,
            },
            batch_size=batch_size,
            batch_format="numpy",
            concurrency=num_actors,
            num_cpus=cpus_per_actor,
            num_gpus=gpus_per_actor or None,
            runtime_env={"env_vars": {"OMP_NUM_THREADS": threads, "TOKENIZERS_PARALLELISM": "false"}},
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            out: List[Result] = []
            for kind, record, docbytes in zip(batch["kind"], batch["record"], batch["docbytes"]):
                out.append((str(kind), json.loads(record), bytes(docbytes) or None))
            if out:
                yield out
    finally:
        if started:
            ray.shutdown()
