"""Per-step time of the digits CNNs (SGD, batch 128, 1 thread): the trainer against PyTorch eager.

Two networks on 8x8 inputs, both ending in softmax cross-entropy with integer labels:
  demo CNN   tessera/demo_cnn.py's DigitsCNN as the demo builds it: conv 1->16 3x3 "half" + bias,
             relu, 2x2 max pool, conv 16->32 3x3 "half" + bias, relu, 2x2 max pool, dense 128->10;
  small CNN  conv 1->8 3x3 "half" + bias, relu, 2x2 max pool, conv 8->16 3x3 "valid" + bias,
             relu, dense 64->10.
Both sides start from the same weights (PyTorch holds the filters flipped, so its plain conv2d,
a cross-correlation, computes the trainer's true convolution) and step through the same batches
of the bundled digits with plain SGD. PyTorch runs in its two usual forms (optimizer step; and
autograd.grad + sub_); the ratio is taken against the faster. The contenders alternate in blocks
of consecutive steps (the order rotating every round), every step timed on its own; the figure
is the median. The loss of both sides after the same steps is checked to agree first.

    THREADS=1 .venv/bin/python bench/bench_cnn_train.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import common  # sets the BLAS thread variables before numpy loads
import numpy as np

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.demo_cnn import DigitsCNN, labelled_digits
from tessera.trainer.optimizers import sgd
from tessera.trainer.tensor.signal.pool import pool_2d

BATCH = 128
LR = 0.05
STEPS_CHECKED = 10


class SmallCNN:
    """The smaller network, written like DigitsCNN (same initialisation)."""

    def __init__(self, rng: np.random.Generator) -> None:
        ref = DigitsCNN(rng, (8, 16))  # borrows its glorot weights for the conv layers
        self.w1, self.b1, self.w2, self.b2 = ref.params[:4]
        bound = np.float32(np.sqrt(6.0 / (64 + 10)))
        self.w3 = trainer.shared(rng.uniform(-1, 1, (64, 10)).astype(np.float32) * bound, name="w3")
        self.b3 = trainer.shared(np.zeros(10, np.float32), name="b3")
        self.params = [self.w1, self.b1, self.w2, self.b2, self.w3, self.b3]

    def __call__(self, x):
        h = T.nnet.relu(T.nnet.conv2d(x, self.w1, border_mode="half") + self.b1.dimshuffle("x", 0, "x", "x"))
        h = pool_2d(h, (2, 2))
        h = T.nnet.relu(T.nnet.conv2d(h, self.w2) + self.b2.dimshuffle("x", 0, "x", "x"))
        return T.nnet.softmax(T.dot(h.flatten(2), self.w3) + self.b3)


NETWORKS = {  # name -> (constructor, PyTorch forward of (x, [w1, b1, w2, b2, w3, b3]) to logits)
    "demo CNN (16, 32 channels)": (lambda rng: DigitsCNN(rng), "demo"),
    "small CNN (8, 16 channels)": (SmallCNN, "small"),
}


def trainer_step(net) -> Callable:
    x, y = T.tensor4("x", shape=(None, 1, 8, 8)), T.lvector("y")
    loss = T.nnet.categorical_crossentropy(net(x), y).mean()
    return trainer.function([x, y], loss, updates=sgd(loss, net.params, lr=LR))


def torch_step(net, kind: str, optim: bool) -> Callable:
    """PyTorch eager on a copy of net's weights: zero_grad / backward / optim.SGD.step, or
    autograd.grad and sub_ (without `optim`)."""
    import torch
    F = torch.nn.functional

    def copy(v, flip):
        a = v.get_value()
        return torch.tensor(a[:, :, ::-1, ::-1].copy() if flip else a, requires_grad=True)
    params = [copy(v, v.get_value().ndim == 4) for v in net.params]
    w1, b1, w2, b2, w3, b3 = params
    opt = torch.optim.SGD(params, lr=LR) if optim else None

    def step(xb, yb):
        h = F.max_pool2d(F.relu(F.conv2d(xb, w1, b1, padding=1)), 2)
        if kind == "demo":
            h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, padding=1)), 2)
        else:
            h = F.relu(F.conv2d(h, w2, b2))
        return common.torch_sgd(F.cross_entropy(h.flatten(1) @ w3 + b3, yb), params, LR, opt)
    return step


def per_step_medians(fns: dict[str, Callable[[], object]], rounds: int, steps: int,
                     warmup: int) -> dict[str, tuple[float, float]]:
    """(median CPU seconds, median wall seconds) per step of each contender: each round runs
    `steps` consecutive steps of every contender in turn (the order rotating every round), each
    step timed on its own. CPU time (this thread's) is what other processes on a shared machine
    disturb least; the contenders are single-threaded, so it is their whole cost."""
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = fns[name]
            for _ in range(steps):
                c, w = time.thread_time(), time.perf_counter()
                fn()
                wall[name].append(time.perf_counter() - w)
                cpu[name].append(time.thread_time() - c)
    return {n: (float(np.median(cpu[n])), float(np.median(wall[n]))) for n in names}


def bench_network(label: str, make, kind: str, batches, rounds: int, steps: int, warmup: int):
    import torch

    def fresh(rng_seed: int = 1):
        return make(np.random.default_rng(rng_seed))
    fns = {"tessera trainer": trainer_step(fresh()),
           "PyTorch (optim.SGD)": torch_step(fresh(), kind, optim=True),
           "PyTorch (autograd.grad)": torch_step(fresh(), kind, optim=False)}
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    args = {n: (batches if n.startswith("tessera") else tb) for n in fns}
    curves = {name: [float(fn(*args[name][i % len(batches)])) for i in range(STEPS_CHECKED)]
              for name, fn in fns.items()}  # the same steps from the same weights on the same batches
    losses = {name: c[-1] for name, c in curves.items()}
    # The first two losses (the forward pass, then one SGD step) agree to float32 rounding. Later
    # ones drift apart a little: a max-pool window with several equal maxima (the digits have
    # flat regions) sends its gradient to each of them here (Theano's rule), to the first in PyTorch.
    first_two = max(abs(c[i] - curves["tessera trainer"][i]) for c in curves.values() for i in (0, 1))
    spread = max(losses.values()) - min(losses.values())
    agree = first_two <= 1e-5 * abs(curves["tessera trainer"][0]) and spread <= 1e-3
    counters = dict.fromkeys(fns, 0)

    def stepper(name):
        fn, bs = fns[name], args[name]

        def go():
            fn(*bs[counters[name] % len(bs)])
            counters[name] += 1
        return go
    t = per_step_medians({n: stepper(n) for n in fns}, rounds, steps, warmup)
    best = min((n for n in fns if n.startswith("PyTorch")), key=lambda n: t[n][0])
    rows = [[n, common.fmt_time(t[n][0]), common.fmt_time(t[n][1]),
             f"{t['tessera trainer'][0] / t[n][0]:.2f}", f"{losses[n]:.6f}"] for n in fns]
    print(f"\n### {label}, batch {BATCH}, SGD, {common.THREADS} thread(s)\n")
    print(common.table(["contender", "median CPU per step", "median wall per step", "trainer / this (CPU)",
                        f"loss after {STEPS_CHECKED} steps"], rows))
    print(f"\nlosses of the first two steps within {first_two:.1e}, after {STEPS_CHECKED} steps within {spread:.1e} "
          f"({'agree' if agree else 'DISAGREE'}; later steps differ by the max-pool tie rule)")
    return t["tessera trainer"][0] / t[best][0], best, agree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(common.THREADS)
    print("\n## Training: digits CNNs, trainer vs PyTorch eager\n")
    print(common.machine_line() + "\n")
    print(common.versions("torch"))
    grey, _, labels = labelled_digits()
    batches = [(np.ascontiguousarray(grey[i:i + BATCH]), labels[i:i + BATCH].astype(np.int64))
               for i in range(0, len(labels) - BATCH + 1, BATCH)]
    rounds, steps, warmup = (5, 20, 20) if args.quick else (21, 50, 100)
    print(f"\n(median of {rounds * steps} single steps per contender after {warmup} warm-up steps, "
          f"{steps} consecutive steps per contender in turn; 'trainer / this' below 1: the trainer is faster)")
    results = [(label, *bench_network(label, make, kind, batches, rounds, steps, warmup))
               for label, (make, kind) in NETWORKS.items()]
    print(f"\n### Digits CNN training targets ({common.cpu_class()})\n")
    rows = [[f"{label}: trainer step no slower than PyTorch eager", best, f"{r:.3f}",
             common.verdict(r <= 1.0 and agree)] for label, r, best, agree in results]
    print(common.table(["target", "against", "ratio trainer / PyTorch (CPU)", "status"], rows))


if __name__ == "__main__":
    main()
