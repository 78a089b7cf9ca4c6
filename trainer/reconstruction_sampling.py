"""Reconstruction sampling (Dauphin, Glorot & Bengio, ICML 2011) for the sigmoid auto-encoder
on sparse binary input.

Each step reconstructs example r only on S_r = (its ones) + (K of its zeros, drawn uniformly
without replacement), and weights the loss term of a sampled zero by n0_r / K (n0_r = the row's
number of zeros); ones keep weight 1. A zero is drawn with probability K / n0_r, so this is the
Horvitz-Thompson estimator of the sum over the zeros: with the sum divided by B * d as the full
mean is, E[sampled loss] = full mean BCE, and, the gradient being linear in the weighted terms,
E[sampled gradient] = full gradient. When K >= n0_r, all the row's zeros are kept with weight 1:
the full loss and gradient (same terms, summed in another order: equal within float32 rounding).
(The paper's own choice samples as many zeros as ones with the same 1/probability weights; a
fixed K keeps the per-step cost fixed.) With denoising (corruption P), the encoder reads the ones
each kept with probability 1 - P, drawn here too; the decoder still reconstructs the clean x.

Cost per step: the encoder is a gather-sum of W's rows at the ones (sparse.BinaryRows), the
decoder gathers the decoder weights of the sampled positions only, and SGD writes only the rows
of W (tied; untied: rows of W, columns of W2) and the entries of bv that the step read:
O((nnz + B * K) * hidden). Only a dense batch costs a scan of its width (to find the ones); a
scipy sparse batch does not. Momentum and adam are refused: their decay touches every row (a lazy
per-row state would be needed).
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class Sample:
    """The positions reconstructed in one step, as (row, column) pairs sorted by row (each row's
    ones, then its sampled zeros): `target` is x there, `weight` the importance weight."""

    rows: np.ndarray
    cols: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    indptr: np.ndarray  # start of each row's pairs


class ZeroSampler:
    """Draws the zeros to reconstruct (and the denoising mask) from a numpy Generator seeded by the
    run's seed; get_state/set_state let checkpoints resume it exactly."""

    def __init__(self, k: int, seed: int) -> None:
        self.k = check_k(k)
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

    def zero_ranks(self, n0: np.ndarray) -> np.ndarray:
        """(B, K) ranks among each row's zeros, ascending in each row: K distinct values of
        [0, n0_r) drawn uniformly, for rows with n0_r > K (the others keep all their zeros).
        Rows with n0_r >= 2K: K uniform draws, then the repeated ones drawn again until none
        is repeated (rounds over the whole batch; a repeat has probability < 1/2). The process
        treats every value alike, so the K-set it ends with is uniform over the K-subsets.
        Rows with K < n0_r < 2K: the first K of a permutation of [0, n0_r) (O(K) each)."""
        k = self.k
        out = np.empty((len(n0), k), np.int64)
        close = n0 < 2 * k
        for r in np.flatnonzero(close):
            out[r] = np.sort(self.rng.permutation(int(n0[r]))[:k])
        wide = np.flatnonzero(~close)
        if len(wide):
            hi = n0[wide][:, None]
            q = self.rng.integers(0, hi, size=(len(wide), k))
            while True:
                q.sort(axis=1)
                dup = np.zeros(q.shape, bool)
                dup[:, 1:] = q[:, 1:] == q[:, :-1]
                if not dup.any():
                    break
                q[dup] = self.rng.integers(0, np.broadcast_to(hi, q.shape)[dup])
            out[wide] = q
        return out

    def draw(self, ones: sparse.BinaryRows) -> Sample:
        """The pairs to reconstruct for a batch whose ones are `ones`."""
        n, d = ones.shape
        nnz = np.diff(ones.indptr)
        n0 = d - nnz
        dt = np.float32
        k = self.k
        few = np.flatnonzero(n0 <= k)  # every zero kept (weight 1)
        many = np.flatnonzero(n0 > k)
        per_row_zeros = np.where(n0 <= k, n0, k)
        counts = nnz + per_row_zeros
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        total = int(indptr[-1])
        rows = np.repeat(np.arange(n), counts)
        cols = np.empty(total, np.int64)
        target = np.zeros(total, dt)
        weight = np.ones(total, dt)
        # the ones, first in each row
        pos = indptr[ones.rows] + (np.arange(len(ones.cols)) - ones.indptr[ones.rows])
        cols[pos] = ones.cols
        target[pos] = 1
        # rank q among a row's zeros -> column q + #{i : s_i - i <= q}, s the row's sorted ones
        # (s_i - i zeros precede the i-th one); searched in all rows at once with a row offset
        key = (ones.cols - (np.arange(len(ones.cols)) - ones.indptr[ones.rows])) + ones.rows * (d + 1)
        if len(many):
            q = self.zero_ranks(n0[many])
            r = np.repeat(many, k)
            col = q.reshape(-1) + (np.searchsorted(key, q.reshape(-1) + r * (d + 1), side="right")
                                   - ones.indptr[r])
            zpos = (indptr[many] + nnz[many])[:, None] + np.arange(k)
            cols[zpos.reshape(-1)] = col
            weight[zpos.reshape(-1)] = (n0[many].astype(np.float64) / k).astype(dt).repeat(k)
        for r in few:  # every zero of the row (K >= its zero count: the full reconstruction)
            mask = np.ones(d, bool)
            mask[ones.cols[ones.indptr[r]:ones.indptr[r + 1]]] = False
            start = indptr[r] + nnz[r]
            cols[start:indptr[r + 1]] = np.flatnonzero(mask)
        return Sample(rows, cols, target, weight, indptr)


@dataclass
class SparseGradient:
    """The sampled loss and its gradient, stored by the rows it touches."""

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
    each reconstructed logit (per pair of the sample) and w.r.t. the hidden pre-activation."""

    loss: np.floating
    h: np.ndarray
    dz: np.ndarray
    dpre: np.ndarray


def backward(model: AutoEncoder, ones: sparse.BinaryRows, sample: Sample, enc: sparse.BinaryRows) -> Backward:
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
    # pad each row's pairs to the longest row (weight 0, its first column): batched products
    counts = np.diff(sample.indptr)
    m = int(counts.max()) if n else 0
    slot = np.arange(len(sample.rows)) - sample.indptr[sample.rows]
    cols_pad = np.repeat(sample.cols[sample.indptr[:-1]][:, None], m, axis=1)
    cols_pad[sample.rows, slot] = sample.cols
    t_pad = np.zeros((n, m), dt)
    w_pad = np.zeros((n, m), dt)
    t_pad[sample.rows, slot] = sample.target
    w_pad[sample.rows, slot] = sample.weight
    dec = W if model.tied else model.W2.get_value(borrow=True).T  # decoder rows by visible unit
    D = dec[cols_pad]  # (n, m, nh): only the sampled positions' weights
    z = np.einsum("bmk,bk->bm", D, h)
    z += bv[cols_pad]
    terms = softplus_tail_into(z, np.empty_like(z))  # softplus(z) - t z, stably
    terms += np.maximum(z, dt.type(0))
    terms -= t_pad * z
    loss = dt.type(np.vdot(w_pad, terms) * inv_n)
    dz = twice(z, np.empty_like(z))
    dz *= half
    dz -= t_pad
    dz *= w_pad
    dz *= inv_n
    dh = np.einsum("bm,bmk->bk", dz, D)
    dpre = dh * h * (one - h)
    return Backward(loss, h, dz[sample.rows, slot], dpre)


def sampled_gradient(model: AutoEncoder, ones: sparse.BinaryRows, sample: Sample,
                     encoder_ones: sparse.BinaryRows | None = None) -> SparseGradient:
    """Loss and gradient of the sampled reconstruction at the model's current parameters, stored
    by the rows they touch. `encoder_ones`: the ones the encoder reads, default `ones`."""
    enc = encoder_ones if encoder_ones is not None else ones
    b = backward(model, ones, sample, enc)
    loss, h, dz_pairs, dpre = b.loss, b.h, b.dz, b.dpre
    dt, nh = h.dtype, h.shape[1]
    dec_cols, dec_values = sparse.column_sums(sample.rows, sample.cols, sample.indptr, dz_pairs, h)
    bv_values = np.bincount(np.searchsorted(dec_cols, sample.cols), weights=dz_pairs,
                            minlength=len(dec_cols)).astype(dt)
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
    estimate of the full mean BCE), updating only the touched rows in place. `last_stats` counts
    what the last step touched (instrumentation for tests and benchmarks)."""

    def __init__(self, model: AutoEncoder, sampler: ZeroSampler, lr: float) -> None:
        self.model, self.sampler = model, sampler
        self.lr = model.dtype.type(lr)
        self.last_stats: dict[str, int] = {}

    def gradient(self, x: Any) -> SparseGradient:
        """Draw a sample for batch x and return the sampled loss and gradient (no update)."""
        ones, enc, sample = self._draw(x)
        return sampled_gradient(self.model, ones, sample, enc)

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
        m, lr = self.model, self.lr
        ones, enc, sample = self._draw(x)
        W = m.W.get_value(borrow=True)
        b = backward(m, ones, sample, enc)
        # SGD straight into the rows: W[c] -= lr * coef * (dpre or h)[r] for each pair (r, c)
        neg = -lr
        if not sparse.scatter_rows_into(W, enc.indptr, enc.cols, np.full(len(enc.cols), neg, W.dtype), b.dpre):
            return self._apply(sampled_gradient(m, ones, sample, enc))  # no scipy: the compact gradient
        if m.tied:
            sparse.scatter_rows_into(W, sample.indptr, sample.cols, b.dz * neg, b.h)
        else:
            W2 = m.W2.get_value(borrow=True)
            dec_cols, dec_values = sparse.column_sums(sample.rows, sample.cols, sample.indptr, b.dz, b.h)
            W2[:, dec_cols] -= (lr * dec_values).T
        m.bh.get_value(borrow=True)[...] -= lr * b.dpre.sum(axis=0)
        np.add.at(m.bv.get_value(borrow=True), sample.cols, b.dz * neg)
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
