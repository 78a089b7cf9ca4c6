"""Tessera trainer: Theano-style symbolic autodiff on numpy.

`from tessera import trainer as theano; import tessera.trainer.tensor as T` runs Theano-style code such as the
seed auto-encoder: `shared`, `function`, `grad`, `T.matrix`, `T.dot`, `T.nnet.sigmoid`, ...
"""

from __future__ import annotations

from typing import Any

import numpy as np


class _Config:
    """`trainer.config` (Theano's `theano.config`): floatX is the default float dtype of
    symbolic inputs, shared python numbers and python-float constants ("float32" or "float64")."""

    floatX = "float32"


config = _Config()

from tessera.trainer import ops, printing, sandbox, tensor  # noqa: E402,F401 - importing trainer.ops registers every op row
from tessera.trainer.compile import Function, NonFiniteInputError, function  # noqa: E402
from tessera.trainer.from_model import FromModelError, ImportedModel, from_model  # noqa: E402
from tessera.trainer.gradient import DisconnectedInputError, grad  # noqa: E402
from tessera.trainer.graph import (  # noqa: E402
    DTypeError,
    GraphError,
    ShapeError,
    SharedVariable,
    Variable,
    as_dtype,
    floatx,
)
from tessera.trainer.opdef import INTS  # noqa: E402
from tessera.trainer.verify import GradientError, verify_grad  # noqa: E402

__all__ = ["shared", "function", "grad", "verify_grad", "tensor", "Function", "Variable", "SharedVariable",
           "GraphError", "ShapeError", "DTypeError", "DisconnectedInputError", "GradientError",
           "NonFiniteInputError", "train_autoencoder", "config", "from_model", "ImportedModel", "FromModelError"]


def shared(value: Any, name: str | None = None, borrow: bool = False) -> SharedVariable:
    """A shared variable holding `value`. numpy arrays keep their dtype (float32/float64,
    int32/int64/int8, bool; other integer dtypes become int64); python numbers and lists
    become floatX. `get_value()`/`set_value()` read and replace it between calls."""
    arr = np.asarray(value)
    if not isinstance(value, np.ndarray | np.generic):
        arr = arr.astype(floatx())  # python numbers and lists: the default float dtype
    elif arr.dtype.kind in "iu" and arr.dtype not in INTS:
        arr = arr.astype(np.int64)
    dt = as_dtype(arr.dtype)
    arr = np.array(arr, dtype=dt, order="C", copy=not borrow)
    return SharedVariable("shared", dt, arr.shape, name=name, value=arr)


def train_autoencoder(*args: Any, **kwargs: Any):
    """See trainer.training.train_autoencoder."""
    from tessera.trainer.training import train_autoencoder as _t
    return _t(*args, **kwargs)
