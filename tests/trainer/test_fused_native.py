"""The trainer's native one-pass kernels (tessera.trainer._fused): built by `make setup`, within the
stated bounds of exact values and of the numpy kernels, bit-identical on every dispatched path,
nan/inf as numpy, in-place safe, and the numpy kernels when the extension is missing or turned off."""

from __future__ import annotations

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import fused_native, fusions, optimizers
from tests.trainer.conftest import native_kernels

F32 = np.float32
SIGMOID_ULPS = 2  # native sigmoid vs the correctly rounded one (all 2^32 inputs: trainer/README.md)
BCE_GRAD_ABS = 2.0 ** -22  # |(sigmoid(z) - t) c - exact| <= |c| 2^-22 for t in [0, 1]
LOSS_REL = 1e-6  # the mean BCE, relative


def ordered(a: np.ndarray) -> np.ndarray:
    i = np.asarray(a, F32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def sample_floats(n: int = 1 << 20) -> np.ndarray:
    """A stride through all 2^32 bit patterns plus values where sigmoid changes regime."""
    bits = (np.arange(n, dtype=np.uint64) * 4093 + 7).astype(np.uint32)
    rng = np.random.default_rng(0)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.7, -88.7, 103.9, -103.9, 104.5, -104.5, 16.6,
                        -16.6, 1e-8, -1e-8, 1.4e-45, -1.4e-45, 3.4e38, -3.4e38], F32)
    return np.concatenate([bits.view(F32), special, (rng.standard_normal(1 << 16) * 30).astype(F32)])


def exact_sigmoid(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # nan inputs
        x = np.asarray(a).astype(np.float64)
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0, e) / (1.0 + e)


def kernel_runs(f, a, z, t, g):
    """Every kernel on the same operands; returns the outputs."""
    n = a.size
    out = {k: np.empty(n, F32) for k in ("sig", "sgrad", "bce", "lin", "sq", "adam")}
    assert f.sigmoid(a, out["sig"])
    assert f.sigmoid_grad(exact_sigmoid(z).astype(F32), g, out["sgrad"])
    assert f.bce_grad(z, t, 0.37, out["bce"])
    assert f.lincomb(a, g, 0.9, -0.01, out["lin"])
    assert f.lincomb_sq(a, g, 0.999, 0.001, out["sq"])
    assert f.adam_step(a, g, np.abs(z), 1e-3, 1e-8, out["adam"])
    out["sum"] = np.array([f.bce_sum(z, t)])
    out["pair"] = np.empty(n, F32)
    out["pair_sum"] = np.array([f.bce_sum(z, t, 0.37, out["pair"])])
    ls = np.clip(z[: n - n % 10], -80, 0).reshape(-1, 10)
    out["xent"] = np.empty(ls.shape, F32)
    labels = (np.arange(ls.shape[0]) % 10).astype(np.int64) - 3
    assert f.softmax_xent_grad(ls, np.array([0.25], F32), labels, out["xent"], 10)
    return out


def test_the_extension_is_built_and_used_for_float32_only(monkeypatch):
    monkeypatch.delenv(fused_native.KERNELS_ENV, raising=False)
    assert fused_native.native(np.dtype(F32)) is native_kernels()
    assert fused_native.native(np.dtype(np.float64)) is None
    assert fused_native.path() == native_kernels().path() in ("avx512", "avx2", "baseline")
    monkeypatch.setenv(fused_native.KERNELS_ENV, "numpy")
    assert fused_native.native(np.dtype(F32)) is None and fused_native.path() == "numpy"
    monkeypatch.setenv(fused_native.KERNELS_ENV, "fast")
    with pytest.raises(ValueError, match="auto, native or numpy"):
        fused_native.native(np.dtype(F32))


def test_sigmoid_within_its_bound_of_the_exact_value_on_every_path(paths):
    f = native_kernels()
    a = sample_floats()
    want = exact_sigmoid(a).astype(F32)
    ok = ~np.isnan(a)
    for p in paths:
        f.set_path(p)
        got = np.empty_like(a)
        assert f.sigmoid(a, got)
        assert np.abs(ordered(got) - ordered(want))[ok].max() <= SIGMOID_ULPS, p
        assert np.isnan(got[~ok]).all()
        assert got[a == np.inf].tolist() == [1.0] and got[a == -np.inf].tolist() == [0.0]


def test_sigmoid_against_the_numpy_kernel():
    f = native_kernels()
    a = sample_floats()
    ok = ~np.isnan(a)
    got, npy = np.empty_like(a), np.empty_like(a)
    assert f.sigmoid(a, got)
    from tessera.trainer.ops.elementwise import twice_sigmoid
    with np.errstate(invalid="ignore"):
        np.multiply(twice_sigmoid(np.dtype(F32))(a, npy), F32(0.5), out=npy)
    # numpy's tanh form is accurate in absolute terms (2^-25 scale), not relative near 0
    assert np.abs(got[ok].astype(np.float64) - npy[ok]).max() <= 2.0 ** -23


def test_every_path_gives_the_same_bits(paths):
    f = native_kernels()
    rng = np.random.default_rng(3)
    assert "baseline" in paths
    for n in (1, 15, 16, 17, 33, 1000, 4099):  # tails of every length run the padded vector code
        a = (rng.standard_normal(n) * 40).astype(F32)
        a[::7] = np.resize(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -200.0], F32), len(a[::7]))
        z = (rng.standard_normal(n) * 20).astype(F32)
        t = (rng.random(n) < 0.3).astype(F32)
        g = rng.standard_normal(n).astype(F32)
        runs = {}
        for p in paths:
            f.set_path(p)
            runs[p] = kernel_runs(f, a, z, t, g)
        for p in paths[1:]:
            for k, v in runs[p].items():
                assert np.array_equal(v.view(np.uint32 if v.dtype == F32 else np.uint64),
                                      runs["baseline"][k].view(np.uint32 if v.dtype == F32 else np.uint64)), (p, k, n)
    with pytest.raises(ValueError):
        f.set_path("sse9")


def test_bce_gradient_and_loss_within_bound():
    f = native_kernels()
    rng = np.random.default_rng(4)
    z = np.concatenate([(rng.standard_normal(50_001) * 12).astype(F32), np.array([90, -90, 1e-30, 0], F32)])
    t = (rng.random(z.size) < 0.4).astype(F32)
    t[:100] = rng.random(100).astype(F32)  # soft targets too
    c = F32(1.0 / z.size)
    got = np.empty_like(z)
    assert f.bce_grad(z, t, float(c), got)
    exact = (exact_sigmoid(z) - t) * np.float64(c)
    assert np.abs(got - exact).max() <= c * BCE_GRAD_ABS
    zd = z.astype(np.float64)
    want = np.sum(np.logaddexp(0, zd) - t * zd)
    assert abs(f.bce_sum(z, t) - want) <= LOSS_REL * want


def test_the_loss_pass_writes_the_gradients_bits():
    """bce_sum with an output (the loss and gradient of one pair in one pass) = bce_sum + bce_grad."""
    f = native_kernels()
    rng = np.random.default_rng(11)
    z = (rng.standard_normal(3001) * 9).astype(F32)
    t = (rng.random(3001) < 0.5).astype(F32)
    alone, pair = np.empty_like(z), np.empty_like(z)
    assert f.bce_grad(z, t, 0.001, alone)
    assert f.bce_sum(z, t, 0.001, pair) == f.bce_sum(z, t)
    assert np.array_equal(alone.view(np.uint32), pair.view(np.uint32))
    copy = np.full(3001, np.nan, F32)  # with t_copy, the pass also copies t
    assert f.bce_sum(z, t, 0.001, pair, None, copy) == f.bce_sum(z, t)
    assert np.array_equal(copy, t) and np.array_equal(alone.view(np.uint32), pair.view(np.uint32))
    z2, t2, b2 = z[:3000].reshape(30, 100), t[:3000].reshape(30, 100), np.linspace(-1, 1, 100, dtype=F32)
    copy2 = np.full((30, 100), np.nan, F32)  # rows of a bias's length
    assert f.bce_sum(z2, t2, 0.0, None, b2, copy2) == f.bce_sum(z2, t2, 0.0, None, b2)
    assert np.array_equal(copy2, t2)


def test_softmax_xent_gradient_within_bound_and_labels_checked():
    f = native_kernels()
    rng = np.random.default_rng(5)
    z = (rng.standard_normal((37, 10)) * 5).astype(np.float64)
    ls = (z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))).astype(F32)
    y = rng.integers(-10, 10, 37)
    e = rng.standard_normal(37).astype(F32)
    got = np.empty_like(ls)
    assert f.softmax_xent_grad(ls, e, y, got, 10)
    want = -np.exp(ls.astype(np.float64)) * e[:, None]
    want[np.arange(37), y] += e
    assert np.abs(got - want).max() <= np.abs(e).max() * 2.0 ** -22
    with pytest.raises(IndexError, match="out of bounds"):
        f.softmax_xent_grad(ls, e, np.full(37, 10), got, 10)


def test_updates_are_the_numpy_bits_and_may_run_in_place():
    f = native_kernels()
    rng = np.random.default_rng(6)
    x = rng.standard_normal(1001).astype(F32)
    y = rng.standard_normal(1001).astype(F32)
    v = np.abs(rng.standard_normal(1001)).astype(F32)
    x[:4] = [np.inf, -np.inf, np.nan, 0.0]
    y[4:6] = [np.inf, np.nan]
    a, b, c, eps = F32(0.9), F32(0.01), F32(1e-3), F32(1e-8)
    with np.errstate(all="ignore"):
        cases = [
            (lambda o: f.lincomb(x, y, a, -b, o), a * x - b * y),
            (lambda o: f.lincomb(x, y, 1.0, -b, o), x - b * y),
            (lambda o: f.lincomb_sq(x, y, a, b, o), a * x + b * (y * y)),
            (lambda o: f.adam_step(x, y, v, c, eps, o), x - (c * y) / (np.sqrt(v) + eps)),
        ]
        for run, want in cases:
            got = np.empty_like(x)
            assert run(got)
            assert np.array_equal(got, want, equal_nan=True)
            assert np.array_equal(np.signbit(got), np.signbit(want)) or np.isnan(want).any()
    x0 = x.copy()
    assert f.lincomb(x, y, a, -b, x)  # out is x: each element is read before it is written
    with np.errstate(all="ignore"):
        assert np.array_equal(x, a * x0 - b * y, equal_nan=True)


def test_not_applicable_operands_fall_back():
    f = native_kernels()
    a = np.arange(20, dtype=F32).reshape(4, 5)
    out = np.empty((4, 3), F32)
    assert f.sigmoid(a[:, ::2], out) is False  # not contiguous
    assert f.sigmoid(a.astype(np.float64), np.empty((4, 5))) is False
    assert f.sigmoid(a, np.empty((4, 5), F32)[:, :]) is True
    ro = np.empty((4, 5), F32)
    ro.flags.writeable = False
    assert f.sigmoid(a, ro) is False
    with pytest.raises(ValueError, match="different sizes"):
        f.sigmoid(a, np.empty(3, F32))
    assert f.bce_sum(a[:, ::2], a[:, ::2]) is None


class _Counting:
    """The extension, counting the calls of each kernel."""

    def __init__(self, mod):
        self.mod, self.calls = mod, {}

    def __getattr__(self, name):
        fn = getattr(self.mod, name)

        def counted(*args):
            self.calls[name] = self.calls.get(name, 0) + 1
            return fn(*args)
        return counted


def _seed_ae(seed_w: np.ndarray, opt: str = "sgd"):
    W = trainer.shared(seed_w.copy(), name="W")
    bh = trainer.shared(np.zeros(seed_w.shape[1], F32), name="bh")
    bv = trainer.shared(np.zeros(seed_w.shape[0], F32), name="bv")
    x = T.matrix("x")
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    x_hat = T.nnet.sigmoid(T.dot(h, W.T) + bv)
    loss = T.nnet.binary_crossentropy(x_hat, x).mean()
    ups = optimizers.OPTIMIZERS[opt](loss, [W, bh, bv], lr=0.1)
    return trainer.function([x], loss, updates=ups, sparse_inputs=False), (W, bh, bv)


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
def test_the_seed_step_gives_the_same_losses_on_both_paths(opt, monkeypatch):
    rng = np.random.default_rng(7)
    w0 = (rng.standard_normal((64, 32)) * 0.3).astype(F32)
    data = (rng.random((5, 40, 64)) < 0.3).astype(F32)
    counting = _Counting(native_kernels())
    monkeypatch.setattr(fused_native, "_loaded", [counting])
    losses, params = [], []
    for mode in ("native", "numpy"):  # the kernels are chosen when the first call plans the schedule
        monkeypatch.setenv(fused_native.KERNELS_ENV, mode)
        step, ps = _seed_ae(w0, opt)
        losses.append([float(step(batch)) for batch in data])
        params.append(ps)
    for ln, lp in zip(*losses, strict=True):
        assert abs(ln - lp) <= LOSS_REL * abs(lp)
    for a, b in zip(*params, strict=True):
        assert np.allclose(a.get_value(), b.get_value(), rtol=1e-4, atol=1e-6)
    # bce_sum also writes the BCE gradient; W's step (momentum: W's velocity) from the two products
    # is one axpy_sum, a bias's one colsum_update; adam's moments are lincomb passes
    updates = ("lincomb",) if opt == "adam" else ("axpy_sum", "colsum_update")
    kernels = ("sigmoid", "sigmoid_grad", "bce_sum") + updates
    for k in kernels:
        assert counting.calls.get(k, 0) >= len(data), (k, opt, counting.calls)
    if opt == "adam":
        assert counting.calls.get("lincomb_sq", 0) and counting.calls.get("adam_step", 0)


@pytest.mark.parametrize("opt", ["sgd", "momentum", "nesterov", "adam"])
def test_compiled_updates_have_the_numpy_bits(opt, monkeypatch):
    """A cost whose gradient is the same on both paths: the fused updates then give the same bits."""
    rng = np.random.default_rng(8)
    w0, target = rng.standard_normal((30, 7)).astype(F32), rng.standard_normal((30, 7)).astype(F32)
    results = []
    for mode in ("native", "numpy"):
        monkeypatch.setenv(fused_native.KERNELS_ENV, mode)
        w = trainer.shared(w0.copy(), name="w")
        cost = ((w - target) ** 2).sum()
        ups = optimizers.OPTIMIZERS[opt](cost, [w], lr=0.01)
        step = trainer.function([], cost, updates=ups)
        for _ in range(4):
            step()
        results.append([w.get_value()] + [s.get_value() for s in ups.state])
    for a, b in zip(*results, strict=True):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


def test_compiled_softmax_xent_gradient_on_both_paths(monkeypatch):
    rng = np.random.default_rng(10)
    zv = (rng.standard_normal((64, 10)) * 4).astype(F32)
    yv = rng.integers(0, 10, 64).astype(np.int32)
    counting = _Counting(native_kernels())
    monkeypatch.setattr(fused_native, "_loaded", [counting])
    got = []
    for mode in ("native", "numpy"):
        monkeypatch.setenv(fused_native.KERNELS_ENV, mode)
        z, y = T.matrix("z"), T.ivector("y")
        cost = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y).mean()
        got.append(trainer.function([z, y], [cost, T.grad(cost, z)])(zv, yv))
    (ln, gn), (lp, gp) = got
    assert ln == lp  # the loss is the numpy kernels' on both paths
    assert np.abs(gn - gp).max() <= 2.0 ** -21 / 64
    assert counting.calls.get("softmax_xent_grad") == 1


def test_the_shared_bce_pass_with_and_without_the_loss_output(monkeypatch):
    """The gradient is the same bits whether the loss kernel wrote it (loss requested) or the
    gradient's own kernel did (no outputs: the loss step is dropped)."""
    monkeypatch.setenv(fused_native.KERNELS_ENV, "native")
    rng = np.random.default_rng(12)
    w0 = (rng.standard_normal((64, 32)) * 0.3).astype(F32)
    data = (rng.random((4, 40, 64)) < 0.3).astype(F32)
    with_loss, p1 = _seed_ae(w0)
    x = T.matrix("x")
    W = trainer.shared(w0.copy())
    bh, bv = trainer.shared(np.zeros(32, F32)), trainer.shared(np.zeros(64, F32))
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(T.dot(h, W.T) + bv), x).mean()
    no_output = trainer.function([x], None, updates=optimizers.sgd(loss, [W, bh, bv], lr=0.1), sparse_inputs=False)
    for batch in data:
        with_loss(batch)
        no_output(batch)
    (plan,) = with_loss._plans.values()
    assert "fn_pair" in [getattr(fn, "__name__", "") for fn, *_ in plan.steps]
    for a, b in zip(p1, (W, bh, bv), strict=True):
        assert np.array_equal(a.get_value().view(np.uint32), b.get_value().view(np.uint32))


def test_native_update_pass_is_planned():
    assert "native_update" in [p.name for p in fusions.PASSES]


def test_missing_extension_falls_back_to_numpy(monkeypatch):
    rng = np.random.default_rng(9)
    w0 = (rng.standard_normal((64, 32)) * 0.3).astype(F32)
    data = (rng.random((3, 40, 64)) < 0.3).astype(F32)
    monkeypatch.setattr(fused_native, "_loaded", [None])  # as if it had not been built
    monkeypatch.setenv(fused_native.KERNELS_ENV, "auto")
    assert fused_native.native(np.dtype(F32)) is None and fused_native.path() == "numpy"
    step = _seed_ae(w0)[0]
    missing = [np.float32(step(batch)).tobytes() for batch in data]
    monkeypatch.setenv(fused_native.KERNELS_ENV, "numpy")
    step = _seed_ae(w0)[0]
    assert missing == [np.float32(step(batch)).tobytes() for batch in data]
    monkeypatch.setenv(fused_native.KERNELS_ENV, "native")
    with pytest.raises(ImportError, match="not built"):
        _seed_ae(w0)[0](data[0])


def _row_operands(rng, rows: int, cols: int):
    z = (rng.standard_normal((rows, cols)) * 20).astype(F32)
    z.flat[::7] = np.resize(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -200.0], F32), len(z.flat[::7]))
    t = (rng.random((rows, cols)) < 0.3).astype(F32)
    b = (rng.standard_normal(cols) * 3).astype(F32)
    b[:1] = -0.0
    return z, t, b


def row_kernel_runs(f, z, t, b):
    """The kernels with a bias row and the row-wise ones, on one (rows, cols) case."""
    rows, cols = z.shape
    out = {k: np.empty_like(z) for k in ("sig", "bce", "pair")}
    assert f.sigmoid(z, out["sig"], b)
    assert f.bce_grad(z, t, 0.37, out["bce"], b)
    out["pair_sum"] = np.array([f.bce_sum(z, t, 0.37, out["pair"], b)])
    out["sum"] = np.array([f.bce_sum(z, t, 0.0, None, b)])
    out["colsum"] = np.empty(cols, F32)
    assert f.colsum_update(b, z, -0.25, out["colsum"])
    out["axpy"] = np.empty_like(z)
    assert f.axpy_sum(z, t, z[::-1].copy(), -0.1, out["axpy"])
    out["scan"] = np.array(f.scan(z), dtype=np.int64)
    return out


def test_row_kernels_give_the_same_bits_on_every_path(paths):
    f = native_kernels()
    rng = np.random.default_rng(13)
    for rows, cols in ((1, 1), (3, 15), (2, 16), (5, 17), (4, 33), (3, 64), (2, 784), (1, 1100)):
        z, t, b = _row_operands(rng, rows, cols)
        runs = {}
        for p in paths:
            f.set_path(p)
            runs[p] = row_kernel_runs(f, z, t, b)
        for p in paths[1:]:
            for k, v in runs[p].items():
                assert np.array_equal(v.view(np.uint8), runs["baseline"][k].view(np.uint8)), (p, k, rows, cols)


def test_a_bias_row_gives_the_bits_of_the_add_then_the_kernel():
    """sigmoid(m + b), bce_grad and bce_sum of m + b: the graph's add node, then the kernel."""
    f = native_kernels()
    rng = np.random.default_rng(14)
    for rows, cols in ((7, 1), (3, 19), (9, 64), (2, 785)):
        z, t, b = _row_operands(rng, rows, cols)
        with np.errstate(invalid="ignore"):
            zb = z + b
        added, fused = np.empty_like(z), np.empty_like(z)
        assert f.sigmoid(zb, added) and f.sigmoid(z, fused, b)
        assert np.array_equal(added.view(np.uint32), fused.view(np.uint32))
        assert f.bce_grad(zb, t, 0.01, added) and f.bce_grad(z, t, 0.01, fused, b)
        assert np.array_equal(added.view(np.uint32), fused.view(np.uint32))
        pair = np.empty_like(z)
        total = f.bce_sum(z, t, 0.01, pair, b)
        assert np.array_equal(added.view(np.uint32), pair.view(np.uint32))
        assert total == f.bce_sum(zb, t) or (np.isnan(total) and np.isnan(f.bce_sum(zb, t)))
    with pytest.raises(ValueError, match="different sizes"):
        f.sigmoid(np.zeros((3, 4), F32), np.empty((3, 4), F32), np.zeros(5, F32))


def test_the_loss_sum_is_within_bound_with_a_bias_and_at_extremes():
    f = native_kernels()
    rng = np.random.default_rng(15)
    z = (rng.standard_normal((64, 300)) * 30).astype(F32)
    z[0, :6] = [88.0, -88.0, 103.0, -104.5, 1e-30, 0.0]
    t = (rng.random(z.shape) < 0.5).astype(F32)
    t[1] = rng.random(300).astype(F32)  # soft targets
    b = rng.standard_normal(300).astype(F32)
    zd = (z + b).astype(np.float64)
    want = np.sum(np.logaddexp(0, zd) - t * zd)
    assert abs(f.bce_sum(z, t, 0.0, None, b) - want) <= LOSS_REL * want
    # tiny terms (z far below 0, t = 0): the log of the products keeps them to double precision
    small = np.full(1000, -30.0, F32)
    zeros = np.zeros(1000, F32)
    want = 1000 * np.log1p(np.exp(np.float64(-30.0)))
    assert abs(f.bce_sum(small, zeros) - want) <= LOSS_REL * want
    z[5, 5] = np.nan
    assert np.isnan(f.bce_sum(z, t, 0.0, None, b))


def test_colsum_update_and_axpy_sum_are_the_numpy_bits():
    f = native_kernels()
    rng = np.random.default_rng(16)
    for rows, cols in ((1, 5), (128, 32), (40, 784), (3, 1030)):
        g = rng.standard_normal((rows, cols)).astype(F32)
        b = rng.standard_normal(cols).astype(F32)
        out = np.empty(cols, F32)
        assert f.colsum_update(b, g, -0.1, out)
        want = b + F32(-0.1) * np.add.reduce(g, axis=0)  # numpy sums axis 0 row after row too
        assert np.array_equal(out.view(np.uint32), want.view(np.uint32)), (rows, cols)
        exact = b.astype(np.float64) - 0.1 * g.astype(np.float64).sum(0)
        assert np.abs(out - exact).max() <= rows * 2.0 ** -22 * (np.abs(g).sum(0).max() * 0.1 + np.abs(b).max())
    x, y, z = (rng.standard_normal(1001).astype(F32) for _ in range(3))
    out = np.empty_like(x)
    assert f.axpy_sum(x, y, z, -0.01, out)
    assert np.array_equal(out.view(np.uint32), (x + F32(-0.01) * (y + z)).view(np.uint32))
    assert f.axpy_sum(x, y, z, 1.0, x)  # in place: each element read before it is written
    with pytest.raises(ValueError, match="different sizes"):
        f.colsum_update(b, np.zeros((2, 7), F32), 1.0, out[:1030])


def test_scan_counts_nonzeros_and_finds_non_finite_values():
    f = native_kernels()
    rng = np.random.default_rng(17)
    for n in (0, 1, 15, 16, 17, 100_003):
        x = np.where(rng.random(n) < 0.3, rng.standard_normal(n), 0).astype(F32)
        x[::11] = -0.0  # a zero, as numpy counts it
        assert f.scan(x) == (True, np.count_nonzero(x))
        if n:
            for bad in (np.nan, np.inf, -np.inf):
                y = x.copy()
                y[n // 2] = bad
                assert f.scan(y) == (False, np.count_nonzero(y))
            y[n // 2] = 3e38  # finite
            assert f.scan(y)[0] is True
    assert f.scan(np.zeros((4, 6), F32)[:, ::2]) is None  # not contiguous: the caller's BLAS check runs
    assert f.scan(np.zeros(4)) is None


@pytest.mark.parametrize("mode", ["native", "numpy"])
def test_the_nan_guard_on_both_paths(mode, monkeypatch):
    """The guard is the native scan (native) or a BLAS dot (numpy): both refuse nan and inf before
    any kernel runs, name the first bad row, and let 3e38 through."""
    monkeypatch.setenv(fused_native.KERNELS_ENV, mode)
    w0 = np.ones((64, 32), F32) * F32(0.01)
    step, (W, _, _) = _seed_ae(w0)
    xv = (np.random.default_rng(18).random((40, 64)) < 0.3).astype(F32)
    xv[7, 3] = np.nan
    with pytest.raises(trainer.NonFiniteInputError, match=r"row 7 .*index \(7, 3\)"):
        step(xv)
    xv[7, 3] = -np.inf
    with pytest.raises(trainer.NonFiniteInputError):
        step(xv)
    assert np.array_equal(W.get_value(), w0)  # nothing ran
    xv[7, 3] = 3e38
    step(xv)


def _seed_ae_sparse(seed_w: np.ndarray, sparse_inputs):
    W = trainer.shared(seed_w.copy(), name="W")
    bh = trainer.shared(np.zeros(seed_w.shape[1], F32), name="bh")
    bv = trainer.shared(np.zeros(seed_w.shape[0], F32), name="bv")
    x = T.matrix("x")
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(T.dot(h, W.T) + bv), x).mean()
    step = trainer.function([x], loss, updates=optimizers.sgd(loss, [W, bh, bv], lr=0.5), sparse_inputs=sparse_inputs)
    return step, (W, bh, bv)


def test_a_large_tied_weight_trains_alike_stacked_unstacked_sparse_and_numpy(monkeypatch):
    """At 2^16 weights and more, sgd_update runs the two gradient products as one stacked GEMM;
    it gives what the per-product kernels (and the numpy path) give within float32 rounding, and
    a call whose input takes the sparse path runs the sparse kernels instead."""
    rng = np.random.default_rng(19)
    w0 = (rng.standard_normal((512, 128)) * 0.1).astype(F32)  # 2^16 elements
    dense = (rng.random((3, 64, 512)) < 0.3).astype(F32)
    sparse_batches = (rng.random((3, 64, 512)) < 0.01).astype(F32)
    runs = {}
    for name, mode, stack in (("stacked", "native", True), ("unstacked", "native", False), ("numpy", "numpy", True)):
        monkeypatch.setenv(fused_native.KERNELS_ENV, mode)
        with monkeypatch.context() as m:
            if not stack:
                m.setattr(fusions, "STACK_MIN", 1 << 62)
            step, ps = _seed_ae_sparse(w0, "auto")
            losses = [float(step(b)) for b in dense] + [float(step(b)) for b in sparse_batches]
            assert step.last_call_sparse  # the last calls ran the sparse path: no stacking there
        runs[name] = losses, [p.get_value() for p in ps]
    for name in ("unstacked", "numpy"):
        for a, b in zip(runs["stacked"][0], runs[name][0], strict=True):
            assert abs(a - b) <= LOSS_REL * abs(b), name
        for a, b in zip(runs["stacked"][1], runs[name][1], strict=True):
            assert np.allclose(a, b, rtol=1e-4, atol=1e-6), name
