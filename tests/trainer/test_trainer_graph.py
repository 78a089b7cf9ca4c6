"""Graph building: the exporter-facing contract, dtype rules, build-time errors naming the user's line."""

import os
import sys

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import rewrites
from tessera.trainer.graph import Variable, toposort

HERE = os.path.basename(__file__)


def test_contract_attributes():
    W = trainer.shared(np.zeros((4, 3), np.float32), name="W")
    x = T.matrix("x")
    y = T.nnet.sigmoid(T.dot(x, W)).sum(axis=1, keepdims=True)
    assert isinstance(y, Variable) and y.kind == "apply" and y.op == "sum"
    assert y.attrs == {"axis": (1,), "keepdims": True}
    assert y.shape == (None, 1) and y.ndim == 2 and y.dtype == np.float32
    s = y.inputs[0]
    assert s.op == "sigmoid" and s.inputs[0].op == "dot"
    assert x.kind == "input" and x.op is None and x.inputs == () and x.name == "x"
    assert W.kind == "shared" and W.shape == (4, 3)
    c = (x * 2.0).inputs[1]
    assert c.kind == "constant" and isinstance(c.value, np.ndarray) and c.value.dtype == np.float32
    assert W.T.op == "transpose" and W.T.attrs == {"perm": (1, 0)}
    assert (x ** 3).attrs == {"exponent": 3.0}
    assert T.clip(x, 0, 1).attrs == {"lo": 0.0, "hi": 1.0}
    assert T.nnet.softmax(x).attrs == {"axis": -1}
    assert x.reshape((-1,)).attrs == {"shape": (-1,)}


def test_bce_is_built_from_primitives():
    p = T.matrix("p")
    t = T.matrix("t")
    ops = {v.op for v in toposort([T.nnet.binary_crossentropy(p, t)]) if v.kind == "apply"}
    assert ops == {"neg", "add", "mul", "log", "sub"}


def test_optimize_keeps_leaves_and_forward_vocabulary():
    W = trainer.shared(np.ones((4, 3), np.float32), name="W")
    b = trainer.shared(np.ones(4, np.float32), name="b")
    x = T.matrix("x")
    h = T.nnet.sigmoid(T.dot(x, W))
    xh = T.nnet.sigmoid(T.dot(h, W.T) + b)
    loss = T.nnet.binary_crossentropy(xh, x).mean()
    out = rewrites.optimize([xh, loss])
    leaves = {id(v) for v in toposort(out) if v.kind in ("input", "shared")}
    assert leaves == {id(W), id(b), id(x)}
    from tessera.trainer import ops
    assert all(ops.get(v.op).forward for v in toposort(out) if v.kind == "apply")


def test_python_scalars_do_not_upcast_float32():
    x = T.matrix("x")
    for y in (x * 0.1, 0.1 * x, x + 1, 1 - x, x / 3.0, 2.0 / x, x ** 2, -x, np.float64(2.0) * x):
        assert y.dtype == np.float32, y
    x64 = T.matrix("x", dtype="float64")
    assert (x + x64).dtype == np.float64


def test_float64_allowed_and_bad_dtype_refused():
    assert T.vector(dtype="float64").dtype == np.float64
    assert T.matrix("i", dtype="int32").dtype == np.int32
    with pytest.raises(trainer.DTypeError, match=HERE):
        T.matrix("h", dtype="float16")


def test_shape_error_names_user_line():
    W = trainer.shared(np.zeros((64, 32), np.float32))
    x = T.matrix("x", shape=(10, 63))
    line = sys._getframe().f_lineno + 2
    with pytest.raises(trainer.ShapeError) as ei:
        T.dot(x, W)
    msg = str(ei.value)
    assert f"{HERE}:{line}" in msg and "dot" in msg and "(10, 63)" in msg


def test_broadcast_error_names_user_line():
    a = trainer.shared(np.zeros((3, 4), np.float32))
    b = trainer.shared(np.zeros((5,), np.float32))
    line = sys._getframe().f_lineno + 2
    with pytest.raises(trainer.ShapeError, match=f"{HERE}:{line}.*broadcast"):
        a + b


def test_operator_errors():
    x = T.matrix("x")
    assert (x ** T.scalar("e")).op == "power"  # a tensor exponent is its own op
    with pytest.raises(trainer.GraphError, match="exponent"):
        x ** "2"
    with pytest.raises(trainer.ShapeError, match="axis"):
        x.sum(axis=2)
    with pytest.raises(trainer.ShapeError):
        x.reshape(-1, -1)


def test_run_time_shape_error_names_build_line():
    W = trainer.shared(np.zeros((64, 32), np.float32))
    x = T.matrix("x")
    line = sys._getframe().f_lineno + 1
    y = T.dot(x, W)
    f = trainer.function([x], y)
    with pytest.raises(trainer.ShapeError, match=f"{HERE}:{line}"):
        f(np.zeros((2, 10), np.float32))


def test_broadcast_shape_inference():
    x = T.matrix("x")
    b = T.vector("b", shape=(5,))
    assert (x + b).shape == (None, 5)
    assert (T.matrix(shape=(3, 1)) * T.matrix(shape=(1, 4))).shape == (3, 4)
    assert (T.scalar() + b).shape == (5,)
