"""Graph rewrites run before execution (and by the exporter): each pass is a small named function.

A pass takes a list of output Variables and returns equivalent Variables. Leaves (inputs,
shared variables) are kept as the same objects; apply nodes are rebuilt, never mutated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trainer import kernels, ops
from trainer.graph import Variable, toposort

LocalRule = Callable[[Variable], "Variable | None"]


def node(op: str, inputs: tuple | list, attrs: dict | None = None, trace: tuple | None = None) -> Variable:
    """Build an apply node without looking up the caller (rewrites keep the original trace)."""
    attrs = dict(attrs or {})
    shape, dtype = ops.infer(op, [i.shape for i in inputs], [i.dtype for i in inputs], attrs)
    return Variable("apply", dtype, shape, op=op, inputs=tuple(inputs), attrs=attrs,
                    trace=trace or ("<rewrite>", 0))


def const(value, dtype) -> Variable:
    arr = np.asarray(value, dtype=dtype)
    return Variable("constant", arr.dtype, arr.shape, value=arr, trace=("<rewrite>", 0))


def _same(a: tuple, b: tuple) -> bool:
    return all(x is y for x, y in zip(a, b, strict=True))


def rebuild(outputs: list[Variable], rule: LocalRule) -> list[Variable]:
    """Apply a local rule bottom-up, rebuilding nodes whose inputs changed, to a fixpoint per node."""
    new: dict[int, Variable] = {}
    for v in toposort(outputs):
        if v.kind != "apply":
            new[id(v)] = v
            continue
        ins = tuple(new[id(i)] for i in v.inputs)
        cur = v if _same(ins, v.inputs) else node(v.op, ins, v.attrs, v.trace)
        for _ in range(16):  # a rule may enable another rule on its own result
            r = rule(cur) if cur.kind == "apply" else None
            if r is None or r is cur:
                break
            cur = r
        new[id(v)] = cur
    return [new[id(o)] for o in outputs]


def _safe(orig: Variable, repl: Variable) -> Variable | None:
    # A rewrite must not change what the node computes in shape or dtype.
    if repl.shape == orig.shape and repl.dtype == orig.dtype:
        return repl
    return None


def _is_const(v: Variable, value: float | None = None) -> bool:
    if v.kind != "constant" or v.value.size != 1:
        return False
    return value is None or float(v.value.reshape(())) == value


def _is_scalar_const(v: Variable, value: float | None = None) -> bool:
    return _is_const(v, value) and all(d == 1 for d in v.shape)


# ---------------------------------------------------------------- merge

def _const_key(v: Variable):
    return ("const", v.dtype.str, v.shape, v.value.tobytes())


def merge(outputs: list[Variable]) -> list[Variable]:
    """Common-subexpression elimination: one node per (op, inputs, attrs), one per constant value."""
    canon: dict = {}
    new: dict[int, Variable] = {}
    for v in toposort(outputs):
        if v.kind == "constant":
            new[id(v)] = canon.setdefault(_const_key(v), v)
            continue
        if v.kind != "apply":
            new[id(v)] = v
            continue
        ins = tuple(new[id(i)] for i in v.inputs)
        key = (v.op, tuple(id(i) for i in ins), repr(sorted(v.attrs.items())))
        if key not in canon:
            canon[key] = v if _same(ins, v.inputs) else node(v.op, ins, v.attrs, v.trace)
        new[id(v)] = canon[key]
    return [new[id(o)] for o in outputs]


# ---------------------------------------------------------------- constant folding

def _fold(v: Variable) -> Variable | None:
    if not v.inputs or not all(i.kind == "constant" for i in v.inputs):
        return None
    if v.op in ("zeros_like",):
        return None
    vals = [i.value for i in v.inputs]
    shape, dtype = ops.infer(v.op, [a.shape for a in vals], [i.dtype for i in v.inputs], v.attrs)
    out = kernels.evaluate(v.op, v.attrs, vals, shape, dtype)
    return const(out, dtype)


def constant_fold(outputs: list[Variable]) -> list[Variable]:
    """Evaluate nodes whose inputs are all constants, once, at compile time."""
    return rebuild(outputs, _fold)


# ---------------------------------------------------------------- algebraic simplification

def _simplify(v: Variable) -> Variable | None:
    op, ins = v.op, v.inputs
    if op in ("add", "sub") and _is_scalar_const(ins[1], 0.0):
        return _safe(v, ins[0])
    if op == "add" and _is_scalar_const(ins[0], 0.0):
        return _safe(v, ins[1])
    if op == "sub" and _is_scalar_const(ins[0], 0.0) and ins[1].shape == v.shape:
        return node("neg", (ins[1],), trace=v.trace)
    if op in ("mul", "div") and _is_scalar_const(ins[1], 1.0):
        return _safe(v, ins[0])
    if op == "mul" and _is_scalar_const(ins[0], 1.0):
        return _safe(v, ins[1])
    if op == "mul" and _is_scalar_const(ins[0], -1.0) and ins[1].shape == v.shape:
        return node("neg", (ins[1],), trace=v.trace)
    if op == "neg" and ins[0].op == "neg":
        return _safe(v, ins[0].inputs[0])
    if op == "neg" and ins[0].op == "sub":  # -(a - b) -> b - a: one pass instead of two
        return _safe(v, node("sub", ins[0].inputs[::-1], trace=v.trace))
    if op == "neg" and ins[0].op == "expand":  # negate the small, unexpanded side
        g, ref = ins[0].inputs
        return node("expand", (node("neg", (g,), trace=v.trace), ref), ins[0].attrs, v.trace)
    if op == "mul" and ins[0].op == "expand" and _is_scalar_const(ins[1]) and ins[1].ndim == 0:
        g, ref = ins[0].inputs
        return _safe(v, node("expand", (node("mul", (g, ins[1]), trace=v.trace), ref), ins[0].attrs, v.trace))
    if op == "sub" and ins[1].op == "neg":
        return _safe(v, node("add", (ins[0], ins[1].inputs[0]), trace=v.trace))
    if op == "add" and ins[1].op == "neg":
        return _safe(v, node("sub", (ins[0], ins[1].inputs[0]), trace=v.trace))
    if op == "add" and ins[0].op == "neg":
        return _safe(v, node("sub", (ins[1], ins[0].inputs[0]), trace=v.trace))
    if op == "pow" and v.attrs["exponent"] == 1.0:
        return _safe(v, ins[0])
    if op == "transpose":
        perm = v.attrs["perm"]
        if perm == tuple(range(len(perm))):
            return ins[0]
        if ins[0].op == "transpose":
            inner = ins[0].attrs["perm"]
            composed = tuple(inner[p] for p in perm)
            if composed == tuple(range(len(composed))):
                return ins[0].inputs[0]
            return node("transpose", (ins[0].inputs[0],), {"perm": composed}, v.trace)
    if op == "transpose" and ins[0].op == "dot" and ins[0].inputs[0].ndim == 2 and ins[0].inputs[1].ndim == 2:
        # (a b)^T -> b^T a^T: the product is then written contiguous, no strided consumer
        a, b = ins[0].inputs
        return _safe(v, node("dot", (node("transpose", (b,), {"perm": (1, 0)}, v.trace),
                                     node("transpose", (a,), {"perm": (1, 0)}, v.trace)), trace=v.trace))
    if op == "sum_to" and ins[0].shape == ins[1].shape and None not in ins[0].shape \
            and ins[0].dtype == ins[1].dtype:
        return ins[0]
    return None


def simplify(outputs: list[Variable]) -> list[Variable]:
    """Algebraic canonicalisation: identities (x+0, x*1, --x, double transpose, ...) and cheaper forms."""
    return rebuild(outputs, _simplify)


# ---------------------------------------------------------------- stabilisation

def _one_minus(v: Variable) -> Variable | None:
    """x if v is (1 - x) with a scalar constant 1, else None."""
    if v.op == "sub" and _is_scalar_const(v.inputs[0], 1.0):
        return v.inputs[1]
    return None


def _bce_on_sigmoid(v: Variable) -> Variable | None:
    # -(t*log(sigmoid(z)) + (1-t)*log(1-sigmoid(z)))  ->  softplus(z) - t*z
    if v.op != "neg" or v.inputs[0].op != "add":
        return None
    a, b = v.inputs[0].inputs
    if a.op != "mul" or b.op != "mul":
        return None
    t, la = a.inputs
    omt, lb = b.inputs
    if la.op != "log" or lb.op != "log" or _one_minus(omt) is not t:
        return None
    s1 = la.inputs[0]
    s2 = _one_minus(lb.inputs[0])
    if s1.op != "sigmoid" or s2 is not s1:
        return None
    z = s1.inputs[0]
    tr = v.trace
    repl = node("sub", (node("softplus", (z,), trace=tr), node("mul", (t, z), trace=tr)), trace=tr)
    return _safe(v, repl)


def _log_sigmoid(v: Variable) -> Variable | None:
    if v.op == "log":
        x = v.inputs[0]
        if x.op == "sigmoid":  # log(sigmoid(z)) -> -softplus(-z)
            z = x.inputs[0]
            tr = v.trace
            return node("neg", (node("softplus", (node("neg", (z,), trace=tr),), trace=tr),), trace=tr)
        s = _one_minus(x)
        if s is not None and s.op == "sigmoid" and x.shape == v.shape:  # log(1-sigmoid(z)) -> -softplus(z)
            return _safe(v, node("neg", (node("softplus", (s.inputs[0],), trace=v.trace),), trace=v.trace))
    return None


def stabilize(outputs: list[Variable]) -> list[Variable]:
    """Numerically stable forms: BCE on a sigmoid and log(sigmoid) become softplus forms.

    The whole-BCE rule runs first (it needs to see the log(sigmoid) nodes intact); it gives
    softplus(z) - t*z, whose gradient is exactly sigmoid(z) - t.
    """
    return rebuild(rebuild(outputs, _bce_on_sigmoid), _log_sigmoid)


# ---------------------------------------------------------------- pipeline

PASSES: list[tuple[str, Callable[[list[Variable]], list[Variable]]]] = [
    ("merge", merge), ("stabilize", stabilize), ("simplify", simplify),
    ("constant_fold", constant_fold), ("merge", merge),
]


def optimize(outputs: list[Variable]) -> list[Variable]:
    """Run the named passes until nothing changes; returns equivalent outputs (same op vocabulary)."""
    outs = list(outputs)
    for _ in range(4):
        before = [id(v) for v in toposort(outs)]
        for _name, p in PASSES:
            outs = p(outs)
        if [id(v) for v in toposort(outs)] == before:
            break
    return outs
