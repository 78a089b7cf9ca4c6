"""Sparse binary first layer: dot(x, W) as a gather-sum of W's rows, x.T @ G as a scatter-add.

Used by compiled functions when, at run time, an input feeding a dot is 0/1 and sparse
enough that skipping the zeros beats dense BLAS. scipy's CSR kernels are used when scipy
imports (they are the same gather/scatter loops in C); otherwise a numpy fallback.
"""

from __future__ import annotations

import numpy as np

# Dense SGEMM runs ~50x more flops/s than a gather loop, so sparsity must be high to win.
MAX_DENSITY = 0.02
MIN_ELEMENTS = 1 << 14  # small inputs: BLAS is already cheap and the check is not free

_scipy_sparse = None


def _sp():
    global _scipy_sparse
    if _scipy_sparse is None:
        try:
            import scipy.sparse as sp
            _scipy_sparse = sp
        except ImportError:
            _scipy_sparse = False
    return _scipy_sparse


class BinaryRows:
    """Row-compressed pattern of a 0/1 matrix (values are implicitly 1)."""

    def __init__(self, x: np.ndarray, flat_nz: np.ndarray) -> None:
        n, d = x.shape
        self.shape = (n, d)
        self.rows, self.cols = np.divmod(flat_nz, d)
        counts = np.bincount(self.rows, minlength=n)
        self.indptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=self.indptr[1:])
        self._csr = None
        sp = _sp()
        if sp:
            data = np.ones(len(self.cols), x.dtype)
            self._csr = sp.csr_matrix((data, self.cols, self.indptr), shape=(n, d))

    def gather_sum(self, W: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out = x @ W."""
        if self._csr is not None:
            out[...] = self._csr @ W
            return out
        out.fill(0)
        nonempty = np.flatnonzero(self.indptr[1:] > self.indptr[:-1])
        if len(nonempty):
            out[nonempty] = np.add.reduceat(W[self.cols], self.indptr[nonempty], axis=0)
        return out

    def scatter_add(self, G: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out = x.T @ G: each nonzero (r, c) adds G[r] into row c."""
        if self._csr is not None:
            out[...] = self._csr.T @ G
            return out
        out.fill(0)
        np.add.at(out, self.cols, G[self.rows])
        return out


def detect(x: np.ndarray, force: bool = False, scratch: np.ndarray | None = None) -> BinaryRows | None:
    """A BinaryRows for x when x is 2-D, 0/1 and sparse enough (or `force` and 0/1), else None.

    `scratch`, a bool array of x's shape, avoids allocating the mask on every call.
    """
    if x.ndim != 2 or (not force and x.size < MIN_ELEMENTS):
        return None
    # via a bool mask: numpy's nonzero on bool is ~8x faster than on float
    mask = np.not_equal(x, 0, out=scratch if scratch is not None and scratch.shape == x.shape else None)
    nnz = np.count_nonzero(mask)
    if not force and nnz > MAX_DENSITY * x.size:
        return None
    flat = np.flatnonzero(mask)
    if not np.all(x.ravel()[flat] == 1):
        return None
    return BinaryRows(x, flat)


# ---------------------------------------------------------------- row-sparse gradients (embeddings)

# A gathered-rows update beats the dense one when it touches at most this share of the table.
MAX_ROW_SHARE = 0.5


def summed_rows(g: np.ndarray, idx: np.ndarray, nrows: int) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of W[idx] as (rows, values): the distinct rows idx touches (ascending) and,
    for each, the sum of the g rows gathered from it. Bit for bit the nonzero rows of the dense
    scatter-add `zeros(W.shape); np.add.at(out, idx, g)` (same order of additions, from 0)."""
    flat = idx.reshape(-1)
    if flat.size and (flat.min() < -nrows or flat.max() >= nrows):
        bad = flat[(flat < -nrows) | (flat >= nrows)][0]
        raise IndexError(f"index {bad} is out of bounds for axis 0 with size {nrows}")
    flat = np.where(flat < 0, flat + nrows, flat)
    rows, inv = np.unique(flat, return_inverse=True)
    gv = g.reshape((flat.size,) + g.shape[idx.ndim:])
    vals = np.zeros((len(rows),) + gv.shape[1:], g.dtype)
    np.add.at(vals, inv.reshape(-1), gv)
    return rows, vals


class RowPatch:
    """The new value of a shared table that differs from the old one only in `rows`: applied
    in place (`value[rows] = values`) after every update has been computed from old values."""

    __slots__ = ("rows", "values")

    def __init__(self, rows: np.ndarray, values: np.ndarray) -> None:
        self.rows, self.values = rows, values

    def apply(self, table: np.ndarray) -> None:
        table[self.rows] = self.values
