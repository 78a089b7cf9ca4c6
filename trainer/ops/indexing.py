"""Indexing: basic slicing (`x[:, 1:3]`, `x[i]`), advanced integer indexing (`W[idx]`,
`p[T.arange(n), y]`), set/inc_subtensor, and their gradient-only ops.

Basic entries are attrs {"idx": tuple of ("slice", start, stop, step) | ("index", i)}, python
ints or None, covering the leading axes (numpy semantics). Advanced indexing takes integer
index tensors as operands: advanced_subtensor(x, i_0, ..., i_k-1) is numpy's x[i_0, ..., i_k-1]
on the leading k axes (index shapes broadcast together; negative indices count from the end;
an index out of range is an error at run time, never a read outside the tensor).
"""

from __future__ import annotations

import numpy as np

from tessera.trainer.graph import Variable, apply
from tessera.trainer.opdef import (
    OpDef,
    OpDTypeError,
    OpShapeError,
    broadcast,
    dtype_of,
    fmt,
    register,
    shape_of,
)
from tessera.trainer.ops.elementwise import unbroadcast


def basic_key(idx: tuple) -> tuple:
    return tuple(slice(e[1], e[2], e[3]) if e[0] == "slice" else int(e[1]) for e in idx)


def _subtensor_shape(shapes, attrs):
    (a,) = shapes
    idx = attrs["idx"]
    if len(idx) > len(a):
        raise OpShapeError(f"too many indices ({len(idx)}) for a {len(a)}-d tensor {fmt(a)}")
    out = []
    for e, d in zip(idx, a, strict=False):
        if e[0] == "index":
            if d is not None and not -d <= e[1] < d:
                raise OpShapeError(f"index {e[1]} is out of range for an axis of length {d}")
            continue
        if e[3] == 0:
            raise OpShapeError("slice step cannot be zero")
        out.append(None if d is None else len(range(*slice(e[1], e[2], e[3]).indices(d))))
    return tuple(out) + tuple(a[len(idx):])


def _subtensor(attrs, ins, oshape, dt):
    key = basic_key(attrs["idx"])
    return (lambda out, a: a[key]), False


def _subtensor_grad(attrs, ins, oshape, dt):
    key = basic_key(attrs["idx"])

    def fn(out, g, ref):
        out.fill(0)
        out[key] = g
        return out
    return fn, True


def _inc_shape(shapes, attrs):
    region = _subtensor_shape(shapes[:1], attrs)
    if len(shapes[1]) > len(region):
        raise OpShapeError(f"the value {fmt(shapes[1])} has more axes than the region {fmt(region)}")
    broadcast(region, shapes[1])
    return tuple(shapes[0])


def _inc_subtensor(attrs, ins, oshape, dt):
    key = basic_key(attrs["idx"])
    setting = attrs["set"]

    def fn(out, a, y):
        np.copyto(out, a)
        if setting:
            out[key] = y
        else:
            out[key] += y
        return out
    return fn, True


def _g_inc_subtensor(n: Variable, g: Variable) -> list:
    x, y = n.inputs
    idx = n.attrs["idx"]
    gx = apply("inc_subtensor", g, 0, idx=idx, set=True) if n.attrs["set"] else g
    return [gx, unbroadcast(apply("subtensor", g, idx=idx), y)]


# ---------------------------------------------------------------- slices with symbolic bounds

def _dyn_bounds(values: list, d: int | None) -> tuple[int, int] | None:
    if d is None or values[1] is None or values[2] is None:
        return None
    start, stop, _ = slice(int(values[1]), int(values[2])).indices(d)
    return start, max(stop, start)


def _dyn_shape(shapes, attrs, values):
    a, lo, hi = shapes
    if len(a) == 0 or len(lo) != 0 or len(hi) != 0:
        raise OpShapeError(f"dynamic_slice needs a tensor of rank >= 1 and scalar bounds, got {fmt(a)}")
    b = _dyn_bounds(values, a[0])
    return (None if b is None else b[1] - b[0],) + tuple(a[1:])


def _dyn_dtype(dtypes: list) -> np.dtype:
    _check_index_dtypes(dtypes[1:])
    return np.dtype(dtypes[0])


def _dyn_slice(attrs, ins, oshape, dt):
    def fn(out, a, lo, hi):  # a view: x[lo:hi] along axis 0, python's clamping
        return a[int(lo):int(hi)]
    return fn, False


def _dyn_slice_grad(attrs, ins, oshape, dt):
    def fn(out, g, ref, lo, hi):
        out.fill(0)
        out[int(lo):int(hi)] = g
        return out
    return fn, True


# ---------------------------------------------------------------- advanced (integer tensors)

def _check_index_dtypes(dtypes: list) -> None:
    for d in dtypes:
        if np.dtype(d).kind not in "iu":
            raise OpDTypeError(f"an index tensor must be of an integer dtype, got {d}")


def _adv_dtype(dtypes: list) -> np.dtype:
    _check_index_dtypes(dtypes[1:])
    return np.dtype(dtypes[0])


def _adv_shape(shapes, attrs):
    a, idx = shapes[0], shapes[1:]
    if len(idx) > len(a):
        raise OpShapeError(f"too many index tensors ({len(idx)}) for a {len(a)}-d tensor {fmt(a)}")
    b: tuple = ()
    for s in idx:
        b = broadcast(b, s)
    return tuple(b) + tuple(a[len(idx):])


def _adv_subtensor(attrs, ins, oshape, dt):
    if len(ins) == 2:
        return (lambda out, a, i: np.take(a, i, axis=0, out=out)), True  # numpy checks the range

    def fn(out, a, *idx):
        np.copyto(out, a[idx])
        return out
    return fn, True


def _g_adv_subtensor(n: Variable, g: Variable) -> list:
    return [apply("advanced_subtensor_grad", g, *n.inputs)] + [None] * (len(n.inputs) - 1)


def _adv_grad_shape(shapes, attrs):
    return tuple(shapes[1])


def _adv_grad_dtype(dtypes: list) -> np.dtype:
    return np.dtype(dtypes[0])


def _adv_subtensor_grad(attrs, ins, oshape, dt):
    def fn(out, g, ref, *idx):
        # scatter-add: a row picked twice gets both gradients
        out.fill(0)
        np.add.at(out, idx, g)
        return out
    return fn, True


def _adv_inc_shape(shapes, attrs):
    region = _adv_shape([shapes[0]] + list(shapes[2:]), attrs)
    broadcast(region, shapes[1])
    return tuple(shapes[0])


def _adv_inc_dtype(dtypes: list) -> np.dtype:
    _check_index_dtypes(dtypes[2:])
    return np.dtype(dtypes[0])


def _adv_inc_subtensor(attrs, ins, oshape, dt):
    setting = attrs["set"]

    def fn(out, a, y, *idx):
        np.copyto(out, a)
        if setting:
            out[idx] = y
        else:
            np.add.at(out, idx, np.broadcast_to(y, np.broadcast_shapes(*[i.shape for i in idx])
                                                + out.shape[len(idx):]))
        return out
    return fn, True


def _g_adv_inc_subtensor(n: Variable, g: Variable) -> list:
    x, y, *idx = n.inputs
    gx = apply("advanced_inc_subtensor", g, 0, *idx, set=True) if n.attrs["set"] else g
    return [gx, unbroadcast(apply("advanced_subtensor", g, *idx), y)] + [None] * len(idx)


register(
    OpDef("subtensor", 1, _subtensor_shape, _subtensor,  # {"idx": entries}; a view, no buffer
          lambda n, g: [apply("subtensor_grad", g, n.inputs[0], idx=n.attrs["idx"])], dtype=dtype_of(0)),
    OpDef("inc_subtensor", 2, _inc_shape, _inc_subtensor, _g_inc_subtensor,  # (x, y) {"idx", "set": bool}
          dtype=dtype_of(0)),
    OpDef("advanced_subtensor", 2, _adv_shape, _adv_subtensor, _g_adv_subtensor, dtype=_adv_dtype, variadic=True),
    # (x, y, i_0, ...) {"set": bool}: x with x[i_0, ...] set to / incremented by y
    OpDef("advanced_inc_subtensor", 3, _adv_inc_shape, _adv_inc_subtensor, _g_adv_inc_subtensor,
          dtype=_adv_inc_dtype, variadic=True),
    # (x, start, stop): x[start:stop] along axis 0 with symbolic int bounds (a minibatch of a
    # shared data set by a symbolic index, the tutorials' givens); the plan depends on the length
    OpDef("dynamic_slice", 3, _dyn_shape, _dyn_slice,
          lambda n, g: [apply("dynamic_slice_grad", g, *n.inputs), None, None],
          dtype=_dyn_dtype, value_operands=(1, 2)),
    # gradient-only
    OpDef("dynamic_slice_grad", 4, shape_of(1), _dyn_slice_grad, dtype=dtype_of(0), forward=False,
          shape_operands=(1,)),  # (g, x, start, stop): zeros of x's shape with g at [start:stop]
    OpDef("subtensor_grad", 2, shape_of(1), _subtensor_grad, dtype=dtype_of(0), forward=False,
          shape_operands=(1,)),  # (g, x) {"idx"}: zeros of x's shape with g at idx
    OpDef("advanced_subtensor_grad", 3, _adv_grad_shape, _adv_subtensor_grad, dtype=_adv_grad_dtype,
          forward=False, variadic=True, shape_operands=(1,)),  # (g, x, i_0, ...): scatter-add of g
)
