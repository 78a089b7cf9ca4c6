"""Reductions over axes (sum, mean, max), softmax, and their gradient-only ops.

Reduction attrs: {"axis": tuple of axes | None (all), "keepdims": bool}.
"""

from __future__ import annotations

import numpy as np

from tessera.trainer.graph import Variable, apply
from tessera.trainer.opdef import (
    DTYPES,
    OpDef,
    OpDTypeError,
    OpShapeError,
    dtype_of,
    fixed_dtype,
    float_result,
    fmt,
    reduced_axes,
    register,
    shape_of,
)


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


def _sum_dtype(dtypes: list) -> np.dtype:
    """Floats keep their dtype; integer and bool sums accumulate in int64 (Theano's rule)."""
    dt = np.dtype(dtypes[0])
    if dt not in DTYPES:
        raise OpDTypeError(f"unsupported dtype {dt}")
    return dt if dt.kind == "f" else np.dtype(np.int64)


def _same_dtype(dtypes: list) -> np.dtype:
    dt = np.dtype(dtypes[0])
    if dt not in DTYPES:
        raise OpDTypeError(f"unsupported dtype {dt}")
    return dt


def _arg_shape(shapes, attrs):
    (a,) = shapes
    axis = attrs["axis"]
    if axis is None:
        return (1,) * len(a) if attrs["keepdims"] else ()
    return _reduce_shape(shapes, {"axis": (axis,), "keepdims": attrs["keepdims"]})


def _softmax_shape(shapes, attrs):
    (a,) = shapes
    if len(a) == 0:
        raise OpShapeError("softmax needs at least 1-d input")
    return tuple(a)


def _red_attrs(n: Variable) -> dict:
    return {"axis": n.attrs["axis"], "keepdims": n.attrs["keepdims"]}


def _g_softmax(n: Variable, g: Variable) -> list:
    return [n * (g - (g * n).sum(axis=n.ndim - 1, keepdims=True))]


def _g_log_softmax(n: Variable, g: Variable) -> list:
    # d/dz of log_softmax: g - softmax(z) * sum(g). For the cross-entropy -log_softmax(z)[y]
    # this is softmax(z) - onehot(y): finite for any finite logits.
    return [apply("log_softmax_grad", n, g)]


def _g_prod(n: Variable, g: Variable) -> list:
    return [apply("prod_grad", n.inputs[0], g, **_red_attrs(n))]


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


def last_axis_reducer(ufunc: np.ufunc, shape: tuple, dt: np.dtype):
    """fn(a, out) writing ufunc.reduce of `a` over its last axis into `out` (shape[:-1] + (1,)).

    numpy reduces a contiguous short last axis row by row; for a matrix with few columns (class
    scores) a transposed copy reduced across rows is about twice as fast."""
    if len(shape) == 2 and 1 <= shape[1] <= 64 and shape[0] >= 8:
        t = np.empty((shape[1], shape[0]), dt)

        def fn(a, out):
            np.copyto(t, a.T)
            ufunc.reduce(t, axis=0, out=out.reshape(-1))
            return out
        return fn

    def plain(a, out):
        ufunc.reduce(a, axis=-1, keepdims=True, out=out)
        return out
    return plain


def _log_softmax(attrs, ins, oshape, dt):
    red = tuple(oshape[:-1]) + (1,)
    m = np.empty(red, dt)
    e = np.empty(oshape, dt)
    row_max = last_axis_reducer(np.maximum, oshape, dt)
    row_sum = last_axis_reducer(np.add, oshape, dt)

    def fn(out, a):
        # x - max - log(sum(exp(x - max))): no exp overflows, no log of 0 for finite logits
        row_max(a, m)
        np.subtract(a, m, out=out)
        np.exp(out, out=e)
        row_sum(e, m)
        np.log(m, out=m)
        return np.subtract(out, m, out=out)
    return fn, True


def _log_softmax_grad(attrs, ins, oshape, dt):
    s = np.empty(tuple(oshape[:-1]) + (1,), dt)
    row_sum = last_axis_reducer(np.add, oshape, dt)

    def fn(out, n, g):  # g - exp(n) * sum(g): softmax(z) * (-sum g) + g
        row_sum(g, s)
        np.exp(n, out=out)
        np.multiply(out, s, out=out)
        return np.subtract(g, out, out=out)
    return fn, True


def _arg(np_fn):
    def factory(attrs, ins, oshape, dt):
        axis = attrs["axis"]

        def fn(out, a):
            # numpy's argmax/argmin: the first NaN wins, ties keep the first index (as the format)
            out[...] = np_fn(a, axis=axis).reshape(out.shape)
            return out
        return fn, True
    return factory


def _prod_grad(attrs, ins, oshape, dt):
    ashape = tuple(ins[0])
    axes = reduced_axes(len(ashape), attrs["axis"])
    kept = [i for i in range(len(ashape)) if i not in axes]
    perm = kept + list(axes)
    inv = tuple(perm.index(i) for i in range(len(perm)))
    kshape = tuple(1 if i in axes else d for i, d in enumerate(ashape))
    lead = tuple(ashape[i] for i in kept)

    def fn(out, a, g):
        # the product of all the other elements, without dividing (exact with zeros)
        b = a.transpose(perm).reshape(lead + (-1,))
        left = np.ones_like(b)
        right = np.ones_like(b)
        if b.shape[-1] > 1:
            np.cumprod(b[..., :-1], axis=-1, out=left[..., 1:])
            np.cumprod(b[..., :0:-1], axis=-1, out=right[..., -2::-1])
        others = (left * right).reshape(tuple(ashape[i] for i in perm)).transpose(inv)
        np.multiply(others, g.reshape(kshape), out=out)
        return out
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
          lambda n, g: [apply("expand", g, n.inputs[0], mean=False, **_red_attrs(n))], dtype=_sum_dtype),
    OpDef("mean", 1, _reduce_shape, _mean,
          lambda n, g: [apply("expand", g, n.inputs[0], mean=True, **_red_attrs(n))], dtype=float_result),
    OpDef("max", 1, _reduce_shape, _reduce(np.max),
          lambda n, g: [apply("max_grad", n.inputs[0], n, g, **_red_attrs(n))], dtype=_same_dtype),
    # min's gradient goes to the minima: max_grad routes g to where a equals the reduced value
    OpDef("min", 1, _reduce_shape, _reduce(np.min),
          lambda n, g: [apply("max_grad", n.inputs[0], n, g, **_red_attrs(n))], dtype=_same_dtype),
    OpDef("prod", 1, _reduce_shape, _reduce(np.prod), _g_prod, dtype=_sum_dtype),
    # attrs {"axis": int | None (flattened), "keepdims": bool}; int64 indices as Theano
    OpDef("argmax", 1, _arg_shape, _arg(np.argmax), lambda n, g: [None], dtype=fixed_dtype(np.int64)),
    OpDef("argmin", 1, _arg_shape, _arg(np.argmin), lambda n, g: [None], dtype=fixed_dtype(np.int64)),
    OpDef("softmax", 1, _softmax_shape, _softmax, _g_softmax),  # attrs {"axis": -1}
    OpDef("log_softmax", 1, _softmax_shape, _log_softmax, _g_log_softmax),  # attrs {"axis": -1}
    # gradient-only. expand(g, ref): g (reduced over axis) broadcast back to ref's shape,
    # times 1/count when "mean"; max_grad(a, max(a), g): g routed to the maxima.
    OpDef("expand", 2, shape_of(1), _expand, dtype=dtype_of(1), forward=False, shape_operands=(1,)),
    OpDef("max_grad", 3, shape_of(0), _max_grad, forward=False),
    OpDef("prod_grad", 2, shape_of(0), _prod_grad, forward=False),  # (a, g) -> g * product of the others
    OpDef("log_softmax_grad", 2, shape_of(0), _log_softmax_grad, forward=False),  # (n, g) -> g - exp(n)*sum(g)
)
