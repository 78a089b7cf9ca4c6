"""export() of trainer graphs that need format 1.1: the trainer ops that map onto 1.1 operators,
the leaky relu / elu compositions (SPEC 10), int32 inputs and weights, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

import tessera.trainer.nnet as nnet
import tessera.trainer.tensor as T
from tessera import exporter, trainer
from tessera.exporter.export import ExportError, export

F32 = np.float32
RNG = np.random.default_rng(5)


def ops_of(doc: dict) -> list[str]:
    return [n["op"] for n in doc["graph"]["nodes"]]


def run_both(outputs: list, inputs: list, feeds: list[np.ndarray]) -> tuple[list, list, dict]:
    """The trainer's values and the exported model's, in output order, and the document."""
    doc = export(outputs, inputs)
    want = trainer.function(inputs, outputs)(*feeds)
    model = exporter.load(doc)
    got = model.run({v["name"]: f for v, f in zip(doc["graph"]["inputs"], feeds, strict=True)})
    return list(want), list(got.values()), doc


def test_softmax_classifier_with_argmax_and_log_softmax() -> None:
    x = T.matrix("x")
    w = trainer.shared(RNG.normal(size=(6, 4)).astype(F32), name="W")
    b = trainer.shared(RNG.normal(size=4).astype(F32), name="b")
    logits = T.dot(x, w) + b
    outs = [nnet.log_softmax(logits), T.argmax(logits, axis=1), T.min(logits, axis=1), T.prod(logits, axis=0)]
    xv = RNG.normal(size=(5, 6)).astype(F32)
    want, got, doc = run_both(outs, [x], [xv])
    assert doc["format_version"] == "1.1"
    assert {"LogSoftmax", "ArgMax", "ReduceMin", "ReduceProd"} <= set(ops_of(doc))
    assert [o["dtype"] for o in doc["graph"]["outputs"]] == ["float32", "int32", "float32", "float32"]
    assert got[1].dtype == np.int32 and got[1].tolist() == np.asarray(want[1]).tolist()
    for g, w_ in zip(got[:1] + got[2:], want[:1] + want[2:], strict=True):
        assert np.allclose(g, w_, rtol=1e-5, atol=1e-5)


def test_argmax_over_all_axes_and_keepdims() -> None:
    x = T.matrix("x", shape=(3, 4))
    xv = RNG.normal(size=(3, 4)).astype(F32)
    want, got, doc = run_both([T.argmax(x), T.argmin(x, axis=0, keepdims=True)], [x], [xv])
    assert got[0].tolist() == int(np.asarray(want[0])) and got[0].shape == ()
    assert got[1].shape == (1, 4) and got[1].tolist() == np.asarray(want[1]).tolist()


def test_leaky_relu_and_elu_compositions_export_with_where() -> None:
    x = T.matrix("x")
    outs = [nnet.relu(x, 0.1), nnet.elu(x, 0.5)]
    xv = np.concatenate([RNG.normal(size=(4, 5)), [[0.0, -0.0, 1e-8, -1e-8, -30.0]]]).astype(F32)
    want, got, doc = run_both(outs, [x], [xv])
    assert "Where" in ops_of(doc) and "Greater" in ops_of(doc) and "Maximum" in ops_of(doc)
    assert np.array_equal(got[0], np.asarray(want[0], F32))  # exact: max(x, fl(0.1 x))
    assert np.allclose(got[1], want[1], rtol=1e-6, atol=1e-7)


def test_switch_comparisons_casts_and_concatenate() -> None:
    x = T.matrix("x", shape=(None, 3))
    k = T.vector("k", dtype="int32", shape=(3,))
    mask = T.gt(x, k)  # float against int: the int operand is cast to float32
    y = T.switch(mask, x, -x)
    z = T.concatenate([y, T.cast(mask, "float32"), T.cast(x, "int32").astype("float32")], axis=1)
    both = T.and_(mask, T.neq(x, 0))
    xv = RNG.normal(size=(4, 3)).astype(F32) * 3
    kv = np.array([0, -1, 1], np.int32)
    want, got, doc = run_both([z, both], [x, k], [xv, kv])
    ops = ops_of(doc)
    assert {"Greater", "Where", "Concat", "Cast", "And", "NotEqual"} <= set(ops)
    assert doc["graph"]["inputs"][1]["dtype"] == "int32" and doc["graph"]["outputs"][1]["dtype"] == "int32"
    assert np.array_equal(got[0], np.asarray(want[0], F32))
    assert got[1].tolist() == np.asarray(want[1]).astype(np.int32).tolist()


def test_embedding_bag_gathers_rows_by_int32_ids() -> None:
    ids = T.matrix("ids", dtype="int32", shape=(None, 4))
    table = trainer.shared(RNG.normal(size=(20, 3)).astype(F32), name="E")
    bag = table[ids].sum(axis=1)
    idv = RNG.integers(0, 20, (5, 4)).astype(np.int32)
    want, got, doc = run_both([bag], [ids], [idv])
    assert "Gather" in ops_of(doc) and doc["format_version"] == "1.1"
    assert np.allclose(got[0], want[0], rtol=1e-6, atol=1e-6)
    bad = dict(zip(["ids"], [np.full((1, 4), 20, np.int32)], strict=True))
    with pytest.raises(exporter.ModelError) as info:
        exporter.load(doc).run(bad)
    assert info.value.code == "E_INPUT"


def test_int32_weights_are_int32_initializers() -> None:
    x = T.vector("x", shape=(3,))
    idx = trainer.shared(np.array([2, 0], np.int64), name="idx")
    doc = export([x[idx]], [x])
    (init,) = doc["graph"]["initializers"]
    assert init["dtype"] == "int32" and init["data"] == [2, 0]
    assert exporter.load(doc).run({"x": np.array([1, 2, 3], F32)})[doc["graph"]["outputs"][0]["name"]].tolist() \
        == [3.0, 1.0]


def test_bitwise_logic_on_integers_is_refused() -> None:
    a = T.vector("a", dtype="int32", shape=(2,))
    with pytest.raises(ExportError, match="bitwise"):
        export([T.and_(a, a)], [a])


def test_a_1_0_graph_still_stamps_1_0() -> None:
    x = T.matrix("x")
    assert export([T.exp(x)], [x])["format_version"] == "1.0"


@pytest.mark.parametrize("index", [
    lambda x: x[1:3], lambda x: x[:, ::-1], lambda x: x[-1], lambda x: x[0, 1:], lambda x: x[::2, -2],
    lambda x: x[-3:-1, ::3], lambda x: x[:, :], lambda x: x[5:100],
])
def test_basic_indexing_becomes_slice_and_reshape(index) -> None:
    x = T.matrix("x", shape=(6, 5))
    xv = RNG.normal(size=(6, 5)).astype(F32)
    want, got, doc = run_both([index(x)], [x], [xv])
    assert got[0].shape == np.asarray(want[0]).shape and np.array_equal(got[0], np.asarray(want[0], F32))
    assert set(ops_of(doc)) <= {"Slice", "Reshape"}


@pytest.mark.parametrize("pattern, shape", [((1, 0), (3, 4)), (("x", 0, 1), (3, 4)), ((0, "x", 1), (3, 4)),
                                            ((1,), (1, 4)), ((2, "x", 0), (3, 1, 2)), ((0, 1), (3, 4))])
def test_dimshuffle_and_flatten(pattern: tuple, shape: tuple) -> None:
    x = T.tensor(len(shape), "x", shape=shape)
    xv = RNG.normal(size=shape).astype(F32)
    want, got, doc = run_both([x.dimshuffle(*pattern) * 2, T.flatten(x, 1) + 1], [x], [xv])
    assert np.array_equal(got[0], np.asarray(want[0], F32)) and got[0].shape == np.asarray(want[0]).shape
    assert np.array_equal(got[1], np.asarray(want[1], F32))


def test_empty_slice_is_refused() -> None:
    x = T.matrix("x", shape=(6, 5))
    with pytest.raises(ExportError, match="empty"):
        export([x[4:2]], [x])


def test_exported_1_1_graph_runs_the_same_in_c_and_js(tmp_path, c_runtime: list[str], js_runtime: list[str]) -> None:
    """What the exporter writes for a graph using most 1.1 ops, run by every runtime: same bits and integers."""
    import json
    import subprocess

    from tessera.conformance.compare import compare
    from tessera.exporter.cli_run import run_files
    from tessera.exporter.tensors import write_inputs

    x = T.matrix("x", shape=(None, 6))
    ids = T.matrix("ids", dtype="int32", shape=(None, 3))
    table = trainer.shared(RNG.normal(size=(10, 6)).astype(F32), name="E")
    h = T.switch(T.gt(x, 0), x, nnet.elu(x, 0.3)) + table[ids].sum(axis=1)
    outs = [nnet.log_softmax(h), T.argmax(h, axis=1), h[:, ::2], T.concatenate([h, x], axis=1).min(axis=1),
            T.cast(h * 1000, "int32"), T.prod(h, axis=0)]
    export(outs, [x, ids], tmp_path / "m.json")
    (tmp_path / "i.json").write_text(write_inputs({"x": RNG.normal(size=(4, 6)).astype(F32) * 3,
                                                   "ids": RNG.integers(-10, 10, (4, 3)).astype(np.int32)}))
    status, text = run_files(str(tmp_path / "m.json"), str(tmp_path / "i.json"))
    assert status == 0
    expect = json.loads(text)
    assert [t.get("dtype", "float32") for t in expect["outputs"].values()] == \
        ["float32", "int32", "float32", "float32", "int32", "float32"]
    for command in (c_runtime, js_runtime):
        done = subprocess.run([*command, str(tmp_path / "m.json"), str(tmp_path / "i.json")], capture_output=True,
                              text=True, timeout=60)
        assert compare(expect, done.stdout, done.returncode) == ("pass", ""), (command, done.stdout[:200])


@pytest.mark.parametrize("name", ["log1p", "expm1"])
def test_log1p_and_expm1_export_as_compositions_with_the_stated_accuracy(name: str) -> None:
    """No format op computes them: Log(1 + x) and Exp(x) - 1, absolutely accurate near 0 (not relatively)."""
    x = T.vector("x")
    y = getattr(T, name)(x)
    doc = exporter.export(outputs=[y], inputs=[x])
    assert doc["format_version"] == "1.0"
    xs = np.concatenate([np.linspace(-0.9, 3.0, 2001), [0.0, 1e-8, -1e-8, 1e-3]]).astype(np.float32)
    (got,) = exporter.load(doc).run({"x": xs}).values()
    want = getattr(np, name)(xs.astype(np.float64))
    assert np.all(np.abs(got - want) <= 2.0**-23 + 4 * np.spacing(np.abs(want).astype(np.float32)))
