"""Lowering a trainer graph (trainer.graph contract) to format v1 nodes and initializers.

Produces an in-memory graph: nodes with v1 ops, initializers as float32 arrays, shapes whose
unknown dims are `symdims.DimVar`s. `export.py` names the symbols and serialises.

A trainer op becomes the format op whose registry row names it (`OpDef.lower`, exporter/opset.py),
emitted by `Lowering.lower_<how>`; trainer ops that need several format ops (`pow`) have an
`op_<trainer op>` method, written in the trainer's vocabulary too (`format_op("mul")`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tessera.exporter import symdims
from tessera.exporter.opset import BY_TRAINER, OPS, OpDef
from tessera.exporter.shapes import ShapeProblem
from tessera.exporter.symdims import DimVar
from tessera.exporter.tensors import dtype_name

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]*$")


def format_op(trainer_op: str) -> str:
    """The format operator a trainer op lowers to one to one (its registry row's name)."""
    return BY_TRAINER[trainer_op].name


class ExportError(ValueError):
    """The graph cannot be written as format v1; the message names the op and the user's variable."""


def describe(v: Any) -> str:
    what = v.op if getattr(v, "kind", None) == "apply" else getattr(v, "kind", type(v).__name__)
    name = f" {v.name!r}" if getattr(v, "name", None) else ""
    trace = getattr(v, "trace", None)
    where = f" (built at {trace[0]}:{trace[1]})" if trace and trace[0] != "<rewrite>" else ""
    return f"{what}{name}{where}"


@dataclass
class Value:
    name: str
    shape: tuple  # ints and DimVars
    dtype: str = "float32"  # the format dtype: "float32" or "int32"


@dataclass
class LoweredGraph:
    inputs: list[Value] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)
    initializers: list[tuple[str, np.ndarray]] = field(default_factory=list)
    nodes: list[dict] = field(default_factory=list)  # Reshape "shape" attrs may still hold DimVars


class Names:
    """Deterministic, collision-free names: the user's where valid, else prefix + counter."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.counters: dict[str, int] = {}

    def fresh(self, prefix: str) -> str:
        while True:
            i = self.counters.get(prefix, 0)
            self.counters[prefix] = i + 1
            if f"{prefix}{i}" not in self.taken:
                self.taken.add(f"{prefix}{i}")
                return f"{prefix}{i}"

    def user(self, name: str | None, prefix: str) -> str:
        if isinstance(name, str) and NAME_RE.match(name) and len(name) <= 256 and name not in self.taken:
            self.taken.add(name)
            return name
        return self.fresh(prefix)


def _is_matrix_transpose(v: Any) -> bool:
    return getattr(v, "kind", None) == "apply" and v.op == "transpose" and len(v.shape) == 2


def _is_weight(v: Any) -> bool:
    return getattr(v, "kind", None) in ("shared", "constant")


def operands(v: Any) -> tuple:
    """The variables lowering `v` reads: dot reads through a 2-D transpose (MatMul's flags); a flipping
    conv2d of weights reads them itself (it writes them flipped)."""
    if v.kind != "apply":
        return ()
    if v.op == "dot":
        return tuple(x.inputs[0] if _is_matrix_transpose(x) else x for x in v.inputs)
    if v.op == "conv2d" and v.attrs["flip"] and _is_weight(v.inputs[1]):
        return (v.inputs[0],)
    return tuple(v.inputs)


def toposort(outputs: list) -> list:
    order, seen = [], set()
    for root in outputs:
        stack = [(root, False)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append(v)
            elif id(v) not in seen:
                seen.add(id(v))
                stack.append((v, True))
                stack.extend((x, False) for x in reversed(operands(v)) if id(x) not in seen)
    return order


def format_dtype(v: Any) -> str:
    """The format dtype of a trainer variable: int32 for integer and boolean data (indices, masks,
    class ids; SPEC §3), float32 for floats (float64 graphs export as float32, as weights do)."""
    kind = np.dtype(getattr(v, "dtype", np.float32)).kind
    return "int32" if kind in "iub" else "float32"


def int32_value(v: Any, value: Any) -> np.ndarray:
    """An integer or boolean weight/constant as int32 (bool as 0/1); values outside int32: ExportError."""
    arr = np.asarray(value)
    if arr.dtype.kind in "iu" and arr.size and (arr.min() < -(2**31) or arr.max() > 2**31 - 1):
        raise ExportError(f"{describe(v)}: a value is outside the int32 range; format 1.1 stores int32 only")
    return np.array(arr, dtype=np.int32, order="C")  # not ascontiguousarray: it makes a 0-d value 1-d


def float32_value(v: Any, value: Any) -> np.ndarray:
    with np.errstate(over="ignore"):
        arr = np.array(value, dtype=np.float32, order="C")  # keeps a 0-d value 0-d
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ExportError(
            f"{describe(v)}: value #{bad[0]} is {arr.ravel()[bad[0]]} as float32; "
            "format v1 stores finite weights only"
        )
    return arr


class Lowering:
    """Emits v1 nodes for trainer variables, in dependency order, memoised by identity."""

    def __init__(self, inputs: list, output_names: dict[int, str], names: Names) -> None:
        self.names = names
        self.graph = LoweredGraph()
        self.values: dict[int, Value] = {}
        self.output_names = output_names
        self.consts: dict[tuple, str] = {}
        for i, x in enumerate(inputs):
            if getattr(x, "kind", None) != "input":
                raise ExportError(f"inputs[{i}] is a {describe(x)}, not a symbolic input (tensor.matrix, ...)")
            shape = tuple(d if d is not None else DimVar(f"{i}.{k}") for k, d in enumerate(x.shape))
            value = Value(names.user(x.name, "input"), shape, format_dtype(x))
            self.values[id(x)] = value
            self.graph.inputs.append(value)

    # ---------------------------------------------------------------- emission helpers

    def emit(self, op: str, ins: list[Value], shape: tuple, attrs: dict | None = None, var: Any = None,
             dtype: str | None = None) -> Value:
        """One node; its output dtype is `dtype`, else the registry row's dtype rule on the operands'."""
        name = self.output_names.pop(id(var), None) if var is not None else None
        if dtype is None:
            row = OPS[op]
            try:
                dtype = row.dtype([v.dtype for v in ins], row.with_defaults(attrs or {}))
            except ShapeProblem as exc:
                raise ExportError(f"{describe(var) if var is not None else op}: {exc}") from None
        out = Value(name or self.names.fresh("t"), shape, dtype)
        node = {"op": op, "inputs": [v.name for v in ins], "outputs": [out.name]}
        if attrs:
            node["attrs"] = attrs
        self.graph.nodes.append(node)
        return out

    def initializer(self, prefix: str, arr: np.ndarray, name: str | None = None) -> Value:
        key = (arr.shape, arr.tobytes()) if name is None else None
        if key is not None and key in self.consts:
            return Value(self.consts[key], arr.shape, dtype_name(arr))
        out = Value(self.names.user(name, prefix), arr.shape, dtype_name(arr))
        self.graph.initializers.append((out.name, arr))
        if key is not None:
            self.consts[key] = out.name
        return out

    def scalar(self, value: float) -> Value:
        return self.initializer("c", np.array(value, dtype=np.float32))

    # ---------------------------------------------------------------- variables

    def lower(self, outputs: list) -> None:
        order = toposort(outputs)
        for v in order:  # before any node: a draw's size (T.shape(x)) would otherwise be refused in its place
            if v.kind == "apply" and v.op.startswith("random_"):
                raise ExportError(f"{describe(v)}: a random draw has no inference form; build the inference graph "
                                  "without it (T.nnet.dropout(..., deterministic=True), whose training form the "
                                  "exporter drops by itself, or the graph without the mask)")
        for v in order:
            if id(v) not in self.values:
                self.values[id(v)] = self.lower_one(v)

    def lower_one(self, v: Any) -> Value:
        if v.kind == "input":
            raise ExportError(f"the graph uses {describe(v)}, which is not among the export inputs")
        to_array = int32_value if format_dtype(v) == "int32" else float32_value
        if v.kind == "shared":
            return self.initializer("p", to_array(v, v.get_value()), v.name or None)
        if v.kind == "constant":
            return self.initializer("c", to_array(v, v.value))
        if v.kind != "apply":
            raise ExportError(f"cannot export a {describe(v)}")
        try:
            return self.lower_apply(v, [self.values[id(x)] for x in operands(v)])
        except ShapeProblem as exc:
            raise ExportError(f"{describe(v)}: {exc}") from None

    def lower_apply(self, v: Any, ins: list[Value]) -> Value:
        row = BY_TRAINER.get(v.op)
        if row is not None:
            return getattr(self, f"lower_{row.lower.how}")(row, v, ins)
        method = getattr(self, f"op_{v.op}", None)
        if method is None:
            raise ExportError(f"{describe(v)}: op {v.op!r} is outside format v1 (no v1 operator computes it)")
        return method(v, ins)

    # ---------------------------------------------------------------- one method per `Lower.how`

    def lower_elementwise(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        return self.emit(row.name, ins, ins[0].shape, var=v)

    def lower_broadcast(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        return self.emit(row.name, ins, symdims.broadcast(ins[0].shape, ins[1].shape), var=v)

    def lower_reduce(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        (x,) = ins
        axis, keep = v.attrs.get("axis"), bool(v.attrs.get("keepdims", False))
        axes = list(range(len(x.shape))) if axis is None else sorted(int(a) % len(x.shape) for a in axis)
        attrs: dict = {} if axis is None else {"axes": axes}
        if keep:
            attrs["keepdims"] = True
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
        return self.emit(row.name, [x], shape, attrs, var=v)

    def lower_dot(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        a, b = ins
        ta, tb = (_is_matrix_transpose(x) for x in v.inputs)
        if len(a.shape) == 2 and len(b.shape) == 2:
            return self.matmul(row, a, b, ta, tb, v)
        if len(a.shape) not in (1, 2) or len(b.shape) not in (1, 2):
            raise ExportError(f"{describe(v)}: dot of ranks {len(a.shape)} and {len(b.shape)} is outside format v1")
        # Vectors become 1 x K or K x 1 matrices around one MatMul (exact: reshapes move nothing).
        a2 = self.reshape_to(a, (1, a.shape[0])) if len(a.shape) == 1 else a
        b2 = self.reshape_to(b, (b.shape[0], 1)) if len(b.shape) == 1 else b
        prod = self.matmul(row, a2, b2, ta, tb, None)
        keep = ([prod.shape[0]] if len(a.shape) == 2 else []) + ([prod.shape[1]] if len(b.shape) == 2 else [])
        return self.reshape_to(prod, tuple(keep), v)

    def matmul(self, row: OpDef, a: Value, b: Value, ta: bool, tb: bool, v: Any) -> Value:
        m, k1 = (a.shape[1], a.shape[0]) if ta else a.shape
        k2, n = (b.shape[1], b.shape[0]) if tb else b.shape
        symdims.unify(k1, k2)
        attrs = {**({"transpose_a": True} if ta else {}), **({"transpose_b": True} if tb else {})}
        return self.emit(row.name, [a, b], (m, n), attrs, var=v)

    def reshape_to(self, x: Value, shape: tuple, var: Any = None) -> Value:
        return self.emit(format_op("reshape"), [x], tuple(shape), {"shape": list(shape)}, var=var)

    def op_pow(self, v: Any, ins: list[Value]) -> Value:
        (x,) = ins
        e = float(v.attrs["exponent"])
        if e == 1.0:
            return x
        if e == 2.0:
            return self.emit(format_op("mul"), [x, x], x.shape, var=v)
        if e == 0.5:
            return self.emit(format_op("sqrt"), [x], x.shape, var=v)
        if e == -1.0:
            return self.emit(format_op("div"), [self.scalar(1.0), x], x.shape, var=v)
        # Any other exponent is a format 1.1 Pow with the exponent as a float32 constant (as the trainer's numpy
        # rounds it). The four above keep their 1.0 ops: correctly rounded, and the bytes of 1.0 models.
        return self.emit(format_op("power"), [x, self.scalar(e)], x.shape, var=v)

    # The format has no Log1p/Expm1 (SPEC 10): the compositions below are exact sequences of format ops,
    # but they lose log1p's and expm1's accuracy near 0, where fl(1 + x) and fl(Exp(x) - 1) cancel: the
    # absolute error stays within about 2^-24 (half an ulp of 1) plus Log's or Exp's own error, the
    # relative error grows as |x| shrinks (log1p(1e-8) exports as 0).
    def op_log1p(self, v: Any, ins: list[Value]) -> Value:
        (x,) = ins
        one_plus = self.emit(format_op("add"), [self.scalar(1.0), x], x.shape)
        return self.emit(format_op("log"), [one_plus], x.shape, var=v)

    def op_expm1(self, v: Any, ins: list[Value]) -> Value:
        (x,) = ins
        e = self.emit(format_op("exp"), [x], x.shape)
        return self.emit(format_op("sub"), [e, self.scalar(1.0)], x.shape, var=v)

    def lower_transpose(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        (x,) = ins
        perm = [int(p) for p in v.attrs.get("perm") or range(len(x.shape) - 1, -1, -1)]
        return self.emit(row.name, [x], tuple(x.shape[p] for p in perm), {"perm": perm}, var=v)

    def lower_clip(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        lo, hi = np.float32(v.attrs["lo"]), np.float32(v.attrs["hi"])
        if np.isnan(lo) or np.isnan(hi) or lo > hi:
            raise ExportError(f"{describe(v)}: clip bounds {v.attrs['lo']}, {v.attrs['hi']} are not lo <= hi")
        attrs = {**({"min": float(lo)} if np.isfinite(lo) else {}), **({"max": float(hi)} if np.isfinite(hi) else {})}
        if (np.isinf(lo) and lo > 0) or (np.isinf(hi) and hi < 0):
            raise ExportError(f"{describe(v)}: clip bound is infinite on the wrong side")
        return self.emit(row.name, ins, ins[0].shape, attrs, var=v)

    def lower_softmax(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        axis = int(v.attrs.get("axis", -1))
        return self.emit(row.name, ins, ins[0].shape, {} if axis == -1 else {"axis": axis}, var=v)

    def lower_reshape(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        (x,) = ins
        target = [int(s) for s in v.attrs["shape"]]
        dims = [symdims.resolve(d) for d in x.shape]
        unknown = [d for d in dims if isinstance(d, DimVar)]
        p = int(np.prod([d for d in dims if not isinstance(d, DimVar)], dtype=np.int64))
        q = int(np.prod([s for s in target if s != -1], dtype=np.int64))
        if not unknown:
            if -1 in target:
                target[target.index(-1)] = p // q
            return self.reshape_to(x, tuple(target), v)
        if len(unknown) == 1 and -1 in target and p == q:
            target[target.index(-1)] = unknown[0]  # the unknown dim moves as a whole: a symbol
            return self.reshape_to(x, tuple(target), v)
        raise ExportError(
            f"{describe(v)}: reshape of a tensor with unknown dims to {tuple(v.attrs['shape'])} cannot be "
            "written with symbolic dims; give the graph input a concrete shape"
        )

    # ---------------------------------------------------------------- format 1.1 (int32 and selection)

    def cast_to(self, x: Value, dtype: str) -> Value:
        """`x` as `dtype` (a Cast node, or `x` itself when it has that dtype already)."""
        if x.dtype == dtype:
            return x
        return self.emit(format_op("cast"), [x], x.shape, {"to": dtype})

    def zero_like(self, x: Value) -> Value:
        return self.initializer("c", np.array(0, dtype=np.int32 if x.dtype == "int32" else np.float32))

    def lower_compare(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        a, b = ins
        if a.dtype != b.dtype:  # the trainer compares float with int; the format wants one dtype
            a, b = self.cast_to(a, "float32"), self.cast_to(b, "float32")
        return self.emit(row.name, [a, b], symdims.broadcast(a.shape, b.shape), var=v)

    def lower_logic(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        not_bool = [x for x in v.inputs if np.dtype(x.dtype) != np.bool_]
        if not_bool:
            raise ExportError(f"{describe(v)}: {v.op} of {not_bool[0].dtype} operands is bitwise in the trainer; "
                              "format And/Or/Not are logical: compare first (e.g. T.neq(x, 0))")
        shape = ins[0].shape if len(ins) == 1 else symdims.broadcast(ins[0].shape, ins[1].shape)
        return self.emit(row.name, ins, shape, var=v)

    def lower_where(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        c, a, b = ins
        if c.dtype == "float32":  # a float condition: nonzero is true
            c = self.emit(format_op("neq"), [c, self.zero_like(c)], c.shape)
        out = format_dtype(v)
        a, b = self.cast_to(a, out), self.cast_to(b, out)
        shape = symdims.broadcast(symdims.broadcast(c.shape, a.shape), b.shape)
        return self.emit(row.name, [c, a, b], shape, var=v)

    def lower_cast(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        (x,) = ins
        if np.dtype(v.attrs["dtype"]) == np.bool_:
            return self.emit(format_op("neq"), [x, self.zero_like(x)], x.shape, var=v)
        to = format_dtype(v)
        if x.dtype == to:
            return x  # float64 -> float32, int64 -> int32, ...: the same format dtype, no node
        return self.emit(row.name, [x], x.shape, {"to": to}, var=v)

    def lower_gather(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        if len(ins) != 2:
            raise ExportError(f"{describe(v)}: indexing with {len(ins) - 1} index tensors is outside format 1.1 "
                              "(one index tensor on the first axis is Gather)")
        data, idx = ins
        if idx.dtype != "int32":
            raise ExportError(f"{describe(v)}: indices of dtype {v.inputs[1].dtype} (integers are needed)")
        return self.emit(row.name, [data, idx], tuple(idx.shape) + tuple(data.shape[1:]), var=v)

    def lower_concat(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        if len(ins) > row.max_arity:
            raise ExportError(f"{describe(v)}: {len(ins)} inputs; Concat takes at most {row.max_arity}")
        rank = len(ins[0].shape)
        axis = int(v.attrs["axis"]) % rank
        sizes = [symdims.resolve(x.shape[axis]) for x in ins]
        if any(isinstance(d, DimVar) for d in sizes):
            raise ExportError(f"{describe(v)}: a concatenated axis of unknown size; give it a concrete size")
        # Every other dim is the same in all inputs (SPEC 6), so their symbols are one symbol.
        for x in ins[1:]:
            for i, d in enumerate(x.shape):
                if i != axis:
                    symdims.unify(ins[0].shape[i], d)
        shape = tuple(sum(sizes) if i == axis else symdims.resolve(d) for i, d in enumerate(ins[0].shape))
        return self.emit(row.name, ins, shape, {"axis": axis}, var=v)

    def lower_argreduce(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        (x,) = ins
        axis, keep = v.attrs.get("axis"), bool(v.attrs.get("keepdims", False))
        if axis is None:  # over all elements: flatten first (static shapes only)
            dims = [symdims.resolve(d) for d in x.shape]
            if any(isinstance(d, DimVar) for d in dims):
                raise ExportError(f"{describe(v)}: {v.op} over all axes of a tensor with unknown dims; "
                                  "give an axis or a concrete shape")
            flat = self.reshape_to(x, (int(np.prod(dims, dtype=np.int64)),))
            out = self.emit(row.name, [flat], (), {"axis": 0})
            return self.reshape_to(out, (1,) * len(x.shape), v) if keep else self._named(out, v)
        axis = int(axis[0] if isinstance(axis, (tuple, list)) else axis) % len(x.shape)
        shape = tuple(1 if i == axis else d for i, d in enumerate(x.shape) if keep or i != axis)
        attrs = {"axis": axis, **({"keepdims": True} if keep else {})}
        return self.emit(row.name, [x], shape, attrs, var=v)

    def _named(self, value: Value, v: Any) -> Value:
        """`value` under the output name the user gave `v`, if any (a Reshape to its own shape)."""
        if id(v) in self.output_names:
            return self.reshape_to(value, value.shape, v)
        return value


    # ---------------------------------------------------------------- trainer layout ops (Reshape, Transpose, Slice)

    def _static(self, v: Any, dims: Any, what: str) -> list[int]:
        resolved = [symdims.resolve(d) for d in dims]
        if any(isinstance(d, DimVar) for d in resolved):
            raise ExportError(f"{describe(v)}: {what} of an axis of unknown size; give the input a concrete shape")
        return [int(d) for d in resolved]

    def op_flatten(self, v: Any, ins: list[Value]) -> Value:
        (x,) = ins
        nd = int(v.attrs["ndim"])
        lead, rest = tuple(x.shape[:nd - 1]), x.shape[nd - 1:]
        tail = rest[0] if len(rest) == 1 else int(np.prod(self._static(v, rest, "flatten"), dtype=np.int64))
        return self.reshape_to(x, lead + (tail,), v)

    def op_dimshuffle(self, v: Any, ins: list[Value]) -> Value:
        """Drop the left-out length-1 axes (Reshape), move the kept ones (Transpose), insert 'x' (Reshape);
        the last node emitted carries the variable's name, and an identity pattern emits nothing."""
        (x,) = ins
        pattern = list(v.attrs["pattern"])
        kept = [p for p in pattern if p != "x"]
        order = sorted(kept)
        perm = [order.index(p) for p in kept]
        squeeze = len(kept) < len(x.shape)
        move = perm != sorted(perm)
        expand = "x" in pattern
        y = x
        if squeeze:
            y = self.reshape_to(y, tuple(x.shape[i] for i in order), None if move or expand else v)
        if move:
            y = self.emit(format_op("transpose"), [y], tuple(y.shape[p] for p in perm), {"perm": perm},
                          var=None if expand else v)
        if expand:
            y = self.reshape_to(y, tuple(1 if p == "x" else x.shape[p] for p in pattern), v)
        return y

    def lower_slice(self, row: OpDef, v: Any, ins: list[Value]) -> Value:
        """Basic indexing: one Slice for the sliced and indexed axes, then a Reshape dropping the indexed ones."""
        (x,) = ins
        starts, ends, axes, steps, shape, dropped = [], [], [], [], list(x.shape), []
        for axis, entry in enumerate(v.attrs["idx"]):
            if entry[0] == "index":
                i = int(entry[1])
                lo, hi, step = i, (i + 1 if i != -1 else 2**31 - 1), 1
                dropped.append(axis)
            else:
                _, lo, hi, step = entry
                step = 1 if step is None else int(step)
                if lo is None and hi is None and step == 1:
                    continue  # the whole axis
                lo = (0 if step > 0 else -1) if lo is None else int(lo)
                hi = (2**31 - 1 if step > 0 else -(2**31)) if hi is None else int(hi)
            (d,) = self._static(v, [x.shape[axis]], "a slice")
            n = len(range(*slice(lo, hi, step).indices(d)))
            if n == 0:
                raise ExportError(f"{describe(v)}: the slice is empty; the format has no empty tensors")
            starts.append(lo)
            ends.append(hi)
            axes.append(axis)
            steps.append(step)
            shape[axis] = n
        y = x
        if axes:
            attrs = {"starts": starts, "ends": ends, "axes": axes, **({"steps": steps} if set(steps) != {1} else {})}
            y = self.emit(row.name, [x], tuple(shape), attrs, var=None if dropped else v)
        if dropped or y is x:
            return self.reshape_to(y, tuple(d for i, d in enumerate(shape) if i not in dropped), v)
        return y

    # ---------------------------------------------------------------- convolutional networks (format 1.2)

    def _nchw(self, v: Any, x: Value, what: str) -> tuple:
        if len(x.shape) != 4:
            raise ExportError(f"{describe(v)}: {what} of a {len(x.shape)}-d tensor; the format's is NCHW (4-d): "
                              "reshape to (N, C, H, W) first")
        return (x.shape[0], *self._static(v, x.shape[1:], what))

    def op_conv2d(self, v: Any, ins: list[Value]) -> Value:
        """Conv2D: Theano's symmetric border as pads, subsample as strides. filter_flip (true convolution)
        flips the kernel: weights are written flipped, computed filters go through a reversing Slice."""
        from tessera.trainer.ops.conv import conv_out_len, conv_pads  # Theano's geometry, one definition

        x = ins[0]
        n, _c, h, w = self._nchw(v, x, "conv2d")
        flip, wv = v.attrs["flip"], v.inputs[1]
        if flip and _is_weight(wv):
            data = wv.get_value() if wv.kind == "shared" else wv.value
            filt = self.initializer("p", float32_value(wv, np.asarray(data)[:, :, ::-1, ::-1]), wv.name or None)
        else:
            filt = ins[1]
        m, _cg, kh, kw = self._static(v, filt.shape, "conv2d's filters")
        if flip and not _is_weight(wv):
            filt = self.emit(format_op("subtensor"), [filt], filt.shape,
                             {"starts": [-1, -1], "ends": [-(2**31), -(2**31)], "axes": [2, 3], "steps": [-1, -1]})
        (dh, dw), (sh, sw), group = v.attrs["dilation"], v.attrs["subsample"], int(v.attrs["groups"])
        ph, pw = conv_pads(v.attrs["border"], kh, kw, dh, dw)
        shape = (n, m, conv_out_len(h, kh, ph, sh, dh, "height"), conv_out_len(w, kw, pw, sw, dw, "width"))
        attrs = {k: a for k, a, default in (("strides", [sh, sw], [1, 1]), ("pads", [ph, pw, ph, pw], [0, 0, 0, 0]),
                                             ("dilations", [dh, dw], [1, 1]), ("group", group, 1)) if a != default}
        return self.emit("Conv2D", [x, filt], shape, attrs, var=v)

    def op_pool_2d(self, v: Any, ins: list[Value]) -> Value:
        """MaxPool2D / AveragePool2D, or for mode "sum" a depthwise Conv2D with weights of ones (SPEC 7.11's
        sum skips padding and starts at +0, as the trainer's). ignore_border=False keeps a last partial window:
        extra padding at the end, which both pool ops skip (Theano's average_inc_pad then counts the window
        inside the input, count_include_pad false)."""
        from tessera.trainer.ops.pool import end_pad, pool_out_len  # Theano's geometry, one definition

        (x,) = ins
        n, c, h, w = self._nchw(v, x, "pool_2d")
        (kh, kw), (sh, sw), (ph, pw) = v.attrs["ws"], v.attrs["stride"], v.attrs["pad"]
        ib, mode = v.attrs["ignore_border"], v.attrs["mode"]
        ho, wo = pool_out_len(h, kh, sh, ph, ib), pool_out_len(w, kw, sw, pw, ib)
        pb, pr = end_pad(h, kh, sh, ph, ho), end_pad(w, kw, sw, pw, wo)
        if pb >= kh or pr >= kw or (h + ph + pb - kh) // sh + 1 != ho or (w + pw + pr - kw) // sw + 1 != wo:
            raise ExportError(f"{describe(v)}: pooling {h}x{w} with window {(kh, kw)}, stride {(sh, sw)}: the last "
                              "window needs end padding of at least the window size, which the format's pooling "
                              "refuses; use ignore_border=True")
        pads = [ph, pw, pb, pr]
        attrs: dict = {"kernel_shape": [kh, kw]}
        if (sh, sw) != (1, 1):
            attrs["strides"] = [sh, sw]
        if any(pads):
            attrs["pads"] = pads
        shape = (n, c, ho, wo)
        if mode == "max":
            return self.emit("MaxPool2D", [x], shape, attrs, var=v)
        if mode == "sum":
            ones = self.initializer("c", np.ones((c, 1, kh, kw), np.float32))
            conv = {k: a for k, a in attrs.items() if k != "kernel_shape"}
            return self.emit("Conv2D", [x, ones], shape, {**conv, **({"group": c} if c != 1 else {})}, var=v)
        if mode == "average_inc_pad" and (pb, pr) == (ph, pw):  # every window inside the padded input
            attrs["count_include_pad"] = True
        return self.emit("AveragePool2D", [x], shape, attrs, var=v)
