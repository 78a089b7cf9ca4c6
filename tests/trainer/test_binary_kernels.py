"""Products with a 0/1 input (tessera.trainer._fused, trainer/native/binary_kernels.c): the
pattern is numpy's nonzero and refuses anything but +-0 and 1, x @ W is each row's W rows added
in column order from 0 (bit for bit, on every dispatched path, whatever W's alignment), x.T @ G
the same on the transposed pattern; and the compiled step takes this path up to
sparse.max_density() with the dense path's results."""

from __future__ import annotations

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import sparse
from tests.trainer.conftest import native_kernels

F32 = np.float32


def binary(rng, n, d, density):
    x = (rng.random((n, d)) < density).astype(F32)
    x[rng.random((n, d)) < 0.1] *= -1  # some -0: a zero; (-1 is not binary: undone below)
    x = np.where(x < 0, F32(-0.0), x).astype(F32)
    if n > 2:
        x[1] = 0  # an empty row
    return x


def pattern(f, x, cap=None):
    n, d = x.shape
    nnz = int(np.count_nonzero(x))
    indptr = np.empty(n + 1, np.int64)
    cols = np.empty(nnz + d if cap is None else cap, np.int64)
    got = f.binary_pattern(x, d, indptr, cols)
    return got, indptr, cols


def ordered_sums(x, W):
    """out[r] = ((0 + W[c0]) + W[c1]) + ... over row r's ones in column order, in float32."""
    out = np.zeros((x.shape[0], W.shape[1]), F32)
    for r in range(x.shape[0]):
        acc = np.zeros(W.shape[1], F32)
        for c in np.flatnonzero(x[r]):
            acc = acc + W[c]
        out[r] = acc
    return out


def wide_range(rng, shape, offset=0):
    """float32 values over six decades (a different order of additions changes the bits), starting
    `offset` floats past a 64-byte boundary."""
    size = int(np.prod(shape))
    raw = np.empty(size + 32, F32)
    start = (-raw.ctypes.data % 64) // 4 + offset
    a = raw[start:start + size].reshape(shape)
    a[...] = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3, shape)
    return a


def test_the_pattern_is_numpys_nonzero_on_every_path(paths):
    f = native_kernels()
    rng = np.random.default_rng(0)
    for p in paths:
        f.set_path(p)
        for n, d, density in ((7, 5, 0.5), (33, 100, 0.3), (16, 200, 0.01), (5, 1000, 0.002), (1, 17, 1.0)):
            x = binary(rng, n, d, density)
            got, indptr, cols = pattern(f, x)
            rows, want = np.nonzero(x)
            assert got == len(want), (p, n, d)
            assert np.array_equal(cols[:got], want)
            assert np.array_equal(indptr, np.r_[0, np.cumsum(np.bincount(rows, minlength=n))])
            for cap in (got, got + 1):  # too little room for a row's unchecked write: checked, same result
                g2, i2, c2 = pattern(f, x, cap)
                assert g2 == got and np.array_equal(c2[:got], want) and np.array_equal(i2, indptr)
            if got:
                assert pattern(f, x, got - 1)[0] == -1  # one more one than room: refused, nothing overrun


@pytest.mark.parametrize("bad", [2.0, -1.0, 0.5, 1.0000001, 0.99999994, np.nan, np.inf, -np.inf, 1e-45, -1e-45])
def test_the_pattern_refuses_anything_but_zero_and_one(paths, bad):
    f = native_kernels()
    rng = np.random.default_rng(1)
    for p in paths:
        f.set_path(p)
        for n, d in ((4, 3), (9, 40), (3, 37)):
            for r, c in ((0, 0), (n - 1, d - 1), (n // 2, d // 2)):
                x = binary(rng, n, d, 0.3)
                x[r, c] = bad
                assert pattern(f, x)[0] == -1, (p, bad, n, d, r, c)
                assert pattern(f, x, 1 + d // 2)[0] == -1  # on the checked path too


@pytest.mark.parametrize("m", [1, 3, 8, 15, 16, 37, 128, 256, 300])
def test_x_at_w_is_the_ordered_sum_on_every_path(paths, m):
    f = native_kernels()
    rng = np.random.default_rng(m)
    for n, d, density in ((40, 60, 0.3), (6, 300, 0.05)):  # chunked (a W row used twice or more), not
        x = binary(rng, n, d, density)
        got, indptr, cols = pattern(f, x)
        for offset in (0, 1, 4):  # W aligned to a cache line, or not
            W = wide_range(rng, (d, m), offset)
            want = ordered_sums(x, W)
            for p in paths:
                f.set_path(p)
                out = np.full((n, m), np.nan, F32)
                assert f.binary_matmul(W, indptr, cols[:got], out)
                assert np.array_equal(out.view(np.int32), want.view(np.int32)), (p, n, d, m, offset)


def test_x_transposed_at_g_uses_the_transposed_pattern(paths):
    f = native_kernels()
    rng = np.random.default_rng(5)
    n, d, m = 50, 70, 33
    x = binary(rng, n, d, 0.25)
    got, indptr, cols = pattern(f, x)
    colptr, rows = np.empty(d + 1, np.int64), np.empty(got, np.int64)
    assert f.binary_transpose(indptr, cols[:got], d, colptr, rows)
    tr, tc = np.nonzero(x.T)
    assert np.array_equal(rows, tc)
    assert np.array_equal(colptr, np.r_[0, np.cumsum(np.bincount(tr, minlength=d))])
    G = wide_range(rng, (n, m))
    want = ordered_sums(x.T.copy(), G)
    for p in paths:
        f.set_path(p)
        out = np.empty((d, m), F32)
        assert f.binary_matmul(G, colptr, rows, out)
        assert np.array_equal(out.view(np.int32), want.view(np.int32)), p


def test_bad_patterns_and_operands_are_refused():
    f = native_kernels()
    W, out = np.ones((4, 3), F32), np.empty((2, 3), F32)
    ok_ptr, ok_cols = np.array([0, 1, 2], np.int64), np.array([0, 3], np.int64)
    assert f.binary_matmul(W, ok_ptr, ok_cols, out)
    assert np.array_equal(out, np.ones((2, 3), F32))
    for indptr, cols in (([0, 1, 2], [0, 4]), ([0, 1, 2], [0, -1]), ([0, 2, 1], [0, 1]), ([1, 1, 2], [0, 1]),
                         ([0, 1, 3], [0, 1])):
        with pytest.raises(ValueError, match="out of range"):
            f.binary_matmul(W, np.array(indptr, np.int64), np.array(cols, np.int64), out)
        with pytest.raises(ValueError, match="out of range"):
            f.binary_transpose(np.array(indptr, np.int64), np.array(cols, np.int64), 4, np.empty(5, np.int64),
                               np.empty(3, np.int64))
    empty = np.full((2, 3), np.nan, F32)  # no W rows (x has no columns): sums of nothing
    assert f.binary_matmul(np.ones((0, 3), F32), np.zeros(3, np.int64), np.zeros(0, np.int64), empty)
    assert np.array_equal(empty, np.zeros((2, 3), F32))
    with pytest.raises(ValueError, match="sizes"):
        f.binary_matmul(np.ones((4, 3), F32), ok_ptr, ok_cols, np.empty((2, 2), F32))
    with pytest.raises(ValueError, match="sizes"):
        f.binary_pattern(np.ones((2, 3), F32), 3, np.empty(2, np.int64), np.empty(9, np.int64))
    # not applicable (the caller's numpy code runs): float64 or strided operands, int32 indices
    assert not f.binary_matmul(W.astype(np.float64), ok_ptr, ok_cols, out)
    assert not f.binary_matmul(W, ok_ptr.astype(np.int32), ok_cols, out)
    assert f.binary_pattern(np.ones((3, 4), F32)[:, ::2], 2, np.empty(4, np.int64), np.empty(9, np.int64)) is None


def _ae(nv, nh, sparse_inputs):
    rng = np.random.default_rng(0)
    W = trainer.shared(rng.standard_normal((nv, nh)).astype(F32) * 0.05, name="W")
    bh = trainer.shared(np.zeros(nh, F32), name="bh")
    bv = trainer.shared(np.zeros(nv, F32), name="bv")
    x = T.matrix("x")
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(T.dot(h, W.T) + bv), x).mean()
    gs = T.grad(loss, [W, bh, bv])
    ups = [(p, p - 0.5 * g) for p, g in zip([W, bh, bv], gs, strict=True)]
    return trainer.function([x], loss, updates=ups, sparse_inputs=sparse_inputs), (W, bh, bv)


def test_the_step_takes_the_native_path_to_its_density_limit_with_the_dense_results(monkeypatch):
    limit = sparse.max_density()
    assert limit == sparse.NATIVE_MAX_DENSITY[native_kernels().path()]
    rng = np.random.default_rng(2)
    X = (rng.random((256, 300)) < limit - 0.05).astype(F32)  # 128 x 300 per step: above MIN_ELEMENTS
    f_auto, p_auto = _ae(300, 64, "auto")
    f_dense, p_dense = _ae(300, 64, False)
    for i in (0, 128, 0, 128):
        la, ld = f_auto(X[i:i + 128]), f_dense(X[i:i + 128])
        assert f_auto.last_call_sparse and not f_dense.last_call_sparse
        assert np.isclose(la, ld, rtol=1e-5)
    for a, d in zip(p_auto, p_dense, strict=True):
        assert np.allclose(a.get_value(), d.get_value(), rtol=1e-4, atol=1e-6)
    assert p_auto[0].value.ctypes.data % 64 == 0  # the updated weight lives in a cache-aligned buffer
    denser = (rng.random((128, 300)) < limit + 0.05).astype(F32)
    f_auto(denser)
    assert not f_auto.last_call_sparse
    # without the native kernels the limit is scipy's
    monkeypatch.setenv("TESSERA_TRAINER_KERNELS", "numpy")
    assert sparse.max_density() == sparse.MAX_DENSITY
    f_np, _ = _ae(300, 64, "auto")
    f_np(X[:128])
    assert not f_np.last_call_sparse
