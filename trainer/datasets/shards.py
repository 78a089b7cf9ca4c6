"""Out-of-core data: a directory or glob of shards read as a stream of shuffled minibatches.

A shard is one file of rows: a scipy sparse `.npz` (`scipy.sparse.save_npz`, read whole: its
size is its nonzeros), a dense `.npz` (its array "x", else the first), or a 2-D `.npy` opened
memory-mapped and read `chunk_rows` rows at a time. Every shard has the same number of columns.

The stream of epoch e is a function of (seed, e) alone: the shard order is a permutation drawn
from `default_rng([seed, e])`, and rows are mixed in a shuffle buffer by permutations drawn from
the same generator. Memory is bounded by the buffer (`buffer_rows` rows plus one block: a chunk
of a `.npy`, or one `.npz` shard), not by the data set: when the buffer holds `buffer_rows` rows
it is permuted, whole batches are emitted from its front until about half of it is left, and the
rest is kept to mix with the next block. Every row is emitted once per epoch; all batches are
full but the epoch's last.
"""

from __future__ import annotations

import glob
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

SUFFIXES = (".npz", ".npy")


class ShardError(ValueError):
    """A shard set that cannot be read: `code` is E_INPUT (nothing matches, mixed widths) or
    E_DATA (a corrupt or non-finite shard); the message names the file."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Shard:
    path: str
    rows: int
    n_features: int
    sparse: bool


def resolve(pattern: str) -> list[str]:
    """The shard files named by a directory (its *.npz and *.npy) or a glob, sorted by path."""
    if os.path.isdir(pattern):
        paths = [os.path.join(pattern, n) for n in os.listdir(pattern)]
    else:
        paths = glob.glob(pattern)
    paths = sorted(p for p in paths if p.lower().endswith(SUFFIXES) and os.path.isfile(p))
    if not paths:
        what = "directory" if os.path.isdir(pattern) else "pattern"
        raise ShardError("E_INPUT", f"no .npz or .npy shard matches the {what} {pattern!r}")
    return paths


def _is_scipy_npz(files: list[str]) -> bool:
    return "format" in files and "indptr" in files and "shape" in files


def inspect(path: str) -> Shard:
    """Read a shard's header (shape, kind) without loading its rows."""
    try:
        if path.lower().endswith(".npy"):
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            shape, sparse = arr.shape, False
        else:
            with np.load(path, allow_pickle=False) as z:
                if _is_scipy_npz(z.files):
                    shape, sparse = tuple(int(v) for v in z["shape"]), True
                else:
                    shape, sparse = z[_dense_key(z.files)].shape, False
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ShardError("E_DATA", f"shard {path} cannot be read: {exc}") from None
    if len(shape) != 2:
        raise ShardError("E_DATA", f"shard {path} holds a {len(shape)}-D array; shards are 2-D (rows, features)")
    return Shard(path, int(shape[0]), int(shape[1]), sparse)


def _dense_key(files: list[str]) -> str:
    if not files:
        raise KeyError("the .npz holds no array")
    return "x" if "x" in files else "X" if "X" in files else files[0]


def _check_finite(values: np.ndarray, shard: Shard, first_row: int, indptr: np.ndarray | None = None) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(np.searchsorted(indptr, bad[0], side="right") - 1) if indptr is not None \
            else int(bad[0] // shard.n_features)
        raise ShardError("E_DATA", f"shard {shard.path} holds {values[bad[0]]} in row {first_row + row}; "
                         "training and scoring need finite data")


def blocks(shard: Shard, chunk_rows: int = 4096, dtype: str = "float32") -> Iterator[Any]:
    """The shard's rows in order, as float blocks: scipy CSR matrices for a sparse shard (one
    block), numpy arrays of at most `chunk_rows` rows for a dense one (memory-mapped `.npy`)."""
    try:
        if shard.sparse:
            import scipy.sparse as sp

            m = sp.load_npz(shard.path).tocsr()
            if m.shape != (shard.rows, shard.n_features):
                raise ValueError(f"shape {m.shape} changed since the header read {shard.rows, shard.n_features}")
            m = m.astype(dtype)
            _check_finite(m.data, shard, 0, m.indptr)
            yield m
            return
        if shard.path.lower().endswith(".npy"):
            arr = np.load(shard.path, mmap_mode="r", allow_pickle=False)
        else:
            with np.load(shard.path, allow_pickle=False) as z:
                arr = z[_dense_key(z.files)]
        for s in range(0, shard.rows, chunk_rows):
            block = np.array(arr[s:s + chunk_rows], dtype=dtype)
            _check_finite(block.reshape(-1), shard, s)
            yield block
    except ShardError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ShardError("E_DATA", f"shard {shard.path} cannot be read: {exc}") from None


def read(shard: Shard, dtype: str = "float32") -> Any:
    """The whole shard as one block (CSR or numpy)."""
    parts = list(blocks(shard, chunk_rows=max(shard.rows, 1), dtype=dtype))
    if not parts:
        return np.zeros((0, shard.n_features), dtype)
    return parts[0]


def _concat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if hasattr(parts[0], "tocsr"):
        import scipy.sparse as sp

        return sp.vstack(parts, format="csr")
    return np.concatenate(parts)


class ShardSet:
    """The shards a directory or glob names, checked to share one width."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.shards = [inspect(p) for p in resolve(pattern)]
        widths = {s.n_features for s in self.shards}
        if len(widths) != 1:
            first = self.shards[0]
            other = next(s for s in self.shards if s.n_features != first.n_features)
            raise ShardError("E_INPUT", f"shards differ in width: {first.path} has {first.n_features} features, "
                             f"{other.path} has {other.n_features}")
        self.n_features = widths.pop()
        self.rows = sum(s.rows for s in self.shards)

    def describe(self) -> str:
        return f"{len(self.shards)} shard(s) ({self.pattern}): {self.rows} rows x {self.n_features} features"

    def batches(self, batch_size: int, seed: int, epoch: int, buffer_rows: int | None = None,
                chunk_rows: int = 4096, skip: int = 0, dtype: str = "float32") -> Iterator[Any]:
        """Epoch `epoch`'s minibatches (CSR for sparse shards, numpy for dense ones), the first
        `skip` of them dropped (resume). buffer_rows defaults to 16 batches and is at least 2."""
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        buffer_rows = max(buffer_rows if buffer_rows is not None else 16 * batch_size, 2 * batch_size)
        rng = np.random.default_rng([seed, epoch])
        emitted = 0

        def emit(pool: Any, rows: int) -> Iterator[Any]:
            nonlocal emitted
            for s in range(0, rows, batch_size):
                if emitted >= skip:
                    yield pool[s:min(s + batch_size, rows)]
                emitted += 1

        pending: list[Any] = []
        held = 0
        for i in rng.permutation(len(self.shards)):
            for block in blocks(self.shards[int(i)], chunk_rows, dtype):
                pending.append(block)
                held += block.shape[0]
                if held < buffer_rows:
                    continue
                pool = _concat(pending)
                pool = pool[rng.permutation(held)]
                take = (held - buffer_rows // 2) // batch_size * batch_size
                yield from emit(pool, take)
                pending, held = [pool[take:]], held - take
        if held:
            pool = _concat(pending)
            yield from emit(pool[rng.permutation(held)], held)


class InMemory:
    """An in-memory matrix (numpy or scipy sparse) behind the ShardSet interface: epoch e's batches
    follow the permutation default_rng([seed, e]), as train_autoencoder's."""

    def __init__(self, data: Any, dtype: str = "float32") -> None:
        self.data = data.tocsr().astype(dtype) if hasattr(data, "tocsr") else np.ascontiguousarray(data, dtype)
        if self.data.ndim != 2:
            raise ValueError(f"training data must be 2-D (rows, features), got shape {self.data.shape}")
        _check_finite(self.data.data if hasattr(self.data, "tocsr") else self.data.reshape(-1),
                      Shard("<in-memory data>", self.data.shape[0], self.data.shape[1], False), 0,
                      self.data.indptr if hasattr(self.data, "tocsr") else None)
        self.rows, self.n_features = self.data.shape
        self.pattern = "<in-memory>"

    def describe(self) -> str:
        return f"in-memory data: {self.rows} rows x {self.n_features} features"

    def batches(self, batch_size: int, seed: int, epoch: int, buffer_rows: int | None = None,
                chunk_rows: int = 4096, skip: int = 0, dtype: str = "float32") -> Iterator[Any]:
        order = np.random.default_rng([seed, epoch]).permutation(self.rows)
        for s in range(skip * batch_size, self.rows, batch_size):
            yield self.data[order[s:s + batch_size]]


def write_atomic(path: str, write: Any) -> None:
    """Call write(file) on a temporary file beside `path`, fsync it, then rename it into place:
    a reader sees the whole file or none of it."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_sparse_shard(path: str, matrix: Any) -> None:
    """Write a scipy sparse matrix as a `.npz` shard, atomically."""
    import scipy.sparse as sp

    write_atomic(path, lambda f: sp.save_npz(f, matrix.tocsr(), compressed=False))
