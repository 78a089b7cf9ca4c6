"""The Theano tensor API: integer dtypes and input conversion, function options, comparisons and
selection, reductions, indexing, shapes, nnet, stabilisation, the NaN guard, PyTorch cross-checks."""

import sys

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import rewrites
from tessera.trainer.graph import toposort

HERE = __file__
rng = np.random.default_rng(7)


def ops_of(outputs):
    return {v.op for v in toposort(list(outputs)) if v.kind == "apply"}


# ---------------------------------------------------------------- dtypes, inputs, function options

def test_typed_constructors():
    cases = {T.iscalar: ("int32", 0), T.ivector: ("int32", 1), T.imatrix: ("int32", 2), T.itensor3: ("int32", 3),
             T.lscalar: ("int64", 0), T.lvector: ("int64", 1), T.lmatrix: ("int64", 2), T.ltensor4: ("int64", 4),
             T.fmatrix: ("float32", 2), T.dvector: ("float64", 1), T.bvector: ("int8", 1)}
    for make, (dt, nd) in cases.items():
        v = make("v")
        assert (v.dtype, v.ndim, v.name) == (np.dtype(dt), nd, "v")
    assert T.tensor3("a").ndim == 3 and T.tensor4("b", dtype="int32").dtype == np.int32
    assert T.vector("y", dtype="int64").dtype == np.int64 and T.vector("y", dtype="int32").dtype == np.int32
    assert T.tensor(dtype="float64", broadcastable=(False, True)).shape == (None, 1)
    assert T.row().shape == (1, None) and T.col().shape == (None, 1)


def test_floatx_is_the_default_float(monkeypatch):
    monkeypatch.setattr(trainer.config, "floatX", "float64")
    assert T.matrix().dtype == np.float64 and trainer.shared(0.5).dtype == np.float64
    assert (T.ivector() * 0.5).dtype == np.float64
    monkeypatch.setattr(trainer.config, "floatX", "float32")
    assert T.matrix().dtype == np.float32 and T.cast(T.ivector(), "floatX").dtype == np.float32


def test_integer_arithmetic_and_promotion():
    y = T.ivector("y")
    assert (y + 1).dtype == np.int32 and (y * 2).dtype == np.int32 and (-y).dtype == np.int32
    assert (y * 0.5).dtype == np.float64  # int32 with a float: float64, as numpy and Theano
    assert (y / 2).dtype == np.float64 and T.exp(T.bvector()).dtype == np.float32
    assert (T.lvector() + T.ivector()).dtype == np.int64
    assert y.sum().dtype == np.int64 and (y > 0).sum().dtype == np.int64 and y.mean().dtype == np.float64
    assert (T.fvector() * T.lvector()).dtype == np.float64
    f = trainer.function([y], [y + 1, y * 0.5, y // 1 if False else y.max()])
    a, b, c = f(np.array([1, 2, 7], np.int32))
    assert a.tolist() == [2, 3, 8] and b.tolist() == [0.5, 1.0, 3.5] and int(c) == 7


def test_cast_semantics():
    x = T.vector("x")
    f = trainer.function([x], [T.cast(x, "int32"), T.cast(x, "int64"), T.cast(x, "bool"), x.astype("float64")],
                         nan_guard=False)
    v = np.array([-0.7, 2.9, np.nan, 1e10, -1e10, np.inf, -np.inf, -0.0], np.float32)
    i32, i64, b, d = f(v)
    # the format's Cast: toward zero, nan -> 0, saturation
    assert i32.tolist() == [0, 2, 0, 2147483647, -2147483648, 2147483647, -2147483648, 0]
    assert i64.tolist()[:5] == [0, 2, 0, 10000000000, -10000000000]
    assert b.tolist() == [True, True, True, True, True, True, True, False]
    assert d.dtype == np.float64 and T.cast(x, "float32") is x


def test_input_conversion_rules():
    x, y = T.vector("x"), T.ivector("y")
    f = trainer.function([x, y], [x * 1, y + 0])
    xs, ys = f(np.array([1.5, 2.0], np.float64), np.array([1, 2], np.int64))  # values survive: accepted
    assert xs.dtype == np.float32 and ys.dtype == np.int32
    assert f([0.1, 0.2], [1.0, 2.0])[0].dtype == np.float32  # python floats downcast to float32, as Theano
    with pytest.raises(TypeError, match="losing precision"):
        f(np.array([0.1], np.float64), [1])
    with pytest.raises(TypeError, match="losing precision"):
        f([1.0], np.array([1.5]))  # a fraction into an int input
    with pytest.raises(TypeError, match="losing precision"):
        f([1.0], np.array([2 ** 40]))
    g = trainer.function([x, y], [x * 1, y + 0], allow_input_downcast=True)
    a, b = g(np.array([0.1], np.float64), np.array([1.9]))
    assert a.dtype == np.float32 and b.tolist() == [1]
    h = trainer.function([x, y], [x * 1, y + 0], allow_input_downcast=False)
    h(np.array([1.0], np.float32), np.array([1], np.int16))  # safe casts pass
    with pytest.raises(TypeError, match="only safe casts"):
        h(np.array([1.0], np.float64), np.array([1], np.int32))


def test_on_unused_input_and_mode():
    x, z = T.matrix("x"), T.matrix("z")
    with pytest.raises(trainer.GraphError, match="z is not used"):
        trainer.function([x, z], x.sum())
    with pytest.warns(UserWarning, match="z is not used"):
        trainer.function([x, z], x.sum(), on_unused_input="warn")
    f = trainer.function([x, z], x.sum(), on_unused_input="ignore", mode="FAST_RUN")
    assert float(f(np.ones((2, 2)), np.zeros((3, 3)))) == 4.0
    for mode in ("FAST_COMPILE", "DebugMode", "NanGuardMode", None):
        trainer.function([x], x.sum(), mode=mode)
    with pytest.raises(ValueError, match="unknown mode"):
        trainer.function([x], x.sum(), mode="FASTEST")
    with pytest.raises(TypeError, match="unexpected keyword"):
        trainer.function([x], x.sum(), updatez=[])
    trainer.function([x], x.sum(), no_default_updates=True, profile=False)


def test_eval():
    x, y = T.matrix("x"), T.ivector("y")
    assert np.allclose((x * 2).eval({x: np.ones((2, 2), np.float32)}), 2)
    assert (y + 1).eval({y: np.array([1, 2], np.int32)}).tolist() == [2, 3]
    assert float(T.constant(3.0).eval()) == 3.0
    w = trainer.shared(np.arange(3.0))
    assert (w * 2).eval().tolist() == [0.0, 2.0, 4.0]


# ---------------------------------------------------------------- comparisons and selection

def test_comparisons_operators_and_identity():
    x = T.vector("x")
    outs = [x > 0, x >= 0, x < 0, x <= 0, T.gt(x, 0), T.eq(x, 0), T.neq(x, 0), T.ge(0, x)]
    assert all(o.dtype == np.bool_ for o in outs)
    f = trainer.function([x], outs, nan_guard=False)
    v = np.array([-1.0, -0.0, 0.0, 2.0, np.nan], np.float32)
    got = [o.tolist() for o in f(v)]
    with np.errstate(invalid="ignore"):
        want = [(v > 0), (v >= 0), (v < 0), (v <= 0), (v > 0), (v == 0), (v != 0), (0 >= v)]
    assert got == [w.tolist() for w in want]  # nan compares false, except neq; -0 == +0
    # == keeps Python identity (variables are dict keys in givens and updates), as in Theano
    assert (x == x) is True and (x == T.vector()) is False and {x: 1}[x] == 1


def test_logic_ops():
    a, b = T.vector("a"), T.vector("b")
    f = trainer.function([a, b], [T.and_(a > 0, b > 0), T.or_(a > 0, b > 0), T.invert(a > 0), (a > 0) & (b > 0),
                                  (a > 0) | (b > 0), ~(a > 0)])
    av, bv = np.array([1, 1, -1, -1], np.float32), np.array([1, -1, 1, -1], np.float32)
    r = [o.tolist() for o in f(av, bv)]
    assert r[0] == r[3] == [True, False, False, False] and r[1] == r[4] == [True, True, True, False]
    assert r[2] == r[5] == [False, False, True, True]
    i = T.ivector("i")
    assert T.and_(i, 6).eval({i: np.array([3, 5], np.int32)}).tolist() == [2, 4]  # bitwise on integers
    with pytest.raises(trainer.DTypeError, match="bool or integer"):
        T.and_(a, b)


def test_switch_broadcasts_and_selects_bits():
    c, a, b = T.matrix("c"), T.vector("a"), T.scalar("b")
    f = trainer.function([c, a, b], [T.switch(c, a, b), T.where(c > 0.5, a, 0)], nan_guard=False)
    cv = np.array([[0, 1, 2], [-1, 0, 0.5]], np.float32)
    av = np.array([np.nan, -0.0, 3], np.float32)
    s, w = f(cv, av, np.float32(7))
    assert np.array_equal(s, np.where(cv != 0, av, 7), equal_nan=True)
    assert np.signbit(s[1, 1]) == np.signbit(np.float32(7))  # selected element's bits are copied
    assert s.shape == (2, 3) and np.array_equal(w, np.where(cv > 0.5, av, 0), equal_nan=True)
    assert np.signbit(s[0, 1])  # -0 kept


def test_gradient_stops_at_discrete_values():
    x = T.vector("x", dtype="float64")
    cost = (x * T.cast(x > 0, "float64")).sum() + T.cast(T.argmax(x), "float64")
    g = trainer.function([x], T.grad(cost, x))(np.array([-1.0, 2.0, 3.0]))
    assert g.tolist() == [0.0, 1.0, 1.0]


# ---------------------------------------------------------------- reductions

def test_reductions_values_and_keepdims():
    x = T.tensor3("x", dtype="float64")
    v = rng.standard_normal((2, 3, 4))
    outs = [x.max(axis=1), T.min(x, axis=(0, 2), keepdims=True), x.prod(axis=2), T.prod(x),
            x.var(axis=1), T.std(x, axis=0, keepdims=True), T.argmax(x, axis=2), x.argmin(axis=0, keepdims=True),
            T.argmax(x), T.var(x, axis=1, ddof=1)]
    got = trainer.function([x], outs)(v)
    want = [v.max(1), v.min((0, 2), keepdims=True), v.prod(2), v.prod(), v.var(1), v.std(0, keepdims=True),
            v.argmax(2), v.argmin(0, keepdims=True), v.argmax(), v.var(1, ddof=1)]
    for gg, ww in zip(got, want, strict=True):
        assert gg.shape == ww.shape and np.allclose(gg, ww, rtol=1e-12, atol=1e-12)
    assert got[6].dtype == np.int64


def test_argmax_ties_and_nan():
    x = T.matrix("x")
    f = trainer.function([x], [T.argmax(x, axis=1), T.argmin(x, axis=1)], nan_guard=False)
    v = np.array([[1, 3, 3, 0], [2, np.nan, 5, np.nan], [-0.0, 0.0, -1, -1]], np.float32)
    amax, amin = f(v)
    assert amax.tolist() == [1, 1, 0] and amin.tolist() == [3, 1, 2]  # first tie; first nan wins


# ---------------------------------------------------------------- indexing and shapes

def test_basic_indexing_matches_numpy():
    x = T.tensor3("x", dtype="float64")
    v = rng.standard_normal((4, 5, 6))
    keys = [(slice(None), slice(1, 3)), 2, -1, (slice(None, None, -2),), (1, slice(None), slice(4, 0, -3)),
            (Ellipsis, 2), (slice(-3, None), -2), (slice(10, 20),)]
    f = trainer.function([x], [x[k] for k in keys])
    for k, got in zip(keys, f(v), strict=True):
        assert np.array_equal(got, v[k]), k
    assert x[:, 1:3].shape == (None, None, None) and T.tensor3(shape=(4, 5, 6))[1, 1:3].shape == (2, 6)
    with pytest.raises(trainer.ShapeError, match="out of range"):
        T.matrix(shape=(2, 3))[2]


def test_advanced_indexing_and_scatter_add_gradient():
    W = trainer.shared(rng.standard_normal((5, 3)), name="W")
    idx = T.lvector("idx")
    emb = W[idx]
    gW = T.grad((emb * emb).sum(), W)
    f = trainer.function([idx], [emb, gW])
    iv = np.array([1, 4, 1, -1])
    e, g = f(iv)
    Wv = W.get_value()
    assert np.array_equal(e, Wv[iv])
    want = np.zeros_like(Wv)
    np.add.at(want, iv, 2 * Wv[iv])
    assert np.allclose(g, want)  # row 1 twice and row 4 (also as -1) twice: scatter-add
    with pytest.raises(trainer.ShapeError, match=HERE):
        f(np.array([5]))  # an index out of range is an error, never a read outside W


def test_nll_form_and_symbolic_scalar_index():
    p, y, i = T.matrix("p"), T.ivector("y"), T.lscalar("i")
    nll = -T.mean(T.log(p)[T.arange(T.shape(y)[0]), y])
    pv = rng.random((4, 3)).astype(np.float32) + 0.1
    yv = np.array([2, 0, 1, 2], np.int32)
    f = trainer.function([p, y, i], [nll, p[i], p[:, y]])
    a, b, c = f(pv, yv, 2)
    assert np.isclose(a, -np.mean(np.log(pv)[np.arange(4), yv]), rtol=1e-6)
    assert np.array_equal(b, pv[2]) and np.array_equal(c, pv[:, yv])


def test_set_and_inc_subtensor():
    x = T.matrix("x")
    v = np.arange(12, dtype=np.float32).reshape(3, 4)
    f = trainer.function([x], [T.set_subtensor(x[:, 1:3], 0), T.inc_subtensor(x[1], 10),
                               T.inc_subtensor(x[[0, 0, 2]], 1), T.set_subtensor(x[[2]], -x[:1])])
    s, inc, ainc, aset = f(v)
    w = v.copy()
    w[:, 1:3] = 0
    assert np.array_equal(s, w)
    w = v.copy()
    w[1] += 10
    assert np.array_equal(inc, w)
    w = v.copy()
    np.add.at(w, [0, 0, 2], 1)
    assert np.array_equal(ainc, w)
    w = v.copy()
    w[2] = -v[0]
    assert np.array_equal(aset, w)
    with pytest.raises(trainer.GraphError, match="indexed tensor"):
        T.set_subtensor(x, 0)


def test_shape_ops():
    x = T.tensor4("x")
    v = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    outs = [x.reshape((2, -1)), x.flatten(2), T.flatten(x), x.dimshuffle(3, 0, "x", 1, 2), T.shape(x),
            T.shape(x)[0] * 2, T.concatenate([x, x[:, :1]], axis=1), T.stack([x[0], x[1]], axis=2),
            T.arange(T.shape(x)[1]), T.arange(1, 7, 2), T.zeros_like(x), T.ones_like(x, dtype="int32"),
            T.log1p(x * 0.1), T.expm1(x * 0.1), abs(x) ** (x * 0.5)]
    got = trainer.function([x], outs)(v)
    want = [v.reshape(2, -1), v.reshape(2, -1), v.reshape(-1), v.transpose(3, 0, 1, 2)[:, :, None],
            np.array(v.shape), 4, np.concatenate([v, v[:, :1]], 1), np.stack([v[0], v[1]], 2), np.arange(3),
            np.arange(1, 7, 2), np.zeros_like(v), np.ones(v.shape, np.int32), np.log1p(v * np.float32(0.1)),
            np.expm1(v * np.float32(0.1)), np.abs(v) ** (v * np.float32(0.5))]
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert np.asarray(a).shape == np.asarray(b).shape and np.allclose(a, b, rtol=1e-6), k
    assert got[11].dtype == np.int32 and got[4].dtype == np.int64
    assert x.flatten(2).shape == (None, None) and T.tensor4(shape=(2, 3, 4, 5)).flatten(2).shape == (2, 60)
    with pytest.raises(trainer.ShapeError, match="not of length 1"):
        T.matrix(shape=(2, 3)).dimshuffle(1)
    with pytest.raises(trainer.GraphError, match="python ints"):
        x.reshape((T.shape(x)[0], -1))


def test_sqr_pow_and_rpow():
    x = T.vector("x", dtype="float64")
    v = np.array([0.5, 1.5, 2.0])
    a, b, c = trainer.function([x], [T.sqr(x), T.pow(x, x), 2 ** x])(v)
    assert np.allclose(a, v ** 2) and np.allclose(b, v ** v) and np.allclose(c, 2 ** v)


# ---------------------------------------------------------------- nnet and stabilisation

def test_nnet_activations():
    x = T.vector("x", dtype="float64")
    v = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    leaky, leaky2, elu, ss, lsm = trainer.function(
        [x], [T.nnet.relu(x, 0.1), T.nnet.relu(x, 2.0), T.nnet.elu(x, 0.5), T.nnet.softsign(x),
              T.nnet.log_softmax(x)])(v)
    assert np.allclose(leaky, np.where(v > 0, v, 0.1 * v)) and np.allclose(leaky2, np.where(v > 0, v, 2 * v))
    assert np.allclose(elu, np.where(v > 0, v, 0.5 * np.expm1(v))) and np.allclose(ss, v / (1 + np.abs(v)))
    assert np.allclose(lsm, v - np.log(np.exp(v).sum()))
    assert ops_of([T.nnet.relu(x, 0.1)]) == {"maximum", "mul"}  # exports with the 1.0 ops


def test_log_softmax_rewrite_and_issue_example():
    z, t = T.matrix("z"), T.matrix("t")
    p = T.nnet.softmax(z)
    loss = -(t * T.log(p)).sum(axis=1).mean()
    (opt,) = rewrites.optimize([loss])
    assert "log_softmax" in ops_of([opt]) and "log" not in ops_of([opt])
    f = trainer.function([z, t], [loss, T.grad(loss, z)])
    zv = np.array([[200.0, 0.0, -200.0]], np.float32)
    for tv in (np.array([[1.0, 0, 0]], np.float32), np.array([[0, 0, 1.0]], np.float32)):
        lv, gv = f(zv, tv)
        assert np.isfinite(lv) and np.all(np.isfinite(gv))
    assert np.isclose(float(f(zv, np.array([[0, 0, 1.0]], np.float32))[0]), 400.0)


@pytest.mark.parametrize("labels", ["int", "onehot"])
def test_categorical_crossentropy_extremes(labels):
    z = T.matrix("z", dtype="float64")
    y = T.lvector("y") if labels == "int" else T.matrix("y", dtype="float64")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y).mean()
    f = trainer.function([z, y], [loss, T.grad(loss, z)])
    for zv, yv in [(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]]), np.array([1, 0])),
                   (np.array([[-3e38, 0.0], [0.0, -3e38]]), np.array([0, 1]))]:
        yy = yv if labels == "int" else np.eye(zv.shape[1])[yv]
        lv, gv = f(zv, yy)
        sm = np.exp(zv - zv.max(1, keepdims=True))
        sm /= sm.sum(1, keepdims=True)
        want_loss = np.mean(-(zv - zv.max(1, keepdims=True))[np.arange(2), yv])  # exact, representable
        assert np.isfinite(lv) and np.isclose(lv, want_loss, rtol=1e-12)
        assert np.allclose(gv, (sm - np.eye(zv.shape[1])[yv]) / 2, atol=1e-300)  # softmax(z) - onehot(y)
    z32, y32 = T.matrix("z"), T.ivector("y")
    loss32 = T.nnet.categorical_crossentropy(T.nnet.softmax(z32), y32).mean()
    lv, gv = trainer.function([z32, y32], [loss32, T.grad(loss32, z32)])(
        np.array([[1e4, -1e4], [-3e38, 0]], np.float32), np.array([1, 0], np.int32))
    assert np.isfinite(lv) and np.isclose(lv, (2e4 + 3e38) / 2, rtol=1e-6)  # float32 too
    assert np.allclose(gv, [[0.5, -0.5], [-0.5, 0.5]])


# ---------------------------------------------------------------- NaN guard

def test_nan_guard_names_input_and_row():
    x, y = T.matrix("x"), T.ivector("y")
    W = trainer.shared(np.zeros((3, 2), np.float32), name="W")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(x, W)), y).mean()
    train = trainer.function([x, y], cost, updates=[(W, W - 0.1 * T.grad(cost, W))], name="train")
    xv = np.ones((4, 3), np.float32)
    xv[2, 1] = np.nan
    with pytest.raises(trainer.NonFiniteInputError, match=r"'x' holds nan at row 2 .*index \(2, 1\)"):
        train(xv, np.zeros(4, np.int32))
    assert np.all(W.get_value() == 0)  # nothing ran, no weight touched
    xv[2, 1] = -np.inf
    with pytest.raises(trainer.NonFiniteInputError, match="nan_guard=False"):
        train(xv, np.zeros(4, np.int32))
    xv[2, 1] = 3e38  # finite, even where a sum of the values would overflow
    train(xv, np.zeros(4, np.int32))
    off = trainer.function([x], x.sum(), nan_guard=False)
    assert np.isnan(off(np.full((1, 1), np.nan, np.float32)))
    s = T.scalar("s")
    with pytest.raises(trainer.NonFiniteInputError, match="'s' holds inf"):
        trainer.function([s], s * 2)(np.inf)


# ---------------------------------------------------------------- PyTorch cross-checks of new gradients

def test_new_gradients_against_torch():
    torch = pytest.importorskip("torch", reason="torch not installed: PyTorch gradient cross-check skipped")
    z0, w0, e0 = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal((7, 5))
    y0, idx0 = np.array([0, 3, 1, 2, 3, 0]), np.array([1, 6, 1, 0, 2, 6])
    z, y, idx = T.matrix("z", dtype="float64"), T.lvector("y"), T.lvector("idx")
    W, E = trainer.shared(w0, name="W"), trainer.shared(e0, name="E")
    h = z * E[idx]  # embedding lookup, repeated rows
    a = T.dot(h, W)
    cost = (T.nnet.categorical_crossentropy(T.nnet.softmax(a), y).mean()
            + T.nnet.log_softmax(a * 0.5).min(axis=1).sum()
            + T.nnet.elu(a).prod(axis=0).sum() * 0.01 + T.nnet.relu(a, 0.2).var(axis=0).sum()
            + T.nnet.softsign(a).std() + T.log1p(T.sqr(a)).sum() * 0.1 + T.expm1(a * 0.1).max(axis=1).sum()
            + (abs(a) + 0.5).__pow__(T.nnet.sigmoid(a)).sum() * 0.1
            + T.concatenate([a, h[:, :2]], axis=1)[1:, ::2].sum()
            + T.switch(a > 0, a ** 2, -a).mean() + T.inc_subtensor(a[:, 1:3], h[:, :2] * 2).sum() * 0.3)
    ours = trainer.function([z, y, idx], T.grad(cost, [W, E, z]))(z0, y0, idx0)
    F = torch.nn.functional
    tz = torch.tensor(z0, requires_grad=True)
    tW, tE = torch.tensor(w0, requires_grad=True), torch.tensor(e0, requires_grad=True)
    th = tz * tE[torch.tensor(idx0)]
    ta = th @ tW
    tinc = ta.clone()
    tinc[:, 1:3] = tinc[:, 1:3] + th[:, :2] * 2
    tc = (F.cross_entropy(ta, torch.tensor(y0)) + F.log_softmax(ta * 0.5, dim=1).min(dim=1).values.sum()
          + F.elu(ta).prod(dim=0).sum() * 0.01 + F.leaky_relu(ta, 0.2).var(dim=0, unbiased=False).sum()
          + F.softsign(ta).std(unbiased=False) + torch.log1p(ta ** 2).sum() * 0.1
          + torch.expm1(ta * 0.1).max(dim=1).values.sum()
          + ((ta.abs() + 0.5) ** torch.sigmoid(ta)).sum() * 0.1
          + torch.cat([ta, th[:, :2]], dim=1)[1:, ::2].sum()
          + torch.where(ta > 0, ta ** 2, -ta).mean() + tinc.sum() * 0.3)
    tc.backward()
    for got, want in zip(ours, [tW.grad, tE.grad, tz.grad], strict=True):
        assert np.allclose(got, want.numpy(), rtol=1e-9, atol=1e-10)


def test_module_aliases():
    from tessera.trainer.tensor.nnet import sigmoid  # noqa: F401 - Theano's import path
    assert sys.modules["tessera.trainer.tensor.nnet"] is T.nnet


# ---------------------------------------------------------------- tutorial idioms: givens, pickling, printing

def test_givens_slice_a_shared_data_set_by_a_symbolic_index():
    data = trainer.shared(np.arange(20, dtype=np.float32).reshape(10, 2), borrow=True)
    labels = T.cast(trainer.shared(np.arange(10, dtype=np.float32) % 3), "int32")
    index, bs = T.lscalar("index"), 4
    x, y = T.matrix("x"), T.ivector("y")
    W = trainer.shared(np.zeros((2, 3), np.float32), name="W")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(x, W)), y).mean()
    f = trainer.function([index], [x, y], updates=[(W, W - 0.1 * T.grad(cost, W))],
                         givens={x: data[index * bs:(index + 1) * bs], y: labels[index * bs:(index + 1) * bs]})
    for i in (0, 1, 2, 1):
        xb, yb = f(i)
        assert np.array_equal(xb, data.get_value()[i * bs:(i + 1) * bs])
        assert yb.tolist() == (np.arange(10) % 3)[i * bs:(i + 1) * bs].tolist()
    assert len(f._plans) == 2  # one plan per batch length (4 and the last 2), not per index
    assert np.any(W.get_value() != 0)
    # the gradient into the sliced tensor is zero outside the slice
    lo = T.lscalar("lo")
    d = trainer.shared(np.ones((5, 2)), name="d")
    g = trainer.function([lo], T.grad((d[lo:lo + 2] ** 2).sum(), d))(-3)
    assert g.tolist() == [[0, 0], [0, 0], [2, 2], [2, 2], [0, 0]]
    with pytest.raises(trainer.GraphError, match="first axis with step 1"):
        data[::index]


class PickledModel:
    def __init__(self):
        from tessera.trainer.tensor.shared_randomstreams import RandomStreams
        self.x = T.matrix("x")
        self.W = trainer.shared(rng.standard_normal((3, 4)).astype(np.float32), name="W")
        self.srng = RandomStreams(4)
        self.noisy = T.dot(self.x * self.srng.binomial(size=T.shape(self.x), p=0.5, dtype="float32"), self.W)
        self.pred = T.argmax(T.nnet.softmax(T.dot(self.x, self.W)), axis=1)


def test_a_model_pickles_and_compiles_again(tmp_path):
    import pickle
    m = PickledModel()
    xv = rng.standard_normal((5, 3)).astype(np.float32)
    want = m.pred.eval({m.x: xv})
    path = tmp_path / "best_model.pkl"
    with open(path, "wb") as f:
        pickle.dump(m, f)
    with open(path, "rb") as f:
        m2 = pickle.load(f)
    assert np.array_equal(trainer.function([m2.x], m2.pred)(xv), want)
    assert np.array_equal(m2.W.get_value(), m.W.get_value())
    assert trainer.function([m2.x], m2.noisy)(xv).shape == (5, 4)


def test_debugprint_and_pp_show_the_rewritten_graph():
    x = T.matrix("x")
    W = trainer.shared(np.zeros((3, 2), np.float32), name="W")
    y = T.nnet.softmax(T.dot(x, W))
    text = trainer.printing.debugprint(T.log(y), file="str")
    assert "log_softmax" in text and "shared 'W'" in text and "input 'x'" in text
    assert trainer.printing.pp(T.nnet.sigmoid(T.dot(x, W) + 1)) == "sigmoid((dot(x, W) + 1.0))"
    f = trainer.function([x], T.log(y))
    assert "log_softmax" in trainer.printing.debugprint(f, file="str")


# ---------------------------------------------------------------- edge cases

def test_cast_edges_int32_bounds_and_rounding():
    x, i = T.vector("x"), T.ivector("i")
    f = trainer.function([x], T.cast(x, "int32"))
    v = np.array([-2147483648.0, -2147483904.0, 2147483520.0, 2147483648.0, -0.9999, 0.9999], np.float32)
    assert f(v).tolist() == [-2147483648, -2147483648, 2147483520, 2147483647, 0, 0]
    g = trainer.function([i], T.cast(i, "float32"))
    got = g(np.array([16777217, -2147483648, 2147483647], np.int32))
    assert got.tolist() == [16777216.0, -2147483648.0, 2147483648.0]  # round to nearest even


def test_index_errors_and_negative_indices():
    W = trainer.shared(np.arange(12.0).reshape(4, 3), name="W")
    idx = T.ivector("idx")
    f = trainer.function([idx], W[idx])
    assert f(np.array([-4, -1, 0], np.int32)).tolist() == [[0, 1, 2], [9, 10, 11], [0, 1, 2]]
    for bad in ([4], [-5]):
        with pytest.raises(trainer.ShapeError, match="out of bounds|out of range"):
            f(np.array(bad, np.int32))
    with pytest.raises(trainer.DTypeError, match="integer dtype"):
        W[T.vector("fidx")]
    with pytest.raises(trainer.GraphError, match="bool masks"):
        W[W > 3]
    with pytest.raises(trainer.GraphError, match="too many"):
        W[0, 0, 0]
    assert trainer.function([], W[3:1])().shape == (0, 3)  # an empty slice, as numpy (not exportable)


def test_switch_three_way_broadcast_and_dtypes():
    c, a, b = T.col("c"), T.row("a"), T.scalar("b")
    s = T.switch(c > 0, a, b)
    assert s.shape == (None, None) and s.dtype == np.float32
    out = trainer.function([c, a, b], s)(np.array([[1], [-1]], np.float32), np.array([[1, 2, 3]], np.float32), 9)
    assert out.tolist() == [[1, 2, 3], [9, 9, 9]]
    i = T.ivector("i")
    assert T.switch(i > 0, i, 0).dtype == np.int32 and T.switch(i > 0, i, 0.5).dtype == np.float64
    with pytest.raises(trainer.ShapeError, match="broadcast"):
        T.switch(T.vector(shape=(3,)), T.vector(shape=(4,)), 0)


def test_concatenate_and_stack_edges():
    a, i = T.matrix("a", dtype="float64"), T.imatrix("i")
    cat = T.concatenate([a, i], axis=-1)
    assert cat.dtype == np.float64
    st = T.stack([T.scalar("s"), T.scalar("t")])
    assert st.ndim == 1
    v = trainer.function([a, i], cat)(np.ones((2, 1)), np.full((2, 2), 3, np.int32))
    assert v.tolist() == [[1, 3, 3], [1, 3, 3]]
    assert trainer.function(list(ops_inputs(st)), st)(1.0, 2.0).tolist() == [1.0, 2.0]
    with pytest.raises(trainer.ShapeError, match="differ outside axis"):
        T.concatenate([T.matrix(shape=(2, 3)), T.matrix(shape=(3, 3))], axis=1)


def ops_inputs(v):
    return sorted((x for x in toposort([v]) if x.kind == "input"), key=lambda x: x.name)


def test_reductions_with_nan_and_ties_in_gradient():
    x = T.vector("x", dtype="float64")
    g = trainer.function([x], T.grad(x.max(), x))(np.array([1.0, 3.0, 3.0]))
    assert g.tolist() == [0.0, 1.0, 1.0]  # ties share the gradient (as Theano's max)
    gp = trainer.function([x], T.grad(x.prod(), x))(np.array([0.0, 2.0, 0.0]))
    assert gp.tolist() == [0.0, 0.0, 0.0]
    gp1 = trainer.function([x], T.grad(x.prod(), x))(np.array([0.0, 2.0, 5.0]))
    assert gp1.tolist() == [10.0, 0.0, 0.0]  # exact with a zero: no division by x
    m = trainer.function([x], [x.max(), x.min()], nan_guard=False)(np.array([1.0, np.nan, 0.0]))
    assert all(np.isnan(v) for v in m)


def test_python_int_constants_do_not_upcast():
    x, i = T.matrix("x"), T.ivector("i")
    assert T.constant(1).dtype == np.int8 and T.constant(300).dtype == np.int32
    assert T.constant(2 ** 40).dtype == np.int64 and T.constant(np.int64(1)).dtype == np.int64
    assert (x + T.constant(1)).dtype == np.float32 and (i * T.constant(2)).dtype == np.int32
    assert (i + [1, 2]).dtype == np.int32 and T.constant(1.5).dtype == np.float32


# ---------------------------------------------------------------- gradient graphs in forward ops (export)

def _saliency_graphs():
    r = np.random.default_rng(5)
    x = T.matrix("x", shape=(None, 6))
    W1 = trainer.shared(r.standard_normal((6, 5)).astype(np.float32), name="W1")
    b1 = trainer.shared(np.zeros(5, np.float32), name="b1")
    W2 = trainer.shared(r.standard_normal((5, 3)).astype(np.float32), name="W2")
    h = T.nnet.sigmoid(T.dot(x, W1) + b1)
    p = T.nnet.softmax(T.dot(T.nnet.relu(h - 0.5), W2))
    v = T.vector("v", shape=(6,))
    scores = [
        (T.log(p) * np.eye(3, dtype=np.float32)[1]).sum(),
        T.clip(h, 0.2, 0.8).mean() + h.max(axis=1).sum() + T.maximum(h, 0.5).min(axis=0).sum(),
        (T.tanh(x.reshape((-1, 3, 2))) ** 2).mean(axis=(0, 2)).sum() + abs(x + 1).sum(),
    ]
    return x, v, [T.grad(s, x) for s in scores] + [T.grad(T.dot(v, W1).sum() * T.dot(v, W1).max(), v)]


def test_forward_form_of_gradient_graphs_computes_the_same():
    from tessera.trainer import ops
    x, v, grads = _saliency_graphs()
    xv = np.random.default_rng(6).random((4, 6)).astype(np.float32)
    vv = np.random.default_rng(7).random(6).astype(np.float32)
    for g in grads:
        ins = [x] if g.ndim == 2 else [v]
        val = [xv] if g.ndim == 2 else [vv]
        (fw,) = rewrites.for_export([g])
        left = {o for o in ops_of([fw]) if not ops.get(o).forward}
        assert left <= {"sign"}, left  # abs's gradient: no format op computes sign
        assert np.allclose(trainer.function(ins, fw)(*val), trainer.function(ins, g)(*val), rtol=1e-6, atol=1e-7)


def test_a_saliency_map_exports_as_written():
    """`exporter.export` itself puts gradient-only ops in their forward forms: the user exports `T.grad(...)`."""
    from tessera.exporter import export, load
    x, _, grads = _saliency_graphs()
    xv = np.random.default_rng(6).random((4, 6)).astype(np.float32)
    for g in grads[:2]:
        doc = export(outputs=[g], inputs=[x])
        (got,) = load(doc).run({"x": xv}).values()
        assert np.allclose(got, trainer.function([x], g)(xv), rtol=1e-5, atol=1e-7)


def test_symbolic_shape_dims():
    """x.shape[i] as Theano: a symbolic scalar for a dim unknown at build time, the int when
    known; iterating or comparing x.shape gives the static contract."""
    from tessera.trainer import graph

    x = T.matrix("x")
    y = T.ivector("y")
    n = x.shape[0]
    assert isinstance(n, graph.Variable) and n.ndim == 0 and n.dtype.kind == "i"
    assert isinstance(x.shape[-1], graph.Variable)
    assert tuple(x.shape) == (None, None) and x.shape == (None, None) and list(x.shape) == [None, None]
    rows, cols = x.shape  # unpacking: static
    assert rows is None and cols is None
    k = T.matrix("k", shape=(None, 4))
    assert k.shape[1] == 4 and type(k.shape[1]) is int and k.shape[1:] == (4,)
    p = T.nnet.softmax(x)
    nll = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    with pytest.raises(trainer.GraphError, match="zeros_like"):
        T.zeros((x.shape[0],))
    f = trainer.function([x, y], [nll, x.shape[0] * 2 + x.shape[1], T.zeros_like(x[:, 0]), T.arange(x.shape[-1])])
    xv = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    yv = np.array([0, 2, 1, 1, 0], np.int32)
    loss, m, z, r = f(xv, yv)
    ls = xv - xv.max(1, keepdims=True)
    ls = ls - np.log(np.exp(ls).sum(1, keepdims=True))
    assert np.isclose(loss, -ls[np.arange(5), yv].mean(), rtol=1e-6)
    assert int(m) == 13 and z.shape == (5,) and r.tolist() == [0, 1, 2]
    # the gradient flows as with T.shape(y)[0]
    g = trainer.function([x, y], T.grad(nll, x))(xv, yv)
    assert g.shape == (5, 3) and np.allclose(g.sum(1), 0, atol=1e-6)


def test_symbolic_shape_dims_in_the_exporter_contract():
    # the trainer's own readers (and the exporter's) see None for unknown dims
    from tessera.trainer import graph

    x = T.matrix("x", shape=(None, 3))
    src = "def dim(v, i):\n    return v.shape[i]\n"
    ns = {"__name__": "tessera.exporter.somewhere"}
    exec(compile(src, "<exporter>", "exec"), ns)
    assert ns["dim"](x, 0) is None and ns["dim"](x, 1) == 3
    assert isinstance(x.shape[0], graph.Variable)
