"""Format 1.1 in the reference: int32 tensors in files, the dtype checks, versioning, and every 1.1
kernel against a scalar transcription of its SPEC §6/§7 definition."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest

from tessera import exporter
from tessera.exporter import reference, strict_math
from tessera.exporter.cli_run import run_files
from tessera.exporter.errors import ModelError
from tessera.exporter.opset import OPS, covering_version, family
from tessera.exporter.tensors import crc32_of, numbers_to_int32, read_tensors, tensor_to_json, write_outputs
from tests.support import F32, equal_bits

I32 = np.int32
RNG = np.random.default_rng(11)


def doc(nodes: list[dict], inputs: list[tuple], outputs: list[tuple], inits: list[dict] | None = None,
        version: str = "1.1") -> dict:
    """A model; inputs and outputs as (name, shape, dtype)."""
    return {"format": "tessera", "format_version": version, "producer": {"name": "t", "version": "0"},
            "graph": {"inputs": [{"name": n, "dtype": d, "shape": s} for n, s, d in inputs],
                      "outputs": [{"name": n, "dtype": d, "shape": s} for n, s, d in outputs],
                      "initializers": inits or [], "nodes": nodes}}


def node(op: str, inputs: list[str], out: str = "y", **attrs) -> dict:
    return {"name": "g", "op": op, "inputs": inputs, "outputs": [out], "attrs": attrs}


def int_init(name: str, values: list, shape: list | None = None, **extra) -> dict:
    return {"name": name, "dtype": "int32", "shape": shape or [len(values)], "data": values, **extra}


def code_of(document: dict, feeds: dict | None = None) -> str:
    with pytest.raises(ModelError) as info:
        model = exporter.load(document)
        model.run(feeds or {})
    return info.value.code


def random_floats(n: int) -> np.ndarray:
    """Every kind of float32: random bit patterns, plus the specials."""
    x = RNG.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(F32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2147483648.0, -2147483648.0,
                         2147483520.0, -2147483904.0, 0.5, -0.5, 1e-45], F32)
    return np.concatenate([x, specials])


# ---------------------------------------------------------------- int32 data in files (SPEC §3, §9)


def test_int32_numbers_must_be_integers_in_range() -> None:
    ok, bad = numbers_to_int32([0, -0.0, 2.0, 2147483647, -2147483648, 7e0])
    assert bad is None and ok.dtype == I32 and ok.tolist() == [0, 0, 2, 2147483647, -2147483648, 7]
    for value in (1.5, 2147483648, -2147483649, 1e10, math.inf, math.nan, "nan", True, None):
        assert numbers_to_int32([1, value])[1] == 1, value


def test_int32_initializer_decimal_base64_and_checksum_agree() -> None:
    values = np.array([-2147483648, -1, 0, 1, 2147483647], I32)
    raw = values.astype("<i4").tobytes()
    b64 = {"name": "k", "dtype": "int32", "shape": [5], "data_b64": base64.b64encode(raw).decode(),
           "checksum": crc32_of(values)}
    for init in (int_init("k", values.tolist(), checksum=crc32_of(values)), b64):
        d = doc([node("Reshape", ["k"], shape=[5])], [("x", [1], "float32")], [("y", [5], "int32")], [init])
        assert exporter.load(d).initializers["k"].tolist() == values.tolist()
    assert crc32_of(values) != crc32_of(values.astype(F32))  # the checksum covers the int32 bytes


@pytest.mark.parametrize("data", [[1, 2, 1.5], [1, 2, 1e10], [1, 2, 2147483648]])
def test_int32_initializer_non_integer_is_e_data(data: list) -> None:
    d = doc([node("Reshape", ["k"], shape=[3])], [("x", [1], "float32")], [("y", [3], "int32")],
            [int_init("k", data)])
    assert code_of(d) == "E_DATA"


def test_tensor_documents_carry_int32() -> None:
    arr = np.array([[-3, 0], [2147483647, -2147483648]], I32)
    text = tensor_to_json(arr)
    assert json.loads(text) == {"shape": [2, 2], "dtype": "int32", "data": [-3, 0, 2147483647, -2147483648]}
    assert "-3.0" not in text
    back = read_tensors({"outputs": {"y": json.loads(tensor_to_json(arr, b64=True))}})["y"]
    assert back.dtype == I32 and back.tolist() == arr.tolist()
    assert "dtype" not in json.loads(write_outputs({"y": np.zeros(1, F32)}))["outputs"]["y"]


def test_inputs_take_the_declared_dtype() -> None:
    declared = {"i": "int32", "x": "float32"}
    got = read_tensors({"inputs": {"i": {"shape": [2], "data": [1, -2]}, "x": {"shape": [1], "data": [3]}}},
                       dtypes=declared)
    assert got["i"].dtype == I32 and got["x"].dtype == F32
    bad = [{"i": {"shape": [1], "data": [1.5]}}, {"i": {"shape": [1], "data": ["nan"]}},
           {"i": {"shape": [1], "dtype": "float32", "data": [1]}}, {"x": {"shape": [1], "dtype": "int32", "data": [1]}},
           {"i": {"shape": [1], "dtype": "int64", "data": [1]}}]
    for tensors in bad:
        with pytest.raises(ModelError) as info:
            read_tensors({"inputs": tensors}, dtypes=declared)
        assert info.value.code == "E_INPUT", tensors


def test_run_api_checks_int32_inputs() -> None:
    d = doc([node("Not", ["i"])], [("i", [3], "int32")], [("y", [3], "int32")])
    model = exporter.load(d)
    assert model.run({"i": [0, 5, -1]})["y"].tolist() == [1, 0, 0]
    assert model.run({"i": np.array([0.0, 2.0, -0.0])})["y"].dtype == I32  # integral floats are fine
    for bad in ([0, 1.5, 2], [0, 2.0**31, 1], np.array([0, np.nan, 1])):
        assert code_of(d, {"i": bad}) == "E_INPUT"
    assert "input  i: int32 [3]" in model.summary_text()


# ---------------------------------------------------------------- dtype checks and versions (SPEC §2, §5)


def test_a_rejected_dtype_is_e_shape_naming_node_and_operand() -> None:
    d = doc([node("Add", ["x", "i"])], [("x", [2], "float32"), ("i", [2], "int32")], [("y", [2], "float32")])
    with pytest.raises(ModelError) as info:
        exporter.load(d)
    assert info.value.code == "E_SHAPE"
    assert "'g'" in info.value.message and "operand 1 is int32, expected float32" in info.value.message


@pytest.mark.parametrize("op, dtypes", [("Greater", ["float32", "int32"]), ("And", ["float32", "float32"]),
                                        ("Where", ["float32", "float32", "float32"]),
                                        ("Where", ["int32", "int32", "float32"]),
                                        ("Gather", ["float32", "float32"]), ("Concat", ["int32", "float32"]),
                                        ("Exp", ["int32"]), ("ReduceProd", ["int32"]), ("LogSoftmax", ["int32"])])
def test_operand_dtypes_the_op_rejects(op: str, dtypes: list[str]) -> None:
    names = [f"v{i}" for i in range(len(dtypes))]
    attrs = {"axis": 0} if OPS[op].attr("axis") is not None and OPS[op].attr("axis").required else {}
    d = doc([node(op, names, **attrs)], [(n, [2], t) for n, t in zip(names, dtypes, strict=True)],
            [("y", [2], "float32")])
    assert code_of(d) == "E_SHAPE"


def test_declared_output_dtype_must_match() -> None:
    d = doc([node("Greater", ["x", "x"])], [("x", [2], "float32")], [("y", [2], "float32")])
    assert code_of(d) == "E_SHAPE"


def test_a_1_0_stamp_using_1_1_things_is_e_version() -> None:
    gather = doc([node("Gather", ["x", "i"])], [("x", [3], "float32"), ("i", [2], "int32")],
                 [("y", [2], "float32")], version="1.0")
    assert code_of(gather) == "E_VERSION"  # the int32 input is found first (schema step)
    only_op = doc([node("LogSoftmax", ["x"])], [("x", [3], "float32")], [("y", [3], "float32")], version="1.0")
    with pytest.raises(ModelError) as info:
        exporter.load(only_op)
    assert info.value.code == "E_VERSION" and "needs format 1.1" in info.value.message
    assert "stamped 1.0" in info.value.message
    # A schema error outranks the dtype's E_VERSION (it is checked at the end of the schema step).
    broken = doc([node("Neg", ["x"])], [("x", [3], "int32")], [("y", [3], "int32")], version="1.0")
    broken["graph"]["extra"] = 1
    assert code_of(broken) == "E_SCHEMA"
    assert exporter.load({**only_op, "format_version": "1.1"}).version == "1.1"


def test_covering_version_counts_ops_and_dtypes() -> None:
    assert covering_version(["Add", "Relu"]) == "1.0"
    assert covering_version(["Add"], ["float32", "int32"]) == "1.1"
    assert covering_version(["Gather"]) == "1.1"


def test_data_movement_ops_take_int32() -> None:
    d = doc([node("Transpose", ["i"], "t"), node("Reshape", ["t"], shape=[6])], [("i", [2, 3], "int32")],
            [("y", [6], "int32")])
    d["graph"]["nodes"][0]["name"] = "t"
    got = exporter.load(d).run({"i": np.array([[1, 2, 3], [4, 5, -6]], I32)})["y"]
    assert got.dtype == I32 and got.tolist() == [1, 4, 2, 5, 3, -6]


# ---------------------------------------------------------------- kernels vs SPEC, one element at a time


def test_comparisons_are_ieee_and_integer_relations() -> None:
    rel = {"Greater": lambda a, b: a > b, "GreaterOrEqual": lambda a, b: a >= b, "Less": lambda a, b: a < b,
           "LessOrEqual": lambda a, b: a <= b, "Equal": lambda a, b: a == b, "NotEqual": lambda a, b: not a == b}
    assert sorted(rel) == sorted(d.name for d in family("compare"))
    fa, fb = random_floats(300), random_floats(300)[::-1]
    ia = np.array([-2**31, -1, 0, 1, 2**31 - 1, 5, 5], I32)
    ib = np.array([2**31 - 1, -1, -0, 2, -2**31, 5, 4], I32)
    for op, fn in rel.items():
        for a, b in ((fa, fb), (ia, ib), (np.array([np.nan, -0.0], F32), np.array([np.nan, 0.0], F32))):
            got = OPS[op].kernel([a, b], {})
            assert got.dtype == I32 and got.tolist() == [int(fn(x, y)) for x, y in zip(a.tolist(), b.tolist(),
                                                                                     strict=True)], op


def test_logic_treats_nonzero_as_true() -> None:
    a = np.array([0, 0, 3, -2**31], I32)
    b = np.array([0, -7, 0, 1], I32)
    assert OPS["And"].kernel([a, b], {}).tolist() == [0, 0, 0, 1]
    assert OPS["Or"].kernel([a, b], {}).tolist() == [0, 1, 1, 1]
    assert OPS["Not"].kernel([a], {}).tolist() == [1, 1, 0, 0]


def test_where_copies_bits_and_broadcasts_three_ways() -> None:
    nan_payload = np.array([0x7FC01234], np.uint32).view(F32)
    got = OPS["Where"].kernel([np.array([[1], [0]], I32), np.concatenate([nan_payload, [F32(-0.0)]]),
                               np.array(F32(2.0))], {})
    assert got.shape == (2, 2)
    assert got.view(np.uint32).tolist() == [[0x7FC01234, 0x80000000], [0x40000000, 0x40000000]]


def spec_cast_to_int(x: float) -> int:
    """SPEC §7.8, float32 -> int32, on a Python float holding the float32 value."""
    if math.isnan(x):
        return 0
    if x >= 2147483648.0:
        return 2147483647
    if x < -2147483648.0:
        return -2147483648
    return math.trunc(x)


def test_cast_float_to_int32_saturates_and_truncates() -> None:
    x = random_floats(20000)
    got = reference.cast(x, "int32")
    assert got.dtype == I32 and got.tolist() == [spec_cast_to_int(v) for v in x.tolist()]


def test_cast_int32_to_float32_rounds_to_nearest_even() -> None:
    i = np.concatenate([RNG.integers(-2**31, 2**31, 5000).astype(I32),
                        np.array([16777217, 16777219, -16777217, 2**31 - 1, -2**31, 33554435], I32)])
    got = reference.cast(i, "float32")
    # float() of a Python int is correctly rounded to nearest even in binary64; every int32 is exact
    # in binary64, so the float32 rounding is the only one.
    want = np.array([float(v) for v in i.tolist()], np.float64).astype(F32)
    assert got.dtype == F32 and np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert reference.cast(np.array([16777217], I32), "float32")[0] == 16777216.0


def spec_arg(values: list[float], largest: bool) -> int:
    """SPEC §7.9, the scan."""
    best = 0
    for i in range(1, len(values)):
        if math.isnan(values[best]):
            continue
        if math.isnan(values[i]) or (values[i] > values[best] if largest else values[i] < values[best]):
            best = i
    return best


@pytest.mark.parametrize("largest", [True, False])
def test_argmax_argmin_scan_rule(largest: bool) -> None:
    pool = np.array([np.nan, -0.0, 0.0, 1.0, 1.0, -np.inf, np.inf, -1.0], F32)
    x = pool[RNG.integers(0, pool.size, (500, 6))]
    got = reference.arg_index(x, 1, False, largest)
    assert got.dtype == I32 and got.tolist() == [spec_arg(row, largest) for row in x.tolist()]
    ints = RNG.integers(-3, 3, (200, 5)).astype(I32)
    want = [spec_arg([float(v) for v in row], largest) for row in ints.tolist()]
    assert reference.arg_index(ints, 1, False, largest).tolist() == want
    assert reference.arg_index(x.T, 0, True, largest).shape == (1, 500)


def test_gather_picks_rows_and_rejects_out_of_range_at_run_time() -> None:
    data = np.arange(15, dtype=F32).reshape(5, 3)
    assert reference.gather(data, np.array([4, -5, -1], I32), 0)[:, 0].tolist() == [12.0, 0.0, 12.0]
    assert reference.gather(data, np.array(1, I32), 1).tolist() == [1.0, 4.0, 7.0, 10.0, 13.0]
    d = doc([node("Gather", ["x", "i"])], [("x", [5, 3], "float32"), ("i", [2], "int32")], [("y", [2, 3], "float32")])
    model = exporter.load(d)
    for bad in (5, -6, 2**31 - 1, -2**31):
        with pytest.raises(ModelError) as info:
            model.run({"x": data, "i": np.array([0, bad], I32)})
        assert info.value.code == "E_INPUT"
        assert "'g'" in info.value.message and str(bad) in info.value.message and "[-5, 4]" in info.value.message


def test_gather_index_error_prints_no_partial_output(tmp_path) -> None:
    d = doc([node("Gather", ["x", "k"], "t"), node("Neg", ["x"], "z")], [("x", [3], "float32")],
            [("z", [3], "float32"), ("t", [1], "float32")], [int_init("k", [3])])
    (tmp_path / "m.json").write_text(json.dumps(d))
    (tmp_path / "i.json").write_text('{"inputs": {"x": {"shape": [3], "data": [1, 2, 3]}}}')
    status, text = run_files(str(tmp_path / "m.json"), str(tmp_path / "i.json"))
    assert status == 1 and json.loads(text)["error"]["code"] == "E_INPUT" and "outputs" not in text


def test_slice_is_python_slicing() -> None:
    x = np.arange(7, dtype=F32)
    picks = [(s, e, st) for s in (-9, -7, -3, 0, 2, 6, 7, 10) for e in (-9, -1, 0, 3, 7, 10**12)
             for st in (-3, -1, 1, 2, 10**9)]
    checked = 0
    for s, e, st in picks:
        want = list(range(7))[s:e:st]
        d = doc([node("Slice", ["x"], starts=[s], ends=[e], steps=[st])], [("x", [7], "float32")],
                [("y", [max(len(want), 1)], "float32")])
        if not want:
            assert code_of(d) == "E_SHAPE"  # no empty tensors
            continue
        assert exporter.load(d).run({"x": x})["y"].tolist() == [float(v) for v in want], (s, e, st)
        checked += 1
    assert checked > 80


def test_concat_axis_and_symbols() -> None:
    d = doc([node("Concat", ["a", "b"], axis=1)], [("a", ["n", 1], "int32"), ("b", ["n", 2], "int32")],
            [("y", ["n", 3], "int32")])
    got = exporter.load(d).run({"a": np.array([[1], [2]], I32), "b": np.array([[3, 4], [5, 6]], I32)})["y"]
    assert got.tolist() == [[1, 3, 4], [2, 5, 6]]
    on_axis = doc([node("Concat", ["a", "b"], axis=0)], [("a", ["n", 1], "float32"), ("b", [2, 1], "float32")],
                  [("y", [3, 1], "float32")])
    assert code_of(on_axis) == "E_SHAPE"


def test_reduce_min_and_prod_follow_the_visiting_order() -> None:
    x = np.array([[1e30, 1e30, 1e-30, 1e-30], [-0.0, 0.0, 3.0, np.nan], [0.0, -0.0, 5.0, 1.0]], F32)
    prod = reference.reduce(x, {"axes": (1,), "keepdims": False}, "prod")
    assert prod[0] == np.inf  # 1e60 overflows before the small factors come
    assert math.isnan(prod[1]) and prod[2].view(np.uint32) == 0x80000000  # +0 * -0 = -0
    low = reference.reduce(x, {"axes": (1,), "keepdims": False}, "min")
    assert math.isnan(low[1]) and low[2].view(np.uint32) == 0x80000000  # -0 below +0


def test_log_softmax_is_the_spec_sequence() -> None:
    x = RNG.uniform(-30, 30, (50, 7)).astype(F32)
    x[0] = [-np.inf] * 7
    x[1, 3] = np.inf
    x[2] = [1000.0, -1000.0, 0.0, 999.0, 0.0, 1.0, 2.0]
    want = np.empty_like(x)
    for r, row in enumerate(x):
        m = F32(-np.inf)
        for v in row:
            m = reference.maximum(m, v)
        s = F32(0.0)
        with np.errstate(invalid="ignore"):
            for v in row:
                s = F32(s + strict_math.exp(np.array([v - m], F32))[0])
            want[r] = (row - m) - strict_math.log(np.array([s], F32))[0]
    got = reference.log_softmax(x, 1)
    assert np.all(equal_bits(got, want))
    assert np.all(np.isnan(got[0])) and np.all(np.isnan(got[1])) and np.all(np.isfinite(got[2:]))


@pytest.mark.parametrize("b64", [False, True])
def test_tessera_run_reads_and_prints_int32(tmp_path, b64: bool) -> None:
    d = doc([node("ArgMax", ["x"], "c", axis=1), node("Cast", ["c"], "f", to="float32")],
            [("x", [2, 3], "float32")], [("c", [2], "int32"), ("f", [2], "float32")])
    (tmp_path / "m.json").write_text(json.dumps(d))
    (tmp_path / "i.json").write_text('{"inputs": {"x": {"shape": [2, 3], "data": [1, "nan", 3, -0.0, 0, -1]}}}')
    status, text = run_files(str(tmp_path / "m.json"), str(tmp_path / "i.json"), b64=b64)
    assert status == 0
    out = json.loads(text)["outputs"]
    assert out["c"]["dtype"] == "int32" and "dtype" not in out["f"]
    got = read_tensors({"outputs": out})
    assert got["c"].dtype == I32 and got["c"].tolist() == [1, 0] and got["f"].tolist() == [1.0, 0.0]
    if not b64:
        assert '"data": [1, 0]' in text  # JSON integers, not 1.0
