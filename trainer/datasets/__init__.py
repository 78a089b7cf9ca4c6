"""Data sets for the trainer: bundled digits, files (.npy/.npz/CSV, scipy sparse .npz), a
synthetic binary very-sparse generator, and seeded minibatch iteration.

All loaders return a 2-D float array (n_samples, n_features), float32 unless asked otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from tessera import resources

DIGITS_PATH = str(resources.path("trainer", "datasets", "digits.npz"))  # attribution: DIGITS-ATTRIBUTION.md (CC BY 4.0)


def load_digits(dtype: str = "float32", with_labels: bool = False):
    """The 1,797 UCI 8x8 digits binarized at grey level > 7: float (1797, 64) of 0/1."""
    with np.load(DIGITS_PATH) as d:
        x = (d["images"].reshape(len(d["images"]), -1) > 7).astype(dtype)
        labels = d["labels"].astype(np.int64)
    return (x, labels) if with_labels else x


def _load_sparse_npz(path: str, dtype: str) -> np.ndarray:
    try:
        import scipy.sparse as sp
    except ImportError:
        raise RuntimeError(f"{path} is a scipy sparse .npz; install scipy to read it") from None
    return np.asarray(sp.load_npz(path).toarray(), dtype=dtype)


def load_file(path: str, dtype: str = "float32", key: str | None = None) -> np.ndarray:
    """Load a 2-D data matrix from .npy, .npz (first array, or `key`; scipy sparse too) or CSV."""
    low = path.lower()
    if low.endswith(".npy"):
        x = np.load(path, allow_pickle=False)
    elif low.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            if "format" in z.files and "indptr" in z.files:  # scipy.sparse.save_npz layout
                return _load_sparse_npz(path, dtype)
            name = key or ("x" if "x" in z.files else "X" if "X" in z.files else z.files[0])
            x = z[name]
    elif low.endswith((".csv", ".txt")):
        with open(path) as f:
            first = f.readline()
        skip = 0 if _is_numeric_row(first) else 1  # a header row is skipped
        x = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    else:
        raise ValueError(f"{path}: unsupported data file (use .npy, .npz or .csv)")
    x = np.asarray(x)
    if x.ndim == 1:
        x = x.reshape(1, -1)
    elif x.ndim > 2:
        x = x.reshape(len(x), -1)
    return x.astype(dtype)


def _is_numeric_row(line: str) -> bool:
    try:
        [float(t) for t in line.strip().split(",") if t.strip()]
        return True
    except ValueError:
        return False


def load(name_or_path: str, dtype: str = "float32") -> np.ndarray:
    """'digits', 'sparse' (the synthetic generator, default size) or a file path."""
    if name_or_path == "digits":
        return load_digits(dtype)
    if name_or_path in ("sparse", "synthetic"):
        return synthetic_sparse(dtype=dtype)
    if not os.path.exists(name_or_path):
        raise FileNotFoundError(f"no data set or file named {name_or_path!r} "
                                "(try 'digits', 'sparse' or a .npy/.npz/.csv file)")
    return load_file(name_or_path, dtype)


def synthetic_sparse(n_samples: int = 2000, n_features: int = 5000, density: float = 0.01,
                     n_latent: int = 20, seed: int = 0, dtype: str = "float32") -> np.ndarray:
    """Binary, very sparse data with latent structure.

    Each latent factor owns a random set of features; a sample activates 1-3 factors and
    switches on each owned feature with high probability, plus a little noise, scaled so
    the mean density is about `density`.
    """
    rng = np.random.default_rng(seed)
    per_sample = density * n_features
    k_mean = 2.0
    owned = max(1, int(round(per_sample / k_mean / 0.8)))
    factors = [rng.choice(n_features, size=owned, replace=False) for _ in range(n_latent)]
    x = np.zeros((n_samples, n_features), dtype=dtype)
    noise = max(per_sample * 0.1, 0.0) / n_features
    for i in range(n_samples):
        for f in rng.choice(n_latent, size=int(rng.integers(1, 4)), replace=False):
            cols = factors[f]
            x[i, cols[rng.random(len(cols)) < 0.8]] = 1
        nz = rng.random(n_features) < noise
        x[i, nz] = 1
    return x


def synthetic_sparse_csr(n_samples: int = 2000, n_features: int = 50000, density: float = 0.002,
                         n_latent: int = 20, seed: int = 0, dtype: str = "float32"):
    """synthetic_sparse's kind of data (latent factors owning feature sets, 1-3 active per sample,
    each owned feature on with probability 0.8, plus noise ones making up about a tenth), as a
    scipy.sparse CSR matrix built in O(nonzeros): for widths whose dense matrix would not fit."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    per_sample = density * n_features
    owned = max(1, int(round(per_sample / 2.0 / 0.8)))
    factors = [rng.choice(n_features, size=owned, replace=False) for _ in range(n_latent)]
    noise = per_sample * 0.1 / n_features
    rows = []
    for _ in range(n_samples):
        active = rng.choice(n_latent, size=int(rng.integers(1, 4)), replace=False)
        on = [factors[f][rng.random(owned) < 0.8] for f in active]
        on.append(rng.integers(0, n_features, rng.binomial(n_features, noise)))
        rows.append(np.unique(np.concatenate(on)))
    indptr = np.zeros(n_samples + 1, np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    indices = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return sp.csr_matrix((np.ones(len(indices), dtype), indices, indptr), shape=(n_samples, n_features))


def minibatches(x: np.ndarray, batch_size: int, rng: np.random.Generator | None = None,
                drop_last: bool = False) -> Iterator[np.ndarray]:
    """Yield minibatches of rows; shuffled with `rng` when given (one permutation per call)."""
    n = len(x)
    idx = rng.permutation(n) if rng is not None else np.arange(n)
    stop = n - (n % batch_size) if drop_last else n
    for s in range(0, stop, batch_size):
        yield x[idx[s:s + batch_size]]
