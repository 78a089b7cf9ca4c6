"""Op vocabulary and shape/dtype inference (one function for build time and plan time).

Shapes may hold None (unknown) at build time; at plan time they are concrete, and the same
inference then yields concrete output shapes for buffer allocation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class OpShapeError(Exception):
    pass


class OpDTypeError(Exception):
    pass


BINARY = ("add", "sub", "mul", "div", "maximum", "minimum")
UNARY = ("neg", "exp", "log", "tanh", "sqrt", "abs", "sigmoid", "softplus", "relu")
REDUCE = ("sum", "mean", "max")
FORWARD = frozenset(BINARY + UNARY + REDUCE + ("dot", "pow", "transpose", "clip", "softmax", "reshape"))
# Ops that only gradient graphs use; none of them is ever differentiated again.
GRAD_ONLY = frozenset({"sum_to", "expand", "sigmoid_grad", "relu_grad", "cmp", "clip_grad", "max_grad",
                       "outer", "reshape_like", "zeros_like", "sign"})


def _fmt(shape) -> str:
    body = ", ".join("?" if d is None else str(d) for d in shape)
    return "(" + body + ("," if len(shape) == 1 else "") + ")"


def broadcast(a: tuple, b: tuple) -> tuple:
    n = max(len(a), len(b))
    a2 = (1,) * (n - len(a)) + tuple(a)
    b2 = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a2, b2, strict=False):
        if x == y:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        elif y is None:
            out.append(x)
        else:
            raise OpShapeError(f"shapes {_fmt(a)} and {_fmt(b)} cannot be broadcast together")
    return tuple(out)


def _dtype(dtypes) -> np.dtype:
    dt = np.result_type(*dtypes)
    if dt not in (np.float32, np.float64):
        raise OpDTypeError(f"unsupported dtype {dt}")
    return np.dtype(dt)


def _dot(shapes, attrs):
    a, b = shapes
    if not (1 <= len(a) <= 2 and 1 <= len(b) <= 2):
        raise OpShapeError(f"dot needs 1-d or 2-d operands, got {_fmt(a)} and {_fmt(b)}")
    k1, k2 = a[-1], b[0]
    if k1 is not None and k2 is not None and k1 != k2:
        raise OpShapeError(f"shapes {_fmt(a)} and {_fmt(b)} not aligned: "
                           f"{k1} (dim {len(a) - 1}) != {k2} (dim 0)")
    return tuple(a[:-1]) + tuple(b[1:])


def _reduce(shapes, attrs):
    (a,) = shapes
    axis, keep = attrs["axis"], attrs["keepdims"]
    axes = range(len(a)) if axis is None else axis
    for ax in axes:
        if not 0 <= ax < len(a):
            raise OpShapeError(f"axis {ax} out of range for {_fmt(a)}")
    if keep:
        return tuple(1 if i in axes else d for i, d in enumerate(a))
    return tuple(d for i, d in enumerate(a) if i not in axes)


def _transpose(shapes, attrs):
    (a,) = shapes
    perm = attrs["perm"]
    if sorted(perm) != list(range(len(a))):
        raise OpShapeError(f"perm {perm} is not a permutation of the axes of {_fmt(a)}")
    return tuple(a[p] for p in perm)


def _reshape(shapes, attrs):
    (a,) = shapes
    shape = tuple(attrs["shape"])
    if sum(1 for s in shape if s == -1) > 1:
        raise OpShapeError(f"at most one -1 in reshape {shape}")
    if any(d is None for d in a):
        return tuple(None if s == -1 else s for s in shape)
    n = int(np.prod(a, dtype=np.int64))
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    if -1 in shape:
        if known == 0 or n % known:
            raise OpShapeError(f"cannot reshape {_fmt(a)} to {shape}")
        return tuple(n // known if s == -1 else s for s in shape)
    if known != n:
        raise OpShapeError(f"cannot reshape {_fmt(a)} ({n} elements) to {shape}")
    return shape


def _softmax(shapes, attrs):
    (a,) = shapes
    if len(a) == 0:
        raise OpShapeError("softmax needs at least 1-d input")
    return tuple(a)


def _same_as(idx):
    return lambda shapes, attrs: tuple(shapes[idx])


def _bcast2(shapes, attrs):
    return broadcast(shapes[0], shapes[1])


def _outer(shapes, attrs):
    a, b = shapes
    if len(a) != 1 or len(b) != 1:
        raise OpShapeError("outer needs 1-d operands")
    return (a[0], b[0])


_SHAPE: dict[str, Callable] = {
    "dot": _dot, "transpose": _transpose, "reshape": _reshape, "softmax": _softmax,
    "pow": _same_as(0), "clip": _same_as(0),
    # gradient-only
    "sum_to": _same_as(1), "expand": _same_as(1), "sigmoid_grad": _bcast2, "relu_grad": _bcast2,
    "cmp": _bcast2, "clip_grad": _bcast2, "max_grad": _same_as(0), "outer": _outer,
    "reshape_like": _same_as(1), "zeros_like": _same_as(0), "sign": _same_as(0),
}
for _op in BINARY:
    _SHAPE[_op] = _bcast2
for _op in UNARY:
    _SHAPE[_op] = _same_as(0)
for _op in REDUCE:
    _SHAPE[_op] = _reduce

_ARITY = {op: 2 for op in BINARY} | {op: 1 for op in UNARY + REDUCE} | {
    "dot": 2, "transpose": 1, "reshape": 1, "softmax": 1, "pow": 1, "clip": 1, "sum_to": 2, "expand": 2,
    "sigmoid_grad": 2, "relu_grad": 2, "cmp": 2, "clip_grad": 2, "max_grad": 3, "outer": 2,
    "reshape_like": 2, "zeros_like": 1, "sign": 1}


def infer(op: str, shapes: list[tuple], dtypes: list[np.dtype], attrs: dict) -> tuple[tuple, np.dtype]:
    """Output (shape, dtype) of `op` applied to operands of the given shapes and dtypes."""
    if op not in _SHAPE:
        raise OpShapeError(f"unknown op {op!r}")
    if len(shapes) != _ARITY[op]:
        raise OpShapeError(f"{op} takes {_ARITY[op]} operand(s), got {len(shapes)}")
    if op == "sum_to" or op == "expand" or op == "reshape_like":
        dt = np.dtype(dtypes[1])
    else:
        dt = _dtype(dtypes)
    return tuple(_SHAPE[op](shapes, attrs)), dt
