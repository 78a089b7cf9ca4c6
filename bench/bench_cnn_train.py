"""Per-step time of a small digits CNN (SGD, batch 128): the trainer against PyTorch eager.

The network: 8x8 input, conv 1->8 3x3 "half" + bias, relu, 2x2 max pool, conv 8->16 3x3 "valid"
+ bias, relu, dense 64->10, softmax cross-entropy with integer labels, plain SGD. Both sides
train the same weights on the same batches, single-threaded:
    .venv/bin/python bench/bench_cnn_train.py [--quick]
Prints the median step time of each and the ratio trainer / PyTorch (below 1: trainer faster).
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import common  # noqa: E402
import numpy as np  # noqa: E402

import tessera.trainer.tensor as T  # noqa: E402
from tessera import trainer  # noqa: E402
from tessera.trainer.tensor.signal.pool import pool_2d  # noqa: E402

BATCH = 128


def init(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def glorot(*shape):
        fan = np.prod(shape[1:]) + shape[0] * (np.prod(shape[2:]) if len(shape) > 2 else 1)
        return rng.uniform(-1, 1, shape).astype(np.float32) * np.float32(np.sqrt(6.0 / fan))
    return {"w1": glorot(8, 1, 3, 3), "b1": np.zeros(8, np.float32), "w2": glorot(16, 8, 3, 3),
            "b2": np.zeros(16, np.float32), "w3": glorot(64, 10), "b3": np.zeros(10, np.float32)}


def trainer_step(params: dict[str, np.ndarray], lr: float):
    p = {k: trainer.shared(v.copy(), name=k) for k, v in params.items()}
    x, y = T.tensor4("x"), T.lvector("y")
    h = T.nnet.relu(T.nnet.conv2d(x, p["w1"], border_mode="half") + p["b1"].dimshuffle("x", 0, "x", "x"))
    h = pool_2d(h, (2, 2))
    h = T.nnet.relu(T.nnet.conv2d(h, p["w2"]) + p["b2"].dimshuffle("x", 0, "x", "x"))
    logits = T.dot(h.flatten(2), p["w3"]) + p["b3"]
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(logits), y).mean()
    grads = T.grad(cost, list(p.values()))
    updates = [(v, v - np.float32(lr) * g) for v, g in zip(p.values(), grads, strict=True)]
    return trainer.function([x, y], cost, updates=updates)


def torch_step(params: dict[str, np.ndarray], lr: float):
    import torch
    torch.set_num_threads(1)
    F = torch.nn.functional
    p = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    opt = torch.optim.SGD(list(p.values()), lr=lr)

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        h = F.relu(F.conv2d(xb, p["w1"].flip(2, 3), p["b1"], padding=1))  # flipped: true convolution
        h = F.max_pool2d(h, 2)
        h = F.relu(F.conv2d(h, p["w2"].flip(2, 3), p["b2"]))
        loss = F.cross_entropy(h.flatten(1) @ p["w3"] + p["b3"], yb)
        loss.backward()
        opt.step()
        return loss.item()
    return step, torch


def interleaved_medians(fns, reps: int) -> list[float]:
    """Median time of each function, the calls alternating: load from other processes hits both alike."""
    ts: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for t, fn in zip(ts, fns, strict=True):
            start = time.perf_counter()
            fn()
            t.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in ts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    reps = 50 if args.quick else 300
    rng = np.random.default_rng(0)
    data = rng.random((BATCH * 8, 1, 8, 8), dtype=np.float32)
    labels = rng.integers(0, 10, BATCH * 8)
    params = init(rng)
    f = trainer_step(params, 0.05)
    step, torch = torch_step(params, 0.05)
    tx, ty = torch.from_numpy(data), torch.from_numpy(labels)
    batches = [(i * BATCH, (i + 1) * BATCH) for i in range(8)]
    loss_t = f(data[:BATCH], labels[:BATCH])
    loss_p = step(tx[:BATCH], ty[:BATCH])
    assert abs(float(loss_t) - loss_p) < 1e-4, (loss_t, loss_p)  # the same network and data
    k = [0]

    def ours():
        a, b = batches[k[0] % 8]
        k[0] += 1
        f(data[a:b], labels[a:b])

    def theirs():
        a, b = batches[k[0] % 8]
        k[0] += 1
        step(tx[a:b], ty[a:b])

    interleaved_medians((ours, theirs), 10)  # warm up
    t_ours, t_torch = interleaved_medians((ours, theirs), reps)
    print("| digits CNN step, batch 128, 1 thread | median ms |")
    print("|---|---|")
    print(f"| tessera trainer | {t_ours * 1e3:.3f} |")
    print(f"| PyTorch {torch.__version__} eager | {t_torch * 1e3:.3f} |")
    print(f"\ntrainer / PyTorch = {t_ours / t_torch:.2f} (below 1: the trainer is faster; {common.cpu_class()}, "
          "calls interleaved)")


if __name__ == "__main__":
    main()
