"""Symbolic graph nodes: the contract the rest of Tessera (rewrites, exporter) relies on.

Every symbolic value is a :class:`Variable` (or the :class:`SharedVariable` subclass):

- ``kind``: ``"input"`` (``tensor.matrix/vector/scalar/tensor``), ``"shared"`` (``shared()``,
  with ``get_value(borrow=False)`` / ``set_value(v)``), ``"constant"`` (``.value`` is a numpy
  array) or ``"apply"`` (the result of an op).
- ``op``: the op name of an apply node (``None`` otherwise); ``inputs``: tuple of Variables;
  ``attrs``: dict of plain python values (int, float, bool, tuple, None); ``dtype``: numpy dtype;
  ``shape``: tuple of int-or-None (None = unknown at build time); ``ndim``; ``name``: str or None.
- Forward ops (the only ones left in a forward graph after ``trainer.rewrites.optimize``):
  ``dot(a, b)`` (numpy.dot for 1-D/2-D operands); broadcasting binaries ``add sub mul div maximum
  minimum``; unary ``neg exp log tanh sqrt abs sigmoid softplus relu``; ``pow`` {"exponent": float};
  ``transpose`` {"perm": tuple}; ``sum``/``mean``/``max`` {"axis": tuple|None, "keepdims": bool};
  ``clip`` {"lo": float, "hi": float}; ``softmax`` {"axis": -1}; ``reshape`` {"shape": tuple}.
  Added for the Theano API (their attrs and format mapping: trainer/README.md, "Ops and their
  format mapping"): ``gt ge lt le eq neq and_ or_ invert switch cast``, ``min prod argmax argmin
  log_softmax``, ``subtensor inc_subtensor advanced_subtensor advanced_inc_subtensor
  dynamic_slice``, ``flatten dimshuffle concatenate shape arange fill``, ``power log1p expm1``,
  ``random_uniform random_normal random_binomial``.
- ``dtype``: float32/float64, int8/int32/int64 or bool (comparisons).
- Gradient graphs may also use gradient-only ops (``sum_to``, ``expand``, ``sigmoid_grad``, ...):
  the rows with ``forward=False`` in the op registry (``trainer.ops``, ``trainer.opdef.names``).
- ``binary_crossentropy(p, t)`` is built as ``-(t*log(p) + (1-t)*log(1-p))`` from primitives.

Nodes are immutable once built. Shapes and dtypes are inferred when a node is built; a
mistake raises :class:`ShapeError` / :class:`DTypeError` naming the user's file and line.
"""

from __future__ import annotations

import os
import sys
import weakref
from typing import Any

import numpy as np

from tessera.trainer import opdef

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class GraphError(ValueError):
    """A graph could not be built (the message names the user's source line)."""


class ShapeError(GraphError):
    """Operand shapes are incompatible."""


class DTypeError(GraphError, TypeError):
    """Operand dtypes are incompatible or unsupported."""


def user_frame() -> tuple[str, int]:
    """(file, line) of the first caller frame outside the trainer package."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not os.path.abspath(fn).startswith(_PKG_DIR + os.sep):
            return fn, f.f_lineno
        f = f.f_back
    return "<unknown>", 0


FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def floatx() -> np.dtype:
    """`trainer.config.floatX`: the default float dtype of inputs, shared values and constants."""
    from tessera.trainer import config
    return np.dtype(config.floatX)


def as_float_dtype(dtype: Any) -> np.dtype:
    dt = floatx() if dtype is None else np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise DTypeError(f"{_where()}: unsupported dtype {dt} (float32 or float64 only)")
    return dt


def as_dtype(dtype: Any) -> np.dtype:
    """A dtype a graph may carry: float32/float64, int8/int32/int64, bool (None: floatX)."""
    if dtype == "floatX":
        dtype = None
    dt = floatx() if dtype is None else np.dtype(dtype)
    if dt not in opdef.DTYPES:
        raise DTypeError(f"{_where()}: unsupported dtype {dt} "
                         "(float32, float64, int8, int32, int64 or bool)")
    return dt


def _where() -> str:
    fn, ln = user_frame()
    return f"{fn}:{ln}"


# Packages that read a variable's shape as the static contract (int or None per dim).
STATIC_SHAPE_READERS = frozenset({"tessera"})


class StaticShape(tuple):
    """A variable's static shape: exactly a tuple of int-or-None (the contract), which also
    remembers its variable, so that Theano's `size=x.shape` in a random draw can mean the
    symbolic shape `T.shape(x)` when some dims are unknown.

    `x.shape[i]` as Theano: a dim known when the graph is built is that int; an unknown dim,
    read from user code, is the symbolic scalar `T.shape(x)[i]` (so `T.arange(x.shape[0])`,
    `x.shape[0] * 2`, `size=(x.shape[0], 3)` build graphs). The trainer and the exporter (the
    packages in STATIC_SHAPE_READERS) read None there: the static contract. Iterating,
    unpacking, comparing and slicing always give the static dims."""

    owner: Variable | None

    def __new__(cls, dims: Any, owner: Variable | None = None) -> StaticShape:
        obj = super().__new__(cls, dims)
        obj.owner = owner
        return obj

    def __getitem__(self, i):  # type: ignore[override]
        d = tuple.__getitem__(self, i)
        if d is not None or self.owner is None or not isinstance(i, int | np.integer):
            return d
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.partition(".")[0] in STATIC_SHAPE_READERS:
            return None
        return apply("shape", self.owner)[int(i) % len(self)]


class Variable:
    """A symbolic value. See the module docstring for the attribute contract."""

    __array_ufunc__ = None  # make numpy defer to our reflected operators (np.float32(2) * x)

    def __init__(self, kind: str, dtype: Any, shape: tuple, *, op: str | None = None,
                 inputs: tuple = (), attrs: dict | None = None, name: str | None = None,
                 value: np.ndarray | None = None, trace: tuple[str, int] | None = None) -> None:
        self.kind = kind
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = dict(attrs or {})
        self.dtype = np.dtype(dtype)
        self.shape = StaticShape(shape, self)
        self.name = name
        self.value = value
        self.trace = trace if trace is not None else user_frame()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        label = self.name or (self.op if self.kind == "apply" else self.kind)
        return f"<{label} {self.dtype} {self.shape}>"

    # ---- operators (python scalars adopt this variable's dtype: no float32 -> float64 upcast)
    def __add__(self, o): return apply("add", self, o)
    def __radd__(self, o): return apply("add", o, self)
    def __sub__(self, o): return apply("sub", self, o)
    def __rsub__(self, o): return apply("sub", o, self)
    def __mul__(self, o): return apply("mul", self, o)
    def __rmul__(self, o): return apply("mul", o, self)
    def __truediv__(self, o): return apply("div", self, o)
    def __rtruediv__(self, o): return apply("div", o, self)
    def __neg__(self): return apply("neg", self)
    def __pos__(self): return self
    def __abs__(self): return apply("abs", self)

    def __pow__(self, e):
        if isinstance(e, Variable) and e.kind == "constant" and e.value.size == 1 and e.ndim == 0:
            e = float(e.value)
        if isinstance(e, Variable | np.ndarray | list):
            return apply("power", self, e)  # a tensor exponent
        if not isinstance(e, (int, float, np.number)):
            raise GraphError(f"{_where()}: ** needs a number or a tensor exponent, got {type(e).__name__}")
        return apply("pow", self, exponent=float(e))

    def __rpow__(self, b):
        return apply("power", b, self)

    # comparisons give bool tensors. `==` and `!=` keep Python identity (as in Theano: variables
    # are dict keys, e.g. in givens and updates); use T.eq / T.neq for the elementwise test.
    def __gt__(self, o): return apply("gt", self, o)
    def __ge__(self, o): return apply("ge", self, o)
    def __lt__(self, o): return apply("lt", self, o)
    def __le__(self, o): return apply("le", self, o)
    def __and__(self, o): return apply("and_", self, o)
    def __rand__(self, o): return apply("and_", o, self)
    def __or__(self, o): return apply("or_", self, o)
    def __ror__(self, o): return apply("or_", o, self)
    def __invert__(self): return apply("invert", self)

    def __getitem__(self, key):
        from tessera.trainer import indexing
        return indexing.getitem(self, key)

    @property
    def shape_var(self) -> Variable:
        return apply("shape", self)

    def astype(self, dtype: Any) -> Variable:
        from tessera.trainer import tensor
        return tensor.cast(self, dtype)

    def min(self, axis=None, keepdims: bool = False) -> Variable:
        return apply("min", self, axis=_norm_axis(axis, self.ndim), keepdims=bool(keepdims))

    def prod(self, axis=None, keepdims: bool = False) -> Variable:
        return apply("prod", self, axis=_norm_axis(axis, self.ndim), keepdims=bool(keepdims))

    def argmax(self, axis=None, keepdims: bool = False) -> Variable:
        from tessera.trainer import tensor
        return tensor.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims: bool = False) -> Variable:
        from tessera.trainer import tensor
        return tensor.argmin(self, axis, keepdims)

    def var(self, axis=None, ddof: int = 0, keepdims: bool = False) -> Variable:
        from tessera.trainer import tensor
        return tensor.var(self, axis, ddof, keepdims)

    def std(self, axis=None, ddof: int = 0, keepdims: bool = False) -> Variable:
        from tessera.trainer import tensor
        return tensor.std(self, axis, ddof, keepdims)

    def flatten(self, ndim: int = 1) -> Variable:
        from tessera.trainer import tensor
        return tensor.flatten(self, ndim)

    def dimshuffle(self, *pattern) -> Variable:
        from tessera.trainer import tensor
        if len(pattern) == 1 and isinstance(pattern[0], (tuple, list)):
            pattern = tuple(pattern[0])
        return tensor.dimshuffle(self, pattern)

    def eval(self, inputs_to_values: dict | None = None) -> np.ndarray:
        """The value of this variable, given values of the inputs it needs (Theano's .eval)."""
        from tessera.trainer.compile import function
        pairs = dict(inputs_to_values or {})
        cache = _EVAL_CACHE.setdefault(self, {})
        key = tuple(id(k) for k in pairs)
        fn = cache.get(key)
        if fn is None:
            fn = cache[key] = function(list(pairs), self, on_unused_input="ignore")
        return fn(*pairs.values())

    @property
    def T(self) -> Variable:
        return apply("transpose", self, perm=tuple(range(self.ndim))[::-1])

    def transpose(self, *perm) -> Variable:
        if len(perm) == 1 and isinstance(perm[0], (tuple, list)):
            perm = tuple(perm[0])
        return apply("transpose", self, perm=tuple(perm) or tuple(range(self.ndim))[::-1])

    def sum(self, axis=None, keepdims: bool = False) -> Variable:
        return apply("sum", self, axis=_norm_axis(axis, self.ndim), keepdims=bool(keepdims))

    def mean(self, axis=None, keepdims: bool = False) -> Variable:
        return apply("mean", self, axis=_norm_axis(axis, self.ndim), keepdims=bool(keepdims))

    def max(self, axis=None, keepdims: bool = False) -> Variable:
        return apply("max", self, axis=_norm_axis(axis, self.ndim), keepdims=bool(keepdims))

    def dot(self, o) -> Variable:
        return apply("dot", self, o)

    def reshape(self, *shape, ndim: int | None = None) -> Variable:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if isinstance(shape, tuple) and len(shape) == 1 and isinstance(shape[0], Variable):
            shape = shape[0]
        if isinstance(shape, Variable) or any(isinstance(s, Variable) for s in shape):
            raise GraphError(f"{_where()}: reshape takes python ints (use -1 for the one unknown dim, "
                             "e.g. x.reshape((-1, 784)), or x.flatten(2)); a symbolic shape is not supported")
        return apply("reshape", self, shape=tuple(int(s) for s in shape))

    def __bool__(self):
        raise GraphError("a symbolic Variable has no truth value (did you mean a graph op?)")

    def __iter__(self):
        raise GraphError("a symbolic Variable is not iterable")

    __hash__ = object.__hash__


# Variable -> compiled functions of its .eval(): kept outside the node so that graphs pickle
_EVAL_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class SharedVariable(Variable):
    """A variable whose value lives across function calls (model parameters)."""

    def get_value(self, borrow: bool = False) -> np.ndarray:
        return self.value if borrow else self.value.copy()

    def set_value(self, value: Any, borrow: bool = False) -> None:
        arr = np.asarray(value)
        if arr.ndim != self.ndim:
            raise ShapeError(f"{_where()}: set_value on {self.name or 'shared'}: "
                             f"rank {arr.ndim} != {self.ndim}")
        # np.array, not ascontiguousarray: the latter turns 0-d values into 1-d
        self.value = np.array(arr, dtype=self.dtype, order="C", copy=None if borrow else True)
        self.shape = StaticShape(self.value.shape, self)


def _norm_axis(axis, ndim: int):
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ShapeError(f"{_where()}: axis {a} out of range for a {ndim}-d tensor")
        out.append(a % ndim)
    return tuple(sorted(set(out)))


def constant(value: Any, dtype: Any = None, name: str | None = None) -> Variable:
    """A constant; integer and bool values keep an integer dtype (int64 -> as given), python
    floats become floatX, other dtypes must be ones a graph carries."""
    if dtype is not None:
        arr = np.asarray(value, dtype=as_dtype(dtype))
    else:
        arr = np.asarray(value)
        if arr.dtype.kind == "f" and arr.dtype not in FLOAT_DTYPES:
            arr = arr.astype(floatx())
        elif arr.dtype.kind == "f" and not isinstance(value, np.ndarray | np.generic):
            arr = arr.astype(floatx())  # python floats and lists of them: floatX, as Theano
        elif arr.dtype.kind in "iu" and not isinstance(value, np.ndarray | np.generic):
            arr = arr.astype(_smallest_int(arr))  # python ints: the smallest that holds them (Theano)
        elif arr.dtype.kind in "iu" and arr.dtype not in opdef.INTS:
            arr = arr.astype(np.int64)
        elif arr.dtype.kind not in "biuf":
            raise DTypeError(f"{_where()}: cannot make a constant of dtype {arr.dtype}")
    return Variable("constant", arr.dtype, arr.shape, value=arr, name=name)


def _smallest_int(arr: np.ndarray) -> np.dtype:
    """int8, int32 or int64: the first that holds every value (T.constant(1) is int8, so that
    float32 + 1 stays float32 and int32 + 1 stays int32)."""
    if arr.size == 0:
        return np.dtype(np.int8)
    lo, hi = int(arr.min()), int(arr.max())
    for dt in (np.int8, np.int32, np.int64):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    raise DTypeError(f"{_where()}: integer constant out of the int64 range")


def _scalar_dtype(x: Any, like: np.dtype) -> np.dtype:
    """The dtype a python/numpy scalar takes next to a variable of dtype `like` (no upcast):
    a float next to an integer variable is floatX; an integer next to a bool is int8."""
    is_float = isinstance(x, float | np.floating)
    if like.kind == "f":
        return like
    if is_float:
        return floatx()
    if like == np.bool_ and not isinstance(x, bool | np.bool_):
        return np.dtype(np.int8)
    return like


def as_variable(x: Any, like_dtype: np.dtype | None = None) -> Variable:
    """Wrap x as a Variable; python/numpy scalars take `like_dtype` so they never upcast."""
    if isinstance(x, Variable):
        return x
    if isinstance(x, (bool, int, float, np.number)) and like_dtype is not None:
        return constant(np.asarray(x, dtype=_scalar_dtype(x, np.dtype(like_dtype))))
    if isinstance(x, (list, tuple, np.ndarray, bool, int, float, np.number)):
        arr = np.asarray(x)
        like = np.dtype(like_dtype) if like_dtype is not None else None
        if like is not None and like.kind == "f" and arr.dtype.kind != "f":
            arr = arr.astype(like)  # an integer array next to a float variable: no upcast
        elif like is not None and like.kind == "f" and arr.dtype not in FLOAT_DTYPES:
            arr = arr.astype(like)
        elif like is not None and like.kind == "f" and not isinstance(x, np.ndarray):
            arr = arr.astype(like)
        else:
            return constant(x)  # python ints keep the smallest int dtype, arrays their own
        return constant(arr)
    raise DTypeError(f"{_where()}: cannot use a {type(x).__name__} in a graph")


def apply(op: str, *args: Any, **attrs: Any) -> Variable:
    """Build an apply node, inferring its shape and dtype now (errors name the user's line)."""
    var_dtypes = [a.dtype for a in args if isinstance(a, Variable)]
    like = np.result_type(*var_dtypes) if var_dtypes else np.dtype(np.float32)
    inputs = tuple(as_variable(a, like) for a in args)
    trace = user_frame()
    try:
        shape, dtype = opdef.infer(op, [i.shape for i in inputs], [i.dtype for i in inputs], attrs,
                                   [i.value if i.kind == "constant" else None for i in inputs])
    except opdef.OpShapeError as e:
        raise ShapeError(f"{trace[0]}:{trace[1]}: {op}: {e}") from None
    except opdef.OpDTypeError as e:
        raise DTypeError(f"{trace[0]}:{trace[1]}: {op}: {e}") from None
    return Variable("apply", dtype, shape, op=op, inputs=inputs, attrs=attrs, trace=trace)


def toposort(outputs: list[Variable]) -> list[Variable]:
    """All variables reachable from outputs, each after its inputs (iterative: deep graphs are fine)."""
    order: list[Variable] = []
    seen: set[int] = set()
    for root in outputs:
        stack = [(root, False)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append(v)
                continue
            if id(v) in seen:
                continue
            seen.add(id(v))
            stack.append((v, True))
            for i in reversed(v.inputs):
                if id(i) not in seen:
                    stack.append((i, False))
    return order
