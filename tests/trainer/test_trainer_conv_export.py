"""Exporting convolutional networks (format 1.2): a small CNN with a symbolic batch runs in the
reference runtime as the trainer's inference function computes it (pooling bit for bit; the
convolution within the summation bound, since the trainer's BLAS sums in another order than
SPEC 7.11), the runtimes agree bit for bit, dropout leaves the inference graph, and graphs the
format cannot hold are refused with the line that built them."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import tessera.trainer.tensor as T
from tessera import exporter, trainer
from tessera.exporter.lowering import ExportError
from tessera.exporter.tensors import read_tensors
from tessera.trainer.tensor.shared_randomstreams import RandomStreams
from tessera.trainer.tensor.signal.pool import pool_2d
from tests.support import same_bits

rng = np.random.default_rng(21)
U = 2.0 ** -24


def shared(*shape, name=None, scale=0.5):
    return trainer.shared((rng.standard_normal(shape) * scale).astype(np.float32), name=name)


class SmallCNN:
    """conv 1->4 3x3 half + bias, relu, 2x2 max pool, conv 4->6 3x3 valid + bias, relu, dropout, dense 24->10,
    softmax: one builder for the training graph and the inference graph (deterministic=True)."""

    def __init__(self) -> None:
        self.w1, self.b1 = shared(4, 1, 3, 3, name="w1"), shared(4, name="b1")
        self.w2, self.b2 = shared(6, 4, 3, 3, name="w2"), shared(6, name="b2")
        self.w3, self.b3 = shared(24, 10, name="w3"), shared(10, name="b3")
        self.srng = RandomStreams(5)

    def __call__(self, x, deterministic: bool):
        h = T.nnet.relu(T.nnet.conv2d(x, self.w1, border_mode="half") + self.b1.dimshuffle("x", 0, "x", "x"))
        h = pool_2d(h, (2, 2))
        h = T.nnet.relu(T.nnet.conv2d(h, self.w2) + self.b2.dimshuffle("x", 0, "x", "x"))
        h = T.nnet.dropout(h, 0.5, self.srng, deterministic=deterministic)  # NCHW, symbolic batch
        p = T.nnet.softmax(T.dot(h.flatten(2), self.w3) + self.b3)
        p.name = "p"
        return p


@pytest.fixture(scope="module")
def cnn():
    net = SmallCNN()
    x = T.tensor4("x", shape=(None, 1, 8, 8))
    infer = net(x, deterministic=True)
    doc = exporter.export(infer, [x])
    digits = rng.uniform(0, 16, (33, 1, 8, 8)).astype(np.float32)
    digits[digits < 4] = 0  # zeros, as in the digits' background
    return net, x, infer, doc, digits


def test_the_export_is_format_1_2_with_a_symbolic_batch(cnn):
    _, _, _, doc, _ = cnn
    assert doc["format_version"] == "1.2"
    assert isinstance(doc["graph"]["inputs"][0]["shape"][0], str)
    ops = [n["op"] for n in doc["graph"]["nodes"]]
    assert ops.count("Conv2D") == 2 and ops.count("MaxPool2D") == 1
    convs = [n for n in doc["graph"]["nodes"] if n["op"] == "Conv2D"]
    assert convs[0]["attrs"] == {"pads": [1, 1, 1, 1]} and "attrs" not in convs[1]


def test_weights_are_written_flipped(cnn):
    net, _, _, doc, _ = cnn
    w1 = next(i for i in doc["graph"]["initializers"] if i["name"] == "w1")
    data = np.array(w1["data"], np.float32).reshape(w1["shape"])
    assert np.array_equal(data, net.w1.get_value()[:, :, ::-1, ::-1])


def test_dropout_leaves_the_inference_graph(cnn):
    """Exporting the training graph gives the same document: inverted dropout is the identity at inference."""
    net, x, _, doc, _ = cnn
    assert exporter.export(net(x, deterministic=False), [x]) == doc


def test_a_training_step_with_4d_dropout_runs_for_any_batch(cnn):
    *_, digits = cnn
    net = SmallCNN()  # its own weights: the step changes them
    x, y = T.tensor4("x", shape=(None, 1, 8, 8)), T.lvector("y")
    train = net(x, deterministic=False)
    params = [net.w1, net.b1, net.w2, net.b2, net.w3, net.b3]
    loss = T.nnet.categorical_crossentropy(train, y).mean()
    step = trainer.function([x, y], loss, updates=[(p, p - 0.001 * g) for p, g in zip(params, T.grad(loss, params),
                                                                                        strict=True)])
    for n in (3, 5):
        assert np.isfinite(step(digits[:n] / 16, np.arange(n) % 10))
    masked = trainer.function([x], train)
    assert not np.array_equal(masked(digits[:4] / 16), masked(digits[:4] / 16))  # each call draws a new mask


def test_the_reference_runs_the_trainers_inference_function(cnn):
    _, x, infer, doc, digits = cnn
    want = trainer.function([x], infer)(digits)
    got = exporter.load(doc, runtime="reference").run({"x": digits})["p"]
    # The convolutions' sums differ in order only: probabilities within 1e-6, the same classes.
    assert np.max(np.abs(got - want)) < 1e-6
    assert np.array_equal(np.argmax(got, 1), np.argmax(want, 1))


def conv_bound(a: np.ndarray, w: np.ndarray, k: int, **kw) -> np.ndarray:
    """2 gamma_K sum |x w| of each output: any two summation orders of the same products differ by less."""
    mag = torch.nn.functional.conv2d(torch.tensor(np.abs(a), dtype=torch.float64),
                                     torch.tensor(np.abs(w), dtype=torch.float64), **kw).numpy()
    return 2 * (k * U / (1 - k * U)) * mag


@pytest.mark.parametrize("computed", [False, True], ids=["weights", "computed_filters"])
def test_one_convolution_within_the_summation_bound(computed):
    """filter_flip of weights flips the data at export; of filters computed from an input a reversing
    Slice does (filters computed from weights alone are folded into a weight at export)."""
    a = rng.standard_normal((5, 3, 9, 7)).astype(np.float32)
    w = shared(4, 3, 3, 2, name="w")
    x, scale = T.tensor4("x", shape=(None, 3, 9, 7)), T.vector("scale", shape=(1,))
    filt = w * scale.dimshuffle(0, "x", "x", "x") if computed else w
    y = T.nnet.conv2d(x, filt, border_mode=(1, 2), subsample=(2, 1), filter_dilation=(1, 2))
    y.name = "y"
    feed = {"x": a, "scale": np.array([2.0], np.float32)} if computed else {"x": a}
    inputs = [x, scale] if computed else [x]
    doc = exporter.export(y, inputs)
    assert ("Slice" in [n["op"] for n in doc["graph"]["nodes"]]) == computed
    want = trainer.function(inputs, y)(*feed.values())
    got = exporter.load(doc, runtime="reference").run(feed)["y"]
    wv = (w.get_value() * np.float32(2.0) if computed else w.get_value())[:, :, ::-1, ::-1]
    bound = conv_bound(a, wv, 3 * 3 * 2, stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    assert got.shape == want.shape
    assert np.all(np.abs(got - want) <= bound)


POOLS = [(m, *g) for m, g in itertools.product(
    ["max", "sum", "average_inc_pad", "average_exc_pad"],
    [((2, 2), {}), ((3, 2), {"stride": (2, 1), "pad": (1, 1)}), ((2, 2), {"ignore_border": False}),
     ((3, 3), {"stride": (2, 2), "ignore_border": False}), ((2, 1), {"stride": (3, 3), "ignore_border": False})])]


@pytest.mark.parametrize("mode,ws,kw", POOLS, ids=[f"{p[0]}-{i}" for i, p in enumerate(POOLS)])
def test_pooling_exports_bit_for_bit(mode, ws, kw):
    a = (rng.standard_normal((3, 2, 7, 8)) * 100).astype(np.float32)
    a[a < -50] = 0
    x = T.tensor4("x", shape=(None, 2, 7, 8))
    y = pool_2d(x, ws, mode=mode, **kw)
    y.name = "y"
    doc = exporter.export(y, [x])
    want = trainer.function([x], y)(a)
    got = exporter.load(doc, runtime="reference").run({"x": a})["y"]
    assert got.shape == want.shape
    assert same_bits(got, want)


def test_js_runtime_gives_the_reference_bits(cnn, js_runtime, tmp_path: Path):
    _, _, _, doc, digits = cnn
    model = tmp_path / "cnn.json"
    model.write_text(json.dumps(doc))
    reference = exporter.load(doc, runtime="reference").run({"x": digits})["p"]
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"inputs": {"x": {"shape": list(digits.shape), "data": digits.ravel().tolist()}}}))
    done = subprocess.run([*js_runtime, str(model), str(inputs)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[:500] + done.stderr[:500]
    out = tmp_path / "outputs.json"
    out.write_text(done.stdout)
    assert same_bits(read_tensors(out, key="outputs")["p"], reference)


def test_native_runtime_gives_the_reference_bits(cnn):
    _, _, _, doc, digits = cnn
    reference = exporter.load(doc, runtime="reference").run({"x": digits})["p"]
    assert same_bits(exporter.load(doc, runtime="native").run({"x": digits})["p"], reference)


def refused(outputs, inputs) -> str:
    with pytest.raises(ExportError) as info:
        exporter.export(outputs, inputs)
    assert "test_trainer_conv_export.py" in str(info.value), str(info.value)
    return str(info.value)


def test_refusals_name_the_line():
    w = shared(2, 3, 3, 3)
    x = T.tensor4("x")  # channels unknown: the format's Conv2D needs them
    assert "unknown size" in refused(T.nnet.conv2d(x, w), [x])
    x3 = T.tensor3("x3", shape=(None, 6, 6))
    assert "NCHW" in refused(pool_2d(x3, (2, 2)), [x3])
    xs = T.tensor4("xs", shape=(None, None, 6, 6))
    assert "unknown size" in refused(pool_2d(xs, (2, 2), mode="sum"), [xs])
    srng = RandomStreams(1)
    xd = T.tensor4("xd", shape=(None, 2, 4, 4))
    # a mask without the 1/keep scale is not inverted dropout (the dA tutorial's corruption): not removed
    assert "random_binomial" in refused(xd * srng.binomial(size=xd.shape, p=0.5, dtype="float32"), [xd])
