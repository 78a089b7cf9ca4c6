"""Scale benchmarks (not tests): out-of-core under a memory cap, Dask data-parallel, bulk scoring.

    python bench/scale.py dp       [--features 50000 --hidden 32 --batches 64,256,1024 --steps 4]
    python bench/scale.py ooc      --dir DIR --rows N [--features 1000 --cap-mb 512]   (the capped child: `ulimit -v`)
    python bench/scale.py score    [--features 50000 --rows 4000]

Prints markdown tables with the CPU and the command. `make -C bench scale` runs all three.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        name = platform.processor() or "unknown"
    return f"{name}, {os.cpu_count()} logical CPUs"


def header(title: str) -> None:
    print(f"\n### {title}\n\n{cpu()}; `{' '.join(['python', *sys.argv])}`\n")


def time_steps(data, executor, args, batch: int, steps: int) -> tuple[float, object]:
    from tessera.trainer.distributed import train_data_parallel

    kw = {"hidden": args.hidden, "epochs": 1, "batch_size": batch, "lr": 0.1, "micro_batches": args.micro,
          "log": lambda m: None}
    train_data_parallel(data, dask=executor, stop_after_steps=1, **kw)  # compile and warm the workers
    if hasattr(executor, "scatter_seconds"):
        executor.scatter_seconds, executor.scatter_bytes = 0.0, 0
    t0 = time.perf_counter()
    _, hist = train_data_parallel(data, dask=executor, stop_after_steps=steps, **kw)
    return (time.perf_counter() - t0) / hist.steps, hist


def bench_dp(args: argparse.Namespace) -> None:
    from tessera.trainer.datasets import synthetic_sparse_csr
    from tessera.trainer.distributed import LocalExecutor, connect

    batches = [int(b) for b in args.batches.split(",")]
    data = synthetic_sparse_csr(max(batches) * (args.steps + 1), args.features, 0.002, seed=0)
    header(f"data-parallel: tied AE {args.features} -> {args.hidden}, density 0.002, {args.micro} micro-batches, SGD")
    print("| batch | in-process s/step | local:1 s/step | local:2 s/step | Dask overhead/step (local:1 - in-process) "
          "| scatter s/step | params MB/step | local:2 speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    ex = {n: connect(f"local:{n}") for n in (1, 2)}
    try:
        for b in batches:
            t_local, _ = time_steps(data, LocalExecutor(), args, b, args.steps)
            t1, _ = time_steps(data, ex[1], args, b, args.steps)
            t2, _ = time_steps(data, ex[2], args, b, args.steps)
            sc, mb = ex[2].scatter_seconds / args.steps, ex[2].scatter_bytes / args.steps / 1e6
            print(f"| {b} | {t_local:.3f} | {t1:.3f} | {t2:.3f} | {t1 - t_local:+.3f} | {sc:.3f} | {mb:.1f} "
                  f"| {t1 / t2:.2f}x |")
    finally:
        for e in ex.values():
            e.close()


def bench_ooc(args: argparse.Namespace) -> None:
    """Parent: write dense .npy shards (if absent), then time training in a child under `ulimit -v`
    on all of them (out of core) and in an uncapped child on an in-memory slice that fits."""
    os.makedirs(args.dir, exist_ok=True)
    per = 50000
    for s, start in enumerate(range(0, args.rows, per)):
        path = os.path.join(args.dir, f"d-{s:04d}.npy")
        if not os.path.exists(path):
            rng = np.random.default_rng(s)
            np.save(path, (rng.random((min(per, args.rows - start), args.features)) < 0.05).astype(np.float32))
    data_mb = args.rows * args.features * 4 / 1e6
    header(f"out-of-core: tied AE {args.features} -> {args.hidden}, dense .npy shards, batch {args.batch}, "
           f"micro-batches 1, cap `ulimit -v {args.cap_mb * 1024}` (address space; systemd-run is unavailable here)")
    print(f"data on disk: {data_mb:,.0f} MB = {data_mb / args.cap_mb:.1f}x the {args.cap_mb} MB cap\n")
    print("| run | rows trained | rows/s | peak RSS MB |")
    print("|---|---|---|---|")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    base = [sys.executable, __file__, "ooc-child", "--dir", args.dir, "--hidden", str(args.hidden),
            "--batch", str(args.batch)]
    runs = [("shards, capped", base + ["--mode", "shards"], f"ulimit -v {args.cap_mb * 1024}; "),
            ("in memory (first rows that fit), uncapped", base + ["--mode", "memory", "--rows", str(args.memory_rows)],
             "")]
    for label, cmd, prefix in runs:
        shell = prefix + " ".join(cmd)
        done = subprocess.run(["bash", "-c", shell], env=env, capture_output=True, text=True)
        if done.returncode:
            print(f"| {label} | failed: {done.stderr.strip().splitlines()[-1:]} | | |")
            continue
        print(f"| {label} | {done.stdout.strip()} |")


def ooc_child(args: argparse.Namespace) -> None:
    from tessera.trainer.datasets.shards import ShardSet, read
    from tessera.trainer.distributed import train_data_parallel

    shards = ShardSet(args.dir)
    data = shards if args.mode == "shards" else \
        np.concatenate([read(s) for s in shards.shards[:max(1, -(-args.rows // shards.shards[0].rows))]])[:args.rows]
    t0 = time.perf_counter()
    _, hist = train_data_parallel(data, hidden=args.hidden, epochs=1, batch_size=args.batch, lr=0.1,
                                  micro_batches=1, buffer_rows=4 * args.batch, log=lambda m: None)
    rows = hist.steps and (shards.rows if args.mode == "shards" else len(data))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{rows} | {rows / (time.perf_counter() - t0):,.0f} | {rss:.0f}")


def bench_score(args: argparse.Namespace) -> None:
    from tessera import exporter
    from tessera.exporter.score import score, score_rows
    from tessera.trainer.datasets.synth_shards import synth
    from tessera.trainer.distributed import connect
    from tessera.trainer.models.autoencoder import AutoEncoder

    with tempfile.TemporaryDirectory() as tmp:
        paths = synth(os.path.join(tmp, "shards"), rows=args.rows, n_features=args.features, density=0.002,
                      rows_per_shard=max(1, args.rows // 8))
        model = AutoEncoder(args.features, args.hidden)
        mpath = os.path.join(tmp, "model.json")
        exporter.export(outputs=[model.x_hat], inputs=[model.x], path=mpath)
        header(f"bulk scoring: AE {args.features} -> {args.hidden}, {args.rows} rows in {len(paths)} shards")
        print("| how | rows/s |")
        print("|---|---|")
        import scipy.sparse as sp
        ref = exporter.load(mpath, runtime="reference")
        first = sp.load_npz(paths[0])[:64]
        t0 = time.perf_counter()
        for i in range(first.shape[0]):  # the plain loop: one row per call, reference runtime
            ref.run({"x": first[i].toarray()})
        loop_rate = first.shape[0] / (time.perf_counter() - t0)
        print(f"| python loop, reference runtime, one row per run | {loop_rate:,.0f} |")
        t0 = time.perf_counter()
        score_rows(ref, first)
        print(f"| reference runtime, 64-row chunk | {first.shape[0] / (time.perf_counter() - t0):,.0f} |")
        for label, dask in (("tessera score, native, in-process", None), ("tessera score, native, --dask local:1", 1),
                            ("tessera score, native, --dask local:2", 2)):
            ex = connect(f"local:{dask}") if dask else None
            try:
                res = score(mpath, os.path.join(tmp, "shards"), os.path.join(tmp, f"out-{dask}"), runtime="native",
                            dask=ex.client if ex else None, log=lambda m: None)
            finally:
                if ex:
                    ex.close()
            print(f"| {label} | {res['rows'] / res['seconds']:,.0f} |")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["dp", "ooc", "ooc-child", "score"])
    p.add_argument("--features", type=int, default=50000)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--micro", type=int, default=8)
    p.add_argument("--batches", default="64,256,1024")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--rows", type=int, default=4000)
    p.add_argument("--memory-rows", type=int, default=100000)
    p.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "tessera-ooc"))
    p.add_argument("--cap-mb", type=int, default=512)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--mode", choices=["shards", "memory"], default="shards")
    args = p.parse_args()
    {"dp": bench_dp, "ooc": bench_ooc, "ooc-child": ooc_child, "score": bench_score}[args.what](args)


if __name__ == "__main__":
    main()
