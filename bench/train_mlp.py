"""Training step of a softmax classifier MLP 64->128->10 (ReLU hidden layer, mean categorical
cross-entropy on integer labels, SGD) on the bundled digits at batch 128: our trainer written
with the Theano API vs a lean hand-derived numpy step vs PyTorch eager. Same data, same
initial weights, same thread count; the contenders alternate in blocks of consecutive steps,
each step timed on its own; the figure is the median over all timed steps.

    THREADS=1 python bench/train_mlp.py [--quick]
"""

from __future__ import annotations

import sys
import time

import common  # sets the thread variables before numpy loads
import numpy as np

sys.path.insert(0, common.ROOT)
import tessera.trainer.tensor as T  # noqa: E402
from tessera import trainer  # noqa: E402
from tessera.trainer import datasets  # noqa: E402
from tessera.trainer.optimizers import sgd  # noqa: E402

N_IN, N_HID, N_OUT, BATCH = 64, 128, 10, 128
LR = 0.1
STEPS_CHECKED = 10
LABEL = f"{N_IN}->{N_HID}->{N_OUT} softmax MLP, batch {BATCH}, digits"


def mlp_ours(P0):
    """As a Theano user writes it (`import trainer as theano`)."""
    W1, b1, W2, b2 = (trainer.shared(a.copy(), name=n) for a, n in zip(P0, ("W1", "b1", "W2", "b2"), strict=True))
    x = T.matrix("x")
    y = T.ivector("y")
    h = T.nnet.relu(T.dot(x, W1) + b1)
    p = T.nnet.softmax(T.dot(h, W2) + b2)
    loss = T.nnet.categorical_crossentropy(p, y).mean()
    train = trainer.function([x, y], loss, updates=sgd(loss, [W1, b1, W2, b2], lr=LR))
    train.params = (W1, b1, W2, b2)
    return train


def mlp_numpy(P0):
    """The hand-derived step, lean: float32, in-place where it is free, 5 matmuls (2 forward,
    3 backward: no gradient for x), logits gradient softmax - onehot(y) by subtracting 1 at the
    labels, SGD in place."""
    W1, b1, W2, b2 = (a.copy() for a in P0)
    lr = np.float32(LR)

    def step(X, y):
        nonlocal W1, b1, W2, b2  # updated in place by -=
        n = len(X)
        rows = np.arange(n)
        h = X @ W1
        h += b1
        np.maximum(h, 0, out=h)                        # relu
        z = h @ W2
        z += b2
        z -= z.max(axis=1, keepdims=True)              # shifted logits
        zy = z[rows, y]
        e = np.exp(z, out=z)
        s = e.sum(axis=1)
        loss = np.mean(np.log(s) - zy)                 # mean of logsumexp(z) - z[y]
        d = e
        d /= s[:, None]                                # softmax
        d[rows, y] -= 1                                # - onehot(y)
        d *= np.float32(1.0 / n)                       # d loss / d z
        gW2 = h.T @ d
        gb2 = d.sum(axis=0)
        dh = d @ W2.T
        dh *= h > 0                                    # relu'
        gW1 = X.T @ dh
        gb1 = dh.sum(axis=0)
        W1 -= lr * gW1
        b1 -= lr * gb1
        W2 -= lr * gW2
        b2 -= lr * gb2
        return loss
    step.params = (W1, b1, W2, b2)
    return step


def mlp_torch(P0, optim=False):
    """PyTorch eager: F.cross_entropy on the logits; autograd.grad + sub_ (as train_peers.py), or
    with `optim` the tutorial form zero_grad / backward / torch.optim.SGD.step."""
    import torch
    import torch.nn.functional as F

    params = [torch.tensor(a, requires_grad=True) for a in P0]
    W1, b1, W2, b2 = params
    opt = torch.optim.SGD(params, lr=LR) if optim else None

    def step(X, y):
        logits = torch.relu(torch.from_numpy(X) @ W1 + b1) @ W2 + b2
        return common.torch_sgd(F.cross_entropy(logits, torch.from_numpy(y)), params, LR, opt)
    return step


def check_numpy_against_ours(P0, batches):
    """Once: one step of each from the same start on the same batch, then the loss of the next
    batch and every parameter agree within float32 rounding (the hand gradient is right)."""
    ours, ref = mlp_ours(P0), mlp_numpy(P0)
    (x0, y0, _), (x1, y1, _) = batches[0], batches[1]
    ours(x0, y0)
    ref(x0, y0)
    lo, ln = float(ours(x1, y1)), float(ref(x1, y1))
    assert abs(lo - ln) <= 1e-5 * abs(lo), f"loss after one step: ours {lo!r}, numpy {ln!r}"
    for p, q in zip(ours.params, ref.params, strict=True):
        diff = float(np.max(np.abs(p.get_value() - q)))
        assert diff <= 1e-6, f"{p.name} after two steps: ours and numpy differ by {diff:.2e}"
    return lo, ln


def per_step_medians(fns, rounds, steps, warmup):
    """Median (and quartiles) of single-step times: each round runs `steps` consecutive steps of
    every contender in turn (the order rotates every round), timing each step."""
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    samples = {n: [] for n in names}
    clock = time.perf_counter
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, out = fns[name], samples[name]
            for _ in range(steps):
                t = clock()
                fn()
                out.append(clock() - t)
    return {n: np.percentile(s, [25, 50, 75]) for n, s in samples.items()}


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"\n## Training: softmax MLP {N_IN}->{N_HID}->{N_OUT}\n")
    print(common.machine_line() + "\n")
    print(common.versions("torch") + "\n")
    X, labels = datasets.load_digits(with_labels=True)
    # labels converted once, each to the dtype its contender takes: int32 (T.ivector), int64 (torch)
    batches = [(np.ascontiguousarray(X[i:i + BATCH]), labels[i:i + BATCH].astype(np.int32),
                labels[i:i + BATCH].astype(np.int64)) for i in range(0, len(X) - BATCH + 1, BATCH)]
    rng = np.random.default_rng(1)

    def glorot(a, b):
        bound = np.sqrt(6.0 / (a + b))
        return rng.uniform(-bound, bound, (a, b)).astype(np.float32)
    P0 = (glorot(N_IN, N_HID), np.zeros(N_HID, np.float32), glorot(N_HID, N_OUT), np.zeros(N_OUT, np.float32))

    lo, ln = check_numpy_against_ours(P0, batches)
    fns = {"ours": mlp_ours(P0), "numpy": mlp_numpy(P0)}
    missing = []
    try:
        import torch
        torch.set_num_threads(common.THREADS)
        fns["pytorch"] = mlp_torch(P0)
        fns["pytorch (optim.SGD)"] = mlp_torch(P0, optim=True)
    except ImportError:
        missing.append("pytorch")
    # each contender's own labels: int64 for torch, int32 for ours and numpy
    use = {name: 2 if name.startswith("pytorch") else 1 for name in fns}
    losses = {}
    for name, fn in fns.items():  # 10 steps from the same init on the same batches
        for i in range(STEPS_CHECKED):
            b = batches[i % len(batches)]
            loss = fn(b[0], b[use[name]])
        losses[name] = float(loss)
    counters = dict.fromkeys(fns, STEPS_CHECKED)

    def stepper(name):
        fn, k = fns[name], use[name]

        def go():
            b = batches[counters[name] % len(batches)]
            fn(b[0], b[k])
            counters[name] += 1
        return go
    rounds, steps = (7, 50) if quick else (31, 100)
    q = per_step_medians({n: stepper(n) for n in fns}, rounds=rounds, steps=steps, warmup=200)
    t = {n: v[1] for n, v in q.items()}
    print(f"(times are per SGD step: median of {rounds * steps} single steps per contender after 200 "
          f"warm-up steps, {steps} consecutive steps per contender in turn; 'ours / this' below 1 = ours faster)")
    print(f"\n### {LABEL}\n")
    rows = [[n, common.fmt_time(t[n]), f"{common.fmt_time(q[n][0])} - {common.fmt_time(q[n][2])}",
             f"{t['ours'] / t[n]:.2f}", f"{losses[n]:.6f}"] for n in fns]
    header = ["contender", "median per step", "quartiles", "ours / this", f"loss after {STEPS_CHECKED} steps"]
    print(common.table(header, rows))
    spread = max(losses.values()) - min(losses.values())
    print(f"\nloss spread after {STEPS_CHECKED} steps: {spread:.2e} "
          f"({'agree' if spread < 1e-4 * max(1.0, abs(losses['ours'])) else 'DISAGREE'}); "
          f"hand numpy gradient checked against ours: loss after one step {lo:.7f} (ours), {ln:.7f} (numpy), "
          "parameters after two steps within 1e-6"
          + (f"; not run: {', '.join(missing)} (not installed)" if missing else ""))
    targets(t)


def targets(t):
    torch_forms = [n for n in t if n.startswith("pytorch")]
    fastest_torch = min(torch_forms, key=t.get) if torch_forms else "pytorch"
    checks = [  # (target, peer, bound on ours / peer, strict)
        ("softmax MLP: ours within 1.2x of numpy", "numpy", 1.2, False),
        (f"softmax MLP: faster than PyTorch (its faster form here, {fastest_torch})", fastest_torch, 1.0, True),
    ]
    rows = []
    for what, peer, bound, strict in checks:
        if peer not in t:
            rows.append([what, "-", f"not run ({peer} missing)"])
            continue
        r = t["ours"] / t[peer]
        rows.append([what, f"{r:.3f}", common.verdict(r < bound if strict else r <= bound)])
    print(f"\n### Softmax MLP targets ({common.cpu_class()})\n")
    print(common.table(["target", "ratio ours / peer", "status"], rows))


if __name__ == "__main__":
    main()
