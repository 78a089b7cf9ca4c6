"""`tessera data synth`: write a large synthetic binary very-sparse data set as `.npz` shards.

The data is synthetic_sparse_csr's kind (latent factors owning feature sets, 1-3 active per row,
each owned feature on with probability 0.8, plus noise ones making up about a tenth of a row's
ones), generated vectorised one shard at a time: the factors come from `default_rng(seed)` and
shard s's rows from `default_rng([seed, s])`, so any shard can be made alone and the set does
not depend on how it was cut into files beyond the shard size. Each shard is written atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from tessera.trainer.datasets.shards import write_sparse_shard


def factors(n_features: int, density: float, n_latent: int, seed: int) -> np.ndarray:
    """(n_latent, owned) feature ids each latent factor switches on."""
    rng = np.random.default_rng(seed)
    owned = max(1, int(round(density * n_features / 2.0 / 0.8)))
    owned = min(owned, n_features)
    return np.stack([rng.choice(n_features, size=owned, replace=False) for _ in range(n_latent)])


def shard_rows(rows: int, n_features: int, density: float, table: np.ndarray, seed: int, shard: int):
    """`rows` rows of shard `shard` as a float32 CSR matrix of ones."""
    import scipy.sparse as sp

    rng = np.random.default_rng([seed, shard])
    n_latent, owned = table.shape
    picks = np.argsort(rng.random((rows, n_latent)), axis=1)[:, :3]  # 3 distinct factors per row
    active = np.arange(3)[None, :] < rng.integers(1, 4, rows)[:, None]  # of which the first 1-3 count
    on = (rng.random((rows, 3, owned)) < 0.8) & active[:, :, None]
    r_idx, f_slot, o_idx = np.nonzero(on)
    cols = table[picks[r_idx, f_slot], o_idx]
    n_noise = rng.binomial(n_features, density * 0.1, rows)
    noise_rows = np.repeat(np.arange(rows), n_noise)
    noise_cols = rng.integers(0, n_features, int(n_noise.sum()))
    key = np.unique(np.concatenate([r_idx, noise_rows]).astype(np.int64) * n_features
                    + np.concatenate([cols, noise_cols]))
    r, c = np.divmod(key, n_features)
    indptr = np.zeros(rows + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=rows), out=indptr[1:])
    return sp.csr_matrix((np.ones(len(c), np.float32), c.astype(np.int32), indptr), shape=(rows, n_features))


def synth(out_dir: str, rows: int, n_features: int = 50000, density: float = 0.002, rows_per_shard: int = 10000,
          n_latent: int = 20, seed: int = 0, log: object = None) -> list[str]:
    """Write `rows` rows as shards part-00000.npz, ... in out_dir; returns their paths."""
    if rows < 1 or n_features < 1 or rows_per_shard < 1 or not 0 < density <= 1:
        raise ValueError("rows, features and rows per shard must be >= 1 and density in (0, 1]")
    table = factors(n_features, density, n_latent, seed)
    paths = []
    for s, start in enumerate(range(0, rows, rows_per_shard)):
        path = os.path.join(out_dir, f"part-{s:05d}.npz")
        write_sparse_shard(path, shard_rows(min(rows_per_shard, rows - start), n_features, density, table, seed, s))
        paths.append(path)
        if log:
            log(f"wrote {path}")
    return paths


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", required=True)
    s = sub.add_parser("synth", help="write a synthetic binary sparse data set as .npz shards")
    s.add_argument("--features", type=int, default=50000)
    s.add_argument("--density", type=float, default=0.002, help="mean fraction of ones per row (default 0.002)")
    s.add_argument("--rows", type=int, required=True)
    s.add_argument("--rows-per-shard", type=int, default=10000)
    s.add_argument("--latent", type=int, default=20, help="latent factors (default 20)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("-o", "--out", required=True, help="output directory")


def main(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    try:
        paths = synth(args.out, args.rows, args.features, args.density, args.rows_per_shard, args.latent, args.seed)
    except (OSError, ValueError) as exc:
        print(f"tessera data synth: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} shard(s), {args.rows} rows x {args.features} features, to {args.out} "
          f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0
