"""Reconstruction sampling (Dauphin, Glorot & Bengio, ICML 2011) for the sigmoid auto-encoder
on sparse binary input.

Each step reconstructs example r only on S_r = (its ones) + (a sample of its zeros), and weights
the loss term of a sampled zero by 1 / E[times it is drawn]; ones keep weight 1. The weighted sum
over the sample, divided by B * d as the full mean is, has expectation the full mean BCE and (the
gradient being linear in the weighted terms) the full gradient, whatever the proposal, as long as
every zero can be drawn.

Proposals (how the zeros are drawn):
- 'uniform': K draws, each uniform over the row's n0 zeros, with replacement (a zero drawn twice
  counts twice): E[times drawn] = K / n0.
- 'partner' (default): those K, and also the ones of another row of the batch (row (r + s) mod B,
  one shift s uniform in [1, B) per step, so each row's partner is any other row alike) that are
  zeros of row r: E[times drawn] = K / n0 + c / (B - 1), c the number of other rows of the batch
  with a one there. The zeros most worth reconstructing (where other examples have ones, so the
  model predicts ones) are drawn often with small weights instead of rarely with weight n0 / K.
When K >= n0, all the row's zeros are kept once with weight 1: the full loss and gradient (same
terms, summed in another order: equal within float32 rounding). With denoising (corruption P),
the encoder reads the ones each kept with probability 1 - P, drawn here too; the decoder still
reconstructs the clean x.

The control variate (SampledSGD's default): the derivative of the loss w.r.t. a logit z_rc is
sigmoid(z_rc) - x_rc. Split it as base[c] + (sigmoid(z_rc) - x_rc - base[c]) with base[c] =
sigmoid(dec[c] . hbar + bv[c]), hbar the batch's mean hidden vector: the first part is summed
exactly over every (r, c) (rank-one terms: base h-sum for the decoder, sum of base[c] dec[c] for dh,
B base for bv), the second is what the sample estimates. Unbiased still (base does not depend on
the draw); where a unit's logit varies little across the batch (the many units that are on only
as noise in wide sparse data) the estimated part is near zero, so the importance weights n0 / K no
longer make those units' updates noisy. Where the logit varies (units on in some examples only)
the estimated part is large and must be drawn often, which the partner proposal does.

Cost per step: the encoder is a gather-sum of W's rows at the ones, the decoder reads the rows of
the sampled positions only, and SGD writes the rows of W (tied; untied: rows of W, columns of W2)
and the entries of bv that the step read: O((nnz + B * K + nnz of the partners) * hidden); the
control variate adds a pass over the decoder's d rows (O(d * hidden): the numpy step makes two,
the C step one that reads and writes each row; against the full step's O(B * d * hidden) three
times). The tied float32 step runs in C
(tessera.trainer._sampled, trainer/native/sampled_kernels.c) when built; the numpy code here is
its reference and its fallback (same sample bit for bit, same arithmetic, dot products summed in
another order). Momentum and adam are refused: their decay touches every row (a lazy per-row
state would be needed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from tessera.trainer import sparse
from tessera.trainer.ops.elementwise import softplus_tail_into, twice_sigmoid

if TYPE_CHECKING:
    from tessera.trainer.models.autoencoder import AutoEncoder

_STREAM_TAG = 0x52534D50  # separates the sampler's generator from the weight initialisation's


def check_k(k: Any) -> int:
    """K as an int >= 1, or a ValueError saying what K is."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"reconstruction_sampling must be a positive integer (the number of zeros "
                         f"reconstructed per example), got {k!r}")
    return int(k)


def binary_pattern(x: Any) -> sparse.BinaryRows:
    """The ones of a 0/1 batch: a numpy array (one scan of it) or a scipy sparse matrix (O(nnz))."""
    if hasattr(x, "tocsr") and hasattr(x, "nnz"):
        csr = x.tocsr()
        csr.sum_duplicates()  # also sorts the column indices within rows
        csr.eliminate_zeros()
        if not np.all(csr.data == 1):
            raise ValueError("reconstruction sampling needs a binary (0/1) input; the batch holds other values")
        return sparse.BinaryRows.from_csr(csr.indptr, csr.indices, csr.shape, csr.dtype)
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"reconstruction sampling needs a 2-D batch, got shape {x.shape}")
    pattern = sparse.detect(x, force=True)
    if pattern is None:
        raise ValueError("reconstruction sampling needs a binary (0/1) input; the batch holds other values")
    return pattern


PROPOSALS = ("partner", "uniform")
PARTNERS = 2  # rows lending their ones to each row (partner proposal): chosen by measurement (trainer/README.md)
SAMPLED_KERNELS_ENV = "TESSERA_SAMPLED_KERNELS"  # "numpy" turns the native step off (tests, benchmarks)
_loaded: list[ModuleType | None] = []


def native_kernels() -> ModuleType | None:
    """tessera.trainer._sampled (trainer/native/sampled_*) when it was built and not turned off by
    TESSERA_SAMPLED_KERNELS=numpy; None: the numpy reference runs (same sample, same arithmetic,
    summed in another order)."""
    if os.environ.get(SAMPLED_KERNELS_ENV) == "numpy":
        return None
    if not _loaded:
        try:
            from tessera.trainer import _sampled
        except ImportError:
            _sampled = None
        _loaded.append(_sampled)
    return _loaded[0]


def _without(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """A mask of the entries of `keys` not in `sorted_keys` (ascending)."""
    if not len(sorted_keys):
        return np.ones(len(keys), bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] != keys


def check_proposal(proposal: Any) -> str:
    """The proposal's name, or a ValueError naming the known ones."""
    if proposal not in PROPOSALS:
        raise ValueError(f"reconstruction sampling proposal must be one of {', '.join(PROPOSALS)}, got {proposal!r}")
    return proposal


@dataclass
class Sample:
    """The positions reconstructed in one step, as (row, column) pairs sorted by row (each row's
    ones, then its sampled zeros): `target` is x there, `weight` the importance weight."""

    cols: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    indptr: np.ndarray  # start of each row's pairs

    @property
    def rows(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))


def build_sample(ones: sparse.BinaryRows, k: int, shifts: np.ndarray, ranks: np.ndarray,
                 native: ModuleType | None) -> Sample:
    """The pairs of a draw (the random numbers are the caller's): row r's ones (target 1, weight 1);
    for each of the m `shifts` (distinct, in [1, n); none: the uniform proposal) the ones of row
    (r + shift) mod n that are zeros of row r; the zeros of rank ranks[r] (k of them, each in
    [0, n0_r)) among row r's zeros. A row with no more than k zeros gets all of them, weight 1,
    instead. A sampled zero's weight is 1 / E[times it is drawn] = 1 / (k / n0_r + m c / (n - 1)),
    c the rows of the batch with a one there. `native`: the C kernel (same pairs, same weights bit
    for bit) or None (numpy)."""
    n, d = ones.shape
    shifts = np.asarray(shifts, np.int64)
    if native is not None:
        bound = native.draw_bound(ones.indptr, d, k, shifts)
        out_indptr = np.empty(n + 1, np.int64)
        cols, target, weight = np.empty(bound, np.int64), np.empty(bound, np.float32), np.empty(bound, np.float32)
        pairs = native.draw(ones.indptr, ones.cols, d, k, shifts, ranks, _scratch_counts(d), out_indptr, cols,
                            target, weight)
        return Sample(cols[:pairs], target[:pairs], weight[:pairs], out_indptr)
    nnz = np.diff(ones.indptr)
    n0 = d - nnz
    full = n0 <= k
    stride = d + 1  # (row, col) -> row * stride + col
    one_keys = ones.rows * stride + ones.cols
    parts = [(ones.rows, ones.cols, np.ones(len(ones.cols)))]  # (rows, cols, weights); ones first
    for r in np.flatnonzero(full):  # every zero of the row (the full reconstruction there)
        mask = np.ones(d, bool)
        mask[ones.cols[ones.indptr[r]:ones.indptr[r + 1]]] = False
        zc = np.flatnonzero(mask)
        parts.append((np.full(len(zc), r), zc, np.ones(len(zc))))
    uniform = k / np.maximum(n0, 1)
    m = len(shifts) if n > 1 else 0
    count = np.bincount(ones.cols, minlength=d) if m else None
    for shift in shifts[:m]:
        pr = (np.arange(n) + shift) % n
        cnt = np.where(full, 0, nnz[pr])
        prow = np.repeat(np.arange(n), cnt)
        start = np.repeat(ones.indptr[pr] - np.r_[0, np.cumsum(cnt)[:-1]], cnt)
        pc = ones.cols[start + np.arange(len(prow))]
        keep = _without(prow * stride + pc, one_keys)
        prow, pc = prow[keep], pc[keep]
        parts.append((prow, pc, 1.0 / (uniform[prow] + m * count[pc] / (n - 1))))
    many = np.flatnonzero(~full)
    q = ranks[many].reshape(-1)
    r = np.repeat(many, k)
    # rank q among a row's zeros -> column q + #{i : s_i - i <= q}, s the row's sorted ones
    # (s_i - i zeros precede the i-th one); searched in all rows at once with a row offset
    shifted = ones.cols - (np.arange(len(ones.cols)) - ones.indptr[ones.rows]) + ones.rows * stride
    zc = q + (np.searchsorted(shifted, q + r * stride, side="right") - ones.indptr[r])
    parts.append((r, zc, 1.0 / (uniform[r] + (m * count[zc] / (n - 1) if m else 0.0))))
    rows = np.concatenate([p[0] for p in parts])
    order = np.argsort(rows, kind="stable")  # each part is row-ordered: rows keep ones, partners, uniform
    target = np.concatenate([np.ones(len(ones.cols), np.float32)]
                            + [np.zeros(len(p[0]), np.float32) for p in parts[1:]])
    weight = np.concatenate([p[2] for p in parts]).astype(np.float32)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return Sample(np.concatenate([p[1] for p in parts])[order].astype(np.int64), target[order], weight[order], indptr)


_counts_scratch: dict[int, np.ndarray] = {}


def _scratch_counts(d: int) -> np.ndarray:
    """The C draw's per-column counter (zero between calls: the kernel empties what it fills)."""
    if d not in _counts_scratch:
        _counts_scratch.clear()
        _counts_scratch[d] = np.zeros(d, np.int32)
    return _counts_scratch[d]


class ZeroSampler:
    """Draws the zeros to reconstruct (and the denoising mask) from a numpy Generator seeded by the
    run's seed; get_state/set_state let checkpoints resume it exactly. `partners`: how many other
    rows of the batch lend their ones to each row (partner proposal)."""

    def __init__(self, k: int, seed: int, proposal: str = "partner", partners: int = PARTNERS) -> None:
        self.k = check_k(k)
        self.proposal = check_proposal(proposal)
        if isinstance(partners, bool) or not isinstance(partners, (int, np.integer)) or partners < 1:
            raise ValueError(f"partners must be a positive integer, got {partners!r}")
        self.partners = int(partners)
        self._seed = seed
        self.rng = np.random.default_rng([seed, _STREAM_TAG])

    def get_state(self) -> dict:
        return {"seed": self._seed, "sampler": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self._seed = int(state["seed"])
        self.rng.bit_generator.state = state["sampler"]

    def keep_mask(self, n: int, corruption: float) -> np.ndarray:
        """The denoising mask of n ones: each kept with probability 1 - corruption."""
        return self.rng.random(n) >= corruption

    def draw(self, ones: sparse.BinaryRows) -> Sample:
        """The pairs to reconstruct for a batch whose ones are `ones`: the partners' shifts (distinct,
        uniform in [1, n)), then k ranks per row, each uniform over the row's zeros (with
        replacement)."""
        n, d = ones.shape
        n0 = d - np.diff(ones.indptr)
        shifts = np.zeros(0, np.int64)
        if self.proposal == "partner" and n > 1:
            shifts = self.rng.choice(n - 1, min(self.partners, n - 1), replace=False) + 1
        ranks = self.rng.integers(0, np.maximum(n0, 1)[:, None], size=(n, self.k))
        return build_sample(ones, self.k, shifts, ranks, native_kernels())


@dataclass
class SparseGradient:
    """The sampled loss and its gradient, stored by the rows it touches (with the control variate,
    every row of the decoder: its exact part is a rank-one term over the whole width)."""

    loss: np.floating
    w_rows: np.ndarray  # rows of W (tied: encoder and decoder terms summed)
    w_values: np.ndarray
    w2_cols: np.ndarray  # untied: columns of W2 (values as rows: (len, hidden)); tied: empty
    w2_values: np.ndarray
    bh: np.ndarray
    bv_cols: np.ndarray
    bv_values: np.ndarray

    def dense(self, n_visible: int, tied: bool) -> dict[str, np.ndarray]:
        """The full-size gradient arrays, named as the model's params (tests)."""
        nh = self.bh.shape[0]
        dt = self.bh.dtype
        g = {"W": np.zeros((n_visible, nh), dt), "bh": self.bh.copy(), "bv": np.zeros(n_visible, dt)}
        g["W"][self.w_rows] = self.w_values
        g["bv"][self.bv_cols] = self.bv_values
        if not tied:
            g["W2"] = np.zeros((nh, n_visible), dt)
            g["W2"][:, self.w2_cols] = self.w2_values.T
        return g


@dataclass
class Backward:
    """What the gradient is made of: the loss, the hidden layer h, the loss's derivative w.r.t.
    each reconstructed logit (per pair of the sample: its sampled part) and w.r.t. the hidden
    pre-activation; with the control variate, `base` (per visible unit: the derivative every
    logit of that unit also gets, exactly, scaled by 1 / (B d) as `scale` says)."""

    loss: np.floating
    h: np.ndarray
    dz: np.ndarray
    dpre: np.ndarray
    base: np.ndarray | None
    scale: np.floating


def mean_field(dec: np.ndarray, bv: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The control variate at the batch's mean hidden vector hbar: base[c] = sigmoid(dec[c] . hbar +
    bv[c]) for every visible unit c (a guess of each logit's derivative sigmoid(z_rc) - x_rc at the
    zeros, shared by the rows), and v = sum of base[c] dec[c] (its part of every row's dh)."""
    dt = h.dtype
    hbar = h.sum(axis=0) / dt.type(len(h))
    base = dec @ hbar
    base += bv
    base = np.multiply(twice_sigmoid(dt)(base, base), dt.type(0.5), out=base)
    return base, base @ dec


def backward(model: AutoEncoder, ones: sparse.BinaryRows, sample: Sample, enc: sparse.BinaryRows,
             control_variate: bool = True) -> Backward:
    """Forward and backward pass of the sampled reconstruction at the model's current parameters;
    `enc` holds the ones the encoder reads (the corrupted input when denoising, else `ones`)."""
    W = model.W.get_value(borrow=True)
    bh, bv = model.bh.get_value(borrow=True), model.bv.get_value(borrow=True)
    dt = W.dtype
    n, d = ones.shape
    nh = W.shape[1]
    twice = twice_sigmoid(dt)
    half, one = dt.type(0.5), dt.type(1)
    inv_n = dt.type(1.0 / (n * d))  # the full loss is a mean over all n * d elements

    pre = enc.gather_sum(W, np.empty((n, nh), dt))
    pre += bh
    h = np.multiply(twice(pre, np.empty_like(pre)), half)
    dec = W if model.tied else model.W2.get_value(borrow=True).T  # decoder rows by visible unit
    # row by row: gather the decoder rows of the row's pairs once, two BLAS matrix-vector products
    ptr = sample.indptr.tolist()
    D = [dec[sample.cols[ptr[r]:ptr[r + 1]]] for r in range(n)]
    z = np.empty(len(sample.cols), dt)
    for r in range(n):
        np.dot(D[r], h[r], out=z[ptr[r]:ptr[r + 1]])
    z += bv[sample.cols]
    terms = softplus_tail_into(z, np.empty_like(z))  # softplus(z) - t z, stably
    terms += np.maximum(z, dt.type(0))
    terms -= sample.target * z
    loss = dt.type(np.vdot(sample.weight, terms) * inv_n)
    dz = twice(z, z)
    dz *= half
    dz -= sample.target
    base = v = None
    if control_variate:
        base, v = mean_field(dec, bv, h)
        dz -= base[sample.cols]
    dz *= sample.weight
    dz *= inv_n
    dh = np.empty((n, nh), dt)
    for r in range(n):
        np.dot(dz[ptr[r]:ptr[r + 1]], D[r], out=dh[r])
    if v is not None:
        dh += v * inv_n
    dpre = dh * h * (one - h)
    return Backward(loss, h, dz, dpre, base, inv_n)


def sampled_gradient(model: AutoEncoder, ones: sparse.BinaryRows, sample: Sample,
                     encoder_ones: sparse.BinaryRows | None = None, control_variate: bool = True) -> SparseGradient:
    """Loss and gradient of the sampled reconstruction at the model's current parameters, stored
    by the rows they touch. `encoder_ones`: the ones the encoder reads, default `ones`."""
    enc = encoder_ones if encoder_ones is not None else ones
    b = backward(model, ones, sample, enc, control_variate)
    loss, h, dz_pairs, dpre = b.loss, b.h, b.dz, b.dpre
    n, d = ones.shape
    dt, nh = h.dtype, h.shape[1]
    dec_cols, dec_values = sparse.column_sums(sample.rows, sample.cols, sample.indptr, dz_pairs, h)
    bv_values = np.bincount(np.searchsorted(dec_cols, sample.cols), weights=dz_pairs,
                            minlength=len(dec_cols)).astype(dt)
    if b.base is not None:  # the exact part: base[c] / (B d) at every (r, c): all columns
        every = np.arange(d)
        at = np.searchsorted(every, dec_cols)
        full_values = np.outer(b.base * b.scale, h.sum(axis=0)).astype(dt)
        full_values[at] += dec_values
        full_bv = (b.base * (b.scale * dt.type(n))).astype(dt)
        full_bv[at] += bv_values
        dec_cols, dec_values, bv_values = every, full_values, full_bv
    enc_rows, enc_values = sparse.column_sums(enc.rows, enc.cols, enc.indptr, np.ones(len(enc.cols), dt), dpre)
    empty = np.zeros(0, np.int64)
    if model.tied:
        w_rows, inv = np.unique(np.concatenate([enc_rows, dec_cols]), return_inverse=True)
        w_values = np.zeros((len(w_rows), nh), dt)
        w_values[inv[:len(enc_rows)]] += enc_values
        w_values[inv[len(enc_rows):]] += dec_values
        return SparseGradient(loss, w_rows, w_values, empty, np.zeros((0, nh), dt), dpre.sum(axis=0),
                              dec_cols, bv_values)
    return SparseGradient(loss, enc_rows, enc_values, dec_cols, dec_values, dpre.sum(axis=0), dec_cols, bv_values)


class SampledSGD:
    """One SGD step with reconstruction sampling: f(batch) -> the sampled loss (an unbiased
    estimate of the full mean BCE), updating in place. `last_stats` counts what the last step
    touched (instrumentation for tests and benchmarks).

    `control_variate` (default on): each zero's derivative sigmoid(z_rc) is split into base[c] =
    sigmoid(dec[c] . hbar + bv[c]) (hbar the batch's mean hidden vector), summed exactly over every
    (r, c) as rank-one terms, and sigmoid(z_rc) - base[c], which the sample estimates. Still
    unbiased (base does not depend on the draw); the estimated part is small where a unit's logits
    vary little across the batch, which is most of a wide sparse input's units. Where they do vary
    (units on in some examples only) base is a poor guess, and the proposal must draw those zeros
    often, as the partner proposal does. It costs a streaming pass over the decoder's d rows per
    step (the C step applies the rank-one update in the pass that computes base; numpy makes two
    passes); off, the step touches only the sampled rows."""

    def __init__(self, model: AutoEncoder, sampler: ZeroSampler, lr: float, control_variate: bool = True) -> None:
        self.model, self.sampler = model, sampler
        self.lr = model.dtype.type(lr)
        self.control_variate = bool(control_variate)
        self.last_stats: dict[str, int] = {}
        self._buffers: dict[str, np.ndarray] = {}

    def gradient(self, x: Any) -> SparseGradient:
        """Draw a sample for batch x and return the sampled loss and gradient (no update)."""
        ones, enc, sample = self._draw(x)
        return sampled_gradient(self.model, ones, sample, enc, self.control_variate)

    def _draw(self, x: Any) -> tuple[sparse.BinaryRows, sparse.BinaryRows, Sample]:
        ones = binary_pattern(x)
        if ones.shape[1] != self.model.n_visible:
            raise ValueError(f"the batch has {ones.shape[1]} features, the auto-encoder {self.model.n_visible}")
        enc = ones
        corruption = self.model.corruption
        if corruption > 0:
            keep = self.sampler.keep_mask(len(ones.cols), corruption)
            enc = sparse.BinaryRows.from_csr(
                np.r_[0, np.cumsum(np.bincount(ones.rows[keep], minlength=ones.shape[0]))],
                ones.cols[keep], ones.shape, self.model.dtype)
        sample = self.sampler.draw(ones)
        self.last_stats = {"pairs": len(sample.cols), "ones": len(ones.cols)}
        return ones, enc, sample

    def __call__(self, x: Any) -> np.floating:
        ones, enc, sample = self._draw(x)
        native = native_kernels()
        W = self.model.W.get_value(borrow=True)
        if native is not None and self.model.tied and W.dtype == np.float32 and W.flags.c_contiguous:
            return self._native_step(native, ones, enc, sample)
        return self._numpy_step(ones, enc, sample)

    def _native_step(self, native: ModuleType, ones: sparse.BinaryRows, enc: sparse.BinaryRows,
                     sample: Sample) -> np.floating:
        """The tied step in C: the numpy step's arithmetic in float32 (no FMA), each dot product
        summed in a fixed order instead of BLAS's, sigmoid from exp instead of tanh."""
        m, lr = self.model, self.lr
        W = m.W.get_value(borrow=True)
        bh, bv = m.bh.get_value(borrow=True), m.bv.get_value(borrow=True)
        dt = W.dtype
        n, d = ones.shape
        nh = W.shape[1]
        half, one = dt.type(0.5), dt.type(1)
        inv_n = dt.type(1.0 / (n * d))
        h = np.empty((n, nh), dt)
        native.gather_sum(W, enc.indptr, enc.cols, h, nh)
        h += bh
        np.multiply(twice_sigmoid(dt)(h, h), half, out=h)
        hsum = h.sum(axis=0)
        neg = -lr
        base = u = None
        if self.control_variate:
            # the pass that computes the mean field also applies its exact part of the SGD step,
            # W[c] += base[c] u, while the row is in cache; the decoder then reads the old rows
            # as W[c] - base[c] u (equal within float32 rounding)
            base, v, u = self._scratch("base", d, dt), np.empty(nh, dt), hsum * (neg * inv_n)
            native.mean_field(W, bv, hsum / dt.type(n), base, v, u)
        pairs = len(sample.cols)
        dh = np.empty((n, nh), dt)
        # the decoder column by column (each row of W read once): its forward, backward, and SGD
        # writes (they need only h and the pair's derivative, so a row is written once its pairs
        # have read it)
        loss = dt.type(native.decode_update(
            W, bv, base, u, h, sample.indptr, sample.cols, sample.target, sample.weight, inv_n, neg, dh,
            self._scratch("rows", 2 * n, dt), self._scratch("colptr", d + 1, np.int64),
            self._scratch("entries", 3 * pairs + d, np.int32))) * inv_n
        if base is not None:
            dh += v * inv_n
        dpre = dh
        dpre *= h
        dpre *= one - h
        bh -= lr * dpre.sum(axis=0)
        native.scatter_rows(W, enc.indptr, enc.cols, np.full(len(enc.cols), neg, dt), dpre)  # the encoder's writes
        if base is not None:
            bv += base * (neg * inv_n * dt.type(n))
        return loss

    def _scratch(self, name: str, size: int, dtype: type) -> np.ndarray:
        """A work array of at least `size` items kept across steps: a fresh large array every step
        would cost the kernel's page zeroing each time."""
        buf = self._buffers.get(name)
        if buf is None or len(buf) < size:
            buf = self._buffers[name] = np.empty(max(size, 2 * len(buf) if buf is not None else size), dtype)
        return buf

    def _numpy_step(self, ones: sparse.BinaryRows, enc: sparse.BinaryRows, sample: Sample) -> np.floating:
        m, lr = self.model, self.lr
        W = m.W.get_value(borrow=True)
        b = backward(m, ones, sample, enc, self.control_variate)
        # SGD straight into the rows: W[c] -= lr * coef * (dpre or h)[r] for each pair (r, c)
        neg = -lr
        if not sparse.scatter_rows_into(W, enc.indptr, enc.cols, np.full(len(enc.cols), neg, W.dtype), b.dpre):
            return self._apply(sampled_gradient(m, ones, sample, enc, self.control_variate))  # no scipy
        n = ones.shape[0]
        if m.tied:
            sparse.scatter_rows_into(W, sample.indptr, sample.cols, b.dz * neg, b.h)
            if b.base is not None:
                W += np.outer(b.base, b.h.sum(axis=0) * (neg * b.scale))
        else:
            W2 = m.W2.get_value(borrow=True)
            dec_cols, dec_values = sparse.column_sums(sample.rows, sample.cols, sample.indptr, b.dz, b.h)
            W2[:, dec_cols] -= (lr * dec_values).T
            if b.base is not None:
                W2 += np.outer(b.h.sum(axis=0) * (neg * b.scale), b.base)
        m.bh.get_value(borrow=True)[...] -= lr * b.dpre.sum(axis=0)
        bv = m.bv.get_value(borrow=True)
        np.add.at(bv, sample.cols, b.dz * neg)
        if b.base is not None:
            bv += b.base * (neg * b.scale * W.dtype.type(n))
        return b.loss

    def _apply(self, g: SparseGradient) -> np.floating:
        m, lr = self.model, self.lr
        W = m.W.get_value(borrow=True)
        W[g.w_rows] -= lr * g.w_values
        if not m.tied:
            W2 = m.W2.get_value(borrow=True)
            W2[:, g.w2_cols] -= (lr * g.w2_values).T
        m.bh.get_value(borrow=True)[...] -= lr * g.bh
        m.bv.get_value(borrow=True)[g.bv_cols] -= lr * g.bv_values
        return g.loss
