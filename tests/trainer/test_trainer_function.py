"""Compiled functions: Theano update semantics, input checks, givens, buffers, sparse path."""

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import datasets, sparse


def test_updates_use_old_values():
    a = trainer.shared(np.float32(1.0), name="a")
    b = trainer.shared(np.float32(10.0), name="b")
    # swap-like updates: each must see the other's old value
    f = trainer.function([], [a, b], updates=[(a, b + 0), (b, a * 1 + 0.5)])
    ra, rb = f()
    assert float(ra) == 1.0 and float(rb) == 10.0  # outputs are the old values
    assert float(a.get_value()) == 10.0 and float(b.get_value()) == 1.5
    f()
    assert float(a.get_value()) == 1.5 and float(b.get_value()) == 10.5


def test_repeated_calls_steady_and_outputs_not_aliased():
    W = trainer.shared(np.ones((3, 2), np.float32), name="W")
    x = T.matrix("x")
    y = T.dot(x, W)
    f = trainer.function([x], y, updates=[(W, W * 2)])
    xv = np.ones((4, 3), np.float32)
    y1 = f(xv)
    y2 = f(xv)
    assert np.array_equal(y1, np.full((4, 2), 3.0)) and np.array_equal(y2, np.full((4, 2), 6.0))
    held = W.get_value(borrow=False)
    f(xv)
    assert np.array_equal(held, np.full((3, 2), 4.0))  # a copy is not disturbed by later steps
    assert len(f._plans) == 1


def test_set_value_between_calls():
    w = trainer.shared(np.zeros(3, np.float32), name="w")
    x = T.vector("x")
    f = trainer.function([x], (x * w).sum())
    w.set_value(np.array([1, 2, 3]))
    assert w.get_value().dtype == np.float32
    assert float(f(np.ones(3, np.float32))) == 6.0


def test_input_checks():
    x = T.matrix("x")
    f = trainer.function([x], x.sum())
    assert float(f(np.ones((2, 2), np.float64))) == 4.0  # lossless float64 -> float32 is accepted
    assert float(f([[1, 2], [3, 4]])) == 10.0
    with pytest.raises(TypeError, match="losing precision"):
        f(np.full((2, 2), 0.1, np.float64))
    with pytest.raises(TypeError, match="rank 2"):
        f(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="takes 1 input"):
        f()
    y = T.matrix("y", shape=(None, 3))
    h = trainer.function([y], y.sum())
    with pytest.raises(ValueError, match="dim 1 must be 3"):
        h(np.ones((2, 4), np.float32))


def test_missing_input_and_bad_update():
    x = T.matrix("x")
    z = T.matrix("z")
    with pytest.raises(trainer.GraphError, match="z"):
        trainer.function([x], x + z)
    w = trainer.shared(np.zeros(3, np.float32))
    w64 = T.vector("v", dtype="float64")
    with pytest.raises(trainer.GraphError, match="dtype"):
        trainer.function([w64], updates=[(w, w64)])
    with pytest.raises(trainer.GraphError, match="twice"):
        trainer.function([], updates=[(w, w + 1), (w, w + 2)])


def test_givens():
    x = T.matrix("x")
    data = trainer.shared(np.arange(6, dtype=np.float32).reshape(2, 3), name="data")
    w = T.vector("w", shape=(3,))
    f = trainer.function([w], T.dot(x, w), givens=[(x, data)])
    assert np.array_equal(f(np.ones(3, np.float32)), [3.0, 12.0])


_ALLOCATION_PROBE = """
import tracemalloc
import numpy as np
import tessera.trainer.tensor as T
from tessera import trainer
W = trainer.shared(np.random.default_rng(0).standard_normal((256, 128)).astype(np.float32) * 0.1)
bh = trainer.shared(np.zeros(128, np.float32))
bv = trainer.shared(np.zeros(256, np.float32))
x = T.matrix("x")
h = T.nnet.sigmoid(T.dot(x, W) + bh)
xh = T.nnet.sigmoid(T.dot(h, W.T) + bv)
loss = T.nnet.binary_crossentropy(xh, x).mean()
gs = T.grad(loss, [W, bh, bv])
f = trainer.function([x], loss, updates=[(p, p - 0.1 * g) for p, g in zip([W, bh, bv], gs, strict=True)])
X = (np.random.default_rng(1).random((64, 256)) < 0.3).astype(np.float32)
f(X)
f(X)
tracemalloc.start()
for _ in range(5):
    f(X)
print(tracemalloc.get_traced_memory()[1])
"""


def test_no_large_allocation_per_step():
    # A fresh interpreter: tracemalloc counts every thread's allocations, and threads other test
    # modules leave behind (a Dask client's event loop, thread pools) would be counted too.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _ALLOCATION_PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    peak = int(done.stdout.split()[-1])
    assert peak < 64 * 1024, peak  # a single (64, 256) float32 array would be 64 KiB


def _ae_step(nv, nh, sparse_inputs, seed=0):
    rng = np.random.default_rng(seed)
    W = trainer.shared(rng.standard_normal((nv, nh)).astype(np.float32) * 0.05, name="W")
    bh = trainer.shared(np.zeros(nh, np.float32), name="bh")
    bv = trainer.shared(np.zeros(nv, np.float32), name="bv")
    x = T.matrix("x")
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    xh = T.nnet.sigmoid(T.dot(h, W.T) + bv)
    loss = T.nnet.binary_crossentropy(xh, x).mean()
    gs = T.grad(loss, [W, bh, bv])
    ups = [(p, p - 0.5 * g) for p, g in zip([W, bh, bv], gs, strict=True)]
    return trainer.function([x], loss, updates=ups, sparse_inputs=sparse_inputs), (W, bh, bv)


def test_sparse_path_equals_dense_and_is_chosen_only_for_sparse_binary():
    X = datasets.synthetic_sparse(n_samples=256, n_features=2000, density=0.01, seed=3)
    f_auto, p_auto = _ae_step(2000, 64, "auto")
    f_dense, p_dense = _ae_step(2000, 64, False)
    for i in range(0, 256, 128):
        la = f_auto(X[i:i + 128])
        assert f_auto.last_call_sparse
        ld = f_dense(X[i:i + 128])
        assert not f_dense.last_call_sparse
        assert np.isclose(la, ld, rtol=1e-5)
    for a, d in zip(p_auto, p_dense, strict=True):
        assert np.allclose(a.get_value(), d.get_value(), rtol=1e-4, atol=1e-6)
    # binary data denser than the sparse path's limit and sparse non-binary data stay dense
    dense_bin = (np.random.default_rng(0).random((128, 2000)) < sparse.max_density() + 0.1).astype(np.float32)
    f_auto(dense_bin)
    assert not f_auto.last_call_sparse
    f_auto(X[:128] * 0.5)
    assert not f_auto.last_call_sparse


def test_sparse_kernels_numpy_fallback(monkeypatch):
    monkeypatch.setattr(sparse, "_scipy_sparse", False)
    rng = np.random.default_rng(0)
    x = (rng.random((20, 30)) < 0.05).astype(np.float32)
    x[3] = 0  # an empty row
    s = sparse.detect(x, force=True)
    assert s is not None and s._csr is None
    W = rng.standard_normal((30, 7)).astype(np.float32)
    G = rng.standard_normal((20, 7)).astype(np.float32)
    assert np.allclose(s.gather_sum(W, np.empty((20, 7), np.float32)), x @ W, atol=1e-5)
    assert np.allclose(s.scatter_add(G, np.empty((30, 7), np.float32)), x.T @ G, atol=1e-5)
    assert sparse.detect(x * 2, force=True) is None


def test_shared_dtypes_and_0d_set_value():
    assert trainer.shared(0.5).dtype == np.float32
    assert trainer.shared(np.zeros(2)).dtype == np.float64
    assert trainer.shared(np.arange(3)).dtype == np.int64  # integer arrays stay integer, as Theano
    assert trainer.shared([1, 2]).dtype == np.float32  # python numbers and lists: floatX
    s = trainer.shared(np.float32(1.0))
    s.set_value(np.array(2.0))
    assert s.get_value().shape == () and float(s.get_value()) == 2.0


def _bce_grad_function(dtype, also_sigmoid):
    z = T.matrix("z", dtype=dtype)
    t = T.matrix("t", dtype=dtype)
    s = T.nnet.sigmoid(z)
    loss = T.nnet.binary_crossentropy(s, t).mean()
    gz = T.grad(loss, z)
    outs = [loss, gz] + ([s] if also_sigmoid else [])
    return trainer.function([z, t], outs)


@pytest.mark.parametrize("also_sigmoid", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_sigmoid_xent_grad(dtype, also_sigmoid):
    f = _bce_grad_function(dtype, also_sigmoid)
    rng = np.random.default_rng(0)
    zv = (rng.standard_normal((16, 24)) * 4).astype(dtype)
    zv[0, :4] = [100.0, -100.0, 30.0, -30.0]
    tv = (rng.random((16, 24)) < 0.3).astype(dtype)
    tv[0, :4] = [0.0, 1.0, 1.0, 0.0]
    gz = f(zv, tv)[1]
    z64 = zv.astype(np.float64)
    ref = (1 / (1 + np.exp(-z64)) - tv) / zv.size
    assert gz.dtype == np.dtype(dtype) and np.all(np.isfinite(gz))
    tol = 1e-7 / zv.size if dtype == "float32" else 1e-13 / zv.size
    assert np.allclose(gz, ref, rtol=1e-5, atol=tol)
    ops = [f._order[k].op for _fn, _b, _i, k in next(iter(f._plans.values())).steps]
    # one fused kernel: no products but the loss's t*z, and sigmoid(z) only when it is an output
    assert ops.count("mul") <= 1 and ops.count("sigmoid") == (1 if also_sigmoid else 0), ops


@pytest.mark.parametrize("reduce", ["mean", "sum"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_softplus_xent_loss(dtype, reduce):
    z = T.matrix("z", dtype=dtype)
    t = T.matrix("t", dtype=dtype)
    bce = T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t)
    f = trainer.function([z, t], getattr(bce, reduce)())
    rng = np.random.default_rng(0)
    zv = (rng.standard_normal((16, 24)) * 6).astype(dtype)
    zv[0, :6] = [100.0, -100.0, 100.0, -100.0, 0.0, 30.0]
    tv = (rng.random((16, 24)) < 0.3).astype(dtype)
    tv[0, :6] = [1.0, 0.0, 0.0, 1.0, 0.5, 0.25]  # soft targets too
    tv[1] = rng.random(24)
    z64, t64 = zv.astype(np.float64), tv.astype(np.float64)
    ref = getattr(np.logaddexp(0, z64) - t64 * z64, reduce)()
    got = f(zv, tv)
    assert got.dtype == np.dtype(dtype) and np.isfinite(got)
    assert np.isclose(got, ref, rtol=1e-6 if dtype == "float32" else 1e-13)
    ops = [f._order[k].op for _fn, _b, _i, k in next(iter(f._plans.values())).steps]
    assert ops == [reduce], ops  # softplus, product and difference in one kernel
    # well-classified with large logits: the terms summed apart are all >= 0, nothing cancels
    zv = np.full((16, 24), 50.0, dtype)
    zv[0, 0] = 0.0
    tv = np.ones((16, 24), dtype)
    expect = np.log(2.0) / (zv.size if reduce == "mean" else 1)
    assert np.isclose(f(zv, tv), expect, rtol=1e-6)


def test_softplus_xent_loss_not_fused_when_softplus_is_read_or_broadcast():
    z = T.matrix("z")
    t = T.matrix("t")
    tb = T.vector("tb")
    sp = T.nnet.softplus(z)
    f = trainer.function([z, t, tb], [(sp - t * z).mean(), sp, (T.nnet.softplus(z) - tb * z).mean()])
    rng = np.random.default_rng(1)
    zv = (rng.standard_normal((8, 5)) * 3).astype(np.float32)
    tv = (rng.random((8, 5)) < 0.5).astype(np.float32)
    tbv = (rng.random(5) < 0.5).astype(np.float32)
    loss, spv, lossb = f(zv, tv, tbv)
    sp64 = np.logaddexp(0, zv.astype(np.float64))
    assert np.allclose(spv, sp64, rtol=1e-6)
    assert np.isclose(loss, (sp64 - tv * zv).mean(), rtol=1e-6)
    assert np.isclose(lossb, (sp64 - tbv * zv).mean(), rtol=1e-6)


@pytest.mark.parametrize("lr_kind", ["constant", "shared"])
def test_fused_sgd_update_equals_plain_update(lr_kind):
    rng = np.random.default_rng(2)
    nv, nh = 40, 8
    W = trainer.shared(rng.standard_normal((nv, nh)) * 0.3, name="W")  # tied: two products
    W2 = trainer.shared(rng.standard_normal((nh, nv)) * 0.3, name="W2")  # untied decoder: one product
    x = T.matrix("x", dtype="float64")
    h = T.nnet.sigmoid(T.dot(x, W))
    xh = T.nnet.sigmoid(T.dot(h, W.T) + T.dot(h, W2))
    loss = T.nnet.binary_crossentropy(xh, x).mean()
    g_w, g_w2 = T.grad(loss, [W, W2])
    lr = 0.3 if lr_kind == "constant" else trainer.shared(np.float64(0.3))
    grads = trainer.function([x], [g_w, g_w2])  # products are outputs here: not fused
    step = trainer.function([x], loss, updates=[(W, W - lr * g_w), (W2, W2 - g_w2 * lr)])
    X = (rng.random((16, nv)) < 0.3).astype(np.float64)
    for _ in range(3):
        w0, w20 = W.get_value(), W2.get_value()
        gw, gw2 = grads(X)
        step(X)
        assert np.allclose(W.get_value(), w0 - 0.3 * gw, rtol=1e-12, atol=1e-14)
        assert np.allclose(W2.get_value(), w20 - 0.3 * gw2, rtol=1e-12, atol=1e-14)
    plan = next(iter(step._plans.values()))
    ops = [step._order[k].op for _fn, _b, _i, k in plan.steps]
    assert ops.count("dot") == 5, ops  # 3 forward, 2 backward; the 3 weight-gradient products run fused
    big = [step._order[k].op for _fn, _b, _i, k in plan.steps
           if step._order[k].shape in ((nv, nh), (nh, nv)) and step._order[k].op != "transpose"]
    assert big == ["sub", "sub"], big  # no separate sum or scaling pass over weight-sized arrays


def test_stacked_weight_gradient_equals_the_plain_update(monkeypatch):
    """A tied weight of 2^16 elements: sgd_update runs its two gradient products as one GEMM over
    the stacked operands (float64 here: the numpy kernels); the step is W - lr * gradient."""
    from tessera.trainer import fusions

    stacked = []
    plain = fusions._stacked_products
    monkeypatch.setattr(fusions, "_stacked_products", lambda *a: stacked.append(plain(*a)) or stacked[-1])
    rng = np.random.default_rng(3)
    nv, nh = 512, 128
    W = trainer.shared(rng.standard_normal((nv, nh)) * 0.05, name="W")
    x = T.matrix("x", dtype="float64")
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(T.dot(T.nnet.sigmoid(T.dot(x, W)), W.T)), x).mean()
    g_w = T.grad(loss, W)
    grads = trainer.function([x], g_w, sparse_inputs=False)
    step = trainer.function([x], loss, updates=[(W, W - 0.3 * g_w)], sparse_inputs=False)
    X = (rng.random((16, nv)) < 0.3).astype(np.float64)
    for _ in range(2):
        w0, gw = W.get_value(), grads(X)
        step(X)
        assert np.allclose(W.get_value(), w0 - 0.3 * gw, rtol=1e-12, atol=1e-14)
    assert len(stacked) == 1 and stacked[0] is not None


@pytest.mark.parametrize("direct", [True, False])
def test_calls_silence_floating_point_warnings_and_restore_the_state(direct, monkeypatch):
    """Kernels overflow and divide by zero silently inside a call (numpy 2's error state set
    directly, or np.errstate), and the caller's error state is back afterwards, also on errors."""
    from tessera.trainer import compile as compiled

    if not direct:
        monkeypatch.setattr(compiled, "_FP_STATE", None)
    x = T.vector("x")
    f = trainer.function([x], [T.exp(x), x / (x - x)])
    before = np.geterr()
    with np.errstate(all="raise"):
        e, d = f(np.array([1000.0, 1.0], np.float32))
        assert np.isinf(e[0]) and not np.isfinite(d).any()
        with pytest.raises(trainer.NonFiniteInputError):
            f(np.array([np.nan], np.float32))
        with pytest.raises(FloatingPointError):
            np.exp(np.float32(1000.0))  # the caller's state, back
    assert np.geterr() == before
