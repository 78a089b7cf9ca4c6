"""The op registry: every row is complete, and an op added as one row works end to end."""

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import fusions, opdef, ops, rewrites, verify_grad
from tessera.trainer.graph import apply


def test_every_row_is_complete():
    assert ops.REGISTRY, "no op registered"
    for name, d in ops.REGISTRY.items():
        assert d.name == name and d.arity >= 1
        assert callable(d.shape) and callable(d.kernel) and callable(d.dtype)
        most = opdef.MAX_OPERANDS if d.variadic else d.arity
        assert all(0 <= i < most for i in d.shape_operands + d.value_operands)
        # forward ops are differentiable; gradient-only ops are never differentiated
        assert (d.grad is not None) == d.forward, name


def test_register_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        opdef.register(ops.get("exp"))


def test_unknown_op_and_arity_errors():
    with pytest.raises(trainer.ShapeError, match="unknown op 'nope'"):
        apply("nope", T.matrix())
    with pytest.raises(trainer.ShapeError, match="exp takes 1 operand"):
        apply("exp", T.matrix(), T.matrix())


def test_rewrite_rules_and_fusions_track_registered_ops():
    for db in (rewrites.SIMPLIFY, rewrites.STABILIZE_BCE, rewrites.STABILIZE):
        assert set(db.rules) <= set(ops.REGISTRY), db.name
    names = [f.name for f in fusions.PASSES]
    assert len(names) == len(set(names))
    for f in fusions.PASSES:
        assert set(f.ops) <= set(ops.REGISTRY), f.name


def test_an_op_is_one_row(monkeypatch):
    # What "Adding an op" in trainer/README.md promises: a row, then T.<name> is apply(<name>, x).
    row = ops.elementwise.unary("square_for_test", np.square, lambda n, g: [g * (2.0 * n.inputs[0])])
    monkeypatch.setitem(ops.REGISTRY, row.name, row)

    def square(x):
        return apply("square_for_test", x)

    x = T.matrix("x", dtype="float64")
    y = square(x)
    assert y.op == "square_for_test" and y.shape == (None, None) and y.dtype == np.float64
    xv = np.array([[1.0, -2.0], [0.5, 3.0]])
    assert np.array_equal(trainer.function([x], y)(xv), xv ** 2)
    assert np.array_equal(trainer.function([x], T.grad(y.sum(), x))(xv), 2 * xv)
    verify_grad(square, [xv])
    c = T.constant(np.array([3.0]))
    (folded,) = rewrites.constant_fold([square(c)])
    assert folded.kind == "constant" and float(folded.value[0]) == 9.0
