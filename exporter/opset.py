"""The operator set of format 1.0 (SPEC §6): arity, attribute names and the version that added each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpDef:
    name: str
    arity: int
    attrs: tuple[str, ...]
    since: str = "1.0"


_REDUCE = ("axes", "keepdims")

OPS: dict[str, OpDef] = {
    d.name: d
    for d in (
        OpDef("MatMul", 2, ("transpose_a", "transpose_b")),
        *(OpDef(n, 2, ()) for n in ("Add", "Sub", "Mul", "Div", "Maximum", "Minimum")),
        *(OpDef(n, 1, ()) for n in ("Neg", "Abs", "Sqrt", "Relu", "Exp", "Log", "Sigmoid", "Tanh")),
        OpDef("Softplus", 1, ()),
        OpDef("Clip", 1, ("min", "max")),
        OpDef("Softmax", 1, ("axis",)),
        *(OpDef(n, 1, _REDUCE) for n in ("ReduceSum", "ReduceMean", "ReduceMax")),
        OpDef("Transpose", 1, ("perm",)),
        OpDef("Reshape", 1, ("shape",)),
    )
}

BROADCAST_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Maximum", "Minimum"})
ELEMENTWISE_OPS = frozenset({"Neg", "Abs", "Sqrt", "Relu", "Exp", "Log", "Sigmoid", "Tanh", "Softplus", "Clip"})
REDUCE_OPS = frozenset({"ReduceSum", "ReduceMean", "ReduceMax"})
