"""The exporter's graph passes (exporter/graph_passes.py): each changes the document, never the bits.

fold_conv_bias turns Conv2D then a per-channel bias Add into Conv2D with its bias input; a
convolution read twice, a bias that broadcasts along W rather than the channels, or computed
weights stay as they were."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import exporter, trainer
from tests.support import same_bits

rng = np.random.default_rng(7)
# the module, not the function `exporter.export` that shadows its name
export_module = importlib.import_module("tessera.exporter.export")


def shared(*shape, name=None):
    return trainer.shared((rng.standard_normal(shape) * 0.5).astype(np.float32), name=name)


def ops(doc: dict) -> list[str]:
    return [n["op"] for n in doc["graph"]["nodes"]]


def inputs(n: int = 5) -> dict:
    x = rng.standard_normal((n, 3, 8, 8)).astype(np.float32)
    x[0, 0, :2, :2] = 0.0
    x[1, 1, 3, 3] = -0.0
    x[2, 2, 4, 4] = np.inf
    x[3, 0, 5, 5] = np.nan
    x[4] = np.float32(1e30)  # sums that overflow to inf
    return {"x": x}


def export_both(outputs, x, monkeypatch) -> tuple[dict, dict]:
    """The document with the passes and without them."""
    folded = exporter.export(outputs, [x])
    with monkeypatch.context() as m:
        m.setattr(export_module, "GRAPH_PASSES", ())
        plain = exporter.export(outputs, [x])
    return folded, plain


def assert_same_results(folded: dict, plain: dict) -> None:
    feed = inputs()
    for runtime in ("reference", "native"):
        got = exporter.load(folded, runtime=runtime).run(feed)
        want = exporter.load(plain, runtime="reference").run(feed)
        assert list(got) == list(want)
        for name in want:
            assert same_bits(got[name], want[name]), (runtime, name)


@pytest.mark.parametrize("bias_first", [False, True])
def test_per_channel_bias_folds_into_the_convolution_with_the_same_bits(bias_first, monkeypatch):
    w, b = shared(4, 3, 3, 3, name="w"), shared(4, name="b")
    x = T.tensor4("x", shape=(None, 3, 8, 8))
    conv, bias = T.nnet.conv2d(x, w, border_mode="half"), b.dimshuffle("x", 0, "x", "x")
    y = T.nnet.relu(bias + conv if bias_first else conv + bias)
    y.name = "y"
    folded, plain = export_both(y, x, monkeypatch)
    assert sorted(ops(plain)) == ["Add", "Conv2D", "Relu", "Reshape"]
    assert ops(folded) == ["Conv2D", "Relu"]
    conv_node = folded["graph"]["nodes"][0]
    assert conv_node["inputs"][2] == "b"
    assert sorted(i["name"] for i in folded["graph"]["initializers"]) == ["b", "w"]
    assert_same_results(folded, plain)


def test_a_bias_stored_as_1_m_1_1_becomes_an_m_vector(monkeypatch):
    w, b = shared(4, 3, 3, 3, name="w"), shared(1, 4, 1, 1, name="b4")
    x = T.tensor4("x", shape=(None, 3, 8, 8))
    y = T.nnet.conv2d(x, w) + b
    y.name = "y"
    folded, plain = export_both(y, x, monkeypatch)
    assert ops(folded) == ["Conv2D"]
    inits = {i["name"]: i["shape"] for i in folded["graph"]["initializers"]}
    assert inits == {"w": [4, 3, 3, 3], "b4_m": [4]}
    assert folded["graph"]["outputs"][0]["name"] == "y"
    assert_same_results(folded, plain)


def test_what_does_not_fold(monkeypatch):
    x = T.tensor4("x", shape=(None, 3, 8, 8))
    w = shared(8, 3, 3, 3, name="w")
    conv = T.nnet.conv2d(x, w, border_mode="half")  # (N, 8, 8, 8): M == W, the trap for a bare vector
    along_w = conv + shared(8, name="v")  # broadcasts along W, not the channels
    along_w.name = "along_w"
    read_twice = T.nnet.conv2d(x, w, border_mode="valid")
    twice_a = read_twice + shared(8, name="b").dimshuffle("x", 0, "x", "x")
    twice_b = read_twice * np.float32(2)
    twice_a.name, twice_b.name = "twice_a", "twice_b"
    folded, plain = export_both([along_w, twice_a, twice_b], x, monkeypatch)
    assert ops(folded).count("Add") == ops(plain).count("Add") == 2  # (the bias Reshape is folded)
    assert all(len(n["inputs"]) == 2 for n in folded["graph"]["nodes"] if n["op"] == "Conv2D")
    assert_same_results(folded, plain)


def test_constants_fold_into_weights_by_the_reference_kernels(monkeypatch):
    """Filters computed from weights alone and batch normalisation's statistics become weights; the
    bias fold then sees the folded filters. Folding keeps a weight's name when only it fed the node."""
    x = T.tensor4("x", shape=(None, 3, 8, 8))
    w, c = shared(8, 3, 3, 3, name="w"), shared(8, name="c")
    gamma, beta, mean = shared(8, name="gamma"), shared(8, name="beta"), shared(8, name="mean")
    var = trainer.shared(rng.uniform(0.5, 2.0, 8).astype(np.float32), name="var")
    conv = T.nnet.conv2d(x, w * np.float32(0.5)) + c.dimshuffle("x", 0, "x", "x")
    y = T.nnet.bn.batch_normalization_test(conv, gamma, beta, mean, var, axes="spatial")
    y.name = "y"
    folded, plain = export_both(y, x, monkeypatch)
    assert "Sqrt" in ops(plain) and "Mul" in ops(plain)
    assert ops(folded)[0] == "Conv2D" and len(folded["graph"]["nodes"][0]["inputs"]) == 3
    assert "Sqrt" not in ops(folded) and len(ops(folded)) < len(ops(plain))
    assert all(i["name"] != "w" or i["shape"] == [8, 3, 3, 3] for i in folded["graph"]["initializers"])
    assert_same_results(folded, plain)


def test_what_does_not_become_a_constant(monkeypatch):
    """A result that would not be a valid weight (inf), or larger than its operands (a broadcast)."""
    x = T.matrix("x", shape=(None, 4))
    big = trainer.shared(np.full(4, 3e38, np.float32), name="big")
    row, col = shared(1, 4, name="row"), shared(4, 1, name="col")
    y = x + (big + big) + (row + col).sum(axis=0)  # big + big is inf; row + col is 4x4 from 8 numbers
    y.name = "y"
    folded, _ = export_both(y, x, monkeypatch)
    assert ops(folded).count("Add") >= 3


def test_max_pooling_moves_before_relu_with_the_same_bits(monkeypatch):
    """Relu then MaxPool2D runs as MaxPool2D then Relu (NaN, inf, -0 and all-negative windows in
    the inputs); a Relu read by another node too stays where it is."""
    from tessera.trainer.tensor.signal.pool import pool_2d

    x = T.tensor4("x", shape=(None, 3, 8, 8))
    w = shared(4, 3, 3, 3, name="w")
    conv = T.nnet.conv2d(x, w, border_mode="half")
    pooled = pool_2d(T.nnet.relu(conv), (2, 2))
    pooled.name = "pooled"
    folded, plain = export_both(pooled, x, monkeypatch)
    assert ops(plain) == ["Conv2D", "Relu", "MaxPool2D"]
    assert ops(folded) == ["Conv2D", "MaxPool2D", "Relu"]
    assert_same_results(folded, plain)
    # -0 and +0 in one window, and windows of negatives only, straight from the input
    relu_x = T.nnet.relu(x)
    both = [pool_2d(relu_x, (2, 2)), relu_x * np.float32(2)]
    both[0].name, both[1].name = "pooled", "doubled"
    folded, plain = export_both(both, x, monkeypatch)
    assert ops(folded) == ops(plain)
    single = pool_2d(T.nnet.relu(x), (2, 2), stride=(1, 1), pad=(1, 1))
    single.name = "single"
    folded, plain = export_both(single, x, monkeypatch)
    assert ops(folded) == ["MaxPool2D", "Relu"]
    assert_same_results(folded, plain)
