"""The checker: schemas are valid 2020-12, a valid example passes, each error code for a broken file."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from tessera import exporter
from tessera.exporter.check import SCHEMA_DIR, schema_validator
from tessera.exporter.errors import FORMAT_VERSION, ModelError
from tessera.exporter.opset import OPS
from tessera.exporter.tensors import crc32_of, encode_b64
from tests.exporter.exporter_testlib import mlp_doc, mutated, unary_doc
from tests.support import F32, doc_for


def code_of(doc_or_bytes) -> str:
    with pytest.raises(ModelError) as info:
        exporter.load(doc_or_bytes)
    return info.value.code


@pytest.mark.parametrize("name", ["model.schema.json", "tensors.schema.json"])
def test_schemas_are_valid_2020_12(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / name).read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema") and "/v1/" in schema["$id"]


def test_valid_example_validates_and_runs() -> None:
    doc = mlp_doc()
    assert not list(schema_validator().iter_errors(doc))
    model = exporter.load(doc)
    out = model.run({"x": np.zeros((2, 3), F32)})
    assert out["y"].shape == (2, 2) and out["y"].dtype == F32
    assert model.summary()["parameters"] == 8


def test_integral_floats_are_integers() -> None:
    doc = mutated(mlp_doc(), lambda d: d["graph"]["inputs"][0].update(shape=["batch", 3.0]))
    exporter.load(doc)


def _set(path: list, value):
    def fn(d):
        target = d
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value
    return fn


def _node(i: int, **kw):
    return lambda d: d["graph"]["nodes"][i].update(**kw)


BROKEN = {
    "E_SCHEMA": [
        _set(["format"], "onnx"),
        _set(["format_version"], "1.00"),
        _set(["extra"], 1),
        _set(["graph", "inputs", 0, "dtype"], "float64"),
        _set(["graph", "inputs", 0, "name"], "9x"),
        _node(1, inputs=["t0"]),  # Add with one input
        _node(0, attrs={"transpose_b": 1}),
        _set(["graph", "initializers", 0, "data_b64"], ""),  # both data and data_b64
        _set(["graph", "initializers", 0, "data"], [1, 2, 3, 4, 5, True]),
        lambda d: d["graph"]["nodes"].append({"op": "Clip", "inputs": ["y"], "outputs": ["z"],
                                              "attrs": {"min": 2, "max": 1}}),
        lambda d: d["graph"]["nodes"].append({"op": "Clip", "inputs": ["y"], "outputs": ["z"],
                                              "attrs": {"max": 1e39}}),
        lambda d: d["graph"]["nodes"].append({"op": "Reshape", "inputs": ["y"], "outputs": ["z"],
                                              "attrs": {"shape": [-1, -1]}}),
        lambda d: d["graph"]["nodes"].append({"op": "ReduceSum", "inputs": ["y"], "outputs": ["z"],
                                              "attrs": {"keepdims": 1}}),
    ],
    "E_VERSION": [_set(["format_version"], "2.0"), _set(["format_version"], "0.9")],
    "E_LIMIT": [
        _set(["graph", "inputs", 0, "shape"], ["batch", 2**62]),
        _set(["graph", "inputs", 0, "shape"], [2**13, 2**13, 2]),  # element count overflow
        _set(["graph", "inputs", 0, "shape"], [1] * 9),
        _set(["graph", "inputs", 0, "name"], "x" * 257),
    ],
    "E_UNKNOWN_OP": [_node(2, op="Gelu")],
    "E_DATA": [
        _set(["graph", "initializers", 1, "data"], [1.0]),
        _set(["graph", "initializers", 1, "data"], [1e39, 0]),
        _set(["graph", "initializers", 1, "checksum"], "crc32:00000000"),
    ],
    "E_GRAPH": [
        _node(1, inputs=["t9", "b"]),
        _node(0, outputs=["b"]),
        _set(["graph", "outputs", 0, "name"], "nope"),
        lambda d: d["graph"]["nodes"].reverse(),  # use before definition (a cycle is one too)
    ],
    "E_SHAPE": [
        _set(["graph", "outputs", 0, "shape"], ["batch", 3]),
        _set(["graph", "outputs", 0, "shape"], ["n", 2]),
        _node(0, attrs={}),  # K mismatch: 3 vs 2
        _set(["graph", "initializers", 1, "shape"], [3]),
    ],
}


@pytest.mark.parametrize("code,i", [(c, i) for c, fns in BROKEN.items() for i in range(len(fns))])
def test_broken_documents_get_the_right_code(code: str, i: int) -> None:
    doc = mutated(mlp_doc(), BROKEN[code][i])
    if code == "E_SHAPE" and i == 3:
        doc["graph"]["initializers"][1]["data"] = [0.5, -0.5, 1]
    assert code_of(doc) == code


def test_messages_name_the_node_or_tensor() -> None:
    with pytest.raises(ModelError, match="node 'enc'"):
        exporter.load(mutated(mlp_doc(), _node(0, attrs={})))
    with pytest.raises(ModelError, match=r"node #2 \(Gelu\)"):
        exporter.load(mutated(mlp_doc(), _node(2, op="Gelu")))
    with pytest.raises(ModelError, match="initializer 'b'"):
        exporter.load(mutated(mlp_doc(), _set(["graph", "initializers", 1, "data"], [1.0])))


def test_check_order_first_failure_wins() -> None:
    # unknown op (item 6) and a bad checksum (item 7): E_UNKNOWN_OP; add a limit violation: E_LIMIT
    doc = mutated(mlp_doc(), _node(2, op="Gelu"))
    doc["graph"]["initializers"][1]["checksum"] = "crc32:00000000"
    assert code_of(doc) == "E_UNKNOWN_OP"
    doc["graph"]["inputs"][0]["shape"] = [1] * 9
    assert code_of(doc) == "E_LIMIT"
    doc["format_version"] = "3.1"
    assert code_of(doc) == "E_VERSION"


def test_base64_and_checksum() -> None:
    w = np.arange(6, dtype=F32).reshape(2, 3) - F32(2.5)
    doc = mutated(mlp_doc(), lambda d: d["graph"]["initializers"][0].update(
        data=None, checksum=crc32_of(w)))
    del doc["graph"]["initializers"][0]["data"]
    doc["graph"]["initializers"][0]["data_b64"] = encode_b64(w)
    assert np.array_equal(exporter.load(doc).initializers["W"], w)
    for bad in (encode_b64(w)[:-4], "AA=A" + encode_b64(w)[4:], "A" * 5, "!!!!", encode_b64(w)[:-2]):
        doc["graph"]["initializers"][0]["data_b64"] = bad
        assert code_of(doc) in ("E_DATA", "E_SCHEMA")
    doc["graph"]["initializers"][0]["data_b64"] = encode_b64(np.array([1, 2, 3, 4, 5, np.inf], F32))
    assert code_of(doc) == "E_DATA"


# ---------------------------------------------------------------- versioning (SPEC §2)


def test_newer_minor_with_known_ops_runs() -> None:
    doc = mutated(mlp_doc(), _set(["format_version"], "1.7"))
    assert exporter.load(doc).run({"x": np.ones((1, 3), F32)})["y"].shape == (1, 2)


def test_newer_minor_with_unknown_op_names_both_versions() -> None:
    doc = mutated(mlp_doc(), _set(["format_version"], "1.7"))
    doc["graph"]["nodes"][2]["op"] = "Gelu"
    with pytest.raises(ModelError) as info:
        exporter.load(doc)
    assert info.value.code == "E_VERSION"
    assert "1.7" in info.value.message and FORMAT_VERSION in info.value.message and "Gelu" in info.value.message


def test_newer_minor_with_new_field_is_version_error() -> None:
    doc = mutated(mlp_doc(), _node(2, attrs={"approximate": True}))
    assert code_of(doc) == "E_SCHEMA"
    doc["format_version"] = "1.3"
    with pytest.raises(ModelError, match=r"1\.3.*" + re.escape(FORMAT_VERSION)) as info:
        exporter.load(doc)
    assert info.value.code == "E_VERSION"


def test_same_minor_unknown_op_and_other_major() -> None:
    assert code_of(mutated(mlp_doc(), _node(2, op="Gelu"))) == "E_UNKNOWN_OP"
    with pytest.raises(ModelError, match=r"2\.0.*" + re.escape(FORMAT_VERSION)) as info:
        exporter.load(mutated(mlp_doc(), _set(["format_version"], "2.0")))
    assert info.value.code == "E_VERSION"


# ---------------------------------------------------------------- shapes and symbols


def test_symbol_broadcasts_only_with_itself_or_one() -> None:
    ok = doc_for([{"op": "Add", "inputs": ["a", "b"], "outputs": ["y"]}], [("a", ["n", 3]), ("b", [1, 3])],
                 [("y", ["n", 3])])
    exporter.load(ok)
    bad = mutated(ok, _set(["graph", "inputs", 1, "shape"], ["m", 3]))
    assert code_of(bad) == "E_SHAPE"
    bad = mutated(ok, _set(["graph", "inputs", 1, "shape"], [4, 3]))
    assert code_of(bad) == "E_SHAPE"


@pytest.mark.parametrize("attrs,shape", [({"axes": [2]}, [3]), ({"axes": [0, -2]}, [3]), ({"axis": 2}, None),
                                         ({"perm": [0, 2]}, None), ({"perm": [1]}, None)])
def test_axes_and_perms_that_do_not_fit_are_shape_errors(attrs: dict, shape) -> None:
    (name,) = attrs
    op = next(d.name for d in OPS.values() if d.attr(name) is not None)  # the first op with this attribute
    doc = unary_doc(op, [2, 3], attrs)
    assert code_of(doc) == "E_SHAPE"


def test_reshape_rules() -> None:
    def reshape(target, in_shape, out_shape):
        return doc_for([{"op": "Reshape", "inputs": ["x"], "outputs": ["y"], "attrs": {"shape": target}}],
                       [("x", in_shape)], [("y", out_shape)])

    exporter.load(reshape(["n", -1], ["n", 2, 3], ["n", 6]))
    exporter.load(reshape([3, "n", 2], ["n", 6], [3, "n", 2]))
    assert code_of(reshape([-1], ["n", 6], [6])) == "E_SHAPE"  # drops the symbol
    assert code_of(reshape(["n", 4], ["n", 6], ["n", 4])) == "E_SHAPE"
    assert code_of(reshape(["n", "m"], ["n", 6], ["n", "m"])) == "E_SHAPE"
    assert code_of(reshape(["n", -1, 4], ["n", 6], ["n", 1, 4])) == "E_SHAPE"  # 6 % 4


# ---------------------------------------------------------------- run-time inputs (items 10-11)


def test_run_time_input_errors() -> None:
    model = exporter.load(mlp_doc())
    for inputs in ({}, {"x": np.ones((1, 3), F32), "z": np.ones(1, F32)}, {"x": np.ones(3, F32)},
                   {"x": np.ones((1, 4), F32)}, {"x": np.ones((0, 3), F32)}):
        with pytest.raises(ModelError) as info:
            model.run(inputs)
        assert info.value.code == "E_INPUT"
    two = doc_for([{"op": "Add", "inputs": ["a", "b"], "outputs": ["y"]}], [("a", ["n"]), ("b", ["n"])],
                  [("y", ["n"])])
    with pytest.raises(ModelError) as info:
        exporter.load(two).run({"a": np.ones(2, F32), "b": np.ones(3, F32)})
    assert info.value.code == "E_INPUT"


def test_run_time_limit() -> None:
    doc = doc_for([{"op": "Mul", "inputs": ["a", "b"], "outputs": ["y"]}], [("a", ["n", 1]), ("b", [1, "m"])],
                  [("y", ["n", "m"])])
    model = exporter.load(doc)
    with pytest.raises(ModelError) as info:  # the outer product would hold 2^28 elements
        model.run({"a": np.ones((2**14, 1), F32), "b": np.ones((1, 2**14), F32)})
    assert info.value.code == "E_LIMIT"
