"""Every trainer op, one `trainer.opdef.OpDef` row each, grouped by family.

Importing this package registers all the rows (`trainer/__init__.py` does). To add an op, add
its row to the family module it belongs to (or a new module imported here), and its
user-facing function to `trainer/tensor.py` or `trainer/nnet.py`.
"""

from __future__ import annotations

from tessera.trainer.opdef import REGISTRY, OpDef, OpDTypeError, OpShapeError, broadcast, get, infer, names
from tessera.trainer.ops import conv, elementwise, indexing, linalg, logic, pool, random, reductions, shape

__all__ = ["REGISTRY", "OpDef", "OpDTypeError", "OpShapeError", "broadcast", "get", "infer", "names",
           "conv", "elementwise", "indexing", "linalg", "logic", "pool", "random", "reductions",
           "shape"]
