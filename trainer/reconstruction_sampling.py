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
        csr.sum_duplicates()
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
        """(B, K) ranks among each row's zeros: K distinct values of [0, n0_r) uniformly (Floyd's
        algorithm, all rows at once; O(B K^2) comparisons, nothing of the width). Rows with
        n0_r <= K are the caller's (all their zeros are kept)."""
        b, k = len(n0), self.k
        chosen = np.empty((b, k), np.int64)
        for i in range(k):
            top = n0 - k + i  # Floyd: draw t in [0, top]; if taken, take top (not yet drawable before)
            t = self.rng.integers(0, np.maximum(top, 0) + 1)
            taken = (chosen[:, :i] == t[:, None]).any(axis=1)
            chosen[:, i] = np.where(taken, top, t)
        return chosen

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


def sampled_gradient(model: AutoEncoder, ones: sparse.BinaryRows, sample: Sample,
                     encoder_ones: sparse.BinaryRows | None = None) -> SparseGradient:
    """Loss and gradient of the sampled reconstruction at the model's current parameters.
    `encoder_ones`: the ones the encoder reads (the corrupted input), default `ones`."""
    enc = encoder_ones if encoder_ones is not None else ones
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
    # pad each row's pairs to the longest row (weight 0, its first column): one batched matmul
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
    z = np.matmul(D, h[:, :, None])[:, :, 0]
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
    dh = np.matmul(dz[:, None, :], D)[:, 0, :]
    dpre = dh * h * (one - h)
    dz_pairs = dz[sample.rows, slot]
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
        g = sampled_gradient(self.model, ones, sample, enc)
        self.last_stats = {"pairs": len(sample.cols), "ones": len(ones.cols),
                           "decoder_columns": len(g.bv_cols),
                           "w_rows": len(g.w_rows), "w2_columns": len(g.w2_cols)}
        return g

    def __call__(self, x: Any) -> np.floating:
        g = self.gradient(x)
        m, lr = self.model, self.lr
        W = m.W.get_value(borrow=True)
        W[g.w_rows] -= lr * g.w_values
        if not m.tied:
            W2 = m.W2.get_value(borrow=True)
            W2[:, g.w2_cols] -= (lr * g.w2_values).T
        m.bh.get_value(borrow=True)[...] -= lr * g.bh
        m.bv.get_value(borrow=True)[g.bv_cols] -= lr * g.bv_values
        return g.loss
