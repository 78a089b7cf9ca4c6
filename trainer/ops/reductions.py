"""Reductions over axes (sum, mean, max), softmax, and their gradient-only ops.

Reduction attrs: {"axis": tuple of axes | None (all), "keepdims": bool}.
"""

from __future__ import annotations

import numpy as np

from trainer.graph import Variable, apply
from trainer.opdef import OpDef, OpShapeError, dtype_of, fmt, reduced_axes, register, shape_of


def _reduce_shape(shapes, attrs):
    (a,) = shapes
    axis, keep = attrs["axis"], attrs["keepdims"]
    axes = reduced_axes(len(a), axis)
    for ax in axes:
        if not 0 <= ax < len(a):
            raise OpShapeError(f"axis {ax} out of range for {fmt(a)}")
    if keep:
        return tuple(1 if i in axes else d for i, d in enumerate(a))
    return tuple(d for i, d in enumerate(a) if i not in axes)


def _softmax_shape(shapes, attrs):
    (a,) = shapes
    if len(a) == 0:
        raise OpShapeError("softmax needs at least 1-d input")
    return tuple(a)


def _red_attrs(n: Variable) -> dict:
    return {"axis": n.attrs["axis"], "keepdims": n.attrs["keepdims"]}


def _g_softmax(n: Variable, g: Variable) -> list:
    return [n * (g - (g * n).sum(axis=n.ndim - 1, keepdims=True))]


# ---------------------------------------------------------------- kernel factories

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
    n = int(np.prod([ins[0][i] for i in reduced_axes(len(ins[0]), axis)], dtype=np.int64))
    scale = dt.type(1.0 / n) if n else dt.type(np.nan)

    def fn(out, a):
        np.add.reduce(a, axis=axis, keepdims=keep, out=out)
        return np.multiply(out, scale, out=out)
    return fn, True


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


def _expand(attrs, ins, oshape, dt):
    axes = reduced_axes(len(oshape), attrs["axis"])
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


def _max_grad(attrs, ins, oshape, dt):
    ashape = ins[0]
    axes = reduced_axes(len(ashape), attrs["axis"])
    kshape = tuple(1 if i in axes else d for i, d in enumerate(ashape))

    def fn(out, a, m, g):
        np.multiply(g.reshape(kshape), a == m.reshape(kshape), out=out)
        return out
    return fn, True


# ---------------------------------------------------------------- the rows

register(
    OpDef("sum", 1, _reduce_shape, _reduce(np.sum),
          lambda n, g: [apply("expand", g, n.inputs[0], mean=False, **_red_attrs(n))]),
    OpDef("mean", 1, _reduce_shape, _mean,
          lambda n, g: [apply("expand", g, n.inputs[0], mean=True, **_red_attrs(n))]),
    OpDef("max", 1, _reduce_shape, _reduce(np.max),
          lambda n, g: [apply("max_grad", n.inputs[0], n, g, **_red_attrs(n))]),
    OpDef("softmax", 1, _softmax_shape, _softmax, _g_softmax),  # attrs {"axis": -1}
    # gradient-only. expand(g, ref): g (reduced over axis) broadcast back to ref's shape,
    # times 1/count when "mean"; max_grad(a, max(a), g): g routed to the maxima.
    OpDef("expand", 2, shape_of(1), _expand, dtype=dtype_of(1), forward=False, shape_operands=(1,)),
    OpDef("max_grad", 3, shape_of(0), _max_grad, forward=False),
)
