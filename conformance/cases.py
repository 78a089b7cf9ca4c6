"""The conformance cases: every v1 op on ordinary and edge values, broadcasting
forms, symbolic batch sizes, whole models, and must-reject files.

Each builder returns `Case`s. Expected outputs are not written here: the
generator computes them with the Python reference runtime. Which ops get which
cases comes from the operator registry (`exporter.opset.OPS`): every
elementwise op, every broadcasting op and every reduction gets its family's
cases, and every op gets must-reject cases for bad attributes (`attr_reject_cases`).
A new op goes at the end of its family in the registry, so that the cases of
the ops before it keep their values (they share one random stream).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tessera import resources
from tessera.conformance.documents import Graph, dumps, initializer_doc, inputs_doc
from tessera.conformance.values import XorShift32, bit_sweep, special_values, transcendental_edges
from tessera.exporter.opset import OPS, UNKNOWN_ATTR, OpDef, covering_version, family

SOURCES = Path(__file__).resolve().parent / "sources"
DIGITS = resources.path("trainer", "datasets", "digits.npz")


@dataclass
class Case:
    name: str
    tags: list[str]
    model: dict[str, Any] | str  # a document, or raw text for unparseable files
    inputs: dict[str, np.ndarray] | str  # arrays, or raw text for a bad inputs file
    reject: str | None = None  # the expected error code, or None for outputs
    needs: str | None = None  # the format version a runtime must implement; default: what `ops` need
    ops: list[str] | None = None  # default: the ops of the model's nodes (none for a reject case)

    def __post_init__(self) -> None:
        if self.ops is None:
            nodes = self.model["graph"]["nodes"] if self.reject is None and isinstance(self.model, dict) else []
            self.ops = list(dict.fromkeys(n["op"] for n in nodes))
        if self.needs is None:
            self.needs = covering_version(self.ops)


def _unary_graph(op: str, n: int, **attrs: Any) -> Graph:
    g = Graph()
    g.input("x", [n])
    g.node(op, ["x"], "y", **attrs)
    g.output("y", [n])
    return g


def unary_ops() -> list[str]:
    """The elementwise ops without attributes, in registry order."""
    return [d.name for d in family("elementwise") if not d.attrs]


def unary_cases() -> list[Case]:
    cases = []
    rng = XorShift32(1)
    for op in unary_ops():
        ordinary = np.concatenate([rng.uniform((48,), -4, 4), rng.uniform((16,), -40, 40)])
        edges = transcendental_edges()
        edges = np.concatenate([edges, -edges])
        cases.append(Case(f"op_{op.lower()}_ordinary", ["op"], _unary_graph(op, ordinary.size).document(),
                          {"x": ordinary}))
        cases.append(Case(f"op_{op.lower()}_edge", ["op", "edge"], _unary_graph(op, edges.size).document(),
                          {"x": edges}))
        if OPS[op].spec == "7.3":  # the transcendental functions: a sweep over all bit patterns
            sweep = bit_sweep(8192)
            cases.append(Case(f"op_{op.lower()}_sweep", ["op", "edge"],
                              _unary_graph(op, sweep.size).document(), {"x": sweep}))
    # Sigmoid's pair arithmetic (SPEC 7.3) has several correction terms; a dense
    # grid over the range where they matter catches a runtime that drops one.
    dense = np.linspace(-104, 20, 4096, dtype=np.float64).astype(np.float32)
    cases.append(Case("op_sigmoid_dense", ["op", "edge"], _unary_graph("Sigmoid", dense.size).document(),
                      {"x": dense}))
    return cases


def _binary_graph(op: str, a_shape: list, b_shape: list, out_shape: list) -> Graph:
    g = Graph()
    g.input("a", a_shape)
    g.input("b", b_shape)
    g.node(op, ["a", "b"], "y")
    g.output("y", out_shape)
    return g


BROADCAST_FORMS = [  # (name, a shape, b shape, out shape, concrete a, concrete b)
    ("same", [3, 4], [3, 4], [3, 4], (3, 4), (3, 4)),
    ("row", [3, 4], [4], [3, 4], (3, 4), (4,)),
    ("col", [3, 1], [1, 4], [3, 4], (3, 1), (1, 4)),
    ("scalar", [], [2, 3], [2, 3], (), (2, 3)),
    ("rank3", [2, 1, 3], [4, 1], [2, 4, 3], (2, 1, 3), (4, 1)),
    ("symbolic", ["batch", 4], [4], ["batch", 4], (5, 4), (4,)),
]


# The forms exercise broadcasting, which every broadcasting op shares: one commutative op, one not.
BROADCAST_SAMPLES = ("Add", "Div")


def binary_cases() -> list[Case]:
    cases = []
    rng = XorShift32(2)
    sv = special_values()
    grid_a = np.repeat(sv, sv.size)
    grid_b = np.tile(sv, sv.size)
    for op in (d.name for d in family("broadcast") if d.since == "1.0"):  # 1.1's Pow: pow_cases (own stream)
        a, b = rng.uniform((64,), -10, 10), rng.uniform((64,), -10, 10)
        cases.append(Case(f"op_{op.lower()}_ordinary", ["op"], _binary_graph(op, [64], [64], [64]).document(),
                          {"a": a, "b": b}))
        n = grid_a.size
        graph = _binary_graph(op, [n], [n], [n])
        cases.append(Case(f"op_{op.lower()}_edge", ["op", "edge"], graph.document(),
                          {"a": grid_a, "b": grid_b}))
    # every special value repeated along an axis, as either operand: the outer grid (n, 1) x (1, n)
    # (a runtime's broadcast loop may splat a repeated value; its sign and NaN must survive)
    col, row = sv.reshape(-1, 1), sv.reshape(1, -1)
    for op in (d.name for d in family("broadcast") if d.since == "1.0"):
        n = sv.size
        cases.append(Case(f"broadcast_edge_{op.lower()}", ["op", "broadcast", "edge"],
                          _binary_graph(op, [n, 1], [1, n], [n, n]).document(), {"a": col, "b": row}))
        cases.append(Case(f"broadcast_edge_swapped_{op.lower()}", ["op", "broadcast", "edge"],
                          _binary_graph(op, [1, n], [n, 1], [n, n]).document(), {"a": row, "b": col}))
    for form, ash, bsh, osh, ca, cb in BROADCAST_FORMS:
        for op in BROADCAST_SAMPLES:
            cases.append(Case(f"broadcast_{form}_{op.lower()}", ["op", "broadcast"],
                              _binary_graph(op, ash, bsh, osh).document(),
                              {"a": rng.uniform(ca, -3, 3), "b": rng.uniform(cb, 0.5, 3)}))
    return cases


def _matmul_graph(m: Any, k: int, n: int, ta: bool = False, tb: bool = False) -> Graph:
    g = Graph()
    g.input("a", [k, m] if ta else [m, k])
    g.input("b", [n, k] if tb else [k, n])
    attrs = {}
    if ta:
        attrs["transpose_a"] = True
    if tb:
        attrs["transpose_b"] = True
    g.node("MatMul", ["a", "b"], "y", **attrs)
    g.output("y", [m, n])
    return g


def matmul_cases() -> list[Case]:
    rng = XorShift32(3)
    cases = []
    for ta in (False, True):
        for tb in (False, True):
            a = rng.uniform((7, 5) if ta else (5, 7))
            b = rng.uniform((3, 7) if tb else (7, 3))
            cases.append(Case(f"op_matmul_ta{int(ta)}_tb{int(tb)}", ["op"],
                              _matmul_graph(5, 7, 3, ta, tb).document(), {"a": a, "b": b}))
    # Long accumulation: the order over k shows in the last bits.
    a, b = rng.uniform((4, 1000), -1, 1), rng.uniform((1000, 6), -1, 1)
    cases.append(Case("op_matmul_long_k", ["op"], _matmul_graph(4, 1000, 6).document(), {"a": a, "b": b}))
    # Zero terms contribute nothing, even against inf and nan (SPEC 7.1).
    a = np.array([[0.0, 1.0, -0.0, 2.0], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    b = np.array([[np.inf, 1.0], [2.0, -3.0], [np.nan, 5.0], [1e38, 0.5]], dtype=np.float32)
    cases.append(Case("op_matmul_zero_skip", ["op", "edge"], _matmul_graph(2, 4, 2).document(),
                      {"a": a, "b": b}))
    # Binary, very sparse left operand (the seed's data).
    a, b = rng.binary((9, 300), 0.02), rng.uniform((300, 8))
    cases.append(Case("op_matmul_sparse_binary", ["op"], _matmul_graph(9, 300, 8).document(),
                      {"a": a, "b": b}))
    # Products that overflow, underflow and cancel.
    a = np.array([[1e30, 1e30, -1e30], [1e-30, 1e-20, 3.0]], dtype=np.float32)
    b = np.array([[1e10], [-1e10], [1e10]], dtype=np.float32)
    cases.append(Case("op_matmul_overflow", ["op", "edge"], _matmul_graph(2, 3, 1).document(),
                      {"a": a, "b": b}))
    return cases


def _single(op: str, in_shape: list, out_shape: list, x: np.ndarray, name: str, tags: list[str],
            **attrs: Any) -> Case:
    g = Graph()
    g.input("x", in_shape)
    g.node(op, ["x"], "y", **attrs)
    g.output("y", out_shape)
    return Case(name, tags, g.document(), {"x": x})


def shape_op_cases() -> list[Case]:
    rng = XorShift32(4)
    x = rng.uniform((3, 4, 5), -5, 5)
    x[0, 0, :] = [np.inf, -np.inf, np.nan, -0.0, 0.0]
    cases = [
        _single("Clip", [3, 4, 5], [3, 4, 5], x, "op_clip", ["op", "edge"], min=-1.5, max=2.25),
        _single("Clip", [3, 4, 5], [3, 4, 5], x, "op_clip_min_only", ["op"], min=0.0),
        _single("Clip", [3, 4, 5], [3, 4, 5], x, "op_clip_default", ["op"]),
        _single("Transpose", [3, 4, 5], [5, 4, 3], x, "op_transpose_default", ["op"]),
        _single("Transpose", [3, 4, 5], [4, 3, 5], x, "op_transpose_perm", ["op"], perm=[1, 0, 2]),
        _single("Transpose", [], [], np.array(-0.0, np.float32), "op_transpose_scalar", ["op", "edge"]),
        _single("Reshape", [3, 4, 5], [12, 5], x, "op_reshape", ["op"], shape=[12, 5]),
        _single("Reshape", [3, 4, 5], [2, 30], x, "op_reshape_infer", ["op"], shape=[2, -1]),
        _single("Reshape", ["batch", 4, 5], ["batch", 20], x, "op_reshape_symbolic", ["op"],
                shape=["batch", -1]),
    ]
    for op in (d.name for d in family("reduce") if d.since == "1.0"):  # 1.1's: reduce_1_1_cases (own stream)
        low = op.lower()
        cases += [
            _single(op, [3, 4, 5], [], x, f"op_{low}_all", ["op", "edge"]),
            _single(op, [3, 4, 5], [3, 5], x, f"op_{low}_axis1", ["op"], axes=[1]),
            _single(op, [3, 4, 5], [3, 1, 1], x, f"op_{low}_last2_keep", ["op"], axes=[-1, 1], keepdims=True),
            _single(op, [3, 4, 5], [4], rng.uniform((3, 4, 5), -1e3, 1e3), f"op_{low}_axes02", ["op"],
                    axes=[0, 2]),
        ]
    s = rng.uniform((4, 6), -3, 3)
    s[1, :] = [1000.0, 999.0, -1000.0, 0.0, 88.0, 1000.0]
    s[2, :] = [-np.inf, 0.0, 1.0, -np.inf, 2.0, 3.0]
    s[3, :] = [1e-30, -1e-30, 0.0, -0.0, 1e-45, 7.0]
    s = np.concatenate([s, np.full((1, 6), -np.inf, np.float32), np.full((1, 6), 5.0, np.float32)])
    s[5, 2] = np.inf
    cases += [
        _single("Softmax", [6, 6], [6, 6], s, "op_softmax_last", ["op", "edge"]),
        _single("Softmax", [6, 6], [6, 6], s, "op_softmax_axis0", ["op", "edge"], axis=0),
    ]
    return cases


def _dense_layer(g: Graph, x: str, w: np.ndarray, b: np.ndarray, act: str | None, tag: str,
                 transpose_b: bool = False) -> str:
    wn, bn = g.init(f"W{tag}", w), g.init(f"b{tag}", b)
    attrs = {"transpose_b": True} if transpose_b else {}
    t = g.node("MatMul", [x, wn], f"mm{tag}", **attrs)
    t = g.node("Add", [t, bn], f"z{tag}")
    return g.node(act, [t], f"h{tag}") if act else t


def seed_ae_graph(w: np.ndarray, bh: np.ndarray, bv: np.ndarray) -> Graph:
    """The seed's tied-weight auto-encoder: W stored once, used as W and W^T."""
    n_vis, n_hid = w.shape
    g = Graph()
    g.input("x", ["batch", n_vis])
    wn, bhn, bvn = g.init("W", w), g.init("bh", bh), g.init("bv", bv)
    t = g.node("MatMul", ["x", wn], "xw")
    t = g.node("Add", [t, bhn], "zh")
    h = g.node("Sigmoid", [t], "h")
    t = g.node("MatMul", [h, wn], "hwt", transpose_b=True)
    t = g.node("Add", [t, bvn], "zv")
    g.node("Sigmoid", [t], "x_hat")
    g.output("x_hat", ["batch", n_vis])
    return g


def _digits_batch(count: int, seed: int) -> np.ndarray:
    """Binarized digits from the bundled data set (deterministic selection)."""
    images = np.load(DIGITS)["images"]
    data = (images.reshape(images.shape[0], -1) > 7).astype(np.float32)
    rng = XorShift32(seed)
    idx = [rng.next_u32() % data.shape[0] for _ in range(count)]
    return np.asarray(data[idx], dtype=np.float32)


def model_cases() -> list[Case]:
    rng = XorShift32(5)
    cases = []
    trained = json.loads((SOURCES / "seed_ae_digits.json").read_text())
    for batch in (1, 257):
        cases.append(Case(f"model_seed_ae_digits_batch{batch}", ["model"], trained,
                          {"x": _digits_batch(batch, 100 + batch)}))
    w = rng.uniform((64, 32), -0.3, 0.3)
    seed = seed_ae_graph(w, rng.uniform((32,), -0.1, 0.1), rng.uniform((64,), -0.1, 0.1))
    cases.append(Case("model_seed_ae_base64", ["model"], seed.document(encoding="base64"),
                      {"x": rng.binary((3, 64), 0.3)}))
    # Base64 whose unused low bits are not zero ("AACAPx==" decodes to 1.0 like "AACAPw=="): ignored.
    g = Graph()
    g.input("x", [2])
    g.init("one", np.float32(1.0))
    g.node("Add", ["x", "one"], "y")
    g.output("y", [2])
    doc = g.document(encoding="base64")
    init = doc["graph"]["initializers"][0]
    assert init["data_b64"] == "AACAPw=="
    init["data_b64"] = "AACAPx=="
    cases.append(Case("model_base64_nonzero_pad_bits", ["model", "edge"], doc,
                      {"x": np.array([1.5, -2.0], np.float32)}))
    cases.append(Case("model_newer_minor_known_ops", ["model", "version"], seed.document(version="1.9"),
                      {"x": rng.binary((2, 64), 0.3)}))
    # A 3-layer deep auto-encoder on sparse binary data.
    g = Graph()
    g.input("x", ["batch", 200])
    t = _dense_layer(g, "x", rng.uniform((200, 64), -0.2, 0.2), rng.uniform((64,), -0.1, 0.1), "Tanh", "1")
    t = _dense_layer(g, t, rng.uniform((64, 16), -0.3, 0.3), rng.uniform((16,), -0.1, 0.1), "Relu", "2")
    t = _dense_layer(g, t, rng.uniform((16, 64), -0.3, 0.3), rng.uniform((64,), -0.1, 0.1), "Softplus", "3")
    t = _dense_layer(g, t, rng.uniform((64, 200), -0.2, 0.2), rng.uniform((200,), -0.1, 0.1), "Sigmoid", "4")
    g.output(t, ["batch", 200])
    cases.append(Case("model_deep_ae", ["model"], g.document(), {"x": rng.binary((6, 200), 0.05)}))
    # An MLP classifier with Softmax.
    g = Graph()
    g.input("x", ["batch", 64])
    t = _dense_layer(g, "x", rng.uniform((64, 48), -0.3, 0.3), rng.uniform((48,), -0.1, 0.1), "Relu", "1")
    t = _dense_layer(g, t, rng.uniform((10, 48), -0.3, 0.3), rng.uniform((10,), -0.1, 0.1), None, "2",
                     transpose_b=True)
    g.node("Softmax", [t], "probs", axis=-1)
    g.output("probs", ["batch", 10])
    cases.append(Case("model_mlp_softmax", ["model"], g.document(), {"x": rng.uniform((5, 64), 0, 1)}))
    # A BCE anomaly score per sample, in the stable softplus form the exporter emits:
    # bce(sigmoid(z), x) = softplus(z) - x*z, averaged over features.
    g = Graph()
    g.input("x", ["batch", 64])
    wn, bhn, bvn = g.init("W", w), g.init("bh", rng.uniform((32,), -0.1, 0.1)), g.init("bv", np.zeros(64))
    t = g.node("MatMul", ["x", wn], "xw")
    t = g.node("Add", [t, bhn], "zh")
    h = g.node("Sigmoid", [t], "h")
    t = g.node("MatMul", [h, wn], "hwt", transpose_b=True)
    z = g.node("Add", [t, bvn], "z")
    sp = g.node("Softplus", [z], "sp")
    xz = g.node("Mul", ["x", z], "xz")
    d = g.node("Sub", [sp, xz], "bce")
    g.node("ReduceMean", [d], "score", axes=[1])
    g.output("score", ["batch"])
    cases.append(Case("model_bce_anomaly_score", ["model"], g.document(), {"x": rng.binary((4, 64), 0.3)}))
    return cases


# --- must-reject files -------------------------------------------------------


def _base_doc() -> dict[str, Any]:
    g = Graph()
    g.input("x", ["batch", 4])
    g.init("b", np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32))
    g.node("Add", ["x", "b"], "y")
    g.output("y", ["batch", 4])
    return g.document()


BASE_INPUTS = {"x": np.array([[0.5, -1.0, 2.0, 0.0]], dtype=np.float32)}


_DELETE = object()  # a mutation value: remove the field
_INIT = ["graph", "initializers", 0]
_NODE = ["graph", "nodes", 0]
_NEXT_NODE = ["graph", "nodes", 1]


def _apply(doc: Any, path: list, value: Any) -> None:
    target = doc
    for key in path[:-1]:
        target = target[key]
    last = path[-1]
    if value is _DELETE:
        del target[last]
    elif isinstance(target, list) and last == len(target):
        target.append(value)
    else:
        target[last] = value


def _mutated(name: str, code: str, changes: list[tuple[list, Any]], inputs: Any = None) -> Case:
    """The base model with each (path, value) change applied: one defect per case."""
    doc = _base_doc()
    for path, value in changes:
        _apply(doc, path, value)
    return Case(f"reject_{name}", ["reject"], doc, BASE_INPUTS if inputs is None else inputs, reject=code)


def _as_base64(b64: str) -> list[tuple[list, Any]]:
    return [(_INIT + ["data"], _DELETE), (_INIT + ["checksum"], _DELETE), (_INIT + ["data_b64"], b64)]


def _parse_cases() -> list[Case]:
    text = dumps(_base_doc())
    edits = {
        "truncated": text[: len(text) // 2],
        "trailing_comma": text.replace("]}}", "],}}", 1),
        "duplicate_key": text.replace('{"format":"tessera",', '{"format":"tessera","format":"tessera",', 1),
        "nan_literal": text.replace("[1.0,2.0", "[NaN,2.0", 1),
        "bad_escape": text.replace('"tessera-conformance"', '"tess\\qera"', 1),
        "lone_surrogate": text.replace('"tessera-conformance"', '"tessera-\\udcff"', 1),
    }
    cases = [Case(f"reject_parse_{k}", ["reject"], v, BASE_INPUTS, reject="E_PARSE")
             for k, v in edits.items()]
    # Every JSON number denotes the nearest double: 1e400 is inf, not an integer dimension.
    cases.append(Case("reject_schema_dim_beyond_double", ["reject"],
                      text.replace('"shape":["batch",4]', '"shape":["batch",1e400]', 1), BASE_INPUTS,
                      reject="E_SCHEMA"))
    # A duplicate key outranks every later defect (SPEC 5 row 2), even where finding it needs memory.
    later_defects = {"unknown_field": [(["graph", "extra"], 1)], "major_version": [(["format_version"], "2.0")],
                     "rank": [(_INIT + ["shape"], [1] * 9)], "unknown_op": [(_NODE + ["op"], "Gelu")]}
    for name, changes in later_defects.items():
        doc = _base_doc()
        for path, value in changes:
            _apply(doc, path, value)
        dup = dumps(doc).replace('{"format":"tessera",', '{"format":"tessera","metadata":{},"metadata":{},', 1)
        cases.append(Case(f"reject_parse_duplicate_key_before_{name}", ["reject"], dup, BASE_INPUTS,
                          reject="E_PARSE"))
    deep_meta = text.replace('"graph":', '"metadata":' + "[" * 70 + "]" * 70 + ',"graph":', 1)
    cases += [
        Case("reject_limit_deep_nesting", ["reject", "hostile"], "[" * 100000 + "]" * 100000, BASE_INPUTS,
             reject="E_LIMIT"),
        Case("reject_limit_deep_metadata", ["reject", "hostile"], deep_meta, BASE_INPUTS, reject="E_LIMIT"),
    ]
    return cases


def _model_reject_cases() -> list[Case]:
    reduce_node = {"op": "ReduceSum", "inputs": ["y"], "outputs": ["s"]}
    return [
        _mutated("version_major", "E_VERSION", [(["format_version"], "2.0")]),
        _mutated("version_newer_minor_unknown_op", "E_VERSION",
                 [(["format_version"], "1.9"), (_NODE + ["op"], "Gelu")]),
        _mutated("version_newer_minor_unknown_field", "E_VERSION",
                 [(["format_version"], "1.9"), (["graph", "sparse"], True)]),
        _mutated("schema_missing_graph", "E_SCHEMA", [(["graph"], _DELETE)]),
        _mutated("schema_wrong_format", "E_SCHEMA", [(["format"], "onnx")]),
        _mutated("schema_unknown_field", "E_SCHEMA", [(["graph", "extra"], 1)]),
        _mutated("schema_bad_dtype", "E_SCHEMA", [(_INIT + ["dtype"], "float64")]),
        _mutated("schema_bad_version_string", "E_SCHEMA", [(["format_version"], "1")]),
        _mutated("schema_wrong_input_count", "E_SCHEMA", [(_NODE + ["inputs"], ["x"])]),
        _mutated("schema_bad_attr_type", "E_SCHEMA",
                 [(_NEXT_NODE, {**reduce_node, "attrs": {"keepdims": "yes"}})]),
        _mutated("schema_unknown_attr", "E_SCHEMA", [(_NEXT_NODE, {**reduce_node, "attrs": {"axis": 0}})]),
        _mutated("schema_both_data_fields", "E_SCHEMA", [(_INIT + ["data_b64"], "AACAPw==")]),
        _mutated("schema_non_numeric_data", "E_SCHEMA", [(_INIT + ["data", 0], "inf")]),
        _mutated("limit_dim_2_62", "E_LIMIT", [(_INIT + ["shape"], [2**62])]),
        _mutated("limit_element_overflow", "E_LIMIT", [(_INIT + ["shape"], [2**21] * 4)]),
        _mutated("limit_rank", "E_LIMIT", [(_INIT + ["shape"], [1] * 9)]),
        _mutated("limit_name_length", "E_LIMIT",
                 [(_INIT + ["name"], "b" * 257), (_NODE + ["inputs"], ["x", "b" * 257])]),
        _mutated("limit_graph_inputs", "E_LIMIT",
                 [(["graph", "inputs", i], {"name": f"u{i}", "dtype": "float32", "shape": [1]})
                  for i in range(1, 257)]),
        _mutated("unknown_op", "E_UNKNOWN_OP", [(_NODE + ["op"], "Gelu")]),
        _mutated("schema_bad_op_name", "E_SCHEMA", [(_NODE + ["op"], "my-op")]),
        _mutated("graph_duplicate_output", "E_GRAPH",
                 [(["graph", "outputs", 1], {"name": "y", "dtype": "float32", "shape": ["batch", 4]})]),
        _mutated("schema_repeated_perm", "E_SCHEMA",
                 [(_NEXT_NODE, {"op": "Transpose", "inputs": ["y"], "outputs": ["t"], "attrs": {"perm": [0, 0]}})]),
        _mutated("shape_perm_out_of_rank", "E_SHAPE",
                 [(_NEXT_NODE, {"op": "Transpose", "inputs": ["y"], "outputs": ["t"], "attrs": {"perm": [0, 2]}})]),
        _mutated("data_short", "E_DATA", [(_INIT + ["data"], [1.0, 2.0, 3.0])]),
        _mutated("data_long", "E_DATA", [(_INIT + ["data"], [1.0, 2.0, 3.0, 4.0, 5.0])]),
        _mutated("data_overflow_to_inf", "E_DATA", [(_INIT + ["data", 0], 1e39)]),
        _mutated("data_checksum", "E_DATA", [(_INIT + ["checksum"], "crc32:00000000")]),
        _mutated("data_base64_length", "E_DATA", _as_base64("AACAPw==")),
        _mutated("data_base64_bad_padding", "E_DATA", _as_base64("A" * 21 + "==")),
        _mutated("graph_duplicate_name", "E_GRAPH", [(_INIT + ["name"], "x")]),
        _mutated("graph_cycle", "E_GRAPH",
                 [(_NODE + ["inputs"], ["x", "z"]),
                  (_NEXT_NODE, {"op": "Neg", "inputs": ["y"], "outputs": ["z"]})]),
        _mutated("graph_undefined_output", "E_GRAPH", [(["graph", "outputs", 0, "name"], "nothing")]),
        _mutated("shape_broadcast", "E_SHAPE", [(_INIT, initializer_doc("b", np.ones(3, np.float32)))]),
        _mutated("shape_declared_output", "E_SHAPE", [(["graph", "outputs", 0, "shape"], ["batch", 5])]),
        _mutated("shape_axis_out_of_range", "E_SHAPE",
                 [(_NEXT_NODE, {**reduce_node, "attrs": {"axes": [2]}})]),
        _mutated("shape_symbol_vs_int", "E_SHAPE", [(["graph", "outputs", 0, "shape"], [1, 4])]),
        _mutated("shape_repeated_axis", "E_SHAPE", [(_NEXT_NODE, {**reduce_node, "attrs": {"axes": [1, -1]}})]),
        _mutated("schema_many_axes", "E_SCHEMA",
                 [(_NEXT_NODE, {**reduce_node, "attrs": {"axes": list(range(5000))}})]),
        _mutated("schema_reshape_without_shape", "E_SCHEMA",
                 [(_NEXT_NODE, {"op": "Reshape", "inputs": ["y"], "outputs": ["s"]})]),
        _mutated("limit_reshape_rank", "E_LIMIT",
                 [(_NEXT_NODE, {"op": "Reshape", "inputs": ["y"], "outputs": ["s"], "attrs": {"shape": [1] * 9}})]),
        _mutated("limit_intermediate_at_check", "E_LIMIT",
                 [(["graph", "inputs", 0, "shape"], [2**26, 1]), (_INIT + ["shape"], [1, 4]),
                  (["graph", "outputs", 0, "shape"], [2**26, 4])]),
    ]


def _input_reject_cases() -> list[Case]:
    raw = {
        "data_length": ('{"inputs":{"x":{"shape":[1,4],"data":[1,2,3]}}}\n', "E_INPUT"),
        "bad_value": ('{"inputs":{"x":{"shape":[1,4],"data":[1,2,"one",4]}}}\n', "E_INPUT"),
        "zero_batch": ('{"inputs":{"x":{"shape":[0,4],"data":[]}}}\n', "E_INPUT"),
        "not_json": ('{"inputs":', "E_PARSE"),
        "wrong_structure": ('{"x":[1,2,3,4]}\n', "E_INPUT"),
    }
    return [
        _mutated("input_missing", "E_INPUT", [], inputs={}),
        _mutated("input_unknown_name", "E_INPUT", [], inputs={**BASE_INPUTS, "z": np.zeros(1, np.float32)}),
        _mutated("input_wrong_rank", "E_INPUT", [], inputs={"x": np.zeros(4, np.float32)}),
        _mutated("input_wrong_dim", "E_INPUT", [], inputs={"x": np.zeros((2, 5), np.float32)}),
        *[Case(f"reject_input_{k}", ["reject"], _base_doc(), text, reject=code)
          for k, (text, code) in raw.items()],
        _symbol_conflict_case(),
        _runtime_limit_case(),
    ]


def reject_cases() -> list[Case]:
    return _parse_cases() + _model_reject_cases() + _input_reject_cases()


def _symbol_conflict_case() -> Case:
    g = Graph()
    g.input("a", ["n", 2])
    g.input("b", ["n", 2])
    g.node("Add", ["a", "b"], "y")
    g.output("y", ["n", 2])
    return Case("reject_input_symbol_conflict", ["reject"], g.document(),
                {"a": np.zeros((2, 2), np.float32), "b": np.zeros((3, 2), np.float32)}, reject="E_INPUT")


def _runtime_limit_case() -> Case:
    """Small inputs whose broadcast would need 2^27 elements (SPEC 5, item 11)."""
    g = Graph()
    g.input("a", ["n", 1])
    g.input("b", ["m"])
    g.node("Add", ["a", "b"], "y")
    g.output("y", ["n", "m"])
    return Case("reject_runtime_limit", ["reject", "hostile"], g.document(),
                {"a": np.zeros((2**13, 1), np.float32), "b": np.zeros(2**14, np.float32)}, reject="E_LIMIT")


# --- bad attributes, from the registry --------------------------------------

_SQUARE_VALUES = {"x": np.array([[1.5, -2.0], [0.25, 3.0]], np.float32),  # float32 operands
                  "i": np.array([[1, 0], [-1, 1]], np.int32)}  # int32 operands: valid indices, truth values
_OPERAND = {"float32": "x", "int32": "i"}


def _attr_case(op: OpDef, label: str, attrs: dict[str, Any], code: str) -> Case:
    """op on operands of its example shape and dtypes (`OpDef.example_shape`, [2, 2] unless the row says;
    `OpDef.operand_dtypes`: float32 unless the row says) with `attrs` (its example with one defect); the
    declared output is what the example gives, so the attribute is the only defect."""
    dtypes, shape = op.operand_dtypes, list(op.example_shape)
    g = Graph()
    for d in dict.fromkeys(dtypes):
        g.input(_OPERAND[d], shape, d)
    g.node(op.name, [_OPERAND[d] for d in dtypes], "y", **attrs)
    example = op.with_defaults(op.example)
    out, _ = op.shape([tuple(shape)] * len(dtypes), example)
    g.output("y", list(out), op.dtype(list(dtypes), example))
    inputs = {_OPERAND[d]: np.resize(_SQUARE_VALUES[_OPERAND[d]], shape) for d in dict.fromkeys(dtypes)}
    return Case(f"reject_attr_{op.name.lower()}_{label}", ["reject", "attr"], g.document(), inputs, reject=code,
                ops=[op.name])


def attr_reject_cases() -> list[Case]:
    """For every op: an attribute name it does not have (E_SCHEMA, SPEC §6), and each bad value its
    registry row lists for each attribute (`Attr.bad`, with the code SPEC §5 and §6 give it)."""
    label, key, value = UNKNOWN_ATTR
    cases = []
    for op in OPS.values():
        assert op.attr(key) is None
        cases.append(_attr_case(op, label, {**op.example, key: value}, "E_SCHEMA"))
        for attr in op.attributes:
            for what, bad, code in attr.bad:
                cases.append(_attr_case(op, f"{attr.name}_{what}", {**op.example, attr.name: bad}, code))
    return cases


def all_cases() -> list[Case]:
    from tessera.conformance.cases11 import all_cases_1_1  # they build on this module's helpers
    from tessera.conformance.cases12 import all_cases_1_2

    cases = (unary_cases() + binary_cases() + matmul_cases() + shape_op_cases() + model_cases()
             + reject_cases() + attr_reject_cases() + all_cases_1_1() + all_cases_1_2())
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases


def inputs_text(case: Case) -> str:
    if isinstance(case.inputs, str):
        return case.inputs
    return dumps(inputs_doc(case.inputs))


def model_text(case: Case) -> str:
    return case.model if isinstance(case.model, str) else dumps(copy.deepcopy(case.model))
