"""RandomStreams draws, and end-to-end programs in the shape of the Theano tutorials: softmax
regression and an MLP with dropout on the digits with integer labels, symbolic-index givens
replaced by minibatches, and a denoising auto-encoder with a corruption mask drawn in the graph."""

import sys

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import datasets
from tessera.trainer.sandbox.rng_mrg import MRG_RandomStreams
from tessera.trainer.tensor.shared_randomstreams import RandomStreams

HERE = __file__


def _draws(seed, calls=3):
    srng = RandomStreams(seed)
    x = T.matrix("x")
    u = srng.uniform(size=T.shape(x), low=-1.0, high=2.0)
    n = srng.normal(size=(2, 3), avg=5.0, std=0.1, dtype="float64")
    b = srng.binomial(size=(1000,), p=0.3, dtype="int32")
    b5 = srng.binomial(size=(4,), n=5, p=0.5)
    f = trainer.function([x], [u, n, b, b5])
    return [f(np.zeros((4, 5), np.float32)) for _ in range(calls)]


def test_draws_are_fresh_each_call_and_reproducible():
    a, b = _draws(11), _draws(11)
    for ca, cb in zip(a, b, strict=True):
        for x, y in zip(ca, cb, strict=True):
            assert np.array_equal(x, y)  # a fixed seed reproduces every draw
    assert not np.array_equal(a[0][0], a[1][0]) and not np.array_equal(a[0][2], a[1][2])  # anew per call
    assert not np.array_equal(_draws(12, 1)[0][0], a[0][0])
    u, n, b01, b5 = a[0]
    assert u.shape == (4, 5) and u.dtype == np.float32 and u.min() >= -1 and u.max() < 2
    assert n.dtype == np.float64 and abs(n.mean() - 5) < 0.2
    assert b01.dtype == np.int32 and set(np.unique(b01)) <= {0, 1} and 0.25 < b01.mean() < 0.35
    assert b5.dtype == np.int64 and b5.max() <= 5


def test_seed_restarts_and_mrg_alias():
    srng = MRG_RandomStreams(5)
    d = srng.uniform(size=(3,))
    f = trainer.function([], d)
    first = f()
    state = srng.get_state()
    second = f()
    srng.set_state(state)
    assert np.array_equal(f(), second)
    srng.seed(5)
    assert np.array_equal(f(), first)
    with pytest.raises(trainer.GraphError, match="probability"):
        srng.binomial(size=(2,), p=1.5)


def test_export_of_a_draw_fails_naming_the_line():
    from tessera.exporter.export import export
    srng = RandomStreams(1)
    x = T.matrix("x", shape=(None, 4))
    line = sys._getframe().f_lineno + 1
    y = x * srng.binomial(size=(2, 4), p=0.5, dtype="float32")
    with pytest.raises(Exception, match=f"{HERE}:{line}"):
        export(outputs=[y], inputs=[x])


def _digits_split():
    x, y = datasets.load_digits(with_labels=True)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order].astype(np.int32)
    return x[:1400], y[:1400], x[1400:], y[1400:]


def test_softmax_classifier_with_dropout_reaches_093():
    """The tutorials' logistic regression / MLP: int labels, NLL via p[arange(n), y], argmax errors,
    dropout from RandomStreams in the training graph only, the test graph without it."""
    xtr, ytr, xte, yte = _digits_split()
    assert ytr.min() == 0 and ytr.max() == 9
    rng = np.random.default_rng(1)
    x, y = T.matrix("x"), T.ivector("y")
    W1 = trainer.shared((rng.standard_normal((64, 64)) * 0.1).astype(trainer.config.floatX), name="W1")
    b1 = trainer.shared(np.zeros(64, np.float32), name="b1")
    W2 = trainer.shared(np.zeros((64, 10), np.float32), name="W2")
    b2 = trainer.shared(np.zeros(10, np.float32), name="b2")
    srng = RandomStreams(1234)

    def forward(train):
        h = T.nnet.relu(T.dot(x, W1) + b1)
        if train:
            h = h * srng.binomial(size=T.shape(h), p=0.8, dtype="float32") / 0.8
        return T.nnet.softmax(T.dot(h, W2) + b2)

    p_train = forward(True)
    nll = -T.mean(T.log(p_train)[T.arange(T.shape(y)[0]), y])
    params = [W1, b1, W2, b2]
    grads = T.grad(nll, params)
    lr = np.float32(0.2)
    index = T.lscalar("index")
    train = trainer.function([x, y, index], nll, updates=[(p, p - lr * g) for p, g in zip(params, grads, strict=True)],
                             on_unused_input="ignore", allow_input_downcast=True)
    errors = T.mean(T.neq(T.argmax(forward(False), axis=1), y))
    test = trainer.function([x, y], errors)
    for epoch in range(30):
        order = np.random.default_rng(epoch).permutation(len(xtr))
        for s in range(0, len(xtr), 50):
            b = order[s:s + 50]
            loss = train(xtr[b], ytr[b], s // 50)
            assert np.isfinite(loss)
    accuracy = 1.0 - float(test(xte, yte))
    assert accuracy >= 0.93, accuracy


def test_categorical_crossentropy_adam_does_not_go_nan():
    """The issue's failure: softmax cross-entropy trained with adam hit NaN; now finite throughout."""
    from tessera.trainer.optimizers import adam
    xtr, ytr, _, _ = _digits_split()
    rng = np.random.default_rng(2)
    x, y = T.matrix("x"), T.ivector("y")
    W = trainer.shared((rng.standard_normal((64, 10)) * 3).astype(np.float32), name="W")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(x, W) * 50), y).mean()
    f = trainer.function([x, y], cost, updates=adam(cost, [W], lr=0.5))
    for _ in range(100):
        assert np.isfinite(f(xtr[:200], ytr[:200]))
    assert np.all(np.isfinite(W.get_value()))


def test_denoising_autoencoder_with_graph_corruption():
    """The dA tutorial: the corruption mask is a binomial draw in the graph; tied weights; BCE."""
    x_data = datasets.load_digits()[:600]
    rng = np.random.default_rng(3)
    srng = RandomStreams(rng.integers(2 ** 30))
    x = T.matrix("x")
    W = trainer.shared((rng.uniform(-0.1, 0.1, (64, 32))).astype(np.float32), name="W")
    bh = trainer.shared(np.zeros(32, np.float32), name="bh")
    bv = trainer.shared(np.zeros(64, np.float32), name="bv")
    # the tutorial's spelling: size=input.shape (static here, with unknown dims: the symbolic shape)
    tilde = srng.binomial(size=x.shape, n=1, p=0.7, dtype=trainer.config.floatX) * x
    h = T.nnet.sigmoid(T.dot(tilde, W) + bh)
    z = T.nnet.sigmoid(T.dot(h, W.T) + bv)
    cost = T.mean(-T.sum(x * T.log(z) + (1 - x) * T.log(1 - z), axis=1))
    gparams = T.grad(cost, [W, bh, bv])
    train = trainer.function([x], cost, updates=[(p, p - 0.1 * g) for p, g in zip([W, bh, bv], gparams, strict=True)])
    first = np.mean([train(x_data[i:i + 20]) for i in range(0, 600, 20)])
    for _ in range(5):
        last = np.mean([train(x_data[i:i + 20]) for i in range(0, 600, 20)])
    assert np.isfinite(last) and last < first


def test_static_shape_with_unknown_dims_in_sizes():
    srng = RandomStreams(2)
    x = T.matrix("x", shape=(None, 3))
    assert srng.uniform(size=x.shape).inputs[0].op == "shape"
    assert trainer.function([x], srng.uniform(size=x.shape))(np.zeros((5, 3), np.float32)).shape == (5, 3)
    assert srng.uniform(size=T.matrix(shape=(2, 3)).shape).shape == (2, 3)  # known dims: a constant size
    # x.shape[0] of an unknown dim is symbolic (Theano): sizes and aranges built from it work
    f = trainer.function([x], [srng.uniform(size=(x.shape[0], 3)), T.arange(x.shape[0])])
    u, r = f(np.zeros((4, 3), np.float32))
    assert u.shape == (4, 3) and r.tolist() == [0, 1, 2, 3]
    with pytest.raises(trainer.GraphError, match=r"T.shape\(x\)"):
        srng.uniform(size=(None, 3))
    assert x.shape == (None, 3) and isinstance(x.shape, tuple) and x.shape[1] == 3
