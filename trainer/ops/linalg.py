"""Products: dot (numpy.dot on 1-D/2-D operands) and the gradient-only outer product."""

from __future__ import annotations

import math

import numpy as np

from tessera.trainer.graph import Variable, apply
from tessera.trainer.opdef import OpDef, OpShapeError, fmt, register


def _dot_shape(shapes, attrs):
    a, b = shapes
    if not (1 <= len(a) <= 2 and 1 <= len(b) <= 2):
        raise OpShapeError(f"dot needs 1-d or 2-d operands, got {fmt(a)} and {fmt(b)}")
    k1, k2 = a[-1], b[0]
    if k1 is not None and k2 is not None and k1 != k2:
        raise OpShapeError(f"shapes {fmt(a)} and {fmt(b)} not aligned: "
                           f"{k1} (dim {len(a) - 1}) != {k2} (dim 0)")
    return tuple(a[:-1]) + tuple(b[1:])


def _outer_shape(shapes, attrs):
    a, b = shapes
    if len(a) != 1 or len(b) != 1:
        raise OpShapeError("outer needs 1-d operands")
    return (a[0], b[0])


def _g_dot(n: Variable, g: Variable) -> list:
    a, b = n.inputs
    if a.ndim == 2 and b.ndim == 2:
        return [apply("dot", g, b.T), apply("dot", a.T, g)]
    if a.ndim == 1 and b.ndim == 2:
        return [apply("dot", b, g), apply("outer", a, g)]
    if a.ndim == 2 and b.ndim == 1:
        return [apply("outer", g, b), apply("dot", a.T, g)]
    return [g * b, g * a]  # vector . vector -> scalar


MATMUL_MIN = 1 << 14  # output elements


def _dot(attrs, ins, oshape, dt):
    if len(oshape) == 0:
        def fn(out, a, b):
            out[...] = np.dot(a, b)
            return out
        return fn, True
    if len(ins[0]) == 2 and len(ins[1]) == 2 and math.prod(oshape) >= MATMUL_MIN:
        # matmul: the same BLAS call as dot, without dot's zeroing pass over `out` first (which
        # costs more than matmul's slower dispatch from this size on)
        return (lambda out, a, b: np.matmul(a, b, out=out)), True
    return (lambda out, a, b: np.dot(a, b, out=out)), True


def _outer(attrs, ins, oshape, dt):
    return (lambda out, a, b: np.multiply.outer(a, b, out=out)), True


register(
    OpDef("dot", 2, _dot_shape, _dot, _g_dot),
    OpDef("outer", 2, _outer_shape, _outer, forward=False),
)
