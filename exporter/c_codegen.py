"""Compile a format v1 model into self-contained C99 with static memory for microcontrollers.

`generate_c(model, name, batch, out_dir)` writes `NAME.h` and `NAME.c`:

- `int NAME_run(const float *in_<x>..., float *out_<y>...)`: one pointer per declared input, then
  per declared output (`int32_t *` for an int32 tensor), every symbolic dimension bound to `batch`
  at generation time; it returns 0, or 1 when a Gather index is out of range (checked at run time);
  `NAME_run_arena(..., float *arena)` is the same with a caller-supplied arena (reentrant).
- weights as `static const float` arrays of exact hex float literals (flash), int32 ones as
  `static const int32_t` arrays;
- one `static float NAME_arena[...]` whose size is planned by `exporter.memory_plan`: ops whose
  registry row says `c.in_place` run in place, ops whose `c.alias` holds (Reshape, a Transpose
  that moves nothing) are aliases, buffers are reused once dead, and an output produced by a
  node is written straight into the caller's `out` pointer;
- the strict kernels of the C runtime (`runtimes/c/src/kernels.c`), `#include`d from a copy beside
  the source (default) or pasted into it (`inline_kernels=True`). No malloc, stdio or libm (Sqrt
  uses an integer, correctly rounded square root unless TESSERA_SQRT_BUILTIN is defined).

The arithmetic is the C runtime's, call for call, so outputs are bit-identical to the reference.
Each node is emitted by the `_Emitter._op_<how>` method its registry row names (`OpDef.c`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tessera import resources
from tessera.exporter.check import CheckedModel, Node
from tessera.exporter.memory_plan import ALIGN, Buffer, Plan, lower_bound, plan_greedy, validate

KERNELS_DIR = resources.path("runtimes", "c", "src")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
C_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-ffp-contract=off", "-fno-math-errno"]


# ------------------------------------------------------------------ report


@dataclass
class SizeFigures:
    """Bytes from `size` (Berkeley): text includes .rodata, so the weights count as text."""

    compiler: str
    command: str
    text: int
    data: int
    bss: int
    stack: int = 0  # upper bound from -fstack-usage (sum of linked frames)

    @property
    def flash(self) -> int:
        return self.text + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss


@dataclass
class CReport:
    name: str
    batch: int
    header: Path
    source: Path
    weight_bytes: int
    arena_bytes: int
    arena_lower_bound: int
    input_bytes: int
    output_bytes: int
    nodes: int
    kernels: str  # "copy" (kernels.c/.h beside NAME.c) or "inline"
    sizes: list[SizeFigures] = field(default_factory=list)

    def text(self) -> str:
        lines = [
            f"{self.name}: batch {self.batch}, {self.nodes} kernel calls, kernels {self.kernels}",
            f"  flash, weights (raw float32)      {self.weight_bytes:>9} bytes",
            f"  RAM, activation arena             {self.arena_bytes:>9} bytes"
            f"  (lower bound {self.arena_lower_bound}, alignment {ALIGN})",
            f"  RAM, caller's input/output        {self.input_bytes + self.output_bytes:>9} bytes"
            f"  ({self.input_bytes} in, {self.output_bytes} out)",
            f"  RAM, total (arena + I/O)          {self.arena_bytes + self.input_bytes + self.output_bytes:>9} bytes",
        ]
        for s in self.sizes:
            code = s.text - self.weight_bytes
            lines.append(f"  {s.compiler}: flash {s.flash} bytes (text {s.text} = weights {self.weight_bytes}"
                         f" + code/consts {code}; data {s.data}), static RAM {s.ram} bytes (bss {s.bss}),"
                         f" stack <= {s.stack} bytes")
            lines.append(f"    measured with: {s.command}")
        if not self.sizes:
            lines.append("  flash of code: not measured (no compiler run)")
        return "\n".join(lines)


# ------------------------------------------------------------------ helpers


def hex_f32(v: float | np.floating) -> str:
    """The exact C99 hex literal of a float32 value (`%a` style with an `f` suffix)."""
    d = float(np.float32(v))
    if d == 0.0:
        return "-0x0p+0f" if np.signbit(d) else "0x0p+0f"
    mant, exp = d.hex().split("p")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}f"


def _c_names(names: list[str], prefix: str) -> dict[str, str]:
    """Unique C identifiers (also unique upper-cased, for the macros) for model names."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)
        ident, i = base, 1
        while ident.upper() in taken:
            ident, i = f"{base}_{i}", i + 1
        taken.add(ident.upper())
        out[name] = ident
    return out


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _bind(shape: tuple, dims: dict[str, int], batch: int) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else dims.get(d, batch) for d in shape)


def _resolve(model: Any) -> CheckedModel:
    """A checked model from a plain document dict, a path/bytes, an exporter.Model or a CheckedModel."""
    from tessera import exporter

    if isinstance(model, CheckedModel):
        return model
    if isinstance(model, exporter.Model):
        return model.checked
    if isinstance(model, dict):
        return exporter.check(model)
    return exporter.load(model).checked


# ------------------------------------------------------------------ storage analysis


@dataclass
class _Group:
    """Values sharing one storage block: in-place chains and Reshape aliases."""

    kind: str  # "input", "init" or "arena"
    ref: str  # input/initializer name, or the arena buffer name
    count: int
    values: list[str] = field(default_factory=list)
    start: int = 0
    pinned: str | None = None  # graph output whose `out` pointer holds this group


@dataclass
class _Layout:
    schedule: list[Node]  # live nodes in order (dead ones dropped)
    shapes: dict[str, tuple[int, ...]]
    group: dict[str, _Group]  # value -> its storage group
    last_use: dict[str, int]  # value -> last step that reads it (len(schedule) for outputs)
    copies: list[tuple[str, str]]  # (graph output, value) copied into `out` after the last node
    buffers: list[Buffer]
    plan: Plan


def _live_nodes(cm: CheckedModel) -> list[Node]:
    """Drop nodes no output depends on: no side effects, so this cannot change any result."""
    needed = {name for name, _ in cm.outputs}
    keep = []
    for node in reversed(cm.nodes):
        if node.output in needed:
            needed.update(node.inputs)
            keep.append(node)
    return keep[::-1]


def _is_alias(node: Node, shapes: dict[str, tuple[int, ...]]) -> bool:
    """The output keeps the operand's bytes as they are (Reshape, a Transpose that moves nothing)."""
    alias = node.opdef.c.alias
    return alias is not None and alias(node.params, shapes[node.inputs[0]])


def _in_place_operand(node: Node, step: int, lay: _Layout, outputs: set[str]) -> _Group | None:
    """An operand block this node may overwrite: arena, same size, dead after this step."""
    if not node.opdef.c.in_place:  # the kernel may not write over its operand (kernels.h)
        return None
    n = _count(lay.shapes[node.output])
    for name in node.inputs:
        g = lay.group[name]
        if g.kind != "arena" or g.count != n or any(v in outputs for v in g.values):
            continue
        if max(lay.last_use[v] for v in g.values) == step:
            return g
    return None


def _layout(cm: CheckedModel, batch: int, dims: dict[str, int]) -> _Layout:
    schedule = _live_nodes(cm)
    end = len(schedule)
    shapes = {name: _bind(s, dims, batch) for name, s in cm.shapes.items()}
    outputs = {name for name, _ in cm.outputs}
    last_use = {name: (end if name in outputs else -1) for name in shapes}
    for step, node in enumerate(schedule):
        for name in node.inputs:
            last_use[name] = max(last_use[name], step)
    lay = _Layout(schedule, shapes, {}, last_use, [], [], Plan({}, 0))
    for name, _ in cm.inputs:
        lay.group[name] = _Group("input", name, _count(shapes[name]), [name])
    for name in cm.initializers:
        lay.group[name] = _Group("init", name, _count(shapes[name]), [name])
    groups: list[_Group] = []
    for step, node in enumerate(schedule):
        last_use[node.output] = max(last_use[node.output], step)  # written even if never read
        g = lay.group[node.inputs[0]] if _is_alias(node, shapes) else _in_place_operand(node, step, lay, outputs)
        if g is None:
            g = _Group("arena", f"b{len(groups)}", _count(shapes[node.output]), start=step)
            groups.append(g)
        g.values.append(node.output)
        lay.group[node.output] = g
    for name, _ in cm.outputs:  # declaration order: the first output of a block gets its bytes
        g = lay.group[name]
        if g.kind == "arena" and g.pinned is None:
            g.pinned = name
        else:
            lay.copies.append((name, name))
    lay.buffers = [Buffer(g.ref, 4 * g.count, g.start, max(last_use[v] for v in g.values))
                   for g in groups if g.pinned is None]
    lay.plan = plan_greedy(lay.buffers)
    validate(lay.buffers, lay.plan)
    return lay


# ------------------------------------------------------------------ C emission


class _Emitter:
    def __init__(self, cm: CheckedModel, lay: _Layout, name: str) -> None:
        self.cm, self.lay, self.name = cm, lay, name
        self.in_names = _c_names([n for n, _ in cm.inputs], "in_")
        self.out_names = _c_names([n for n, _ in cm.outputs], "out_")
        used = sorted({v for node in lay.schedule for v in node.inputs if v in cm.initializers}
                      | {v for v, _ in lay.copies if v in cm.initializers}, key=list(cm.initializers).index)
        self.weights = _c_names(used, f"{name}_w_")
        self.consts: list[str] = []  # static const int32_t / float helper arrays
        self.body: list[str] = []

    def is_int(self, value: str) -> bool:
        return self.cm.dtypes[value] == "int32"

    def ptr(self, value: str) -> str:
        """A C expression for the value's first element, typed by its dtype (`float *` or `int32_t *`;
        int32 values in the arena are 4-byte elements of it like any other)."""
        g = self.lay.group[value]
        if g.kind == "input":
            return self.in_names[g.ref]
        if g.kind == "init":
            return self.weights[g.ref]
        if g.pinned is not None:
            return self.out_names[g.pinned]
        off = self.lay.plan.offsets[g.ref]
        if self.is_int(value):
            return f"((int32_t *)(void *)(arena + {off // 4}))"
        return f"(arena + {off // 4})"

    def kdtype(self, value: str) -> str:
        return "TSR_K_I32" if self.is_int(value) else "TSR_K_F32"

    def int_array(self, values: list[int]) -> str:
        if not values:
            return "(const int32_t *)0"
        ident = f"{self.name}_i{len(self.consts)}"
        self.consts.append(f"static const int32_t {ident}[{len(values)}] = {{{', '.join(map(str, values))}}};")
        return ident

    def float_const(self, v: float) -> str:
        ident = f"{self.name}_c{len(self.consts)}"
        self.consts.append(f"static const float {ident}[1] = {{{hex_f32(v)}}};")
        return ident

    def call(self, text: str) -> None:
        self.body.append(f"    {text};")

    # one `_op_<how>` method per `CGen.how` of the registry; each appends the kernel call(s) of one node
    def node(self, step: int, node: Node) -> None:
        shapes = self.lay.shapes
        ins = ", ".join(f"{v}{list(shapes[v])}" for v in node.inputs)
        self.body.append(f"    /* #{step} {node.op}: {node.output}{list(shapes[node.output])} <- {ins} */")
        how = "alias" if _is_alias(node, shapes) else node.opdef.c.how
        getattr(self, f"_op_{how}")(node)

    def _op_copy(self, x: str, y: str, n: int, dtype_int: bool) -> None:
        if x != y:
            self.call(f"{'tsr_k_copy32' if dtype_int else 'tsr_k_copy'}({x}, {y}, {n})")

    def _op_alias(self, node: Node) -> None:
        self.body.append("    /* alias: same bytes, no code */")

    def _op_unary(self, node: Node) -> None:
        x, y, n = self.ptr(node.inputs[0]), self.ptr(node.output), _count(self.lay.shapes[node.output])
        self.call(f"{node.opdef.c.kernel}({x}, {y}, {n})")

    def _op_clip(self, node: Node) -> None:
        """Clip = Minimum(Maximum(x, lo), hi); an infinite bound is the identity, so it is left out
        (this also keeps infinities out of the C source)."""
        x, y, n = self.ptr(node.inputs[0]), self.ptr(node.output), _count(self.lay.shapes[node.output])
        lo, hi = float(node.params["min"]), float(node.params["max"])
        if np.isfinite(lo) and np.isfinite(hi):
            self.call(f"{node.opdef.c.kernel}({x}, {y}, {n}, {hex_f32(lo)}, {hex_f32(hi)})")
        elif np.isfinite(lo):
            self.call(f"tsr_k_binary_flat(TSR_K_MAX, {x}, {self.float_const(lo)}, {y}, {n}, 1, 0)")
        elif np.isfinite(hi):
            self.call(f"tsr_k_binary_flat(TSR_K_MIN, {x}, {self.float_const(hi)}, {y}, {n}, 1, 0)")
        elif x != y:  # both bounds infinite: the identity
            self.call(f"tsr_k_copy({x}, {y}, {n})")

    def _op_binary(self, node: Node) -> None:
        a, b = node.inputs
        sa, sb, so = self.lay.shapes[a], self.lay.shapes[b], self.lay.shapes[node.output]
        na, nb, n = _count(sa), _count(sb), _count(so)
        pa, pb, py, op = self.ptr(a), self.ptr(b), self.ptr(node.output), node.opdef.c.kernel
        if (na == n or na == 1) and (nb == n or nb == 1):  # same shape or a scalar operand
            self.call(f"tsr_k_binary_flat({op}, {pa}, {pb}, {py}, {n}, {int(na == n)}, {int(nb == n)})")
            return
        rank = len(so)
        shape_arr = self.int_array(list(so))
        st_a = self.int_array(_broadcast_strides(sa, so))
        st_b = self.int_array(_broadcast_strides(sb, so))
        self.call(f"tsr_k_binary({op}, {pa}, {pb}, {py}, {rank}, {shape_arr}, {st_a}, {st_b})")

    def _op_matmul(self, node: Node) -> None:
        a, b = node.inputs
        ta, tb = node.params["transpose_a"], node.params["transpose_b"]
        sa, sb = self.lay.shapes[a], self.lay.shapes[b]
        m, k = (sa[1], sa[0]) if ta else sa
        n = sb[0] if tb else sb[1]
        self.call(f"{node.opdef.c.kernel}({self.ptr(a)}, {self.ptr(b)}, {self.ptr(node.output)}, "
                  f"{m}, {k}, {n}, {int(ta)}, {int(tb)})")

    def _op_softmax(self, node: Node) -> None:
        shape, axis = self.lay.shapes[node.inputs[0]], node.params["axis"]
        outer, inner = _count(shape[:axis]), _count(shape[axis + 1:])
        self.call(f"{node.opdef.c.kernel}({self.ptr(node.inputs[0])}, {self.ptr(node.output)}, "
                  f"{outer}, {shape[axis]}, {inner})")

    def _op_reduce(self, node: Node) -> None:
        shape, axes = self.lay.shapes[node.inputs[0]], node.params["axes"]
        flags = self.int_array([int(d in axes) for d in range(len(shape))])
        self.call(f"tsr_k_reduce({node.opdef.c.kernel}, {self.ptr(node.inputs[0])}, {self.ptr(node.output)}, "
                  f"{len(shape)}, {self.int_array(list(shape))}, {flags})")

    def _op_transpose(self, node: Node) -> None:
        shape, perm = self.lay.shapes[node.inputs[0]], list(node.params["perm"])
        kernel = "tsr_k_transpose32" if self.is_int(node.inputs[0]) else node.opdef.c.kernel
        self.call(f"{kernel}({self.ptr(node.inputs[0])}, {self.ptr(node.output)}, {len(shape)}, "
                  f"{self.int_array(list(shape))}, {self.int_array(perm)})")

    # ---- format 1.1
    def _strides(self, value: str, out: tuple[int, ...]) -> str:
        return self.int_array(_broadcast_strides(self.lay.shapes[value], out))

    def _op_compare(self, node: Node) -> None:
        """Comparisons, And, Or: `tsr_k_compare`, broadcast as `tsr_k_binary` (int32 0/1 out)."""
        a, b = node.inputs
        so = self.lay.shapes[node.output]
        self.call(f"tsr_k_compare({node.opdef.c.kernel}, {self.kdtype(a)}, {self.ptr(a)}, {self.ptr(b)}, "
                  f"{self.ptr(node.output)}, {len(so)}, {self.int_array(list(so))}, {self._strides(a, so)}, "
                  f"{self._strides(b, so)})")

    def _op_where(self, node: Node) -> None:
        c, a, b = node.inputs
        so = self.lay.shapes[node.output]
        self.call(f"tsr_k_where({self.ptr(c)}, {self.ptr(a)}, {self.ptr(b)}, {self.ptr(node.output)}, {len(so)}, "
                  f"{self.int_array(list(so))}, {self._strides(c, so)}, {self._strides(a, so)}, "
                  f"{self._strides(b, so)})")

    def _op_cast(self, node: Node) -> None:
        x, y, n = self.ptr(node.inputs[0]), self.ptr(node.output), _count(self.lay.shapes[node.output])
        src, dst = self.is_int(node.inputs[0]), self.is_int(node.output)
        if src == dst:
            self._op_copy(x, y, n, src)
        else:
            self.call(f"{'tsr_k_cast_i2f' if src else 'tsr_k_cast_f2i'}({x}, {y}, {n})")

    def _op_gather(self, node: Node) -> None:
        """Indices are checked when the node runs (SPEC: E_INPUT at run time): NAME_run returns 1."""
        data, idx = node.inputs
        shape, axis = self.lay.shapes[data], node.params["axis"]
        self.body.append(f"    if (tsr_k_gather({self.ptr(data)}, {self.ptr(idx)}, {self.ptr(node.output)}, "
                         f"{_count(shape[:axis])}, {shape[axis]}, {_count(self.lay.shapes[idx])}, "
                         f"{_count(shape[axis + 1:])}) >= 0)")
        self.body.append("        return 1; /* an index outside [-d, d-1] */")

    def _op_concat(self, node: Node) -> None:
        so, axis = self.lay.shapes[node.output], node.params["axis"]
        outer, inner, at = _count(so[:axis]), _count(so[axis + 1:]), 0
        for v in node.inputs:
            n = self.lay.shapes[v][axis]
            self.call(f"tsr_k_concat({self.ptr(v)}, {self.ptr(node.output)}, {outer}, {n}, {inner}, "
                      f"{so[axis]}, {at})")
            at += n

    def _op_slice(self, node: Node) -> None:
        shape, so = self.lay.shapes[node.inputs[0]], self.lay.shapes[node.output]
        slices = node.params["slices"]
        starts = [sl[0] if sl else 0 for sl in slices]
        steps = [sl[2] if sl else 1 for sl in slices]
        self.call(f"tsr_k_slice({self.ptr(node.inputs[0])}, {self.ptr(node.output)}, {len(shape)}, "
                  f"{self.int_array(list(shape))}, {self.int_array(list(so))}, {self.int_array(starts)}, "
                  f"{self.int_array(steps)})")

    def _op_argmax(self, node: Node) -> None:
        x = node.inputs[0]
        shape, axis = self.lay.shapes[x], node.params["axis"]
        self.call(f"tsr_k_argmax({node.opdef.c.kernel}, {self.kdtype(x)}, {self.ptr(x)}, {self.ptr(node.output)}, "
                  f"{_count(shape[:axis])}, {shape[axis]}, {_count(shape[axis + 1:])})")

    # ---- format 1.2: direct scalar kernels, no workspace beyond the arena
    def _op_conv(self, node: Node) -> None:
        """Conv2D: geometry N, C, H, W, M, kH, kW, sh, sw, dh, dw, pt, pl, pb, pr, group, Hout, Wout."""
        x, w = node.inputs[0], node.inputs[1]
        (n, c, h, wd), (m, _, kh, kw) = self.lay.shapes[x], self.lay.shapes[w]
        p, so = node.params, self.lay.shapes[node.output]
        geom = [n, c, h, wd, m, kh, kw, *p["strides"], *p["dilations"], *p["pads"], p["group"], so[2], so[3]]
        bias = self.ptr(node.inputs[2]) if len(node.inputs) > 2 else "(const float *)0"
        self.call(f"{node.opdef.c.kernel}({self.ptr(x)}, {self.ptr(w)}, {bias}, {self.ptr(node.output)}, "
                  f"{self.int_array([int(v) for v in geom])})")

    def _op_pool(self, node: Node) -> None:
        """MaxPool2D, AveragePool2D: geometry N, C, H, W, kH, kW, sh, sw, pt, pl, pb, pr, Hout, Wout."""
        x, p, so = node.inputs[0], node.params, self.lay.shapes[node.output]
        geom = [*self.lay.shapes[x], *p["kernel_shape"], *p["strides"], *p["pads"], so[2], so[3]]
        # The averaging kernel takes the count rule; the row's attributes say whether this is it.
        counts = "count_include_pad" in node.opdef.attrs
        extra = f", {int(bool(p.get('count_include_pad', False)))}" if counts else ""
        self.call(f"{node.opdef.c.kernel}({self.ptr(x)}, {self.ptr(node.output)}, "
                  f"{self.int_array([int(v) for v in geom])}{extra})")

    def run_body(self) -> list[str]:
        for step, node in enumerate(self.lay.schedule):
            self.node(step, node)
        for out, value in self.lay.copies:
            n = _count(self.lay.shapes[value])
            self.body.append(f"    /* output {out}: copied, its bytes belong to another tensor */")
            self._op_copy(self.ptr(value), self.out_names[out], n, self.is_int(value))
        return self.body


def _broadcast_strides(shape: tuple[int, ...], out: tuple[int, ...]) -> list[int]:
    """Element strides of an operand along each output dim; 0 where it is broadcast."""
    padded = (1,) * (len(out) - len(shape)) + tuple(shape)
    dense, s = [0] * len(padded), 1
    for d in range(len(padded) - 1, -1, -1):
        dense[d] = s
        s *= padded[d]
    return [dense[d] if padded[d] == out[d] and padded[d] != 1 else 0 for d in range(len(out))]


def _int_literal(v: int) -> str:
    """An int32 C literal; INT32_MIN has none (2147483648 is not an int), so it is an expression."""
    return "(-2147483647 - 1)" if v == -2147483648 else str(v)


def _weights_text(em: _Emitter) -> list[str]:
    lines = []
    for model_name, ident in em.weights.items():
        flat = em.cm.initializers[model_name].reshape(-1)
        shape = "x".join(str(d) for d in em.cm.initializers[model_name].shape) or "scalar"
        lines.append(f"/* initializer {model_name!r}, {shape} */")
        is_int = em.cm.dtypes[model_name] == "int32"
        lines.append(f"static const {'int32_t' if is_int else 'float'} {ident}[{flat.size}] = {{")
        lits = [_int_literal(int(v)) for v in flat] if is_int else [hex_f32(v) for v in flat]
        for i in range(0, len(lits), 6):
            lines.append("    " + ", ".join(lits[i:i + 6]) + ",")
        lines.append("};")
    return lines


def _c_type(em: _Emitter, value: str) -> str:
    return "int32_t" if em.is_int(value) else "float"


def _signature(em: _Emitter, with_arena: bool) -> str:
    params = [f"const {_c_type(em, n)} *{c}" for n, c in em.in_names.items()]
    params += [f"{_c_type(em, n)} *{c}" for n, c in em.out_names.items()]
    if with_arena:
        return f"int {em.name}_run_arena({', '.join(params + ['float *arena'])})"
    return f"int {em.name}_run({', '.join(params)})"


def _header_text(em: _Emitter, batch: int, weight_bytes: int) -> str:
    up = em.name.upper()
    lay = em.lay
    lines = [
        f"/* {em.name}.h: generated by `tessera export --c` from a Tessera format v1 model. Do not edit.",
        " *",
        f" * {em.name}_run computes the model's outputs for a fixed batch of {batch} (every symbolic",
        " * dimension of the model is bound to it). Buffers are dense row-major float32 (int32_t for",
        " * int32 tensors); the input and output buffers must not overlap. Returns 0, or 1 when a",
        " * Gather index is outside its range (SPEC E_INPUT; the outputs are then incomplete). Not",
        " * reentrant: it works in a static arena;",
        f" * {em.name}_run_arena is the same with a caller-supplied arena of {up}_ARENA_BYTES bytes",
        " * (16-byte aligned), for several threads or to share RAM with other code.",
        " * Models whose samples are independent (no reduction or softmax over the batch axis) built",
        " * with batch 1 run a larger batch by calling it once per row:",
        f" *   for (i = 0; i < rows; i++) {em.name}_run(x + i * {up}_IN_..._ELEMS, y + i * {up}_OUT_..._ELEMS);",
        " */",
        f"#ifndef {up}_H",
        f"#define {up}_H",
        "",
        "#include <stdint.h> /* int32_t: int32 inputs and outputs (format 1.1) */",
        "",
        f"#define {up}_BATCH {batch}",
        f"#define {up}_NUM_INPUTS {len(em.in_names)}",
        f"#define {up}_NUM_OUTPUTS {len(em.out_names)}",
    ]
    for model_name, c in em.in_names.items():
        lines.append(f"#define {up}_{c.upper()}_ELEMS {_count(lay.shapes[model_name])} /* {model_name!r} "
                     f"{list(lay.shapes[model_name])} */")
    for model_name, c in em.out_names.items():
        lines.append(f"#define {up}_{c.upper()}_ELEMS {_count(lay.shapes[model_name])} /* {model_name!r} "
                     f"{list(lay.shapes[model_name])} */")
    lines += [
        f"#define {up}_ARENA_BYTES {lay.plan.arena_bytes}",
        f"#define {up}_WEIGHT_BYTES {weight_bytes}",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        f"{_signature(em, False)};",
        f"{_signature(em, True)};",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif /* {up}_H */",
        "",
    ]
    return "\n".join(lines)


# Sqrt without libm: with C's default errno semantics (`-fmath-errno`, gcc's and clang's default on
# Linux) `__builtin_sqrtf` keeps a call to libm's sqrtf for negative inputs, so a plain
# `cc main.c NAME.c` would not link without -lm. The generated source therefore predefines the
# kernels' TSR_SQRTF as this integer square root, correctly rounded (round to nearest even, the
# IEEE 754 sqrt; checked against the hardware instruction on all 2^32 inputs when written, and on a
# spread of them by tests/embedded/test_embedded_plain_cc.py). -DTESSERA_SQRT_BUILTIN selects the
# compiler's builtin instead (one instruction on an FPU that has it; then also -fno-math-errno).
SOFT_SQRT_C = """\
/* Square root for the Sqrt kernel without libm: correctly rounded (round to nearest even, as the
 * IEEE 754 sqrt instruction), integer arithmetic only. Define TESSERA_SQRT_BUILTIN to use the
 * compiler's sqrt instead (one instruction on an FPU that has one; compile with -fno-math-errno,
 * else it keeps a call to libm's sqrtf for negative inputs). */
#if !defined(TESSERA_SQRT_BUILTIN) && !defined(TESSERA_KERNELS_EXTERNAL)
#include <stdint.h>
static float tsr_sqrtf_soft(float x)
{
    union { float f; uint32_t u; } v;
    uint32_t ix, m;
    int32_t e, shift;
    uint64_t big, res = 0, bit = (uint64_t)1 << 46;
    v.f = x;
    ix = v.u;
    if (ix == 0 || ix == 0x80000000u || ix == 0x7F800000u) return x; /* +-0, +inf */
    if ((ix & 0x7FFFFFFFu) > 0x7F800000u) return x + x;                  /* NaN, quieted */
    if (ix & 0x80000000u) return (x - x) / (x - x);                      /* x < 0: NaN */
    e = (int32_t)(ix >> 23);
    m = ix & 0x007FFFFFu;
    if (e == 0) { /* subnormal: normalise */
        e = 1;
        while (!(m & 0x00800000u)) {
            m <<= 1;
            e--;
        }
    } else {
        m |= 0x00800000u;
    }
    e -= 150;                   /* x = m * 2^e, 2^23 <= m < 2^24 */
    shift = (e & 1) ? 23 : 24;  /* e - shift even */
    big = (uint64_t)m << shift; /* 2^46 <= big < 2^48: a 24-bit root */
    e = (e - shift) / 2;        /* sqrt(x) = sqrt(big) * 2^e */
    while (bit) {               /* res = floor(sqrt(big)), big = remainder */
        if (big >= res + bit) {
            big -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (big > res) /* above the midpoint (a square root is never exactly on one) */
        res++;
    v.u = ((uint32_t)(e + 149) << 23) + (uint32_t)res; /* res carries the implicit bit */
    return v.f;
}
#define TSR_SQRTF(x) tsr_sqrtf_soft(x)
#endif
"""


def _kernels_text(inline: bool, kernels_dir: Path, name: str) -> list[str]:
    if not inline:
        return [
            SOFT_SQRT_C,
            "/* The strict kernels of the C runtime: kernels.c and kernels.h beside this file (tessera export",
            " * --c copies them). This file includes kernels.c: compile only this file and your own, e.g.",
            f" * `cc -std=c99 -ffp-contract=off main.c {name}.c` (not kernels.c as well: its symbols would be",
            " * defined twice). With several generated models in one program, compile kernels.c once on its own",
            " * (with -fno-math-errno, or link libm for its sqrtf) and build every model with",
            " * -DTESSERA_KERNELS_EXTERNAL. */",
            "#ifdef TESSERA_KERNELS_EXTERNAL",
            '#include "kernels.h"',
            "#else",
            '#include "kernels.c"',
            "#endif",
        ]
    header = (kernels_dir / "kernels.h").read_text(encoding="utf-8")
    source = (kernels_dir / "kernels.c").read_text(encoding="utf-8")
    source = source.replace('#include "kernels.h"', "/* kernels.h: inlined above */", 1)
    return [SOFT_SQRT_C, "/* ---- runtimes/c/src/kernels.h (inlined) ---- */", header,
            "/* ---- runtimes/c/src/kernels.c (inlined) ---- */", source, "/* ---- end of kernels ---- */"]


def _source_text(em: _Emitter, inline: bool, kernels_dir: Path) -> str:
    up, lay = em.name.upper(), em.lay
    body = em.run_body()  # fills em.consts first
    args = ", ".join([*em.in_names.values(), *em.out_names.values()])
    arena = f"{em.name}_arena" if lay.plan.arena_bytes else "(float *)0"
    lines = [
        f"/* {em.name}.c: generated by `tessera export --c`. Do not edit. Strict profile: compile with",
        " * -ffp-contract=off (no FMA) and never -ffast-math; kernels.c checks FLT_EVAL_METHOD == 0.",
        f" * Build: `cc -std=c99 -ffp-contract=off main.c {em.name}.c` (C99, no libm needed). */",
        # without Pow, kernels.c leaves out its binary64 code, which tsr_k_binary_flat would link
        *([] if any(n.opdef.c.kernel == "TSR_K_POW" for n in lay.schedule) else
          ["#define TSR_K_NO_POW /* no Pow in this model (kernels.c, Pow) */"]),
        *_kernels_text(inline, kernels_dir, em.name),
        "",
        f'#include "{em.name}.h"',
        "",
        *_weights_text(em),
        *em.consts,
        "",
    ]
    if lay.plan.arena_bytes:
        lines += [
            "/* The activation arena: planned at generation time, buffers reused once dead. */",
            "#if defined(__GNUC__) || defined(__clang__)",
            f"static float {em.name}_arena[{lay.plan.arena_bytes // 4}] __attribute__((aligned({ALIGN})));",
            "#else",
            f"static float {em.name}_arena[{lay.plan.arena_bytes // 4}];",
            "#endif",
            "",
        ]
    lines += [
        f"{_signature(em, True)}",
        "{",
        *(["    (void)arena;"] if not lay.plan.arena_bytes else []),
        *body,
        "    return 0;",
        "}",
        "",
        f"{_signature(em, False)}",
        "{",
        f"    return {em.name}_run_arena({args}, {arena});",
        "}",
        "",
        f"/* arena: {up}_ARENA_BYTES = {lay.plan.arena_bytes} bytes */",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ the entry point


def generate_c(model: Any, name: str, batch: int = 1, out_dir: Path | str = ".", *,
               inline_kernels: bool = False, dims: dict[str, int] | None = None,
               kernels_dir: Path | None = None) -> CReport:
    """Write NAME.h and NAME.c (and, unless inlined, copies of kernels.c/kernels.h) into out_dir.

    `model`: a plain format v1 document (dict), a path or JSON bytes, an `exporter.Model` or a
    checked model; it is checked first (exporter.ModelError on a bad model). Every symbolic
    dimension is bound to `batch`, or to `dims[symbol]` when given.
    """
    if not _IDENT.match(name):
        raise ValueError(f"model name {name!r} must be a C identifier")
    if batch < 1 or any(v < 1 for v in (dims or {}).values()):
        raise ValueError("batch and dims must be >= 1")
    cm = _resolve(model)
    missing = sorted({node.op for node in cm.nodes if node.opdef.c is None})
    if missing:
        raise NotImplementedError(f"op {', '.join(missing)} is not supported by the C generator yet")
    kdir = Path(kernels_dir) if kernels_dir is not None else KERNELS_DIR
    lay = _layout(cm, batch, dims or {})
    em = _Emitter(cm, lay, name)
    weight_bytes = sum(4 * em.cm.initializers[n].size for n in em.weights)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = _source_text(em, inline_kernels, kdir)
    header = _header_text(em, batch, weight_bytes)
    _write(out / f"{name}.h", header)
    _write(out / f"{name}.c", source)
    if not inline_kernels:
        for f in ("kernels.c", "kernels.h"):
            shutil.copyfile(kdir / f, out / f)
    return CReport(
        name=name, batch=batch, header=out / f"{name}.h", source=out / f"{name}.c", weight_bytes=weight_bytes,
        arena_bytes=lay.plan.arena_bytes, arena_lower_bound=lower_bound(lay.buffers),
        input_bytes=sum(4 * _count(lay.shapes[n]) for n, _ in cm.inputs),  # float32 and int32: 4 bytes
        output_bytes=sum(4 * _count(lay.shapes[n]) for n, _ in cm.outputs),
        nodes=sum(1 for line in em.body if line.startswith(("    tsr_k_", "    if (tsr_k_"))),
        kernels="inline" if inline_kernels else "copy",
    )


def _write(path: Path, text: str) -> None:
    """Atomic write: a half-written source never replaces a good one."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------ measuring flash/RAM with `size`

ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
# gcc lowers the kernels' generic vector zero-initialisers to memset calls on targets without wide
# vectors, so the ARM link takes memset from newlib-nano (as any firmware would); the host needs nothing.
ARM_LINK = [*ARM_FLAGS, "--specs=nano.specs", "-nostartfiles"]


@dataclass(frozen=True)
class Toolchain:
    label: str
    cc: str
    target: list[str]
    link: list[str]
    prefix: str  # binutils prefix: "" or "arm-none-eabi-"


def toolchains() -> list[Toolchain]:
    """The host compiler and, if installed, arm-none-eabi-gcc for a Cortex-M4F."""
    chains = []
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) and shutil.which("size"):
        chains.append(Toolchain(f"host {cc}", cc, [], ["-nostdlib"], ""))
    if shutil.which("arm-none-eabi-gcc") and shutil.which("arm-none-eabi-size"):
        chains.append(Toolchain("arm-none-eabi-gcc Cortex-M4F", "arm-none-eabi-gcc", ARM_FLAGS, ARM_LINK,
                                "arm-none-eabi-"))
    return chains


def _size_of(tool: str, path: Path) -> tuple[int, int, int]:
    out = subprocess.run([tool, str(path)], check=True, capture_output=True, text=True).stdout
    text, data, bss = out.splitlines()[1].split()[:3]
    return int(text), int(data), int(bss)


def _stack_bound(su: Path, nm: str, elf: Path) -> int:
    """Sum of the stack frames (-fstack-usage) of every linked function: no recursion, so no call
    chain can use more. An upper bound, not the exact worst chain."""
    linked = set(subprocess.run([nm, str(elf)], check=True, capture_output=True, text=True).stdout.split())
    total = 0
    for line in su.read_text().splitlines():
        where, frame = line.split("\t")[:2]
        if where.rsplit(":", 1)[-1] in linked:
            total += int(frame)
    return total


def measure(report: CReport, chains: list[Toolchain] | None = None) -> list[SizeFigures]:
    """Compile the generated source with -Os and link only what NAME_run reaches (gc-sections,
    entry NAME_run), then read `size`: the flash (text + data) and static RAM (data + bss)."""
    src = report.source
    figures = []
    for tc in toolchains() if chains is None else chains:
        with tempfile.TemporaryDirectory() as tmp:
            obj, elf = Path(tmp) / f"{report.name}.o", Path(tmp) / f"{report.name}.elf"
            cflags = [*C_FLAGS, *tc.target, "-Os", "-ffunction-sections", "-fdata-sections"]
            lflags = [*tc.link, "-static", "-Wl,--gc-sections", f"-Wl,-e,{report.name}_run"]
            compile_cmd = [tc.cc, *cflags, "-fstack-usage", "-I", str(src.parent), "-c", str(src), "-o", str(obj)]
            subprocess.run(compile_cmd, check=True, capture_output=True, text=True)
            subprocess.run([tc.cc, *lflags, str(obj), "-o", str(elf)], check=True, capture_output=True, text=True)
            text, data, bss = _size_of(f"{tc.prefix}size", elf)
            stack = _stack_bound(obj.with_suffix(".su"), f"{tc.prefix}nm", elf)
            shown = " ".join([tc.cc, *cflags, "-c", src.name]) + " && " + " ".join([tc.cc, *lflags])
            figures.append(SizeFigures(tc.label, f"{shown} && {tc.prefix}size", text, data, bss, stack))
    report.sizes = figures
    return figures
