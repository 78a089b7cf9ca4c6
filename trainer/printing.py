"""`trainer.printing` (Theano's theano.printing): `debugprint` and `pp` of a graph after rewrites."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tessera.trainer import rewrites
from tessera.trainer.graph import Variable

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _roots(obj: Any) -> list[Variable]:
    if isinstance(obj, Variable):
        return [obj]
    outs = getattr(obj, "outputs", None)  # a compiled Function: its rewritten outputs and updates
    if outs is not None:
        return list(outs) + list(getattr(obj, "_upd_exprs", []))
    return list(obj)


def _label(v: Variable) -> str:
    if v.kind == "apply":
        attrs = ",".join(f"{k}={val}" for k, val in sorted(v.attrs.items()))
        return f"{v.op}{{{attrs}}}" if attrs else v.op
    if v.kind == "constant":
        return f"constant {v.value.tolist() if v.value.size <= 4 else '...'}"
    return f"{v.kind} {v.name!r}" if v.name else v.kind


def debugprint(obj: Any, file: TextIO | str | None = None, optimize: bool = True) -> str | None:
    """Print the graph of a variable, a list of them, or a compiled function, one node per line,
    inputs indented below their node; a node already printed is shown once and then by id.
    The graph is shown after the rewrites (what runs). file="str" returns the text."""
    roots = _roots(obj)
    if optimize and not hasattr(obj, "outputs"):
        roots = rewrites.optimize(roots)
    ids: dict[int, int] = {}
    lines: list[str] = []

    def walk(v: Variable, depth: int) -> None:
        seen = id(v) in ids
        n = ids.setdefault(id(v), len(ids))
        lines.append(f"{' |' * depth}{_label(v)} [id {n}] {v.dtype} {tuple(v.shape)}" + (" (seen)" if seen else ""))
        if not seen:
            for i in v.inputs:
                walk(i, depth + 1)

    for r in roots:
        walk(r, 0)
    text = "\n".join(lines) + "\n"
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return None


def pp(v: Variable, optimize: bool = True) -> str:
    """The expression as one line of text, e.g. 'sigmoid((dot(x, W) + bh))'."""
    (root,) = rewrites.optimize([v]) if optimize else [v]

    def fmt(x: Variable) -> str:
        if x.kind == "constant":
            return str(x.value.tolist()) if x.value.size <= 4 else "constant"
        if x.kind != "apply":
            return x.name or x.kind
        if x.op in _INFIX:
            return f"({fmt(x.inputs[0])} {_INFIX[x.op]} {fmt(x.inputs[1])})"
        if x.op == "neg":
            return f"-{fmt(x.inputs[0])}"
        return f"{x.op}({', '.join(fmt(i) for i in x.inputs)})"
    return fmt(root)


__all__ = ["debugprint", "pp"]
