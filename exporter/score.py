"""`tessera score MODEL.json --data 'shards/*' --out DIR [--dask ...]`: bulk scoring.

Runs an exported model (one input of shape (batch, features)) over every row of every shard
(tessera.trainer.datasets.shards: sparse or dense .npz, memory-mapped .npy) and writes one file
per shard, DIR/<shard name>.npz holding one float array per model output (rows in shard order),
atomically (temporary file + rename), so a file that exists is complete: a rerun skips the
shards already scored. Rows are run in chunks of at most `chunk_rows`; the runtimes compute each
row independently (SPEC §7), so the outputs do not depend on the chunking, on which worker ran a
shard, or on the runtime ("native", the C runtime in-process, when built; else "reference").
With --dask each shard is a task; progress is printed as shards finish, and the Dask dashboard
link when there is one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

from tessera.exporter.errors import LIMITS, ModelError
from tessera.exporter.model import RUNTIMES, load

_MODELS: dict[tuple[str, float, str | None], Any] = {}


def _model(path: str, runtime: str | None) -> Any:
    """The loaded model, once per process (per path, modification time and runtime)."""
    key = (os.path.abspath(path), os.path.getmtime(path), runtime)
    if key not in _MODELS:
        _MODELS[key] = load(path, runtime=runtime)
    return _MODELS[key]


def output_path(out_dir: str, shard_path: str) -> str:
    return os.path.join(out_dir, os.path.splitext(os.path.basename(shard_path))[0] + ".npz")


def _input_of(model: Any, n_features: int) -> tuple[str, int | None]:
    if len(model.inputs) != 1:
        raise ModelError("E_INPUT", f"bulk scoring needs a model with one input, this one has {len(model.inputs)}")
    name, shape = model.inputs[0]
    if len(shape) != 2 or shape[1] != n_features:
        raise ModelError("E_SHAPE", f"the model's input {name!r} has shape {list(shape)}; the shards hold "
                         f"(rows, {n_features}) rows")
    return name, shape[0] if isinstance(shape[0], int) else None


def score_rows(model: Any, rows: Any, chunk_rows: int = 0) -> dict[str, np.ndarray]:
    """The model's outputs on every row of `rows` (numpy or scipy sparse), run chunk by chunk."""
    name, fixed = _input_of(model, rows.shape[1])
    step = fixed or chunk_rows or max(1, min(1024, LIMITS.ELEMENTS // (4 * max(rows.shape[1], 1))))
    if fixed and rows.shape[0] % fixed:
        raise ModelError("E_SHAPE", f"the model's batch is fixed at {fixed} rows; a shard of {rows.shape[0]} "
                         "rows is not a multiple of it")
    outs: dict[str, list[np.ndarray]] = {n: [] for n, _ in model.outputs}
    for s in range(0, rows.shape[0], step):
        x = rows[s:s + step]
        x = np.ascontiguousarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32)
        for k, v in model.run({name: x}).items():
            outs[k].append(v)
    return {k: np.concatenate(v) if v else np.zeros((0,), np.float32) for k, v in outs.items()}


def score_shard(model_path: str, runtime: str | None, shard_path: str, out_path: str, chunk_rows: int = 0) -> int:
    """Score one shard into out_path atomically; returns its row count. One task of the bulk run."""
    from tessera.trainer.datasets.shards import inspect, read, write_atomic

    shard = inspect(shard_path)
    outs = score_rows(_model(model_path, runtime), read(shard), chunk_rows)
    write_atomic(out_path, lambda f: np.savez(f, **outs))
    return shard.rows


def score(model_path: str, data: str, out_dir: str, *, runtime: str | None = None, dask: Any = None,
          chunk_rows: int = 0, log: Any = None) -> dict[str, Any]:
    """Score every shard of `data` into out_dir; returns {"scored": [...], "skipped": [...], "rows": n,
    "seconds": t}. dask: None (this process), "local:N", a scheduler address or a Client."""
    from tessera.trainer.datasets.shards import resolve

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    model = _model(model_path, runtime)  # checked here first: a bad model fails before any task runs
    runtime = model.runtime
    paths = resolve(data)
    outs = [output_path(out_dir, p) for p in paths]
    clash = len(set(outs)) != len(outs)
    if clash:
        raise ModelError("E_INPUT", "two shards share a file name (in different directories); their outputs "
                         "would collide in one --out directory")
    os.makedirs(out_dir, exist_ok=True)
    todo = [(p, o) for p, o in zip(paths, outs, strict=True) if not os.path.exists(o)]
    skipped = [p for p, o in zip(paths, outs, strict=True) if os.path.exists(o)]
    if skipped:
        log(f"score: {len(skipped)} of {len(paths)} shard(s) already scored in {out_dir}; skipped")
    t0, rows, done = time.perf_counter(), 0, []

    def report(path: str, n: int) -> None:
        nonlocal rows
        rows += n
        done.append(path)
        dt = time.perf_counter() - t0
        log(f"score: [{len(done)}/{len(todo)}] {os.path.basename(path)} {n} rows "
            f"({rows / max(dt, 1e-9):,.0f} rows/s, runtime {runtime})")

    if dask is None:
        for p, o in todo:
            report(p, score_shard(model_path, runtime, p, o, chunk_rows))
    else:
        from distributed import as_completed

        from tessera.trainer.distributed import DaskExecutor, connect
        executor = connect(dask) if isinstance(dask, str) else DaskExecutor(dask)
        try:
            if executor.dashboard_link:
                log(f"Dask dashboard: {executor.dashboard_link}")
            futures = {executor.client.submit(score_shard, os.path.abspath(model_path), runtime, os.path.abspath(p),
                                              os.path.abspath(o), chunk_rows, pure=False): p for p, o in todo}
            for fut in as_completed(futures):
                report(futures[fut], fut.result())
        finally:
            if isinstance(dask, str):
                executor.close()
    return {"scored": done, "skipped": skipped, "rows": rows, "seconds": time.perf_counter() - t0,
            "runtime": runtime}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file (format v1 JSON) with one input (batch, features)")
    p.add_argument("--data", required=True, help="shards: a directory or a quoted glob ('shards/*.npz')")
    p.add_argument("--out", required=True, help="output directory: one <shard>.npz per shard")
    p.add_argument("--runtime", choices=RUNTIMES, default=None,
                   help="native (the C runtime in-process; the default when built) or reference")
    p.add_argument("--dask", default=None, metavar="ADDRESS", help="'local:N' or tcp://scheduler:8786")
    p.add_argument("--chunk-rows", type=int, default=0, help="rows per run (default: up to 1024)")


def main(args: argparse.Namespace) -> int:
    from tessera.trainer.datasets.shards import ShardError
    from tessera.trainer.distributed import SchedulerUnreachable

    try:
        res = score(args.model, args.data, args.out, runtime=args.runtime, dask=args.dask, chunk_rows=args.chunk_rows)
    except (ModelError, ShardError) as exc:
        print(f"tessera score: {exc}", file=sys.stderr)
        return 1
    except SchedulerUnreachable as exc:
        print(f"tessera score: {exc}", file=sys.stderr)
        return 3
    except (OSError, RuntimeError) as exc:
        print(f"tessera score: {exc}", file=sys.stderr)
        return 2
    print(f"scored {len(res['scored'])} shard(s), {res['rows']} rows in {res['seconds']:.2f} s "
          f"({res['runtime']}); skipped {len(res['skipped'])}; outputs in {args.out}", file=sys.stderr)
    return 0
