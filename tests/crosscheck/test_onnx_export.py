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

import exporter
import tessera_cli
from exporter import cli_export_onnx, onnx_export
from exporter.errors import ModelError
from exporter.opset import OPS
from tests.crosscheck.crosscheck_lib import require, run_onnx
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
    assert tessera_cli.main(["export", "--onnx", str(model), "-o", str(out)]) == 1
    assert "pip install onnx" in capsys.readouterr().err and not out.exists()


def test_cli_writes_a_file_that_onnxruntime_runs(tmp_path: Path, capsys) -> None:
    case = CASES_DIR / "model_mlp_softmax"
    out = tmp_path / "mlp.onnx"
    assert tessera_cli.main(["export", "--onnx", str(case / "model.json"), "-o", str(out)]) == 0
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
    run = subprocess.run([sys.executable, "-m", "tessera_cli", "export", "--onnx", str(model)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert cli_export_onnx.default_output(str(model)) == tmp_path / "neg.onnx" and (tmp_path / "neg.onnx").exists()
    assert run.stdout.startswith(f"wrote {tmp_path / 'neg.onnx'}: ONNX opset 17, 1 nodes (Neg x1)")


def test_cli_rejects_a_bad_model_with_its_code(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc_for([{"op": "Add", "inputs": ["x", "x"], "outputs": ["y"]}],
                                      [("x", [2])], [("y", [3])])))
    out = tmp_path / "bad.onnx"
    assert tessera_cli.main(["export", "--onnx", str(bad), "-o", str(out)]) == 1
    assert "E_SHAPE" in capsys.readouterr().err and not out.exists()


def test_export_help_lists_the_onnx_form() -> None:
    run = subprocess.run([sys.executable, "-m", "tessera_cli", "export", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert "tessera export --onnx MODEL.json -o OUT.onnx" in run.stdout
