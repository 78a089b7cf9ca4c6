"""Graph rewrites run before execution (and by the exporter): each pass is a small named function.

A pass takes a list of output Variables and returns equivalent Variables. Leaves (inputs,
shared variables) are kept as the same objects; apply nodes are rebuilt, never mutated.
`optimize` runs the passes of `PASSES` in order until nothing changes.

`simplify` and `stabilize` apply local rules: small named functions, each filed in a `RuleDB`
under the op it tracks (`SIMPLIFY`, `STABILIZE_BCE`, `STABILIZE`). A new rule is one
decorated function. Rewrites that need concrete shapes run later, at plan time
(`trainer.fusions`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tessera.trainer import opdef
from tessera.trainer.graph import Variable, toposort

LocalRule = Callable[[Variable], "Variable | None"]


def node(op: str, inputs: tuple | list, attrs: dict | None = None, trace: tuple | None = None) -> Variable:
    """Build an apply node without looking up the caller (rewrites keep the original trace)."""
    attrs = dict(attrs or {})
    shape, dtype = opdef.infer(op, [i.shape for i in inputs], [i.dtype for i in inputs], attrs,
                               [i.value if i.kind == "constant" else None for i in inputs])
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


class RuleDB:
    """Local rules filed under the op they track (the node's op); tried in the order registered.

    A rule takes an apply node and returns an equivalent replacement, or None when it does not
    apply; the first replacement wins.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.rules: dict[str, list[LocalRule]] = {}

    def register(self, *ops: str) -> Callable[[LocalRule], LocalRule]:
        def deco(rule: LocalRule) -> LocalRule:
            for op in ops:
                self.rules.setdefault(op, []).append(rule)
            return rule
        return deco

    def __call__(self, v: Variable) -> Variable | None:
        for rule in self.rules.get(v.op, ()):
            r = rule(v)
            if r is not None:
                return r
        return None


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
    if not opdef.get(v.op).fold:
        return None
    vals = [i.value for i in v.inputs]
    shape, dtype = opdef.infer(v.op, [a.shape for a in vals], [i.dtype for i in v.inputs], v.attrs, vals)
    out = opdef.evaluate(v.op, v.attrs, vals, shape, dtype)
    return const(out, dtype)


def constant_fold(outputs: list[Variable]) -> list[Variable]:
    """Evaluate nodes whose inputs are all constants, once, at compile time."""
    return rebuild(outputs, _fold)


# ---------------------------------------------------------------- algebraic simplification

SIMPLIFY = RuleDB("simplify")


@SIMPLIFY.register("add", "sub")
def x_plus_zero(v: Variable) -> Variable | None:  # x + 0, x - 0 -> x
    return _safe(v, v.inputs[0]) if _is_scalar_const(v.inputs[1], 0.0) else None


@SIMPLIFY.register("add")
def zero_plus_x(v: Variable) -> Variable | None:
    return _safe(v, v.inputs[1]) if _is_scalar_const(v.inputs[0], 0.0) else None


@SIMPLIFY.register("sub")
def zero_minus_x(v: Variable) -> Variable | None:  # 0 - x -> -x
    a, b = v.inputs
    return node("neg", (b,), trace=v.trace) if _is_scalar_const(a, 0.0) and b.shape == v.shape else None


@SIMPLIFY.register("mul", "div")
def x_times_one(v: Variable) -> Variable | None:  # x * 1, x / 1 -> x
    return _safe(v, v.inputs[0]) if _is_scalar_const(v.inputs[1], 1.0) else None


@SIMPLIFY.register("mul")
def one_times_x(v: Variable) -> Variable | None:
    return _safe(v, v.inputs[1]) if _is_scalar_const(v.inputs[0], 1.0) else None


@SIMPLIFY.register("mul")
def minus_one_times_x(v: Variable) -> Variable | None:  # -1 * x -> -x
    a, b = v.inputs
    return node("neg", (b,), trace=v.trace) if _is_scalar_const(a, -1.0) and b.shape == v.shape else None


@SIMPLIFY.register("neg")
def neg_neg(v: Variable) -> Variable | None:
    x = v.inputs[0]
    return _safe(v, x.inputs[0]) if x.op == "neg" else None


@SIMPLIFY.register("neg")
def neg_sub(v: Variable) -> Variable | None:  # -(a - b) -> b - a: one pass instead of two
    x = v.inputs[0]
    return _safe(v, node("sub", x.inputs[::-1], trace=v.trace)) if x.op == "sub" else None


@SIMPLIFY.register("neg")
def neg_expand(v: Variable) -> Variable | None:  # negate the small, unexpanded side
    x = v.inputs[0]
    if x.op != "expand":
        return None
    g, ref = x.inputs
    return node("expand", (node("neg", (g,), trace=v.trace), ref), x.attrs, v.trace)


@SIMPLIFY.register("mul")
def scale_expand(v: Variable) -> Variable | None:  # expand(g) * c -> expand(g * c), c a 0-d constant
    x, c = v.inputs
    if x.op != "expand" or not _is_scalar_const(c) or c.ndim != 0:
        return None
    g, ref = x.inputs
    return _safe(v, node("expand", (node("mul", (g, c), trace=v.trace), ref), x.attrs, v.trace))


@SIMPLIFY.register("sub")
def minus_neg(v: Variable) -> Variable | None:  # a - (-b) -> a + b
    a, b = v.inputs
    return _safe(v, node("add", (a, b.inputs[0]), trace=v.trace)) if b.op == "neg" else None


@SIMPLIFY.register("add")
def plus_neg(v: Variable) -> Variable | None:  # a + (-b) -> a - b
    a, b = v.inputs
    return _safe(v, node("sub", (a, b.inputs[0]), trace=v.trace)) if b.op == "neg" else None


@SIMPLIFY.register("add")
def neg_plus(v: Variable) -> Variable | None:  # (-a) + b -> b - a
    a, b = v.inputs
    return _safe(v, node("sub", (b, a.inputs[0]), trace=v.trace)) if a.op == "neg" else None


@SIMPLIFY.register("pow")
def pow_one(v: Variable) -> Variable | None:
    return _safe(v, v.inputs[0]) if v.attrs["exponent"] == 1.0 else None


@SIMPLIFY.register("transpose")
def transpose_identity(v: Variable) -> Variable | None:
    perm = v.attrs["perm"]
    return v.inputs[0] if perm == tuple(range(len(perm))) else None


@SIMPLIFY.register("transpose")
def transpose_transpose(v: Variable) -> Variable | None:  # one transpose with the composed perm
    x = v.inputs[0]
    if x.op != "transpose":
        return None
    composed = tuple(x.attrs["perm"][p] for p in v.attrs["perm"])
    if composed == tuple(range(len(composed))):
        return x.inputs[0]
    return node("transpose", (x.inputs[0],), {"perm": composed}, v.trace)


@SIMPLIFY.register("transpose")
def transpose_dot(v: Variable) -> Variable | None:
    # (a b)^T -> b^T a^T: the product is then written contiguous, no strided consumer
    x = v.inputs[0]
    if x.op != "dot" or x.inputs[0].ndim != 2 or x.inputs[1].ndim != 2:
        return None
    a, b = x.inputs
    return _safe(v, node("dot", (node("transpose", (b,), {"perm": (1, 0)}, v.trace),
                                 node("transpose", (a,), {"perm": (1, 0)}, v.trace)), trace=v.trace))


@SIMPLIFY.register("sum_to")
def sum_to_identity(v: Variable) -> Variable | None:
    g, ref = v.inputs
    if g.shape == ref.shape and None not in g.shape and g.dtype == ref.dtype:
        return g
    return None


@SIMPLIFY.register("shape")
def static_shape(v: Variable) -> Variable | None:  # T.shape(x) of a statically known shape
    x = v.inputs[0]
    return const(np.array(x.shape, dtype=np.int64), np.int64) if None not in x.shape else None


@SIMPLIFY.register("cast")
def cast_identity(v: Variable) -> Variable | None:
    x = v.inputs[0]
    return x if x.dtype == v.dtype else None


def simplify(outputs: list[Variable]) -> list[Variable]:
    """Algebraic canonicalisation: identities (x+0, x*1, --x, double transpose, ...) and cheaper forms."""
    return rebuild(outputs, SIMPLIFY)


# ---------------------------------------------------------------- stabilisation

def _one_minus(v: Variable) -> Variable | None:
    """x if v is (1 - x) with a scalar constant 1, else None."""
    if v.op == "sub" and _is_scalar_const(v.inputs[0], 1.0):
        return v.inputs[1]
    return None


STABILIZE_BCE = RuleDB("stabilize_bce")
STABILIZE = RuleDB("stabilize")


@STABILIZE_BCE.register("neg")
def bce_on_sigmoid(v: Variable) -> Variable | None:
    # -(t*log(sigmoid(z)) + (1-t)*log(1-sigmoid(z)))  ->  softplus(z) - t*z
    if v.inputs[0].op != "add":
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


@STABILIZE.register("log")
def log_sigmoid(v: Variable) -> Variable | None:  # log(sigmoid(z)) -> -softplus(-z)
    x = v.inputs[0]
    if x.op != "sigmoid":
        return None
    tr = v.trace
    return node("neg", (node("softplus", (node("neg", (x.inputs[0],), trace=tr),), trace=tr),), trace=tr)


@STABILIZE.register("log")
def log_one_minus_sigmoid(v: Variable) -> Variable | None:  # log(1 - sigmoid(z)) -> -softplus(z)
    x = v.inputs[0]
    s = _one_minus(x)
    if s is None or s.op != "sigmoid" or x.shape != v.shape:
        return None
    return _safe(v, node("neg", (node("softplus", (s.inputs[0],), trace=v.trace),), trace=v.trace))


@STABILIZE.register("log")
def log_softmax_rule(v: Variable) -> Variable | None:  # log(softmax(z)) -> log_softmax(z)
    x = v.inputs[0]
    if x.op != "softmax":
        return None
    return _safe(v, node("log_softmax", (x.inputs[0],), dict(x.attrs), v.trace))


def stabilize(outputs: list[Variable]) -> list[Variable]:
    """Numerically stable forms: BCE on a sigmoid and log(sigmoid) become softplus forms, and
    log(softmax(z)) becomes log_softmax(z) (so the cross-entropy of a softmax is finite and its
    gradient is softmax(z) - onehot(y)).

    The whole-BCE rule runs first (it needs to see the log(sigmoid) nodes intact); it gives
    softplus(z) - t*z, whose gradient is exactly sigmoid(z) - t.
    """
    return rebuild(rebuild(outputs, STABILIZE_BCE), STABILIZE)


# ---------------------------------------------------------------- gradient-only ops in forward ops (export)

FORWARD_FORM = RuleDB("forward_form")


def _keep_axes(v: Variable, axis: tuple | None, ndim: int) -> Variable:
    """v (reduced over `axis` without keepdims) with those axes back as length 1; nothing to do
    when the reduced axes lead (numpy broadcasting aligns the trailing ones)."""
    axes = tuple(range(ndim)) if axis is None else axis
    if axes == tuple(range(len(axes))):
        return v
    it = iter(range(v.ndim))
    pattern = tuple("x" if i in axes else next(it) for i in range(ndim))
    return node("dimshuffle", (v,), {"pattern": pattern}, v.trace)


def _as_float(v: Variable, dt: np.dtype, tr: tuple) -> Variable:
    return node("cast", (v,), {"dtype": np.dtype(dt).name}, tr)


def _broadcast_like(v: Variable, ref: Variable, tr: tuple) -> Variable:
    """v broadcast to ref's shape, its bits unchanged: switch(eq(ref, ref), v, v) (either branch
    is v, so a nan in ref does not matter)."""
    return node("switch", (node("eq", (ref, ref), trace=tr), v, v), trace=tr)


@FORWARD_FORM.register("expand")
def expand_forward(v: Variable) -> Variable | None:  # g broadcast back to ref (divided by the count)
    g, ref = v.inputs
    tr = v.trace
    axis = v.attrs["axis"]
    gk = g if v.attrs["keepdims"] else _keep_axes(g, axis, ref.ndim)
    if v.attrs.get("mean"):
        ones = _broadcast_like(const(1.0, v.dtype), ref, tr)
        axes = tuple(range(ref.ndim)) if axis is None else axis
        gk = node("div", (gk, node("sum", (ones,), {"axis": axes, "keepdims": True}, tr)), trace=tr)
    if gk.dtype != v.dtype:
        gk = _as_float(gk, v.dtype, tr)
    return _safe(v, _broadcast_like(gk, ref, tr))


@FORWARD_FORM.register("sum_to")
def sum_to_forward(v: Variable) -> Variable | None:  # a sum over the broadcast axes
    g, ref = v.inputs
    lead = g.ndim - ref.ndim
    ones = tuple(lead + i for i, d in enumerate(ref.shape) if d == 1 and g.shape[lead + i] != 1)
    out = g
    if ones:
        out = node("sum", (out,), {"axis": ones, "keepdims": True}, v.trace)
    if lead:
        out = node("sum", (out,), {"axis": tuple(range(lead)), "keepdims": False}, v.trace)
    if out.dtype != v.dtype:
        out = _as_float(out, v.dtype, v.trace)
    return _safe(v, out)


@FORWARD_FORM.register("sigmoid_grad")
def sigmoid_grad_forward(v: Variable) -> Variable | None:  # (1 - s) * s * g, the kernel's order
    s, g = v.inputs
    tr = v.trace
    return _safe(v, node("mul", (node("mul", (node("sub", (const(1.0, s.dtype), s), trace=tr), s), trace=tr), g),
                         trace=tr))


@FORWARD_FORM.register("relu_grad")
def relu_grad_forward(v: Variable) -> Variable | None:  # g where a > 0, else 0
    a, g = v.inputs
    tr = v.trace
    return _safe(v, node("switch", (node("gt", (a, const(0, a.dtype)), trace=tr), g, const(0, g.dtype)), trace=tr))


_CMP_OPS = {"ge": "ge", "gt": "gt", "le": "le", "lt": "lt"}


@FORWARD_FORM.register("cmp")
def cmp_forward(v: Variable) -> Variable | None:  # 1.0 / 0.0 of a comparison
    return _safe(v, _as_float(node(_CMP_OPS[v.attrs["cmp"]], v.inputs, trace=v.trace), v.dtype, v.trace))


@FORWARD_FORM.register("clip_grad")
def clip_grad_forward(v: Variable) -> Variable | None:
    a, g = v.inputs
    tr = v.trace
    inside = node("and_", (node("ge", (a, const(v.attrs["lo"], a.dtype)), trace=tr),
                           node("le", (a, const(v.attrs["hi"], a.dtype)), trace=tr)), trace=tr)
    return _safe(v, node("switch", (inside, g, const(0, g.dtype)), trace=tr))


@FORWARD_FORM.register("max_grad")
def max_grad_forward(v: Variable) -> Variable | None:  # g routed to where a equals its maximum
    a, m, g = v.inputs
    tr = v.trace
    axis = v.attrs["axis"]
    mk = m if v.attrs["keepdims"] else _keep_axes(m, axis, a.ndim)
    gk = g if v.attrs["keepdims"] else _keep_axes(g, axis, a.ndim)
    return _safe(v, node("mul", (gk, _as_float(node("eq", (a, mk), trace=tr), v.dtype, tr)), trace=tr))


@FORWARD_FORM.register("outer")
def outer_forward(v: Variable) -> Variable | None:
    a, b = v.inputs
    tr = v.trace
    return _safe(v, node("mul", (node("dimshuffle", (a,), {"pattern": (0, "x")}, tr),
                                 node("dimshuffle", (b,), {"pattern": ("x", 0)}, tr)), trace=tr))


@FORWARD_FORM.register("log_softmax_grad")
def log_softmax_grad_forward(v: Variable) -> Variable | None:  # g - exp(n) * sum(g)
    n, g = v.inputs
    tr = v.trace
    total = node("sum", (g,), {"axis": (g.ndim - 1,), "keepdims": True}, tr)
    return _safe(v, node("sub", (g, node("mul", (node("exp", (n,), trace=tr), total), trace=tr)), trace=tr))


@FORWARD_FORM.register("zeros_like")
def zeros_like_forward(v: Variable) -> Variable | None:
    return _safe(v, _broadcast_like(const(0, v.dtype), v.inputs[0], v.trace))


@FORWARD_FORM.register("reshape_like")
def reshape_like_forward(v: Variable) -> Variable | None:
    g, ref = v.inputs
    if sum(d is None for d in ref.shape) > 1:
        return None
    shape = tuple(-1 if d is None else d for d in ref.shape)
    return _safe(v, node("reshape", (g,), {"shape": shape}, v.trace))


def forward_form(outputs: list[Variable]) -> list[Variable]:
    """Gradient graphs in forward ops only, where a gradient-only op has an exact forward form
    (expand, sum_to, sigmoid_grad, relu_grad, cmp, clip_grad, max_grad, outer, log_softmax_grad,
    zeros_like, reshape_like): for exporting a gradient graph (a saliency map). Training keeps
    the gradient-only kernels, which are faster."""
    return rebuild(outputs, FORWARD_FORM)


# ---------------------------------------------------------------- the inference form of training-only parts (export)

INFERENCE = RuleDB("inference")


def _is_keep_mask(m: Variable) -> bool:
    """binomial(size, p) / p: T.nnet.dropout's mask, whose expectation is 1."""
    if m.kind != "apply" or m.op != "div":
        return False
    draw, scale = m.inputs
    return (draw.kind == "apply" and draw.op == "random_binomial" and draw.attrs.get("n") == 1
            and _is_scalar_const(scale) and scale.value.reshape(()) == scale.dtype.type(draw.attrs["p"]))


@INFERENCE.register("mul")
def inverted_dropout(v: Variable) -> Variable | None:  # x * (binomial(p) / p) -> x
    a, b = v.inputs
    for x, m in ((a, b), (b, a)):
        if _is_keep_mask(m):
            return _safe(v, x)
    return None


def inference_form(outputs: list[Variable]) -> list[Variable]:
    """The inference graph of a training graph: inverted dropout (T.nnet.dropout) is the identity.
    Other random draws stay (the exporter refuses them)."""
    return rebuild(outputs, INFERENCE)


def for_export(outputs: list[Variable]) -> list[Variable]:
    """`optimize`, the inference form, the forward forms of gradient-only ops, `optimize` again."""
    return optimize(forward_form(inference_form(optimize(outputs))))


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
