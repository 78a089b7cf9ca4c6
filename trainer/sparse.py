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
        rows, cols = np.divmod(flat_nz, d)
        counts = np.bincount(rows, minlength=n)
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        self._set(indptr, cols, rows, (n, d), x.dtype)

    @classmethod
    def from_csr(cls, indptr: np.ndarray, indices: np.ndarray, shape: tuple[int, int],
                 dtype: np.dtype) -> BinaryRows:
        """The pattern of a CSR matrix whose stored values are all 1 and whose column indices are
        sorted within rows (the caller sees to both: scipy's sort_indices), without touching the
        zeros: O(nnz), whatever the width."""
        n = shape[0]
        indptr = np.asarray(indptr, np.int64)
        rows = np.repeat(np.arange(n), np.diff(indptr))
        self = cls.__new__(cls)
        self._set(indptr, np.asarray(indices, np.int64), rows, (n, shape[1]), np.dtype(dtype))
        return self

    def _set(self, indptr: np.ndarray, cols: np.ndarray, rows: np.ndarray, shape: tuple[int, int],
             dtype: np.dtype) -> None:
        self.shape, self.indptr, self.cols, self.rows = shape, indptr, cols, rows
        self._dtype = dtype
        self._scipy_csr: object = None  # built on first use: callers with their own kernels never pay for it

    @property
    def _csr(self):
        """The pattern as a scipy CSR matrix of ones (its C kernels), or None without scipy."""
        sp = _sp()
        if self._scipy_csr is None and sp:
            data = np.ones(len(self.cols), self._dtype)
            self._scipy_csr = sp.csr_matrix((data, self.cols, self.indptr), shape=self.shape)
        return self._scipy_csr

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


def column_sums(rows: np.ndarray, cols: np.ndarray, indptr: np.ndarray, coef: np.ndarray,
                H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A.T @ H restricted to the columns A uses, A the sparse (len(H), width) matrix with A[r, c] =
    coef at each pair (rows[p], cols[p]), pairs sorted by row with `indptr` the row starts and no
    column twice in a row. Returns (the distinct columns ascending, their (n, H.shape[1]) rows of
    A.T @ H): the gradient of the rows of a weight that a sparse product read, costing
    O(pairs * H.shape[1]) and never an array of the width."""
    if len(cols) == 0:
        return np.zeros(0, np.int64), np.zeros((0, H.shape[1]), H.dtype)
    used, inv = np.unique(cols, return_inverse=True)
    inv = inv.reshape(-1)
    sp = _sp()
    if sp:
        a = sp.csr_matrix((coef, inv, indptr), shape=(H.shape[0], len(used)))
        return used, np.asarray(a.T @ H, dtype=H.dtype)
    order = np.argsort(inv, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inv[order]) != 0])
    return used, np.add.reduceat(H[rows[order]] * coef[order, None], starts, axis=0)


def scatter_rows_into(Y: np.ndarray, indptr: np.ndarray, cols: np.ndarray, coef: np.ndarray,
                      H: np.ndarray) -> bool:
    """Y[cols[p]] += coef[p] * H[r] for each pair p of row r (pairs sorted by row, `indptr` the row
    starts), in place: an SGD step on the rows a sparse product read, with no compact gradient
    array and no search for the distinct rows. scipy's CSC kernel (Y += A @ H with A = the pairs
    as a (len(Y), len(H)) matrix stored by column) when scipy imports; returns False (Y untouched)
    when it cannot run: no scipy, or Y not C-contiguous (the kernel writes Y's memory in place)."""
    sp = _sp()
    tools = getattr(getattr(sp, "_sparsetools", None), "csc_matvecs", None) if sp else None
    if tools is None or not Y.flags.c_contiguous or Y.dtype != H.dtype or Y.ndim != 2:
        return False
    tools(Y.shape[0], H.shape[0], Y.shape[1], np.asarray(indptr, np.int64), np.asarray(cols, np.int64),
          np.ascontiguousarray(coef, Y.dtype), np.ascontiguousarray(H), Y.reshape(-1))
    return True


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
