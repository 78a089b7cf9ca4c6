"""The seed program (only its imports changed), its gradients, and the BCE stabilisation."""

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import datasets


def test_seed_program_trains_on_digits():
    import numpy as np

    import tessera.trainer.tensor as T
    from tessera import trainer as theano
    np.random.seed(0)
    # --- the seed, verbatim but for imports (typos fixed) ---
    W = theano.shared(np.random.randn(64, 32).astype('float32') * 0.1, name='W')
    bv = theano.shared(np.zeros(64, dtype='float32'), name='bv')
    bh = theano.shared(np.zeros(32, dtype='float32'), name='bh')
    x = T.matrix('x')
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    x_hat = T.nnet.sigmoid(T.dot(h, W.T) + bv)
    loss = T.nnet.binary_crossentropy(x_hat, x).mean()
    g_w, g_h, g_v = T.grad(loss, [W, bh, bv])
    lr = 0.01
    train = theano.function([x], loss, updates=[(W, W - lr * g_w), (bv, bv - lr * g_v), (bh, bh - lr * g_h)])
    # ---
    X = datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    first = np.mean([train(X[i:i + 64]) for i in range(0, len(X), 64)])
    for _ in range(20):
        last = np.mean([train(X[i:i + 64]) for i in range(0, len(X), 64)])
    assert np.isfinite(last) and last < first - 0.05
    assert W.get_value().dtype == np.float32 and loss.dtype == np.float32


def _seed_graph(dtype="float64", seed=0, nv=64, nh=32):
    rng = np.random.default_rng(seed)
    W = trainer.shared(rng.standard_normal((nv, nh)).astype(dtype) * 0.1, name="W")
    bv = trainer.shared(rng.standard_normal(nv).astype(dtype) * 0.1, name="bv")
    bh = trainer.shared(rng.standard_normal(nh).astype(dtype) * 0.1, name="bh")
    x = T.matrix("x", dtype=dtype)
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    x_hat = T.nnet.sigmoid(T.dot(h, W.T) + bv)
    loss = T.nnet.binary_crossentropy(x_hat, x).mean()
    return W, bv, bh, x, loss


def _hand_gradient(X, W, bv, bh):
    """Independent derivation: dL/dz2 = (x_hat - x)/(N*D), backprop through the tied weights."""
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    h = sig(X @ W + bh)
    xh = sig(h @ W.T + bv)
    loss = -np.mean(X * np.log(xh) + (1 - X) * np.log(1 - xh))
    d2 = (xh - X) / X.size
    gbv = d2.sum(0)
    dh = d2 @ W
    d1 = dh * h * (1 - h)
    gbh = d1.sum(0)
    gW = X.T @ d1 + d2.T @ h
    return loss, gW, gbh, gbv


def test_seed_gradients_equal_hand_derived_float64():
    W, bv, bh, x, loss = _seed_graph()
    gW, gbh, gbv = T.grad(loss, [W, bh, bv])
    f = trainer.function([x], [loss, gW, gbh, gbv])
    X = (np.random.default_rng(1).random((50, 64)) < 0.3).astype(np.float64)
    ours = f(X)
    ref = _hand_gradient(X, W.get_value(), bv.get_value(), bh.get_value())
    for a, b in zip(ours, ref, strict=True):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-12), np.abs(a - b).max()


@pytest.mark.parametrize("zval", [100.0, -100.0, 30.0, -30.0, 0.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_on_sigmoid_is_stable(zval, dtype):
    z = T.vector("z", dtype=dtype)
    t = T.vector("t", dtype=dtype)
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t).sum()
    gz = T.grad(loss, z)
    f = trainer.function([z, t], [loss, gz])
    zv = np.array([zval, zval], dtype)
    tv = np.array([0.0, 1.0], dtype)
    lv, gv = f(zv, tv)
    sig = 1 / (1 + np.exp(-np.float64(zval)))
    sp = np.logaddexp(0, np.float64(zval))
    expected_loss = sp + (sp - zval)  # t=0: softplus(z); t=1: softplus(-z)
    assert np.isfinite(lv) and np.all(np.isfinite(gv))
    assert np.isclose(lv, expected_loss, rtol=1e-5)
    assert np.allclose(gv, [sig - 0.0, sig - 1.0], atol=1e-6)


def test_naive_graph_would_not_be_finite():
    # The same graph without stabilisation overflows: shows the test above can fail.
    z = np.array([100.0], np.float32)
    p = 1 / (1 + np.exp(-z))
    with np.errstate(all="ignore"):
        naive = -(0 * np.log(p) + 1 * np.log(1 - p))
    assert not np.isfinite(naive).all()


def test_log_sigmoid_rewrites_are_finite():
    z = T.vector("z", dtype="float32")
    a = T.log(T.nnet.sigmoid(z)).sum()
    b = T.log(1 - T.nnet.sigmoid(z)).sum()
    ga, gb = T.grad(a, z), T.grad(b, z)
    f = trainer.function([z], [a, b, ga, gb])
    zv = np.array([-100.0, 100.0], np.float32)
    av, bv, gav, gbv = f(zv)
    assert np.isclose(av, -100.0) and np.isclose(bv, -100.0)
    assert np.allclose(gav, [1.0, 0.0]) and np.allclose(gbv, [0.0, -1.0])
