"""Per-step time of the seed auto-encoder (SGD): trainer vs hand-derived numpy, same data and init.

Run single-threaded for stable numbers:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 bench/bench_train.py
Prints the median step time of each and the ratio trainer / numpy.
"""

from __future__ import annotations

import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tessera.trainer.tensor as T  # noqa: E402
from tessera import trainer  # noqa: E402
from tessera.trainer import datasets  # noqa: E402


def numpy_step(X, W, bh, bv, lr):
    """Hand-derived gradient of mean BCE for the tied sigmoid AE, as a careful numpy user writes it."""
    h = 1.0 / (1.0 + np.exp(-(X @ W + bh)))
    z2 = h @ W.T + bv
    xh = 1.0 / (1.0 + np.exp(-z2))
    loss = -np.mean(X * np.log(xh) + (1 - X) * np.log1p(-xh))
    d2 = (xh - X) * np.float32(1.0 / X.size)
    d1 = (d2 @ W) * h * (1 - h)
    gW = X.T @ d1 + d2.T @ h
    W -= lr * gW
    bh -= lr * d1.sum(0)
    bv -= lr * d2.sum(0)
    return loss


def median_time(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def bench(nv, nh, batch, X, reps, label, sparse_inputs="auto"):
    rng = np.random.default_rng(0)
    W0 = (rng.standard_normal((nv, nh)) * 0.01).astype(np.float32)
    lr = np.float32(0.1)
    W = trainer.shared(W0, name="W")
    bh = trainer.shared(np.zeros(nh, np.float32), name="bh")
    bv = trainer.shared(np.zeros(nv, np.float32), name="bv")
    x = T.matrix("x")
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    x_hat = T.nnet.sigmoid(T.dot(h, W.T) + bv)
    loss = T.nnet.binary_crossentropy(x_hat, x).mean()
    g_w, g_h, g_v = T.grad(loss, [W, bh, bv])
    train = trainer.function([x], loss, updates=[(W, W - 0.1 * g_w), (bv, bv - 0.1 * g_v), (bh, bh - 0.1 * g_h)],
                             sparse_inputs=sparse_inputs)
    Wn, bhn, bvn = W0.copy(), np.zeros(nh, np.float32), np.zeros(nv, np.float32)
    batches = [X[i:i + batch] for i in range(0, len(X) - batch + 1, batch)]
    state = {"i": 0}

    def ours():
        train(batches[state["i"] % len(batches)])
        state["i"] += 1

    def ref():
        with np.errstate(all="ignore"):
            numpy_step(batches[state["i"] % len(batches)], Wn, bhn, bvn, lr)
        state["i"] += 1

    for f in (ours, ref):  # warm up
        for _ in range(3):
            f()
    t_ours = min(median_time(ours, reps) for _ in range(3))
    t_ref = min(median_time(ref, reps) for _ in range(3))
    print(f"{label:38s} trainer {t_ours * 1e6:9.1f} us   numpy {t_ref * 1e6:9.1f} us   "
          f"ratio {t_ours / t_ref:5.2f}" + ("   (sparse path)" if train.last_call_sparse else ""))
    return t_ours, t_ref


def main() -> None:
    rng = np.random.default_rng(0)
    big = (rng.random((1280, 784)) < 0.3).astype(np.float32)
    digits = datasets.load_digits()
    sp = datasets.synthetic_sparse(n_samples=1280, n_features=5000, density=0.01, seed=0)
    bench(784, 256, 128, big, 30, "784->256 batch 128 (30% dense)")
    bench(64, 32, 128, digits, 300, "64->32 batch 128 (digits)")
    bench(5000, 256, 128, sp, 10, "5000->256 batch 128 (1% sparse), auto")
    bench(5000, 256, 128, sp, 10, "5000->256 batch 128 (1% sparse), dense", sparse_inputs=False)


if __name__ == "__main__":
    main()
