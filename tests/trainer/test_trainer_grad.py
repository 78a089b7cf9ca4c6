"""Every op's gradient against finite differences (float64), broadcasting forms, torch cross-check."""

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import verify_grad

rng = np.random.default_rng(1234)


def r(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype(np.float64)


def away(*shape, gap=0.2):
    """Values in [-1, 1] kept `gap` away from 0 (for kinks at 0)."""
    v = r(*shape)
    return np.where(v >= 0, v + gap, v - gap)


UNARY_CASES = [
    ("neg", lambda a: -a, r(3, 4)),
    ("exp", T.exp, r(3, 4)),
    ("log", T.log, r(3, 4, lo=0.5, hi=2.0)),
    ("tanh", T.tanh, r(3, 4)),
    ("sqrt", T.sqrt, r(3, 4, lo=0.5, hi=2.0)),
    ("abs", T.abs, away(3, 4)),
    ("sigmoid", T.nnet.sigmoid, r(3, 4, lo=-4, hi=4)),
    ("softplus", T.nnet.softplus, r(3, 4, lo=-4, hi=4)),
    ("relu", T.nnet.relu, away(3, 4)),
    ("softmax", T.nnet.softmax, r(3, 5)),
    ("pow2", lambda a: a ** 2, r(3, 4)),
    ("pow3", lambda a: a ** 3, r(3, 4)),
    ("pow_half", lambda a: a ** 0.5, r(3, 4, lo=0.5, hi=2.0)),
    ("pow_neg", lambda a: a ** -1.5, r(3, 4, lo=0.5, hi=2.0)),
    ("transpose", lambda a: a.T, r(3, 4)),
    ("transpose3", lambda a: a.transpose(2, 0, 1), r(2, 3, 4)),
    ("reshape", lambda a: a.reshape(4, 3), r(3, 4)),
    ("reshape_neg", lambda a: a.reshape(-1), r(3, 4)),
    ("clip", lambda a: T.clip(a, -0.5, 0.5), np.array([[-0.9, -0.3, 0.1], [0.4, 0.7, -0.6]])),
    ("sum_all", lambda a: a.sum(), r(3, 4)),
    ("sum_ax0", lambda a: a.sum(axis=0), r(3, 4)),
    ("sum_ax1_keep", lambda a: a.sum(axis=1, keepdims=True), r(3, 4)),
    ("mean_all", lambda a: a.mean(), r(3, 4)),
    ("mean_ax1", lambda a: a.mean(axis=1), r(3, 4)),
    ("mean_ax02", lambda a: a.mean(axis=(0, 2)), r(2, 3, 4)),
    ("max_all", lambda a: a.max(), rng.permutation(12).reshape(3, 4) / 10.0),
    ("max_ax1", lambda a: a.max(axis=1), rng.permutation(12).reshape(3, 4) / 10.0),
    ("max_ax0_keep", lambda a: a.max(axis=0, keepdims=True), rng.permutation(12).reshape(3, 4) / 10.0),
    # the Theano tensor API: new ops, and compositions built from them
    ("log1p", T.log1p, r(3, 4, lo=-0.5, hi=2.0)),
    ("expm1", T.expm1, r(3, 4)),
    ("min_ax1", lambda a: a.min(axis=1), rng.permutation(12).reshape(3, 4) / 10.0),
    ("min_all_keep", lambda a: a.min(keepdims=True), rng.permutation(12).reshape(3, 4) / 10.0),
    ("prod_ax1", lambda a: a.prod(axis=1), r(3, 4)),
    ("prod_all", lambda a: a.prod(), r(2, 3, lo=0.5, hi=1.5)),
    ("prod_with_zero", lambda a: a.prod(axis=0), np.array([[0.0, 0.5, -1.2], [0.7, 0.0, 0.3], [1.1, 0.0, 2.0]])),
    ("var_ax1", lambda a: a.var(axis=1), r(3, 4)),
    ("std_all", lambda a: a.std(), r(3, 4)),
    ("log_softmax", T.nnet.log_softmax, r(3, 5)),
    ("cce_int_labels", lambda a: T.nnet.categorical_crossentropy(T.nnet.softmax(a), np.array([0, 4, 2])), r(3, 5)),
    ("cce_one_hot", lambda a: T.nnet.categorical_crossentropy(T.nnet.softmax(a), np.eye(5)[[1, 0, 3]]), r(3, 5)),
    ("leaky_relu", lambda a: T.nnet.relu(a, 0.1), away(3, 4)),
    ("relu_alpha_gt_1", lambda a: T.nnet.relu(a, 2.0), away(3, 4)),
    ("elu", T.nnet.elu, away(3, 4)),
    ("softsign", T.nnet.softsign, away(3, 4)),
    ("switch_gt", lambda a: T.switch(a > 0, a * 2, -a ** 3), away(3, 4)),
    ("logic", lambda a: a * T.cast(T.and_(T.ge(a, -0.5), T.or_(T.lt(a, 0.5), T.invert(T.le(a, 0.8)))), "float64")
     + T.switch(T.neq(a, 0.0), a, 0) * T.switch(T.eq(a, 1.0), 0, a), away(3, 4)),
    ("cast_to_float64", lambda a: T.cast(a, "float64") ** 3, r(3, 4).astype(np.float32)),
    ("cast_to_float32", lambda a: T.cast(a * 2, "float32"), r(3, 4).astype(np.float32) * 2),
    ("argmax_pick", lambda a: a[T.arange(T.shape(a)[0]), T.argmax(a, axis=1)] * a[T.arange(3), T.argmin(a, 1)],
     rng.permutation(12).reshape(3, 4) / 10.0),
    ("slice", lambda a: a[1:, ::-2] * 3 + a[-1, 1:3].sum(), r(3, 4)),
    ("slice_index", lambda a: a[::2, 1] * a[0, :2], r(3, 3)),
    ("inc_subtensor", lambda a: T.inc_subtensor(a[1:, :2], a[:2, 2:] ** 2), r(3, 4)),
    ("set_subtensor", lambda a: T.set_subtensor(a[0], a[1] * 2), r(3, 4)),
    ("take_rows_repeated", lambda a: a[[0, 2, 0]] * a[np.array([1, 1, 2])], r(3, 4)),
    ("take_cols", lambda a: a[:, [3, 0, 3]], r(3, 4)),
    ("adv_inc_subtensor", lambda a: T.inc_subtensor(a[[0, 2, 0]], a ** 2), r(3, 4)),
    ("adv_set_subtensor", lambda a: T.set_subtensor(a[[1]], a[:1] * 3), r(3, 4)),
    ("flatten2", lambda a: a.flatten(2) ** 2, r(2, 3, 4)),
    ("flatten1", lambda a: a.flatten() * np.arange(12.0), r(3, 4)),
    ("dimshuffle", lambda a: a.dimshuffle(1, "x", 0) * a.dimshuffle("x", 1, 0), r(3, 4)),
    ("dimshuffle_drop", lambda a: a.dimshuffle(2, 0) ** 2, r(3, 1, 4)),
    ("concatenate", lambda a: T.concatenate([a, a ** 2, a[:, :1]], axis=1), r(3, 4)),
    ("stack", lambda a: T.stack([a, -a * 3], axis=1), r(3, 4)),
    ("dynamic_slice", lambda a: a[T.constant(np.int64(1)):T.constant(np.int64(3))] ** 2, r(4, 3)),
    ("fill", lambda a: a * T.ones_like(a) + T.zeros_like(a) * a, r(3, 4)),
    ("pool_2d", lambda a: T.signal.pool.pool_2d(a, (2, 2), mode="max") + T.signal.pool.pool_2d(a, (2, 2), mode="sum"),
     rng.permutation(32).reshape(1, 2, 4, 4) / 10.0),  # every mode: tests/trainer/test_trainer_pool.py
]


@pytest.mark.parametrize("name,fn,x", UNARY_CASES, ids=[c[0] for c in UNARY_CASES])
def test_unary_gradients(name, fn, x):
    verify_grad(fn, [x], rng=np.random.default_rng(0))


BINARY_CASES = [
    ("add", lambda a, b: a + b, (3, 4), (3, 4)),
    ("sub", lambda a, b: a - b, (3, 4), (3, 4)),
    ("mul", lambda a, b: a * b, (3, 4), (3, 4)),
    ("div", lambda a, b: a / b, (3, 4), (3, 4)),
    ("maximum", T.maximum, (3, 4), (3, 4)),
    ("minimum", T.minimum, (3, 4), (3, 4)),
    # broadcasting forms
    ("add_row", lambda a, b: a + b, (3, 4), (4,)),
    ("sub_col", lambda a, b: a - b, (3, 4), (3, 1)),
    ("mul_scalar", lambda a, b: a * b, (3, 4), ()),
    ("div_row_left", lambda a, b: a / b, (4,), (3, 4)),
    ("mul_outer", lambda a, b: a * b, (3, 1), (1, 4)),
    ("maximum_bcast", T.maximum, (3, 4), (4,)),
    ("add_3d", lambda a, b: a + b, (2, 3, 4), (3, 1)),
    # dot forms
    ("dot_mm", T.dot, (3, 4), (4, 5)),
    ("dot_vm", T.dot, (4,), (4, 5)),
    ("dot_mv", T.dot, (3, 4), (4,)),
    ("dot_vv", T.dot, (4,), (4,)),
    ("power", lambda a, b: a ** b, (3, 4), (3, 4)),
    ("power_bcast", T.pow, (3, 4), (4,)),
    ("switch_bcast", lambda a, b: T.switch(a > 0, a, b), (3, 4), (4,)),
    ("conv2d", lambda a, b: T.nnet.conv2d(a, b, border_mode="half"), (2, 2, 4, 4), (3, 2, 3, 3)),
]


@pytest.mark.parametrize("name,fn,sa,sb", BINARY_CASES, ids=[c[0] for c in BINARY_CASES])
def test_binary_gradients(name, fn, sa, sb):
    a = r(*sa)
    b = r(*sb)
    if name.startswith("div"):
        b = np.abs(b) + 0.5
    if name.startswith("power"):
        a = np.abs(a) + 0.5
    if name.startswith("switch"):
        a = away(*sa)
    if name.startswith(("maximum", "minimum")):
        b = a.mean() + away(*sb, gap=0.3) if sb else b  # keep operands apart: no ties at the kink
    verify_grad(fn, [a, b], rng=np.random.default_rng(0))


def test_every_forward_op_has_a_gradient_case():
    from tessera.trainer import ops
    from tessera.trainer.graph import toposort
    covered = set()
    for _name, fn, x in UNARY_CASES:
        covered |= {v.op for v in toposort([fn(T.tensor(x.ndim, dtype=x.dtype))]) if v.kind == "apply"}
    for _name, fn, sa, sb in BINARY_CASES:
        a, b = T.tensor(len(sa), dtype="float64"), T.tensor(len(sb), dtype="float64")
        covered |= {v.op for v in toposort([fn(a, b)]) if v.kind == "apply"}
    covered |= {v.op for v in toposort(random_mask_graph()[1:]) if v.kind == "apply"}
    assert ops.names(forward=True) <= covered, sorted(ops.names(forward=True) - covered)


def random_mask_graph():
    """A cost through dropout-style random masks: its gradient is the mask (checked below)."""
    from tessera.trainer.tensor.shared_randomstreams import RandomStreams
    srng = RandomStreams(3)
    x = T.matrix("x", dtype="float64")
    m = srng.binomial(size=T.shape(x), p=0.5, dtype="float64")
    u = srng.uniform(size=(3, 4), low=1.0, high=2.0, dtype="float64")
    nrm = srng.normal(size=(3, 4), dtype="float64")
    return x, m, u, nrm


def test_gradient_through_random_draws():
    x, m, u, nrm = random_mask_graph()
    cost = (x * m * u + nrm).sum()
    f = trainer.function([x], [T.grad(cost, x), m, u])
    for _ in range(3):  # each call draws anew; the gradient is the draw of the same call
        g, mv, uv = f(r(3, 4))
        assert np.array_equal(g, mv * uv)


def test_composite_bce_gradient():
    p = r(3, 4, lo=0.1, hi=0.9)
    t = (r(3, 4) > 0).astype(np.float64)
    verify_grad(lambda a: T.nnet.binary_crossentropy(a, t), [p], rng=np.random.default_rng(0))


def test_verify_grad_catches_a_wrong_rule(monkeypatch):
    import dataclasses

    from tessera.trainer import ops
    wrong = dataclasses.replace(ops.get("exp"), grad=lambda n, g: [g * n * 1.01])
    monkeypatch.setitem(ops.REGISTRY, "exp", wrong)
    with pytest.raises(trainer.GradientError):
        verify_grad(T.exp, [r(2, 3)])


def test_grad_requires_scalar_cost():
    x = T.matrix("x", dtype="float64")
    with pytest.raises(trainer.GraphError, match="scalar"):
        T.grad(T.exp(x), x)


def test_disconnected_inputs():
    x = T.vector("x", dtype="float64")
    w = trainer.shared(np.ones(3), name="w")
    unused = trainer.shared(np.ones((2, 2)), name="unused")
    cost = (x * w).sum()
    with pytest.raises(trainer.DisconnectedInputError, match="unused"):
        T.grad(cost, [w, unused])
    gw, gu = T.grad(cost, [w, unused], disconnected_inputs="ignore")
    f = trainer.function([x], [gw, gu])
    a, b = f(np.array([1.0, 2.0, 3.0]))
    assert np.array_equal(a, [1, 2, 3]) and np.array_equal(b, np.zeros((2, 2)))


def test_grad_wrt_intermediate_and_single():
    x = T.vector("x", dtype="float64")
    y = T.exp(x)
    cost = (y * y).sum()
    gy = trainer.grad(cost, y)
    f = trainer.function([x], gy)
    v = np.array([0.1, 0.2])
    assert np.allclose(f(v), 2 * np.exp(v))


def test_against_torch():
    torch = pytest.importorskip("torch", reason="torch not installed: PyTorch gradient cross-check skipped")
    x0, w0, b0 = r(5, 4), r(4, 3), r(3)
    x = T.matrix("x", dtype="float64")
    W = trainer.shared(w0, name="W")
    b = trainer.shared(b0, name="b")
    y = T.nnet.softmax(T.tanh(T.dot(x, W) + b))
    cost = T.log(y).mean() + (T.nnet.softplus(x) ** 2).sum()
    gW, gb = T.grad(cost, [W, b])
    ours = trainer.function([x], [gW, gb])(x0)
    tx = torch.tensor(x0)
    tW = torch.tensor(w0, requires_grad=True)
    tb = torch.tensor(b0, requires_grad=True)
    ty = torch.softmax(torch.tanh(tx @ tW + tb), dim=-1)
    tc = torch.log(ty).mean() + (torch.nn.functional.softplus(tx) ** 2).sum()
    tc.backward()
    assert np.allclose(ours[0], tW.grad.numpy(), atol=1e-10)
    assert np.allclose(ours[1], tb.grad.numpy(), atol=1e-10)
