"""Each compile pass on its own: merge, constant folding, simplification, stabilisation."""

import numpy as np

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import rewrites
from tessera.trainer.graph import toposort


def _ops(outs):
    return [v.op for v in toposort(outs) if v.kind == "apply"]


def test_merge_shares_common_subexpressions():
    x = T.matrix("x")
    a = T.exp(x) + 1.0
    b = T.exp(x) + 1.0
    (ma, mb) = rewrites.merge([a, b])
    assert ma is mb
    assert _ops([ma, mb]).count("exp") == 1


def test_constant_folding():
    x = T.vector("x")
    c = T.constant(np.array([1.0, 2.0], np.float32))
    y = x * (T.exp(c) * 2.0)
    (f,) = rewrites.constant_fold([y])
    assert _ops([f]) == ["mul"]
    assert np.allclose(f.inputs[1].value, np.exp([1.0, 2.0]) * 2)


def test_simplify_identities():
    x = T.matrix("x")
    assert rewrites.simplify([x * 1.0])[0] is x
    assert rewrites.simplify([x + 0.0])[0] is x
    assert rewrites.simplify([T.neg(T.neg(x))])[0] is x
    assert rewrites.simplify([x.T.T])[0] is x
    assert rewrites.simplify([x ** 1])[0] is x
    (y,) = rewrites.simplify([-(x - 2.0)])
    assert y.op == "sub" and y.inputs[1] is x


def test_simplify_keeps_broadcasting_shape():
    v = T.vector("v", shape=(3,))
    ones = T.constant(np.ones((2, 3), np.float32))
    (y,) = rewrites.simplify([v * ones])  # not a scalar 1: result must stay (2, 3)
    assert y.shape == (2, 3)


def test_stabilize_bce_on_sigmoid():
    z = T.matrix("z")
    t = T.matrix("t")
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t)
    (s,) = rewrites.stabilize([loss])
    assert s.op == "sub" and s.inputs[0].op == "softplus" and s.inputs[1].op == "mul"
    assert "log" not in _ops([s])


def test_stabilize_log_sigmoid_forms():
    z = T.vector("z")
    (a,) = rewrites.stabilize([T.log(T.nnet.sigmoid(z))])
    assert _ops([a]) == ["neg", "softplus", "neg"]
    (b,) = rewrites.stabilize([T.log(1 - T.nnet.sigmoid(z))])
    assert _ops([b]) == ["softplus", "neg"]


def test_optimize_is_value_preserving():
    x = T.matrix("x", dtype="float64")
    w = trainer.shared(np.random.default_rng(0).standard_normal((3, 3)), name="w")
    y = T.nnet.binary_crossentropy(T.nnet.sigmoid(T.dot(x, w) * 1.0 + 0.0), x * 0.5).mean() + (x.T.T ** 1).sum()
    xv = np.random.default_rng(1).random((4, 3))
    raw = trainer.function([x], y)  # compiled (optimised)
    p = 1 / (1 + np.exp(-(xv @ w.get_value())))
    t = xv * 0.5
    ref = np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))) + xv.sum()
    assert np.isclose(raw(xv), ref, rtol=1e-12)
