"""The ONNX converter (exporter/onnx_export.py) and `tessera export --onnx`: valid ONNX for every case
model, names and symbols kept, the mappings that need more than one ONNX node, the CLI, and the
messages for what cannot be converted. Numerical agreement is test_onnxruntime.py's job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tessera import cli, exporter
from tessera.exporter import cli_export_onnx, onnx_export
from tessera.exporter.errors import ModelError
from tessera.exporter.opset import OPS
from tests.crosscheck.crosscheck_lib import model_doc, require, run_onnx, tensor_doc
from tests.support import CASES_DIR, F32, ROOT, doc_for, equal_bits


def _loadable_cases() -> list[str]:
    """Every conformance case whose model passes the checker (expected-output cases and run-time rejects)."""
    manifest = json.loads((CASES_DIR / "manifest.json").read_text(encoding="utf-8"))
    names = []
    for case in manifest["cases"]:
        try:
            exporter.load(CASES_DIR / case["name"] / "model.json")
        except ModelError:
            continue
        names.append(case["name"])
    return names


LOADABLE = _loadable_cases()


@pytest.fixture(scope="module")
def onnx():
    return require("onnx")


def test_the_loadable_cases_include_every_expected_output_case() -> None:
    expected = [p.parent.name for p in CASES_DIR.glob("*/expected.json")]
    assert expected and set(expected) <= set(LOADABLE)


@pytest.mark.parametrize("name", LOADABLE)
def test_every_case_model_passes_the_onnx_checker(onnx, name: str) -> None:
    proto = onnx_export.to_onnx(exporter.load(CASES_DIR / name / "model.json"), check=False)
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import] == [onnx_export.OPSET] and proto.ir_version == onnx_export.IR_VERSION


def test_the_converter_maps_every_operator_of_the_opset() -> None:
    assert onnx_export.SUPPORTED_OPS == set(OPS)


def test_names_symbols_and_initializers_are_kept(onnx) -> None:
    model = exporter.load(CASES_DIR / "model_seed_ae_digits_batch257" / "model.json")
    proto = onnx_export.to_onnx(model)
    g = proto.graph

    def dims(vi: object) -> list:
        return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]

    assert [(i.name, dims(i)) for i in g.input] == [(n, list(s)) for n, s in model.inputs]
    assert [(o.name, dims(o)) for o in g.output] == [(n, list(s)) for n, s in model.outputs]
    assert any(isinstance(d, str) for _, s in model.inputs for d in s)  # the case has a symbolic batch
    inits = {t.name: t for t in g.initializer}
    for name, arr in model.initializers.items():
        assert inits[name].data_type == onnx.TensorProto.FLOAT
        assert equal_bits(onnx.numpy_helper.to_array(inits[name]), arr).all()
    raw = {n.get("name") for n in model.checked.doc["graph"]["nodes"]} - {None}
    assert raw and raw <= {n.name for n in g.node}
    outputs = {n.output for n in model.checked.nodes}
    assert outputs <= {o for n in g.node for o in n.output}


def _convert_and_run(doc: dict, inputs: dict[str, np.ndarray]) -> tuple[object, dict, dict]:
    model = exporter.load(doc)
    proto = onnx_export.to_onnx(model)
    return proto, model.run(inputs), run_onnx(proto, inputs)


def test_a_scalar_initializer_stays_rank_0() -> None:
    doc = doc_for([{"op": "Mul", "inputs": ["c", "c"], "outputs": ["y"]}], [("x", [2])], [("y", [])],
                  [{"name": "c", "dtype": "float32", "shape": [], "data": [1.5]}])
    proto, want, got = _convert_and_run(doc, {"x": np.zeros(2, dtype=F32)})
    assert list(proto.graph.initializer[0].dims) == [] and got["y"].shape == () and got["y"] == want["y"] == 2.25


def test_a_transpose_that_moves_nothing_is_identity() -> None:
    for shape in ([], [3]):
        doc = doc_for([{"op": "Transpose", "inputs": ["x"], "outputs": ["y"]}], [("x", shape)], [("y", shape)])
        x = np.full(shape, -0.0, dtype=F32)
        proto, want, got = _convert_and_run(doc, {"x": x})
        assert [n.op_type for n in proto.graph.node] == ["Identity"]
        # Shape from SPEC ([] stays []): the Python reference gives [1] for rank 0 (np.ascontiguousarray), C/JS [].
        assert got["y"].shape == tuple(shape) and equal_bits(got["y"].ravel(), want["y"].ravel()).all()


def test_reshape_with_two_symbols_reads_them_from_the_input_shape() -> None:
    doc = doc_for([{"name": "r", "op": "Reshape", "inputs": ["x"], "outputs": ["y"],
                    "attrs": {"shape": ["n", 2, -1, "m"]}}], [("x", ["m", 6, "n"])], [("y", ["n", 2, 3, "m"])])
    x = np.arange(5 * 6 * 3, dtype=F32).reshape(5, 6, 3)
    proto, want, got = _convert_and_run(doc, {"x": x})
    assert {"Shape", "Gather", "Concat", "Reshape"} <= {n.op_type for n in proto.graph.node}
    assert got["y"].shape == want["y"].shape == (3, 2, 3, 5) and equal_bits(got["y"], want["y"]).all()


def test_reshape_with_one_symbol_uses_minus_one() -> None:
    doc = doc_for([{"op": "Reshape", "inputs": ["x"], "outputs": ["y"], "attrs": {"shape": [3, "b", 4]}}],
                  [("x", ["b", 12])], [("y", [3, "b", 4])])
    proto, want, got = _convert_and_run(doc, {"x": np.arange(24, dtype=F32).reshape(2, 12)})
    (shape,) = [t for t in proto.graph.initializer if t.name.endswith("__shape")]
    assert list(shape.int64_data) or shape.raw_data
    assert equal_bits(got["y"], want["y"]).all() and got["y"].shape == (3, 2, 4)


def test_matmul_transposes_of_initializers_and_of_values() -> None:
    w = [1, 2, 3, 4, 5, 6]  # small integers: every product and sum is exact, so any order gives the same bits
    doc = doc_for([
        {"name": "enc", "op": "MatMul", "inputs": ["x", "W"], "outputs": ["h"], "attrs": {"transpose_b": True}},
        {"name": "dec", "op": "MatMul", "inputs": ["h", "W"], "outputs": ["y"]},
        {"name": "gram", "op": "MatMul", "inputs": ["x", "x"], "outputs": ["g"],
         "attrs": {"transpose_a": True}},
    ], [("x", ["batch", 3])], [("y", ["batch", 3]), ("g", [3, 3])],
        [{"name": "W", "dtype": "float32", "shape": [2, 3], "data": w}])
    x = np.array([[1, 0, -2], [3, 1, 1], [0, 0, 4], [-1, 2, 2]], dtype=F32)
    proto, want, got = _convert_and_run(doc, {"x": x})
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Transpose") == 1 and ops.count("Gemm") == 1 and ops.count("MatMul") == 2
    for k in ("y", "g"):
        assert equal_bits(got[k], want[k]).all(), k


def test_clip_defaults_are_infinite_not_float_max(onnx) -> None:
    doc = doc_for([{"op": "Clip", "inputs": ["x"], "outputs": ["y"], "attrs": {"max": 2}}], [("x", [4])], [("y", [4])])
    x = np.array([np.inf, -np.inf, 3, -0.0], dtype=F32)
    proto, want, got = _convert_and_run(doc, {"x": x})
    bounds = [onnx.numpy_helper.to_array(t) for t in proto.graph.initializer]
    assert [b.shape for b in bounds] == [(), ()] and sorted(float(b) for b in bounds) == [-np.inf, 2.0]
    assert equal_bits(got["y"], want["y"]).all() and got["y"][1] == -np.inf


def test_reductions_use_the_opset_17_forms(onnx) -> None:
    doc = doc_for([{"op": op, "inputs": ["x"], "outputs": [op], "attrs": {"axes": [-1], "keepdims": True}}
                   for op in ("ReduceSum", "ReduceMean", "ReduceMax")],
                  [("x", [2, 4])], [(op, [2, 1]) for op in ("ReduceSum", "ReduceMean", "ReduceMax")])
    proto, want, got = _convert_and_run(doc, {"x": np.arange(8, dtype=F32).reshape(2, 4)})
    nodes = {n.op_type: n for n in proto.graph.node}
    assert len(nodes["ReduceSum"].input) == 2  # axes as an input since opset 13
    for op in ("ReduceMean", "ReduceMax"):  # axes still an attribute before opset 18
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in nodes[op].attribute}
        assert attrs == {"axes": [1], "keepdims": 1} and len(nodes[op].input) == 1
    for k in want:
        assert equal_bits(got[k], want[k]).all(), k


def test_an_operator_without_a_mapping_is_a_model_error() -> None:
    model = exporter.load(doc_for([{"op": "Neg", "inputs": ["x"], "outputs": ["y"]}], [("x", [2])], [("y", [2])]))
    model.checked.nodes[0].op = "Frobnicate"  # what a newer minor's operator would look like to this converter
    with pytest.raises(ModelError) as err:
        onnx_export.to_onnx(model)
    assert err.value.code == "E_UNKNOWN_OP" and "Frobnicate" in err.value.message and "ONNX" in err.value.message


def test_missing_onnx_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    model = CASES_DIR / "op_neg_ordinary" / "model.json"
    with pytest.raises(ImportError, match=r"pip install onnx"):
        onnx_export.to_onnx(model)
    out = tmp_path / "m.onnx"
    assert cli.main(["export", "--onnx", str(model), "-o", str(out)]) == 1
    assert "pip install onnx" in capsys.readouterr().err and not out.exists()


def test_cli_writes_a_file_that_onnxruntime_runs(tmp_path: Path, capsys) -> None:
    case = CASES_DIR / "model_mlp_softmax"
    out = tmp_path / "mlp.onnx"
    assert cli.main(["export", "--onnx", str(case / "model.json"), "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wrote {out}: ONNX opset 17, ") and "bytes" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.onnx"]  # no temporary file left behind
    inputs = exporter.tensors.read_tensors(case / "inputs.json", key="inputs")
    got = run_onnx(str(out), inputs)
    want = exporter.load(case / "model.json").run(inputs)
    assert list(got) == list(want)
    for k in want:
        assert np.allclose(got[k], want[k], rtol=0, atol=1e-6)


def test_cli_entry_point_and_default_output_name(tmp_path: Path) -> None:
    model = tmp_path / "neg.json"
    model.write_bytes((CASES_DIR / "op_neg_ordinary" / "model.json").read_bytes())
    run = subprocess.run([sys.executable, "-m", "tessera", "export", "--onnx", str(model)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert cli_export_onnx.default_output(str(model)) == tmp_path / "neg.onnx" and (tmp_path / "neg.onnx").exists()
    assert run.stdout.startswith(f"wrote {tmp_path / 'neg.onnx'}: ONNX opset 17, 1 nodes (Neg x1)")


def test_cli_rejects_a_bad_model_with_its_code(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc_for([{"op": "Add", "inputs": ["x", "x"], "outputs": ["y"]}],
                                      [("x", [2])], [("y", [3])])))
    out = tmp_path / "bad.onnx"
    assert cli.main(["export", "--onnx", str(bad), "-o", str(out)]) == 1
    assert "E_SHAPE" in capsys.readouterr().err and not out.exists()


def test_export_help_lists_the_onnx_form() -> None:
    run = subprocess.run([sys.executable, "-m", "tessera", "export", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert "tessera export --onnx MODEL.json -o OUT.onnx" in run.stdout


# ---------------------------------------------------------------- format 1.1: int32 tensors and the new ops


def _ops_of(proto: object) -> list[str]:
    return [n.op_type for n in proto.graph.node]


def _attrs_of(onnx, node: object) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _convert_and_run_11(doc: dict, inputs: dict[str, np.ndarray]) -> tuple[object, dict, dict]:
    model = exporter.load(doc)
    proto = onnx_export.to_onnx(model)
    return proto, model.run(inputs), run_onnx(proto, inputs)


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    if want.dtype == np.int32:
        return got.dtype == np.int32 and got.shape == want.shape and bool(np.array_equal(got, want))
    return got.dtype == F32 and got.shape == want.shape and bool(equal_bits(got, want).all())


def test_int32_initializers_inputs_outputs_and_intermediates_are_int32(onnx) -> None:
    doc = model_doc([{"op": "Gather", "inputs": ["x", "idx"], "outputs": ["g"], "attrs": {"axis": 1}},
                     {"op": "Add", "inputs": ["g", "g"], "outputs": ["s"]},
                     {"op": "ArgMax", "inputs": ["s"], "outputs": ["am"], "attrs": {"axis": -1}},
                     {"op": "Cast", "inputs": ["k"], "outputs": ["kf"], "attrs": {"to": "float32"}},
                     {"op": "Equal", "inputs": ["am", "k"], "outputs": ["hit"]},
                     {"op": "Where", "inputs": ["hit", "kf", "kf"], "outputs": ["w"]}],
                    [("x", ["batch", 4], "float32"), ("k", ["batch"], "int32")],
                    [("am", ["batch"], "int32"), ("hit", ["batch"], "int32"), ("w", ["batch"], "float32")],
                    [tensor_doc("idx", np.array([3, -4, 1], dtype=np.int32))])
    x = np.array([[1, 5, 2, 4], [9, 0, -1, 9], [-0.0, 0.0, 7, 7]], dtype=F32)
    proto, want, got = _convert_and_run_11(doc, {"x": x, "k": np.array([1, 0, 5], dtype=np.int32)})
    t = onnx.TensorProto
    (idx,) = [i for i in proto.graph.initializer if i.name == "idx"]
    assert idx.data_type == t.INT32 and onnx.numpy_helper.to_array(idx).tolist() == [3, -4, 1]
    types = {v.name: v.type.tensor_type.elem_type
             for v in (*proto.graph.input, *proto.graph.output, *proto.graph.value_info)}
    assert types["x"] == t.FLOAT and types["k"] == t.INT32
    assert types["am"] == types["hit"] == t.INT32 and types["w"] == t.FLOAT
    assert types["g"] == types["s"] == t.FLOAT and types["kf"] == t.FLOAT  # intermediates typed too
    assert [d.dim_param for d in proto.graph.input[1].type.tensor_type.shape.dim] == ["batch"]
    for k in want:
        assert _same(got[k], want[k]), k


def _one_node(op: str, inputs: list[tuple[str, list, str]], out: tuple[list, str], attrs: dict | None = None) -> dict:
    node = {"op": op, "inputs": [n for n, _, _ in inputs], "outputs": ["y"], **({"attrs": attrs} if attrs else {})}
    return model_doc([node], inputs, [("y", *out)])


@pytest.mark.parametrize("op", [op for op, d in OPS.items() if d.family == "compare"])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_comparisons_give_int32_through_cast(onnx, op: str, dtype: str) -> None:
    doc = _one_node(op, [("a", [4, 1], dtype), ("b", [1, 4], dtype)], ([4, 4], "int32"))
    values = np.array([np.nan, -0.0, 0.0, 1.5], dtype=F32) if dtype == "float32" else \
        np.array([-(2**31), 16777216, 16777217, 2**31 - 1], dtype=np.int32)
    proto, want, got = _convert_and_run_11(doc, {"a": values.reshape(4, 1), "b": values.reshape(1, 4)})
    ops = _ops_of(proto)
    assert ops[-1] == "Cast" and _attrs_of(onnx, proto.graph.node[-1]) == {"to": onnx.TensorProto.INT32}
    # ONNX opset 17 has no NotEqual: Not(Equal) keeps IEEE `!=` (true with a NaN operand).
    assert ops[:-1] == (["Equal", "Not"] if op == "NotEqual" else [op])
    assert _same(got["y"], want["y"])


@pytest.mark.parametrize("op", [op for op, d in OPS.items() if d.family == "logic"])
def test_logic_ops_cast_to_bool_and_back(onnx, op: str) -> None:
    arity = OPS[op].min_arity
    v = np.array([-(2**31), -1, 0, 1, 2, 0], dtype=np.int32)
    inputs = [(n, [6], "int32") for n in "ab"[:arity]]
    proto, want, got = _convert_and_run_11(_one_node(op, inputs, ([6], "int32")),
                                           {"a": v, "b": v[::-1].copy()} if arity == 2 else {"a": v})
    bool_t = onnx.TensorProto.BOOL
    casts = [n for n in proto.graph.node if n.op_type == "Cast"]
    assert _ops_of(proto) == ["Cast"] * arity + [op, "Cast"]
    assert [_attrs_of(onnx, c)["to"] for c in casts] == [bool_t] * arity + [onnx.TensorProto.INT32]
    assert _same(got["y"], want["y"])


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_where_takes_a_bool_condition_and_broadcasts_three_ways(onnx, dtype: str) -> None:
    doc = _one_node("Where", [("c", [3, 1, 1], "int32"), ("a", [1, 2, 1], dtype), ("b", [2], dtype)],
                    ([3, 2, 2], dtype))
    np_t = F32 if dtype == "float32" else np.int32
    inputs = {"c": np.array([0, 7, -(2**31)], dtype=np.int32).reshape(3, 1, 1),
              "a": np.array([1, 2], dtype=np_t).reshape(1, 2, 1), "b": np.array([-3, 4], dtype=np_t)}
    proto, want, got = _convert_and_run_11(doc, inputs)
    assert _ops_of(proto) == ["Cast", "Where"]
    assert _attrs_of(onnx, proto.graph.node[0]) == {"to": onnx.TensorProto.BOOL}
    assert _same(got["y"], want["y"])


def test_cast_float32_to_int32_saturates_and_maps_nan_to_zero(onnx) -> None:
    # What ONNX Cast alone leaves undefined (onnxruntime on x86-64: INT32_MIN for each of these but -2^31).
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 2.0**31, 3e9, -(2.0**31), -3e9, 2147483520.0, -0.7, 0.7, -0.0,
                  1e-45, -2.5], dtype=F32)
    doc = _one_node("Cast", [("x", [len(x)], "float32")], ([len(x)], "int32"), {"to": "int32"})
    proto, want, got = _convert_and_run_11(doc, {"x": x})
    assert got["y"].tolist() == [0, 0, 2**31 - 1, -(2**31), 2**31 - 1, 2**31 - 1, -(2**31), -(2**31), 2147483520, 0,
                                 0, 0, 0, -2] == want["y"].tolist()
    assert {"Clip", "Cast", "IsNaN", "Where"} <= set(_ops_of(proto))


def test_cast_int32_to_float32_is_one_cast_and_same_dtype_is_identity(onnx) -> None:
    i = np.array([2**31 - 1, -(2**31), 16777217, 16777219, -16777217, 2**31 - 65], dtype=np.int32)
    proto, want, got = _convert_and_run_11(_one_node("Cast", [("x", [6], "int32")], ([6], "float32"),
                                                     {"to": "float32"}), {"x": i})
    assert _ops_of(proto) == ["Cast"] and _same(got["y"], want["y"])
    assert got["y"].tolist() == [2.0**31, -(2.0**31), 16777216.0, 16777220.0, -16777216.0, 2147483520.0]
    for dtype, x in (("int32", i), ("float32", np.array([np.nan, -0.0], dtype=F32))):
        proto, want, got = _convert_and_run_11(_one_node("Cast", [("x", [len(x)], dtype)], ([len(x)], dtype),
                                                         {"to": dtype}), {"x": x})
        assert _ops_of(proto) == ["Identity"] and _same(got["y"], want["y"])


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_argmax_argmin_keep_the_first_nan_and_the_first_tie(onnx, dtype: str) -> None:
    np_t = F32 if dtype == "float32" else np.int32
    rows = [[1, np.nan, 3, np.nan], [np.nan, 5, 1, 2], [1, 7, np.nan, 7], [-0.0, 0.0, -0.0, 0.0], [2, 2, 1, 1]]
    x = np.array(rows, dtype=F32) if dtype == "float32" else np.array([[1, 3, 3, 0], [5, 5, -1, -1]], dtype=np_t)
    for op in ("ArgMax", "ArgMin"):
        for keepdims in (False, True):
            out = [x.shape[0], 1] if keepdims else [x.shape[0]]
            doc = _one_node(op, [("x", list(x.shape), dtype)], (out, "int32"), {"axis": 1, "keepdims": keepdims})
            proto, want, got = _convert_and_run_11(doc, {"x": x})
            assert _same(got["y"], want["y"]), (op, keepdims, got["y"], want["y"])
            arg = next(n for n in proto.graph.node if n.op_type == op)
            assert _attrs_of(onnx, arg) == {"axis": 1, "keepdims": int(keepdims), "select_last_index": 0}
            assert _ops_of(proto)[-1] == "Cast"  # ONNX's int64 index as int32
            assert ("IsNaN" in _ops_of(proto)) == (dtype == "float32")  # the NaN rule only where NaN exists
    if dtype == "float32":
        assert _same(got["y"], np.array([[1], [0], [2], [0], [2]], dtype=np.int32))  # ArgMin, keepdims


def test_reducemin_reduceprod_use_the_axes_attribute(onnx) -> None:
    ops = [op for op, d in OPS.items() if d.family == "reduce" and d.since == "1.1"]
    doc = model_doc([{"op": op, "inputs": ["x"], "outputs": [op], "attrs": {"axes": [0, -1], "keepdims": k}}
                     for op, k in zip(ops, (True, False), strict=True)],
                    [("x", [2, 3, 2], "float32")], [(ops[0], [1, 3, 1], "float32"), (ops[1], [3], "float32")])
    x = (np.arange(12, dtype=F32).reshape(2, 3, 2) - 5) / 4
    proto, want, got = _convert_and_run_11(doc, {"x": x})
    for node in proto.graph.node:
        assert len(node.input) == 1 and _attrs_of(onnx, node)["axes"] == [0, 2]  # resolved, before opset 18's input
    for k in want:
        assert _same(got[k], want[k]), k


def test_logsoftmax_keeps_its_axis(onnx) -> None:
    doc = _one_node("LogSoftmax", [("x", [3, 2], "float32")], ([3, 2], "float32"), {"axis": 0})
    proto, want, got = _convert_and_run_11(doc, {"x": np.array([[0, 1], [2, 3], [4, -np.inf]], dtype=F32)})
    assert _ops_of(proto) == ["LogSoftmax"] and _attrs_of(onnx, proto.graph.node[0]) == {"axis": 0}
    assert np.allclose(got["y"], want["y"], rtol=1e-6, atol=0)


def test_concat_of_int32_inputs_along_a_negative_axis(onnx) -> None:
    doc = model_doc([{"op": "Concat", "inputs": ["a", "b", "a"], "outputs": ["y"], "attrs": {"axis": -1}}],
                    [("a", ["n", 1], "int32"), ("b", ["n", 2], "int32")], [("y", ["n", 4], "int32")])
    a, b = np.array([[1], [-(2**31)]], dtype=np.int32), np.array([[2, 3], [4, 2**31 - 1]], dtype=np.int32)
    proto, want, got = _convert_and_run_11(doc, {"a": a, "b": b})
    assert _ops_of(proto) == ["Concat"] and _attrs_of(onnx, proto.graph.node[0]) == {"axis": 1}  # resolved
    assert _same(got["y"], want["y"])


def test_slice_operands_are_int64_initializers_and_onnx_clamps_as_python(onnx) -> None:
    # ONNX's clamping (starts to [0, d] / [0, d-1], ends to [0, d] / [-1, d-1] by the sign of the step, after
    # adding d to negative values) equals Python's slice on every start/end in [-9, 9] of an axis of 6, steps
    # +-1..3; integers beyond int64 are clamped by the converter and still select as Python does.
    x = np.arange(6, dtype=F32) * F32(1.5) - F32(2.0)
    combos = [(s, e, st) for st in (-3, -2, -1, 1, 2, 3) for s in range(-9, 10) for e in range(-9, 10)]
    combos += [(-(10**20), 10**20, 1), (10**20, -(10**20), -1), (2**63, -(2**63) - 1, -2), (-(2**70), 3, 2)]
    combos = [c for c in combos if len(range(6)[slice(*c)])]  # an empty result is E_SHAPE in the format
    for start in range(0, len(combos), 250):
        chunk = combos[start:start + 250]
        names = [f"y{i}" for i in range(len(chunk))]
        doc = model_doc([{"op": "Slice", "inputs": ["x"], "outputs": [n],
                          "attrs": {"starts": [s], "ends": [e], "steps": [st]}} for n, (s, e, st) in zip(names, chunk,
                                                                                                          strict=True)],
                        [("x", [6], "float32")],
                        [(n, [len(range(6)[slice(*c)])], "float32") for n, c in zip(names, chunk, strict=True)])
        proto, want, got = _convert_and_run_11(doc, {"x": x})
        for n, c in zip(names, chunk, strict=True):
            assert _same(got[n], x[slice(*c)]) and _same(want[n], x[slice(*c)]), (c, got[n], want[n])
    node = proto.graph.node[0]
    inits = {i.name: i for i in proto.graph.initializer}
    assert len(node.input) == 5 and all(inits[n].data_type == onnx.TensorProto.INT64 for n in node.input[1:])


def test_slice_of_several_axes_with_defaults(onnx) -> None:
    doc = _one_node("Slice", [("x", [4, 5, 3], "int32")], ([2, 2, 3], "int32"), {"starts": [-1, 1], "ends": [0, 4],
                                                                                 "axes": [0, -2], "steps": [-2, 2]})
    x = np.arange(60, dtype=np.int32).reshape(4, 5, 3)
    proto, want, got = _convert_and_run_11(doc, {"x": x})
    assert _same(got["y"], x[-1:0:-2, 1:4:2, :]) and _same(want["y"], got["y"])


def test_gather_negative_and_rank_0_indices_and_onnxruntime_rejects_out_of_range(onnx) -> None:
    doc = model_doc([{"op": "Gather", "inputs": ["x", "i"], "outputs": ["y"], "attrs": {"axis": -1}},
                     {"op": "Gather", "inputs": ["x", "k"], "outputs": ["z"]}],
                    [("x", [2, 3], "float32"), ("i", [2, 2], "int32"), ("k", [], "int32")],
                    [("y", [2, 2, 2], "float32"), ("z", [3], "float32")])
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=F32)
    inputs = {"x": x, "i": np.array([[-3, 2], [0, -1]], dtype=np.int32), "k": np.array(-2, dtype=np.int32)}
    proto, want, got = _convert_and_run_11(doc, inputs)
    assert _ops_of(proto) == ["Gather", "Gather"] and [_attrs_of(onnx, n) for n in proto.graph.node] == [
        {"axis": 1}, {"axis": 0}]  # resolved against the rank
    for k in want:
        assert _same(got[k], want[k]), k
    # Out of [-d, d-1]: E_INPUT in the format; ONNX leaves it undefined, onnxruntime fails the run.
    bad = {**inputs, "i": np.array([[0, 3], [0, 0]], dtype=np.int32)}
    with pytest.raises(ModelError) as err:
        exporter.load(doc).run(bad)
    assert err.value.code == "E_INPUT"
    ort = require("onnxruntime")
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.InvalidArgument, match="out of data bounds"):
        run_onnx(proto, bad)


def test_a_model_with_every_1_1_op_passes_the_checker_and_runs(onnx) -> None:
    """One graph using each operator added in 1.1 (the registry's rows with since 1.1): checker, onnxruntime,
    the same results as the reference (exact ops bit for bit, LogSoftmax close)."""
    new = {op for op, d in OPS.items() if d.since == "1.1"}
    nodes = [
        {"op": "Greater", "inputs": ["x", "zero"], "outputs": ["gt"]},
        {"op": "GreaterOrEqual", "inputs": ["x", "zero"], "outputs": ["ge"]},
        {"op": "Less", "inputs": ["x", "zero"], "outputs": ["lt"]},
        {"op": "LessOrEqual", "inputs": ["x", "zero"], "outputs": ["le"]},
        {"op": "Equal", "inputs": ["gt", "ge"], "outputs": ["eq"]},
        {"op": "NotEqual", "inputs": ["lt", "le"], "outputs": ["ne"]},
        {"op": "And", "inputs": ["eq", "ne"], "outputs": ["both"]},
        {"op": "Or", "inputs": ["both", "gt"], "outputs": ["either"]},
        {"op": "Not", "inputs": ["either"], "outputs": ["neither"]},
        {"op": "Where", "inputs": ["neither", "x", "zero"], "outputs": ["w"]},
        {"op": "Cast", "inputs": ["w"], "outputs": ["wi"], "attrs": {"to": "int32"}},
        {"op": "Gather", "inputs": ["x", "pick"], "outputs": ["g"], "attrs": {"axis": 1}},
        {"op": "Concat", "inputs": ["g", "x"], "outputs": ["c"], "attrs": {"axis": 1}},
        {"op": "Slice", "inputs": ["c"], "outputs": ["s"], "attrs": {"starts": [-1], "ends": [0], "axes": [1],
                                                                     "steps": [-2]}},
        {"op": "ArgMax", "inputs": ["s"], "outputs": ["amax"], "attrs": {"axis": 1}},
        {"op": "ArgMin", "inputs": ["wi"], "outputs": ["amin"], "attrs": {"axis": 1, "keepdims": True}},
        {"op": "ReduceMin", "inputs": ["s"], "outputs": ["rmin"], "attrs": {"axes": [1]}},
        {"op": "ReduceProd", "inputs": ["s"], "outputs": ["rprod"], "attrs": {"axes": [0]}},
        {"op": "LogSoftmax", "inputs": ["c"], "outputs": ["lsm"]},
        {"op": "Pow", "inputs": ["c", "half"], "outputs": ["pw"]},
    ]
    assert {n["op"] for n in nodes} == new, "a 1.1 op is missing from this graph"
    doc = model_doc(nodes, [("x", ["b", 4], "float32")],
                    [("amax", ["b"], "int32"), ("amin", ["b", 1], "int32"), ("rmin", ["b"], "float32"),
                     ("rprod", [3], "float32"), ("lsm", ["b", 7], "float32"), ("pw", ["b", 7], "float32")],
                    [tensor_doc("zero", np.zeros((), dtype=F32)), tensor_doc("pick", np.array([3, -4, 0], np.int32)),
                     tensor_doc("half", np.array([0.5, 2, -1, 3, 1.5, -2, 0], dtype=F32))])
    x = np.array([[1.5, -2, 0, 3], [-0.0, 7, -1, 2.25], [4, 4, -3, 0]], dtype=F32)
    proto, want, got = _convert_and_run_11(doc, {"x": x})
    onnx.checker.check_model(proto, full_check=True)
    for k in ("amax", "amin", "rmin", "rprod"):
        assert _same(got[k], want[k]), k
    assert np.allclose(got["lsm"], want["lsm"], rtol=1e-6, atol=0)
    assert np.array_equal(np.isnan(got["pw"]), np.isnan(want["pw"]))
    assert np.allclose(got["pw"], want["pw"], rtol=2.0**-23, atol=0, equal_nan=True)


_RANK_0_AND_SYMBOLS = {
    "argmax_1d_nan": ({"op": "ArgMax", "attrs": {"axis": 0}}, [("x", [4], "float32")], ([], "int32"),
                      {"x": np.array([1, np.nan, 3, np.nan], dtype=F32)}),
    "argmin_1d_int32_tie": ({"op": "ArgMin", "attrs": {"axis": -1}}, [("x", [4], "int32")], ([], "int32"),
                            {"x": np.array([3, -1, -1, 2], dtype=np.int32)}),
    "reducemin_rank0": ({"op": "ReduceMin"}, [("x", [], "float32")], ([], "float32"),
                        {"x": np.array(-0.0, dtype=F32)}),
    "reduceprod_all_axes_symbolic": ({"op": "ReduceProd"}, [("x", ["b", 3], "float32")], ([], "float32"),
                                     {"x": np.array([[1, 2, 3], [-1, 0.5, 2]], dtype=F32)}),
    "slice_negative_step_symbolic_batch": (
        {"op": "Slice", "attrs": {"starts": [-1], "ends": [-6], "axes": [1], "steps": [-2]}},
        [("x", ["b", 5], "int32")], (["b", 3], "int32"), {"x": np.arange(10, dtype=np.int32).reshape(2, 5)}),
    "where_rank0": ({"op": "Where"}, [("c", [], "int32"), ("a", [], "float32"), ("b", [], "float32")], ([], "float32"),
                    {"c": np.array(3, dtype=np.int32), "a": np.array(1.5, dtype=F32), "b": np.array(-2, dtype=F32)}),
    "gather_int32_rank0_index": ({"op": "Gather"}, [("x", ["n"], "int32"), ("i", [], "int32")], ([], "int32"),
                                 {"x": np.array([7, -(2**31), 9], dtype=np.int32), "i": np.array(-2, dtype=np.int32)}),
}


@pytest.mark.parametrize("name", list(_RANK_0_AND_SYMBOLS))
def test_rank_0_results_and_symbolic_dims_convert_and_run(onnx, name: str) -> None:
    node, inputs, out, feed = _RANK_0_AND_SYMBOLS[name]
    proto, want, got = _convert_and_run_11(_one_node(node["op"], inputs, out, node.get("attrs")), feed)
    onnx.checker.check_model(proto, full_check=True)
    (declared,) = proto.graph.output
    assert [d.dim_param or d.dim_value for d in declared.type.tensor_type.shape.dim] == out[0]
    assert _same(got["y"], want["y"]), (got["y"], want["y"])


def test_gather_with_constant_out_of_range_indices_converts_and_fails_at_run_time(onnx) -> None:
    """An initializer index out of range is still E_INPUT at run time (one rule): the model converts and passes
    the checker; onnxruntime gives up folding it at load and fails the run, as the reference does."""
    doc = model_doc([{"op": "Gather", "inputs": ["d", "i"], "outputs": ["g"]},
                     {"op": "Add", "inputs": ["g", "x"], "outputs": ["y"]}],
                    [("x", [2], "float32")], [("y", [2], "float32")],
                    [tensor_doc("d", np.array([1, 2, 3], dtype=F32)),
                     tensor_doc("i", np.array([0, 5], dtype=np.int32))])
    model = exporter.load(doc)
    proto = onnx_export.to_onnx(model)  # checked with full_check inside
    x = {"x": np.zeros(2, dtype=F32)}
    with pytest.raises(ModelError) as err:
        model.run(x)
    assert err.value.code == "E_INPUT"
    ort = require("onnxruntime")
    ort.set_default_logger_severity(4)  # its constant-folding warning is expected here
    try:
        with pytest.raises(ort.capi.onnxruntime_pybind11_state.InvalidArgument, match="out of data bounds"):
            run_onnx(proto, x)
    finally:
        ort.set_default_logger_severity(2)


def test_concat_of_64_inputs(onnx) -> None:
    """The largest Concat the format allows (64 operands; the same value may repeat)."""
    names = [f"x{i % 8}" for i in range(64)]
    doc = model_doc([{"op": "Concat", "inputs": names, "outputs": ["y"], "attrs": {"axis": 0}}],
                    [(f"x{i}", [1, 2], "int32") for i in range(8)], [("y", [64, 2], "int32")])
    feed = {f"x{i}": np.array([[i, -i - 1]], dtype=np.int32) for i in range(8)}
    proto, want, got = _convert_and_run_11(doc, feed)
    assert _ops_of(proto) == ["Concat"] and list(proto.graph.node[0].input) == names
    assert _same(got["y"], want["y"]) and got["y"][9].tolist() == [1, -2]
