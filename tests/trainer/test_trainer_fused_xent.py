"""Softmax cross-entropy with integer labels: the fused gradient (pass softmax_xent_grad), the
bias gradients as BLAS gemv (sum_to over leading axes, or leading and trailing ones as a conv
bias's), values known at plan time."""

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import fusions, verify_grad
from tessera.trainer.optimizers import sgd


def _without(monkeypatch, name):
    monkeypatch.setattr(fusions, "PASSES", [f for f in fusions.PASSES if f.name != name])


def _ops(f) -> list[str]:
    (plan,) = f._plans.values()
    return [f._order[k].op for _, _, _, k in plan.steps]


def _xent_grad_fn(form):
    z, y, w = T.matrix("z"), T.ivector("y"), T.vector("w")
    ce = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y)
    if form == "mean":
        cost, ins = ce.mean(), [z, y]
    elif form == "sum":
        cost, ins = ce.sum() * 0.25, [z, y]
    elif form == "weighted":  # a per-example gradient e (not a broadcast scalar)
        cost, ins = (ce * w).sum(), [z, y, w]
    else:  # the tutorials' spelling
        cost, ins = -T.mean(T.log(T.nnet.softmax(z))[T.arange(T.shape(y)[0]), y]), [z, y]
    return trainer.function(ins, [cost, T.grad(cost, z)], on_unused_input="ignore")


@pytest.mark.parametrize("form", ["mean", "sum", "weighted", "nll"])
def test_fused_gradient_equals_unfused(form, monkeypatch):
    monkeypatch.setenv("TESSERA_TRAINER_KERNELS", "numpy")  # numpy's forms (native: test_fused_native.py)
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((37, 10)) * 5).astype(np.float32)
    z[0] = [1e4, -1e4, 0, 0, 0, 0, 0, 0, 0, -3e38]  # stabilised: finite
    y = rng.integers(-10, 10, 37).astype(np.int32)  # negative labels count from the end
    w = rng.standard_normal(37).astype(np.float32)
    args = (z, y, w) if form == "weighted" else (z, y)
    fused = _xent_grad_fn(form)
    loss_f, g_f = fused(*args)
    assert "advanced_subtensor_grad" not in _ops(fused)  # log_softmax_grad runs the fused kernel
    with monkeypatch.context() as m:
        _without(m, "softmax_xent_grad")
        plain = _xent_grad_fn(form)
        loss_p, g_p = plain(*args)
        assert "advanced_subtensor_grad" in _ops(plain)
    assert np.isfinite(g_f).all()
    assert loss_f == loss_p
    assert np.array_equal(g_f, g_p)  # the same bits, but for the sign of zeros


def test_fused_gradient_bad_label_is_an_error():
    f = _xent_grad_fn("mean")
    with pytest.raises(Exception, match="out of|bounds"):
        f(np.zeros((3, 4), np.float32), np.array([0, 4, 1], np.int32))


def test_fused_gradient_verify_grad():
    y = np.array([2, 0, 1, 1, -1], np.int64)
    z = np.random.default_rng(1).standard_normal((5, 3))
    verify_grad(lambda a: T.nnet.categorical_crossentropy(T.nnet.softmax(a), y).mean(), [z],
                rng=np.random.default_rng(0))
    verify_grad(lambda a: (T.nnet.categorical_crossentropy(T.nnet.softmax(a), y) * np.arange(5.0)).sum(), [z],
                rng=np.random.default_rng(0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bias_gradient_is_the_column_sum(dtype):
    rng = np.random.default_rng(2)
    b = trainer.shared(np.zeros(7, dtype), name="b")
    x = T.tensor3("x", dtype=dtype)
    gb = T.grad((T.tanh(x + b) * 1.5).sum(), b)
    f = trainer.function([x], gb)
    xv = rng.standard_normal((4, 9, 7)).astype(dtype)
    want = (1.5 * (1 - np.tanh(xv.astype(np.float64)) ** 2)).sum(axis=(0, 1))
    got = f(xv)
    assert got.dtype == np.dtype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert np.allclose(got, want, rtol=tol, atol=tol * 36)
    # a transposed (non-contiguous) gradient reduces the same way
    W = trainer.shared(np.zeros((1, 5), dtype), name="W")
    m = T.matrix("m", dtype=dtype)
    f2 = trainer.function([m], T.grad((m.T + W).sum() * 2.0, W))
    mv = rng.standard_normal((5, 6)).astype(dtype)
    assert np.allclose(f2(mv), np.full((1, 5), 12.0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pattern", ["x", "xx", "0x"])
def test_conv_bias_gradient_sums_lead_and_trail_axes(dtype, pattern):
    # a bias broadcast over (N, C, H, W) as dimshuffle(pattern): its gradient sums every other axis
    rng = np.random.default_rng(4)
    c = 5
    shuffles = {"x": ("x", 0, "x", "x"), "xx": ("x", "x", 0, "x"), "0x": (0, "x", "x", "x")}
    kept = {"x": 1, "xx": 2, "0x": 0}[pattern]
    b = trainer.shared(np.zeros(c, dtype), name="b")
    x = T.tensor4("x", dtype=dtype)
    f = trainer.function([x], T.grad((T.tanh(x + b.dimshuffle(*shuffles[pattern])) * 1.5).sum(), b))
    shape = [3, 4, 6, 7]
    shape[kept] = c
    for xv in (rng.standard_normal(shape).astype(dtype),
               rng.standard_normal(shape[::-1]).astype(dtype).transpose(3, 2, 1, 0)):  # not contiguous
        want = (1.5 * (1 - np.tanh(xv.astype(np.float64)) ** 2)).sum(axis=tuple(a for a in range(4) if a != kept))
        got = f(xv)
        assert got.dtype == np.dtype(dtype) and got.shape == (c,)
        tol = 1e-5 if dtype == "float32" else 1e-12
        assert np.allclose(got, want, rtol=tol, atol=tol * 100)


def test_bias_verify_grad():
    x = np.random.default_rng(3).standard_normal((6, 4))
    verify_grad(lambda b: T.tanh(T.constant(x) + b).sum(), [np.zeros(4)], rng=np.random.default_rng(0))


def test_plan_time_values_per_shape():
    x = T.matrix("x")
    f = trainer.function([x], T.arange(T.shape(x)[0]) * 2)
    assert f(np.zeros((3, 2), np.float32)).tolist() == [0, 2, 4]
    assert f(np.zeros((5, 2), np.float32)).tolist() == [0, 2, 4, 6, 8]
    assert f(np.zeros((3, 7), np.float32)).tolist() == [0, 2, 4]


def test_mlp_step_matches_hand_gradient():
    rng = np.random.default_rng(4)
    W1 = rng.standard_normal((8, 16)).astype(np.float32) * 0.3
    W2 = rng.standard_normal((16, 5)).astype(np.float32) * 0.3
    b1, b2 = np.zeros(16, np.float32), np.full(5, 0.1, np.float32)
    X = rng.standard_normal((32, 8)).astype(np.float32)
    Y = rng.integers(0, 5, 32).astype(np.int32)
    sh = [trainer.shared(a.copy()) for a in (W1, b1, W2, b2)]
    x, y = T.matrix("x"), T.ivector("y")
    h = T.nnet.relu(T.dot(x, sh[0]) + sh[1])
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(h, sh[2]) + sh[3]), y).mean()
    trainer.function([x, y], loss, updates=sgd(loss, sh, lr=0.5))(X, Y)
    # float64 reference
    hh = np.maximum(X @ W1 + b1, 0).astype(np.float64)
    zz = hh @ W2 + b2
    p = np.exp(zz - zz.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d = p.copy()
    d[np.arange(32), Y] -= 1
    d /= 32
    dh = (d @ W2.T) * (hh > 0)
    ref = [W1 - 0.5 * X.T @ dh, b1 - 0.5 * dh.sum(0), W2 - 0.5 * hh.T @ d, b2 - 0.5 * d.sum(0)]
    for s, r in zip(sh, ref, strict=True):
        assert np.allclose(s.get_value(), r, rtol=1e-5, atol=1e-6)
