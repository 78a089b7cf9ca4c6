"""Reconstruction sampling against the full reconstruction, on wide sparse binary data: the seed
tied auto-encoder (SGD, mean BCE) on 50,000 features 0.2% dense with latent structure
(trainer.datasets.synthetic_sparse_csr), batch 256. Both methods start from the same weights and
step through the same minibatches; the full method is our trainer's ordinary compiled step (its
sparse input path on), the sampled one AutoEncoder(reconstruction_sampling=K)'s step.

Reported: the median time per step of each (every training step timed, the batch handed over
ready: CSR for sampled, dense for full, converted outside the timer); the held-out reconstruction
cross-entropy (mean BCE of the full reconstruction over every element of held-out rows) after
the same number of epochs, and after the same training time (the time the full method took for
those epochs: the sampled method trains on for as long).

    THREADS=1 python bench/train_sampling.py [--quick]
"""

from __future__ import annotations

import sys
import time

import common  # sets the thread variables before numpy loads
import numpy as np

sys.path.insert(0, common.ROOT)
from tessera.trainer import datasets  # noqa: E402
from tessera.trainer.models.autoencoder import AutoEncoder  # noqa: E402

FEATURES, DENSITY, HIDDEN, BATCH = 50_000, 0.002, 128, 256
K = 100  # zeros per example: about its number of ones, as the paper's default
LR = 10_000.0  # the loss is a mean over 50,000 features: the step size scales with the width


def train(data, held_out, k, epochs, budget):
    """Train until `epochs` epochs are done and `budget` seconds of steps are spent; returns
    (per-step seconds, CE after `epochs` epochs, (epochs, CE) when the budget ran out)."""
    model = AutoEncoder(FEATURES, HIDDEN, seed=0, reconstruction_sampling=k)
    step = model.train_function("sgd", LR)
    n = data.shape[0]
    times, spent, ce_epochs, at_budget = [], 0.0, None, None
    epoch = 0
    while ce_epochs is None or at_budget is None:
        order = np.random.default_rng([0, epoch]).permutation(n)
        for s in range(0, n - BATCH + 1, BATCH):
            xb = data[order[s:s + BATCH]]
            if k is None:
                xb = xb.toarray()
            t = time.perf_counter()
            step(xb)
            dt = time.perf_counter() - t
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


def main() -> None:
    quick = "--quick" in sys.argv
    epochs = 2 if quick else 6
    n_train = 1280 if quick else 2560
    print("## Reconstruction sampling (wide sparse binary data)\n")
    print(common.machine_line() + "\n")
    t0 = time.perf_counter()
    x = datasets.synthetic_sparse_csr(n_samples=n_train + 512, n_features=FEATURES, density=DENSITY, seed=0)
    train_x, held = x[:n_train], x[n_train:]
    print(f"data: synthetic_sparse_csr, {n_train} training + 512 held-out rows x {FEATURES:,} features, "
          f"density {x.nnz / (x.shape[0] * x.shape[1]):.4f} ({x.nnz / x.shape[0]:.0f} ones per row); "
          f"tied AE {FEATURES}->{HIDDEN}, SGD lr {LR:g}, batch {BATCH}, K = {K} zeros per example\n")
    untrained = AutoEncoder(FEATURES, HIDDEN, seed=0).cross_entropy(held)
    full_t, full_ce, _, full_spent = train(train_x, held, None, epochs, None)
    samp_t, samp_ce, samp_budget, _ = train(train_x, held, K, epochs, full_spent)
    t_full, t_samp = float(np.median(full_t)), float(np.median(samp_t))
    rows = [["full reconstruction (ours, compiled step)", common.fmt_time(t_full), "1.00",
             f"{full_ce:.6f}", f"{epochs} epochs, {full_ce:.6f}"],
            [f"reconstruction sampling, K={K}", common.fmt_time(t_samp), f"{t_full / t_samp:.1f}",
             f"{samp_ce:.6f}", f"{samp_budget[0]:.1f} epochs, {samp_budget[1]:.6f}"]]
    print(common.table(["method", "median per step", "speed-up", f"held-out CE after {epochs} epochs",
                        f"held-out CE after {full_spent:.1f} s of steps"], rows))
    print(f"\n(untrained held-out CE {untrained:.6f}; steps timed: {len(full_t)} full, {len(samp_t)} sampled)")
    gap = (samp_ce - full_ce) / full_ce
    gap_budget = (samp_budget[1] - full_ce) / full_ce
    checks = [["sampled step at least 10x faster than the full step (batch 256)", f"{t_full / t_samp:.1f}x",
               common.verdict(t_full / t_samp >= 10)],
              [f"held-out CE after {epochs} epochs within 2% of the full method's",
               f"{100 * gap:+.1f}%", common.verdict(abs(gap) <= 0.02)],
              [f"held-out CE after the full method's training time ({full_spent:.1f} s), sampled vs full",
               f"{100 * gap_budget:+.1f}%", "reported"]]
    print("\n### Reconstruction sampling targets\n")
    print(common.table(["target", "figure", "status"], checks))
    print(f"\n(train_sampling took {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
