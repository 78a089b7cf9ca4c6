"""Layout ops: transpose, reshape, flatten, dimshuffle (views: they need no buffer), concatenate,
the symbolic shape and arange, fill (zeros_like/ones_like), and the gradient-only ops they need."""

from __future__ import annotations

import numpy as np

from tessera.trainer.graph import Variable, apply
from tessera.trainer.opdef import (
    MAX_OPERANDS,
    OpDef,
    OpDTypeError,
    OpShapeError,
    dtype_of,
    fixed_dtype,
    fmt,
    numeric_result,
    register,
    same_shape,
    shape_of,
)


def _transpose_shape(shapes, attrs):
    (a,) = shapes
    perm = attrs["perm"]
    if sorted(perm) != list(range(len(a))):
        raise OpShapeError(f"perm {perm} is not a permutation of the axes of {fmt(a)}")
    return tuple(a[p] for p in perm)


def _reshape_shape(shapes, attrs):
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
            raise OpShapeError(f"cannot reshape {fmt(a)} to {shape}")
        return tuple(n // known if s == -1 else s for s in shape)
    if known != n:
        raise OpShapeError(f"cannot reshape {fmt(a)} ({n} elements) to {shape}")
    return shape


def _g_transpose(n: Variable, g: Variable) -> list:
    perm = n.attrs["perm"]
    inv = tuple(perm.index(i) for i in range(len(perm)))
    return [apply("transpose", g, perm=inv)]


def _transpose(attrs, ins, oshape, dt):
    perm = attrs["perm"]
    return (lambda out, a: a.transpose(perm)), False


def _reshape(attrs, ins, oshape, dt):
    return (lambda out, a: a.reshape(oshape)), False


def _reshape_like(attrs, ins, oshape, dt):
    return (lambda out, g, ref: g.reshape(oshape)), False


def _flatten_shape(shapes, attrs):
    (a,) = shapes
    nd = attrs["ndim"]
    if not 1 <= nd <= max(len(a), 1):
        raise OpShapeError(f"flatten(ndim={nd}) of a {len(a)}-d tensor")
    rest = a[nd - 1:]
    n = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
    return tuple(a[:nd - 1]) + (n,)


def _flatten(attrs, ins, oshape, dt):
    return (lambda out, a: a.reshape(oshape)), False


def _ds_parts(pattern: tuple, ndim: int) -> tuple[list, list]:
    kept = [p for p in pattern if p != "x"]
    if any(not isinstance(p, int) or not 0 <= p < ndim for p in kept) or len(set(kept)) != len(kept):
        raise OpShapeError(f"dimshuffle pattern {pattern} is not valid for a {ndim}-d tensor")
    return kept, [i for i in range(ndim) if i not in kept]


def _dimshuffle_shape(shapes, attrs):
    (a,) = shapes
    pattern = attrs["pattern"]
    kept, dropped = _ds_parts(pattern, len(a))
    for i in dropped:
        if a[i] is not None and a[i] != 1:
            raise OpShapeError(f"dimshuffle {pattern} drops axis {i} of {fmt(a)}, which is not of length 1")
    return tuple(1 if p == "x" else a[p] for p in pattern)


def _dimshuffle(attrs, ins, oshape, dt):
    pattern = attrs["pattern"]
    kept, dropped = _ds_parts(pattern, len(ins[0]))
    rank = {ax: j for j, ax in enumerate(i for i in range(len(ins[0])) if i not in dropped)}
    perm = tuple(rank[p] for p in kept)
    new = tuple(j for j, p in enumerate(pattern) if p == "x")

    def fn(out, a):  # squeeze, transpose, insert: all views
        b = np.squeeze(a, axis=tuple(dropped)) if dropped else a
        b = b.transpose(perm)
        return np.expand_dims(b, new) if new else b
    return fn, False


def _g_dimshuffle(n: Variable, g: Variable) -> list:
    pattern = n.attrs["pattern"]
    inv = tuple(j for _p, j in sorted((p, j) for j, p in enumerate(pattern) if p != "x"))
    back = apply("dimshuffle", g, pattern=inv)
    return [apply("reshape_like", back, n.inputs[0])]


def _concat_shape(shapes, attrs):
    axis = attrs["axis"]
    r = len(shapes[0])
    if not 0 <= axis < r or any(len(s) != r for s in shapes):
        raise OpShapeError(f"concatenate along axis {axis} needs operands of one rank >= {axis + 1}, got "
                           + ", ".join(fmt(s) for s in shapes))
    out: list = [None] * r
    total: int | None = 0
    for s in shapes:
        total = None if total is None or s[axis] is None else total + s[axis]
        for i in range(r):
            if i == axis or s[i] is None:
                continue
            if out[i] is not None and out[i] != s[i]:
                raise OpShapeError("concatenate: shapes " + ", ".join(fmt(t) for t in shapes)
                                   + f" differ outside axis {axis}")
            out[i] = s[i]
    out[axis] = total
    return tuple(out)


def _concat(attrs, ins, oshape, dt):
    axis = attrs["axis"]
    return (lambda out, *xs: np.concatenate(xs, axis=axis, out=out)), True


def _g_concat(n: Variable, g: Variable) -> list:
    return [apply("concat_grad", g, *n.inputs, axis=n.attrs["axis"], k=k) for k in range(len(n.inputs))]


def _concat_grad_shape(shapes, attrs):
    return tuple(shapes[1 + attrs["k"]])


def _concat_grad(attrs, ins, oshape, dt):
    axis, k = attrs["axis"], attrs["k"]
    off = sum(s[axis] for s in ins[1:1 + k])
    key = (slice(None),) * axis + (slice(off, off + oshape[axis]),)
    return (lambda out, g, *refs: g[key]), False


def _shape(attrs, ins, oshape, dt):
    value = np.array(ins[0], dtype=np.int64)

    def fn(out, a):
        out[...] = value
        return out
    return fn, True


def _arange_dtype(dtypes: list) -> np.dtype:
    dt = np.dtype(np.result_type(*dtypes))
    if dt.kind not in "iuf":
        raise OpDTypeError(f"arange of {dt}")
    return np.dtype(np.int64) if dt.kind in "iu" else dt


def _arange_values(values: list) -> tuple | None:
    if any(v is None for v in values):
        return None
    return tuple(np.asarray(v).item() for v in values)


def _arange_shape(shapes, attrs, values):
    for s in shapes:
        if len(s) != 0:
            raise OpShapeError(f"arange bounds must be scalars, got {fmt(s)}")
    vals = _arange_values(values)
    if vals is None:
        return (None,)
    if vals[2] == 0:
        raise OpShapeError("arange step is 0")
    return (int(np.arange(*vals).size),)


def _arange(attrs, ins, oshape, dt):
    def fn(out, start, stop, step):
        out[...] = np.arange(start.item(), stop.item(), step.item(), dtype=dt)
        return out
    return fn, True


def _fill(attrs, ins, oshape, dt):
    value = dt.type(attrs["value"])

    def fn(out, a):
        out.fill(value)
        return out
    return fn, True


register(
    OpDef("transpose", 1, _transpose_shape, _transpose, _g_transpose, dtype=dtype_of(0)),  # {"perm": tuple}
    OpDef("reshape", 1, _reshape_shape, _reshape,  # attrs {"shape": tuple, one -1 allowed}
          lambda n, g: [apply("reshape_like", g, n.inputs[0])], dtype=dtype_of(0)),
    OpDef("flatten", 1, _flatten_shape, _flatten,  # attrs {"ndim": int}: keep ndim-1 leading axes
          lambda n, g: [apply("reshape_like", g, n.inputs[0])], dtype=dtype_of(0)),
    OpDef("dimshuffle", 1, _dimshuffle_shape, _dimshuffle, _g_dimshuffle,  # {"pattern": ints and "x"}
          dtype=dtype_of(0)),
    OpDef("concatenate", 1, _concat_shape, _concat, _g_concat, dtype=numeric_result,  # {"axis": int}
          variadic=True),
    # x.shape as an int64 vector; its value is known when a plan is made (concrete shapes)
    OpDef("shape", 1, lambda shapes, attrs: (len(shapes[0]),), _shape, lambda n, g: [None],
          dtype=fixed_dtype(np.int64), shape_operands=(0,)),
    OpDef("arange", 3, _arange_shape, _arange, lambda n, g: [None, None, None],  # (start, stop, step)
          dtype=_arange_dtype, value_operands=(0, 1, 2)),
    # zeros_like / ones_like: attrs {"value": float, "dtype": name}; the operand gives the shape
    OpDef("fill", 1, same_shape, _fill, lambda n, g: [None], dtype_attr="dtype", shape_operands=(0,), fold=False),
    # gradient-only: concat_grad(g, x_0, ..., x_n-1) {"axis", "k"} is the part of g that is x_k's
    OpDef("concat_grad", 2, _concat_grad_shape, _concat_grad, dtype=dtype_of(0), forward=False, variadic=True,
          shape_operands=tuple(range(1, MAX_OPERANDS))),
    # gradient-only: reshape_like(g, ref) is g with ref's shape
    OpDef("reshape_like", 2, shape_of(1), _reshape_like, dtype=dtype_of(1), forward=False, shape_operands=(1,)),
)
