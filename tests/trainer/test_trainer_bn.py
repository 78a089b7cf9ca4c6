"""T.nnet.bn: batch_normalization_train/test against a straight numpy computation (Theano's
formulas), the running averages through `updates`, gradients, and the export of the inference
graph: bit for bit the trainer's inference function in the reference runtime."""

from __future__ import annotations

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import exporter, trainer
from tessera.trainer import GraphError, verify_grad
from tessera.trainer.tensor.nnet.bn import batch_normalization_test, batch_normalization_train

rng = np.random.default_rng(11)


def numpy_train(x, gamma, beta, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    invstd = 1.0 / np.sqrt(var + eps)
    return (x - mean) * (gamma * invstd) + beta, mean, invstd, var


@pytest.mark.parametrize("axes,shape,pshape", [
    ("per-activation", (6, 5), (1, 5)),
    ("spatial", (4, 3, 5, 2), (1, 3, 1, 1)),
    ((0, 2), (4, 3, 5), (1, 3, 1)),
])
def test_train_equals_numpy_with_full_rank_params(axes, shape, pshape):
    ax = (0,) if axes == "per-activation" else (0, 2, 3) if axes == "spatial" else axes
    a = rng.standard_normal(shape) * 3 + 1
    g, b = rng.standard_normal(pshape), rng.standard_normal(pshape)
    x = T.tensor(len(shape), "x", dtype="float64")
    out, mean, invstd = batch_normalization_train(x, g, b, axes=axes, epsilon=1e-3)
    got = trainer.function([x], [out, mean, invstd])(a)
    want = numpy_train(a, g, b, ax, 1e-3)[:3]
    for gv, wv in zip(got, want, strict=True):
        np.testing.assert_allclose(gv, wv, rtol=1e-12, atol=1e-12)


def test_spatial_with_per_channel_params_and_running_averages_through_updates():
    a = (rng.standard_normal((8, 3, 4, 4)) * 2 - 1).astype(np.float32)
    gamma = trainer.shared(rng.standard_normal(3).astype(np.float32))
    beta = trainer.shared(rng.standard_normal(3).astype(np.float32))
    rmean = trainer.shared(np.zeros(3, np.float32))
    rvar = trainer.shared(np.ones(3, np.float32))
    x = T.tensor4("x")
    out, mean, invstd, new_mean, new_var = batch_normalization_train(
        x, gamma, beta, "spatial", running_average_factor=0.25, running_mean=rmean, running_var=rvar)
    assert mean.ndim == invstd.ndim == 1  # the rank the parameters were given in
    f = trainer.function([x], [out, mean, invstd], updates=[(rmean, new_mean), (rvar, new_var)])
    want_mean, want_var = np.zeros(3), np.ones(3)
    for step in range(3):
        batch = a + step
        o, m, s = f(batch)
        b64 = batch.astype(np.float64)
        wo, wm, ws, wv = numpy_train(b64, gamma.get_value().reshape(1, 3, 1, 1), beta.get_value().reshape(1, 3, 1, 1),
                                     (0, 2, 3), 1e-4)
        np.testing.assert_allclose(o, wo, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(m, wm.ravel(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(s, ws.ravel(), rtol=1e-4)
        n = 8 * 4 * 4  # Theano: the variance is unbiased by m / (m - 1) in the running average
        want_mean = want_mean * 0.75 + wm.ravel() * 0.25
        want_var = want_var * 0.75 + wv.ravel() * n / (n - 1) * 0.25
        np.testing.assert_allclose(rmean.get_value(), want_mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rvar.get_value(), want_var, rtol=1e-5)


def test_running_variance_follows_a_symbolic_batch():
    rvar = trainer.shared(np.zeros(2))
    x = T.matrix("x", dtype="float64")
    *_, new_var = batch_normalization_train(x, np.ones(2), np.zeros(2), running_var=rvar, running_average_factor=1.0)
    f = trainer.function([x], [], updates=[(rvar, new_var)])
    for n in (2, 5):
        a = rng.standard_normal((n, 2))
        f(a)
        np.testing.assert_allclose(rvar.get_value(), a.var(axis=0, ddof=1), rtol=1e-12)


def test_train_gradients():
    a = rng.standard_normal((5, 2, 3, 3))
    g, b = rng.standard_normal((2,)), rng.standard_normal((2,))
    verify_grad(lambda x, gm, bt: batch_normalization_train(x, gm, bt, "spatial")[0], [a, g, b],
                rng=np.random.default_rng(0))
    verify_grad(lambda x: batch_normalization_train(x, np.ones((1, 4)), np.zeros((1, 4)))[0],
                [rng.standard_normal((6, 4))], rng=np.random.default_rng(1))


def float32_test_form(x, gamma, beta, mean, var, eps):
    """The affine inference form, each operation once in float32."""
    f = np.float32
    scale = gamma / np.sqrt(var + f(eps))
    return x * scale + (beta - mean * scale)


def inference_model():
    c = 3
    p = {k: trainer.shared(v.astype(np.float32), name=k) for k, v in {
        "gamma": rng.standard_normal(c), "beta": rng.standard_normal(c),
        "mean": rng.standard_normal(c), "var": rng.uniform(0.1, 2.0, c)}.items()}
    x = T.tensor4("x", shape=(None, c, 4, 5))
    y = batch_normalization_test(x, p["gamma"], p["beta"], p["mean"], p["var"], axes="spatial", epsilon=1e-3)
    y.name = "y"
    return x, y, p


def test_test_form_is_the_affine_formula_bit_for_bit():
    x, y, p = inference_model()
    a = rng.standard_normal((7, 3, 4, 5)).astype(np.float32)
    got = trainer.function([x], y)(a)
    v = {k: s.get_value().reshape(1, 3, 1, 1) for k, s in p.items()}
    want = float32_test_form(a, v["gamma"], v["beta"], v["mean"], v["var"], 1e-3)
    assert np.array_equal(got.view(np.int32), want.view(np.int32))


def test_exported_inference_graph_equals_the_trainer_bit_for_bit():
    x, y, _ = inference_model()
    doc = exporter.export(y, [x])
    assert doc["graph"]["inputs"][0]["shape"][0] != 7  # a symbolic batch
    assert [n["op"] for n in doc["graph"]["nodes"]] == ["Mul", "Add"]  # scale and shift folded into weights
    a = rng.standard_normal((7, 3, 4, 5)).astype(np.float32)
    want = trainer.function([x], y)(a)
    got = exporter.load(doc, runtime="reference").run({"x": a})["y"]
    assert np.array_equal(got.view(np.int32), want.view(np.int32))


def test_errors():
    x = T.tensor4("x")
    with pytest.raises(GraphError, match="epsilon"):
        batch_normalization_train(x, np.ones(3), np.zeros(3), "spatial", epsilon=1e-6)
    with pytest.raises(GraphError, match="axes"):
        batch_normalization_train(x, np.ones(3), np.zeros(3), "channel")
    with pytest.raises(GraphError, match="rank"):
        batch_normalization_test(x, np.ones((3, 1)), np.zeros(3), np.zeros(3), np.ones(3), "spatial")
