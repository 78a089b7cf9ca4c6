"""Reconstruction sampling against the full reconstruction, on wide sparse binary data: the seed
tied auto-encoder (SGD, mean BCE) on 50,000 features 0.2% dense with latent structure
(trainer.datasets.synthetic_sparse_csr), batch 256. Every run starts from the same weights and
steps through the same minibatches; the full method is our trainer's ordinary compiled step (its
sparse input path on), the sampled one AutoEncoder(reconstruction_sampling=K)'s step (the C kernels
of tessera.trainer._sampled when built) with its defaults (the 'partner' proposal, the control
variate) and, for comparison, without the control variate and with the uniform proposal (with and
without it).

Each method trains at each learning rate of a small grid and is judged at its best (the lowest
held-out cross-entropy after the epochs; every grid point is printed). Tuning on the held-out
rows favours every method alike; the figure compared is the same for all.

Reported: the median CPU time per step of each (time.thread_time of every training step, one
thread; the batch handed over ready: CSR for sampled, dense for full, converted outside the
timer); the held-out reconstruction
cross-entropy (mean BCE of the full reconstruction over every element of held-out rows) after
the same number of epochs, and after the same training time (the time the full method took for
those epochs at its best rate: the sampled method, at its best rate, trains on for as long).

    THREADS=1 python bench/train_sampling.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
import time

import common  # sets the thread variables before numpy loads
import numpy as np

sys.path.insert(0, common.ROOT)
from tessera.trainer import datasets  # noqa: E402
from tessera.trainer import reconstruction_sampling as rs  # noqa: E402
from tessera.trainer.models.autoencoder import AutoEncoder  # noqa: E402

FEATURES, DENSITY, HIDDEN, BATCH = 50_000, 0.002, 128, 256
K = 50  # uniform zeros per example (and the partners' ones): chosen by measurement (trainer/README.md)
# The loss is a mean over all B * 50,000 elements, so per-weight gradients are tiny and the step
# size is large; lr / 50,000 is the rate of the per-example sum of the BCE over features. One grid
# for every method (steps of about sqrt(2)), wide enough that each method's best is inside it.
LRS = (5_000.0, 7_000.0, 10_000.0, 14_000.0, 20_000.0)


def train(data, held_out, k, proposal, lr, epochs, budget, shuffle=0, control_variate=True, sampler_seed=None):
    """Train until `epochs` epochs are done and `budget` seconds of steps are spent; returns
    (per-step seconds, CE after `epochs` epochs, (epochs, CE) when the budget ran out, seconds).
    `shuffle` seeds the minibatch order (0: the order every method shares); `sampler_seed` the
    sampled method's draws (None: the model's seed, as training does)."""
    model = AutoEncoder(FEATURES, HIDDEN, seed=0, reconstruction_sampling=k, sampling_proposal=proposal)
    if k is None:
        step = model.train_function("sgd", lr)
    else:
        if sampler_seed is not None:
            model.sampler = rs.ZeroSampler(k, sampler_seed, proposal)
        step = rs.SampledSGD(model, model.sampler, lr, control_variate=control_variate)
    n = data.shape[0]
    times, spent, ce_epochs, at_budget = [], 0.0, None, None
    epoch = 0
    while ce_epochs is None or at_budget is None:
        order = np.random.default_rng([shuffle, epoch]).permutation(n)
        for s in range(0, n - BATCH + 1, BATCH):
            xb = data[order[s:s + BATCH]]
            if k is None:
                xb = xb.toarray()
            t = time.thread_time()
            step(xb)
            dt = time.thread_time() - t
            times.append(dt)
            spent += dt
            if at_budget is None and budget is not None and spent >= budget:
                at_budget = (epoch + s / n + BATCH / n, model.cross_entropy(held_out))
        epoch += 1
        if epoch == epochs:
            ce_epochs = model.cross_entropy(held_out)
        if budget is None and ce_epochs is not None:
            at_budget = (epoch, ce_epochs)
    return times, ce_epochs, at_budget, spent


def grid(train_x, held, k, proposal, cv, lrs, epochs):
    """Every rate of the grid for `epochs` epochs: {lr: (CE, step seconds list, seconds spent)}."""
    out = {}
    for lr in lrs:
        times, ce, _, spent = train(train_x, held, k, proposal, lr, epochs, None, control_variate=cv)
        out[lr] = (ce, times, spent)
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    epochs = 2 if quick else 6
    n_train = 1280 if quick else 2560
    print("## Reconstruction sampling (wide sparse binary data)\n")
    print(common.machine_line() + "\n")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "trainer", "tessera", "bench/train_sampling.py"],
                           cwd=common.ROOT, capture_output=True, text=True).stdout.strip()
    print(f"commit {head.stdout.strip() or 'unknown'}{' (trainer files modified)' if dirty else ''}; "
          f"command: make -C bench train-sampling{' QUICK=1' if '--quick' in sys.argv else ''}\n")
    t0 = time.perf_counter()
    x = datasets.synthetic_sparse_csr(n_samples=n_train + 512, n_features=FEATURES, density=DENSITY, seed=0)
    train_x, held = x[:n_train], x[n_train:]
    print(f"data: synthetic_sparse_csr, {n_train} training + 512 held-out rows x {FEATURES:,} features, "
          f"density {x.nnz / (x.shape[0] * x.shape[1]):.4f} ({x.nnz / x.shape[0]:.0f} ones per row); "
          f"tied AE {FEATURES}->{HIDDEN}, SGD, batch {BATCH}, {epochs} epochs; sampled: K = {K} uniform "
          f"zeros per example (plus, 'partner' proposal, the ones of {rs.PARTNERS} other rows of the batch); sampled "
          f"step: {'C kernels (tessera.trainer._sampled)' if rs.native_kernels() else 'numpy (no C kernels)'}\n")
    untrained = AutoEncoder(FEATURES, HIDDEN, seed=0).cross_entropy(held)
    methods = [("full reconstruction (ours, compiled step)", None, "partner", True),
               (f"reconstruction sampling, K={K}, partner proposal, control variate (defaults)", K, "partner", True),
               (f"reconstruction sampling, K={K}, partner proposal, no control variate", K, "partner", False),
               (f"reconstruction sampling, K={K}, uniform proposal, control variate", K, "uniform", True),
               (f"reconstruction sampling, K={K}, uniform proposal, no control variate", K, "uniform", False)]
    results = [grid(train_x, held, k, prop, cv, LRS, epochs) for _, k, prop, cv in methods]
    best = [min(r, key=lambda lr: r[lr][0]) for r in results]
    grid_rows = [[name, f"{lr:g}", f"{r[lr][0]:.6f}", common.fmt_time(float(np.median(r[lr][1]))),
                  "best" if lr == b else ""]
                 for (name, *_), r, b in zip(methods, results, best, strict=True) for lr in r]
    print(common.table(["method", "lr", f"held-out CE after {epochs} epochs", "median CPU per step", ""], grid_rows))
    full_ce, _, full_spent = results[0][best[0]]
    t_full = float(np.median([t for v in results[0].values() for t in v[1]]))
    rows, figures = [], []
    for (name, k, prop, cv), r, lr in zip(methods, results, best, strict=True):
        ce = r[lr][0]
        t_step = float(np.median([t for v in r.values() for t in v[1]]))
        budget = (epochs, ce) if k is None else train(train_x, held, k, prop, lr, epochs, full_spent,
                                                       control_variate=cv)[2]
        rows.append([name, f"{lr:g}", common.fmt_time(t_step), f"{t_full / t_step:.1f}", f"{ce:.6f}",
                     f"{100 * (ce - full_ce) / full_ce:+.1f}%", f"{budget[0]:.1f} epochs, {budget[1]:.6f}"])
        figures.append((t_full / t_step, (ce - full_ce) / full_ce, (budget[1] - full_ce) / full_ce))
    print()
    print(common.table(["method", "best lr", "median CPU per step (all rates)", "speed-up",
                        f"held-out CE after {epochs} epochs", "vs full",
                        f"held-out CE after {full_spent:.1f} s of steps"], rows))
    print(f"\n(untrained held-out CE {untrained:.6f})")
    # the yardstick's own noise: the full method at its best rate with other minibatch orders
    others = [train(train_x, held, None, "partner", best[0], epochs, None, shuffle=s)[1] for s in (1, 2)]
    print(f"\nfull method, best lr, two other minibatch orders: held-out CE after {epochs} epochs "
          + ", ".join(f"{ce:.6f} ({100 * (ce - full_ce) / full_ce:+.1f}%)" for ce in others)
          + ": the run-to-run spread of the figure the 2% target compares")
    # and the sampled method's own: its best rate with other sampler seeds (same minibatches)
    k, prop = methods[1][1], methods[1][2]
    seeds = [train(train_x, held, k, prop, best[1], epochs, None, sampler_seed=s)[1] for s in (1, 2)]
    print(f"\nsampled method (defaults), best lr, two other sampler seeds: held-out CE after {epochs} epochs "
          + ", ".join(f"{ce:.6f} ({100 * (ce - full_ce) / full_ce:+.1f}% vs full)" for ce in seeds))
    speed, gap, gap_budget = figures[1]
    checks = [["sampled step (default proposal) at least 10x faster than the full step (batch 256)",
               f"{speed:.1f}x", common.verdict(speed >= 10)],
              [f"its held-out CE after {epochs} epochs within 2% of the full method's (each at its best lr)",
               f"{100 * gap:+.1f}%", common.verdict(abs(gap) <= 0.02)],
              [f"its held-out CE after the full method's training time ({full_spent:.1f} s), vs full",
               f"{100 * gap_budget:+.1f}%", "reported"]]
    print("\n### Reconstruction sampling targets\n")
    print(common.table(["target", "figure", "status"], checks))
    print(f"\n(train_sampling took {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
