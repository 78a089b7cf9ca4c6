"""tensor.signal.pool.pool_2d: Theano's semantics for every mode, stride, pad and ignore_border
against PyTorch in float64 (values and gradients), verify_grad, SPEC 7.12's order and 7.2's
Maximum in float32 (checked against a plain loop written here), the max gradient's ties
(Theano's rule), and the build-time errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import GraphError, ShapeError, verify_grad
from tessera.trainer.tensor.signal.pool import pool_2d
from tests.trainer.conftest import native_kernels

MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]
# (input shape, ws, keyword arguments)
GEOMETRIES = [
    ("plain", (2, 3, 6, 8), (2, 2), {}),
    ("odd_ignore", (2, 3, 7, 5), (2, 2), {}),
    ("stride_pad", (2, 3, 7, 6), (3, 2), {"stride": (2, 1), "pad": (1, 1)}),
    ("overlap", (1, 2, 6, 7), (3, 3), {"stride": (1, 2)}),
    ("partial", (2, 3, 7, 5), (2, 2), {"ignore_border": False}),
    ("partial_overlap", (2, 3, 7, 8), (3, 3), {"stride": (2, 2), "ignore_border": False}),
    ("partial_gap", (1, 2, 7, 8), (2, 1), {"stride": (3, 3), "ignore_border": False}),
    ("rank3", (3, 7, 6), (2, 3), {"pad": (1, 1)}),
]
CASES = [(f"{m}-{g[0]}", m, *g[1:]) for m, g in itertools.product(MODES, GEOMETRIES)]


def torch_pool(x: torch.Tensor, mode: str, ws: tuple, kw: dict) -> torch.Tensor:
    F = torch.nn.functional
    stride = kw.get("stride") or ws
    pad = kw.get("pad", (0, 0))
    ceil = not kw.get("ignore_border", True)
    if mode == "max":
        return F.max_pool2d(x, ws, stride, pad, ceil_mode=ceil)
    if mode == "sum":  # padding adds zeros; divisor 1
        return F.avg_pool2d(x, ws, stride, pad, ceil_mode=ceil, divisor_override=1)
    return F.avg_pool2d(x, ws, stride, pad, ceil_mode=ceil, count_include_pad=mode == "average_inc_pad")


def distinct(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values without ties (a tie in a max window makes the gradient a choice)."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) - 50.0) / 7.0


@pytest.mark.parametrize("name,mode,xs,ws,kw", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_equal_pytorch_in_float64(name, mode, xs, ws, kw):
    rng = np.random.default_rng(1)
    a = distinct(rng, xs)
    x = T.tensor(len(xs), "x", dtype="float64")
    y = pool_2d(x, ws, mode=mode, **kw)
    ta = torch.tensor(a, requires_grad=True)
    ty = torch_pool(ta, mode, ws, kw)
    proj = rng.standard_normal(tuple(ty.shape))
    got_y, got_g = trainer.function([x], [y, T.grad((y * proj).sum(), x)])(a)
    (ty * torch.tensor(proj)).sum().backward()
    assert got_y.shape == tuple(ty.shape)
    np.testing.assert_allclose(got_y, ty.detach().numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(got_g, ta.grad.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name,mode,xs,ws,kw", CASES, ids=[c[0] for c in CASES])
def test_verify_grad(name, mode, xs, ws, kw):
    a = distinct(np.random.default_rng(2), (1,) * (len(xs) - 2) + xs[-2:])
    verify_grad(lambda x: pool_2d(x, ws, mode=mode, **kw), [a], rng=np.random.default_rng(0))


def loop_pool(x: np.ndarray, mode: str, ws: tuple, kw: dict) -> np.ndarray:
    """Theano's windows, float32, one element at a time in SPEC 7.12's order (row-major, padding skipped;
    the max is SPEC 7.2's, the sums start at +0)."""
    (kh, kw_), (sh, sw) = ws, kw.get("stride") or ws
    ph, pw = kw.get("pad", (0, 0))
    h, w = x.shape[-2:]
    out_shape = trainer.function([xv := T.tensor(x.ndim, dtype="float32")], pool_2d(xv, ws, mode=mode, **kw),
                                 nan_guard=False)(x).shape
    out = np.empty(out_shape, np.float32)
    for idx in np.ndindex(*out_shape):
        *lead, oh, ow = idx
        acc, count_exc = (np.float32(-np.inf) if mode == "max" else np.float32(0)), 0
        for i in range(kh):
            for j in range(kw_):
                r, c = oh * sh - ph + i, ow * sw - pw + j
                if 0 <= r < h and 0 <= c < w:
                    v = x[(*lead, r, c)]
                    count_exc += 1
                    if mode != "max":
                        acc = np.float32(acc + v)
                    elif np.isnan(v) or np.isnan(acc):
                        acc = np.float32(np.nan)
                    elif v > acc or (v == acc and not np.signbit(v)):
                        acc = v
        rows = min(oh * sh + kh, h + 2 * ph) - oh * sh
        cols = min(ow * sw + kw_, w + 2 * pw) - ow * sw
        count = {"average_exc_pad": count_exc, "average_inc_pad": rows * cols}.get(mode)
        out[idx] = acc if count is None else np.float32(acc / np.float32(count))
    return out


@pytest.mark.parametrize("name,mode,xs,ws,kw", CASES, ids=[c[0] for c in CASES])
def test_float32_follows_the_spec_order_bit_for_bit(name, mode, xs, ws, kw):
    rng = np.random.default_rng(5)
    a = (rng.standard_normal(xs) * np.exp(rng.uniform(-8, 8, xs))).astype(np.float32)
    a.ravel()[::11] = 0.0
    a.ravel()[3::11] = -0.0
    x = T.tensor(len(xs), "x", dtype="float32")
    got = trainer.function([x], pool_2d(x, ws, mode=mode, **kw))(a)
    want = loop_pool(a, mode, ws, kw)
    assert np.array_equal(got.view(np.int32), want.view(np.int32))


def test_max_of_signed_zeros_and_nan_is_spec_maximum():
    a = np.array([[[[-0.0, 0.0, -0.0, -0.0, np.nan, 1.0],
                    [-0.0, -0.0, -0.0, -0.0, 2.0, 3.0]]]], np.float32)
    x = T.tensor4("x")
    got = trainer.function([x], pool_2d(x, (2, 2)), nan_guard=False)(a)
    assert got.ravel()[0] == 0 and not np.signbit(got.ravel()[0])  # +0 above -0
    assert got.ravel()[1] == 0 and np.signbit(got.ravel()[1])  # all -0: -0
    assert np.isnan(got.ravel()[2])


def test_max_gradient_goes_to_every_tied_maximum():
    """Theano's MaxPoolGrad: each position equal to its window's max receives the window's gradient
    (PyTorch gives it to the first one only)."""
    a = np.array([[[[1.0, 3.0], [3.0, 2.0]]]])
    x = T.tensor4("x", dtype="float64")
    g = trainer.function([x], T.grad(pool_2d(x, (2, 2)).sum() * 5.0, x))(a)
    assert np.array_equal(g, [[[[0.0, 5.0], [5.0, 0.0]]]])


def bad(fn, exc=GraphError):
    with pytest.raises(exc) as info:
        fn()
    assert "test_trainer_pool.py" in str(info.value), str(info.value)
    return str(info.value)


def test_build_time_errors_name_the_line():
    x = T.tensor4("x", shape=(None, 2, 6, 6))
    assert "ignore_border=True" in bad(lambda: pool_2d(x, (2, 2), ignore_border=False, pad=(1, 1)))
    assert "smaller than the window" in bad(lambda: pool_2d(x, (2, 2), pad=(2, 0)))
    assert "mode" in bad(lambda: pool_2d(x, (2, 2), mode="average"))
    assert "ws" in bad(lambda: pool_2d(x, (2, 0)))
    assert "ws" in bad(lambda: pool_2d(x))
    assert "larger than the padded input" in bad(lambda: pool_2d(x, (7, 2)), ShapeError)
    assert "rank >= 2" in bad(lambda: pool_2d(T.vector(), (2, 2)), ShapeError)


def test_stride_defaults_to_the_window_and_default_ignores_the_border():
    a = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    x = T.tensor4("x")
    assert np.array_equal(trainer.function([x], pool_2d(x, (2, 2)))(a), [[[[6, 8], [16, 18]]]])
    assert np.array_equal(trainer.function([x], pool_2d(x, (2, 2), ignore_border=False))(a),
                          [[[[6, 8, 9], [16, 18, 19], [21, 23, 24]]]])


# Windows side by side covering the input (stride = window, no padding): the max and its gradient
# take a path of their own there (a -0 anywhere in the input sends the max back to the general one).
# The last three: the native kernels' blocks of rows (the CNN's planes 8 wide), and rows wider than
# a block (4096 columns), cut into whole windows (4096 and 904; 4095, a multiple of 3, and 405).
TILED = [((2, 3, 6, 8), (2, 2)), ((3, 4, 6), (2, 3)), ((2, 2, 4, 6), (1, 2)), ((2, 6, 3), (3, 1)),
         ((2, 3, 5), (1, 1)), ((4, 6), (2, 2)), ((2, 1, 2, 3, 4), (3, 2)), ((16, 8, 8, 8), (2, 2)),
         ((1, 2, 2, 5000), (2, 2)), ((2, 4500), (2, 3))]


@pytest.mark.parametrize("xs,ws", TILED, ids=[f"{xs}-{ws}" for xs, ws in TILED])
def test_tiled_max_is_the_spec_max_bit_for_bit(xs, ws):
    rng = np.random.default_rng(7)
    a = (rng.standard_normal(xs) * np.exp(rng.uniform(-8, 8, xs))).astype(np.float32)
    a.ravel()[::5] = 0.0  # +0 ties, no -0
    a.ravel()[1::13] = np.inf
    a.ravel()[2::17] = -np.inf
    a.ravel()[3::7] = a.ravel()[4::7][:len(a.ravel()[3::7])]  # equal neighbours
    x = T.tensor(len(xs), "x", dtype="float32")
    got = trainer.function([x], pool_2d(x, ws), nan_guard=False)(a)
    assert np.array_equal(got.view(np.int32), loop_pool(a, "max", ws, {}).view(np.int32))
    a.ravel()[6] = np.nan
    got = trainer.function([x], pool_2d(x, ws), nan_guard=False)(a)
    want = loop_pool(a, "max", ws, {})
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(got).sum() == 1
    assert np.array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


@pytest.mark.parametrize("xs,ws", TILED, ids=[f"{xs}-{ws}" for xs, ws in TILED])
def test_tiled_max_gradient_goes_to_every_tied_maximum(xs, ws):
    rng = np.random.default_rng(8)
    a = rng.integers(0, 3, xs).astype(np.float64)  # many ties
    g = rng.standard_normal(tuple(xs[:-2]) + (xs[-2] // ws[0], xs[-1] // ws[1]))
    x = T.tensor(len(xs), "x", dtype="float64")
    got = trainer.function([x], T.grad((pool_2d(x, ws) * g).sum(), x))(a)
    want = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        *lead, r, c = idx
        window = (*lead, slice(r // ws[0] * ws[0], r // ws[0] * ws[0] + ws[0]),
                  slice(c // ws[1] * ws[1], c // ws[1] * ws[1] + ws[1]))
        if a[idx] == a[window].max():
            want[idx] = g[(*lead, r // ws[0], c // ws[1])]
    assert np.array_equal(got, want)


def tiled_grad_float32(a: np.ndarray, g: np.ndarray, ws: tuple) -> np.ndarray:
    x = T.tensor(a.ndim, "x", dtype="float32")
    return trainer.function([x], T.grad((pool_2d(x, ws) * g).sum(), x), nan_guard=False)(a)


@pytest.mark.parametrize("xs,ws", TILED, ids=[f"{xs}-{ws}" for xs, ws in TILED])
def test_tiled_max_native_equals_numpy_bit_for_bit(xs, ws, monkeypatch):
    """float32: the native kernels (trainer/native/pool_kernels.c) against the numpy views, the
    maximum and its gradient, with ties, -0 next to +0 (the numpy maximum then takes the general
    path), infinities and NaN in x, and g holding -0, inf and NaN (g * 0 is then -0 or NaN on
    both)."""
    rng = np.random.default_rng(9)
    a = rng.integers(-2, 3, xs).astype(np.float32)
    a.ravel()[::11] = -0.0
    a.ravel()[1::23] = np.inf
    a.ravel()[2::29] = np.nan
    a.ravel()[3::37] = -np.nan  # sign bit set: below every number as an integer
    gs = tuple(xs[:-2]) + (xs[-2] // ws[0], xs[-1] // ws[1])
    g = rng.standard_normal(gs).astype(np.float32)
    g.ravel()[::7] = -0.0
    g.ravel()[1::19] = -np.inf
    g.ravel()[2::31] = np.nan
    x = T.tensor(a.ndim, "x", dtype="float32")

    def both():
        return trainer.function([x], pool_2d(x, ws), nan_guard=False)(a), tiled_grad_float32(a, g, ws)
    native = both()
    monkeypatch.setenv("TESSERA_TRAINER_KERNELS", "numpy")
    for got, want in zip(native, both(), strict=True):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        assert np.array_equal(got.view(np.int32)[~np.isnan(got)], want.view(np.int32)[~np.isnan(want)])
    assert (native[1] != 0).any()  # some windows' gradients got through


def test_native_pool_bindings_refuse_what_they_cannot_run():
    f = native_kernels()
    x, p, g, out = (np.zeros(n, np.float32) for n in (24, 6, 6, 24))
    assert f.pool_max_grad(x, p, g, out, 3, 2, 2, 2) is True
    with pytest.raises(ValueError, match="pool_max_grad"):
        f.pool_max_grad(x, p, g, out, 3, 2, 2, 3)  # 36 elements expected
    with pytest.raises(ValueError, match="pool_max_grad"):
        f.pool_max_grad(x, p[:5], g, out, 3, 2, 2, 2)
    assert f.pool_max_grad(x.astype(np.float64), p, g, out, 3, 2, 2, 2) is False
    assert f.pool_max_grad(x, p, g, np.zeros(48, np.float32)[::2], 3, 2, 2, 2) is False  # not contiguous
    wide = np.zeros(2 * 4097, np.float32)
    assert f.pool_max_grad(wide, np.zeros(1, np.float32), np.zeros(1, np.float32), wide.copy(), 1, 2, 1, 4097) is False
    assert f.pool_max(wide, np.zeros(1, np.float32), 1, 2, 1, 4097) is False
    assert f.pool_max(x, p, 3, 2, 2, 2) is True
    with pytest.raises(ValueError, match="pool_max"):
        f.pool_max(x, p[:5], 3, 2, 2, 2)
