"""Embedding tables: the update of W from the gradient of W[idx] touches only the gathered rows
(fusion `row_sparse_update`) and gives the dense path's bits for SGD, momentum, nesterov, adam."""

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import optimizers, sparse, verify_grad

ROWS, WIDTH, N_CLASSES = 200, 6, 4


def _model(opt: str, lr: float, table: np.ndarray, l2: bool = False):
    rng = np.random.default_rng(1)
    W = trainer.shared(table.copy(), name="W")
    V = trainer.shared(rng.standard_normal((WIDTH, N_CLASSES)).astype(np.float32), name="V")
    idx, y = T.ivector("idx"), T.ivector("y")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(T.tanh(W[idx]), V)), y).mean()
    if l2:
        loss = loss + 1e-3 * (W ** 2).sum()
    ups = optimizers.OPTIMIZERS[opt](loss, [W, V], lr=lr)
    f = trainer.function([idx, y], loss, updates=ups)
    return f, [W, V] + list(ups.state)


def _dense_table_grad(f) -> bool:
    """The plan runs a scatter-add into a table-sized gradient."""
    (plan,) = f._plans.values()
    return any(f._order[k].op == "advanced_subtensor_grad" and f._order[k].inputs[1].kind == "shared"
               for _, _, _, k in plan.steps)


def _batches(n=12, size=16):
    rng = np.random.default_rng(2)
    out = []
    for _ in range(n):
        idx = rng.integers(-ROWS, ROWS, size).astype(np.int32)  # negative indices count from the end
        idx[:4] = idx[4]  # a row gathered several times gets every gradient
        out.append((idx, rng.integers(0, N_CLASSES, size).astype(np.int32)))
    return out


def _table():
    t = np.random.default_rng(0).standard_normal((ROWS, WIDTH)).astype(np.float32)
    t[::7] = -0.0  # untouched -0 rows keep their sign exactly as the dense path does
    return t


def _run(opt, lr, monkeypatch, dense, l2=False):
    with monkeypatch.context() as m:
        if dense:
            m.setattr(sparse, "MAX_ROW_SHARE", 0.0)
        f, shared = _model(opt, lr, _table(), l2)
        losses = [f(i, y) for i, y in _batches()]
    return f, losses, [s.get_value() for s in shared]


@pytest.mark.parametrize("opt", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("lr", [0.1, -0.05])  # a negative step: c * 0 is -0, the dense kernels run
def test_row_sparse_update_equals_dense_bit_for_bit(opt, lr, monkeypatch):
    fs, ls, vs = _run(opt, lr, monkeypatch, dense=False)
    fd, ld, vd = _run(opt, lr, monkeypatch, dense=True)
    assert not _dense_table_grad(fs)  # the dense gradient never exists
    assert _dense_table_grad(fd)
    assert np.array_equal(np.array(ls), np.array(ld))
    for a, b in zip(vs, vd, strict=True):
        assert a.tobytes() == b.tobytes()


def test_sgd_touches_only_the_gathered_rows():
    table = _table()
    f, shared = _model("sgd", 0.1, table)
    W = shared[0]
    storage = W.get_value(borrow=True)
    idx, y = _batches()[0]
    f(idx, y)
    assert W.get_value(borrow=True) is storage  # updated in place, no table-sized copy
    touched = np.unique(np.where(idx < 0, idx + ROWS, idx))
    untouched = np.setdiff1d(np.arange(ROWS), touched)
    assert W.get_value()[untouched].tobytes() == table[untouched].tobytes()
    assert not np.array_equal(W.get_value()[touched], table[touched])


def test_other_gradient_terms_same_bits(monkeypatch):
    # an L2 term makes W's gradient dense (l2 + G: the rows of G are added to a copy of the l2
    # term, no in-place patch of W); same bits as the dense run
    fs, ls, vs = _run("sgd", 0.1, monkeypatch, dense=False, l2=True)
    _, ld, vd = _run("sgd", 0.1, monkeypatch, dense=True, l2=True)
    assert not _dense_table_grad(fs)
    assert np.array_equal(np.array(ls), np.array(ld))
    assert all(a.tobytes() == b.tobytes() for a, b in zip(vs, vd, strict=True))


def test_old_table_is_read_before_the_patch():
    # the output and another update read W: both see the old values (Theano's update semantics)
    W = trainer.shared(np.arange(40, dtype=np.float32).reshape(10, 4), name="W")
    old = trainer.shared(np.zeros((10, 4), np.float32), name="old")
    idx = T.ivector("idx")
    cost = W[idx].sum()
    f = trainer.function([idx], W[idx], updates=[(W, W - 0.5 * T.grad(cost, W)), (old, W * 1.0)])
    before = W.get_value()
    out = f(np.array([1, 1, 3], np.int32))
    assert np.array_equal(out, before[[1, 1, 3]])
    assert np.array_equal(old.get_value(), before)
    expect = before.copy()
    expect[1] -= 1.0
    expect[3] -= 0.5
    assert np.array_equal(W.get_value(), expect)


def test_out_of_range_index_is_an_error():
    f, _ = _model("sgd", 0.1, _table())
    with pytest.raises(Exception, match="out of"):
        f(np.array([0, ROWS], np.int32), np.array([0, 1], np.int32))


def test_summed_rows_matches_dense_scatter_add():
    rng = np.random.default_rng(3)
    idx = rng.integers(-30, 30, (5, 7)).astype(np.int64)
    g = rng.standard_normal((5, 7, 3)).astype(np.float32)
    rows, vals = sparse.summed_rows(g, idx, 30)
    dense = np.zeros((30, 3), np.float32)
    np.add.at(dense, idx, g)
    assert np.array_equal(rows, np.unique(idx % 30))
    assert vals.tobytes() == dense[rows].tobytes()
    assert not dense[np.setdiff1d(np.arange(30), rows)].any()


def test_embedding_gradient_verify_grad():
    idx = np.array([3, 0, 3, -1], np.int64)
    w = np.random.default_rng(4).standard_normal((5, 3))
    verify_grad(lambda W: T.tanh(W[idx]).sum() * 0.5, [w], rng=np.random.default_rng(0))
