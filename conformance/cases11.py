"""The conformance cases of format 1.1: int32 tensors and the operators 1.1 added.

Kept apart from conformance/cases.py so that the 1.0 cases keep their bytes: every builder here
draws from its own random stream. Which op gets which cases comes from the registry families
("compare", "logic", "where", "cast", "gather", "concat", "slice", "argreduce", and the 1.1 rows
of "reduce" and "softmax"), so a new op of a family gets its family's cases.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tessera.conformance.cases import DIGITS, SOURCES, Case, _single
from tessera.conformance.documents import Graph
from tessera.conformance.values import XorShift32, bit_sweep, special_values
from tessera.exporter.opset import OPS, family

I32 = np.int32
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# int32 values every integer op is tried on: the extremes, around 0, around 2^24 (float32's last
# exact integer, where int32 -> float32 starts rounding).
INT_EDGES = np.array([INT_MIN, INT_MIN + 1, -16777217, -2, -1, 0, 1, 2, 16777216, 16777217, 16777219,
                      INT_MAX - 1, INT_MAX], dtype=I32)


def _since_1_1(name: str) -> list[str]:
    return [d.name for d in family(name) if d.since == "1.1"]


def _ints(rng: XorShift32, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    """Uniform int32 in [lo, hi] from the stable stream."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.array([lo + rng.next_u32() % (hi - lo + 1) for _ in range(n)], dtype=I32).reshape(shape)


def _graph(op: str, operands: list[tuple[str, list, str]], out_shape: list, out_dtype: str,
           **attrs: Any) -> Graph:
    g = Graph()
    for name, shape, dtype in operands:
        g.input(name, shape, dtype)
    g.node(op, [name for name, _, _ in operands], "y", **attrs)
    g.output("y", out_shape, out_dtype)
    return g


def _case(name: str, tags: list[str], g: Graph, inputs: dict[str, np.ndarray], reject: str | None = None,
          version: str | None = None) -> Case:
    return Case(name, tags, g.document(version=version), inputs, reject=reject)


def _grid(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair of `values`: (a, b) flattened."""
    return np.repeat(values, values.size), np.tile(values, values.size)


# --- comparisons, logic, Where ------------------------------------------------


def compare_cases() -> list[Case]:
    rng = XorShift32(11)
    cases = []
    fa, fb = _grid(special_values())
    ia, ib = _grid(INT_EDGES)
    for op in _since_1_1("compare"):
        low = op.lower()
        # Halves in [-2, 2]: many ties.
        a = (np.array([rng.next_u32() % 9 for _ in range(64)], np.float32) - 4) / 2
        b = (np.array([rng.next_u32() % 9 for _ in range(64)], np.float32) - 4) / 2
        cases.append(_case(f"op_{low}_ordinary", ["op"],
                           _graph(op, [("a", [64], "float32"), ("b", [64], "float32")], [64], "int32"),
                           {"a": a, "b": b}))
        n = fa.size
        cases.append(_case(f"op_{low}_edge", ["op", "edge"],
                           _graph(op, [("a", [n], "float32"), ("b", [n], "float32")], [n], "int32"),
                           {"a": fa, "b": fb}))
        n = ia.size
        cases.append(_case(f"op_{low}_int32", ["op", "edge"],
                           _graph(op, [("a", [n], "int32"), ("b", [n], "int32")], [n], "int32"),
                           {"a": ia, "b": ib}))
        cases.append(_case(f"op_{low}_broadcast", ["op", "broadcast"],
                           _graph(op, [("a", ["batch", 1], "float32"), ("b", [4], "float32")], ["batch", 4],
                                  "int32"),
                           {"a": rng.uniform((3, 1), -1, 1), "b": rng.uniform((4,), -1, 1)}))
    return cases


def logic_cases() -> list[Case]:
    rng = XorShift32(12)
    truth = np.array([0, 1, -1, 2, INT_MIN, INT_MAX], dtype=I32)
    a, b = _grid(truth)
    cases = []
    for op in _since_1_1("logic"):
        low, arity = op.lower(), OPS[op].min_arity
        if arity == 2:
            n = a.size
            cases.append(_case(f"op_{low}_edge", ["op", "edge"],
                               _graph(op, [("a", [n], "int32"), ("b", [n], "int32")], [n], "int32"),
                               {"a": a, "b": b}))
            cases.append(_case(f"op_{low}_broadcast", ["op", "broadcast"],
                               _graph(op, [("a", [3, 1], "int32"), ("b", [], "int32")], [3, 1], "int32"),
                               {"a": np.array([[0], [7], [-3]], I32), "b": np.array(1, I32)}))
        else:
            n = INT_EDGES.size
            cases.append(_case(f"op_{low}_edge", ["op", "edge"],
                               _graph(op, [("a", [n], "int32")], [n], "int32"), {"a": INT_EDGES}))
        x = _ints(rng, (4, 5), -2, 2)
        cases.append(_case(f"op_{low}_ordinary", ["op"],
                           _graph(op, [(name, [4, 5], "int32") for name in "ab"[:arity]], [4, 5], "int32"),
                           {name: x if name == "a" else _ints(rng, (4, 5), -2, 2) for name in "ab"[:arity]}))
    return cases


def where_cases() -> list[Case]:
    rng = XorShift32(13)
    cases = []
    for op in _since_1_1("where"):
        low = op.lower()
        cond = _ints(rng, (3, 4), -1, 1)
        a, b = rng.uniform((3, 4), -5, 5), rng.uniform((3, 4), -5, 5)
        a[0, :] = [np.nan, -0.0, np.inf, 0.0]  # the selected bits are copied (a NaN, a -0)
        b[0, :] = [-0.0, np.nan, -np.inf, 1e-45]
        same = [("c", [3, 4], "int32"), ("a", [3, 4], "float32"), ("b", [3, 4], "float32")]
        cases.append(_case(f"op_{low}_ordinary", ["op", "edge"], _graph(op, same, [3, 4], "float32"),
                           {"c": cond, "a": a, "b": b}))
        # Three-way broadcasting: condition per row, A per column, B a scalar; a symbolic batch.
        forms = [("c", ["batch", 1], "int32"), ("a", [4], "float32"), ("b", [], "float32")]
        cases.append(_case(f"op_{low}_broadcast", ["op", "broadcast"], _graph(op, forms, ["batch", 4], "float32"),
                           {"c": np.array([[1], [0], [5]], I32), "a": rng.uniform((4,), -1, 1),
                            "b": np.array(-0.0, np.float32)}))
        forms = [("c", [2, 1, 3], "int32"), ("a", [4, 1], "int32"), ("b", [1, 3], "int32")]
        cases.append(_case(f"op_{low}_int32_broadcast", ["op", "broadcast"], _graph(op, forms, [2, 4, 3], "int32"),
                           {"c": _ints(rng, (2, 1, 3), 0, 1), "a": INT_EDGES[:4].reshape(4, 1),
                            "b": INT_EDGES[-3:].reshape(1, 3)}))
    return cases


# --- Cast ---------------------------------------------------------------------

# float32 -> int32 around every boundary of SPEC 7.8: saturation at +-2^31, truncation, NaN, -0.
CAST_FLOAT_EDGES = np.array([
    np.nan, np.inf, -np.inf, 2147483648.0, 2147483520.0, 3e9, -2147483648.0, -2147483904.0, -3e9,
    0.7, -0.7, -0.0, 0.0, 2.9, -2.9, 1e-45, -1e-45, 0.5, -0.5, 1.5, -1.5, 16777217.0, 1e38, -1e38,
    np.float32(2147483648.0) * np.float32(0.9999999), 123456.789], dtype=np.float32)


def cast_cases() -> list[Case]:
    rng = XorShift32(14)
    cases = []
    for op in _since_1_1("cast"):
        low = op.lower()
        n = CAST_FLOAT_EDGES.size
        g = _graph(op, [("x", [n], "float32")], [n], "int32", to="int32")
        cases.append(_case(f"op_{low}_to_int32_edge", ["op", "edge"], g, {"x": CAST_FLOAT_EDGES}))
        g = _graph(op, [("x", [32], "float32")], [32], "int32", to="int32")
        cases.append(_case(f"op_{low}_to_int32_ordinary", ["op"], g, {"x": rng.uniform((32,), -1000, 1000)}))
        big = np.concatenate([INT_EDGES, _ints(rng, (32,), INT_MIN, INT_MAX)])
        g = _graph(op, [("x", [big.size], "int32")], [big.size], "float32", to="float32")
        cases.append(_case(f"op_{low}_to_float32_edge", ["op", "edge"], g, {"x": big}))
        g = _graph(op, [("x", [n], "float32")], [n], "float32", to="float32")
        cases.append(_case(f"op_{low}_float32_copy", ["op", "edge"], g, {"x": CAST_FLOAT_EDGES}))
        g = _graph(op, [("x", [big.size], "int32")], [big.size], "int32", to="int32")
        cases.append(_case(f"op_{low}_int32_copy", ["op"], g, {"x": big}))
    return cases


# --- Gather, Concat, Slice ----------------------------------------------------


def gather_cases() -> list[Case]:
    rng = XorShift32(15)
    cases = []
    for op in _since_1_1("gather"):
        low = op.lower()
        data = rng.uniform((5, 3), -4, 4)
        idx = np.array([0, 4, -1, -5, 2, 2], I32)  # both ends, negative indices, a repeat
        g = _graph(op, [("data", [5, 3], "float32"), ("idx", [6], "int32")], [6, 3], "float32")
        cases.append(_case(f"op_{low}_rows", ["op", "edge"], g, {"data": data, "idx": idx}))
        g = _graph(op, [("data", [2, 4, 3], "float32"), ("idx", [2, 2], "int32")], [2, 2, 2, 3], "float32", axis=1)
        cases.append(_case(f"op_{low}_axis1_matrix_indices", ["op"], g,
                           {"data": rng.uniform((2, 4, 3)), "idx": np.array([[3, 0], [-2, 1]], I32)}))
        g = _graph(op, [("data", [2, 4], "float32"), ("idx", [], "int32")], [2], "float32", axis=-1)
        cases.append(_case(f"op_{low}_scalar_index", ["op", "edge"], g,
                           {"data": rng.uniform((2, 4)), "idx": np.array(-1, I32)}))
        g = _graph(op, [("data", ["n", 2], "int32"), ("idx", ["batch"], "int32")], ["batch", 2], "int32")
        cases.append(_case(f"op_{low}_int32_symbolic", ["op"], g,
                           {"data": INT_EDGES[:12].reshape(6, 2), "idx": np.array([5, -6, 0, 3], I32)}))
        # Indices as an initializer (still checked when the node runs).
        g = Graph()
        g.input("data", [4, 2])
        g.init("idx", np.array([[1, -4], [3, 3]], I32))
        g.node(op, ["data", "idx"], "y")
        g.output("y", [2, 2, 2])
        cases.append(Case(f"op_{low}_initializer_indices", ["op"], g.document(), {"data": rng.uniform((4, 2))}))
        # Any index outside [-d, d-1] is E_INPUT at run time (SPEC 5 step 12), never a read outside.
        for label, bad in (("high", 5), ("low", -6), ("int_max", INT_MAX), ("int_min", INT_MIN)):
            g = _graph(op, [("data", [5, 3], "float32"), ("idx", [3], "int32")], [3, 3], "float32")
            cases.append(_case(f"reject_{low}_index_{label}", ["reject", "runtime"], g,
                               {"data": data, "idx": np.array([0, bad, 1], I32)}, reject="E_INPUT"))
        g = Graph()
        g.input("data", [4, 2])
        g.init("idx", np.array([4], I32))
        g.node(op, ["data", "idx"], "y")
        g.output("y", [1, 2])
        cases.append(Case(f"reject_{low}_initializer_index", ["reject", "runtime"], g.document(),
                          {"data": rng.uniform((4, 2))}, reject="E_INPUT"))
        g = _graph(op, [("data", [5, 3], "float32"), ("idx", [6], "float32")], [6, 3], "float32")
        cases.append(_case(f"reject_{low}_float_indices", ["reject", "dtype"], g,
                           {"data": data, "idx": idx.astype(np.float32)}, reject="E_SHAPE"))
        # Rank 9 is found when the node's shape is inferred (step 9), before the declared output is compared.
        g = _graph(op, [("data", [2] * 5, "float32"), ("idx", [2] * 5, "int32")], [2] * 8, "float32")
        cases.append(_case(f"reject_{low}_rank_above_8", ["reject"], g,
                           {"data": np.zeros([2] * 5, np.float32), "idx": np.zeros([2] * 5, I32)}, reject="E_LIMIT"))
        # The range comes from the bound size when the gathered axis is a symbol.
        g = _graph(op, [("data", ["n", 2], "float32"), ("idx", [2], "int32")], [2, 2], "float32")
        cases.append(_case(f"reject_{low}_index_symbolic_axis", ["reject", "runtime"], g,
                           {"data": np.zeros((3, 2), np.float32), "idx": np.array([-3, 3], I32)}, reject="E_INPUT"))
    return cases


def concat_cases() -> list[Case]:
    rng = XorShift32(16)
    cases = []
    for op in _since_1_1("concat"):
        low = op.lower()
        g = _graph(op, [("a", [2, 3], "float32"), ("b", [1, 3], "float32"), ("c", [4, 3], "float32")], [7, 3],
                   "float32", axis=0)
        cases.append(_case(f"op_{low}_axis0", ["op"], g,
                           {"a": rng.uniform((2, 3)), "b": rng.uniform((1, 3)), "c": rng.uniform((4, 3))}))
        g = _graph(op, [("a", ["batch", 2], "float32"), ("b", ["batch", 3], "float32")], ["batch", 5], "float32",
                   axis=-1)
        cases.append(_case(f"op_{low}_last_symbolic", ["op"], g,
                           {"a": rng.uniform((3, 2)), "b": rng.uniform((3, 3))}))
        g = _graph(op, [("a", [2, 2], "int32")], [2, 2], "int32", axis=1)
        cases.append(_case(f"op_{low}_single_int32", ["op", "edge"], g, {"a": INT_EDGES[:4].reshape(2, 2)}))
        x = rng.uniform((1, 2))
        g = Graph()
        g.input("x", [1, 2])
        g.node(op, ["x"] * OPS[op].max_arity, "y", axis=0)
        g.output("y", [OPS[op].max_arity, 2])
        cases.append(Case(f"op_{low}_max_inputs", ["op", "edge"], g.document(), {"x": x}))
        g = Graph()
        g.input("x", [1, 2])
        g.node(op, ["x"] * (OPS[op].max_arity + 1), "y", axis=0)
        g.output("y", [OPS[op].max_arity + 1, 2])
        cases.append(Case(f"reject_{low}_too_many_inputs", ["reject"], g.document(), {"x": x}, reject="E_SCHEMA"))
        g = _graph(op, [("a", ["n", 2], "float32"), ("b", [1, 2], "float32")], ["n", 2], "float32", axis=0)
        cases.append(_case(f"reject_{low}_symbol_on_axis", ["reject"], g,
                           {"a": rng.uniform((1, 2)), "b": rng.uniform((1, 2))}, reject="E_SHAPE"))
        g = _graph(op, [("a", [2, 2], "float32"), ("b", [2, 3], "float32")], [4, 2], "float32", axis=0)
        cases.append(_case(f"reject_{low}_other_dim_differs", ["reject"], g,
                           {"a": rng.uniform((2, 2)), "b": rng.uniform((2, 3))}, reject="E_SHAPE"))
        g = _graph(op, [("a", [2, 2], "float32"), ("b", [2, 2], "int32")], [4, 2], "float32", axis=0)
        cases.append(_case(f"reject_{low}_mixed_dtypes", ["reject", "dtype"], g,
                           {"a": rng.uniform((2, 2)), "b": np.zeros((2, 2), I32)}, reject="E_SHAPE"))
        g = _graph(op, [("a", [], "float32")], [], "float32", axis=0)
        cases.append(_case(f"reject_{low}_scalar", ["reject"], g, {"a": np.float32(1.0)}, reject="E_SHAPE"))
        g = _graph(op, [("a", [2, 2], "float32"), ("b", [2], "float32")], [4, 2], "float32", axis=0)
        cases.append(_case(f"reject_{low}_ranks_differ", ["reject"], g,
                           {"a": np.zeros((2, 2), np.float32), "b": np.zeros(2, np.float32)}, reject="E_SHAPE"))
    return cases


def slice_cases() -> list[Case]:
    rng = XorShift32(17)
    x = rng.uniform((4, 6), -3, 3)
    cases = []
    for op in _since_1_1("slice"):
        low = op.lower()
        forms = [  # (label, output shape, attributes)
            ("rows", [2, 6], {"starts": [1], "ends": [3]}),
            ("negative", [4, 3], {"starts": [-4], "ends": [-1], "axes": [-1]}),
            ("reverse", [4, 6], {"starts": [-1], "ends": [-1000000000], "axes": [1], "steps": [-1]}),
            ("step2", [2, 3], {"starts": [0, 5], "ends": [4, 0], "axes": [0, 1], "steps": [2, -2]}),
            ("clamped", [4, 6], {"starts": [-2147483648, -1e300], "ends": [2147483647, 1e300]}),
            ("big_step", [1, 6], {"starts": [2], "ends": [4], "steps": [1000000]}),
            ("axes_order", [3, 2], {"starts": [1, 1], "ends": [3, 4], "axes": [1, 0]}),
        ]
        for label, out, attrs in forms:
            cases.append(_single(op, [4, 6], out, x, f"op_{low}_{label}", ["op", "edge"], **attrs))
        g = _graph(op, [("x", ["batch", 6], "int32")], ["batch", 2], "int32", starts=[1], ends=[6], axes=[1],
                   steps=[3])
        cases.append(_case(f"op_{low}_int32_symbolic_batch", ["op"], g, {"x": _ints(rng, (3, 6), INT_MIN, INT_MAX)}))
        rejects = [  # (label, input shape, output shape, attrs, code)
            ("empty", [4, 6], [1, 6], {"starts": [3], "ends": [1]}, "E_SHAPE"),
            ("empty_reverse", [4, 6], [4, 1], {"starts": [0], "ends": [5], "axes": [1], "steps": [-1]}, "E_SHAPE"),
            ("symbolic_axis", ["batch", 6], ["batch", 6], {"starts": [0], "ends": [1]}, "E_SHAPE"),
            ("repeated_axis", [4, 6], [1, 6], {"starts": [0, 0], "ends": [1, 1], "axes": [0, -2]}, "E_SHAPE"),
            ("zero_step", [4, 6], [4, 6], {"starts": [0], "ends": [4], "steps": [0]}, "E_SCHEMA"),
            ("lengths", [4, 6], [4, 6], {"starts": [0, 0], "ends": [4]}, "E_SCHEMA"),
            ("missing_ends", [4, 6], [4, 6], {"starts": [0]}, "E_SCHEMA"),
        ]
        for label, ish, osh, attrs, code in rejects:
            g = _graph(op, [("x", ish, "float32")], osh, "float32", **attrs)
            cases.append(_case(f"reject_{low}_{label}", ["reject"], g, {"x": x}, reject=code))
    return cases


# --- ArgMax / ArgMin, ReduceMin / ReduceProd, LogSoftmax ------------------------


def argreduce_cases() -> list[Case]:
    rng = XorShift32(18)
    x = rng.uniform((6, 5), -3, 3)
    x[0, :] = [1.0, 2.0, 2.0, -1.0, 2.0]  # ties keep the first index
    x[1, :] = [1.0, np.nan, 5.0, np.nan, -7.0]  # the first NaN wins
    x[2, :] = [-0.0, 0.0, -0.0, 0.0, -0.0]  # -0 and +0 tie
    x[3, :] = [-np.inf] * 5
    x[4, :] = [np.nan, 1.0, np.inf, -np.inf, 0.0]
    x[5, :] = [3.0, -np.inf, np.inf, np.inf, -np.inf]
    ints = np.stack([INT_EDGES[:6], INT_EDGES[-6:], np.array([5, 5, -5, -5, 5, -5], I32)])
    cases = []
    for op in _since_1_1("argreduce"):
        low = op.lower()
        for label, axis, keep, out in (("last", 1, False, [6]), ("axis0_keep", 0, True, [1, 5])):
            g = _graph(op, [("x", [6, 5], "float32")], out, "int32", axis=axis, **({"keepdims": True} if keep else {}))
            cases.append(_case(f"op_{low}_{label}", ["op", "edge"], g, {"x": x}))
        g = _graph(op, [("x", [3, 6], "int32")], [3], "int32", axis=-1)
        cases.append(_case(f"op_{low}_int32", ["op", "edge"], g, {"x": ints}))
        g = _graph(op, [("x", ["batch", 4, 7], "float32")], ["batch", 7], "int32", axis=1)
        cases.append(_case(f"op_{low}_ordinary", ["op"], g, {"x": rng.uniform((3, 4, 7), -100, 100)}))
        g = _graph(op, [("x", [6, 5], "float32")], [6], "int32")
        cases.append(_case(f"reject_{low}_missing_axis", ["reject"], g, {"x": x}, reject="E_SCHEMA"))
    return cases


def reduce_1_1_cases() -> list[Case]:
    rng = XorShift32(19)
    x = rng.uniform((3, 4, 5), -5, 5)
    x[0, 0, :] = [np.inf, -np.inf, np.nan, -0.0, 0.0]
    x[1, 0, :] = [-0.0, 0.0, -0.0, 1.0, -1.0]
    x[2, 0, :] = [1e30, 1e30, 1e-30, 1e-30, -3.0]  # overflow, then underflow: the order matters
    cases = []
    for op in _since_1_1("reduce"):
        low = op.lower()
        cases += [
            _single(op, [3, 4, 5], [], x, f"op_{low}_all", ["op", "edge"]),
            _single(op, [3, 4, 5], [3, 4], x, f"op_{low}_last", ["op", "edge"], axes=[-1]),
            _single(op, [3, 4, 5], [3, 1, 1], x, f"op_{low}_last2_keep", ["op"], axes=[-1, 1], keepdims=True),
            _single(op, [3, 4, 5], [4], rng.uniform((3, 4, 5), -2, 2), f"op_{low}_axes02", ["op"], axes=[0, 2]),
        ]
    return cases


def log_softmax_cases() -> list[Case]:
    rng = XorShift32(20)
    s = rng.uniform((4, 6), -3, 3)
    s[1, :] = [1000.0, 999.0, -1000.0, 0.0, 88.0, 1000.0]
    s[2, :] = [-np.inf, 0.0, 1.0, -np.inf, 2.0, 3.0]
    s[3, :] = [1e-30, -1e-30, 0.0, -0.0, 1e-45, 7.0]
    s = np.concatenate([s, np.full((1, 6), -np.inf, np.float32), np.full((1, 6), 5.0, np.float32),
                        np.array([[np.nan, 0, 1, 2, 3, 4]], np.float32), rng.uniform((1, 6), -100, 100)])
    s[5, 2] = np.inf
    cases = []
    for op in _since_1_1("softmax"):
        low = op.lower()
        cases += [
            _single(op, [8, 6], [8, 6], s, f"op_{low}_last", ["op", "edge"]),
            _single(op, [8, 6], [8, 6], s, f"op_{low}_axis0", ["op", "edge"], axis=0),
            _single(op, ["batch", 40], ["batch", 40], rng.uniform((5, 40), -20, 20), f"op_{low}_ordinary", ["op"]),
        ]
    return cases


# --- Pow ---------------------------------------------------------------------

# Bases and exponents that reach every special case of SPEC 7.10 (C99 Annex F) and the integer and
# odd tests on the exponent's bits: odd and even integers up to and beyond 2^24, halves, the smallest
# subnormal, the largest float32, values next to 1.
POW_BASES = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, np.inf, -np.inf, np.nan, 1e-45,
                      -1e-45, 1e-40, 3.4028235e38, -3.4028235e38, 1.0000001, 0.99999994, -1.0000001, 7.5, -0.75],
                     np.float32)
POW_EXPONENTS = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.5, -0.5, 2.5, np.inf, -np.inf, np.nan,
                          16777216.0, 16777215.0, -16777215.0, 8388609.0, 8388608.0, 4194304.5, 1e-45, -1e-45,
                          3.4028235e38, -3.4028235e38, 149.0, -149.0, 128.0, -127.0, 0.33333334],
                         np.float32)


def pow_cases() -> list[Case]:
    rng = XorShift32(21)
    cases = []
    for op in (d.name for d in family("broadcast") if d.since == "1.1"):
        low = op.lower()

        def case(name: str, tags: list[str], a: np.ndarray, b: np.ndarray, op: str = op) -> Case:
            n = a.size
            return _case(name, tags, _graph(op, [("a", [n], "float32"), ("b", [n], "float32")], [n], "float32"),
                         {"a": a, "b": b})

        # Positive bases with any exponent, negative bases with integer exponents.
        a = np.concatenate([rng.uniform((48,), 0.0, 4.0), rng.uniform((16,), -4.0, 0.0)])
        b = np.concatenate([rng.uniform((48,), -8.0, 8.0), np.floor(rng.uniform((16,), -9.0, 9.0))])
        cases.append(case(f"op_{low}_ordinary", ["op"], a, b))
        ga = np.repeat(POW_BASES, POW_EXPONENTS.size)
        gb = np.tile(POW_EXPONENTS, POW_BASES.size)
        cases.append(case(f"op_{low}_edge", ["op", "edge"], ga, gb))
        # Results at the overflow threshold, through the subnormal range and at the underflow to zero:
        # 2^t and 3^t for t around 128, -126, -149 and -150, and bases next to 1 with huge exponents.
        t = np.concatenate([np.linspace(127.8, 128.2, 24), np.linspace(-126.5, -125.5, 16),
                            np.linspace(-150.5, -148.5, 24), np.linspace(-140.0, -127.0, 16)]).astype(np.float32)
        near1 = np.array([1.0000001, 0.99999994, 1.0000002, 0.9999999, 1.0001, 0.9999], np.float32)
        huge = np.array([8.9e8, -8.9e8, 1.5e9, -1.5e9, 1e12, -1e12, 3e5, -3e5], np.float32)
        a = np.concatenate([np.full(t.size, 2.0, np.float32), np.full(t.size, 3.0, np.float32),
                            np.repeat(near1, huge.size)])
        b = np.concatenate([t, (t / np.float32(1.5849625)).astype(np.float32), np.tile(huge, near1.size)])
        cases.append(case(f"op_{low}_range", ["op", "edge"], a, b))
        # Bases over all bit patterns (NaNs, subnormals, both signs), exponents small integers and reals.
        sweep = bit_sweep(8192)
        e = np.where(np.arange(sweep.size) % 2 == 0, np.floor(rng.uniform((sweep.size,), -6.0, 7.0)),
                     rng.uniform((sweep.size,), -3.0, 3.0)).astype(np.float32)
        cases.append(case(f"op_{low}_sweep", ["op", "edge"], sweep, e))
        cases.append(_case(f"op_{low}_broadcast_scalar", ["op", "broadcast"],
                           _graph(op, [("a", ["batch", 4], "float32"), ("b", [], "float32")], ["batch", 4],
                                  "float32"),
                           {"a": rng.uniform((5, 4), 0.0, 3.0), "b": np.array(1.7, np.float32)}))
        cases.append(_case(f"op_{low}_broadcast_col", ["op", "broadcast"],
                           _graph(op, [("a", [3, 1], "float32"), ("b", [1, 4], "float32")], [3, 4], "float32"),
                           {"a": np.array([[-2.0], [0.5], [-0.0]], np.float32),
                            "b": np.array([[3.0, -2.0, 0.5, -1.0]], np.float32)}))
    return cases


# --- int32 tensors, dtypes and versions ---------------------------------------


def _first(family_name: str) -> str:
    return _since_1_1(family_name)[0]


def dtype_cases() -> list[Case]:
    """int32 through the data-movement ops of 1.0, base64, and the must-reject files of SPEC 3, 5, 9."""
    rng = XorShift32(21)
    cases = []
    ints = _ints(rng, (3, 4), INT_MIN, INT_MAX)
    # Transpose and Reshape move int32 as they move float32; an int32 initializer in base64.
    g = Graph()
    g.input("x", [3, 4], "int32")
    g.init("k", INT_EDGES[:4])
    cmp = g.node(_first("compare"), ["x", "k"], "ge")
    t = g.node("Transpose", [cmp], "t")
    g.node("Reshape", [t], "y", shape=[2, -1])
    g.output("y", [2, 6], "int32")
    cases.append(Case("model_int32_data_movement", ["model", "int32"], g.document(), {"x": ints}))
    cases.append(Case("model_int32_base64", ["model", "int32"], g.document(encoding="base64"), {"x": ints}))
    # An int32 input given without "dtype" takes the declared one (SPEC 9).
    text = '{"inputs":{"x":{"shape":[3,4],"data":[' + ",".join(str(int(v)) for v in ints.ravel()) + "]}}}\n"
    cases.append(Case("model_int32_input_without_dtype", ["model", "int32"], g.document(), text))

    def reject(name: str, code: str, doc: dict, inputs: Any) -> None:
        cases.append(Case(f"reject_{name}", ["reject", "int32"], doc, inputs, reject=code))

    def with_init(values: list) -> dict:
        doc = g.document()
        init = doc["graph"]["initializers"][0]
        init["data"] = values
        del init["checksum"]
        return doc

    reject("int32_initializer_fraction", "E_DATA", with_init([1, 2, 1.5, 4]), {"x": ints})
    reject("int32_initializer_beyond_int32", "E_DATA", with_init([1, 2, 2147483648, 4]), {"x": ints})
    reject("int32_initializer_1e10", "E_DATA", with_init([1, 2, 1e10, 4]), {"x": ints})
    doc = g.document()
    doc["graph"]["initializers"][0]["checksum"] = "crc32:00000000"
    reject("int32_initializer_checksum", "E_DATA", doc, {"x": ints})
    doc = g.document(encoding="base64")
    doc["graph"]["initializers"][0]["data_b64"] = "AAAAAA=="
    del doc["graph"]["initializers"][0]["checksum"]
    reject("int32_initializer_base64_length", "E_DATA", doc, {"x": ints})
    # Integral decimals are integers (SPEC 3): 2.0 and 2e0 read as 2.
    doc = with_init([1, 2.0, 2e0, -0.0])
    cases.append(Case("model_int32_initializer_integral_decimals", ["model", "int32", "edge"], doc, {"x": ints}))
    # Inputs files (SPEC 9): non-integers and a dtype other than the declared one are E_INPUT.
    data = ",".join(str(int(v)) for v in ints.ravel()[:-1])
    for label, last, dtype in (("fraction", "1.5", ""), ("nan", '"nan"', ""), ("beyond", "2147483648", ""),
                               ("dtype_float32", "7", ',"dtype":"float32"')):
        text = f'{{"inputs":{{"x":{{"shape":[3,4]{dtype},"data":[{data},{last}]}}}}}}\n'
        reject(f"input_int32_{label}", "E_INPUT", g.document(), text)
    fdoc = Graph()
    fdoc.input("x", [2])
    fdoc.node("Neg", ["x"], "y")
    fdoc.output("y", [2])
    reject("input_float32_given_int32", "E_INPUT", fdoc.document(),
           '{"inputs":{"x":{"shape":[2],"dtype":"int32","data":[1,2]}}}\n')
    # A dtype an operator rejects is E_SHAPE (SPEC 5 step 9), checked with the shapes.
    mixes = [
        ("add_int32", "Add", [("a", [2], "int32"), ("b", [2], "int32")], "int32"),
        ("compare_mixed", _first("compare"), [("a", [2], "float32"), ("b", [2], "int32")], "int32"),
        ("logic_float", _first("logic"), [("a", [2], "float32"), ("b", [2], "float32")], "int32"),
        ("where_float_condition", _first("where"), [("c", [2], "float32"), ("a", [2], "float32"),
                                                    ("b", [2], "float32")], "float32"),
        ("where_mixed_branches", _first("where"), [("c", [2], "int32"), ("a", [2], "float32"),
                                                   ("b", [2], "int32")], "float32"),
        ("reduce_int32", _first("reduce"), [("a", [2], "int32")], "int32"),
    ]
    for label, op, operands, out in mixes:
        gm = _graph(op, operands, [] if OPS[op].family == "reduce" else [2], out)
        feeds = {n: np.zeros(s, I32 if d == "int32" else np.float32) for n, s, d in operands}
        reject(f"dtype_{label}", "E_SHAPE", gm.document(), feeds)
    gm = _graph(_first("compare"), [("a", [2], "float32"), ("b", [2], "float32")], [2], "float32")
    reject("dtype_declared_output", "E_SHAPE", gm.document(), {"a": np.zeros(2, np.float32),
                                                               "b": np.zeros(2, np.float32)})
    # A file stamped 1.0 that uses a 1.1 operator or dtype: E_VERSION (SPEC 2).
    gv = _graph(_first("gather"), [("data", [3, 2], "float32"), ("idx", [2], "int32")], [2, 2], "float32")
    reject("version_1_0_uses_gather", "E_VERSION", gv.document(version="1.0"),
           {"data": np.zeros((3, 2), np.float32), "idx": np.zeros(2, I32)})
    gv = Graph()
    gv.input("x", [2], "int32")
    gv.node("Reshape", ["x"], "y", shape=[2, 1])
    gv.output("y", [2, 1], "int32")
    reject("version_1_0_int32_input", "E_VERSION", gv.document(version="1.0"), {"x": np.zeros(2, I32)})
    gv = Graph()
    gv.input("x", [2])
    gv.init("k", np.array([1, 2], I32))
    gv.node("Add", ["x", "x"], "y")
    gv.output("y", [2])
    reject("version_1_0_int32_initializer", "E_VERSION", gv.document(version="1.0"), {"x": np.zeros(2, np.float32)})
    gv = _graph(_first("logic"), [("a", [2], "int32"), ("b", [2], "int32")], [2], "int32")
    cases.append(Case("model_1_1_stamped_newer_minor_ok", ["model", "version"], gv.document(version="1.5"),
                      {"a": np.array([0, 3], I32), "b": np.array([2, 0], I32)}))
    return cases


# --- whole models -------------------------------------------------------------


def _digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    images = np.load(DIGITS)["images"]
    data = (images.reshape(images.shape[0], -1) > 7).astype(np.float32)
    rng = XorShift32(seed)
    idx = [rng.next_u32() % data.shape[0] for _ in range(count)]
    return np.asarray(data[idx], dtype=np.float32), idx


def model_1_1_cases() -> list[Case]:
    rng = XorShift32(22)
    cases = []
    # A softmax classifier trained on the bundled digits (conformance/sources.py), with the class as
    # ArgMax of the logits and the log-probabilities.
    doc = json.loads((SOURCES / "digits_classifier.json").read_text())
    for batch in (1, 64):
        x, _ = _digits(batch, 300 + batch)
        cases.append(Case(f"model_digits_classifier_batch{batch}", ["model", "int32"], doc, {"x": x}))
    # Embedding bag: rows of a table gathered by int32 ids, summed over the ids, then a linear layer.
    g = Graph()
    g.input("ids", ["batch", 5], "int32")
    table, w, b = g.init("E", rng.uniform((50, 8), -1, 1)), g.init("W", rng.uniform((8, 3), -1, 1)), g.init(
        "b", rng.uniform((3,), -0.1, 0.1))
    rows = g.node(_first("gather"), [table, "ids"], "rows")
    bag = g.node("ReduceSum", [rows], "bag", axes=[1])
    t = g.node("MatMul", [bag, w], "mm")
    g.node("Add", [t, b], "scores")
    g.output("scores", ["batch", 3])
    ids = _ints(rng, (4, 5), -50, 49)
    cases.append(Case("model_embedding_bag", ["model", "int32"], g.document(), {"ids": ids}))
    # A gated layer: elu written as the exporter lowers it (SPEC 10), a leaky relu, a Where gate on
    # the sign of another projection, the two halves concatenated, sliced and reduced.
    g = Graph()
    g.input("x", ["batch", 6])
    h = g.node("MatMul", ["x", g.init("W1", rng.uniform((6, 4), -1, 1))], "h")
    pos = g.node(_first("compare"), [h, g.init("zero", np.float32(0.0))], "pos")
    e = g.node("Exp", [h], "e")
    em1 = g.node("Sub", [e, g.init("one", np.float32(1.0))], "em1")
    neg = g.node("Mul", [em1, g.init("alpha", np.float32(0.7))], "neg_branch")
    elu = g.node(_first("where"), [pos, h, neg], "elu")
    lk = g.node("Maximum", [h, g.node("Mul", [h, g.init("slope", np.float32(0.01))], "hs")], "leaky")
    gate = g.node(_first("compare"), [g.node("MatMul", ["x", g.init("Wg", rng.uniform((6, 4), -1, 1))], "gz"),
                                      "zero"], "gate")
    mixed = g.node(_first("where"), [gate, elu, lk], "mixed")
    cat = g.node(_first("concat"), [mixed, h], "cat", axis=1)
    part = g.node(_first("slice"), [cat], "part", starts=[1], ends=[7], axes=[1], steps=[2])
    g.node(_first("reduce"), [part], "y", axes=[1])
    g.output("y", ["batch"])
    g.output(g.node(_since_1_1("argreduce")[0], [cat], "best", axis=-1), ["batch"], "int32")
    x = rng.uniform((5, 6), -2, 2)
    cases.append(Case("model_gated_where", ["model"], g.document(), {"x": x}))
    return cases


def all_cases_1_1() -> list[Case]:
    cases = (compare_cases() + logic_cases() + where_cases() + cast_cases() + gather_cases() + concat_cases()
             + slice_cases() + argreduce_cases() + reduce_1_1_cases() + log_softmax_cases() + dtype_cases()
             + model_1_1_cases() + pow_cases())
    for case in cases:  # a reject case names no ops, but each of these is about something 1.1 defines
        case.needs = "1.1"
    return cases


