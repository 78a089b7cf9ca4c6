"""Per-step time of the seed auto-encoder on binary data, the sparse-input path (the native 0/1
products, fusion `sparse_dot`) against the dense one, by share of ones and native kernel path:
the table in trainer/README.md, where it sets `sparse.NATIVE_MAX_DENSITY`.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m trainer.scripts.time_sparse_inputs [--quick]

Model: 784 -> 256 tied sigmoid auto-encoder, batch 128, SGD. Each path is timed in its own
process (`TESSERA_TRAINER_KERNEL_PATH`); a cell is sparse / dense time, each the best of three
medians of 40 steps, the two paths alternating.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import tessera.trainer.tensor as T  # noqa: E402
from tessera import trainer  # noqa: E402
from tessera.trainer import fused_native  # noqa: E402
from tessera.trainer.scripts.time_embedding import cpu_line  # noqa: E402

NV, NH, BATCH = 784, 256, 128
DENSITIES = (0.2, 0.3, 0.4, 0.5)


def step(sparse_inputs: bool):
    rng = np.random.default_rng(0)
    W = trainer.shared((rng.standard_normal((NV, NH)) * 0.01).astype(np.float32))
    bh, bv = trainer.shared(np.zeros(NH, np.float32)), trainer.shared(np.zeros(NV, np.float32))
    x = T.matrix("x")
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(T.dot(h, W.T) + bv), x).mean()
    gw, gh, gv = T.grad(loss, [W, bh, bv])
    return trainer.function([x], loss, updates=[(W, W - 0.1 * gw), (bv, bv - 0.1 * gv), (bh, bh - 0.1 * gh)],
                            sparse_inputs=sparse_inputs)


def ratios(reps: int) -> list[float]:
    """sparse / dense step time at each of DENSITIES, on this process's kernel path."""
    fns = {"sparse": step(True), "dense": step(False)}
    rng = np.random.default_rng(1)
    out = []
    for density in DENSITIES:
        X = (rng.random((BATCH, NV)) < density).astype(np.float32)
        best = dict.fromkeys(fns, float("inf"))
        for _ in range(3):
            for name, f in fns.items():
                for _ in range(5):
                    f(X)
                ts = []
                for _ in range(reps):
                    t = time.perf_counter()
                    f(X)
                    ts.append(time.perf_counter() - t)
                best[name] = min(best[name], float(np.median(ts)))
        out.append(best["sparse"] / best["dense"])
    return out


def main() -> None:
    reps = 10 if "--quick" in sys.argv else 40
    if "--child" in sys.argv:
        print(" ".join(f"{r:.2f}" for r in ratios(reps)))
        return
    paths = fused_native._load().paths()  # type: ignore[union-attr]
    cols = {}
    for p in sorted(paths, key=["avx512", "avx2", "baseline"].index):
        env = dict(os.environ, TESSERA_TRAINER_KERNEL_PATH=p)
        args = [sys.executable, "-m", "trainer.scripts.time_sparse_inputs", "--child"] + sys.argv[1:]
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
        cols[p] = done.stdout.split()
    print(f"# {cpu_line()}; step {NV} -> {NH}, batch {BATCH}: sparse / dense path time")
    print("| ones | " + " | ".join(f"{p} path" for p in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for i, density in enumerate(DENSITIES):
        print(f"| {density:.0%} | " + " | ".join(c[i] for c in cols.values()) + " |")


if __name__ == "__main__":
    main()
