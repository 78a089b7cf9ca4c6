"""Numpy kernels: one factory per op, specialised at plan time to concrete shapes.

`make(op, attrs, in_shapes, out_shape, dtype)` returns `(fn, needs_buffer)`. The executor
calls `fn(out, *inputs)`; fn writes into `out` (a buffer allocated once) and returns the
result array. View ops (transpose, reshape, identity sum_to) return views and need no buffer.
Scratch space a kernel needs is allocated here, once, not per call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Kernel = Callable[..., np.ndarray]


def _binary(ufunc):
    def factory(attrs, ins, oshape, dt):
        return (lambda out, a, b: ufunc(a, b, out=out)), True
    return factory


def _unary(ufunc):
    def factory(attrs, ins, oshape, dt):
        return (lambda out, a: ufunc(a, out=out)), True
    return factory


def sigmoid_into(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    # 0.5*tanh(0.5a)+0.5: numpy's SIMD tanh makes this the fastest stable form (no overflow).
    np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    np.multiply(out, 0.5, out=out)
    np.add(out, 0.5, out=out)
    return out


def _sigmoid(attrs, ins, oshape, dt):
    return sigmoid_into_fn, True


def sigmoid_into_fn(out, a):
    return sigmoid_into(a, out)


def _softplus(attrs, ins, oshape, dt):
    scratch = np.empty(oshape, dt)

    def fn(out, a):
        # log1p(exp(-|a|)) + max(a, 0): never overflows.
        np.abs(a, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)
        np.log1p(out, out=out)
        np.maximum(a, 0, out=scratch)
        return np.add(out, scratch, out=out)
    return fn, True


def _relu(attrs, ins, oshape, dt):
    zero = dt.type(0)
    return (lambda out, a: np.maximum(a, zero, out=out)), True


def _pow(attrs, ins, oshape, dt):
    e = attrs["exponent"]
    if e == 2.0:
        return (lambda out, a: np.square(a, out=out)), True
    if e == 0.5:
        return (lambda out, a: np.sqrt(a, out=out)), True
    if e == -1.0:
        return (lambda out, a: np.reciprocal(a, out=out)), True
    if e == 1.0:
        return (lambda out, a: a), False
    ev = dt.type(e)
    return (lambda out, a: np.power(a, ev, out=out)), True


def _clip(attrs, ins, oshape, dt):
    lo, hi = dt.type(attrs["lo"]), dt.type(attrs["hi"])
    return (lambda out, a: np.clip(a, lo, hi, out=out)), True


def _dot(attrs, ins, oshape, dt):
    if len(oshape) == 0:
        def fn(out, a, b):
            out[...] = np.dot(a, b)
            return out
        return fn, True
    return (lambda out, a, b: np.dot(a, b, out=out)), True


def _reduce(np_fn):
    def factory(attrs, ins, oshape, dt):
        axis, keep = attrs["axis"], attrs["keepdims"]
        if len(oshape) == 0:
            def fn0(out, a):
                out[...] = np_fn(a, axis=axis)
                return out
            return fn0, True
        return (lambda out, a: np_fn(a, axis=axis, keepdims=keep, out=out)), True
    return factory


def _mean(attrs, ins, oshape, dt):
    # add.reduce + one scale: np.mean's python wrapper costs more than the sum itself here
    axis, keep = attrs["axis"], attrs["keepdims"]
    axes = tuple(range(len(ins[0]))) if axis is None else axis
    n = int(np.prod([ins[0][i] for i in axes], dtype=np.int64))
    scale = dt.type(1.0 / n) if n else dt.type(np.nan)

    def fn(out, a):
        np.add.reduce(a, axis=axis, keepdims=keep, out=out)
        return np.multiply(out, scale, out=out)
    return fn, True


def _transpose(attrs, ins, oshape, dt):
    perm = attrs["perm"]
    return (lambda out, a: a.transpose(perm)), False


def _reshape(attrs, ins, oshape, dt):
    return (lambda out, a: a.reshape(oshape)), False


def _softmax(attrs, ins, oshape, dt):
    axis = attrs.get("axis", -1)
    red = list(oshape)
    red[axis] = 1
    m = np.empty(red, dt)

    def fn(out, a):
        np.max(a, axis=axis, keepdims=True, out=m)
        np.subtract(a, m, out=out)
        np.exp(out, out=out)
        np.sum(out, axis=axis, keepdims=True, out=m)
        return np.divide(out, m, out=out)
    return fn, True


# ---- gradient-only kernels

def _sum_to(attrs, ins, oshape, dt):
    g = ins[0]
    if tuple(g) == tuple(oshape):
        return (lambda out, a, ref: a), False
    lead = len(g) - len(oshape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(oshape) if d == 1 and g[lead + i] != 1)
    keep_shape = tuple(1 if i in axes else d for i, d in enumerate(g))

    def fn(out, a, ref):
        np.sum(a, axis=axes, keepdims=True, out=out.reshape(keep_shape))
        return out
    return fn, True


def _expand(attrs, ins, oshape, dt):
    axis, _keep = attrs["axis"], attrs["keepdims"]
    axes = tuple(range(len(oshape))) if axis is None else axis
    kshape = tuple(1 if i in axes else d for i, d in enumerate(oshape))
    scale = 1.0
    if attrs.get("mean"):
        n = int(np.prod([oshape[i] for i in axes], dtype=np.int64))
        scale = 1.0 / max(n, 1)
    s = dt.type(scale)

    def fn(out, g, ref):
        np.multiply(g.reshape(kshape), s, out=out)
        return out
    return fn, True


def _sigmoid_grad(attrs, ins, oshape, dt):
    def fn(out, s, g):  # g * s * (1 - s)
        np.subtract(1, s, out=out)
        np.multiply(out, s, out=out)
        return np.multiply(out, g, out=out)
    return fn, True


def _relu_grad(attrs, ins, oshape, dt):
    zero = dt.type(0)

    def fn(out, a, g):
        np.multiply(g, a > zero, out=out)
        return out
    return fn, True


_CMP = {"ge": np.greater_equal, "gt": np.greater, "le": np.less_equal, "lt": np.less}


def _cmp(attrs, ins, oshape, dt):
    f = _CMP[attrs["cmp"]]

    def fn(out, a, b):
        np.copyto(out, f(a, b))
        return out
    return fn, True


def _clip_grad(attrs, ins, oshape, dt):
    lo, hi = dt.type(attrs["lo"]), dt.type(attrs["hi"])

    def fn(out, a, g):
        np.multiply(g, (a >= lo) & (a <= hi), out=out)
        return out
    return fn, True


def _max_grad(attrs, ins, oshape, dt):
    axis = attrs["axis"]
    ashape = ins[0]
    axes = tuple(range(len(ashape))) if axis is None else axis
    kshape = tuple(1 if i in axes else d for i, d in enumerate(ashape))

    def fn(out, a, m, g):
        np.multiply(g.reshape(kshape), a == m.reshape(kshape), out=out)
        return out
    return fn, True


def _outer(attrs, ins, oshape, dt):
    return (lambda out, a, b: np.multiply.outer(a, b, out=out)), True


def _reshape_like(attrs, ins, oshape, dt):
    return (lambda out, g, ref: g.reshape(oshape)), False


def _zeros_like(attrs, ins, oshape, dt):
    def fn(out, a):
        out.fill(0)
        return out
    return fn, True


FACTORIES: dict[str, Callable] = {
    "add": _binary(np.add), "sub": _binary(np.subtract), "mul": _binary(np.multiply),
    "div": _binary(np.divide), "maximum": _binary(np.maximum), "minimum": _binary(np.minimum),
    "neg": _unary(np.negative), "exp": _unary(np.exp), "log": _unary(np.log), "tanh": _unary(np.tanh),
    "sqrt": _unary(np.sqrt), "abs": _unary(np.abs), "sign": _unary(np.sign),
    "sigmoid": _sigmoid, "softplus": _softplus, "relu": _relu, "pow": _pow, "clip": _clip, "dot": _dot,
    "sum": _reduce(np.sum), "mean": _mean, "max": _reduce(np.max),
    "transpose": _transpose, "reshape": _reshape, "softmax": _softmax,
    "sum_to": _sum_to, "expand": _expand, "sigmoid_grad": _sigmoid_grad, "relu_grad": _relu_grad,
    "cmp": _cmp, "clip_grad": _clip_grad, "max_grad": _max_grad, "outer": _outer,
    "reshape_like": _reshape_like, "zeros_like": _zeros_like,
}


def make(op: str, attrs: dict, in_shapes: list[tuple], out_shape: tuple,
         dtype: np.dtype) -> tuple[Kernel, bool]:
    return FACTORIES[op](attrs, in_shapes, tuple(out_shape), np.dtype(dtype))


def evaluate(op: str, attrs: dict, inputs: list[np.ndarray], out_shape: tuple, dtype: np.dtype) -> np.ndarray:
    """One-off evaluation (constant folding, reference checks): same kernels as compiled code."""
    fn, needs = make(op, attrs, [i.shape for i in inputs], out_shape, dtype)
    out = np.empty(out_shape, dtype) if needs else None
    with np.errstate(all="ignore"):
        return np.array(fn(out, *inputs), dtype=dtype)
