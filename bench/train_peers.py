"""Training step of the seed tied auto-encoder (SGD, mean BCE): our trainer vs numpy with a
hand-derived gradient, PyTorch eager and PyTensor. Same data, same initial weights, same thread
count; contenders alternate round-robin; medians, ratios ours/theirs, and the fraction of this
machine's numpy SGEMM rate (measured in the same run) each reaches.

    THREADS=1 python bench/train_peers.py [--quick]
"""

from __future__ import annotations

import os
import sys
import warnings

import common  # sets the thread variables before numpy loads
import numpy as np

sys.path.insert(0, common.ROOT)
import tessera.trainer.tensor as T  # noqa: E402
from tessera import trainer  # noqa: E402
from tessera.trainer import datasets, fused_native  # noqa: E402

warnings.filterwarnings("ignore", message=r"np\.dot\(\) is faster")  # PyTensor's numba backend
LR = 0.1
STEPS_CHECKED = 10


def seed_ours(W0, nv, nh, sparse_inputs="auto"):
    """The seed program, imports changed only (`trainer` as theano)."""
    W = trainer.shared(W0.copy(), name="W")
    bv = trainer.shared(np.zeros(nv, np.float32), name="bv")
    bh = trainer.shared(np.zeros(nh, np.float32), name="bh")
    x = T.matrix("x")
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    x_hat = T.nnet.sigmoid(T.dot(h, W.T) + bv)
    loss = T.nnet.binary_crossentropy(x_hat, x).mean()
    g_w, g_h, g_v = T.grad(loss, [W, bh, bv])
    return trainer.function([x], loss, updates=[(W, W - LR * g_w), (bv, bv - LR * g_v), (bh, bh - LR * g_h)],
                            sparse_inputs=sparse_inputs)


def seed_numpy(W0, nv, nh):
    """Hand-derived gradient, as a careful numpy user writes it (float32 throughout)."""
    W, bh, bv = W0.copy(), np.zeros(nh, np.float32), np.zeros(nv, np.float32)
    lr = np.float32(LR)

    def step(X):
        h = 1.0 / (1.0 + np.exp(-(X @ W + bh)))
        xh = 1.0 / (1.0 + np.exp(-(h @ W.T + bv)))
        loss = -np.mean(X * np.log(xh) + (1 - X) * np.log1p(-xh))
        d2 = (xh - X) * np.float32(1.0 / X.size)
        d1 = (d2 @ W) * h * (1 - h)
        gW = X.T @ d1 + d2.T @ h
        W.__isub__(lr * gW)
        bh.__isub__(lr * d1.sum(0))
        bv.__isub__(lr * d2.sum(0))
        return loss
    return step


def seed_numpy_lean(W0, nv, nh):
    """The lean hand-written step: one sigmoid form 1/(1+exp(-z)), the BCE gradient xh - X, the
    gradient in five matmuls, SGD in place; float32 throughout, no loss in the step (`loss=True`
    computes it apart, from the logits, for the agreement column only)."""
    W, bh, bv = W0.copy(), np.zeros(nh, np.float32), np.zeros(nv, np.float32)
    lr, one = np.float32(LR), np.float32(1)

    def step(X, loss=False):
        h = one / (one + np.exp(-(X @ W + bh)))
        z = h @ W.T + bv
        out = float(np.mean(np.logaddexp(0, z) - X * z)) if loss else None
        xh = one / (one + np.exp(-z))
        d2 = (xh - X) * np.float32(1.0 / X.size)
        d1 = (d2 @ W) * h * (one - h)
        W.__isub__(lr * (X.T @ d1 + d2.T @ h))
        bh.__isub__(lr * d1.sum(0))
        bv.__isub__(lr * d2.sum(0))
        return out
    return step


def seed_torch(W0, nv, nh, logits=False):
    """PyTorch eager, autograd + manual SGD; `logits` uses the fused BCE-with-logits loss."""
    import torch
    import torch.nn.functional as F

    W = torch.tensor(W0, requires_grad=True)
    bh = torch.zeros(nh, requires_grad=True)
    bv = torch.zeros(nv, requires_grad=True)
    params = (W, bh, bv)

    def step(X):
        x = torch.from_numpy(X)
        h = torch.sigmoid(x @ W + bh)
        z = h @ W.T + bv
        loss = F.binary_cross_entropy_with_logits(z, x) if logits else F.binary_cross_entropy(torch.sigmoid(z), x)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(LR * g)
        return loss.item()
    return step


def seed_pytensor(W0, nv, nh):
    """The seed program on PyTensor (default mode, floatX=float32)."""
    import pytensor as theano
    import pytensor.tensor as pt

    W = theano.shared(W0.copy(), name="W")
    bv = theano.shared(np.zeros(nv, np.float32), name="bv")
    bh = theano.shared(np.zeros(nh, np.float32), name="bh")
    x = pt.matrix("x", dtype="float32")
    h = pt.sigmoid(pt.dot(x, W) + bh)
    x_hat = pt.sigmoid(pt.dot(h, W.T) + bv)
    loss = -(x * pt.log(x_hat) + (1 - x) * pt.log(1 - x_hat)).mean()
    g_w, g_h, g_v = pt.grad(loss, [W, bh, bv])
    lr = np.float32(LR)
    return theano.function([x], loss, updates=[(W, W - lr * g_w), (bv, bv - lr * g_v), (bh, bh - lr * g_h)])


def contenders(W0, nv, nh, sparse, binary):
    out = {"ours": seed_ours(W0, nv, nh)}
    if binary:  # ours may take the sparse-input path: the dense one beside it
        out["ours (dense path)"] = seed_ours(W0, nv, nh, sparse_inputs=False)
    out["numpy"] = seed_numpy(W0, nv, nh)
    if not sparse:
        out["numpy (lean)"] = seed_numpy_lean(W0, nv, nh)
    missing = []
    try:
        import torch
        torch.set_num_threads(common.THREADS)
        out["pytorch"] = seed_torch(W0, nv, nh)
        out["pytorch (logits loss)"] = seed_torch(W0, nv, nh, logits=True)
    except ImportError:
        missing.append("pytorch")
    try:
        os.environ.setdefault("PYTENSOR_FLAGS", "floatX=float32")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["pytensor"] = seed_pytensor(W0, nv, nh)
    except ImportError:
        missing.append("pytensor")
    return out, missing


def run_case(label, nv, nh, batch, X, rounds, reps, sgemm):
    rng = np.random.default_rng(1)
    bound = 4.0 * np.sqrt(6.0 / (nv + nh))
    W0 = rng.uniform(-bound, bound, (nv, nh)).astype(np.float32)
    batches = [np.ascontiguousarray(X[i:i + batch]) for i in range(0, len(X) - batch + 1, batch)]
    fns, missing = contenders(W0, nv, nh, sparse="sparse" in label, binary="binary" in label)
    losses = {}
    for name, fn in fns.items():  # 10 steps from the same init on the same batches
        with np.errstate(all="ignore"):
            for i in range(STEPS_CHECKED):
                if name == "numpy (lean)":
                    loss = fn(batches[i % len(batches)], loss=i == STEPS_CHECKED - 1)
                else:
                    loss = fn(batches[i % len(batches)])
        losses[name] = float(loss)
    counters = dict.fromkeys(fns, STEPS_CHECKED)

    def stepper(name):
        def go():
            fns[name](batches[counters[name] % len(batches)])
            counters[name] += 1
        return go
    with np.errstate(all="ignore"):
        t = common.round_robin({n: stepper(n) for n in fns}, rounds=rounds, reps=reps)
    flops = 10.0 * batch * nv * nh  # 5 dense matmuls of 2*B*nv*nh each (the dense-equivalent count)
    rows = []
    for name in fns:
        gf = flops / t[name] / 1e9
        rows.append([name, common.fmt_time(t[name]), f"{t['ours'] / t[name]:.2f}", f"{gf:.1f}",
                     f"{100 * gf / sgemm:.0f}%", f"{losses[name]:.6f}"])
    print(f"\n### {label}\n")
    print(common.table(["contender", "median per step", "ours / this", "GFLOP/s", "of SGEMM", "loss after 10 steps"],
                       rows))
    spread = max(losses.values()) - min(losses.values())
    print(f"\nloss spread after {STEPS_CHECKED} steps: {spread:.2e} "
          f"({'agree' if spread < 1e-4 * max(1.0, abs(losses['ours'])) else 'DISAGREE'}); "
          f"ours ran the {'sparse' if fns['ours'].last_call_sparse else 'dense'} path"
          + (f"; not run: {', '.join(missing)} (not installed)" if missing else ""))
    return t


def main() -> None:
    quick = "--quick" in sys.argv
    q = 3 if quick else 1
    print("## Training\n")
    print(common.machine_line() + "\n")
    print(f"trainer elementwise kernels: {fused_native.path()} ({fused_native.KERNELS_ENV}={fused_native.mode()})\n")
    print(common.versions("torch", "pytensor") + "\n")
    sgemm = common.sgemm_gflops()
    print(f"numpy float32 SGEMM (1024^3, {common.THREADS} thread(s)): {sgemm:.1f} GFLOP/s; "
          "GFLOP/s below counts the 5 dense matmuls of a step (10*B*nv*nh), also for the sparse path")
    print("\n(times are per SGD step; 'ours / this' below 1 = ours faster)")
    rng = np.random.default_rng(0)
    digits = datasets.load_digits()
    dense = (rng.random((1280, 784)) < 0.3).astype(np.float32)
    sp = datasets.synthetic_sparse(n_samples=2560, n_features=5000, density=0.01, seed=0).astype(np.float32)
    t64 = run_case("64->32, batch 128, digits", 64, 32, 128, digits, 21 // q, 50, sgemm)
    t784 = run_case("784->256, batch 128, 30%-dense binary", 784, 256, 128, dense, 15 // q, 5, sgemm)
    t5k = run_case("5000->256, batch 256, 1%-dense binary (sparse)", 5000, 256, 256, sp, 9 // q, 2, sgemm)
    targets(t64, t784, t5k, sgemm)


def targets(t64, t784, t5k, sgemm):
    checks = [  # (target, timings, peer, bound on ours / peer)
        ("784->256: ours within 1.1x of numpy", t784, "numpy", 1.1),
        ("784->256: faster than PyTorch", t784, "pytorch", 1.0),
        ("784->256: faster than PyTorch (logits loss)", t784, "pytorch (logits loss)", 1.0),
        ("784->256: faster than the lean numpy step", t784, "numpy (lean)", 1.0),
        ("784->256: faster than PyTensor", t784, "pytensor", 1.0),
        ("64->32: ours within 1.5x of numpy", t64, "numpy", 1.5),
        ("64->32: at most 1.0x the lean numpy step (judged: faster)", t64, "numpy (lean)", 1.0),
        ("64->32: at most half of PyTorch", t64, "pytorch", 0.5),
        ("5000 1%: sparse path beats dense path", t5k, "ours (dense path)", 1.0),
    ]
    rows = []
    for what, t, peer, bound in checks:
        if peer not in t:
            rows.append([what, "-", f"not run ({peer} missing)"])
            continue
        r = t["ours"] / t[peer]
        rows.append([what, f"{r:.2f}", common.verdict(r <= bound if bound != 1.0 else r < 1.0)])
    # the share of SGEMM is the dense path's (on the sparse path ours skips the zeros' flops)
    dense = t784.get("ours (dense path)", t784["ours"])
    share = 10.0 * 128 * 784 * 256 / dense / 1e9 / sgemm
    rows.append(["784->256: at least 80% of this machine's SGEMM rate (dense path)", f"{share:.2f} of SGEMM",
                 common.verdict(share >= 0.8)])
    if "ours (dense path)" in t784 and "numpy (lean)" in t784:
        rows.append(["784->256: dense path / lean numpy step (for reference, not a target)",
                     f"{dense / t784['numpy (lean)']:.2f}", "-"])
    print("\n### Trainer targets\n")
    print(common.table(["target", "ratio ours / peer", "status"], rows))


if __name__ == "__main__":
    main()
