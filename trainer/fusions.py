"""Plan-time fusions: small named passes that give one node a cheaper kernel at concrete shapes.

They run while `trainer.compile` plans a schedule, after the graph rewrites (`trainer.rewrites`),
because what they decide depends on concrete shapes and on how many nodes read a value. Each
pass tracks one or more ops; for a node with such an op it returns `(kernel, operand slots)`,
a kernel the executor calls as kernel(out, *values of those slots), or None to leave the node
to the next pass and finally to its registry kernel. Nodes a fused kernel no longer needs
(read by nobody else) are dropped from the schedule by the planner.

`PASSES` is the ordered list; the first pass that returns a kernel wins. The arithmetic the
passes share with the ops (sigmoid, softplus) is the registry's kernel code, not a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tessera.trainer import fused_native, opdef, sparse
from tessera.trainer.graph import Variable
from tessera.trainer.opdef import Kernel, reduced_axes
from tessera.trainer.ops.elementwise import softplus_tail_into, twice_sigmoid

# (kernel, operand slots) or (kernel, operand slots, needs a buffer): a kernel returning a value
# that is not an array of the node's shape (a sparse.RowPatch) needs none
Fused = tuple[Kernel, tuple[int, ...]] | tuple[Kernel, tuple[int, ...], bool]


@dataclass
class PlanSite:
    """What a pass may look at: the planned graph so far, with concrete shapes."""

    order: list[Variable]  # every variable, inputs before the nodes that read them
    slot: dict[int, int]  # id(variable) -> its index in order (its value slot)
    conc: dict[int, tuple]  # slot -> concrete shape (known for every node planned so far)
    consumers: dict[int, int]  # id(variable) -> nodes and outputs reading its value
    kernels: dict[int, Kernel]  # slot -> the kernel planned for it (dense or sparse, fused or not)
    sparse_slots: set[int]  # input slots that may run through the sparse path
    sparse_ctx: dict[int, sparse.BinaryRows | None]  # per call: input slot -> its sparse pattern, or None
    updates: dict[int, int] = field(default_factory=dict)  # slot of an update's value -> its shared's slot
    shared: dict = field(default_factory=dict)  # state passes share within one plan (BCEPair)

    def slot_of(self, v: Variable) -> int:
        return self.slot[id(v)]

    def shape(self, v: Variable) -> tuple:
        return self.conc[self.slot[id(v)]]

    def size(self, v: Variable) -> int:
        return int(np.prod(self.shape(v), dtype=np.int64))

    def sole_reader(self, v: Variable) -> bool:
        """Only one node reads v's value (so a fused kernel may skip computing it)."""
        return self.consumers[id(v)] == 1

    def strip_identity(self, v: Variable) -> Variable:
        """Follow sum_to nodes that are the identity at these concrete shapes."""
        while v.op == "sum_to" and self.shape(v) == self.shape(v.inputs[0]) and v.dtype == v.inputs[0].dtype:
            v = v.inputs[0]
        return v

    def scaled_expand(self, v: Variable, oshape: tuple) -> tuple | None:
        """(g_slot, kshape, scale) if v is +-expand(g) (through identity sum_to) of full shape oshape.

        The value of v is then g.reshape(kshape) * scale broadcast to oshape.
        """
        sign = 1.0
        while True:
            v = self.strip_identity(v)
            if v.op != "neg":
                break
            v, sign = v.inputs[0], -sign
        if v.op != "expand" or self.shape(v) != oshape:
            return None
        axes = reduced_axes(len(oshape), v.attrs["axis"])
        kshape = tuple(1 if i in axes else d for i, d in enumerate(oshape))
        scale = sign
        if v.attrs.get("mean"):
            scale /= max(int(np.prod([oshape[i] for i in axes], dtype=np.int64)), 1)
        return self.slot_of(v.inputs[0]), kshape, scale

    def registry_kernel(self, v: Variable) -> Kernel:
        return opdef.make_kernel(v.op, v.attrs, [self.shape(i) for i in v.inputs], self.shape(v), v.dtype)[0]


def expand_mul(v: Variable, site: PlanSite) -> Fused | None:
    """mul(y, expand(g)) -> y * (g * scale) with g broadcast, when the expand is full-size anyway.

    Follows identity sum_to and neg nodes (concrete shapes decide identity), so the
    gradient of a mean never materialises a full array of the same repeated value.
    """
    for side in (0, 1):
        se = site.scaled_expand(v.inputs[side], site.shape(v))
        if se is None:
            continue
        g_slot, kshape, scale = se
        s = v.dtype.type(scale)

        def fn(out, g, y, kshape=kshape, s=s):
            return np.multiply(y, np.multiply(g.reshape(kshape), s), out=out)
        return fn, (g_slot, site.slot_of(v.inputs[1 - side]))
    return None


def _row_bias(v: Variable, site: PlanSite) -> tuple[Variable, Variable] | None:
    """(m, b) if v is m + b (either order) with m of v's full shape and b one row broadcast over it
    (a layer's bias: shape (cols,), or with leading 1s, cols = m's last dim), float32 both. The
    native kernels add such a bias row by row as they read m: the add node's bits, no pass of its
    own."""
    if v.op != "add" or v.dtype != np.float32 or len(site.shape(v)) == 0:
        return None
    shape = site.shape(v)
    for side in (0, 1):
        m, b = v.inputs[side], v.inputs[1 - side]
        bs = site.shape(b)
        if (site.shape(m) == shape and m.dtype == b.dtype == v.dtype and len(bs) >= 1
                and bs[-1] == shape[-1] and all(d == 1 for d in bs[:-1])):
            return m, b
    return None


def bias_sigmoid(v: Variable, site: PlanSite) -> Fused | None:
    """sigmoid(m + b), b a row broadcast over m (a layer's bias): one native pass; m + b, read by
    nothing else, never gets a buffer."""
    fused = fused_native.native(v.dtype)
    a = v.inputs[0]
    if fused is None or not site.sole_reader(a):
        return None
    mb = _row_bias(a, site)
    if mb is None:
        return None
    native, plain = fused.sigmoid, site.registry_kernel(v)

    def fn(out, m, b):
        if native(m, out, b):
            return out
        np.add(m, b, out=out)
        return plain(out, out)  # the sigmoid kernels may run in place
    return fn, (site.slot_of(mb[0]), site.slot_of(mb[1]))


def _biased_logits(z: Variable, site: PlanSite) -> tuple[Variable, Variable] | None:
    """(m, b) when the BCE's logits z = m + b (a bias row) are read only by the loss and gradient
    passes (the softplus, t * z and the inline sigmoid): the native kernels then add the bias as
    they read m, and z needs no step of its own."""
    if fused_native.native(z.dtype) is None or site.consumers[id(z)] > 3:
        return None
    return _row_bias(z, site)


@dataclass
class BCEPair:
    """The BCE loss and gradient kernels of one (z, t) pair in one plan: when the loss runs first
    and the gradient's scale is a constant, the loss pass also writes the gradient (one exp per
    element for both) and the gradient's kernel returns it. `fresh`: written in this call."""

    grad: np.ndarray
    t_slot: int = -1  # the target's value slot
    loss_slot: int = -1  # the loss node's slot: its kernel runs before the nodes of larger slots
    c: float | None = None
    fresh: bool = False
    placed: bool = False  # grad is a view into a consumer's buffer (sgd_update's stacked operand)
    t_copy: np.ndarray | None = None  # where the loss kernel also copies t (the same stack), if any
    t_fresh: bool = False  # t_copy written in this call


def sigmoid_xent_grad(v: Variable, site: PlanSite) -> Fused | None:
    """add(mul(e, y1), mul(-e, y2)), e a full-size scalar expand -> (y1 - y2) * (g * scale).

    This is the gradient of mean(softplus(z) - t*z) w.r.t. z, (sigmoid(z) - t) / N, in one
    kernel instead of four passes. A sigmoid(z) operand read by nobody else is computed
    inline with the sigmoid op's own kernel code, so it needs no buffer of its own.
    """
    oshape = site.shape(v)
    terms = []
    for src in v.inputs:
        m = site.strip_identity(src)
        if m.op != "mul" or site.shape(m) != oshape:
            return None
        for side in (0, 1):
            se = site.scaled_expand(m.inputs[side], oshape)
            if se is not None and len(se[1]) == len(oshape) and all(d == 1 for d in se[1]):
                terms.append((se[0], se[2], m.inputs[1 - side]))
                break
        else:
            return None
    (g1, s1, y1), (g2, s2, y2) = terms
    if g1 != g2 or s1 != -s2 or s1 == 0.0:
        return None
    if s1 < 0:
        (s1, y1), (s2, y2) = (s2, y2), (s1, y1)
    if any(y.dtype != v.dtype for y in (y1, y2)):
        return None
    dt = v.dtype.type
    if y1.op == "sigmoid" and site.sole_reader(y1) and site.shape(y1) == oshape and y1.inputs[0].dtype == v.dtype:
        half = dt(0.5 * s1)
        twice = twice_sigmoid(v.dtype)

        def fn_sig(out, g, z, t, half=half):
            # (sigmoid(z) - t) * g*s = (2*sigmoid(z) - t - t) * (g*s/2)
            twice(z, out)
            np.subtract(out, t, out=out)
            np.subtract(out, t, out=out)
            return np.multiply(out, g.reshape(()) * half, out=out)
        z = y1.inputs[0]
        key = ("bce", site.slot_of(z), site.slot_of(y2))
        ins = (g1, site.slot_of(z), site.slot_of(y2))
        fused = fused_native.native(v.dtype)
        if fused is None:
            return fn_sig, ins
        biased = _biased_logits(z, site)
        if biased is not None:
            ins = (g1, site.slot_of(biased[0]), site.slot_of(y2), site.slot_of(biased[1]))
        bce_grad, scale = fused.bce_grad, dt(s1)

        def fn_native(out, g, z, t, b=None):  # one pass: (sigmoid(z + b) - t) * (g*s)
            if bce_grad(z, t, float(g.reshape(()) * scale), out, b):
                return out
            if b is not None:
                z = np.add(z, b, out=out)
            return fn_sig(out, g, z, t)
        pair = site.shared.get(key)
        g_var = site.order[g1]
        c = float(g_var.value.reshape(()) * scale) if g_var.kind == "constant" else None
        if (pair is None or c is None or pair.grad.shape != oshape or pair.c not in (None, c)
                or pair.loss_slot > site.slot_of(v)):
            # a second gradient of the pair with another scale computes its own; so does one the
            # schedule runs before the loss (it would read the previous call's)
            return fn_native, ins
        pair.c = c
        site.shared[("bce_grad", site.slot_of(v))] = pair  # consumers may place pair.grad (sgd_update)

        def fn_pair(out, g, z, t, b=None):  # the loss kernel computed it in this call
            if pair.fresh:
                pair.fresh = False
                return pair.grad
            return fn_native(pair.grad, g, z, t, b)
        return fn_pair, ins, False
    s = dt(s1)

    def fn(out, g, a, b, s=s):
        np.subtract(a, b, out=out)
        return np.multiply(out, g.reshape(()) * s, out=out)
    return fn, (g1, site.slot_of(y1), site.slot_of(y2))


def softplus_xent_loss(v: Variable, site: PlanSite) -> Fused | None:
    """mean(softplus(z) - t*z) over all axes (the stabilised BCE loss) in one kernel; also sum.

    softplus(z) - t*z = log1p(exp(-|z|)) + ((z > 0) - t) * z: both terms are >= 0 for t in
    [0, 1], so summing them apart cancels nothing, and the second sum is one BLAS dot: no
    max, product or difference array. Needs a softplus read by nothing else and operands
    of the full shape (no broadcasting).
    """
    if v.attrs["axis"] is not None or v.attrs["keepdims"]:
        return None
    d = v.inputs[0]
    if d.op != "sub" or d.inputs[0].op != "softplus" or d.inputs[1].op != "mul":
        return None
    a, (p, q) = d.inputs[0], d.inputs[1].inputs
    z = a.inputs[0]
    if q is not z and p is not z:
        return None
    t = p if q is z else q
    shape = site.shape(d)
    if not site.sole_reader(a) or any(site.shape(x) != shape or x.dtype != v.dtype for x in (a, z, t)):
        return None
    n = int(np.prod(shape, dtype=np.int64))
    dt = v.dtype.type
    scale = dt(1.0 if v.op == "sum" else 1.0 / n if n else np.nan)
    scratch = np.empty(shape, v.dtype)
    zero = dt(0)

    def fn(out, z, t):
        total = np.add.reduce(softplus_tail_into(z, scratch), axis=None)
        np.greater(z, zero, out=scratch)
        np.subtract(scratch, t, out=scratch)
        out[...] = (total + np.vdot(scratch, z)) * scale
        return out
    ins = (site.slot_of(z), site.slot_of(t))
    fused = fused_native.native(v.dtype)
    if fused is None:
        return fn, ins
    bce_sum, scale64 = fused.bce_sum, float(scale)
    pair = site.shared.setdefault(("bce", ins[0], ins[1]),
                                  BCEPair(np.empty(shape, v.dtype), ins[1], site.slot_of(v)))
    biased = _biased_logits(z, site)
    if biased is not None:
        ins = (site.slot_of(biased[0]), ins[1], site.slot_of(biased[1]))

    def fn_native(out, z, t, b=None):  # one pass, the terms summed in double lanes
        total = bce_sum(z, t, 0.0 if pair.c is None else pair.c, None if pair.c is None else pair.grad, b,
                        pair.t_copy)
        pair.fresh = total is not None and pair.c is not None
        pair.t_fresh = total is not None and pair.t_copy is not None
        if total is None:
            return fn(out, z if b is None else np.add(z, b), t)
        out[...] = total * scale64
        return out
    return fn_native, ins


def sgd_update(v: Variable, site: PlanSite) -> Fused | None:
    """w - c * (dot(a, b) [+ dot(p, q)]) in one step, c a scalar; each product runs with its
    planned kernel (dense or sparse) and must be read by nothing else.

    When every product has a factor smaller than the weight, the step size goes onto the smaller
    factor (e.g. the (batch, hidden) side of a weight gradient): w + dot(a, -c*b) [+ dot(p, -c*q)],
    so the weight-sized arrays are passed over fewer times (no scale pass). Otherwise (small
    layers) the graph's arithmetic: w - c * (dot + dot). With the native kernels, the sum of the
    two products, the scale and w are one pass (axpy_sum: w + a*(x + y), a = 1 or -c), the same
    bits as the numpy operations it replaces.
    """
    oshape = site.shape(v)
    w, m = v.inputs[0], site.strip_identity(v.inputs[1])
    if m.op != "mul" or not site.sole_reader(m) or len(oshape) != 2:
        return None
    for side in (0, 1):
        c, g = m.inputs[side], site.strip_identity(m.inputs[1 - side])
        if site.size(c) == 1 and site.shape(g) == oshape:
            break
    else:
        return None
    prods = [site.strip_identity(i) for i in g.inputs] if g.op == "add" and site.sole_reader(g) else [g]
    for p in prods:
        if p.op != "dot" or not site.sole_reader(p) or site.shape(p) != oshape or site.slot_of(p) not in site.kernels:
            return None
    if any(x.dtype != v.dtype for x in [w, c, m, g] + prods) or site.shape(w) != oshape:
        return None
    # scaling a factor must cost less than scaling the product
    scale = all(min(site.size(p.inputs[0]), site.size(p.inputs[1])) < site.size(v) for p in prods)
    fused = fused_native.native(v.dtype)
    axpy = fused.axpy_sum if fused is not None and len(prods) == 2 else None
    if not scale and axpy is None:
        return None  # one numpy kernel per node already
    plan = []  # per product: (kernel, scale the left factor?, scratch for the scaled factor or None)
    ins = [site.slot_of(w), site.slot_of(c)]
    for p in prods:
        a, b = p.inputs
        left = site.size(a) < site.size(b)
        sc = np.empty(site.shape(a if left else b), v.dtype) if scale else None
        plan.append((site.kernels[site.slot_of(p)], left, sc))
        ins += [site.slot_of(a), site.slot_of(b)]
    tmp = np.empty(oshape, v.dtype) if len(prods) > 1 else None
    stacked = _stacked_products(prods, plan, site, site.slot_of(v)) if scale else None

    def fn(out, w, c, *ab):
        if stacked is not None and stacked(out, w, c, *ab):
            return out
        cv = c.reshape(())
        neg_c = -cv
        for j, (dot, left, sc) in enumerate(plan):
            a, b = ab[2 * j], ab[2 * j + 1]
            if sc is not None:
                if left:
                    a = np.multiply(a, neg_c, out=sc)
                else:
                    b = np.multiply(b, neg_c, out=sc)
            if j == 0:
                dot(out, a, b)
            else:
                t = dot(tmp, a, b)
                if axpy is not None and axpy(w, out, t, 1.0 if scale else float(neg_c), out):
                    return out
                np.add(out, t, out=out)
        if not scale:
            np.multiply(cv, out, out=out)
            return np.subtract(w, out, out=out)
        return np.add(out, w, out=out)
    return fn, tuple(ins)


STACK_MIN = 1 << 16  # weights this large gain from one GEMM more than the copies cost


def _stacked_products(prods: list[Variable], plan: list, site: PlanSite, slot: int) -> Callable | None:
    """For sgd_update's w + (P1.T @ (-c Q1) + P2.T @ (-c Q2)) (a tied weight's two gradient
    products, P (k_i, m), Q (k_i, n)): one GEMM of inner size k1 + k2 over [P1; P2] and
    [-c Q1; -c Q2], which BLAS runs faster than two of the halves and a sum pass; the P are copied
    into the stack (the -c Q are written there by the scale passes anyway), but for a BCE
    gradient and its target, which the BCE kernels write there in their pass. For weights of at
    least STACK_MIN elements (smaller ones gain less than the copies cost). A kernel returning
    False when an operand runs its sparse kernel this call (the per-product path then runs)."""
    if len(prods) != 2 or any(left for _, left, _ in plan) or site.size(prods[0]) < STACK_MIN:
        return None
    ps = []
    for p in prods:
        t, q = p.inputs
        if t.op != "transpose" or t.attrs["perm"] != (1, 0) or q.ndim != 2 or t.inputs[0].ndim != 2:
            return None
        ps.append(t.inputs[0])
    k1, k2 = site.shape(ps[0])[0], site.shape(ps[1])[0]
    m, n = site.shape(prods[0])
    dt = prods[0].dtype
    stack_p, stack_q = np.empty((k1 + k2, m), dt), np.empty((k1 + k2, n), dt)
    halves = ((stack_p[:k1], stack_q[:k1]), (stack_p[k1:], stack_q[k1:]))
    placed = [False, False]  # per half: the BCE gradient, written there by its kernels
    copied: list[BCEPair | None] = [None, None]  # per half: the BCE target, copied there by the loss kernel
    for i, ((sp, _), p) in enumerate(zip(halves, ps, strict=True)):
        pair = site.shared.get(("bce_grad", site.slot_of(site.strip_identity(p))))
        if pair is not None and pair.grad.shape == sp.shape and not pair.placed:
            pair.grad, pair.placed = sp, True
            placed[i] = True
            other = halves[1 - i][0]
            if (pair.t_copy is None and site.slot_of(ps[1 - i]) == pair.t_slot and other.shape == sp.shape
                    and pair.loss_slot < slot):  # the loss kernel runs first in each call
                pair.t_copy, copied[1 - i] = other, pair
    sparse_inputs = [site.slot_of(p) for p in ps if site.slot_of(p) in site.sparse_slots]
    ctx = site.sparse_ctx

    def fn(out, w, c, a1, b1, a2, b2):
        if any(ctx.get(k) is not None for k in sparse_inputs):
            return False
        neg_c = -c.reshape(())
        for (sp, sq), a, b, here, pair in zip(halves, (a1, a2), (b1, b2), placed, copied, strict=True):
            if pair is not None and pair.t_fresh:
                pair.t_fresh = False  # the loss kernel copied it in this call
            elif not (here and a.base is stack_p):  # unless the BCE kernels wrote it there
                np.copyto(sp, a.T)
            np.multiply(b, neg_c, out=sq)
        np.matmul(stack_p.T, stack_q, out=out)
        np.add(out, w, out=out)
        return True
    return fn


def bias_update(v: Variable, site: PlanSite) -> Fused | None:
    """b - c * sum_to(G), c a scalar, G's leading axes summed onto the 1-D b (SGD on a layer's
    bias): one native pass over G (colsum_update: column sums in double, then b + (-c) * sum,
    which is b - c * sum), with no bias-gradient vector or step of its own."""
    fused = fused_native.native(v.dtype)
    oshape = site.shape(v)
    if fused is None or len(oshape) != 1 or site.shape(v.inputs[0]) != oshape or v.inputs[0].dtype != v.dtype:
        return None
    if not site.sole_reader(v.inputs[1]):
        return None
    cs = _scalar_times(v.inputs[1], site)
    if cs is None:
        return None
    c, s = cs
    if s.op != "sum_to" or not site.sole_reader(s):
        return None
    G = s.inputs[0]
    gshape = site.shape(G)
    if len(gshape) < 2 or gshape[-1] != oshape[0] or G.dtype != v.dtype:
        return None
    colsum, cols = fused.colsum_update, oshape[0]

    def fn(out, b, c_val, g):
        if colsum(b, g, -c_val.item(), out):
            return out
        total = np.add.reduce(g.reshape(-1, cols), axis=0)
        return np.subtract(b, np.multiply(c_val.reshape(()), total), out=out)
    return fn, (site.slot_of(v.inputs[0]), site.slot_of(c), site.slot_of(G))


def _row_sparse_term(s: Variable, site: PlanSite) -> tuple[Variable, bool, Variable | None] | None:
    """(G, squared, scale or None) if s is G, G*G, c*G or c*(G*G) (either operand order, through
    identity sum_to), G the scatter-add gradient of an embedding lookup W[idx] (one index tensor),
    c a scalar. Nodes between s and G that others read keep their dense steps for those readers
    (nesterov reads lr*G twice; when both readers are fused, nothing computes it densely)."""
    scale = None
    if s.op == "mul":
        for side in (0, 1):
            c, rest = s.inputs[side], site.strip_identity(s.inputs[1 - side])
            if site.size(c) == 1 and site.shape(rest) == site.shape(s) and c.dtype == s.dtype:
                if rest.op == "advanced_subtensor_grad" or (rest.op == "mul" and rest.inputs[0] is rest.inputs[1]):
                    scale, s = c, rest
                    break
    squared = False
    if s.op == "mul" and s.inputs[0] is s.inputs[1]:
        squared, s = True, site.strip_identity(s.inputs[0])
    if s.op != "advanced_subtensor_grad" or len(s.inputs) != 3 or s.inputs[1].ndim < 1:
        return None
    return s, squared, scale


def row_sparse_update(v: Variable, site: PlanSite) -> Fused | None:
    """a - T or a + T, T one of G, G*G, c*G, c*(G*G) for the gradient G of an embedding lookup
    W[idx] (the SGD, momentum and adam updates of an embedding table): T is zero outside the rows
    idx touches, so the result is `a` there. The rows' gradient is summed in a compact
    (distinct rows, width) array (trainer.sparse.summed_rows) and the dense G never exists:
    - `W - T` that is the update of W itself (SGD): a sparse.RowPatch, applied in place to the
      gathered rows only after all updates are computed;
    - otherwise (momentum's velocity, adam's moments): one pass copying `a`, then the rows.
    Bit for bit the dense result: outside the rows T is +0 (checked per call: c finite, sign bit
    clear, else the dense kernels run) and a - (+0), a + (+0) are computed as the dense path
    does (a + (+0) turns -0 into +0). Only when idx touches at most sparse.MAX_ROW_SHARE of W.
    """
    oshape = site.shape(v)
    for side in (1,) if v.op == "sub" else (1, 0):
        term = _row_sparse_term(site.strip_identity(v.inputs[side]), site)
        if term is not None:
            break
    else:
        return None
    a = v.inputs[1 - side]
    G, squared, c = term
    g, idx = G.inputs[0], G.inputs[2]
    if (site.shape(a) != oshape or site.shape(G) != oshape or any(x.dtype != v.dtype for x in (a, g, G))
            or site.size(idx) > sparse.MAX_ROW_SHARE * oshape[0]):
        return None
    dt, nrows = v.dtype, oshape[0]
    zero = dt.type(0)
    sub = v.op == "sub"
    op = np.subtract if sub else np.add
    in_place = (sub and a.kind == "shared" and site.consumers[id(v)] == 1
                and site.updates.get(site.slot_of(v)) == site.slot_of(a))
    scratch: list[np.ndarray] = []

    def dense(out, a_val, g_val, idx_val, c_val):
        # the graph's own arithmetic, for a scale whose product with 0 is not +0
        if not scratch:
            scratch.append(np.empty(oshape, dt))
        t = scratch[0]
        t.fill(0)
        np.add.at(t, idx_val, g_val)
        if squared:
            np.multiply(t, t, out=t)
        if c_val is not None:
            np.multiply(t, c_val.reshape(()), out=t)
        if out is None:
            return op(a_val, t)
        return op(a_val, t, out=out)

    def fn(out, a_val, g_val, idx_val, c_val=None):
        if c_val is not None:
            cv = c_val.reshape(())
            if not np.isfinite(cv) or np.signbit(cv):
                return dense(out, a_val, g_val, idx_val, c_val)
        rows, t = sparse.summed_rows(g_val, idx_val, nrows)
        if squared:
            np.multiply(t, t, out=t)
        if c_val is not None:
            np.multiply(t, cv, out=t)
        new_rows = op(a_val[rows], t, out=t)
        if out is None:
            return sparse.RowPatch(rows, new_rows)
        if sub:
            np.copyto(out, a_val)
        else:
            np.add(a_val, zero, out=out)
        out[rows] = new_rows
        return out
    ins = (site.slot_of(a), site.slot_of(g), site.slot_of(idx)) + ((site.slot_of(c),) if c is not None else ())
    return (fn, ins, False) if in_place else (fn, ins)


def _row_range(v: Variable, n: int, site: PlanSite) -> bool:
    """v is arange(0, n, 1): the row numbers of an n-row matrix."""
    if v.op != "arange" or site.shape(v) != (n,):
        return False
    start, step = v.inputs[0], v.inputs[2]
    return (start.kind == "constant" and step.kind == "constant"
            and start.value.item() == 0 and step.value.item() == 1)


def softmax_xent_grad(v: Variable, site: PlanSite) -> Fused | None:
    """log_softmax_grad(ls, G), G the gradient of the label pick ls[arange(n), y] (integer-label
    categorical cross-entropy): G is e at (r, y_r) and 0 elsewhere, so the gradient
    G - exp(ls) * rowsum(G) is -e * softmax(z) with e added at the labels: one exp, one scale,
    one indexed add instead of a zeros fill, a scatter-add, a row sum and three passes. e is
    the gradient of the picked values (a scalar broadcast for a mean or sum loss, read through
    the expand without building it). Same bits as the unfused kernels except the sign of a zero
    result.
    """
    ls, G = v.inputs[0], site.strip_identity(v.inputs[1])
    shape = site.shape(v)
    if (G.op != "advanced_subtensor_grad" or len(G.inputs) != 4 or len(shape) != 2
            or site.shape(G) != shape or not site.sole_reader(G) or G.dtype != v.dtype or ls.dtype != v.dtype):
        return None
    e, _, rows, y = G.inputs
    n = shape[0]
    if not _row_range(rows, n, site) or site.shape(y) != (n,):
        return None
    row_idx = np.arange(n)
    fused = fused_native.native(v.dtype)
    native = fused.softmax_xent_grad if fused is not None else None
    cols = shape[1]
    se = site.scaled_expand(e, (n,))
    if se is not None and all(d == 1 for d in se[1]):
        g_slot, _, scale = se
        s = v.dtype.type(scale)
        ev1 = np.empty(1, v.dtype)

        def fn_scalar(out, z, g, labels):
            ev = np.multiply(g.reshape(()), s)  # the expand's value, the same product
            if native is not None:
                ev1[0] = ev
                if native(z, ev1, labels if labels.dtype == np.int64 else labels.astype(np.int64), out, cols):
                    return out
            np.exp(z, out=out)
            np.multiply(out, -ev, out=out)
            out[row_idx, labels] += ev
            return out
        return fn_scalar, (site.slot_of(ls), g_slot, site.slot_of(y))
    col = (n, 1)

    def fn(out, z, ev, labels):
        if native is not None and native(z, ev, labels if labels.dtype == np.int64 else labels.astype(np.int64),
                                         out, cols):
            return out
        np.exp(z, out=out)
        np.multiply(out, np.negative(ev).reshape(col), out=out)
        out[row_idx, labels] += ev
        return out
    return fn, (site.slot_of(ls), site.slot_of(e), site.slot_of(y))


def _scalar_times(v: Variable, site: PlanSite) -> tuple[Variable, Variable] | None:
    """(c, y) if v (through identity sum_to) is c * y, c one value, y of v's full shape and dtype."""
    v = site.strip_identity(v)
    if v.op != "mul":
        return None
    for side in (0, 1):
        c, y = v.inputs[side], v.inputs[1 - side]
        if site.size(c) == 1 and site.shape(y) == site.shape(v) and c.dtype == y.dtype == v.dtype:
            return c, site.strip_identity(y)
    return None


def _adam_step(v: Variable, site: PlanSite, fused) -> Fused | None:
    """p - (c * m) / (sqrt(s) + eps), c and eps one value each: adam's parameter step."""
    p, d = v.inputs[0], site.strip_identity(v.inputs[1])
    if d.op != "div" or site.shape(d) != site.shape(v):
        return None
    num, q = site.strip_identity(d.inputs[0]), site.strip_identity(d.inputs[1])
    cm = _scalar_times(num, site)
    if cm is None or q.op != "add":
        return None
    for side in (0, 1):
        r, eps = site.strip_identity(q.inputs[side]), q.inputs[1 - side]
        if r.op == "sqrt" and site.size(eps) == 1 and eps.dtype == v.dtype and site.shape(r) == site.shape(v):
            break
    else:
        return None
    c, m = cm
    sq = r.inputs[0]
    if any(site.shape(x) != site.shape(v) or x.dtype != v.dtype for x in (p, m, sq)):
        return None
    step = fused.adam_step

    def fn(out, p_val, c_val, m_val, s_val, eps_val):
        if step(p_val, m_val, s_val, c_val.item(), eps_val.item(), out):
            return out
        t = np.add(np.sqrt(s_val), eps_val.reshape(()))
        return np.subtract(p_val, np.divide(np.multiply(m_val, c_val.reshape(())), t), out=out)
    return fn, tuple(site.slot_of(x) for x in (p, c, m, sq, eps))


def native_update(v: Variable, site: PlanSite) -> Fused | None:
    """The optimisers' elementwise updates as one native pass each (float32, full-size operands):
    x - c*y and x + c*y (SGD), a*x - b*y (momentum's velocity), a*x + b*y (adam's first moment),
    a*x + b*(y*y) (adam's second moment), p - c*m/(sqrt(s) + eps) (adam's step); c, a, b, eps
    one value each. The kernels perform the graph's operations in the graph's order, so the
    result has the same bits as the numpy kernels (a nan is the canonical quiet nan)."""
    fused = fused_native.native(v.dtype)
    oshape = site.shape(v)
    if fused is None or any(site.shape(i) != oshape or i.dtype != v.dtype for i in v.inputs):
        return None
    if v.op == "sub":
        r = _adam_step(v, site, fused)
        if r is not None:
            return r
    terms = [_scalar_times(i, site) for i in v.inputs]
    if terms[1] is None:
        if terms[0] is None:
            return None  # x +- y: one numpy pass already
        terms.reverse()
        left, (b, y) = site.strip_identity(v.inputs[1]), terms[1]
        neg_left, neg_right = v.op == "sub", False
    else:
        left, (b, y) = site.strip_identity(v.inputs[0]), terms[1]
        neg_left, neg_right = False, v.op == "sub"
    a, x = terms[0] if terms[0] is not None else (None, left)
    squared = a is not None and y.op == "mul" and y.inputs[0] is y.inputs[1] and site.shape(y) == oshape
    if squared:
        y = site.strip_identity(y.inputs[0])
    if site.shape(x) != oshape or site.shape(y) != oshape or x.dtype != v.dtype or y.dtype != v.dtype:
        return None
    kernel = fused.lincomb_sq if squared else fused.lincomb
    sub = v.op == "sub"

    def fn(out, x_val, y_val, b_val, a_val=None):
        av = 1.0 if a_val is None else a_val.item()
        bv = b_val.item()
        # -(c*y) is c*y negated exactly, and x + (-t) is x - t: the graph's bits
        if kernel(x_val, y_val, -av if neg_left else av, -bv if neg_right else bv, out):
            return out
        t = np.multiply(np.multiply(y_val, y_val) if squared else y_val, b_val.reshape(()))
        xa = x_val if a_val is None else np.multiply(x_val, a_val.reshape(()))
        if not sub:
            return np.add(xa, t, out=out)
        return np.subtract(t, xa, out=out) if neg_left else np.subtract(xa, t, out=out)
    ins = (site.slot_of(x), site.slot_of(y), site.slot_of(b)) + ((site.slot_of(a),) if a is not None else ())
    return fn, ins


def sparse_candidates(order: list[Variable], slot: dict[int, int]) -> set[int]:
    """Slots of inputs x feeding a 2-D dot(x, W) or dot(x.T, G): they may take the sparse path."""
    cands = set()
    for v in order:
        if v.op == "dot" and v.inputs[0].ndim == 2 and v.inputs[1].ndim == 2:
            a = v.inputs[0]
            if a.op == "transpose":
                a = a.inputs[0]
            if a.kind == "input":
                cands.add(slot[id(a)])
    return cands


def sparse_dot(v: Variable, site: PlanSite) -> Fused | None:
    """dot(x, W) as a gather-sum of W's rows, dot(x.T, G) as a scatter-add (trainer.sparse), when
    the call's x was found 0/1 and sparse enough; otherwise the dense kernel. Decided per call."""
    a = v.inputs[0]
    transposed = a.op == "transpose"
    xs = site.slot_of(a.inputs[0] if transposed else a)
    if xs not in site.sparse_slots:
        return None
    dense = site.registry_kernel(v)
    ctx = site.sparse_ctx

    def fn(out, a_val, b_val):
        s = ctx.get(xs)
        if s is None:
            return dense(out, a_val, b_val)
        return s.scatter_add(b_val, out) if transposed else s.gather_sum(b_val, out)
    return fn, tuple(site.slot_of(i) for i in v.inputs)


CONTIGUOUS_MAX = 1 << 14  # elements of a transposed weight worth a contiguous copy per call


def dot_contiguous(v: Variable, site: PlanSite) -> Fused | None:
    """dot(a, w.T) for a small 2-D w (the decoder of a small tied auto-encoder): w.T copied
    contiguous first, since BLAS multiplies a contiguous right operand faster than the transposed
    view by more than the copy of a weight that sits in cache costs (not so for large weights,
    whose copy passes through the outer caches: measured slower in the step at 784 x 256)."""
    a, t = v.inputs
    if (t.op != "transpose" or t.attrs["perm"] != (1, 0) or a.ndim != 2 or not site.sole_reader(t)
            or site.size(t) > CONTIGUOUS_MAX or site.slot_of(a) in site.sparse_slots
            or not a.dtype == t.dtype == v.dtype):
        return None
    scratch = np.empty(site.shape(t), v.dtype)

    def fn(out, a_val, w):
        np.copyto(scratch, w.T)
        return np.dot(a_val, scratch, out=out)
    return fn, (site.slot_of(a), site.slot_of(t.inputs[0]))


@dataclass(frozen=True)
class Fusion:
    name: str
    ops: tuple[str, ...]  # the node ops the pass tracks
    run: Callable[[Variable, PlanSite], Fused | None]


PASSES: list[Fusion] = [
    Fusion("expand_mul", ("mul",), expand_mul),
    Fusion("bias_sigmoid", ("sigmoid",), bias_sigmoid),
    Fusion("sigmoid_xent_grad", ("add",), sigmoid_xent_grad),
    Fusion("softplus_xent_loss", ("mean", "sum"), softplus_xent_loss),
    Fusion("softmax_xent_grad", ("log_softmax_grad",), softmax_xent_grad),
    Fusion("row_sparse_update", ("sub", "add"), row_sparse_update),
    Fusion("sgd_update", ("sub",), sgd_update),
    Fusion("bias_update", ("sub",), bias_update),
    Fusion("native_update", ("sub", "add"), native_update),
    Fusion("sparse_dot", ("dot",), sparse_dot),
    Fusion("dot_contiguous", ("dot",), dot_contiguous),
]


def fuse(v: Variable, site: PlanSite) -> Fused | None:
    """The first pass's fused kernel for node v, or None (then v runs its registry kernel)."""
    for f in PASSES:
        if v.op in f.ops:
            r = f.run(v, site)
            if r is not None:
                return r
    return None
