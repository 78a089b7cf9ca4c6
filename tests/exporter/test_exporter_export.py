"""export(): trainer graphs to format v1 — seed AE, BCE anomaly score, refusals, determinism, round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import exporter, trainer
from tessera.exporter.export import ExportError, export, export_text
from tessera.trainer import datasets
from tessera.trainer.models.autoencoder import AutoEncoder
from tessera.trainer.training import train_autoencoder
from tests.support import F32, same_bits

MISROUND = np.array([0x15AE43FD], np.uint32).view(F32)[0]  # "7.038531e-26" mis-rounds through a double


def ae(n_vis: int = 64, n_hid: int = 16, **kw) -> AutoEncoder:
    return AutoEncoder(n_vis, n_hid, **kw)


def nodes_of(doc: dict) -> list[str]:
    return [n["op"] for n in doc["graph"]["nodes"]]


def test_seed_autoencoder_exports_runs_and_stores_tied_weight_once() -> None:
    model = ae()
    doc = export([model.x_hat], [model.x])
    g = doc["graph"]
    assert doc["format_version"] == "1.0" and doc["producer"] == {"name": "tessera", "version": exporter.__version__}
    assert g["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["batch", 64]}]
    assert g["outputs"] == [{"name": "x_hat", "dtype": "float32", "shape": ["batch", 64]}]
    assert [t["name"] for t in g["initializers"]] == ["W", "bh", "bv"]  # W once, used as W and W^T
    assert nodes_of(doc) == ["MatMul", "Add", "Sigmoid", "MatMul", "Add", "Sigmoid"]
    assert g["nodes"][3]["attrs"] == {"transpose_b": True}
    assert all(t["checksum"].startswith("crc32:") for t in g["initializers"])
    X = (np.random.default_rng(0).random((7, 64)) < 0.1).astype(F32)
    got = exporter.load(doc).run({"x": X})["x_hat"]
    assert np.abs(got - model.reconstruct(X)).max() < 1e-6


def test_trainer_forward_vs_reference_bound_on_digits() -> None:
    """The bound stated in exporter/README.md (measured: max abs diff 2.7e-07 at 5 epochs)."""
    X = datasets.load("digits")
    model, _ = train_autoencoder(X, hidden=32, epochs=3, batch_size=64, progress=False)
    ref = exporter.load(export([model.x_hat], [model.x])).run({"x": X})["x_hat"]
    assert np.abs(ref.astype(np.float64) - model.reconstruct(X)).max() <= 1e-6


def test_untied_autoencoder() -> None:
    model = ae(tied=False)
    doc = export([model.x_hat], [model.x])
    assert [t["name"] for t in doc["graph"]["initializers"]] == ["W", "bh", "W2", "bv"]


def test_bce_anomaly_score_exports() -> None:
    model = ae()
    score = T.nnet.binary_crossentropy(model.x_hat, model.x).mean(axis=1)
    score.name = "score"
    doc = export([score], [model.x])
    assert doc["graph"]["outputs"] == [{"name": "score", "dtype": "float32", "shape": ["batch"]}]
    ops = set(nodes_of(doc))
    assert "Softplus" in ops and "Log" not in ops  # the stabilised form: finite for any logit
    X = (np.random.default_rng(1).random((5, 64)) < 0.2).astype(F32)
    got = exporter.load(doc).run({"x": X})["score"]
    p = model.reconstruct(X).astype(np.float64)
    want = -(X * np.log(p) + (1 - X) * np.log(1 - p)).mean(axis=1)
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6)


def test_bce_with_separate_target_input_and_two_outputs() -> None:
    model = ae()
    t = T.matrix("t")
    score = T.nnet.binary_crossentropy(model.x_hat, t).sum(axis=1)
    doc = export([model.x_hat, score], [model.x, t])
    assert [o["name"] for o in doc["graph"]["outputs"]] == ["x_hat", "y0"]
    assert doc["graph"]["inputs"][1]["shape"] == ["batch", 64]  # unified with x_hat by broadcasting
    X = np.zeros((2, 64), F32)
    out = exporter.load(doc).run({"x": X, "t": X})
    assert list(out) == ["x_hat", "y0"] and out["y0"].shape == (2,)


def test_lowering_of_pow_clip_softmax_max_vectors_and_constants() -> None:
    x = T.matrix("x")
    v = trainer.shared(np.arange(4, dtype=F32) - 1.5, name="v")
    y = T.nnet.softmax(T.clip(x, -2.0, 2.0) ** 2 + x ** 0.5 + 1.0 / (x + 3.0)) * 2.0
    z = T.dot(x, v) + T.max(x, axis=1) + T.sqr(x).sum(axis=1)
    doc = export([y, z], [x])
    assert doc["graph"]["inputs"][0]["shape"] == ["batch", 4]
    X = np.abs(np.random.default_rng(2).standard_normal((3, 4))).astype(F32)
    out = exporter.load(doc).run({"x": X})
    f = trainer.function([x], [y, z])
    fy, fz = f(X)
    assert np.allclose(out["y0"], fy, rtol=1e-5) and np.allclose(out["y1"], fz, rtol=1e-5)


def test_output_that_is_an_input_or_weight_gets_its_own_name() -> None:
    x = T.matrix("x", shape=(None, 3))
    w = trainer.shared(np.ones((3,), F32), name="w")
    x.name = "x"
    out = x * 1.0
    out.name = "same"
    doc = export([out, w], [x])
    names = [o["name"] for o in doc["graph"]["outputs"]]
    assert names == ["same", "w"]  # the user's names; the values come through identity Reshapes
    assert [n["op"] for n in doc["graph"]["nodes"]][-1] == "Reshape"
    res = exporter.load(doc).run({"x": np.full((2, 3), -0.0, F32)})
    assert same_bits(res["same"], np.full((2, 3), -0.0, F32))


# ---------------------------------------------------------------- refusals


def test_constant_exponents_keep_their_1_0_ops_and_others_become_pow() -> None:
    """x ** 2, 0.5, -1 (and 1) stay Mul, Sqrt, Div (a 1.0 file, correctly rounded); any other constant exponent,
    and a tensor exponent, is a 1.1 Pow (SPEC 7.10) with the results of the trainer within 1 ulp."""
    x = T.matrix("x", shape=(None, 3))
    old = export([x ** 2, x ** 0.5, x ** -1.0, x ** 1], [x])
    assert old["format_version"] == "1.0"
    assert [n["op"] for n in old["graph"]["nodes"]][:3] == ["Mul", "Sqrt", "Div"]
    e = T.matrix("e", shape=(None, 3))
    outs = [x ** 3, x ** -2.5, x ** 0.0, x ** e]
    doc = export(outs, [x, e])
    assert doc["format_version"] == "1.1"
    assert [n["op"] for n in doc["graph"]["nodes"]] == ["Pow"] * 4
    rng = np.random.default_rng(5)
    xv, ev = rng.uniform(0.1, 4, (6, 3)).astype(F32), rng.uniform(-5, 5, (6, 3)).astype(F32)
    got = list(exporter.load(doc).run({"x": xv, "e": ev}).values())
    want = trainer.function([x, e], outs)(xv, ev)
    for g, w in zip(got, want, strict=True):
        assert np.allclose(g, w, rtol=2.0**-23, atol=0), (g, w)


def test_gradient_graph_exports_in_forward_form() -> None:
    """A weight gradient is a graph of format ops once its gradient-only ops take their forward forms."""
    model = ae()
    (gW,) = trainer.grad(model.loss, [model.W])
    x = (np.random.default_rng(3).random((5, 64)) < 0.3).astype(F32)
    (got,) = exporter.load(export([gW], [model.x])).run({"x": x}).values()
    assert np.allclose(got, trainer.function([model.x], gW)(x), rtol=1e-5, atol=1e-7)


def test_gradient_op_without_a_forward_form_is_refused_clearly() -> None:
    model = ae()
    (gx,) = trainer.grad(abs(model.x_hat - model.x).sum(), [model.x])  # abs' gradient is sign(.)
    with pytest.raises(ExportError, match="sign.*outside format v1"):
        export([gx], [model.x])


def test_missing_input_and_non_input_are_refused() -> None:
    model = ae()
    t = T.matrix("t")
    with pytest.raises(ExportError, match="'t'.*not among the export inputs"):
        export([model.x_hat * t], [model.x])
    with pytest.raises(ExportError, match="not a symbolic input"):
        export([model.x_hat], [model.W])


def test_non_finite_weights_are_refused_and_no_file_is_written(tmp_path) -> None:
    model = ae()
    w = model.bh.get_value()
    w[3] = np.nan
    model.bh.set_value(w)
    path = tmp_path / "m.json"
    with pytest.raises(ExportError, match=r"shared 'bh'.*#3.*finite"):
        export([model.x_hat], [model.x], path)
    assert list(tmp_path.iterdir()) == []


def test_float64_overflowing_weight_is_refused() -> None:
    x = T.matrix("x", dtype="float64")
    w = trainer.shared(np.array([1e300]), name="big")
    with pytest.raises(ExportError, match="big"):
        export([x * w], [x])


# ---------------------------------------------------------------- bytes, round trip


def test_deterministic_bytes(tmp_path) -> None:
    a, b = ae(seed=5), ae(seed=5)
    export([a.x_hat], [a.x], tmp_path / "a.json")
    export([b.x_hat], [b.x], tmp_path / "b.json")
    export([a.x_hat], [a.x], tmp_path / "c.json")
    data = [(tmp_path / n).read_bytes() for n in ("a.json", "b.json", "c.json")]
    assert data[0] == data[1] == data[2]
    assert export_text([a.x_hat], [a.x]).encode() == data[0]


@pytest.mark.parametrize("encoding", ["decimal", "base64"])
def test_round_trip_is_bit_identical(tmp_path, encoding: str) -> None:
    model = ae()
    W = model.W.get_value()
    special = [MISROUND, -MISROUND, F32(1e-45), F32(-1e-45), F32(-0.0), F32(3.4028235e38), F32(1.1754942e-38)]
    W.ravel()[: len(special)] = special
    model.W.set_value(W)
    path = tmp_path / "m.json"
    export([model.x_hat], [model.x], path, encoding=encoding, metadata={"note": "round trip"})
    loaded = exporter.load(path)
    assert np.array_equal(loaded.initializers["W"].view(np.uint32), W.view(np.uint32))
    raw = json.loads(path.read_text())
    key = "data_b64" if encoding == "base64" else "data"
    assert key in raw["graph"]["initializers"][0] and raw["metadata"] == {"note": "round trip"}


def test_bad_encoding_argument() -> None:
    model = ae()
    with pytest.raises(ValueError):
        export([model.x_hat], [model.x], encoding="hex")
