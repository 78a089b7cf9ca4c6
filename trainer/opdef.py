"""What an op is: one `OpDef` row holds its shape and dtype rule, its numpy kernel and its gradient.

The rows live in `trainer.ops` (one module per family), which registers them here when it is
imported (`trainer/__init__.py` imports it). Everything else asks this registry: graph
building and planning call `infer`, `grad` reads `get(op).grad`, the compiler calls
`make_kernel`, constant folding calls `evaluate`.

This module imports nothing from the trainer, so `trainer.graph` can use it while the rows,
whose gradient rules build graph nodes, import `trainer.graph`.

Shapes may hold None (unknown) at build time; at plan time they are concrete, and the same
rule then yields concrete output shapes for buffer allocation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Shape = tuple
Kernel = Callable[..., np.ndarray]
# (attrs, input shapes, output shape, dtype) -> (kernel, needs_buffer). The executor calls
# kernel(out, *inputs); it writes into `out`, a buffer allocated once per plan, and returns the
# result. Kernels that return a view of an input (transpose, reshape) need no buffer. Scratch
# space is allocated by the factory, once per plan, never per call.
KernelFactory = Callable[[dict, list, Shape, np.dtype], tuple[Kernel, bool]]
ShapeRule = Callable[[list, dict], Shape]
DTypeRule = Callable[[list], np.dtype]
# (node, gradient of the node's output) -> one gradient per input (a Variable, or None)
GradRule = Callable[[Any, Any], list]


class OpShapeError(Exception):
    pass


class OpDTypeError(Exception):
    pass


def fmt(shape: Shape) -> str:
    body = ", ".join("?" if d is None else str(d) for d in shape)
    return "(" + body + ("," if len(shape) == 1 else "") + ")"


# ---------------------------------------------------------------- shared shape and dtype rules

def broadcast(a: Shape, b: Shape) -> Shape:
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
            raise OpShapeError(f"shapes {fmt(a)} and {fmt(b)} cannot be broadcast together")
    return tuple(out)


def broadcast_shapes(shapes: list, attrs: dict) -> Shape:
    return broadcast(shapes[0], shapes[1])


def same_shape(shapes: list, attrs: dict) -> Shape:
    return tuple(shapes[0])


def shape_of(i: int) -> ShapeRule:
    """The shape of operand i (gradient ops that take a reference operand for its shape)."""
    return lambda shapes, attrs: tuple(shapes[i])


def reduced_axes(ndim: int, axis: tuple | None) -> tuple:
    return tuple(range(ndim)) if axis is None else axis


# The dtypes a graph may carry. bool is what comparisons give (as Theano's); int32/int64 hold
# labels and indices. The format stores all three as int32 (booleans as 0/1).
FLOATS = frozenset({np.dtype(np.float32), np.dtype(np.float64)})
INTS = frozenset({np.dtype(np.int8), np.dtype(np.int32), np.dtype(np.int64)})
DTYPES = FLOATS | INTS | {np.dtype(np.bool_)}


def is_float(dt: Any) -> bool:
    return np.dtype(dt) in FLOATS


def is_discrete(dt: Any) -> bool:
    """Integer or bool: no gradient flows through values of this dtype."""
    return np.dtype(dt).kind in "biu"


def upcast_to_float(dt: np.dtype) -> np.dtype:
    """Theano's rule for math on integers: bool/int8 -> float32, wider integers -> float64."""
    if dt in FLOATS:
        return dt
    return np.dtype(np.float32) if dt.itemsize <= 2 else np.dtype(np.float64)


def float_result(dtypes: list) -> np.dtype:
    """numpy promotion of the operands, then integers upcast to float (Theano's rule for math)."""
    dt = np.result_type(*dtypes)
    if dt not in DTYPES:
        raise OpDTypeError(f"unsupported dtype {dt}")
    return upcast_to_float(np.dtype(dt))


def numeric_result(dtypes: list) -> np.dtype:
    """numpy promotion of the operands (int + int stays int); bool arithmetic gives int8 as Theano."""
    dt = np.dtype(np.result_type(*dtypes))
    if dt not in DTYPES:
        raise OpDTypeError(f"unsupported dtype {dt}")
    return np.dtype(np.int8) if dt == np.bool_ else dt


def bool_result(dtypes: list) -> np.dtype:
    for d in dtypes:
        if np.dtype(d) not in DTYPES:
            raise OpDTypeError(f"unsupported dtype {d}")
    return np.dtype(np.bool_)


def fixed_dtype(dt: Any) -> DTypeRule:
    return lambda dtypes: np.dtype(dt)


def dtype_of(i: int) -> DTypeRule:
    """The dtype of operand i (sum_to and friends also cast to their reference's dtype)."""
    return lambda dtypes: np.dtype(dtypes[i])


# ---------------------------------------------------------------- the row and the registry

@dataclass(frozen=True)
class OpDef:
    """One op. `name` is the graph's op string (the exporter's lowering keys on it: keep it stable).

    arity:  number of operands.
    shape:  ShapeRule, output shape from operand shapes and attrs; raises OpShapeError.
    kernel: KernelFactory, the numpy implementation, specialised to concrete shapes at plan time.
    grad:   GradRule, or None when the op is not differentiable (gradient-only ops).
    dtype:  DTypeRule, output dtype from operand dtypes; raises OpDTypeError.
    forward: False for ops that only gradient graphs use (never differentiated, never exported).
    shape_operands: operands read only for their shape; the compiler does not count them as
            readers of the operand's value (plan-time fusions need exact reader counts).
    fold:   whether constant folding may evaluate the op when all its operands are constants.
    variadic: `arity` is the minimum number of operands, any number up to 64 is accepted.
    value_operands: operands whose values the shape rule reads (arange's bounds, a random
            draw's size); the rule is then called as shape(shapes, attrs, values), a value
            being None where it is not known (at build time, unless a constant; at plan time
            values that follow from the concrete shapes are known).
    """

    name: str
    arity: int
    shape: ShapeRule
    kernel: KernelFactory
    grad: GradRule | None = None
    dtype: DTypeRule = float_result
    forward: bool = True
    shape_operands: tuple[int, ...] = ()
    fold: bool = True
    variadic: bool = False
    value_operands: tuple[int, ...] = ()
    dtype_attr: str | None = None


MAX_OPERANDS = 64


REGISTRY: dict[str, OpDef] = {}


def register(*defs: OpDef) -> None:
    for d in defs:
        if d.name in REGISTRY:
            raise ValueError(f"op {d.name!r} is registered twice")
        REGISTRY[d.name] = d


def get(op: str) -> OpDef:
    try:
        return REGISTRY[op]
    except KeyError:
        raise OpShapeError(f"unknown op {op!r}") from None


def names(**flags: Any) -> frozenset[str]:
    """Registered op names whose row fields equal `flags`, e.g. names(forward=True)."""
    return frozenset(n for n, d in REGISTRY.items() if all(getattr(d, k) == v for k, v in flags.items()))


def infer(op: str, shapes: Sequence[Shape], dtypes: Sequence[np.dtype], attrs: dict,
          values: Sequence[Any] | None = None) -> tuple[Shape, np.dtype]:
    """Output (shape, dtype) of `op` applied to operands of the given shapes and dtypes
    (and, for ops with value_operands, values: None where unknown)."""
    d = get(op)
    if d.variadic:
        if not d.arity <= len(shapes) <= MAX_OPERANDS:
            raise OpShapeError(f"{op} takes {d.arity} to {MAX_OPERANDS} operands, got {len(shapes)}")
    elif len(shapes) != d.arity:
        raise OpShapeError(f"{op} takes {d.arity} operand(s), got {len(shapes)}")
    if d.dtype_attr is not None:
        dt = np.dtype(attrs[d.dtype_attr])
        if dt not in DTYPES:
            raise OpDTypeError(f"unsupported dtype {dt}")
    else:
        dt = d.dtype(list(dtypes))
    if d.value_operands:
        vals = list(values) if values is not None else [None] * len(shapes)
        return tuple(d.shape(list(shapes), attrs, vals)), dt
    return tuple(d.shape(list(shapes), attrs)), dt


def make_kernel(op: str, attrs: dict, in_shapes: Sequence[Shape], out_shape: Shape,
                dtype: np.dtype) -> tuple[Kernel, bool]:
    """The op's kernel for these concrete shapes: (fn, needs_buffer); see KernelFactory."""
    return get(op).kernel(attrs, list(in_shapes), tuple(out_shape), np.dtype(dtype))


def evaluate(op: str, attrs: dict, inputs: Sequence[np.ndarray], out_shape: Shape, dtype: np.dtype) -> np.ndarray:
    """One-off evaluation (constant folding, reference checks): the same kernels as compiled code."""
    fn, needs = make_kernel(op, attrs, [i.shape for i in inputs], out_shape, dtype)
    out = np.empty(out_shape, dtype) if needs else None
    with np.errstate(all="ignore"):
        return np.array(fn(out, *inputs), dtype=dtype)


# ---------------------------------------------------------------- kernel factory helpers

def ufunc_kernel(ufunc: np.ufunc, arity: int) -> KernelFactory:
    """Kernel factory for a numpy ufunc applied elementwise into the output buffer."""
    if arity == 1:
        return lambda attrs, ins, oshape, dt: ((lambda out, a: ufunc(a, out=out)), True)
    if arity == 2:
        return lambda attrs, ins, oshape, dt: ((lambda out, a, b: ufunc(a, b, out=out)), True)
    return lambda attrs, ins, oshape, dt: ((lambda out, *xs: ufunc(*xs, out=out)), True)
