"""The format graph under construction: values, constants, nodes with their shapes inferred as they are added.

Each ONNX value maps to a `Val`: a run-time value of the format graph (`name` set), a constant known at
import time (`const`: an initializer or a folded Constant/shape computation, materialised as an
initializer only when a run-time node uses it), or a shape vector whose entries may be symbols (`sym`,
what `Shape` of a value with a symbolic batch dimension gives). ONNX booleans are int32 values here
(SPEC §3): `flag` marks values that hold only 0/1, `truthy` an int32 value standing for the ONNX bool
`x != 0` (a Cast to BOOL), which Where/And/Or/Not read as it is and anything else turns into
`NotEqual(x, 0)` first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tessera.exporter.errors import ModelError
from tessera.exporter.onnx_import.reader import to_format
from tessera.exporter.opset import OPS
from tessera.exporter.shapes import Shape, ShapeProblem

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]*$")


@dataclass
class Val:
    name: str | None = None  # the format value, None for a constant not yet materialised
    shape: Shape = ()
    dtype: str = "float32"
    const: np.ndarray | None = None  # the value when known at import time (its ONNX element type)
    sym: tuple | None = None  # a 1-D integer vector of ints and symbols (shape arithmetic)
    flag: bool = False  # int32 holding 0/1 only (an ONNX bool)
    truthy: bool = False  # an ONNX bool given as int32 `x != 0`, not materialised
    hint: str = "c"  # the name a materialised constant gets


@dataclass
class Graph:
    round_float64: bool = False
    inputs: list[dict] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    initializers: dict[str, np.ndarray] = field(default_factory=dict)
    nodes: list[dict] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    @staticmethod
    def clean(base: str) -> str:
        """An ONNX name as a valid value name (SPEC §4's pattern, at most 256 bytes)."""
        name = re.sub(r"[^A-Za-z0-9_.:/-]", "_", base or "v")[:200]
        return name if _NAME.match(name) else f"_{name}"

    def fresh(self, base: str) -> str:
        """A valid, unused value name derived from an ONNX name."""
        name = self.clean(base)
        out, i = name, 1
        while out in self.taken:
            i += 1
            out = f"{name}_{i}"
        self.taken.add(out)
        return out

    def add_input(self, onnx_name: str, shape: Shape, dtype: str) -> Val:
        name = self.fresh(onnx_name)
        self.inputs.append({"name": name, "dtype": dtype, "shape": list(shape)})
        self.shapes[name], self.dtypes[name] = tuple(shape), dtype
        return Val(name, tuple(shape), dtype)

    def operand(self, v: Val, what: str) -> str:
        """The format value of `v`, materialising a constant as an initializer (converted exactly or refused)."""
        if v.truthy:
            v2 = self.materialise_truth(v, what)
            return v2.name  # type: ignore[return-value]
        if v.name is not None:
            return v.name
        if v.sym is not None:
            raise ModelError("E_SHAPE", f"{what}: a shape computed from the symbolic dimension(s) "
                                        f"{[d for d in v.sym if isinstance(d, str)]} is used as a run-time tensor; "
                                        "the format has no Shape operator")
        assert v.const is not None
        arr = to_format(v.const, f"{what}: constant {v.hint!r}", self.round_float64)
        name = self.fresh(v.hint)
        self.initializers[name] = arr
        v.name, v.shape, v.dtype = name, tuple(arr.shape), "int32" if arr.dtype == np.int32 else "float32"
        self.shapes[name], self.dtypes[name] = v.shape, v.dtype
        if v.const.dtype == np.bool_:
            v.flag = True
        return name

    def materialise_truth(self, v: Val, what: str) -> Val:
        """An ONNX bool given as int32 `x != 0` as a 0/1 value: NotEqual(x, 0)."""
        zero = Val(const=np.zeros((), np.int32), hint="zero")
        base = Val(v.name, v.shape, v.dtype)
        return self.node("NotEqual", [base, zero], {}, what, "truth")

    def node(self, op: str, operands: list[Val], attrs: dict, what: str, out: str, label: str | None = None) -> Val:
        """Append a node of the format; its output's shape and dtype from the registry's rules (E_SHAPE on
        operands the operator rejects, naming the ONNX node)."""
        row = OPS[op]
        names = [self.operand(v, what) for v in operands]
        shapes = [self.shapes[n] for n in names]
        dtypes = [self.dtypes[n] for n in names]
        full = row.with_defaults(attrs)
        try:
            dtype = row.dtype(dtypes, full)
            shape, _ = row.shape(shapes, full)
        except ShapeProblem as exc:
            raise ModelError("E_SHAPE", f"{what}: as the format's {op}: {exc}") from None
        name = self.fresh(out)
        entry: dict[str, Any] = {"op": op, "inputs": names, "outputs": [name]}
        if label:
            entry["name"] = label
        if attrs:
            entry["attrs"] = attrs
        self.nodes.append(entry)
        self.shapes[name], self.dtypes[name] = tuple(shape), dtype
        flag = op in ("Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Equal", "NotEqual", "And", "Or", "Not")
        return Val(name, tuple(shape), dtype, flag=flag)

    def uses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.nodes:
            for i in n["inputs"]:
                counts[i] = counts.get(i, 0) + 1
        for o in self.outputs:
            counts[o["name"]] = counts.get(o["name"], 0) + 1
        return counts

    def producer(self) -> dict[str, dict]:
        return {n["outputs"][0]: n for n in self.nodes}
