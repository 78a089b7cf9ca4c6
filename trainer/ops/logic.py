"""Comparisons, logic, selection and casts: the ops whose results are bool or change dtype.

Comparisons give bool tensors (Theano's dtype for them; the format stores them as int32 0/1).
They and the logic ops carry no gradient: nothing flows through a bool or integer value
(`trainer.gradient` stops at discrete dtypes), so their rows return None per operand.
"""

from __future__ import annotations

import numpy as np

from tessera.trainer.graph import Variable, apply
from tessera.trainer.opdef import (
    DTYPES,
    OpDef,
    OpDTypeError,
    bool_result,
    broadcast,
    broadcast_shapes,
    is_float,
    numeric_result,
    register,
    same_shape,
    ufunc_kernel,
)
from tessera.trainer.ops.elementwise import unbroadcast


def no_grad(n: Variable, g: Variable) -> list:
    """The row of an op through which no gradient flows (discrete result)."""
    return [None] * len(n.inputs)


def _logic_result(dtypes: list) -> np.dtype:
    dt = np.dtype(np.result_type(*dtypes))
    if dt.kind not in "biu" or dt not in DTYPES:
        raise OpDTypeError(f"needs bool or integer operands, got {', '.join(str(d) for d in dtypes)} "
                           "(compare first, e.g. T.gt(x, 0))")
    return dt


def _switch_shape(shapes, attrs):
    return broadcast(broadcast(shapes[0], shapes[1]), shapes[2])


def _switch_dtype(dtypes: list) -> np.dtype:
    return numeric_result(dtypes[1:])


def _switch(attrs, ins, oshape, dt):
    def fn(out, c, a, b):
        if c.dtype != np.bool_:
            c = c != 0  # any nonzero condition is true, as in Theano (and the format's Where)
        np.copyto(out, b)
        np.copyto(out, a, where=c)
        return out
    return fn, True


def _g_switch(n: Variable, g: Variable) -> list:
    c, a, b = n.inputs
    return [None, unbroadcast(apply("switch", c, g, 0), a), unbroadcast(apply("switch", c, 0, g), b)]


def _cast(attrs, ins, oshape, dt):
    if dt == np.bool_:
        return (lambda out, a: np.not_equal(a, 0, out=out)), True
    if dt.kind in "iu":
        info = np.iinfo(dt)
        # As the format's Cast: truncation toward zero, NaN -> 0, out of range saturates. The
        # int64 bound is the largest float64 below 2**63 (2**63 itself does not convert).
        lo, hi = float(info.min), float(np.nextafter(float(info.max), 0.0)) if dt.itemsize == 8 else float(info.max)

        def fn(out, a):
            if a.dtype.kind in "biu":
                np.copyto(out, a, casting="unsafe")
                return out
            t = np.trunc(a.astype(np.float64))
            np.nan_to_num(t, copy=False, nan=0.0, posinf=hi, neginf=lo)
            np.clip(t, lo, hi, out=t)
            np.copyto(out, t, casting="unsafe")
            return out
        return fn, True

    def fl(out, a):
        np.copyto(out, a, casting="unsafe")
        return out
    return fl, True


def _g_cast(n: Variable, g: Variable) -> list:
    x = n.inputs[0]
    if not is_float(x.dtype):
        return [None]
    return [apply("cast", g, dtype=x.dtype.name)]


def _cmp_row(name: str, ufunc: np.ufunc) -> OpDef:
    return OpDef(name, 2, broadcast_shapes, ufunc_kernel(ufunc, 2), no_grad, dtype=bool_result)


register(
    _cmp_row("gt", np.greater),
    _cmp_row("ge", np.greater_equal),
    _cmp_row("lt", np.less),
    _cmp_row("le", np.less_equal),
    _cmp_row("eq", np.equal),
    _cmp_row("neq", np.not_equal),
    # bitwise on integers and logical on bools, as Theano's and_/or_/invert
    OpDef("and_", 2, broadcast_shapes, ufunc_kernel(np.bitwise_and, 2), no_grad, dtype=_logic_result),
    OpDef("or_", 2, broadcast_shapes, ufunc_kernel(np.bitwise_or, 2), no_grad, dtype=_logic_result),
    OpDef("invert", 1, same_shape, ufunc_kernel(np.invert, 1), no_grad, dtype=_logic_result),
    OpDef("switch", 3, _switch_shape, _switch, _g_switch, dtype=_switch_dtype),  # (cond, a, b)
    OpDef("cast", 1, same_shape, _cast, _g_cast, dtype_attr="dtype"),  # attrs {"dtype": dtype name}
)
