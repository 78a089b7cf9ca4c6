"""`trainer.from_model`: a format document as shared variables and a symbolic forward graph.

Round trips (the conformance model cases, the demo models): exported again without training, the graph is the
same up to names and runs with the expected bits; the trainer's own forward function computes the reference's
bits for the ops whose numpy kernels follow SPEC order, and stays within the stated bounds for the others;
a PyTorch MLP imported through ONNX is trained further with the Theano API and exported again, and the C
runtime runs the result with the reference's bits; nodes the trainer cannot compute are refused by name."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import exporter, trainer
from tessera.exporter.errors import ModelError
from tessera.exporter.opset import OPS
from tessera.exporter.tensors import read_tensors, write_inputs
from tessera.trainer.datasets import load_digits
from tessera.trainer.from_model import FromModelError, inverse_table
from tests.crosscheck.crosscheck_lib import require
from tests.support import CASES_DIR, same_bits

MODEL_CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "expected.json").exists())
U = 2.0 ** -24


def _case(case: str) -> tuple[dict, dict, dict]:
    """(model document, inputs, expected outputs) of a conformance case."""
    doc = json.loads((CASES_DIR / case / "model.json").read_text())
    dtypes = exporter.load(doc, runtime="reference").input_dtypes
    return (doc, read_tensors(CASES_DIR / case / "inputs.json", key="inputs", dtypes=dtypes),
            read_tensors(CASES_DIR / case / "expected.json", key="outputs"))


def canonical(doc: dict) -> list[str]:
    """Each graph output as a digest of its whole computation: ops with their resolved parameters, initializer
    bits, input positions and dtypes, symbols renamed by first appearance. Names and node order do not count."""
    m = exporter.check(doc)
    symbols: dict[str, int] = {}

    def dims(shape) -> tuple:
        return tuple(("symbol", symbols.setdefault(d, len(symbols))) if isinstance(d, str) else d for d in shape)

    digest: dict[str, str] = {}
    for i, (name, shape) in enumerate(m.inputs):
        digest[name] = repr(("input", i, m.dtypes[name], dims(shape)))
    for name, arr in m.initializers.items():
        digest[name] = repr(("initializer", arr.dtype.str, arr.shape, hashlib.sha256(arr.tobytes()).hexdigest()))
    for node in m.nodes:
        params = sorted((k, dims(v) if k == "shape" else v) for k, v in node.params.items() if k != "concrete")
        text = repr((node.op, params, [digest[x] for x in node.inputs]))
        digest[node.output] = hashlib.sha256(text.encode()).hexdigest()
    return [digest[name] for name, _ in m.outputs]


# ------------------------------------------------------------------ the table

def test_every_format_op_maps_back_to_a_trainer_op() -> None:
    """A new format op fails here until from_model maps it (or this test names why it cannot)."""
    assert set(inverse_table()) == set(OPS)
    lowered = {name: row.lower.trainer for name, row in OPS.items() if row.lower is not None}
    assert {name: op for name, (op, _) in inverse_table().items() if name in lowered} == lowered


# ------------------------------------------------------------------ round trips of the conformance model cases

# Exported again, these graphs take another form of the same bits (the reference test below checks the bits):
REWRITTEN = {
    # the exporter's pool_before_relu pass (exact) writes Relu then MaxPool2D as MaxPool2D then Relu
    **{c: "max pooling before Relu" for c in MODEL_CASES if c.startswith(("model_small_cnn", "model_digits_cnn"))},
    # the trainer's and_/or_/invert are bitwise on integers: int32 operands become NotEqual(x, 0) first
    **{c: "logic of int32" for c in MODEL_CASES if c.startswith(("op_and_", "op_or_", "op_not_"))},
    "model_1_1_stamped_newer_minor_ok": "logic of int32",
    # the trainer's softmax (and its gradient) and advanced indexing work on one axis: Transposes around them
    "op_softmax_axis0": "softmax axis", "op_logsoftmax_axis0": "softmax axis",
    "op_gather_axis1_matrix_indices": "gather axis", "op_gather_scalar_index": "gather axis",
    # a Cast to its own dtype is no node in the trainer: the output is a Reshape copy of the input
    "op_cast_float32_copy": "no-op", "op_cast_int32_copy": "no-op",
}
# Padded unlike on the two sides (the trainer's conv2d and pool_2d pad both sides alike; only pooling's
# end padding of a last partial window, ignore_border=False, maps): refused, naming the node.
REFUSED = {"op_averagepool2d_k3x2_asymmetric_pads_at_kernel_minus_1_count_pad",
           "op_averagepool2d_k3x2_asymmetric_pads_at_kernel_minus_1_exclude_pad",
           "op_maxpool2d_k3x2_asymmetric_pads_at_kernel_minus_1", "op_conv2d_nan_inf_input",
           "op_conv2d_negative_zero_no_bias", "op_conv2d_overflow", "op_conv2d_pads_asymmetric",
           "op_conv2d_same_even_kernel", "op_conv2d_strides_dilations_pads", "op_conv2d_weights_as_inputs",
           "op_conv2d_windows_all_padding"}


def _round_trip_params() -> list:
    return [c for c in MODEL_CASES if c not in REFUSED]


@pytest.mark.parametrize("case", _round_trip_params())
def test_conformance_model_round_trips(case: str) -> None:
    doc, inputs, want = _case(case)
    back = trainer.from_model(doc).document()
    got = exporter.load(back, runtime="reference").run(inputs)
    assert list(got) == list(want)
    for name, w in want.items():
        assert same_bits(got[name], w) if w.dtype == np.float32 else np.array_equal(got[name], w), name
    if case in REWRITTEN:
        assert canonical(back) != canonical(doc), f"{case} now round-trips exactly: drop it from REWRITTEN"
    else:
        assert canonical(back) == canonical(doc)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_asymmetric_padding_is_refused_naming_the_node(case: str) -> None:
    doc = _case(case)[0]
    with pytest.raises(FromModelError, match=r"node .*(Conv2D|Pool2D).*(asymmetric|pads both sides alike)"):
        trainer.from_model(doc)


# ------------------------------------------------------------------ the trainer's forward function

# Ops whose trainer kernels are not SPEC's sequence of binary32 operations:
ULP_OPS = {"Exp", "Log", "Tanh", "Softplus", "Pow", "Softmax", "LogSoftmax"}  # numpy's libm, not SPEC 7.3
SUM_OPS = {"MatMul", "Conv2D", "ReduceSum", "ReduceMean", "ReduceProd"}  # BLAS / pairwise order, not SPEC's
# numpy's maximum, minimum and clip return either zero when -0 meets +0 (SPEC 7.2 picks by sign): equal values
ZERO_SIGN_OPS = {"Maximum", "Minimum", "Clip"}
ULP_BOUND = 4  # numpy's float32 functions and the strict ones are each within 1-2 ulp of the real value
# Sigmoid is (tanh(x/2) + 1) / 2 in the trainer: within 4 ulp, or 2^-24 absolute where the value is tiny
# (the strict one keeps e^x's subnormal tail, the tanh form rounds it to 0).
MODEL_RELATIVE = 2.0 ** -14  # whole models compose the above; their outputs are within this of max(1, |y|)


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    def ordered(x: np.ndarray) -> np.ndarray:
        i = x.astype(np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(ordered(a) - ordered(b))


def _sum_bound(node: dict, inputs: dict, doc: dict) -> np.ndarray:
    """2 gamma_K sum |terms| of a single-op model (any two orders of the same K products differ by less)."""
    torch = require("torch")
    args = {**inputs, **{t["name"]: np.asarray(t["data"], np.float32).reshape(t["shape"])
                         for t in doc["graph"]["initializers"]}}
    x = [np.abs(args[n].astype(np.float64)) for n in node["inputs"]]
    with np.errstate(invalid="ignore"):  # 0 * inf: a NaN bound where the trainer's NaN is checked apart
        return _magnitude_bound(node, x, torch)


def _magnitude_bound(node: dict, x: list, torch) -> np.ndarray:
    attrs = node.get("attrs", {})
    if node["op"] == "MatMul":
        a = x[0].T if attrs.get("transpose_a") else x[0]
        b = x[1].T if attrs.get("transpose_b") else x[1]
        k, mag = a.shape[1], a @ b
    elif node["op"] == "Conv2D":
        pt, pl = attrs.get("pads", [0, 0])[:2]
        mag = torch.nn.functional.conv2d(torch.tensor(x[0]), torch.tensor(x[1]), stride=attrs.get("strides", 1),
                                         padding=(pt, pl), dilation=attrs.get("dilations", 1),
                                         groups=attrs.get("group", 1)).numpy()
        k = int(np.prod(x[1].shape[1:]))
        if len(x) == 3:
            mag = mag + x[2].reshape(1, -1, 1, 1)
    else:
        axes = tuple(attrs.get("axes", range(x[0].ndim)))
        keep = attrs.get("keepdims", False)
        k = int(np.prod([x[0].shape[a] for a in axes]))
        if node["op"] == "ReduceProd":
            mag = np.prod(x[0], axis=axes, keepdims=keep)
        else:
            mag = np.sum(x[0], axis=axes, keepdims=keep) / (k if node["op"] == "ReduceMean" else 1)
    gamma = (k + 1) * U / (1 - (k + 1) * U)  # one more rounding: the bias, the mean's division
    return 2 * gamma * mag


@pytest.mark.parametrize("case", [c for c in MODEL_CASES if c not in REFUSED])
def test_the_trainers_forward_function_computes_the_reference_outputs(case: str) -> None:
    doc, inputs, want = _case(case)
    model = trainer.from_model(doc)
    forward = trainer.function(model.inputs, list(model.outputs.values()), nan_guard=False)
    got = dict(zip(want, forward(*[inputs[x.name] for x in model.inputs]), strict=True))
    ops = {n["op"] for n in doc["graph"]["nodes"]}
    for name, w in want.items():
        g = np.asarray(got[name])
        assert g.shape == w.shape, name
        if w.dtype == np.int32:  # indices, flags: the trainer's int64 and bool are the same integers
            assert np.array_equal(g.astype(np.int64), w), name
            continue
        assert g.dtype == np.float32
        if not ops & (ULP_OPS | SUM_OPS | {"Sigmoid"}):  # every op follows SPEC order: the same bits
            assert same_bits(g, w) or (ops & ZERO_SIGN_OPS and np.array_equal(g, w, equal_nan=True)), name
            continue
        # inf and NaN where the reference has them; but SPEC 7.1 and 7.11 skip a zero operand's product, where
        # the trainer's BLAS computes 0 * inf = NaN
        odd = ~np.isfinite(w) | ~np.isfinite(g)
        skipped = np.isnan(g) & bool(ops & SUM_OPS)
        assert all(same_bits(a, b) or s for a, b, s in zip(g[odd], w[odd], skipped[odd], strict=True)), name
        finite = np.isfinite(w) & np.isfinite(g)
        err = np.abs(g[finite].astype(np.float64) - w[finite])
        if case.startswith("model_") or len(doc["graph"]["nodes"]) > 1:
            assert np.all(err <= MODEL_RELATIVE * np.maximum(1, np.abs(w[finite]))), name
        elif ops <= ULP_OPS:
            assert _ulps(g[finite], w[finite]).max() <= ULP_BOUND, name
        elif ops == {"Sigmoid"}:
            assert np.all((_ulps(g[finite], w[finite]) <= ULP_BOUND) | (err <= U)), name
        else:
            bound = _sum_bound(doc["graph"]["nodes"][0], inputs, doc)[finite]
            assert np.all(err <= bound), (name, float(np.max(err - bound)))


# ------------------------------------------------------------------ the demo models

def test_demo_models_round_trip_to_the_same_document(tmp_path: Path) -> None:
    from tessera.demo import DEMO_MODELS
    from tessera.demo import load_digits as demo_digits

    args = argparse.Namespace(hidden=8, epochs=1, batch=64, lr=0.5, seed=0)
    for row in DEMO_MODELS:
        trained = row.train(demo_digits(), args)
        doc = exporter.export(trained.outputs, trained.inputs, metadata={"description": trained.description})
        back = trainer.from_model(doc).document()
        assert {k: v for k, v in back.items() if k != "producer"} == {k: v for k, v in doc.items() if k != "producer"}


# ------------------------------------------------------------------ fine-tuning a PyTorch model

def _torch_digits_mlp(path: Path) -> None:
    """A PyTorch MLP on the digits, trained briefly, written as ONNX (opset 13, a symbolic batch)."""
    torch = require("torch")
    torch.manual_seed(0)
    x, y = load_digits(with_labels=True)
    m = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10), torch.nn.Softmax(1))
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.nll_loss(torch.log(m(torch.from_numpy(x[:512]))), torch.from_numpy(y[:512])).backward()
        opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m.eval(), (torch.zeros(1, 64),), str(path), dynamo=False, opset_version=13,
                          input_names=["x"], output_names=["p"], dynamic_axes={"x": {0: "batch"}, "p": {0: "batch"}})


def test_fine_tune_an_imported_pytorch_mlp(tmp_path: Path, c_runtime: list[str]) -> None:
    onnx_path = tmp_path / "mlp.onnx"
    _torch_digits_mlp(onnx_path)
    model = trainer.from_model(exporter.from_onnx(onnx_path))
    assert [x.name for x in model.inputs] == ["x"] and model.inputs[0].shape == (None, 64)
    assert len(model.params) == 4 and all(p.dtype == np.float32 for p in model.params.values())
    before = {n: p.get_value() for n, p in model.params.items()}

    x, y = load_digits(with_labels=True)
    labels = T.lvector("y")
    cost = T.nnet.categorical_crossentropy(model.outputs["p"], labels).mean()
    params = list(model.params.values())
    lr = np.float32(0.5)
    step = trainer.function([model.inputs[0], labels], cost,
                            updates=[(p, p - lr * g) for p, g in zip(params, T.grad(cost, params), strict=True)])
    losses = [float(step(x[i:i + 256], y[i:i + 256])) for i in range(0, 1536, 256) for _ in range(3)]
    assert losses[-1] < losses[0] * 0.8, losses
    assert all(not np.array_equal(before[n], p.get_value()) for n, p in model.params.items())

    doc_path = tmp_path / "tuned.json"
    doc = model.document(doc_path)
    assert [i["name"] for i in doc["graph"]["initializers"]] == list(before)  # the ONNX names, kept
    for t in doc["graph"]["initializers"]:
        stored = np.asarray(t["data"], np.float32).reshape(t["shape"])
        assert np.array_equal(stored, model.params[t["name"]].get_value())
    held_out = x[1536:1600]
    ref = exporter.load(doc_path, runtime="reference").run({"x": held_out})["p"]
    inputs = tmp_path / "inputs.json"
    inputs.write_text(write_inputs({"x": held_out}))
    done = subprocess.run([*c_runtime, str(doc_path), str(inputs)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[:400] + done.stderr[:400]
    (tmp_path / "out.json").write_text(done.stdout)
    assert same_bits(read_tensors(tmp_path / "out.json", key="outputs")["p"], ref)
    trained = trainer.function([model.inputs[0]], model.outputs["p"])(held_out)
    assert np.max(np.abs(trained - ref)) <= MODEL_RELATIVE
    assert np.mean(np.argmax(ref, 1) == y[1536:1600]) > 0.5


def test_an_imported_cnn_with_batch_norm_trains_and_exports(tmp_path: Path) -> None:
    """The ONNX import's CNN (Conv with bias, batch norm folded, max and average pooling, LeakyRelu, dropout
    removed): the trainer computes it within the model bound, trains it, and the export computes the
    trainer's new function within the same bound."""
    from tests.onnx_import.test_onnx_import import _cnn, _torch

    torch = _torch()
    net, shape = _cnn(torch)
    path = tmp_path / "cnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(shape),), str(path), dynamo=False, opset_version=17, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    doc = exporter.from_onnx(path)
    model = trainer.from_model(doc, trainable=[t["name"] for t in doc["graph"]["initializers"] if t["shape"]])
    x = np.random.default_rng(1).standard_normal((6, 1, 8, 8)).astype(np.float32)
    forward = trainer.function(model.inputs, model.outputs["y"])
    assert np.max(np.abs(forward(x) - exporter.load(doc, runtime="reference").run({"x": x})["y"])) <= MODEL_RELATIVE
    labels = T.lvector("t")
    cost = T.nnet.categorical_crossentropy(model.outputs["y"], labels).mean()
    params = list(model.params.values())
    step = trainer.function([model.inputs[0], labels], cost,
                            updates=[(p, p - np.float32(0.1) * g) for p, g in zip(params, T.grad(cost, params),
                                                                                  strict=True)])
    losses = [float(step(x, np.arange(6) % 3)) for _ in range(5)]
    assert losses[-1] < losses[0], losses
    back = model.document()
    assert np.max(np.abs(forward(x) - exporter.load(back, runtime="reference").run({"x": x})["y"])) <= MODEL_RELATIVE


def test_trainable_names_a_subset_and_the_rest_stays_as_stored() -> None:
    doc = _case("model_mlp_softmax")[0]
    names = [t["name"] for t in doc["graph"]["initializers"] if t["dtype"] == "float32"]
    model = trainer.from_model(doc, trainable=names[:1])
    assert list(model.params) == names[:1]
    assert set(model.initializers) == {t["name"] for t in doc["graph"]["initializers"]}
    with pytest.raises(ValueError, match="not float32 initializers"):
        trainer.from_model(doc, trainable=["no_such_weight"])


# ------------------------------------------------------------------ refusals

def _one_node(node: dict, x_shape: list, out_shape: list, inits: list | None = None, version: str = "1.2") -> dict:
    return {"format": "tessera", "format_version": version, "producer": {"name": "test", "version": "0"},
            "graph": {"inputs": [{"name": "x", "dtype": "float32", "shape": x_shape}],
                      "outputs": [{"name": "y", "dtype": "float32", "shape": out_shape}],
                      "initializers": inits or [], "nodes": [{**node, "inputs": ["x"], "outputs": ["y"]}]}}


def test_refusals_name_the_node() -> None:
    conv = {"op": "Conv2D", "name": "the_conv", "attrs": {"pads": [0, 0, 1, 1]}}
    w = {"name": "w", "dtype": "float32", "shape": [1, 1, 2, 2], "data": [1.0, 2.0, 3.0, 4.0]}
    doc = _one_node(conv, ["N", 1, 4, 4], ["N", 1, 4, 4], [w])
    doc["graph"]["nodes"][0]["inputs"].append("w")
    with pytest.raises(FromModelError, match="the_conv.*asymmetric"):
        trainer.from_model(doc)
    pool = {"op": "AveragePool2D", "name": "p", "attrs": {"kernel_shape": [2, 2], "strides": [2, 2],
                                                          "pads": [0, 0, 1, 1], "count_include_pad": True}}
    with pytest.raises(FromModelError, match="p.*count_include_pad"):
        trainer.from_model(_one_node(pool, [1, 1, 5, 5], [1, 1, 3, 3]))
    reshape = {"op": "Reshape", "name": "r", "attrs": {"shape": ["b", "c"]}}
    with pytest.raises(FromModelError, match="r.*2 symbolic dims"):
        trainer.from_model(_one_node(reshape, ["b", "c"], ["b", "c"], version="1.0"))


def test_pooling_with_a_last_partial_window_maps_to_ignore_border_false() -> None:
    pool = {"op": "MaxPool2D", "attrs": {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 1, 1]}}
    doc = _one_node(pool, ["N", 2, 5, 5], ["N", 2, 3, 3])
    model = trainer.from_model(doc)
    assert model.outputs["y"].attrs["ignore_border"] is False
    a = np.random.default_rng(2).standard_normal((3, 2, 5, 5)).astype(np.float32)
    want = exporter.load(doc, runtime="reference").run({"x": a})["y"]
    assert same_bits(trainer.function(model.inputs, model.outputs["y"])(a), want)
    assert canonical(model.document()) == canonical(doc)


def test_a_bad_document_gives_its_spec_code(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        trainer.from_model({"format": "tessera", "format_version": "1.0", "graph": {}})
    assert info.value.code == "E_SCHEMA"
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ModelError) as info:
        trainer.from_model(bad)
    assert info.value.code == "E_PARSE"
