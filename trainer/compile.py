"""`function(inputs, outputs, updates, givens)`: compile a graph to a flat schedule of numpy calls.

The graph is optimised once (trainer.rewrites). For each distinct set of input shapes a plan
is built once: concrete shapes, one kernel per node, one buffer per node allocated up front.
A call then only runs the kernels, which write into those buffers (`out=`). Updates are
computed from old values first and then applied together (Theano semantics); an update's
buffer is swapped with the shared variable's storage, so applying it copies nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trainer import kernels, ops, rewrites, sparse
from trainer.graph import GraphError, ShapeError, SharedVariable, Variable, constant, toposort


def _as_pairs(updates: Any) -> list[tuple[Variable, Any]]:
    if updates is None:
        return []
    if isinstance(updates, dict):
        return list(updates.items())
    return [tuple(u) for u in updates]


def substitute(roots: list[Variable], mapping: dict[int, Variable]) -> list[Variable]:
    """Copies of roots with some variables (by id) replaced; untouched subgraphs are reused."""
    new: dict[int, Variable] = {}
    for v in toposort(roots):
        if id(v) in mapping:
            new[id(v)] = mapping[id(v)]
        elif v.kind != "apply":
            new[id(v)] = v
        else:
            ins = tuple(new[id(i)] for i in v.inputs)
            same = all(a is b for a, b in zip(ins, v.inputs, strict=False))
            new[id(v)] = v if same else rewrites.node(v.op, ins, v.attrs, v.trace)
    return [new[id(r)] for r in roots]


_SHAPE_ONLY_OPERAND = {"sum_to": 1, "expand": 1, "reshape_like": 1, "zeros_like": 0}


class _Plan:
    __slots__ = ("steps", "bufs", "vals", "owner")

    def __init__(self, steps, bufs, vals, owner):
        self.steps, self.bufs, self.vals, self.owner = steps, bufs, vals, owner


class Function:
    """A compiled function; call it with numpy arrays for its inputs, in order."""

    def __init__(self, inputs: Sequence[Variable], outputs: Any, updates: Any = None, givens: Any = None,
                 name: str | None = None, sparse_inputs: str | bool = "auto") -> None:
        self.name = name
        self.inputs = list(inputs)
        for i, v in enumerate(self.inputs):
            if not isinstance(v, Variable) or v.kind != "input":
                raise GraphError(f"function: input {i} must be a symbolic input (T.matrix, ...), got {v!r}")
        if len({id(v) for v in self.inputs}) != len(self.inputs):
            raise GraphError("function: the same input is listed twice")
        self._single = isinstance(outputs, Variable)
        outs = [] if outputs is None else [outputs] if self._single else list(outputs)
        for o in outs:
            if not isinstance(o, Variable):
                raise GraphError(f"function: outputs must be Variables, got {type(o).__name__}")
        pairs = _as_pairs(updates)
        seen = set()
        upd_shared, upd_exprs = [], []
        for s, e in pairs:
            if not isinstance(s, SharedVariable):
                raise GraphError(f"function: an update target must be a shared variable, got {s!r}")
            if id(s) in seen:
                raise GraphError(f"function: shared variable {s.name or s!r} is updated twice")
            seen.add(id(s))
            e = e if isinstance(e, Variable) else constant(np.asarray(e, dtype=s.dtype))
            if e.dtype != s.dtype:
                raise GraphError(f"{e.trace[0]}:{e.trace[1]}: update of {s.name or 'shared'} has dtype "
                                 f"{e.dtype}, the shared variable is {s.dtype} "
                                 "(cast explicitly or use matching constants)")
            mismatch = any(a is not None and a != b for a, b in zip(e.shape, s.shape, strict=False))
            if e.ndim != s.ndim or mismatch:
                raise ShapeError(f"{e.trace[0]}:{e.trace[1]}: update of {s.name or 'shared'} has shape "
                                 f"{e.shape}, the shared variable has {s.shape}")
            upd_shared.append(s)
            upd_exprs.append(e)
        roots = outs + upd_exprs
        if givens:
            mapping = {}
            for old, rep in _as_pairs(givens):
                rep = rep if isinstance(rep, Variable) else constant(np.asarray(rep, dtype=old.dtype))
                if rep.ndim != old.ndim or rep.dtype != old.dtype:
                    raise GraphError(f"givens: replacement for {old!r} must have ndim {old.ndim} and dtype "
                                     f"{old.dtype}, got {rep!r}")
                mapping[id(old)] = rep
            roots = substitute(roots, mapping)
        roots = rewrites.optimize(roots) if roots else roots
        self.outputs = roots[:len(outs)]
        self._upd_shared = upd_shared
        self._upd_exprs = roots[len(outs):]
        order = toposort(roots)
        listed = {id(v) for v in self.inputs}
        for v in order:
            if v.kind == "input" and id(v) not in listed:
                raise GraphError(f"function: the graph needs input {v.name or v!r} which is not in the "
                                 f"inputs list (built at {v.trace[0]}:{v.trace[1]})")
        self._order = order
        self._slot = {id(v): k for k, v in enumerate(order)}
        # id -> number of nodes (and outputs) reading its values; operands used only for their
        # shape (the reference of sum_to/expand/...) do not count.
        self._consumers: dict[int, int] = {}
        for v in order:
            shape_only = _SHAPE_ONLY_OPERAND.get(v.op)
            for j, i in enumerate(v.inputs):
                if j != shape_only:
                    self._consumers[id(i)] = self._consumers.get(id(i), 0) + 1
        for v in roots:
            self._consumers[id(v)] = self._consumers.get(id(v), 0) + 1
        self._in_slots = [self._slot.get(id(v)) for v in self.inputs]
        self._shared = [v for v in order if v.kind == "shared"]
        self._shared_slots = [self._slot[id(v)] for v in self._shared]
        self._out_slots = [self._slot[id(v)] for v in self.outputs]
        self._upd_slots = [self._slot[id(v)] for v in self._upd_exprs]
        self._sparse_mode = sparse_inputs
        self._sparse_slots = self._find_sparse_candidates()
        self._ctx: dict[int, sparse.BinaryRows | None] = {}
        self._masks: dict[int, np.ndarray] = {}
        self._plans: dict[tuple, _Plan] = {}
        self.last_call_sparse = False

    # ------------------------------------------------------------------ planning
    def _find_sparse_candidates(self) -> set[int]:
        if self._sparse_mode is False:
            return set()
        cands = set()
        for v in self._order:
            if v.op == "dot" and v.inputs[0].ndim == 2 and v.inputs[1].ndim == 2:
                a = v.inputs[0]
                if a.op == "transpose":
                    a = a.inputs[0]
                if a.kind == "input":
                    cands.add(self._slot[id(a)])
        return cands

    def _sparse_kernel(self, v: Variable, dense):
        a = v.inputs[0]
        transposed = a.op == "transpose"
        xs = self._slot[id(a.inputs[0] if transposed else a)]
        if xs not in self._sparse_slots:
            return dense
        ctx = self._ctx

        def fn(out, a_val, b_val):
            s = ctx.get(xs)
            if s is None:
                return dense(out, a_val, b_val)
            return s.scatter_add(b_val, out) if transposed else s.gather_sum(b_val, out)
        return fn

    def _plan(self, shapes: dict[int, tuple]) -> _Plan:
        vals: list[Any] = [None] * len(self._order)
        bufs: list[np.ndarray | None] = []
        steps = []
        owner: dict[int, int] = {}  # slot -> buffer index that holds its value when the kernel writes out=
        conc: dict[int, tuple] = {}
        dot_fns: dict[int, Any] = {}  # slot -> planned dot kernel (dense or sparse), for fusions
        for k, v in enumerate(self._order):
            if v.kind == "constant":
                vals[k] = v.value
                conc[k] = v.value.shape
                continue
            if v.kind in ("input", "shared"):
                conc[k] = shapes[k]
                continue
            ins = [self._slot[id(i)] for i in v.inputs]
            try:
                shape, dtype = ops.infer(v.op, [conc[i] for i in ins], [i.dtype for i in v.inputs], v.attrs)
            except ops.OpShapeError as e:
                raise ShapeError(f"{v.trace[0]}:{v.trace[1]}: {v.op}: {e}") from None
            conc[k] = shape
            fused = None
            if v.op == "mul":
                fused = self._fuse_expand_mul(v, k, ins, conc)
            elif v.op == "add":
                fused = self._fuse_sigmoid_xent_grad(v, k, conc)
            elif v.op in ("mean", "sum"):
                fused = self._fuse_softplus_xent_loss(v, k, conc)
            elif v.op == "sub":
                fused = self._fuse_sgd_update(v, k, conc, dot_fns)
            if fused is not None:
                fn, ins = fused
                needs = True
            else:
                fn, needs = kernels.make(v.op, v.attrs, [conc[i] for i in ins], shape, dtype)
            if v.op == "dot":
                fn = dot_fns[k] = self._sparse_kernel(v, fn)
            bi = -1
            if needs:
                bi = len(bufs)
                bufs.append(np.empty(shape, dtype))
                owner[k] = bi
            steps.append((fn, bi, tuple(ins), k))
        for s, k in zip(self._upd_shared, self._upd_slots, strict=False):
            if conc[k] != s.value.shape:
                v = self._order[k]
                raise ShapeError(f"{v.trace[0]}:{v.trace[1]}: update of {s.name or 'shared'} has shape "
                                 f"{conc[k]}, the shared value has {s.value.shape}")
        # Drop steps nobody reads any more (e.g. an expand whose consumers were all fused).
        needed = set(self._out_slots) | set(self._upd_slots)
        kept = []
        for step in reversed(steps):
            if step[3] in needed:
                kept.append(step)
                needed.update(step[2])
            elif step[1] >= 0:
                bufs[step[1]] = None
                owner.pop(step[3], None)
        return _Plan(kept[::-1], bufs, vals, owner)

    def _strip_identity(self, src: Variable, conc: dict) -> Variable:
        """Follow sum_to nodes that are the identity at these concrete shapes."""
        while src.op == "sum_to" and conc[self._slot[id(src)]] == conc[self._slot[id(src.inputs[0])]] \
                and src.dtype == src.inputs[0].dtype:
            src = src.inputs[0]
        return src

    def _scaled_expand(self, src: Variable, oshape: tuple, conc: dict) -> tuple | None:
        """(g_slot, kshape, scale) if src is +-expand(g) (through identity sum_to) of full shape oshape.

        The value of src is then g.reshape(kshape) * scale broadcast to oshape.
        """
        sign = 1.0
        while True:
            src = self._strip_identity(src, conc)
            if src.op != "neg":
                break
            src, sign = src.inputs[0], -sign
        if src.op != "expand" or conc[self._slot[id(src)]] != oshape:
            return None
        axis = src.attrs["axis"]
        axes = tuple(range(len(oshape))) if axis is None else axis
        kshape = tuple(1 if i in axes else d for i, d in enumerate(oshape))
        scale = sign
        if src.attrs.get("mean"):
            scale /= max(int(np.prod([oshape[i] for i in axes], dtype=np.int64)), 1)
        return self._slot[id(src.inputs[0])], kshape, scale

    def _fuse_expand_mul(self, v: Variable, k: int, ins: list[int], conc: dict) -> tuple | None:
        """mul(y, expand(g)) -> y * (g * scale) with g broadcast, when the expand is full-size anyway.

        Follows identity sum_to and neg nodes (concrete shapes decide identity), so the
        gradient of a mean never materialises a full array of the same repeated value.
        """
        for side in (0, 1):
            se = self._scaled_expand(self._order[ins[side]], conc[k], conc)
            if se is None:
                continue
            g_slot, kshape, scale = se
            s = v.dtype.type(scale)

            def fn(out, g, y, kshape=kshape, s=s):
                return np.multiply(y, np.multiply(g.reshape(kshape), s), out=out)
            return fn, (g_slot, ins[1 - side])
        return None

    def _fuse_sigmoid_xent_grad(self, v: Variable, k: int, conc: dict) -> tuple | None:
        """add(mul(e, y1), mul(-e, y2)), e a full-size scalar expand -> (y1 - y2) * (g * scale).

        This is the gradient of mean(softplus(z) - t*z) w.r.t. z, (sigmoid(z) - t) / N, in one
        kernel instead of four passes. A sigmoid(z) operand read by nobody else is computed
        inline (0.5*tanh(0.5z)+0.5, as kernels.sigmoid_into), so it needs no buffer of its own.
        """
        oshape = conc[k]
        terms = []
        for src in v.inputs:
            m = self._strip_identity(src, conc)
            if m.op != "mul" or conc[self._slot[id(m)]] != oshape:
                return None
            for side in (0, 1):
                se = self._scaled_expand(m.inputs[side], oshape, conc)
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
        if y1.op == "sigmoid" and self._consumers[id(y1)] == 1 \
                and conc[self._slot[id(y1)]] == oshape and y1.inputs[0].dtype == v.dtype:
            half = dt(0.5 * s1)

            def fn_sig(out, g, z, t, half=half):
                # (sigmoid(z) - t) * g*s = (tanh(z/2) + 1 - t - t) * (g*s/2)
                np.multiply(z, dt(0.5), out=out)
                np.tanh(out, out=out)
                np.add(out, dt(1), out=out)
                np.subtract(out, t, out=out)
                np.subtract(out, t, out=out)
                return np.multiply(out, g.reshape(()) * half, out=out)
            return fn_sig, (g1, self._slot[id(y1.inputs[0])], self._slot[id(y2)])
        s = dt(s1)

        def fn(out, g, a, b, s=s):
            np.subtract(a, b, out=out)
            return np.multiply(out, g.reshape(()) * s, out=out)
        return fn, (g1, self._slot[id(y1)], self._slot[id(y2)])

    def _fuse_softplus_xent_loss(self, v: Variable, k: int, conc: dict) -> tuple | None:
        """mean(softplus(z) - t*z) over all axes (the stabilised BCE loss) in one kernel.

        softplus(z) - t*z = log1p(exp(-|z|)) + ((z > 0) - t) * z: both terms are >= 0 for t in
        [0, 1], so summing them apart cancels nothing, and the second sum is one BLAS dot: no
        max, product or difference array. Needs a softplus read by nothing else and operands
        of the full shape (no broadcasting); also for sum.
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
        shape = conc[self._slot[id(d)]]
        if self._consumers[id(a)] != 1 \
                or any(conc[self._slot[id(x)]] != shape or x.dtype != v.dtype for x in (a, z, t)):
            return None
        n = int(np.prod(shape, dtype=np.int64))
        dt = v.dtype.type
        scale = dt(1.0 if v.op == "sum" else 1.0 / n if n else np.nan)
        scratch = np.empty(shape, v.dtype)
        zero = dt(0)

        def fn(out, z, t):
            np.abs(z, out=scratch)
            np.negative(scratch, out=scratch)
            np.exp(scratch, out=scratch)
            np.log1p(scratch, out=scratch)
            total = np.add.reduce(scratch, axis=None)
            np.greater(z, zero, out=scratch)
            np.subtract(scratch, t, out=scratch)
            out[...] = (total + np.vdot(scratch, z)) * scale
            return out
        return fn, (self._slot[id(z)], self._slot[id(t)])

    def _fuse_sgd_update(self, v: Variable, k: int, conc: dict, dot_fns: dict) -> tuple | None:
        """w - c * (dot(a, b) [+ dot(p, q)]) -> w + dot(a, -c*b) [+ dot(p, -c*q)], c a scalar.

        The step size goes onto the smaller factor of each product (e.g. the (batch, hidden)
        side of a weight gradient), so the weight-sized arrays are passed over twice instead
        of three times (sum, scale, subtract). Only when every product has a factor smaller
        than the weight (small layers keep the plain form). Each product must be read by
        nothing else; it runs with its planned kernel (dense or sparse).
        """
        oshape = conc[k]
        w, m = v.inputs[0], self._strip_identity(v.inputs[1], conc)
        if m.op != "mul" or self._consumers[id(m)] != 1 or len(oshape) != 2:
            return None
        for side in (0, 1):
            c, g = m.inputs[side], self._strip_identity(m.inputs[1 - side], conc)
            if int(np.prod(conc[self._slot[id(c)]], dtype=np.int64)) == 1 and conc[self._slot[id(g)]] == oshape:
                break
        else:
            return None
        if g.op == "add" and self._consumers[id(g)] == 1:
            prods = [self._strip_identity(i, conc) for i in g.inputs]
        else:
            prods = [g]
        for p in prods:
            if p.op != "dot" or self._consumers[id(p)] != 1 or conc[self._slot[id(p)]] != oshape \
                    or self._slot[id(p)] not in dot_fns:
                return None
        if any(x.dtype != v.dtype for x in [w, c, m, g] + prods) or conc[self._slot[id(w)]] != oshape:
            return None
        plan = []  # per product: (kernel, scale the left factor?, scratch for the scaled factor)
        ins = [self._slot[id(w)], self._slot[id(c)]]
        for p in prods:
            a_s, b_s = (self._slot[id(i)] for i in p.inputs)
            na, nb = (int(np.prod(conc[i], dtype=np.int64)) for i in (a_s, b_s))
            if min(na, nb) >= int(np.prod(oshape, dtype=np.int64)):
                return None  # scaling a factor would cost more than scaling the product
            left = na < nb
            plan.append((dot_fns[self._slot[id(p)]], left, np.empty(conc[a_s if left else b_s], v.dtype)))
            ins += [a_s, b_s]
        tmp = np.empty(oshape, v.dtype) if len(prods) > 1 else None

        def fn(out, w, c, *ab):
            neg_c = -c.reshape(())
            for j, (dot, left, sc) in enumerate(plan):
                a, b = ab[2 * j], ab[2 * j + 1]
                if left:
                    a = np.multiply(a, neg_c, out=sc)
                else:
                    b = np.multiply(b, neg_c, out=sc)
                if j == 0:
                    dot(out, a, b)
                else:
                    np.add(out, dot(tmp, a, b), out=out)
            return np.add(out, w, out=out)
        return fn, tuple(ins)

    # ------------------------------------------------------------------ calling
    def _check_input(self, i: int, v: Variable, x: Any) -> np.ndarray:
        arr = np.asarray(x)
        label = v.name or f"input {i}"
        if arr.ndim != v.ndim:
            raise TypeError(f"{self._label()}: {label} must have rank {v.ndim}, "
                            f"got an array of shape {arr.shape}")
        for d, (want, got) in enumerate(zip(v.shape, arr.shape, strict=False)):
            if want is not None and want != got:
                raise ValueError(f"{self._label()}: {label} dim {d} must be {want}, "
                                 f"got {got} (shape {arr.shape})")
        if arr.dtype != v.dtype:
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{self._label()}: {label} must be numeric ({v.dtype}), got {arr.dtype}")
            if np.can_cast(arr.dtype, v.dtype, "safe"):
                arr = arr.astype(v.dtype)
            else:
                cast = arr.astype(v.dtype)
                if not np.array_equal(cast, arr, equal_nan=True):
                    raise TypeError(f"{self._label()}: {label} is {v.dtype}; the {arr.dtype} array "
                                    "given cannot be cast without losing precision "
                                    f"(convert it with .astype('{v.dtype}'))")
                arr = cast
        return arr

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "function"

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self._label()} takes {len(self.inputs)} input(s), got {len(args)}")
        arrays = [self._check_input(i, v, a) for i, (v, a) in enumerate(zip(self.inputs, args, strict=False))]
        key = tuple(a.shape for a in arrays) + tuple(s.value.shape for s in self._shared)
        plan = self._plans.get(key)
        if plan is None:
            shapes = {k: a.shape for k, a in zip(self._in_slots, arrays, strict=False) if k is not None}
            shapes.update({k: s.value.shape for k, s in zip(self._shared_slots, self._shared, strict=False)})
            plan = self._plans[key] = self._plan(shapes)
        vals, bufs = plan.vals, plan.bufs
        for k, a in zip(self._in_slots, arrays, strict=False):
            if k is not None:
                vals[k] = a
        for k, s in zip(self._shared_slots, self._shared, strict=False):
            vals[k] = s.value
        used_sparse = False
        for k in self._sparse_slots:
            scratch = self._masks.get(k)
            if scratch is None or scratch.shape != vals[k].shape:
                scratch = self._masks[k] = np.empty(vals[k].shape, bool)
            s = sparse.detect(vals[k], force=self._sparse_mode is True, scratch=scratch)
            self._ctx[k] = s
            used_sparse = used_sparse or s is not None
        self.last_call_sparse = used_sparse
        with np.errstate(all="ignore"):
            try:
                for fn, bi, ins, k in plan.steps:
                    buf = bufs[bi] if bi >= 0 else None
                    if len(ins) == 2:
                        vals[k] = fn(buf, vals[ins[0]], vals[ins[1]])
                    elif len(ins) == 1:
                        vals[k] = fn(buf, vals[ins[0]])
                    else:
                        vals[k] = fn(buf, *[vals[i] for i in ins])
            except (ValueError, IndexError) as e:
                v = self._order[k]
                raise ShapeError(f"{v.trace[0]}:{v.trace[1]}: {v.op} failed at run time: {e}") from None
        results = [np.array(vals[k], copy=True) for k in self._out_slots]
        self._apply_updates(plan)
        for k in self._in_slots:  # do not keep the caller's arrays alive
            if k is not None:
                vals[k] = None
        if self._single:
            return results[0]
        return results

    def _apply_updates(self, plan: _Plan) -> None:
        vals, bufs = plan.vals, plan.bufs
        new_values = [vals[k] for k in self._upd_slots]  # all computed before any is applied
        taken: set[int] = set()
        for s, k, new in zip(self._upd_shared, self._upd_slots, new_values, strict=False):
            bi = plan.owner.get(k, -1)
            if bi >= 0 and bufs[bi] is new and bi not in taken and new.flags.c_contiguous:
                taken.add(bi)
                bufs[bi] = s.value  # the old storage becomes the scratch buffer for next time
                s.value = new
            else:
                s.value = np.array(new, dtype=s.dtype, order="C", copy=True)


def function(inputs: Sequence[Variable], outputs: Any = None, updates: Any = None, givens: Any = None,
             name: str | None = None, sparse_inputs: str | bool = "auto") -> Function:
    """Compile `outputs` (a Variable or a list) of `inputs`, with Theano-style `updates`.

    updates: list of (shared, new_value_expression) pairs or a dict; every new value is
    computed from the old values, then all are assigned together. givens: pairs
    (variable, replacement Variable or array) substituted before compiling.
    sparse_inputs: "auto" (gather/scatter for 0/1 sparse inputs when faster), True (whenever
    the input is 0/1) or False (always dense).
    """
    return Function(inputs, outputs, updates, givens, name, sparse_inputs)
