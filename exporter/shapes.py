"""Shape inference with symbolic dimensions (SPEC §4, §6).

A shape is a tuple whose entries are ints (fixed) or strings (symbols). A symbol broadcasts only
with itself or 1 and never equals an integer. Each rule takes the operand shapes and the node's
attributes with the defaults of its registry row filled in (`OpDef.with_defaults`; None where
the default depends on the rank) and returns the output shape and the attributes resolved
against the operand ranks (what the runtimes execute). The registry (`exporter.opset`) says
which rule each operator uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Dim = int | str
Shape = tuple[Dim, ...]


class ShapeProblem(ValueError):
    """Operands that the operator rejects; the checker turns it into E_SHAPE naming the node."""


def fmt(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def broadcast(a: Shape, b: Shape) -> Shape:
    rank = max(len(a), len(b))
    a2 = (1,) * (rank - len(a)) + tuple(a)
    b2 = (1,) * (rank - len(b)) + tuple(b)
    out: list[Dim] = []
    for x, y in zip(a2, b2, strict=True):
        if x == y:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        else:
            raise ShapeProblem(f"shapes {fmt(a)} and {fmt(b)} do not broadcast")
    return tuple(out)


def same(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """Elementwise ops without attributes: the operand's shape."""
    return tuple(s[0]), {}


def broadcasting(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """Two operands, numpy broadcasting (SPEC §6)."""
    return broadcast(s[0], s[1]), {}


def clip(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """The operand's shape; the bounds as float32 (defaults -inf, +inf)."""
    return tuple(s[0]), {"min": np.float32(attrs["min"]), "max": np.float32(attrs["max"])}


def _axis(axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise ShapeProblem(f"{what} {axis} is out of range for rank {rank}")
    return axis % rank


def matmul(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    a, b = s
    if len(a) != 2 or len(b) != 2:
        raise ShapeProblem(f"MatMul needs rank-2 operands, got {fmt(a)} and {fmt(b)}")
    ta, tb = bool(attrs["transpose_a"]), bool(attrs["transpose_b"])
    m, k1 = (a[1], a[0]) if ta else (a[0], a[1])
    k2, n = (b[1], b[0]) if tb else (b[0], b[1])
    if k1 != k2:
        raise ShapeProblem(f"MatMul inner dimensions differ: {k1} vs {k2} (operands {fmt(a)}, {fmt(b)})")
    return (m, n), {"transpose_a": ta, "transpose_b": tb}


def softmax(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    x = s[0]
    if len(x) < 1:
        raise ShapeProblem("Softmax needs an operand of rank >= 1")
    return tuple(x), {"axis": _axis(int(attrs["axis"]), len(x), "axis")}


def reduce(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    x = s[0]
    rank = len(x)
    raw = attrs["axes"]
    axes = list(range(rank)) if raw is None else [_axis(int(a), rank, "axis") for a in raw]
    if len(set(axes)) != len(axes):
        raise ShapeProblem(f"axes {list(raw)} name the same axis twice for rank {rank}")
    keep = bool(attrs["keepdims"])
    out = tuple(1 if i in axes else d for i, d in enumerate(x) if keep or i not in axes)
    return out, {"axes": tuple(sorted(axes)), "keepdims": keep}


def transpose(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    x = s[0]
    rank = len(x)
    raw = attrs["perm"]
    perm = tuple(range(rank - 1, -1, -1)) if raw is None else tuple(int(p) for p in raw)
    if sorted(perm) != list(range(rank)):
        raise ShapeProblem(f"perm {list(perm)} is not a permutation of 0..{rank - 1}")
    return tuple(x[p] for p in perm), {"perm": perm}


def _int_product(dims: Any) -> int:
    n = 1
    for d in dims:
        if isinstance(d, int):
            n *= d
    return n


def reshape(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    x = s[0]
    target = [d if isinstance(d, str) else int(d) for d in attrs["shape"]]
    in_syms = sorted(d for d in x if isinstance(d, str))
    out_syms = sorted(d for d in target if isinstance(d, str))
    if in_syms != out_syms:
        raise ShapeProblem(
            f"Reshape target {fmt(tuple(target))} must keep the symbols of {fmt(x)} exactly"
        )
    p, q = _int_product(x), _int_product(d for d in target if d != -1)
    if -1 in target:
        if p % q:
            raise ShapeProblem(f"Reshape {fmt(x)} to {fmt(tuple(target))}: {p} is not divisible by {q}")
        target[target.index(-1)] = p // q
    elif p != q:
        raise ShapeProblem(f"Reshape {fmt(x)} to {fmt(tuple(target))}: {p} elements vs {q}")
    return tuple(target), {"shape": tuple(target)}


# ------------------------------------------------------------------ format 1.1 rules


def where(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """Condition, A, B: numpy broadcasting of all three (SPEC §6)."""
    return broadcast(broadcast(s[0], s[1]), s[2]), {}


def cast(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    return tuple(s[0]), {"to": attrs["to"]}


def _ranked(x: Shape, op: str) -> int:
    if len(x) < 1:
        raise ShapeProblem(f"{op} needs an operand of rank >= 1")
    return len(x)


def gather(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """data.shape[:axis] + indices.shape + data.shape[axis+1:]; the checker limits the rank."""
    data, indices = s
    axis = _axis(int(attrs["axis"]), _ranked(data, "Gather"), "axis")
    return tuple(data[:axis]) + tuple(indices) + tuple(data[axis + 1:]), {"axis": axis}


def concat(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """Same rank, equal dims except `axis`, whose dims must be integers and add up."""
    first = s[0]
    axis = _axis(int(attrs["axis"]), _ranked(first, "Concat"), "axis")
    total = 0
    for i, x in enumerate(s):
        if len(x) != len(first):
            raise ShapeProblem(f"Concat operand {i} has rank {len(x)}, operand 0 has rank {len(first)}")
        if any(d != e for k, (d, e) in enumerate(zip(x, first, strict=True)) if k != axis):
            raise ShapeProblem(f"Concat operand {i} {fmt(x)} differs from operand 0 {fmt(first)} "
                               f"outside axis {axis}")
        if isinstance(x[axis], str):
            raise ShapeProblem(f"Concat operand {i} has the symbol {x[axis]!r} on the concatenated axis {axis}")
        total += x[axis]
    return tuple(total if k == axis else d for k, d in enumerate(first)), {"axis": axis}


def slice_(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """Python's slice(start, end, step) on each named axis; symbols there and empty results rejected."""
    x = s[0]
    rank = _ranked(x, "Slice")
    k = len(attrs["starts"])
    raw_axes = attrs["axes"] if attrs["axes"] is not None else list(range(k))
    axes = [_axis(int(a), rank, "axis") for a in raw_axes]
    if len(set(axes)) != len(axes):
        raise ShapeProblem(f"axes {list(raw_axes)} name the same axis twice for rank {rank}")
    steps = attrs["steps"] if attrs["steps"] is not None else [1] * k
    out = list(x)
    chosen: dict[int, tuple[int, int, int]] = {}
    for a, start, end, step in zip(axes, attrs["starts"], attrs["ends"], steps, strict=True):
        d = x[a]
        if isinstance(d, str):
            raise ShapeProblem(f"Slice axis {a} has the symbol {d!r}; a sliced axis needs a fixed size")
        start_, end_, step_ = slice(int(start), int(end), int(step)).indices(d)
        n = len(range(start_, end_, step_))
        if n == 0:
            raise ShapeProblem(f"Slice of axis {a} (size {d}) with start {start}, end {end}, step {step} "
                               "is empty; the format has no empty tensors")
        out[a] = n
        chosen[a] = (start_, end_, step_)
    return tuple(out), {"slices": tuple(chosen.get(i) for i in range(rank))}


def argreduce(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """ArgMax, ArgMin: `axis` removed, or kept as 1."""
    x = s[0]
    axis = _axis(int(attrs["axis"]), _ranked(x, "ArgMax/ArgMin"), "axis")
    keep = bool(attrs["keepdims"])
    out = tuple(1 if i == axis else d for i, d in enumerate(x) if keep or i != axis)
    return out, {"axis": axis, "keepdims": keep}


# ------------------------------------------------------------------ format 1.2 rules (NCHW)


def _fixed(dims: Shape, what: str, names: str) -> tuple[int, ...]:
    """The dims of `what` named by `names` (one letter each), which must be integers (SPEC §6)."""
    for d, n in zip(dims, names, strict=True):
        if isinstance(d, str):
            raise ShapeProblem(f"{what} has the symbol {d!r} as {n}; only the batch dimension may be symbolic")
    return tuple(int(d) for d in dims)


def _nchw(x: Shape, op: str) -> tuple[int, int, int]:
    if len(x) != 4:
        raise ShapeProblem(f"{op} needs an NCHW operand of rank 4, got {fmt(x)}")
    c, h, w = _fixed(x[1:], f"{op} input {fmt(x)}", "CHW")
    return c, h, w


def _window_out(size: int, kernel: int, dilation: int, pad_begin: int, pad_end: int, stride: int,
                axis: str) -> int:
    """floor((size + pads - effective kernel) / stride) + 1; a kernel beyond the padded input is E_SHAPE."""
    extent = dilation * (kernel - 1) + 1
    padded = size + pad_begin + pad_end
    if padded < extent:
        raise ShapeProblem(f"the kernel's {axis} extent {extent} exceeds the padded input {axis} {padded}")
    return (padded - extent) // stride + 1


def _window_params(attrs: dict) -> dict:
    return {"strides": tuple(int(v) for v in attrs["strides"]), "pads": tuple(int(v) for v in attrs["pads"])}


def conv2d(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """X (N, C, H, W), W (M, C/group, kH, kW), optional B (M): (N, M, Hout, Wout) (SPEC §6)."""
    x, w = s[0], s[1]
    c, h, width = _nchw(x, "Conv2D")
    if len(w) != 4:
        raise ShapeProblem(f"Conv2D weights need rank 4 (M, C/group, kH, kW), got {fmt(w)}")
    m, cg, kh, kw = _fixed(w, f"Conv2D weights {fmt(w)}", "MCHW")
    group = int(attrs["group"])
    if c % group or m % group:
        raise ShapeProblem(f"group {group} does not divide the input channels {c} and the output channels {m}")
    if cg != c // group:
        raise ShapeProblem(f"Conv2D weights {fmt(w)} have {cg} input channels per group; "
                           f"input {fmt(x)} with group {group} needs {c // group}")
    if len(s) > 2:
        b = s[2]
        if len(b) != 1 or isinstance(b[0], str) or b[0] != m:
            raise ShapeProblem(f"Conv2D bias {fmt(b)} must have shape [{m}]")
    p = {**_window_params(attrs), "dilations": tuple(int(v) for v in attrs["dilations"]), "group": group}
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = p["strides"], p["pads"], p["dilations"]
    out_h = _window_out(h, kh, dh, pt, pb, sh, "height")
    out_w = _window_out(width, kw, dw, pl, pr, sw, "width")
    return (x[0], m, out_h, out_w), p


def pool2d(s: list[Shape], attrs: dict) -> tuple[Shape, dict]:
    """MaxPool2D, AveragePool2D: X (N, C, H, W) -> (N, C, Hout, Wout) (SPEC §6)."""
    x = s[0]
    c, h, width = _nchw(x, "the pooling")
    p = {**_window_params(attrs), "kernel_shape": tuple(int(v) for v in attrs["kernel_shape"])}
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = p["kernel_shape"], p["strides"], p["pads"]
    if "count_include_pad" in attrs:
        p["count_include_pad"] = bool(attrs["count_include_pad"])
    out_h = _window_out(h, kh, 1, pt, pb, sh, "height")
    out_w = _window_out(width, kw, 1, pl, pr, sw, "width")
    return (x[0], c, out_h, out_w), p


# ------------------------------------------------------------------ dtype rules (SPEC §6 "dtypes")
# `(operand dtypes, attrs with defaults) -> output dtype`; a rejected dtype is ShapeProblem (E_SHAPE).

F32, I32 = "float32", "int32"


def _expect(dtypes: list[str], i: int, want: str, why: str = "") -> None:
    if dtypes[i] != want:
        raise ShapeProblem(f"operand {i} is {dtypes[i]}, expected {want}{why}")


def float32_only(dtypes: list[str], attrs: dict) -> str:
    for i in range(len(dtypes)):
        _expect(dtypes, i, F32)
    return F32


def int32_only(dtypes: list[str], attrs: dict) -> str:
    for i in range(len(dtypes)):
        _expect(dtypes, i, I32)
    return I32


def same_dtype(dtypes: list[str], attrs: dict) -> str:
    """Any dtype, every operand the same as operand 0's; the result has it (data movement)."""
    for i in range(1, len(dtypes)):
        _expect(dtypes, i, dtypes[0], " (as operand 0)")
    return dtypes[0]


def comparison(dtypes: list[str], attrs: dict) -> str:
    same_dtype(dtypes, attrs)
    return I32


def where_dtype(dtypes: list[str], attrs: dict) -> str:
    _expect(dtypes, 0, I32, " (the condition)")
    _expect(dtypes, 2, dtypes[1], " (as operand 1)")
    return dtypes[1]


def cast_dtype(dtypes: list[str], attrs: dict) -> str:
    return str(attrs["to"])


def gather_dtype(dtypes: list[str], attrs: dict) -> str:
    _expect(dtypes, 1, I32, " (the indices)")
    return dtypes[0]


def index_dtype(dtypes: list[str], attrs: dict) -> str:
    return I32
