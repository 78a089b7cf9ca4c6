"""Tessera trainer: Theano-style symbolic autodiff on numpy.

`import trainer as theano; import trainer.tensor as T` runs Theano-style code such as the
seed auto-encoder: `shared`, `function`, `grad`, `T.matrix`, `T.dot`, `T.nnet.sigmoid`, ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainer import ops, tensor  # noqa: F401 - importing trainer.ops registers every op row
from trainer.compile import Function, function
from trainer.gradient import DisconnectedInputError, grad
from trainer.graph import DTypeError, GraphError, ShapeError, SharedVariable, Variable, as_float_dtype
from trainer.verify import GradientError, verify_grad

__all__ = ["shared", "function", "grad", "verify_grad", "tensor", "Function", "Variable", "SharedVariable",
           "GraphError", "ShapeError", "DTypeError", "DisconnectedInputError", "GradientError",
           "train_autoencoder", "config"]


class _Config:
    floatX = "float32"


config = _Config()


def shared(value: Any, name: str | None = None, borrow: bool = False) -> SharedVariable:
    """A shared variable holding `value` (numpy arrays keep their float dtype; python numbers
    become float32). `get_value()`/`set_value()` read and replace it between calls."""
    arr = np.asarray(value)
    if arr.dtype.kind != "f" or not isinstance(value, np.ndarray | np.generic):
        arr = arr.astype(np.float32)  # ints, bools and python numbers: the default float dtype
    dt = as_float_dtype(arr.dtype)
    arr = np.array(arr, dtype=dt, order="C", copy=not borrow)
    return SharedVariable("shared", dt, arr.shape, name=name, value=arr)


def train_autoencoder(*args: Any, **kwargs: Any):
    """See trainer.training.train_autoencoder."""
    from trainer.training import train_autoencoder as _t
    return _t(*args, **kwargs)
