"""The ONNX operator table of the importer: one row per ONNX op type (how it maps, the attributes it accepts,
the opsets it is read for).

Rows whose mapping is one to one are derived from the registry's `onnx=` field (exporter/opset.py), the
same field the ONNX exporter writes from, so the two directions cannot drift: every registry row
`Onnx(how, op_type)` whose `how` has an entry in `FROM_REGISTRY` gives the row for `op_type` back to that
format op. The rest (`EXTRA`) are ONNX operators with no format op of their own: lowered (Gemm, Flatten,
Squeeze, Unsqueeze, LeakyRelu, GlobalAveragePool, BatchNormalization, IsNaN), removed (Identity, Dropout),
or folded at import time (Constant, Shape and the integer arithmetic on shapes).

Opset differences inside 13..21 that matter here: Squeeze/Unsqueeze/ReduceSum take `axes` as an input from 13;
ReduceMean/ReduceMax/ReduceMin/ReduceProd from 18 (an attribute before); Shape has start/end from 15;
Clip takes min/max as inputs (since 11); Softmax/LogSoftmax have the one-axis meaning from 13. Split, Pad and
Resize (whose inputs changed in this range) are not mapped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tessera.exporter.errors import ModelError
from tessera.exporter.onnx_import.graph import Graph, Val
from tessera.exporter.opset import OPS, OpDef
from tessera.exporter.shapes import ShapeProblem, reshape


@dataclass
class Ctx:
    g: Graph
    opset: int
    what: str  # the ONNX node in messages: `ONNX node 'name' (Op)`
    out: str  # the ONNX name of the node's first output (the format value's name base)
    label: str | None
    consumers: dict[str, int]  # ONNX value -> number of consuming nodes (graph outputs count)
    inputs: list[str]  # the ONNX node's input names

    def fail(self, code: str, message: str) -> ModelError:
        return ModelError(code, f"{self.what}: {message}")

    def node(self, op: str, operands: list[Val], attrs: dict | None = None, suffix: str = "") -> Val:
        return self.g.node(op, operands, attrs or {}, self.what, self.out + suffix, self.label)

    def const(self, v: Val | None, what: str) -> np.ndarray:
        if v is None or v.const is None:
            raise self.fail("E_SHAPE", f"{what} must be a constant (an initializer or folded at import time)")
        return v.const


Handler = Callable[[Ctx, list, dict], list]


@dataclass(frozen=True)
class OnnxOp:
    op_type: str
    convert: Handler
    attrs: frozenset[str]
    since: int = 13
    until: int = 21
    note: str = ""


def _f32(x: float) -> float:
    return float(np.float32(x))


def _ints(v: Any) -> list[int]:
    return [int(i) for i in np.asarray(v).ravel()]


def _truth(cx: Ctx, v: Val) -> Val:
    """A bool operand for a node that needs 0/1 (not And/Or/Not/Where, which read any nonzero as true)."""
    return cx.g.materialise_truth(v, cx.what) if v.truthy else v


def _plain(v: Val) -> Val:
    """A truthy value read as it is (nonzero = true)."""
    return Val(v.name, v.shape, v.dtype, flag=v.flag) if v.truthy else v


# ------------------------------------------------------------------ rows derived from the registry


def _same(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        ins = [x for x in ins if x is not None]
        if row.arity == 2 and len(ins) != 2:  # ONNX Max/Min are variadic
            if len(ins) == 1:
                return [ins[0]]
            acc = ins[0]
            for i, x in enumerate(ins[1:]):
                acc = cx.node(row.name, [acc, x], suffix="" if i == len(ins) - 2 else f"__{i}")
            return [acc]
        if all(x.const is not None and x.const.dtype.kind in "iu" for x in ins) and row.name in _INT_FOLD:
            return [Val(const=_INT_FOLD[row.name](*[x.const.astype(np.int64) for x in ins]), hint=cx.out)]
        return [cx.node(row.name, [_truth(cx, x) for x in ins])]
    return convert


# Integer arithmetic on constants (shape computations), as ONNX defines it for integers: Div truncates.
_INT_FOLD: dict[str, Callable[..., np.ndarray]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
    "Div": lambda a, b: np.trunc(a / b).astype(np.int64), "Maximum": np.maximum, "Minimum": np.minimum,
    "Neg": np.negative, "Abs": np.abs,
}


def _axis_op(row: OpDef) -> Handler:
    """Softmax, LogSoftmax (opset 13+: one axis, default -1), Gather and Concat (axis, default 0 / required)."""
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        axis = int(attrs.get("axis", -1 if row.family == "softmax" else 0))
        if row.name in ("Gather", "Concat"):
            folded = _fold_vector(cx, row.name, ins, axis)
            if folded is not None:
                return [folded]
        # int64 index constants become int32 initializers when materialised (in range, else E_DATA)
        return [cx.node(row.name, [_truth(cx, x) for x in ins], {"axis": axis})]
    return convert


def _fold_vector(cx: Ctx, op: str, ins: list, axis: int) -> Val | None:
    """Gather/Concat over shape vectors (constants or symbolic) at import time."""
    if not all(x.sym is not None or (x.const is not None and x.const.dtype.kind in "iu") for x in ins):
        return None
    if op == "Concat":
        if any(x.const is not None and x.const.ndim != 1 for x in ins):
            if all(x.const is not None for x in ins):
                return Val(const=np.concatenate([x.const for x in ins], axis=axis), hint=cx.out)
            return None
        entries = [e for x in ins for e in (x.sym if x.sym is not None else _ints(x.const))]
        return _vector(entries, cx.out)
    data, idx = ins
    if idx.const is None:
        return None
    if data.sym is None:
        return Val(const=np.take(data.const, idx.const, axis=axis), hint=cx.out)
    picked = [data.sym[int(i)] for i in np.asarray(idx.const).ravel()]
    if np.asarray(idx.const).ndim == 0:
        return Val(const=np.asarray(picked[0], np.int64), hint=cx.out) if isinstance(picked[0], int) else \
            Val(sym=(picked[0],), shape=(), hint=cx.out)
    return _vector(picked, cx.out)


def _vector(entries: list, hint: str) -> Val:
    if all(isinstance(e, int) for e in entries):
        return Val(const=np.asarray(entries, np.int64), hint=hint)
    return Val(sym=tuple(entries), shape=(len(entries),), hint=hint)


def _compare(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        return [cx.node(row.name, [_truth(cx, x) for x in ins])]
    return convert


def _logical(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        out = cx.node(row.name, [_plain(x) for x in ins])
        return [out]
    return convert


def _where(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        return [cx.node(row.name, [_plain(ins[0]), _truth(cx, ins[1]), _truth(cx, ins[2])])]
    return convert


def _transpose(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        x = ins[0]
        perm = _ints(attrs["perm"]) if "perm" in attrs else None
        if x.const is not None and x.name is None and x.const.dtype.kind in "iub":
            return [Val(const=np.transpose(x.const, perm), hint=cx.out)]
        rank = len(x.shape) if x.const is None else x.const.ndim
        perm = perm if perm is not None else list(reversed(range(rank)))
        if perm == sorted(perm):
            return [x]
        return [cx.node(row.name, [_truth(cx, x)], {"perm": perm})]
    return convert


def _cast(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        import onnx

        t = onnx.TensorProto
        to, x = int(attrs["to"]), ins[0]
        if x.sym is not None or (x.const is not None and x.name is None and x.const.dtype.kind in "iub"):
            if x.sym is not None:
                return [x]
            target = onnx.helper.tensor_dtype_to_np_dtype(to)
            return [Val(const=x.const.astype(target), hint=cx.out)]
        src_dtype = x.dtype if x.const is None else ("int32" if x.const.dtype.kind in "iub" else "float32")
        if to == t.BOOL:
            if src_dtype == "int32":
                return [x if x.flag else Val(x.name if x.const is None else cx.g.operand(x, cx.what), x.shape,
                                            "int32", truthy=True)]
            return [cx.node("NotEqual", [x, Val(const=np.zeros((), np.float32), hint="zero")], suffix="")]
        if to == t.FLOAT:
            x = _truth(cx, x)
            return [x] if src_dtype == "float32" else [cx.node("Cast", [x], {"to": "float32"})]
        if to in (t.INT32, t.INT64):
            x = _truth(cx, x)
            return [x] if src_dtype == "int32" else [cx.node("Cast", [x], {"to": "int32"})]
        raise cx.fail("E_SCHEMA", f"attribute to={onnx.TensorProto.DataType.Name(to)}: the format has float32 and "
                                  "int32 (INT64 and BOOL map to int32)")
    return convert


def _arg(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        if int(attrs.get("select_last_index", 0)) != 0:
            raise cx.fail("E_SCHEMA", "attribute select_last_index=1 is not supported (the format keeps the first)")
        return [cx.node(row.name, [_truth(cx, ins[0])], {"axis": int(attrs.get("axis", 0)),
                                                          "keepdims": bool(attrs.get("keepdims", 1))})]
    return convert


def _reduce(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        x = ins[0]
        axes_input = row.name == "ReduceSum" or cx.opset >= 18
        if axes_input:
            axes = _ints(cx.const(ins[1], "axes")) if len(ins) > 1 and ins[1] is not None else []
        else:
            axes = _ints(attrs.get("axes", []))
        keep = bool(attrs.get("keepdims", 1))
        if not axes and int(attrs.get("noop_with_empty_axes", 0)):
            return [x]
        if x.dtype == "int32" and x.flag and row.name in ("ReduceMax", "ReduceMin"):
            # 0/1 values are exact in float32: Cast, reduce, Cast back (the exporter's ArgMax NaN rule uses it)
            f = cx.node("Cast", [x], {"to": "float32"}, "__f")
            r = cx.node(row.name, [f], {**({"axes": axes} if axes else {}), "keepdims": keep}, "__r")
            out = cx.node("Cast", [r], {"to": "int32"})
            out.flag = True
            return [out]
        return [cx.node(row.name, [x], {**({"axes": axes} if axes else {}), "keepdims": keep})]
    return convert


def _reshape(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        x, target = ins
        entries = list(target.sym) if target.sym is not None else _ints(cx.const(target, "the shape operand"))
        if x.const is not None and x.name is None and all(isinstance(e, int) for e in entries) \
                and x.const.dtype.kind in "iub":
            shape = [x.const.shape[i] if e == 0 and not attrs.get("allowzero") else e for i, e in enumerate(entries)]
            return [Val(const=x.const.reshape(shape), hint=cx.out)]
        in_shape = x.shape if x.const is None else x.const.shape
        if not attrs.get("allowzero"):
            entries = [in_shape[i] if isinstance(e, int) and e == 0 else e for i, e in enumerate(entries)]
        return [_reshape_to(cx, x, entries)]
    return convert


def _reshape_to(cx: Ctx, x: Val, entries: list, suffix: str = "") -> Val:
    """A Reshape whose target is written resolved (-1 worked out by the format's own rule)."""
    name = cx.g.operand(_truth(cx, x), cx.what)
    in_shape = cx.g.shapes[name]
    missing = [d for d in in_shape if isinstance(d, str) and d not in entries]
    if -1 in entries and len(missing) == 1:
        # ONNX's -1 absorbs the symbol; the format keeps it as an entry, which works when the integer dims agree
        fixed_in = int(np.prod([d for d in in_shape if isinstance(d, int)], dtype=np.int64))
        fixed_out = int(np.prod([d for d in entries if isinstance(d, int) and d != -1], dtype=np.int64))
        if fixed_in == fixed_out:
            entries = [missing[0] if isinstance(e, int) and e == -1 else e for e in entries]
    try:
        resolved, _ = reshape([in_shape], {"shape": entries})
    except ShapeProblem as exc:
        raise cx.fail("E_SHAPE", str(exc)) from None
    return cx.node("Reshape", [Val(name, cx.g.shapes[name], cx.g.dtypes[name])], {"shape": list(resolved)}, suffix)


def _slice(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        x = ins[0]
        starts, ends = _ints(cx.const(ins[1], "starts")), _ints(cx.const(ins[2], "ends"))
        k = len(starts)
        axes = _ints(cx.const(ins[3], "axes")) if len(ins) > 3 and ins[3] is not None else list(range(k))
        steps = _ints(cx.const(ins[4], "steps")) if len(ins) > 4 and ins[4] is not None else [1] * k
        if x.sym is not None or (x.const is not None and x.name is None and x.const.dtype.kind in "iub"):
            data = np.asarray(x.sym if x.sym is not None else x.const, dtype=object)
            index = [slice(None)] * data.ndim
            for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
                index[a] = slice(s, e, st)
            picked = data[tuple(index)]
            if x.sym is not None:
                return [_vector(list(picked), cx.out)]
            return [Val(const=np.asarray(picked.tolist(), dtype=x.const.dtype), hint=cx.out)]
        big = 2**53  # beyond it a JSON number is not an exact integer; every dimension is far smaller
        clamp = [min(max(v, -big), big) for v in ends]
        cstarts = [min(max(v, -big), big) for v in starts]
        return [cx.node(row.name, [_truth(cx, x)], {"starts": cstarts, "ends": clamp, "axes": axes, "steps": steps})]
    return convert


def _clip(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        out: dict = {}
        for i, key, default in ((1, "min", -np.inf), (2, "max", np.inf)):
            if len(ins) > i and ins[i] is not None:
                value = np.float32(cx.const(ins[i], key).reshape(()))
            else:  # an omitted ONNX bound is the lowest / largest float32, not an infinity
                value = np.float32(np.finfo(np.float32).min if key == "min" else np.finfo(np.float32).max)
            if value != default:
                out[key] = float(value)
        return [cx.node(row.name, [ins[0]], out)]
    return convert


def _same_pads(cx: Ctx, mode: str, size: tuple, kernel: list, strides: list, dilations: list) -> list[int]:
    """auto_pad SAME_UPPER / SAME_LOWER as explicit pads [top, left, bottom, right] (ONNX's rule: output
    ceil(in / stride), the odd pad at the end for SAME_UPPER, at the beginning for SAME_LOWER)."""
    begins, ends = [], []
    for n, k, s, d in zip(size, kernel, strides, dilations, strict=True):
        if not isinstance(n, int):
            raise cx.fail("E_SHAPE", f"auto_pad={mode} needs fixed spatial dimensions, got {n!r}")
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        small = total // 2
        begins.append(small if mode == "SAME_UPPER" else total - small)
        ends.append(total - small if mode == "SAME_UPPER" else small)
    return begins + ends


def _window(cx: Ctx, attrs: dict, x: Val, kernel: list, dilations: list) -> dict:
    if len(kernel) != 2:
        raise cx.fail("E_SHAPE", f"a {len(kernel)}-d window; the format's Conv2D and pooling are 2-d (NCHW)")
    strides = _ints(attrs.get("strides", [1, 1]))
    mode = attrs.get("auto_pad", b"NOTSET")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode == "NOTSET":
        pads = _ints(attrs.get("pads", [0, 0, 0, 0]))
    elif mode == "VALID":
        pads = [0, 0, 0, 0]
    elif mode in ("SAME_UPPER", "SAME_LOWER"):
        pads = _same_pads(cx, mode, tuple(x.shape[2:]), kernel, strides, dilations)
    else:
        raise cx.fail("E_SCHEMA", f"attribute auto_pad={mode} is not an ONNX padding mode")
    return {"strides": strides, "pads": pads}


def _conv(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        x, w = ins[0], ins[1]
        wshape = w.shape if w.const is None else w.const.shape
        kernel = _ints(attrs.get("kernel_shape", list(wshape[2:])))
        dilations = _ints(attrs.get("dilations", [1] * len(kernel)))
        window = _window(cx, attrs, x, kernel, dilations)
        operands = [x, w] + ([ins[2]] if len(ins) > 2 and ins[2] is not None else [])
        return [cx.node(row.name, operands, {**window, "dilations": dilations, "group": int(attrs.get("group", 1))})]
    return convert


def _pool(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        kernel = _ints(attrs["kernel_shape"])
        for key, ok in (("ceil_mode", 0), ("storage_order", 0)):
            if int(attrs.get(key, ok)) != ok:
                raise cx.fail("E_SCHEMA", f"attribute {key}={attrs[key]} is not supported (the format's windows "
                                          f"use {key}={ok})")
        if any(d != 1 for d in _ints(attrs.get("dilations", [1, 1]))):
            raise cx.fail("E_SCHEMA", f"attribute dilations={_ints(attrs['dilations'])} is not supported for pooling")
        out = {"kernel_shape": kernel, **_window(cx, attrs, ins[0], kernel, [1, 1])}
        if row.name == "AveragePool2D":
            out["count_include_pad"] = bool(attrs.get("count_include_pad", 0))
        return [cx.node(row.name, [ins[0]], out)]
    return convert


def _matmul(row: OpDef) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        return [cx.node(row.name, ins[:2])]
    return convert


# `Onnx.how` of a registry row -> (the import handler's factory, the ONNX attributes it reads).
FROM_REGISTRY: dict[str, tuple[Callable[[OpDef], Handler], frozenset[str]]] = {
    "same": (_same, frozenset()),
    "softmax": (_axis_op, frozenset({"axis"})),
    "gather": (_axis_op, frozenset({"axis"})),
    "concat": (_axis_op, frozenset({"axis"})),
    "compare": (_compare, frozenset()),
    "logical": (_logical, frozenset()),
    "where": (_where, frozenset()),
    "transpose": (_transpose, frozenset({"perm"})),
    "cast": (_cast, frozenset({"to", "saturate"})),
    "arg": (_arg, frozenset({"axis", "keepdims", "select_last_index"})),
    "reduce_axes_input": (_reduce, frozenset({"keepdims", "noop_with_empty_axes"})),
    "reduce_axes_attr": (_reduce, frozenset({"axes", "keepdims", "noop_with_empty_axes"})),
    "reshape": (_reshape, frozenset({"allowzero"})),
    "slice": (_slice, frozenset()),
    "clip": (_clip, frozenset()),
    "conv": (_conv, frozenset({"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"})),
    "pool": (_pool, frozenset({"kernel_shape", "strides", "pads", "auto_pad", "ceil_mode", "count_include_pad",
                               "dilations", "storage_order"})),
    "matmul": (_matmul, frozenset()),
    # "compare_negated" (NotEqual written as Not(Equal)) has no row: Equal and Not import by themselves and the
    # pass `not_equal` joins them again.
}


# ------------------------------------------------------------------ ONNX operators without a format op of their own


def _gemm(cx: Ctx, ins: list, attrs: dict) -> list:
    """alpha * A' B' + beta * C as MatMul(transpose_a, transpose_b), then Mul by alpha when alpha != 1, then Add
    of C (beta * C folded into one float32 constant, one rounding, when C is a constant; else a Mul node).
    With alpha == beta == 1 this is MatMul + Add (SPEC §7.1, then one addition); otherwise the imported model
    computes those roundings, which ONNX does not pin down."""
    alpha, beta = np.float32(attrs.get("alpha", 1.0)), np.float32(attrs.get("beta", 1.0))
    flags = {"transpose_a": bool(attrs.get("transA", 0)), "transpose_b": bool(attrs.get("transB", 0))}
    has_c = len(ins) > 2 and ins[2] is not None
    y = cx.node("MatMul", ins[:2], {k: v for k, v in flags.items() if v}, "__matmul" if has_c or alpha != 1 else "")
    if alpha != 1:
        y = cx.node("Mul", [y, Val(const=np.asarray(alpha, np.float32), hint=cx.out + "__alpha")],
                    suffix="__alpha" if has_c else "")
    if has_c:
        c = ins[2]
        if beta != 1:
            if c.const is not None and c.name is None:
                c = Val(const=(beta * c.const.astype(np.float32)).astype(np.float32), hint=c.hint)
            else:
                c = cx.node("Mul", [c, Val(const=np.asarray(beta, np.float32), hint="beta")], suffix="__beta")
        y = cx.node("Add", [y, c])
    return [y]


def _flatten(cx: Ctx, ins: list, attrs: dict) -> list:
    x = ins[0]
    rank = len(x.shape)
    axis = int(attrs.get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    head, tail = x.shape[:axis], x.shape[axis:]

    def merged(dims: tuple) -> int | str:
        if len(dims) == 1:
            return dims[0]
        if any(isinstance(d, str) for d in dims):
            raise cx.fail("E_SHAPE", f"Flatten would merge the symbolic dimension(s) of {list(dims)}; the format's "
                                     "Reshape keeps each symbol as an entry")
        return int(np.prod(dims, dtype=np.int64)) if dims else 1

    return [_reshape_to(cx, x, [merged(head), merged(tail)])]


def _squeeze_axes(cx: Ctx, ins: list, rank: int) -> list[int] | None:
    if len(ins) > 1 and ins[1] is not None:
        return [a + rank if a < 0 else a for a in _ints(cx.const(ins[1], "axes"))]
    return None


def _squeeze(cx: Ctx, ins: list, attrs: dict) -> list:
    x = ins[0]
    shape = x.shape if x.const is None or x.name is not None else x.const.shape
    axes = _squeeze_axes(cx, ins, len(shape))
    if axes is None:
        if any(isinstance(d, str) for d in shape):
            raise cx.fail("E_SHAPE", f"Squeeze without axes of {list(shape)}: a symbolic dimension may be 1")
        axes = [i for i, d in enumerate(shape) if d == 1]
    if x.name is None and x.const is not None:
        return [Val(const=np.squeeze(x.const, axis=tuple(axes)), hint=cx.out)]
    if x.name is None and x.sym is not None:
        return [Val(sym=x.sym, shape=(), hint=cx.out)] if x.sym and len(x.sym) == 1 else [x]
    return [_reshape_to(cx, x, [d for i, d in enumerate(shape) if i not in axes])]


def _unsqueeze(cx: Ctx, ins: list, attrs: dict) -> list:
    x = ins[0]
    if x.name is None and x.sym is not None:  # a symbolic scalar made a 1-vector (shape arithmetic)
        return [Val(sym=x.sym, shape=(len(x.sym),), hint=cx.out)]
    shape = list(x.shape if x.const is None or x.name is not None else x.const.shape)
    rank = len(shape) + len(_ints(cx.const(ins[1], "axes")))
    axes = sorted(_squeeze_axes(cx, ins, rank) or [])
    for a in axes:
        shape.insert(a, 1)
    if x.name is None and x.const is not None:
        return [Val(const=x.const.reshape(shape), hint=cx.out)]
    return [_reshape_to(cx, x, shape)]


def _leaky_relu(cx: Ctx, ins: list, attrs: dict) -> list:
    """0 <= alpha <= 1: Maximum(x, fl(alpha x)), which equals ONNX's `x >= 0 ? x : alpha x` rounded once (exact,
    -0 and NaN included); another alpha: Where(GreaterOrEqual(x, 0), x, fl(alpha x))."""
    x, alpha = ins[0], np.float32(attrs.get("alpha", 0.01))
    scaled = cx.node("Mul", [x, Val(const=np.asarray(alpha, np.float32), hint=cx.out + "__alpha")], suffix="__scaled")
    if 0 <= alpha <= 1:
        return [cx.node("Maximum", [x, scaled])]
    positive = cx.node("GreaterOrEqual", [x, Val(const=np.zeros((), np.float32), hint="zero")], suffix="__positive")
    return [cx.node("Where", [positive, x, scaled])]


def _global_pool(op: str) -> Handler:
    def convert(cx: Ctx, ins: list, attrs: dict) -> list:
        if len(ins[0].shape) != 4:
            raise cx.fail("E_SHAPE", f"a rank-{len(ins[0].shape)} input; the format's NCHW operators are rank 4")
        return [cx.node(op, [ins[0]], {"axes": [2, 3], "keepdims": True})]
    return convert


def _batch_norm(cx: Ctx, ins: list, attrs: dict) -> list:
    """Inference BatchNormalization y = (x - mean) / sqrt(var + eps) * scale + B, with s = scale / sqrt(var + eps)
    and t = B - mean s computed in float64 and rounded once to float32. Folded into the Conv2D that writes x
    (when x has no other use and its weights are constants): W' = fl(W s), b' = fl((b - mean) s + B) per output
    channel; else lowered to Add(Mul(x, s), t) per channel. Either way the imported graph defines the bits."""
    if int(attrs.get("training_mode", 0)):
        raise cx.fail("E_SCHEMA", "attribute training_mode=1: only inference BatchNormalization imports")
    x = ins[0]
    scale, bias, mean, var = (cx.const(v, k).astype(np.float64) for v, k in
                              zip(ins[1:5], ("scale", "B", "input_mean", "input_var"), strict=True))
    eps = float(np.float32(attrs.get("epsilon", 1e-5)))
    s = scale / np.sqrt(var + eps)
    t = bias - mean * s
    conv = cx.g.producer().get(x.name or "")
    if conv is not None and conv["op"] == "Conv2D" and cx.consumers.get(cx.inputs[0], 0) == 1:
        w = cx.g.initializers.get(conv["inputs"][1])
        b = cx.g.initializers.get(conv["inputs"][2]) if len(conv["inputs"]) > 2 else np.zeros(len(s), np.float32)
        if w is not None and b is not None:
            w2 = Val(const=w.astype(np.float64) * s[:, None, None, None], hint=conv["inputs"][1] + "__bn")
            b2 = Val(const=(b.astype(np.float64) - mean) * s + bias, hint=cx.out + "__bias")
            conv["inputs"][1:] = [cx.g.operand(_round(w2, cx), cx.what), cx.g.operand(_round(b2, cx), cx.what)]
            return [x]
    channel = [len(s)] + [1] * (len(x.shape) - 2)
    y = cx.node("Mul", [x, _round(Val(const=s.reshape(channel), hint=cx.out + "__scale"), cx)], suffix="__scaled")
    return [cx.node("Add", [y, _round(Val(const=t.reshape(channel), hint=cx.out + "__shift"), cx)])]


def _round(v: Val, cx: Ctx) -> Val:
    """A float64 constant computed here, rounded once to float32 (it is ours, not the model's data)."""
    with np.errstate(over="ignore"):
        v.const = v.const.astype(np.float32)
    if not np.isfinite(v.const).all():
        raise cx.fail("E_DATA", "the folded BatchNormalization constants overflow float32")
    return v


def _is_nan(cx: Ctx, ins: list, attrs: dict) -> list:
    """NotEqual(x, x): 1 exactly for NaN (SPEC §7.7)."""
    return [cx.node("NotEqual", [ins[0], ins[0]])]


def _alias(cx: Ctx, ins: list, attrs: dict) -> list:
    """Identity, and Dropout at inference (its mask output must be unused; training_mode a constant false)."""
    if len(ins) > 2 and ins[2] is not None and bool(np.asarray(cx.const(ins[2], "training_mode")).any()):
        raise cx.fail("E_SCHEMA", "Dropout with training_mode true: only inference graphs import")
    return [ins[0], None]


def _constant(cx: Ctx, ins: list, attrs: dict) -> list:
    from onnx import numpy_helper

    if "value" in attrs:
        return [Val(const=numpy_helper.to_array(attrs["value"]), hint=cx.out)]
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in attrs:
            return [Val(const=np.asarray(attrs[key], dtype), hint=cx.out)]
    raise cx.fail("E_SCHEMA", f"a Constant given as {sorted(attrs)}: only value, value_float(s), value_int(s) import")


def _shape(cx: Ctx, ins: list, attrs: dict) -> list:
    x = ins[0]
    dims = list(x.shape if x.const is None or x.name is not None else x.const.shape)
    start, end = int(attrs.get("start", 0)), attrs.get("end")
    picked = dims[slice(start, None if end is None else int(end))]
    return [_vector(picked, cx.out)]


def _registry_rows() -> dict[str, OnnxOp]:
    rows: dict[str, OnnxOp] = {}
    for row in OPS.values():
        if row.onnx is None or row.onnx.how not in FROM_REGISTRY:
            continue
        factory, accepted = FROM_REGISTRY[row.onnx.how]
        rows[row.onnx.op_type] = OnnxOp(row.onnx.op_type, factory(row), accepted, note=f"-> {row.name}")
    return rows


EXTRA: dict[str, OnnxOp] = {r.op_type: r for r in (
    OnnxOp("Gemm", _gemm, frozenset({"alpha", "beta", "transA", "transB"}), note="-> MatMul [+ Mul] [+ Add]"),
    OnnxOp("Flatten", _flatten, frozenset({"axis"}), note="-> Reshape"),
    OnnxOp("Squeeze", _squeeze, frozenset(), note="-> Reshape (axes as an input, opset 13+)"),
    OnnxOp("Unsqueeze", _unsqueeze, frozenset(), note="-> Reshape (axes as an input, opset 13+)"),
    OnnxOp("LeakyRelu", _leaky_relu, frozenset({"alpha"}), note="-> Maximum(x, alpha x)"),
    OnnxOp("GlobalAveragePool", _global_pool("ReduceMean"), frozenset(), note="-> ReduceMean axes [2, 3] keepdims"),
    OnnxOp("GlobalMaxPool", _global_pool("ReduceMax"), frozenset(), note="-> ReduceMax axes [2, 3] keepdims"),
    OnnxOp("BatchNormalization", _batch_norm, frozenset({"epsilon", "momentum", "training_mode"}),
           note="folded into the preceding Conv2D, or Mul + Add"),
    OnnxOp("IsNaN", _is_nan, frozenset(), note="-> NotEqual(x, x)"),
    OnnxOp("Identity", _alias, frozenset(), note="removed"),
    OnnxOp("Dropout", _alias, frozenset({"seed"}), note="removed (inference)"),
    OnnxOp("Constant", _constant, frozenset({"value", "value_float", "value_floats", "value_int", "value_ints"}),
           note="folded"),
    OnnxOp("Shape", _shape, frozenset({"start", "end"}), note="folded (symbols kept)"),
)}

# The table: ONNX op type -> row.
TABLE: dict[str, OnnxOp] = {**_registry_rows(), **EXTRA}
