"""Convert a checked format-v1 model to ONNX (`tessera export --onnx`).

    from tessera.exporter import onnx_export
    proto = onnx_export.to_onnx(exporter.load("model.json"))   # onnx.ModelProto, checked
    onnx_export.save(proto, "model.onnx")                       # atomic write

Every name is kept: graph inputs and outputs (symbolic dimensions as dim_param), initializers (float32 or
int32 TensorProtos, same shapes), each node's output, and node names where they are unique; every value keeps
its dtype (int32 is INT32 in inputs, outputs, initializers and value_info). Each Tessera node becomes the ONNX
node below that writes its output (the emitter `EMITTERS[row.onnx.how]` of its registry row,
exporter/opset.py, writing `row.onnx.op_type`), plus, where ONNX needs them, helper nodes (Transpose of an
initializer; Shape/Gather/Concat for a Reshape with several symbols; the Casts and compositions below) and
int64/int32/float32 constant initializers (Clip bounds, axes, Slice operands, Reshape targets), all under
fresh names. Target: ONNX opset 17 (IR version 8), the default domain only.

| Tessera | ONNX (opset 17) |
|---|---|
| MatMul | MatMul; Transpose + MatMul for a transposed initializer; Gemm(transA, transB) for a transposed value |
| other ops without attributes (rows `Onnx("same", op_type)`) | op_type: the same name (Max, Min for Maximum, Minimum) |
| Clip(min, max) | Clip with min and max as rank-0 float32 initializers, always both (a default is -inf / +inf) |
| Softmax(axis), LogSoftmax(axis) | Softmax(axis), LogSoftmax(axis) (opset >= 13: one axis, no flattening) |
| ReduceSum(axes, keepdims) | ReduceSum with axes as an int64 input (opset 13 form), keepdims explicit |
| ReduceMean, ReduceMax, ReduceMin, ReduceProd | axes as an attribute (the form before opset 18), keepdims explicit |
| Transpose(perm) | Transpose(perm), perm always explicit; Identity when perm moves nothing (rank 0, 1) |
| Reshape(shape) | Reshape with an int64 shape initializer; a symbolic entry is read from the input's shape |
| Greater GreaterOrEqual Less LessOrEqual Equal | the same comparison (bool), then Cast(to=INT32) |
| NotEqual | Not(Equal) (no NotEqual in opset 17; true for a NaN operand, as IEEE `!=`), Cast(to=INT32) |
| And Or Not | Cast(to=BOOL) of each operand (exactly `x != 0`), the same op, Cast(to=INT32) |
| Where | Cast(to=BOOL) of the condition, Where |
| Cast(to) | Identity for the same dtype; Cast for int32 -> float32; float32 -> int32 composed (see `_cast`) |
| Gather(axis) | Gather(axis) with the int32 indices |
| Concat(axis) | Concat(axis) |
| Slice(starts, ends, axes, steps) | Slice with four int64 initializers (opset 10+ form) |
| ArgMax, ArgMin(axis, keepdims) | the same (select_last_index=0), Cast(to=INT32); float32: first NaN wins (`_arg`) |
| Conv2D(strides, pads, dilations, group) | Conv, kernel_shape from the weights, pads in the same order (`_window`) |
| MaxPool2D, AveragePool2D(kernel_shape, ..) | MaxPool, AveragePool (count_include_pad explicit), ceil_mode 0 |

The graph is the same computation, but ONNX does not define Tessera's exact arithmetic (SPEC §7):
an ONNX runtime may use FMA, another summation order and its own exp/log, and treats NaN and
signed zeros in Max/Min/Relu/Clip/ReduceMax/ReduceMin/Where its own way. Where ONNX leaves a result
undefined that the format defines (Cast of NaN or of an out-of-range float, the NaN rule of ArgMax/ArgMin),
the emitter composes the format's rule; a Gather index out of range (E_INPUT at run time) has no ONNX
meaning (onnxruntime fails the run). `tests/crosscheck/test_onnxruntime.py` measures the
differences against onnxruntime; exporter/README.md lists them.

`onnx` is imported only when a conversion runs; without it the error says `pip install onnx`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tessera.exporter.check import CheckedModel, Node
from tessera.exporter.errors import ModelError
from tessera.exporter.jsonio import atomic_write
from tessera.exporter.opset import OPS
from tessera.exporter.shapes import Shape

if TYPE_CHECKING:  # pragma: no cover
    from onnx import ModelProto

    from tessera.exporter.model import Model

OPSET = 17
IR_VERSION = 8
PRODUCER = "tessera onnx_export"

MISSING_ONNX = "the ONNX converter needs the onnx package: pip install onnx"


class OnnxExportError(ValueError):
    """The converted model failed onnx.checker: a converter bug, reported rather than written."""


def import_onnx() -> Any:
    """The onnx module, or ImportError with the pip command when it is not installed."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(MISSING_ONNX) from exc
    return onnx


class _Builder:
    """Accumulates nodes and initializers; hands out names that collide with nothing in the model."""

    def __init__(self, onnx: Any, checked: CheckedModel) -> None:
        self.onnx = onnx
        self.checked = checked
        self.taken: set[str] = set(checked.shapes) | {n for n, _ in checked.inputs}
        self.node_names: set[str] = set()
        self.nodes: list[Any] = []
        self.transposed: dict[str, str] = {}  # initializer -> its Transpose output
        self.dtypes = checked.dtypes  # every value's dtype, from the checker
        self.initializers: list[Any] = [self._tensor(name, arr) for name, arr in checked.initializers.items()]

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def node_name(self, wanted: str) -> str:
        name, i = wanted, 1
        while name in self.node_names:
            i += 1
            name = f"{wanted}_{i}"
        self.node_names.add(name)
        return name

    def _tensor(self, name: str, arr: np.ndarray) -> Any:
        """A float32 or int32 TensorProto (little-endian raw data) of the same shape."""
        # np.array, not np.ascontiguousarray: the latter makes a rank-0 tensor rank 1.
        little = "<i4" if np.asarray(arr).dtype == np.int32 else "<f4"
        return self.onnx.numpy_helper.from_array(np.array(arr, dtype=little, order="C"), name)

    def float_const(self, base: str, value: np.float32) -> str:
        name = self.fresh(base)
        self.initializers.append(self._tensor(name, np.asarray(value, dtype=np.float32)))
        return name

    def int32_const(self, base: str, value: int) -> str:
        name = self.fresh(base)
        self.initializers.append(self._tensor(name, np.asarray(value, dtype=np.int32)))
        return name

    def int64_const(self, base: str, values: list[int]) -> str:
        name = self.fresh(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(values, dtype="<i8"), name))
        return name

    def add(self, op: str, inputs: list[str], output: str, name: str, **attrs: Any) -> None:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=self.node_name(name), **attrs))

    def temp(self, op: str, inputs: list[str], node: Node, label: str, suffix: str, **attrs: Any) -> str:
        """A helper node `op` whose output gets a fresh name derived from the Tessera node's; returns it."""
        out = self.fresh(f"{node.output}__{suffix}")
        self.add(op, inputs, out, f"{label}__{suffix}", **attrs)
        return out

    def cast(self, x: str, to: str, node: Node, label: str, suffix: str) -> str:
        return self.temp("Cast", [x], node, label, suffix, to=_onnx_type(self.onnx, to))


def _onnx_type(onnx: Any, dtype: str) -> int:
    """The TensorProto element type of a Tessera dtype ("bool" only for the helper casts of the mappings)."""
    return {"float32": onnx.TensorProto.FLOAT, "int32": onnx.TensorProto.INT32, "bool": onnx.TensorProto.BOOL}[dtype]


def _value_info(onnx: Any, name: str, shape: Shape, dtype: str) -> Any:
    dims = [d if isinstance(d, str) else int(d) for d in shape]
    return onnx.helper.make_tensor_value_info(name, _onnx_type(onnx, dtype), dims)


def _reshape_target(b: _Builder, node: Node, label: str) -> str:
    """The int64 shape operand of ONNX Reshape for a Tessera target that may hold symbols."""
    target = list(node.params["shape"])  # symbols kept, -1 already resolved by the checker
    in_shape = b.checked.shapes[node.inputs[0]]
    symbols = [d for d in target if isinstance(d, str)]
    if not symbols:
        return b.int64_const(f"{node.output}__shape", [int(d) for d in target])
    if len(symbols) == 1:
        # One symbol s: every other entry is fixed and the element count is s * (fixed dims of the input),
        # so -1 (which ONNX resolves as count / product of the others) is exactly s.
        return b.int64_const(f"{node.output}__shape", [-1 if isinstance(d, str) else int(d) for d in target])
    # Several symbols: gather each from the input's runtime shape (a symbol's value is the same wherever
    # it occurs, SPEC §4), concatenate with the fixed entries.
    shape_of = b.fresh(f"{node.output}__in_shape")
    b.add("Shape", [node.inputs[0]], shape_of, f"{label}__shape")
    parts = []
    for j, d in enumerate(target):
        if isinstance(d, str):
            where = b.int64_const(f"{node.output}__dim{j}_index", [in_shape.index(d)])
            part = b.fresh(f"{node.output}__dim{j}")
            b.add("Gather", [shape_of, where], part, f"{label}__dim{j}", axis=0)
        else:
            part = b.int64_const(f"{node.output}__dim{j}", [int(d)])
        parts.append(part)
    joined = b.fresh(f"{node.output}__shape")
    b.add("Concat", parts, joined, f"{label}__concat", axis=0)
    return joined


# One emitter per `Onnx.how` of the registry rows: (builder, node, inputs, node label).


def _same(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """One ONNX node of the row's op_type with the same operands and no attribute."""
    b.add(node.opdef.onnx.op_type, x, node.output, label)


def _matmul(b: _Builder, node: Node, x: list[str], label: str) -> None:
    # A transposed initializer becomes Transpose + MatMul: onnxruntime folds the Transpose once at load and
    # then runs its prepacked MatMul, measurably faster than Gemm(transB) on the seed auto-encoder (10%
    # at 64->32, batch 256). A transposed run-time value goes through Gemm's transA/transB (no copy).
    p = node.params
    flags = [p["transpose_a"], p["transpose_b"]]
    for i, side in enumerate("AB"):
        if flags[i] and x[i] in b.checked.initializers:
            if x[i] not in b.transposed:  # a tied weight is transposed once
                b.transposed[x[i]] = b.fresh(f"{x[i]}__T")
                b.add("Transpose", [x[i]], b.transposed[x[i]], f"{label}__{side}T", perm=[1, 0])
            x[i], flags[i] = b.transposed[x[i]], False
    if any(flags):
        b.add("Gemm", x, node.output, label, transA=int(flags[0]), transB=int(flags[1]))
    else:
        b.add(node.opdef.onnx.op_type, x, node.output, label)


def _clip(b: _Builder, node: Node, x: list[str], label: str) -> None:
    # Both bounds always explicit: an omitted ONNX Clip bound means -FLT_MAX / +FLT_MAX (numeric_limits
    # lowest/max, so +inf would become 3.4e38), whereas a Tessera default is -inf / +inf.
    bounds = [b.float_const(f"{node.output}__{key}", node.params[key]) for key in ("min", "max")]
    b.add(node.opdef.onnx.op_type, x + bounds, node.output, label)


def _softmax(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """Softmax, LogSoftmax: one axis, no flattening (opset >= 13)."""
    b.add(node.opdef.onnx.op_type, x, node.output, label, axis=int(node.params["axis"]))


def _reduce_axes_input(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """The opset 13 form: axes as an int64 input."""
    axes = [int(a) for a in node.params["axes"]]
    inputs = x + [b.int64_const(f"{node.output}__axes", axes)] if axes else x  # rank 0: no axes = reduce all
    b.add(node.opdef.onnx.op_type, inputs, node.output, label, keepdims=int(node.params["keepdims"]))


def _reduce_axes_attr(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """The form before opset 18: axes as an attribute."""
    axes = [int(a) for a in node.params["axes"]]
    extra = {"axes": axes} if axes else {}
    b.add(node.opdef.onnx.op_type, x, node.output, label, keepdims=int(node.params["keepdims"]), **extra)


def _transpose(b: _Builder, node: Node, x: list[str], label: str) -> None:
    perm = [int(a) for a in node.params["perm"]]
    if perm == sorted(perm):  # moves nothing (rank 0 or 1): Identity; onnx.helper cannot type an empty perm
        b.add("Identity", x, node.output, label)
    else:
        b.add(node.opdef.onnx.op_type, x, node.output, label, perm=perm)


def _reshape(b: _Builder, node: Node, x: list[str], label: str) -> None:
    b.add(node.opdef.onnx.op_type, [x[0], _reshape_target(b, node, label)], node.output, label)


def _param(node: Node, key: str, default: Any = None) -> Any:
    """An attribute as the checker resolved it (params), else as written, else the row's default, else `default`."""
    for source in (node.params, node.attrs, node.opdef.with_defaults({})):
        if source.get(key) is not None:
            return source[key]
    return default


def _to_int32(b: _Builder, src: str, node: Node, label: str) -> None:
    """The node's output: `src` (bool or int64) cast to INT32, the format's only integer dtype."""
    b.add("Cast", [src], node.output, label, to=b.onnx.TensorProto.INT32)


def _compare(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """An ONNX comparison gives bool; the format's booleans are int32 0/1. NaN compares false, -0 == +0, in
    both (IEEE comparisons); int32 operands compare as integers in both."""
    _to_int32(b, b.temp(node.opdef.onnx.op_type, x, node, label, "bool"), node, label)


def _compare_negated(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """NotEqual: ONNX (opset 17) has no such operator; Not(Equal) is also true when an operand is NaN, as
    IEEE `!=` is."""
    equal = b.temp(node.opdef.onnx.op_type, x, node, label, "bool")
    _to_int32(b, b.temp("Not", [equal], node, label, "not"), node, label)


def _logical(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """And, Or, Not: the format's operands are int32 with any nonzero value true, ONNX's are bool; Cast(to=BOOL)
    is exactly `x != 0`. The bool result is cast back to int32 0/1."""
    flags = [b.cast(v, "bool", node, label, f"bool{i}") for i, v in enumerate(x)]
    _to_int32(b, b.temp(node.opdef.onnx.op_type, flags, node, label, "result"), node, label)


def _where(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """The int32 condition (nonzero = true) becomes bool for ONNX Where; A and B, either dtype, pass unchanged
    (Where copies the selected element, NaN payloads and -0 included; three-way numpy broadcasting in both)."""
    b.add(node.opdef.onnx.op_type, [b.cast(x[0], "bool", node, label, "cond"), x[1], x[2]], node.output, label)


# float32 -> int32 in the format saturates (SPEC 7.8); ONNX leaves NaN and out-of-range values undefined and
# onnxruntime (x86-64: cvttss2si) gives INT32_MIN for all of them. The composition below is exact: every bound
# is a float32 value, and Clip keeps the in-range values unchanged for the truncating Cast.
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_BELOW_2_31 = float(np.nextafter(np.float32(2.0**31), np.float32(0)))  # 2147483520, the largest float32 < 2^31


def _cast(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """Cast(to): same dtype is Identity; int32 -> float32 is ONNX Cast (round to nearest even, as the format);
    float32 -> int32 adds the saturation and NaN rules of SPEC 7.8 around ONNX Cast's truncation:
    Where(IsNaN(x), 0, Where(x >= 2^31, INT32_MAX, Cast(Clip(x, -2^31, 2^31 - 128))))."""
    to = _param(node, "to")
    if b.dtypes[x[0]] == to:
        b.add("Identity", x, node.output, label)
        return
    op = node.opdef.onnx.op_type
    if to == "float32":
        b.add(op, x, node.output, label, to=_onnx_type(b.onnx, to))
        return
    lo, hi = b.float_const(f"{node.output}__min", np.float32(_INT32_MIN)), b.float_const(
        f"{node.output}__max", np.float32(_BELOW_2_31))
    clipped = b.temp("Clip", [x[0], lo, hi], node, label, "clipped")
    truncated = b.temp(op, [clipped], node, label, "truncated", to=_onnx_type(b.onnx, to))
    big = b.temp("GreaterOrEqual", [x[0], b.float_const(f"{node.output}__2p31", np.float32(2.0**31))], node, label,
                 "big")
    saturated = b.temp("Where", [big, b.int32_const(f"{node.output}__int32_max", _INT32_MAX), truncated], node, label,
                       "saturated")
    nan = b.temp("IsNaN", x, node, label, "nan")
    b.add("Where", [nan, b.int32_const(f"{node.output}__zero", 0), saturated], node.output, label)


def _gather(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """ONNX Gather takes int32 indices and negative ones as the format does. An index outside [-d, d-1] is the
    format's run-time E_INPUT; onnxruntime fails that run too (INVALID_ARGUMENT, 'indices element out of data
    bounds'), but ONNX itself leaves it undefined, so another ONNX runtime may not."""
    b.add(node.opdef.onnx.op_type, x, node.output, label, axis=int(_param(node, "axis", 0)))


def _concat(b: _Builder, node: Node, x: list[str], label: str) -> None:
    b.add(node.opdef.onnx.op_type, x, node.output, label, axis=int(_param(node, "axis")))


_INT64 = (-(2**63), 2**63 - 1)


def _slice(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """starts/ends/axes/steps as int64 initializers (the opset 10+ form), the values as written: ONNX's rule
    (negative counts from the end, then starts clamped to [0, d] and ends to [0, d] for a positive step, to
    [0, d-1] and [-1, d-1] for a negative one) is Python's slice rule. Integers beyond int64 are clamped to it,
    which selects the same elements (every dimension is far smaller)."""
    starts, ends = list(node.attrs["starts"]), list(node.attrs["ends"])
    k = len(starts)
    axes = node.attrs.get("axes", list(range(k)))
    steps = node.attrs.get("steps", [1] * k)

    def const(key: str, values: list[int]) -> str:
        return b.int64_const(f"{node.output}__{key}", [min(max(int(v), _INT64[0]), _INT64[1]) for v in values])

    operands = [const("starts", starts), const("ends", ends), const("axes", axes), const("steps", steps)]
    b.add(node.opdef.onnx.op_type, x + operands, node.output, label)


def _arg(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """ArgMax/ArgMin(axis, keepdims, select_last_index=0: ties keep the first index, -0 ties +0), int64 cast to
    int32. SPEC 7.9 makes the first NaN of a slice the answer; onnxruntime's ArgMax/ArgMin never pick a NaN
    after index 0 (NaN compares false), so for float32 the first NaN's index (ArgMax of IsNaN as int32) is
    chosen where the slice has one (ReduceMax of the same)."""
    axis, keepdims = int(_param(node, "axis")), int(bool(_param(node, "keepdims", False)))
    index = b.temp(node.opdef.onnx.op_type, x, node, label, "index", axis=axis, keepdims=keepdims,
                   select_last_index=0)
    if b.dtypes[x[0]] == "float32":
        nan = b.cast(b.temp("IsNaN", x, node, label, "isnan"), "int32", node, label, "nan")
        first_nan = b.temp("ArgMax", [nan], node, label, "first_nan", axis=axis, keepdims=keepdims,
                           select_last_index=0)
        any_nan = b.temp("ReduceMax", [nan], node, label, "any_nan", axes=[axis], keepdims=keepdims)
        index = b.temp("Where", [b.cast(any_nan, "bool", node, label, "has_nan"), first_nan, index], node, label,
                       "nan_first")
    _to_int32(b, index, node, label)


def _window(node: Node) -> dict[str, list[int]]:
    """strides and pads as ONNX writes them: Tessera's pads [top, left, bottom, right] are ONNX's
    [x1_begin, x2_begin, x1_end, x2_end] for NCHW (x1 the height), the same order."""
    return {"strides": list(node.params["strides"]), "pads": list(node.params["pads"])}


def _conv(b: _Builder, node: Node, x: list[str], label: str) -> None:
    kernel = list(b.checked.shapes[x[1]][2:])
    b.add(node.opdef.onnx.op_type, x, node.output, label, kernel_shape=kernel, group=int(node.params["group"]),
          dilations=list(node.params["dilations"]), **_window(node))


def _pool(b: _Builder, node: Node, x: list[str], label: str) -> None:
    """MaxPool: ONNX skips padding as -inf would, the format skips it outright (the same, since every window
    holds an input element). AveragePool: count_include_pad explicit (ONNX's default is 0, as the format's)."""
    extra = {"count_include_pad": int(node.params["count_include_pad"])} if "count_include_pad" in node.params else {}
    b.add(node.opdef.onnx.op_type, x, node.output, label, kernel_shape=list(node.params["kernel_shape"]),
          ceil_mode=0, **_window(node), **extra)


Emitter = Callable[[_Builder, Node, list[str], str], None]
EMITTERS: dict[str, Emitter] = {
    "same": _same, "matmul": _matmul, "clip": _clip, "softmax": _softmax, "reduce_axes_input": _reduce_axes_input,
    "reduce_axes_attr": _reduce_axes_attr, "transpose": _transpose, "reshape": _reshape,
    "compare": _compare, "compare_negated": _compare_negated, "logical": _logical, "where": _where, "cast": _cast,
    "gather": _gather, "concat": _concat, "slice": _slice, "arg": _arg, "conv": _conv, "pool": _pool,
}
# The operators this converter maps: every registry row whose `onnx` names one of its emitters.
SUPPORTED_OPS = frozenset(name for name, d in OPS.items() if d.onnx is not None and d.onnx.how in EMITTERS)


def _convert_node(b: _Builder, node: Node, label: str) -> None:
    onnx = node.opdef.onnx
    if onnx is None or onnx.how not in EMITTERS:  # a row this converter has no emitter for
        raise ModelError("E_UNKNOWN_OP", f"{node.label}: operator {node.op!r} has no ONNX mapping in this converter")
    EMITTERS[onnx.how](b, node, list(node.inputs), label)


def _checked(model: Model | CheckedModel | str | os.PathLike | dict) -> CheckedModel:
    if isinstance(model, CheckedModel):
        return model
    checked = getattr(model, "checked", None)
    if isinstance(checked, CheckedModel):
        return checked
    from tessera.exporter.model import load

    return load(model).checked


def to_onnx(model: Model | CheckedModel | str | os.PathLike | dict, *, check: bool = True) -> ModelProto:
    """The ONNX ModelProto (opset 17) of a model: an `exporter.load` result, a CheckedModel, a path or a dict.

    Raises ModelError for a model the loader rejects or an operator without a mapping, OnnxExportError
    when onnx.checker rejects the result (a bug here), ImportError naming `pip install onnx` without onnx.
    """
    onnx = import_onnx()
    checked = _checked(model)
    unknown = sorted({n.op for n in checked.nodes} - SUPPORTED_OPS)
    if unknown:
        first = next(n for n in checked.nodes if n.op in unknown)
        raise ModelError("E_UNKNOWN_OP", f"{first.label}: operator {first.op!r} has no ONNX mapping in this converter")
    b = _Builder(onnx, checked)
    raw_nodes = checked.doc["graph"]["nodes"]
    names = Counter(n.get("name") for n in raw_nodes if isinstance(n.get("name"), str))
    for node in checked.nodes:
        given = raw_nodes[node.index].get("name")
        label = given if isinstance(given, str) and names[given] == 1 else f"{node.op}_{node.index}"
        _convert_node(b, node, label)
    declared = {n for n, _ in checked.inputs} | {n for n, _ in checked.outputs} | set(checked.initializers)
    value_info = [_value_info(onnx, n.output, checked.shapes[n.output], b.dtypes[n.output]) for n in checked.nodes
                  if n.output not in declared]
    graph = onnx.helper.make_graph(
        b.nodes,
        _graph_name(checked),
        [_value_info(onnx, n, s, b.dtypes[n]) for n, s in checked.inputs],
        [_value_info(onnx, n, s, b.dtypes[n]) for n, s in checked.outputs],
        b.initializers,
        value_info=value_info,
    )
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                                   producer_name=PRODUCER, producer_version=_version())
    source = checked.doc.get("producer", {})
    onnx.helper.set_model_props(proto, {
        "tessera_format_version": str(checked.doc.get("format_version", "")),
        "tessera_producer": f"{source.get('name', '')} {source.get('version', '')}".strip(),
    })
    metadata = checked.doc.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("description"), str):
        proto.doc_string = metadata["description"]
    if check:
        try:
            onnx.checker.check_model(proto, full_check=True)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
            raise OnnxExportError(f"onnx.checker rejected the converted model (a converter bug): {exc}") from exc
    return proto


def _graph_name(checked: CheckedModel) -> str:
    meta = checked.doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else "tessera"


def _version() -> str:
    from tessera.exporter import __version__

    return __version__


def save(proto: ModelProto, path: str | os.PathLike) -> int:
    """Write the serialized model atomically (all or nothing); returns the number of bytes written."""
    data = proto.SerializeToString()
    atomic_write(path, data)
    return len(data)


def summary(proto: ModelProto) -> str:
    """`opset 17, 7 nodes (Add x2, Gemm x1, ...), 3 initializers` for the CLI's one-line report."""
    ops = Counter(n.op_type for n in proto.graph.node)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), OPSET)
    return (f"opset {opset}, {len(proto.graph.node)} nodes ("
            + ", ".join(f"{op} x{c}" for op, c in sorted(ops.items()))
            + f"), {len(proto.graph.initializer)} initializers")
