"""Reverse-mode symbolic differentiation: `grad(cost, wrt)` builds gradient graphs.

There is one table of gradient rules, `RULES`: op name -> fn(node, g) returning one gradient
(a Variable, or None when none flows) per input. Gradient-only ops have no rule on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from trainer.graph import GraphError, Variable, apply, toposort, user_frame


class DisconnectedInputError(GraphError):
    """A `wrt` variable does not influence the cost."""


def _sum_to(g: Variable, ref: Variable) -> Variable:
    # Statically equal, fully known shapes need no reduction; otherwise decide at plan time.
    if g.shape == ref.shape and None not in g.shape and g.dtype == ref.dtype:
        return g
    return apply("sum_to", g, ref)


def _g_dot(n: Variable, g: Variable) -> list:
    a, b = n.inputs
    if a.ndim == 2 and b.ndim == 2:
        return [apply("dot", g, b.T), apply("dot", a.T, g)]
    if a.ndim == 1 and b.ndim == 2:
        return [apply("dot", b, g), apply("outer", a, g)]
    if a.ndim == 2 and b.ndim == 1:
        return [apply("outer", g, b), apply("dot", a.T, g)]
    return [g * b, g * a]  # vector . vector -> scalar


def _g_softmax(n: Variable, g: Variable) -> list:
    return [n * (g - (g * n).sum(axis=n.ndim - 1, keepdims=True))]


def _g_transpose(n: Variable, g: Variable) -> list:
    perm = n.attrs["perm"]
    inv = tuple(perm.index(i) for i in range(len(perm)))
    return [apply("transpose", g, perm=inv)]


def _red_attrs(n: Variable) -> dict:
    return {"axis": n.attrs["axis"], "keepdims": n.attrs["keepdims"]}


RULES: dict[str, Callable[[Variable, Variable], list]] = {
    "add": lambda n, g: [_sum_to(g, n.inputs[0]), _sum_to(g, n.inputs[1])],
    "sub": lambda n, g: [_sum_to(g, n.inputs[0]), -_sum_to(g, n.inputs[1])],
    "mul": lambda n, g: [_sum_to(g * n.inputs[1], n.inputs[0]), _sum_to(g * n.inputs[0], n.inputs[1])],
    "div": lambda n, g: [_sum_to(g / n.inputs[1], n.inputs[0]), -_sum_to(g * n / n.inputs[1], n.inputs[1])],
    "maximum": lambda n, g: [_sum_to(g * apply("cmp", *n.inputs, cmp="ge"), n.inputs[0]),
                            _sum_to(g * apply("cmp", *n.inputs, cmp="lt"), n.inputs[1])],
    "minimum": lambda n, g: [_sum_to(g * apply("cmp", *n.inputs, cmp="le"), n.inputs[0]),
                            _sum_to(g * apply("cmp", *n.inputs, cmp="gt"), n.inputs[1])],
    "neg": lambda n, g: [-g],
    "exp": lambda n, g: [g * n],
    "log": lambda n, g: [g / n.inputs[0]],
    "tanh": lambda n, g: [g * (1 - n * n)],
    "sqrt": lambda n, g: [(g * 0.5) / n],
    "abs": lambda n, g: [g * apply("sign", n.inputs[0])],
    "sigmoid": lambda n, g: [apply("sigmoid_grad", n, g)],
    "softplus": lambda n, g: [g * apply("sigmoid", n.inputs[0])],
    "relu": lambda n, g: [apply("relu_grad", n.inputs[0], g)],
    "pow": lambda n, g: [g * (n.attrs["exponent"]
                              * apply("pow", n.inputs[0], exponent=n.attrs["exponent"] - 1))],
    "clip": lambda n, g: [apply("clip_grad", n.inputs[0], g, lo=n.attrs["lo"], hi=n.attrs["hi"])],
    "transpose": _g_transpose,
    "reshape": lambda n, g: [apply("reshape_like", g, n.inputs[0])],
    "dot": _g_dot,
    "sum": lambda n, g: [apply("expand", g, n.inputs[0], mean=False, **_red_attrs(n))],
    "mean": lambda n, g: [apply("expand", g, n.inputs[0], mean=True, **_red_attrs(n))],
    "max": lambda n, g: [apply("max_grad", n.inputs[0], n, g, **_red_attrs(n))],
    "softmax": _g_softmax,
}


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
        from trainer import rewrites  # local: rewrites imports graph machinery that imports us
        cost = rewrites.optimize([cost])[0]
    blocked = {id(v) for v in (consider_constant or ())}
    order = toposort([cost])
    # Only nodes that depend on some wrt need a gradient: prunes e.g. d/dx of dot(x, W).
    wanted = {id(w) for w in wrt_list}
    depends: set[int] = set()
    for v in order:
        if id(v) in wanted or (id(v) not in blocked and any(id(i) in depends for i in v.inputs)):
            depends.add(id(v))
    from trainer.graph import constant
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
        if v.op not in RULES:
            raise GraphError(f"grad: op {v.op!r} has no gradient rule "
                             "(gradient-only ops are not differentiable)")
        for inp, gi in zip(v.inputs, RULES[v.op](v, g), strict=False):
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
                import warnings
                warnings.warn(msg, stacklevel=2)
            g = apply("zeros_like", w)
        elif g.dtype != w.dtype or g.shape != w.shape:
            g = apply("sum_to", g, w)  # also casts to w's dtype
        out.append(g)
    return out[0] if single else out
