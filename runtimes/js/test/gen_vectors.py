"""Expected bits for the JS runtime's op tests, from the Python reference.

Transcendentals come from exporter/strict_math.py; the 1.0 ops are numpy float32
arithmetic written out again here per SPEC.md sections 6-7 (a second reading of the
SPEC beside exporter/reference.py). An elementwise or broadcasting op of the registry
(exporter/opset.py) with no formula here takes its bits from the registry's reference
kernel, so a new op of those families is tested with no edit here. Prints one JSON
document: {"cases": [{"op", "attrs", "inputs": [{"shape", "bits"}], "expected": {"shape", "bits"}}]}.
"""

import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from exporter import strict_math as sm  # noqa: E402
from exporter.opset import OPS  # noqa: E402

F = np.float32
rng = np.random.default_rng(20240601)


def f(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel().tolist()


SPECIAL_BITS = [
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF,
    0x00800000, 0x80800000, 0x3F800000, 0xBF800000, 0x3F000000, 0xBF000000,
    0x40000000, 0xC0000000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
    0x7FC00000, 0xFFC00000, 0x3F7FFFFF, 0x3F800001, 0x3FB504F3, 0x3FB504F4,
    0x3F0CCCCD, 0x3F0CCCCC, 0xBF0CCCCD, 0x34000000, 0x33800000,
]
EDGES = [-104.0, -103.99, -103.97, -103.28, -87.33655, -87.3366, -87.34, -88.0, -100.0,
         88.72283, 88.7229, 88.73, 89.0, 89.01, 100.0, -150.0, 1e-10, -1e-10, 1e-30,
         -1e-38, 1e-45, 0.693147, -0.693147, 10.0, -10.0, 16.0, -16.0, 9.0, -9.0,
         0.54999995, 0.55, 20.0, -20.0, 1e10, -1e10, 3.4e38, 0.1, -0.1, 1.5, 2.5, -2.5]


def grid():
    parts = [f(SPECIAL_BITS), np.array(EDGES, dtype=np.float32)]
    parts.append(rng.uniform(-1, 1, 300).astype(np.float32))
    parts.append(rng.uniform(-12, 12, 300).astype(np.float32))
    parts.append(rng.uniform(-110, 95, 300).astype(np.float32))
    parts.append((np.exp(rng.uniform(-100, 88, 200)) * rng.choice([-1, 1], 200)).astype(np.float32))
    parts.append(rng.integers(0, 2**32, 400, dtype=np.uint64).astype(np.uint32).view(np.float32))
    return np.concatenate(parts).astype(np.float32)


def maximum(a, b):
    a, b = np.broadcast_arrays(np.asarray(a, F), np.asarray(b, F))
    ua, ub = a.view(np.uint32), b.view(np.uint32)
    eq = np.where(a == b, (ua & ub).view(np.float32), np.where(a > b, a, b))
    return np.where(np.isnan(a) | np.isnan(b), F(np.nan), eq).astype(F)


def minimum(a, b):
    a, b = np.broadcast_arrays(np.asarray(a, F), np.asarray(b, F))
    ua, ub = a.view(np.uint32), b.view(np.uint32)
    eq = np.where(a == b, (ua | ub).view(np.float32), np.where(a < b, a, b))
    return np.where(np.isnan(a) | np.isnan(b), F(np.nan), eq).astype(F)


with np.errstate(all="ignore"):
    UNARY = {
        "Neg": lambda x, at: (-x).astype(F),
        "Abs": lambda x, at: np.abs(x).astype(F),
        "Sqrt": lambda x, at: np.sqrt(x).astype(F),
        "Relu": lambda x, at: maximum(x, F(0.0)),
        "Exp": lambda x, at: sm.exp(x),
        "Log": lambda x, at: sm.log(x),
        "Sigmoid": lambda x, at: sm.sigmoid(x),
        "Tanh": lambda x, at: sm.tanh(x),
        "Softplus": lambda x, at: sm.softplus(x),
        "Clip": lambda x, at: minimum(maximum(x, F(at.get("min", -np.inf))), F(at.get("max", np.inf))),
    }
    BINARY = {
        "Add": lambda a, b: (a + b).astype(F),
        "Sub": lambda a, b: (a - b).astype(F),
        "Mul": lambda a, b: (a * b).astype(F),
        "Div": lambda a, b: (a / b).astype(F),
        "Maximum": maximum,
        "Minimum": minimum,
    }
    for _op, _row in OPS.items():
        if _row.family == "elementwise" and _op not in UNARY:
            UNARY[_op] = lambda x, at, row=_row: row.kernel([x], dict(at)).astype(F)
        elif _row.family == "broadcast" and _op not in BINARY:
            BINARY[_op] = lambda a, b, row=_row: row.kernel([a, b], {}).astype(F)


def case(op, inputs, expected, attrs=None):
    return {"op": op, "attrs": attrs or {},
            "inputs": [{"shape": list(x.shape), "bits": bits(x)} for x in inputs],
            "expected": {"shape": list(expected.shape), "bits": bits(expected)}}


def matmul(a, b):
    m, k = a.shape
    n = b.shape[1]
    c = np.zeros((m, n), dtype=F)
    for i in range(m):
        acc = np.zeros(n, dtype=F)
        for kk in range(k):
            if a[i, kk] == 0:
                continue
            acc = (acc + (a[i, kk] * b[kk, :]).astype(F)).astype(F)
        c[i] = acc
    return c


def softmax(x, axis):
    x = np.moveaxis(x, axis, -1)
    m = np.full(x.shape[:-1], -np.inf, dtype=F)
    for i in range(x.shape[-1]):
        m = maximum(m, x[..., i])
    s = np.zeros(x.shape[:-1], dtype=F)
    es = []
    for i in range(x.shape[-1]):
        e = sm.exp((x[..., i] - m).astype(F))
        es.append(e)
        s = (s + e).astype(F)
    y = np.stack([(e / s).astype(F) for e in es], axis=-1)
    return np.moveaxis(y, -1, axis)


def reduce(op, x, axes, keepdims):
    r = x.ndim
    axes = sorted(a % r for a in (axes if axes is not None else range(r)))
    kept = [i for i in range(r) if i not in axes]
    xt = np.transpose(x, kept + axes).reshape([x.shape[i] for i in kept] + [-1])
    cnt = xt.shape[-1]
    if op == "ReduceMax":
        acc = np.full(xt.shape[:-1], -np.inf, dtype=F)
        for i in range(cnt):
            acc = maximum(acc, xt[..., i])
    else:
        acc = np.zeros(xt.shape[:-1], dtype=F)
        for i in range(cnt):
            acc = (acc + xt[..., i]).astype(F)
        if op == "ReduceMean":
            acc = (acc / F(cnt)).astype(F)
    shape = [1 if (i in axes) else x.shape[i] for i in range(r)] if keepdims else [x.shape[i] for i in kept]
    return np.asarray(acc, dtype=F).reshape(shape)


def main():
    cases = []
    g = grid()
    with np.errstate(all="ignore"):
        for op, fn in UNARY.items():
            if op == "Clip":
                for at in ({"min": -1.5, "max": 2.25}, {"min": 0.0}, {"max": -0.0}, {}):
                    cases.append(case(op, [g], fn(g, at), at))
            else:
                cases.append(case(op, [g], fn(g, {})))
        sp = np.concatenate([f(SPECIAL_BITS), np.array([3.0, -7.5, 1e-3, 123456.0], dtype=F)])
        a = np.repeat(sp, len(sp))
        b = np.tile(sp, len(sp))
        ra = rng.uniform(-50, 50, 500).astype(F)
        rb = rng.uniform(-50, 50, 500).astype(F)
        rc = rng.integers(0, 2**32, 500, dtype=np.uint64).astype(np.uint32).view(F)
        rd = rng.integers(0, 2**32, 500, dtype=np.uint64).astype(np.uint32).view(F)
        A = np.concatenate([a, ra, rc])
        B = np.concatenate([b, rb, rd])
        for op, fn in BINARY.items():
            cases.append(case(op, [A, B], fn(A, B)))
            # broadcasting forms
            x = rng.uniform(-3, 3, (4, 5)).astype(F)
            y = rng.uniform(-3, 3, (5,)).astype(F)
            z = rng.uniform(-3, 3, (4, 1)).astype(F)
            s = np.array(0.75, dtype=F)
            w = rng.uniform(-3, 3, (3, 1, 5)).astype(F)
            for p, q in ((x, y), (y, x), (x, z), (z, y), (x, s), (s, x), (w, z), (z, w), (w, x)):
                cases.append(case(op, [p, q], fn(p, q)))
        # MatMul: random, sparse/binary left, special values, transposes
        for (m, k, n) in ((1, 1, 1), (3, 4, 5), (7, 33, 17), (2, 64, 32), (5, 16, 9)):
            a = rng.uniform(-2, 2, (m, k)).astype(F)
            a[rng.random((m, k)) < 0.3] = 0
            a[0, 0] = -0.0
            b = rng.uniform(-2, 2, (k, n)).astype(F)
            cases.append(case("MatMul", [a, b], matmul(a, b)))
            cases.append(case("MatMul", [np.ascontiguousarray(a.T), b], matmul(a, b), {"transpose_a": True}))
            cases.append(case("MatMul", [a, np.ascontiguousarray(b.T)], matmul(a, b), {"transpose_b": True}))
            cases.append(case("MatMul", [np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)], matmul(a, b),
                              {"transpose_a": True, "transpose_b": True}))
            bin_a = (rng.random((m, k)) < 0.2).astype(F)
            cases.append(case("MatMul", [bin_a, b], matmul(bin_a, b)))
        sa = np.array([[0.0, 1.0, -0.0, 2.0], [1e-45, 0.0, 3e38, 3e38], [1.0, -1.0, 1.0, -1.0]], dtype=F)
        sb = np.array([[np.inf, np.nan, 1.0], [1.0, 2.0, -0.0], [np.nan, np.inf, -np.inf], [3e38, 1.0, 1e-45]], dtype=F)
        cases.append(case("MatMul", [sa, sb], matmul(sa, sb)))
        cases.append(case("MatMul", [np.zeros((2, 3), F), sb[:3]], matmul(np.zeros((2, 3), F), sb[:3])))
        # Softmax
        for shape, axis in (((4, 7), -1), ((4, 7), 0), ((2, 3, 5), 1), ((6,), 0)):
            x = rng.uniform(-20, 20, shape).astype(F)
            cases.append(case("Softmax", [x], softmax(x, axis), {"axis": axis}))
        x = np.array([[0.0, -np.inf, 1.0], [np.inf, 1.0, 2.0], [np.nan, 0.0, 1.0], [-np.inf, -np.inf, -np.inf],
                      [100.0, -100.0, 0.0]], dtype=F)
        cases.append(case("Softmax", [x], softmax(x, -1), {}))
        # Reductions
        x3 = rng.uniform(-10, 10, (3, 4, 5)).astype(F)
        x3[0, 0, 0] = -0.0
        xs = np.array([[-0.0, -0.0], [np.nan, 1.0], [-np.inf, np.inf], [3e38, 3e38]], dtype=F)
        for op in ("ReduceSum", "ReduceMean", "ReduceMax"):
            for axes, kd in ((None, False), ([1], False), ([0, 2], True), ([-1], False), ([2, 0], False), ([-3], True)):
                at = {}
                if axes is not None:
                    at["axes"] = axes
                if kd:
                    at["keepdims"] = True
                cases.append(case(op, [x3], reduce(op, x3, axes, kd), at))
            for axes in ([0], [1]):
                cases.append(case(op, [xs], reduce(op, xs, axes, False), {"axes": axes}))
        # Transpose, Reshape
        cases.append(case("Transpose", [x3], np.ascontiguousarray(np.transpose(x3)), {}))
        cases.append(case("Transpose", [x3], np.ascontiguousarray(np.transpose(x3, (1, 2, 0))), {"perm": [1, 2, 0]}))
        cases.append(case("Reshape", [x3], x3.reshape(12, 5), {"shape": [12, 5]}))
        cases.append(case("Reshape", [x3], x3.reshape(3, 20), {"shape": [3, -1]}))
    json.dump({"cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
