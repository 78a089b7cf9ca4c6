"""ONNX import (exporter.onnx_import): round trips of the conformance models, PyTorch models run by every
runtime bit for bit and against PyTorch and onnxruntime, the storage forms of initializers, conversions and
refusals, and every error path with its code."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tessera import exporter
from tessera.exporter import onnx_export
from tessera.exporter.check import check
from tessera.exporter.errors import ModelError
from tessera.exporter.onnx_import import from_onnx
from tessera.exporter.tensors import read_tensors, write_inputs
from tests.crosscheck.crosscheck_lib import require, run_onnx
from tests.support import CASES_DIR, ROOT, same_bits

onnx = require("onnx")
helper, TP = onnx.helper, onnx.TensorProto

# ------------------------------------------------------------------ round trips of the conformance models

# Cases whose graph is a no-op (a Cast to the same dtype, a Transpose of a scalar) feeding a graph output:
# ONNX writes Identity, which the import removes, so the output becomes a Reshape copy (same bits, another op).
NO_OP_OUTPUTS = {"op_cast_float32_copy", "op_cast_int32_copy", "op_transpose_scalar"}
MODEL_CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "expected.json").exists())


def _canonical(doc: dict) -> tuple[list, list]:
    """Nodes as (op, resolved params, operands renamed by definition order) and initializer bits by first use."""
    m = check(doc)
    names = {n: f"in{i}" for i, (n, _) in enumerate(m.inputs)}
    inits = []
    for node in m.nodes:
        for x in node.inputs:
            if x in m.initializers and x not in names:
                names[x] = f"w{len(inits)}"
                inits.append((m.initializers[x].dtype.str, m.initializers[x].shape, m.initializers[x].tobytes()))
        names[node.output] = f"t{len(names)}"
    nodes = [(n.op, repr(sorted(n.params.items())), [names[x] for x in n.inputs]) for n in m.nodes]
    return nodes + [[names[o] for o, _ in m.outputs]], inits


@pytest.mark.parametrize("case", MODEL_CASES)
def test_conformance_model_round_trips_through_onnx(case: str) -> None:
    doc = json.loads((CASES_DIR / case / "model.json").read_text())
    back = from_onnx(onnx_export.to_onnx(doc).SerializeToString())
    if case in NO_OP_OUTPUTS:
        assert [n["op"] for n in back["graph"]["nodes"]] == ["Reshape"]
        return
    assert _canonical(back) == _canonical(doc)


# ------------------------------------------------------------------ PyTorch models, trained briefly, exported


def _torch():
    torch = require("torch")
    torch.manual_seed(0)
    return torch


def _mlp(torch):
    m = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4), torch.nn.LogSoftmax(1))
    x = torch.randn(256, 16)
    y = (x[:, :4].argmax(1))
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.nll_loss(m(x), y).backward()
        opt.step()
    return m.eval(), (1, 16)


def _cnn(torch):
    class CNN(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.bn = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4)
            self.c2 = torch.nn.Conv2d(4, 8, 3, padding="same")
            self.drop, self.fc = torch.nn.Dropout(0.3), torch.nn.Linear(32, 3)

        def forward(self, x):
            x = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.c1(x))), 2)
            x = torch.nn.functional.avg_pool2d(torch.nn.functional.leaky_relu(self.c2(x)), 2)
            return torch.softmax(self.fc(self.drop(torch.flatten(x, 1))), 1)

    m = CNN()
    x = torch.randn(64, 1, 8, 8)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(5):  # batch norm statistics move away from their initial values
        opt.zero_grad()
        m(x).square().sum().backward()
        opt.step()
    return m.eval(), (1, 1, 8, 8)


def _autoencoder(torch):
    m = torch.nn.Sequential(torch.nn.Linear(12, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 12), torch.nn.Softplus())
    x = torch.rand(128, 12)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    for _ in range(30):
        opt.zero_grad()
        (m(x) - x).square().mean().backward()
        opt.step()
    return m.eval(), (1, 12)


MODELS = {"mlp": (_mlp, 13), "cnn": (_cnn, 17), "autoencoder": (_autoencoder, 20)}


@pytest.fixture(scope="module", params=sorted(MODELS))
def torch_model(request, tmp_path_factory):
    torch = _torch()
    build, opset = MODELS[request.param]
    model, shape = build(torch)
    path = tmp_path_factory.mktemp(request.param) / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(shape),), str(path), dynamo=False, opset_version=opset,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    x = np.random.default_rng(1).standard_normal((5, *shape[1:])).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    return request.param, path, x, want


def test_torch_model_imports_with_a_symbolic_batch(torch_model) -> None:
    name, path, x, _ = torch_model
    doc = from_onnx(path)
    assert doc["graph"]["inputs"][0]["shape"][0] == "batch"
    ops = {n["op"] for n in doc["graph"]["nodes"]}
    assert not ops & {"Identity", "Dropout", "Shape"}
    if name == "cnn":
        assert {"Conv2D", "MaxPool2D", "AveragePool2D", "Reshape"} <= ops


def _run_cli(command: list[str], doc_path: Path, x: np.ndarray, tmp: Path) -> np.ndarray:
    inputs = tmp / "inputs.json"
    inputs.write_text(write_inputs({"x": x}))
    done = subprocess.run([*command, str(doc_path), str(inputs)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[:400] + done.stderr[:400]
    out = tmp / "out.json"
    out.write_text(done.stdout)
    return read_tensors(out, key="outputs")["y"]


def test_torch_model_same_bits_in_every_runtime(torch_model, c_runtime, js_runtime, tmp_path) -> None:
    _, path, x, _ = torch_model
    doc_path = tmp_path / "model.json"
    assert subprocess.run([sys.executable, "-m", "tessera", "import", str(path), "-o", str(doc_path)],
                          cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    ref = exporter.load(str(doc_path), runtime="reference").run({"x": x})["y"]
    assert same_bits(exporter.load(str(doc_path), runtime="native").run({"x": x})["y"], ref)
    js = [["env", f"TESSERA_KERNELS={kernels}", *js_runtime] for kernels in ("js", "wasm")]
    for command in (c_runtime, *js):
        assert same_bits(_run_cli(command, doc_path, x, tmp_path), ref), command


# Whole-model bounds against PyTorch and onnxruntime (float32 both, their own exp/log/tanh, FMA, other
# summation orders): the cross-check's whole-model figures are <= 1.2e-7 absolute on models of this size
# (tests/crosscheck MODEL_BOUNDS); these models' outputs are O(1), so 1e-6 absolute is ~8 ulp at 1.
ABS_BOUND = 1e-6


def test_torch_model_agrees_with_pytorch_and_onnxruntime(torch_model) -> None:
    _, path, x, want = torch_model
    ref = exporter.load(from_onnx(path), runtime="reference").run({"x": x})["y"]
    ort = run_onnx(path.read_bytes(), {"x": x})["y"]
    assert np.abs(ref - want).max() <= ABS_BOUND
    assert np.abs(ref - ort).max() <= ABS_BOUND


# ------------------------------------------------------------------ hand-built graphs: storage, folding, refusals


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _vi(name, shape, elem=TP.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def _bn_model(fold: bool, opset: int = 21):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    c = 3 if fold else 2
    stats = [rng.uniform(0.5, 2, c).astype(np.float32), rng.standard_normal(c).astype(np.float32),
             rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)]
    inits = [onnx.numpy_helper.from_array(a, n) for a, n in zip([w, *stats], ["W", "s", "b", "m", "v"], strict=True)]
    first = "c" if fold else "x"
    nodes = ([helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1])] if fold else [])
    nodes.append(helper.make_node("BatchNormalization", [first, "s", "b", "m", "v"], ["y"], epsilon=1e-3))
    return _model(nodes, [_vi("x", ["N", 2, 5, 5])], [_vi("y", ["N", c, 5, 5])], inits, opset)


@pytest.mark.parametrize("fold", [True, False])
def test_batch_norm_folded_or_lowered_close_to_onnxruntime(fold: bool) -> None:
    proto = _bn_model(fold)
    doc = from_onnx(proto.SerializeToString())
    ops = [n["op"] for n in doc["graph"]["nodes"]]
    assert ops == (["Conv2D"] if fold else ["Mul", "Add"])
    x = np.random.default_rng(4).standard_normal((2, 2, 5, 5)).astype(np.float32)
    got = exporter.load(doc, runtime="reference").run({"x": x})["y"]
    want = run_onnx(proto, {"x": x})["y"]
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))


def _gemm_model(inits):
    node = helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)
    return _model([node], [_vi("x", ["N", 3])], [_vi("y", ["N", 2])], inits)


def test_initializers_in_every_storage_give_the_same_document(tmp_path: Path) -> None:
    w = np.arange(6, dtype=np.float32).reshape(2, 3) / 8
    b = np.array([0.5, -1], np.float32)
    raw = _gemm_model([onnx.numpy_helper.from_array(w, "W"), onnx.numpy_helper.from_array(b, "B")])
    typed = _gemm_model([helper.make_tensor("W", TP.FLOAT, [2, 3], w.ravel().tolist()),
                         helper.make_tensor("B", TP.DOUBLE, [2], b.astype(np.float64).tolist())])
    assert typed.graph.initializer[0].float_data and typed.graph.initializer[1].double_data
    ext = _gemm_model([onnx.numpy_helper.from_array(w, "W"), onnx.numpy_helper.from_array(b, "B")])
    onnx.save_model(ext, str(tmp_path / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.data", size_threshold=0)
    assert (tmp_path / "m.data").exists()
    docs = [from_onnx(raw.SerializeToString()), from_onnx(typed.SerializeToString()), from_onnx(tmp_path / "m.onnx")]
    assert docs[0]["graph"] == docs[1]["graph"] == docs[2]["graph"]
    with pytest.raises(ModelError) as err:  # external data read from bytes: nowhere to look
        from_onnx((tmp_path / "m.onnx").read_bytes())
    assert err.value.code == "E_DATA"


def test_float16_and_int64_convert_exactly() -> None:
    h = np.array([0.1, -2.5, 65504], np.float16)
    idx = np.array([2, 0], np.int64)
    nodes = [helper.make_node("Cast", ["h"], ["hf"], to=TP.FLOAT), helper.make_node("Add", ["x", "hf"], ["s"]),
             helper.make_node("Gather", ["s", "i"], ["y"], axis=1)]
    proto = _model(nodes, [_vi("x", ["N", 3])], [_vi("y", ["N", 2])],
                   [onnx.numpy_helper.from_array(h, "h"), onnx.numpy_helper.from_array(idx, "i")])
    doc = from_onnx(proto.SerializeToString())
    m = exporter.load(doc, runtime="reference")
    x = np.ones((2, 3), np.float32)
    assert same_bits(m.run({"x": x})["y"], (x + h.astype(np.float32))[:, [2, 0]])


@pytest.mark.parametrize("arr, words", [
    (np.array([0.1], np.float64), "not a float32"),
    (np.array([2**40], np.int64), "beyond int32"),
    (np.array([np.inf], np.float32), "finite"),
])
def test_inexact_tensors_are_refused_with_e_data(arr: np.ndarray, words: str) -> None:
    proto = _model([helper.make_node("Add", ["x", "c"], ["y"])], [_vi("x", [1], TP.INT32 if arr.dtype.kind == "i"
                                                                     else TP.FLOAT)],
                   [_vi("y", [1], TP.INT32 if arr.dtype.kind == "i" else TP.FLOAT)],
                   [onnx.numpy_helper.from_array(arr, "c")])
    with pytest.raises(ModelError) as err:
        from_onnx(proto.SerializeToString())
    assert err.value.code == "E_DATA" and words in err.value.message


def test_float64_rounds_on_request() -> None:
    proto = _model([helper.make_node("Add", ["x", "c"], ["y"])], [_vi("x", [1])], [_vi("y", [1])],
                   [onnx.numpy_helper.from_array(np.array([0.1]), "c")])
    doc = from_onnx(proto.SerializeToString(), round_float64=True)
    assert np.float32(doc["graph"]["initializers"][0]["data"][0]) == np.float32(0.1)


def test_every_unsupported_node_is_listed() -> None:
    nodes = [helper.make_node("Erf", ["x"], ["a"], name="first"), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("HardSwish", ["b"], ["y"], name="second")]
    with pytest.raises(ModelError) as err:
        from_onnx(_model(nodes, [_vi("x", [2])], [_vi("y", [2])]).SerializeToString())
    assert err.value.code == "E_UNKNOWN_OP"
    assert "Erf (node 'first', opset 17)" in err.value.message and "HardSwish (node 'second'" in err.value.message


@pytest.mark.parametrize("node, code", [
    (helper.make_node("ArgMax", ["x"], ["y"], name="am", select_last_index=1), "E_SCHEMA"),
    (helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[1, 1], ceil_mode=1), "E_SCHEMA"),
])
def test_unsupported_attributes_name_the_node(node, code: str) -> None:
    proto = _model([node], [_vi("x", [2, 2])], [_vi("y", [2, 2], TP.INT64 if node.op_type == "ArgMax"
                                                       else TP.FLOAT)])
    with pytest.raises(ModelError) as err:
        from_onnx(proto.SerializeToString())
    assert err.value.code == code and repr(node.name) in err.value.message


def test_same_upper_padding_becomes_explicit_pads() -> None:
    w = np.ones((1, 1, 2, 2), np.float32)
    proto = _model([helper.make_node("Conv", ["x", "W"], ["y"], auto_pad="SAME_UPPER")], [_vi("x", [1, 1, 3, 3])],
                   [_vi("y", [1, 1, 3, 3])], [onnx.numpy_helper.from_array(w, "W")])
    doc = from_onnx(proto.SerializeToString())
    assert doc["graph"]["nodes"][0]["attrs"]["pads"] == [0, 0, 1, 1]
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    assert same_bits(exporter.load(doc, runtime="reference").run({"x": x})["y"], run_onnx(proto, {"x": x})["y"])


def test_bad_files(tmp_path: Path) -> None:
    cases = {
        b"\xff\xff\xff\xff not protobuf": "E_PARSE",
        _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("zz", [2])]).SerializeToString():
            "E_SCHEMA",
        _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2])], [_vi("y", [2])], opset=11)
            .SerializeToString(): "E_VERSION",
    }
    for data, code in cases.items():
        with pytest.raises(ModelError) as err:
            from_onnx(data)
        assert err.value.code == code, err.value


def test_cli_prints_code_and_message_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    done = subprocess.run([sys.executable, "-m", "tessera", "import", str(bad), "-o", str(tmp_path / "o.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.startswith("E_PARSE: ")
    assert not (tmp_path / "o.json").exists()
    good = tmp_path / "relu.onnx"
    good.write_bytes(_model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["N"])], [_vi("y", ["N"])])
                     .SerializeToString())
    done = subprocess.run([sys.executable, "-m", "tessera", "import", str(good), "--encoding", "base64"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "relu.json").read_text())["graph"]["nodes"][0]["op"] == "Relu"


