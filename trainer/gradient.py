"""Reverse-mode symbolic differentiation: `grad(cost, wrt)` builds gradient graphs.

Each op's gradient rule is the `grad` field of its row in the op registry (`trainer.ops`):
fn(node, g) returning one gradient (a Variable, or None when none flows) per input.
Gradient-only ops have no rule on purpose.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from tessera.trainer import opdef, rewrites
from tessera.trainer.graph import GraphError, Variable, apply, constant, toposort, user_frame
from tessera.trainer.opdef import is_discrete


class DisconnectedInputError(GraphError):
    """A `wrt` variable does not influence the cost."""


def grad(cost: Variable, wrt: Variable | Sequence[Variable],
         consider_constant: Sequence[Variable] | None = None, disconnected_inputs: str = "raise",
         stabilize: bool = True) -> Any:
    """Symbolic gradient of a scalar `cost` with respect to `wrt` (a Variable or a list).

    Returns Variables (a list when `wrt` is a list). `disconnected_inputs` is "raise" (error
    when a wrt does not influence the cost), "warn" or "ignore" (both give zeros), as in Theano.
    With `stabilize`, the cost graph is first rewritten (trainer.rewrites.optimize) so that
    e.g. BCE on a sigmoid is differentiated in its finite softplus form.
    """
    if not isinstance(cost, Variable):
        raise GraphError(f"grad: cost must be a symbolic Variable, got {type(cost).__name__}")
    fn, ln = user_frame()
    if cost.ndim != 0:
        raise GraphError(f"{fn}:{ln}: grad: cost must be a scalar (0-d), got shape {cost.shape}; "
                         "reduce it first, e.g. cost.mean() or cost.sum()")
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_inputs must be 'raise', 'warn' or 'ignore'")
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise GraphError(f"{fn}:{ln}: grad: wrt entries must be Variables, got {type(w).__name__}")
    if stabilize and all(w.kind != "apply" for w in wrt_list):
        cost = rewrites.optimize([cost])[0]
    blocked = {id(v) for v in (consider_constant or ())}
    order = toposort([cost])
    # Only nodes that depend on some wrt need a gradient: prunes e.g. d/dx of dot(x, W).
    wanted = {id(w) for w in wrt_list}
    depends: set[int] = set()
    for v in order:
        if id(v) in wanted or (id(v) not in blocked and not is_discrete(v.dtype)
                               and any(id(i) in depends for i in v.inputs)):
            depends.add(id(v))  # no gradient flows through bool/integer values (comparisons, argmax)
    contribs: dict[int, list[Variable]] = {id(cost): [constant(1.0, cost.dtype)]}
    total: dict[int, Variable] = {}
    for v in reversed(order):
        parts = contribs.pop(id(v), None)
        if parts is None:
            continue
        g = parts[0]
        for p in parts[1:]:
            g = g + p
        total[id(v)] = g
        if v.kind != "apply" or id(v) in blocked:
            continue
        rule = opdef.get(v.op).grad
        if rule is None:
            raise GraphError(f"grad: op {v.op!r} has no gradient rule "
                             "(gradient-only ops are not differentiable)")
        for inp, gi in zip(v.inputs, rule(v, g), strict=False):
            if gi is not None and id(inp) in depends:
                contribs.setdefault(id(inp), []).append(gi)
    out = []
    for w in wrt_list:
        g = total.get(id(w))
        if g is None:
            msg = (f"{fn}:{ln}: grad: {w!r} is not part of the cost's graph (disconnected); "
                   "pass disconnected_inputs='ignore' to get zeros")
            if disconnected_inputs == "raise":
                raise DisconnectedInputError(msg)
            if disconnected_inputs == "warn":
                warnings.warn(msg, stacklevel=2)
            g = apply("zeros_like", w)
        elif g.dtype != w.dtype or g.shape != w.shape:
            g = apply("sum_to", g, w)  # also casts to w's dtype
        out.append(g)
    return out[0] if single else out
