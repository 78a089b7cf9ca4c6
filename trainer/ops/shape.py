"""Layout ops: transpose and reshape (views: they need no buffer) and reshape_like for gradients."""

from __future__ import annotations

import numpy as np

from trainer.graph import Variable, apply
from trainer.opdef import OpDef, OpShapeError, dtype_of, fmt, register, shape_of


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


register(
    OpDef("transpose", 1, _transpose_shape, _transpose, _g_transpose),  # attrs {"perm": tuple}
    OpDef("reshape", 1, _reshape_shape, _reshape,  # attrs {"shape": tuple, one -1 allowed}
          lambda n, g: [apply("reshape_like", g, n.inputs[0])]),
    # gradient-only: reshape_like(g, ref) is g with ref's shape
    OpDef("reshape_like", 2, shape_of(1), _reshape_like, dtype=dtype_of(1), forward=False, shape_operands=(1,)),
)
