"""Sparse binary first layer: dot(x, W) as a gather-sum of W's rows, x.T @ G as a scatter-add.

Used by compiled functions when, at run time, an input feeding a dot is 0/1 and sparse
enough that skipping the zeros beats dense BLAS. The trainer's native kernels
(tessera.trainer._fused, trainer/native/binary_kernels.c) run both products when built: each
output element adds its rows in column order, with the sums held in registers, and x.T @ G is the
same kernel on the pattern of x.T. Without them, scipy's CSR kernels when scipy imports (the same
gather/scatter loops in C, one element at a time), else a numpy fallback.
"""

from __future__ import annotations

import numpy as np

from tessera.trainer import fused_native

# scipy's loops run ~50x fewer flops/s than dense SGEMM, so sparsity must be high to win. The
# native kernels add a whole W row per one in vector registers: the seed step at 784 -> 256 is
# as fast on the sparse path as on the dense one at about 50% ones on the AVX-512 and AVX2
# paths, 20% on the 4-wide baseline (trainer/README.md, trainer/scripts/time_sparse_inputs.py).
# The limits stay below.
MAX_DENSITY = 0.02
NATIVE_MAX_DENSITY = {"avx512": 0.4, "avx2": 0.4, "baseline": 0.15}
MIN_ELEMENTS = 1 << 14  # small inputs: BLAS is already cheap and the check is not free


def max_density() -> float:
    """The share of ones up to which an input takes the sparse path: NATIVE_MAX_DENSITY of the
    native kernels' path, else (scipy or numpy kernels) MAX_DENSITY."""
    fused = fused_native.native(np.dtype(np.float32))
    return NATIVE_MAX_DENSITY[fused.path()] if fused is not None else MAX_DENSITY


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


class PatternBuffers:
    """The scratch of one input's patterns, reused call after call: the index arrays (grown when a
    call needs more) and, on the numpy path, the nonzero mask. A compiled function keeps one per
    sparse input, so its steps allocate none. A pattern built in them is valid until the next one
    is."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._mask: np.ndarray | None = None

    def mask(self, shape: tuple[int, ...]) -> np.ndarray:
        """A bool array of `shape` (contents undefined)."""
        if self._mask is None or self._mask.shape != shape:
            self._mask = np.empty(shape, bool)
        return self._mask

    def get(self, name: str, size: int) -> np.ndarray:
        """An int64 array of `size` entries (contents undefined)."""
        a = self._arrays.get(name)
        if a is None or len(a) < size:
            a = self._arrays[name] = np.empty(size + size // 4, np.int64)  # room for the next calls' growth
        return a[:size]


class BinaryRows:
    """Row-compressed pattern of a 0/1 matrix (values are implicitly 1)."""

    def __init__(self, x: np.ndarray, flat_nz: np.ndarray) -> None:
        n, d = x.shape
        rows, cols = np.divmod(flat_nz, d)
        counts = np.bincount(rows, minlength=n)
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        self._set(indptr, cols, (n, d), x.dtype)
        self._rows = rows

    @classmethod
    def from_csr(cls, indptr: np.ndarray, indices: np.ndarray, shape: tuple[int, int],
                 dtype: np.dtype) -> BinaryRows:
        """The pattern of a CSR matrix whose stored values are all 1 and whose column indices are
        sorted within rows (the caller sees to both: scipy's sort_indices), without touching the
        zeros: O(nnz), whatever the width."""
        self = cls.__new__(cls)
        self._set(np.asarray(indptr, np.int64), np.asarray(indices, np.int64), (shape[0], shape[1]), np.dtype(dtype))
        return self

    def _set(self, indptr: np.ndarray, cols: np.ndarray, shape: tuple[int, int], dtype: np.dtype) -> None:
        self.shape, self.indptr, self.cols = shape, indptr, cols
        self._dtype = dtype
        self._rows: np.ndarray | None = None
        self._transposed: tuple[np.ndarray, np.ndarray] | None = None
        self._buffers: PatternBuffers | None = None  # where the transposed pattern goes, when set
        self._scipy_csr: object = None  # built on first use: callers with their own kernels never pay for it

    @property
    def rows(self) -> np.ndarray:
        """The row of each one (in pattern order), built on first use."""
        if self._rows is None:
            self._rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        return self._rows

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
        fused = fused_native.native(out.dtype)
        if fused is not None and fused.binary_matmul(W, self.indptr, self.cols, out):
            return out
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
        fused = fused_native.native(out.dtype)
        if fused is not None:
            if self._transposed is None:
                buf = self._buffers or PatternBuffers()
                colptr, rows = buf.get("colptr", self.shape[1] + 1), buf.get("rows", len(self.cols))
                if fused.binary_transpose(self.indptr, self.cols, self.shape[1], colptr, rows):
                    self._transposed = colptr, rows
            if self._transposed is not None and fused.binary_matmul(G, *self._transposed, out):
                return out
        if self._csr is not None:
            out[...] = self._csr.T @ G
            return out
        out.fill(0)
        np.add.at(out, self.cols, G[self.rows])
        return out


def _native_pattern(x: np.ndarray, nnz: int | None, buffers: PatternBuffers | None) -> BinaryRows | None | bool:
    """detect's native pattern: a BinaryRows, None (x is not 0/1), or False (not applicable: no
    native kernels, or x not C-contiguous float32)."""
    fused = fused_native.native(x.dtype)
    if fused is None or not x.flags.c_contiguous or x.size == 0:
        return False
    n, d = x.shape
    if nnz is None:
        scanned = fused.scan(x)
        if scanned is None:
            return False
        nnz = scanned[1]
    buf = buffers or PatternBuffers()
    indptr, cols = buf.get("indptr", n + 1), buf.get("cols", nnz + d)  # + d: rows written without tests
    got = fused.binary_pattern(x, d, indptr, cols)
    if got is None:
        return False
    if got < 0:
        return None
    self = BinaryRows.__new__(BinaryRows)
    self._set(indptr, cols[:got], (n, d), x.dtype)
    self._buffers = buf
    return self


def detect(x: np.ndarray, force: bool = False, nnz: int | None = None,
           buffers: PatternBuffers | None = None) -> BinaryRows | None:
    """A BinaryRows for x when x is 2-D, 0/1 and sparse enough (or `force` and 0/1), else None.

    `buffers`: the scratch to build it in, kept by the caller across calls (a native pattern then
    lives in them until their next use); `nnz`, x's number of nonzeros when the caller has
    counted them.
    """
    if x.ndim != 2 or (not force and x.size < MIN_ELEMENTS):
        return None
    limit = None if force else max_density()
    if limit is not None and nnz is not None and nnz > limit * x.size:
        return None
    native = _native_pattern(x, nnz, buffers)
    if native is not False:
        if native is not None and limit is not None and len(native.cols) > limit * x.size:
            return None
        return native
    # via a bool mask: numpy's nonzero on bool is ~8x faster than on float
    mask = np.not_equal(x, 0, out=buffers.mask(x.shape) if buffers is not None else None)
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
