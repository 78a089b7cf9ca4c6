"""Small builders shared by the exporter tests."""

from __future__ import annotations

import copy

import numpy as np

from tests.support import F32, doc_for


def mlp_doc() -> dict:
    """x[batch,3] -> sigmoid(x W^T + b) [batch,2]: a small valid model."""
    return doc_for(
        [
            {"name": "enc", "op": "MatMul", "inputs": ["x", "W"], "outputs": ["t0"], "attrs": {"transpose_b": True}},
            {"op": "Add", "inputs": ["t0", "b"], "outputs": ["t1"]},
            {"op": "Sigmoid", "inputs": ["t1"], "outputs": ["y"]},
        ],
        [("x", ["batch", 3])],
        [("y", ["batch", 2])],
        [
            {"name": "W", "dtype": "float32", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]},
            {"name": "b", "dtype": "float32", "shape": [2], "data": [0.5, -0.5]},
        ],
    )


def unary_doc(op: str, shape: list, attrs: dict | None = None) -> dict:
    node = {"op": op, "inputs": ["x"], "outputs": ["y"]}
    if attrs is not None:
        node["attrs"] = attrs
    return doc_for([node], [("x", shape)], [("y", shape)])


def binary_doc(op: str, sa: list, sb: list, sout: list) -> dict:
    return doc_for([{"op": op, "inputs": ["a", "b"], "outputs": ["y"]}], [("a", sa), ("b", sb)], [("y", sout)])


def mutated(doc: dict, fn) -> dict:
    d = copy.deepcopy(doc)
    fn(d)
    return d






def ulp_diff(got: np.ndarray, want64: np.ndarray) -> np.ndarray:
    """Distance in float32 ulps between got and the float32 rounding of a float64 reference."""
    want = np.asarray(want64, np.float64).astype(F32)

    def ordered(x: np.ndarray) -> np.ndarray:
        i = x.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return np.abs(ordered(np.asarray(got, F32)) - ordered(want))


EDGE = np.array(
    [0.0, -0.0, 1e-45, -1e-45, 1.1754942e-38, 1.1754944e-38, 1.0, -1.0, 0.5, 2.0, 88.7, 88.73, 89.0, 90.0,
     -87.3, -103.9, -104.0, -110.0, 3.4028235e38, -3.4028235e38, np.inf, -np.inf, np.nan, 1e-7, -1e-7,
     0.55, -0.55, 0.549, 9.0, -9.0, 20.0, -20.0],
    dtype=F32,
)
