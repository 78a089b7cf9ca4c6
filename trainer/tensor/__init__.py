"""`trainer.tensor` (imported as `T`): symbolic variables and the Theano-style op functions."""

from __future__ import annotations

import builtins
import sys
from typing import Any

import numpy as np

from tessera.trainer import nnet
from tessera.trainer.gradient import grad
from tessera.trainer.graph import GraphError, Variable, _norm_axis, apply, as_dtype, as_variable, constant
from tessera.trainer.indexing import inc_subtensor, set_subtensor

__all__ = ["matrix", "vector", "scalar", "tensor", "tensor3", "tensor4", "row", "col",
           "iscalar", "ivector", "imatrix", "itensor3", "itensor4", "lscalar", "lvector", "lmatrix",
           "ltensor3", "ltensor4", "fscalar", "fvector", "fmatrix", "ftensor3", "ftensor4",
           "dscalar", "dvector", "dmatrix", "dtensor3", "dtensor4", "bscalar", "bvector", "bmatrix",
           "dot", "exp", "log", "tanh", "sqrt", "abs", "abs_", "maximum", "minimum", "clip", "sum", "mean",
           "max", "min", "prod", "var", "std", "argmax", "argmin", "max_and_argmax",
           "sigmoid", "softplus", "relu", "softmax", "grad", "nnet", "constant", "as_tensor_variable",
           "transpose", "reshape", "sqr", "neg", "Variable", "cast", "gt", "ge", "lt", "le", "eq", "neq",
           "switch", "where", "and_", "or_", "invert", "log1p", "expm1", "pow", "power", "inc_subtensor",
           "set_subtensor", "flatten", "dimshuffle", "concatenate", "stack", "shape", "arange",
           "zeros_like", "ones_like", "zeros", "ones", "outer", "shared_randomstreams"]


def tensor(ndim: int | None = None, name: str | None = None, dtype: Any = None,
           shape: tuple | None = None, broadcastable: tuple | None = None) -> Variable:
    """A symbolic input of rank `ndim` (dims unknown unless `shape` gives them).

    Theano's keyword spelling `T.tensor(dtype=..., broadcastable=(False, True), name=...)` is
    accepted too: the pattern's length is the rank and True dims have length 1.
    """
    if broadcastable is not None:
        return Variable("input", as_dtype(dtype), tuple(1 if b else None for b in broadcastable), name=name)
    if ndim is None:
        raise GraphError("tensor: give ndim (or Theano's broadcastable=)")
    shp = tuple(shape) if shape is not None else (None,) * ndim
    if len(shp) != ndim:
        raise GraphError(f"shape {shp} does not have rank {ndim}")
    return Variable("input", as_dtype(dtype), shp, name=name)


def matrix(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Variable:
    return tensor(2, name, dtype, shape)


def vector(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Variable:
    return tensor(1, name, dtype, shape)


def scalar(name: str | None = None, dtype: Any = None) -> Variable:
    return tensor(0, name, dtype)


def tensor3(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Variable:
    return tensor(3, name, dtype, shape)


def tensor4(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Variable:
    return tensor(4, name, dtype, shape)


def row(name: str | None = None, dtype: Any = None) -> Variable:
    return tensor(2, name, dtype, (1, None))


def col(name: str | None = None, dtype: Any = None) -> Variable:
    return tensor(2, name, dtype, (None, 1))


def _typed(ndim: int, dtype: str):
    def make(name: str | None = None, shape: tuple | None = None) -> Variable:
        return tensor(ndim, name, dtype, shape)
    return make


# Theano's typed constructors: b int8, i int32, l int64, f float32, d float64
for _p, _dt in (("b", "int8"), ("i", "int32"), ("l", "int64"), ("f", "float32"), ("d", "float64")):
    for _n, _nd in (("scalar", 0), ("vector", 1), ("matrix", 2), ("tensor3", 3), ("tensor4", 4)):
        globals()[_p + _n] = _typed(_nd, _dt)
del _p, _dt, _n, _nd
iscalar: Any
ivector: Any
imatrix: Any
lscalar: Any
lvector: Any
lmatrix: Any


def as_tensor_variable(x: Any, name: str | None = None) -> Variable:
    v = as_variable(x)
    if name is not None and v.kind == "constant":
        v.name = name
    return v


def dot(a: Any, b: Any) -> Variable:
    return apply("dot", a, b)


def exp(x: Any) -> Variable:
    return apply("exp", x)


def log(x: Any) -> Variable:
    return apply("log", x)


def tanh(x: Any) -> Variable:
    return apply("tanh", x)


def sqrt(x: Any) -> Variable:
    return apply("sqrt", x)


def abs(x: Any) -> Variable:  # noqa: A001 - Theano's name
    return apply("abs", x)


abs_ = abs


def neg(x: Any) -> Variable:
    return apply("neg", x)


def sqr(x: Any) -> Variable:
    return apply("pow", x, exponent=2.0)


def pow(a: Any, b: Any) -> Variable:  # noqa: A001 - Theano's name
    """a ** b: a constant exponent is the `pow` op, a tensor exponent the `power` op."""
    if isinstance(b, (int, float, np.number)) and not isinstance(b, bool):
        return apply("pow", a, exponent=float(b))
    return apply("power", a, b)


power = pow


def log1p(x: Any) -> Variable:
    return apply("log1p", x)


def expm1(x: Any) -> Variable:
    return apply("expm1", x)


def outer(a: Any, b: Any) -> Variable:
    a, b = as_variable(a), as_variable(b)
    return dimshuffle(a, (0, "x")) * dimshuffle(b, ("x", 0))


# ---------------------------------------------------------------- dtypes, comparisons, selection

def cast(x: Any, dtype: Any) -> Variable:
    """x converted to dtype ('floatX' allowed); float -> int truncates toward zero, nan -> 0,
    out-of-range values saturate (the format's Cast). A cast to x's own dtype is x."""
    v = as_variable(x)
    dt = as_dtype(dtype)
    if dt == v.dtype:
        return v
    return apply("cast", v, dtype=dt.name)


def gt(a: Any, b: Any) -> Variable:
    return apply("gt", a, b)


def ge(a: Any, b: Any) -> Variable:
    return apply("ge", a, b)


def lt(a: Any, b: Any) -> Variable:
    return apply("lt", a, b)


def le(a: Any, b: Any) -> Variable:
    return apply("le", a, b)


def eq(a: Any, b: Any) -> Variable:
    return apply("eq", a, b)


def neq(a: Any, b: Any) -> Variable:
    return apply("neq", a, b)


def and_(a: Any, b: Any) -> Variable:
    return apply("and_", a, b)


def or_(a: Any, b: Any) -> Variable:
    return apply("or_", a, b)


def invert(a: Any) -> Variable:
    return apply("invert", a)


def switch(cond: Any, a: Any, b: Any) -> Variable:
    """Elementwise `a` where cond is nonzero, else `b` (three-way broadcasting)."""
    return apply("switch", cond, a, b)


where = switch


def maximum(a: Any, b: Any) -> Variable:
    return apply("maximum", a, b)


def minimum(a: Any, b: Any) -> Variable:
    return apply("minimum", a, b)


def clip(x: Any, lo: float, hi: float) -> Variable:
    if not isinstance(lo, (int, float, np.number)) or not isinstance(hi, (int, float, np.number)):
        raise GraphError("clip bounds must be constant numbers")
    return apply("clip", x, lo=float(lo), hi=float(hi))


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:  # noqa: A001
    return as_variable(x).sum(axis=axis, keepdims=keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return as_variable(x).mean(axis=axis, keepdims=keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:  # noqa: A001
    return as_variable(x).max(axis=axis, keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:  # noqa: A001
    return as_variable(x).min(axis=axis, keepdims=keepdims)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    return as_variable(x).prod(axis=axis, keepdims=keepdims)


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Variable:
    """Variance, sum((x - mean(x))**2) / (n - ddof), built from primitives (so it
    differentiates and exports with the 1.0 ops)."""
    v = as_variable(x)
    d = v - v.mean(axis=axis, keepdims=True)
    if ddof == 0:
        return (d * d).mean(axis=axis, keepdims=keepdims)
    axes = _norm_axis(axis, v.ndim)
    dims = shape(v) if axes is None else shape(v)[list(axes)]
    n = cast(dims.prod(), v.dtype)  # a constant once the shape is known
    return (d * d).sum(axis=axis, keepdims=keepdims) / (n - ddof)


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Variable:
    return sqrt(var(x, axis, ddof, keepdims))


def _arg_axis(v: Variable, axis: Any) -> int | None:
    if axis is None:
        return None
    axes = _norm_axis(axis, v.ndim)
    if len(axes) != 1:
        raise GraphError("argmax/argmin take one axis (or None for the flattened tensor)")
    return axes[0]


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Index of the largest value (int64); ties keep the first index, the first nan wins."""
    v = as_variable(x)
    return apply("argmax", v, axis=_arg_axis(v, axis), keepdims=bool(keepdims))


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    v = as_variable(x)
    return apply("argmin", v, axis=_arg_axis(v, axis), keepdims=bool(keepdims))


def max_and_argmax(x: Any, axis: Any = None) -> tuple[Variable, Variable]:
    return max(x, axis), argmax(x, axis)


def transpose(x: Any, axes: tuple | None = None) -> Variable:
    v = as_variable(x)
    return v.transpose(axes) if axes is not None else v.T


def reshape(x: Any, shape: tuple, ndim: int | None = None) -> Variable:
    return as_variable(x).reshape(shape)


# ---------------------------------------------------------------- shapes

def flatten(x: Any, ndim: int = 1, outdim: int | None = None) -> Variable:
    """Keep the first ndim-1 axes, flatten the rest into one (Theano's flatten(ndim))."""
    v = as_variable(x)
    nd = outdim if outdim is not None else ndim
    return apply("flatten", v, ndim=int(nd))


def dimshuffle(x: Any, pattern: tuple) -> Variable:
    """Theano's dimshuffle: permute axes, 'x' inserts a length-1 axis, an axis left out must have
    length 1 and is dropped. x.dimshuffle(1, 0) is x.T; b.dimshuffle('x', 0) makes a row."""
    v = as_variable(x)
    pat = tuple(p if p == "x" else int(p) for p in pattern)
    if pat == tuple(range(v.ndim)):
        return v
    return apply("dimshuffle", v, pattern=pat)


def concatenate(tensors: Any, axis: int = 0) -> Variable:
    vs = [as_variable(t) for t in tensors]
    if not vs:
        raise GraphError("concatenate needs at least one tensor")
    like = np.result_type(*[v.dtype for v in vs])
    vs = [cast(v, like) for v in vs]  # one dtype, as the format's Concat
    if len(vs) == 1:
        return vs[0]
    ax = _norm_axis(axis, vs[0].ndim)[0]
    return apply("concatenate", *vs, axis=ax)


def stack(tensors: Any, axis: int = 0) -> Variable:
    """Join tensors of one shape along a new axis (Theano's T.stack(list, axis))."""
    vs = [as_variable(t) for t in tensors]
    if not vs:
        raise GraphError("stack needs at least one tensor")
    nd = vs[0].ndim
    if not -nd - 1 <= axis <= nd:
        raise GraphError(f"stack: axis {axis} out of range for {nd}-d tensors")
    ax = axis % (nd + 1)
    pat = tuple(range(ax)) + ("x",) + tuple(range(ax, nd))
    return concatenate([dimshuffle(v, pat) for v in vs], axis=ax)


def shape(x: Any) -> Variable:
    """The symbolic shape of x, an int64 vector: T.shape(x)[0] is the symbolic batch size.
    (x.shape itself is the static shape, a tuple with None for unknown dims.)"""
    return apply("shape", as_variable(x))


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Variable:
    """numpy.arange with symbolic bounds allowed (e.g. T.arange(T.shape(y)[0]))."""
    if stop is None:
        start, stop = 0, start
    if start is None or stop is None:
        raise GraphError("arange: a bound is None (an unknown static dim?); x.shape is the static shape "
                         "here: use T.shape(x)[0] for the symbolic size")
    like = None
    for b in (start, stop, step):
        if isinstance(b, Variable):
            like = b.dtype
    if like is None:
        like = np.dtype(np.int64) if builtins.all(isinstance(b, (int, np.integer)) for b in (start, stop, step)) \
            else np.dtype(as_dtype(None))
    out = apply("arange", *[as_variable(b, like) for b in (start, stop, step)])
    return cast(out, dtype) if dtype is not None else out


def zeros_like(x: Any, dtype: Any = None) -> Variable:
    v = as_variable(x)
    return apply("fill", v, value=0.0, dtype=as_dtype(dtype or v.dtype).name)


def ones_like(x: Any, dtype: Any = None) -> Variable:
    v = as_variable(x)
    return apply("fill", v, value=1.0, dtype=as_dtype(dtype or v.dtype).name)


def _static_dims(shape: Any, what: str) -> tuple:
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if any(isinstance(d, Variable) or d is None for d in dims):
        raise GraphError(f"{what}: a shape with symbolic dims (x.shape[0]) is not supported; "
                         f"use T.{what}_like(x) (or of a slice of x with the wanted shape)")
    return dims


def zeros(shape: tuple, dtype: Any = None) -> Variable:
    return constant(np.zeros(_static_dims(shape, "zeros"), as_dtype(dtype)))


def ones(shape: tuple, dtype: Any = None) -> Variable:
    return constant(np.ones(_static_dims(shape, "ones"), as_dtype(dtype)))


sigmoid = nnet.sigmoid
softplus = nnet.softplus
relu = nnet.relu
softmax = nnet.softmax


from tessera.trainer.tensor import shared_randomstreams, signal  # noqa: E402,F401 - needs the functions above

sys.modules[__name__ + ".nnet"] = nnet  # `from trainer.tensor.nnet import sigmoid`, as Theano
sys.modules[__name__ + ".nnet.bn"] = nnet.bn  # `from trainer.tensor.nnet.bn import batch_normalization_train`
