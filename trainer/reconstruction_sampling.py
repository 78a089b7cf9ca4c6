"""Reconstruction sampling (Dauphin, Glorot & Bengio, ICML 2011) for the sigmoid auto-encoder
on sparse binary input.

Each step reconstructs example r only on S_r = (its ones) + (a sample of its zeros), and weights
the loss term of a sampled zero by 1 / pi, pi its probability of being in the sample (its
inclusion probability); ones keep weight 1. This is the Horvitz-Thompson estimator of the sum
over the zeros: with the sum divided by B * d as the full mean is, E[sampled loss] = full mean
BCE and, the gradient being linear in the weighted terms, E[sampled gradient] = full gradient,
whatever the proposal, as long as every zero has pi > 0.

Proposals (how the zeros are drawn):
- 'uniform': K of the row's n0 zeros, uniformly without replacement: pi = K / n0 (weight n0 / K).
- 'partner' (default): those K, and also the ones of another row of the batch (row (r + s) mod B,
  one shift s uniform in [1, B) per step, so each row's partner is any other row alike) that are
  zeros of row r. The two draws are independent, so pi = 1 - (1 - K / n0) (1 - c / (B - 1)), c
  the number of other rows of the batch with a one there. This is the paper's idea of
  reconstructing the positions where other examples have ones: on data whose ones concentrate on
  some features, the zeros most worth reconstructing (where the model predicts a one) are drawn
  often, with small weights, instead of rarely with weight n0 / K: a lower-variance gradient.
When K >= n0, all the row's zeros are kept with weight 1: the full loss and gradient (same terms,
summed in another order: equal within float32 rounding). With denoising (corruption P), the
encoder reads the ones each kept with probability 1 - P, drawn here too; the decoder still
reconstructs the clean x.

Cost per step: the encoder is a gather-sum of W's rows at the ones (sparse.BinaryRows), the
decoder gathers the decoder weights of the sampled positions only, and SGD writes only the rows
of W (tied; untied: rows of W, columns of W2) and the entries of bv that the step read:
O((nnz + B * K + nnz of the partners) * hidden). Only a dense batch costs a scan of its width (to
find the ones); a scipy sparse batch does not. Momentum and adam are refused: their decay
touches every row (a lazy per-row state would be needed).
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


PROPOSALS = ("partner", "uniform")


def _without(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """The entries of `keys` not in `sorted_keys` (ascending)."""
    if not len(sorted_keys):
        return keys
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return keys[sorted_keys[at] != keys]


def _counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values, ascending, and how often each occurs (np.unique's, by sorting)."""
    v = np.sort(values)
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]]) if len(v) else np.zeros(0, np.int64)
    return v[starts], np.diff(np.r_[starts, len(v)])


def check_proposal(proposal: Any) -> str:
    """The proposal's name, or a ValueError naming the known ones."""
    if proposal not in PROPOSALS:
        raise ValueError(f"reconstruction sampling proposal must be one of {', '.join(PROPOSALS)}, got {proposal!r}")
    return proposal


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

    def __init__(self, k: int, seed: int, proposal: str = "partner") -> None:
        self.k = check_k(k)
        self.proposal = check_proposal(proposal)
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
        k = self.k
        stride = d + 1  # (row, col) -> row * stride + col: sorted keys are sorted by row, then column
        keys = self._row_zeros(ones, stride)
        partner = self.proposal == "partner" and n > 1
        uniform_p = np.minimum(1.0, k / np.maximum(n0, 1))
        if partner:  # and the zeros of row r among the ones of row (r + s) mod n, s uniform in [1, n)
            keys.append(self._partner_keys(ones, stride))
        zkeys = np.sort(np.concatenate(keys), kind="stable") if keys else np.zeros(0, np.int64)
        if len(zkeys):  # distinct (a partner's one may also be a uniform draw). The parts are sorted runs:
            # a stable sort merges them; np.unique's hash costs far more here
            zkeys = zkeys[np.r_[True, zkeys[1:] != zkeys[:-1]]]
        zrow, zcol = zkeys // stride, zkeys % stride
        # each sampled zero's inclusion probability; its importance weight is the inverse
        incl = uniform_p[zrow]
        if partner:  # the two draws are independent: P(in either) = 1 - P(in neither)
            cols, counts = _counts(ones.cols)
            at = np.minimum(np.searchsorted(cols, zcol), len(cols) - 1)
            others = np.where(cols[at] == zcol, counts[at], 0)  # rows with a one there: not row r
            incl = 1.0 - (1.0 - incl) * (1.0 - others / (n - 1))
        per_row_zeros = np.bincount(zrow, minlength=n)
        counts = nnz + per_row_zeros
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        total = int(indptr[-1])
        rows = np.repeat(np.arange(n), counts)
        cols = np.empty(total, np.int64)
        target = np.zeros(total, np.float32)
        weight = np.ones(total, np.float32)
        pos = indptr[ones.rows] + (np.arange(len(ones.cols)) - ones.indptr[ones.rows])  # ones first
        cols[pos] = ones.cols
        target[pos] = 1
        zstart = np.r_[0, np.cumsum(per_row_zeros)[:-1]]
        zpos = indptr[zrow] + nnz[zrow] + (np.arange(len(zkeys)) - zstart[zrow])
        cols[zpos] = zcol
        weight[zpos] = (1.0 / incl).astype(np.float32)
        return Sample(rows, cols, target, weight, indptr)

    def _row_zeros(self, ones: sparse.BinaryRows, stride: int) -> list[np.ndarray]:
        """Keys of K distinct zeros of each row, uniformly, independently across rows (all the
        row's zeros when it has no more than K)."""
        n, d = ones.shape
        n0 = d - np.diff(ones.indptr)
        k = self.k
        keys = []
        many = np.flatnonzero(n0 > k)
        if len(many):
            q = self.zero_ranks(n0[many])
            r = np.repeat(many, k)
            # rank q among a row's zeros -> column q + #{i : s_i - i <= q}, s the row's sorted ones
            # (s_i - i zeros precede the i-th one); searched in all rows at once with a row offset
            shifted = ones.cols - (np.arange(len(ones.cols)) - ones.indptr[ones.rows]) + ones.rows * stride
            col = q.reshape(-1) + (np.searchsorted(shifted, q.reshape(-1) + r * stride, side="right")
                                   - ones.indptr[r])
            keys.append(r * stride + col)
        for r in np.flatnonzero(n0 <= k):  # every zero of the row (the full reconstruction there)
            mask = np.ones(d, bool)
            mask[ones.cols[ones.indptr[r]:ones.indptr[r + 1]]] = False
            keys.append(r * stride + np.flatnonzero(mask))
        return keys

    def _partner_keys(self, ones: sparse.BinaryRows, stride: int) -> np.ndarray:
        """Keys of (r, c) for c a one of row r's partner (r + s) mod n and a zero of row r; one
        shift s for the batch, uniform in [1, n): each row's partner is any other row alike."""
        n = ones.shape[0]
        nnz = np.diff(ones.indptr)
        partner = (np.arange(n) + int(self.rng.integers(1, n))) % n
        cnt = nnz[partner]
        prow = np.repeat(np.arange(n), cnt)
        start = np.repeat(ones.indptr[partner] - np.r_[0, np.cumsum(cnt)[:-1]], cnt)
        return _without(prow * stride + ones.cols[start + np.arange(len(prow))], ones.rows * stride + ones.cols)


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
    dz *= sample.weight
    dz *= inv_n
    dh = np.empty((n, nh), dt)
    for r in range(n):
        np.dot(dz[ptr[r]:ptr[r + 1]], D[r], out=dh[r])
    dpre = dh * h * (one - h)
    return Backward(loss, h, dz, dpre)


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
