"""Elementwise ops: broadcasting binaries, unary math, and the gradient-only ops they need.

One row per op: `register(OpDef(name, arity, shape rule, kernel, gradient rule, ...))`. A
gradient rule gets the node `n` (its inputs are `n.inputs`; `n` itself is the forward value)
and `g`, the gradient of the cost with respect to `n`, and returns one gradient per input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tessera.trainer import fused_native
from tessera.trainer.graph import Variable, apply
from tessera.trainer.opdef import (
    GradRule,
    OpDef,
    broadcast_shapes,
    dtype_of,
    float_result,
    numeric_result,
    register,
    same_shape,
    shape_of,
    ufunc_kernel,
)


def unary(name: str, ufunc: np.ufunc, grad: GradRule | None, **kw: Any) -> OpDef:
    """Row of a unary op whose kernel is a numpy ufunc: same shape in and out."""
    return OpDef(name, 1, same_shape, ufunc_kernel(ufunc, 1), grad, **kw)


def binary(name: str, ufunc: np.ufunc, grad: GradRule | None, **kw: Any) -> OpDef:
    """Row of a broadcasting binary op whose kernel is a numpy ufunc."""
    return OpDef(name, 2, broadcast_shapes, ufunc_kernel(ufunc, 2), grad, **kw)


def unbroadcast(g: Variable, ref: Variable) -> Variable:
    """g summed down to ref's shape (the gradient of an operand that was broadcast)."""
    # Statically equal, fully known shapes need no reduction; otherwise decide at plan time.
    if g.shape == ref.shape and None not in g.shape and g.dtype == ref.dtype:
        return g
    return apply("sum_to", g, ref)


def _cmp(n: Variable, how: str) -> Variable:
    return apply("cmp", *n.inputs, cmp=how)


# ---------------------------------------------------------------- kernels shared with trainer.fusions

def twice_sigmoid(dt: np.dtype) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """fn(a, out) writing 2*sigmoid(a) = tanh(a/2) + 1: numpy's SIMD tanh makes this the fastest
    stable form (nothing overflows). Constants are dtype scalars: python ones cost more per call."""
    half, one = dt.type(0.5), dt.type(1)

    def fn(a: np.ndarray, out: np.ndarray) -> np.ndarray:
        np.multiply(a, half, out=out)
        np.tanh(out, out=out)
        return np.add(out, one, out=out)
    return fn


def softplus_tail_into(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = log1p(exp(-|a|)) = softplus(a) - max(a, 0), the part of softplus that never overflows."""
    np.abs(a, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    return np.log1p(out, out=out)


# ---------------------------------------------------------------- kernel factories

def _sigmoid(attrs, ins, oshape, dt):
    twice, half = twice_sigmoid(dt), dt.type(0.5)
    # (tanh(a/2) + 1) * 0.5 is bit for bit 0.5*tanh(a/2) + 0.5: scaling by 2 is exact.
    def numpy_fn(out, a):
        return np.multiply(twice(a, out), half, out=out)
    fused = fused_native.native(dt)
    if fused is None:
        return numpy_fn, True
    native = fused.sigmoid

    def fn(out, a):  # one pass; numpy where an operand is not contiguous float32
        return out if native(a, out) else numpy_fn(out, a)
    return fn, True


def _softplus(attrs, ins, oshape, dt):
    scratch = np.empty(oshape, dt)

    def fn(out, a):
        softplus_tail_into(a, out)
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


def _sum_to(attrs, ins, oshape, dt):
    g = ins[0]
    if tuple(g) == tuple(oshape):
        return (lambda out, a, ref: a), False
    lead = len(g) - len(oshape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(oshape) if d == 1 and g[lead + i] != 1)
    keep_shape = tuple(1 if i in axes else d for i, d in enumerate(g))
    rank = len(g)
    n_lead = next((i for i in range(rank) if i not in axes), rank)
    n_trail = next((i for i in range(rank - n_lead) if rank - 1 - i not in axes), rank - n_lead)
    if dt.kind == "f" and axes and set(axes) == set(range(n_lead)) | set(range(rank - n_trail, rank)):
        # leading and/or trailing axes (a dense bias gradient sums the leading ones, a conv bias's
        # N, H and W): ones @ a.reshape(l, m) and a.reshape(m, t) @ ones, BLAS gemv, 4-10x faster
        # than numpy's reductions over such axes; float rounding of another summation order
        lead_n = int(np.prod(g[:n_lead], dtype=np.int64))
        trail_n = int(np.prod(g[rank - n_trail:], dtype=np.int64))
        mid_n = int(np.prod(g[n_lead:rank - n_trail], dtype=np.int64))
        ones_l, ones_t = np.ones(lead_n, dt), np.ones(trail_n, dt)
        rows = np.empty(lead_n * mid_n, dt) if n_lead and n_trail else None

        def gemv(out, a, ref):
            if a.dtype != dt:
                np.sum(a, axis=axes, keepdims=True, out=out.reshape(keep_shape))
            elif not n_trail:
                np.dot(ones_l, a.reshape(lead_n, mid_n), out=out.reshape(-1))
            elif not n_lead:
                np.dot(a.reshape(mid_n, trail_n), ones_t, out=out.reshape(-1))
            else:
                np.dot(a.reshape(lead_n * mid_n, trail_n), ones_t, out=rows)
                np.dot(ones_l, rows.reshape(lead_n, mid_n), out=out.reshape(-1))
            return out
        return gemv, True

    def fn(out, a, ref):
        np.sum(a, axis=axes, keepdims=True, out=out.reshape(keep_shape))
        return out
    return fn, True


_CMP = {"ge": np.greater_equal, "gt": np.greater, "le": np.less_equal, "lt": np.less}


def _cmp_kernel(attrs, ins, oshape, dt):
    f = _CMP[attrs["cmp"]]

    def fn(out, a, b):
        np.copyto(out, f(a, b))
        return out
    return fn, True


def _power(attrs, ins, oshape, dt):
    # dtype= picks the float loop: numpy refuses integers to negative integer powers
    return (lambda out, a, b: np.power(a, b, out=out, dtype=dt)), True


def _g_power(n: Variable, g: Variable) -> list:
    a, b = n.inputs
    return [unbroadcast(g * b * apply("power", a, b - 1), a),
            unbroadcast(g * n * apply("log", a), b)]


def _sigmoid_grad(attrs, ins, oshape, dt):
    def fn(out, s, g):  # g * s * (1 - s)
        np.subtract(1, s, out=out)
        np.multiply(out, s, out=out)
        return np.multiply(out, g, out=out)
    fused = fused_native.native(dt)
    if fused is None or any(tuple(i) != tuple(oshape) for i in ins):
        return fn, True
    native = fused.sigmoid_grad

    def fn_native(out, s, g):  # the same three operations in one pass: the same bits
        return out if native(s, g, out) else fn(out, s, g)
    return fn_native, True


def _relu_grad(attrs, ins, oshape, dt):
    zero = dt.type(0)

    def fn(out, a, g):
        np.multiply(g, a > zero, out=out)
        return out
    return fn, True


def _clip_grad(attrs, ins, oshape, dt):
    lo, hi = dt.type(attrs["lo"]), dt.type(attrs["hi"])

    def fn(out, a, g):
        np.multiply(g, (a >= lo) & (a <= hi), out=out)
        return out
    return fn, True


def _zeros_like(attrs, ins, oshape, dt):
    def fn(out, a):
        out.fill(0)
        return out
    return fn, True


# ---------------------------------------------------------------- the rows

register(
    # integer operands stay integer (labels arithmetic); div and the math functions give floats
    binary("add", np.add, lambda n, g: [unbroadcast(g, n.inputs[0]), unbroadcast(g, n.inputs[1])],
           dtype=numeric_result),
    binary("sub", np.subtract, lambda n, g: [unbroadcast(g, n.inputs[0]), -unbroadcast(g, n.inputs[1])],
           dtype=numeric_result),
    binary("mul", np.multiply, lambda n, g: [unbroadcast(g * n.inputs[1], n.inputs[0]),
                                             unbroadcast(g * n.inputs[0], n.inputs[1])], dtype=numeric_result),
    binary("div", np.divide, lambda n, g: [unbroadcast(g / n.inputs[1], n.inputs[0]),
                                           -unbroadcast(g * n / n.inputs[1], n.inputs[1])]),
    binary("maximum", np.maximum, lambda n, g: [unbroadcast(g * _cmp(n, "ge"), n.inputs[0]),
                                                unbroadcast(g * _cmp(n, "lt"), n.inputs[1])], dtype=numeric_result),
    binary("minimum", np.minimum, lambda n, g: [unbroadcast(g * _cmp(n, "le"), n.inputs[0]),
                                                unbroadcast(g * _cmp(n, "gt"), n.inputs[1])], dtype=numeric_result),
    unary("neg", np.negative, lambda n, g: [-g], dtype=numeric_result),
    unary("exp", np.exp, lambda n, g: [g * n]),
    unary("log", np.log, lambda n, g: [g / n.inputs[0]]),
    unary("tanh", np.tanh, lambda n, g: [g * (1 - n * n)]),
    unary("sqrt", np.sqrt, lambda n, g: [(g * 0.5) / n]),
    unary("abs", np.abs, lambda n, g: [g * apply("sign", n.inputs[0])], dtype=numeric_result),
    unary("log1p", np.log1p, lambda n, g: [g / (1 + n.inputs[0])]),
    unary("expm1", np.expm1, lambda n, g: [g * (n + 1)]),
    OpDef("power", 2, broadcast_shapes, _power, _g_power, dtype=float_result),  # a ** b, b a tensor
    OpDef("sigmoid", 1, same_shape, _sigmoid, lambda n, g: [apply("sigmoid_grad", n, g)]),
    OpDef("softplus", 1, same_shape, _softplus, lambda n, g: [g * apply("sigmoid", n.inputs[0])]),
    OpDef("relu", 1, same_shape, _relu, lambda n, g: [apply("relu_grad", n.inputs[0], g)]),
    OpDef("pow", 1, same_shape, _pow,  # attrs {"exponent": float}
          lambda n, g: [g * (n.attrs["exponent"] * apply("pow", n.inputs[0], exponent=n.attrs["exponent"] - 1))]),
    OpDef("clip", 1, same_shape, _clip,  # attrs {"lo": float, "hi": float}
          lambda n, g: [apply("clip_grad", n.inputs[0], g, lo=n.attrs["lo"], hi=n.attrs["hi"])]),
    # gradient-only
    OpDef("sum_to", 2, shape_of(1), _sum_to, dtype=dtype_of(1), forward=False, shape_operands=(1,)),
    OpDef("cmp", 2, broadcast_shapes, _cmp_kernel, forward=False),  # {"cmp": "ge"|"gt"|"le"|"lt"}, 1.0/0.0
    unary("sign", np.sign, None, forward=False),
    OpDef("sigmoid_grad", 2, broadcast_shapes, _sigmoid_grad, forward=False),  # (s, g) -> g*s*(1-s)
    OpDef("relu_grad", 2, broadcast_shapes, _relu_grad, forward=False),  # (a, g) -> g*(a > 0)
    OpDef("clip_grad", 2, broadcast_shapes, _clip_grad, forward=False),  # (a, g) -> g*(lo <= a <= hi)
    OpDef("zeros_like", 1, same_shape, _zeros_like, forward=False, shape_operands=(0,), fold=False),
)
