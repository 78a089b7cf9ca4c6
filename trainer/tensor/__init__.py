"""`trainer.tensor` (imported as `T`): symbolic variables and the Theano-style op functions."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainer import nnet
from trainer.gradient import grad
from trainer.graph import GraphError, Variable, apply, as_float_dtype, as_variable, constant

__all__ = ["matrix", "vector", "scalar", "tensor", "dot", "exp", "log", "tanh", "sqrt", "abs", "maximum",
           "minimum", "clip", "sum", "mean", "max", "sigmoid", "softplus", "relu", "softmax", "grad",
           "nnet", "constant", "transpose", "reshape", "sqr", "neg", "Variable"]


def tensor(ndim: int, name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Variable:
    """A symbolic input of rank `ndim` (dims unknown unless `shape` gives them)."""
    shp = tuple(shape) if shape is not None else (None,) * ndim
    if len(shp) != ndim:
        raise GraphError(f"shape {shp} does not have rank {ndim}")
    return Variable("input", as_float_dtype(dtype), shp, name=name)


def matrix(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Variable:
    return tensor(2, name, dtype, shape)


def vector(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> Variable:
    return tensor(1, name, dtype, shape)


def scalar(name: str | None = None, dtype: Any = None) -> Variable:
    return tensor(0, name, dtype)


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


def neg(x: Any) -> Variable:
    return apply("neg", x)


def sqr(x: Any) -> Variable:
    return apply("pow", x, exponent=2.0)


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


def transpose(x: Any, axes: tuple | None = None) -> Variable:
    v = as_variable(x)
    return v.transpose(axes) if axes is not None else v.T


def reshape(x: Any, shape: tuple) -> Variable:
    return as_variable(x).reshape(shape)


sigmoid = nnet.sigmoid
softplus = nnet.softplus
relu = nnet.relu
softmax = nnet.softmax
