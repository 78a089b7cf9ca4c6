"""`function(inputs, outputs, updates, givens)`: compile a graph to a flat schedule of numpy calls.

The graph is optimised once (trainer.rewrites). For each distinct set of input shapes a plan
is built once: concrete shapes, one kernel per node, one buffer per node allocated up front.
Kernels come from the op registry (trainer.opdef), or from a plan-time fusion pass
(trainer.fusions) where one applies at these shapes.
A call then only runs the kernels, which write into those buffers (`out=`). Updates are
computed from old values first and then applied together (Theano semantics); an update's
buffer is swapped with the shared variable's storage, so applying it copies nothing.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from tessera.trainer import fused_native, fusions, opdef, rewrites, sparse
from tessera.trainer.graph import GraphError, ShapeError, SharedVariable, Variable, constant, toposort


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


class _Plan:
    """One schedule at concrete shapes. `steps`: (kernel, buffer index, operand slots, slot);
    `run`: the same with the operand count, for the call loop, whose buffer index -1 reads the
    None kept at the end of `bufs` (no branch for it). `updates`: (shared variable, slot, buffer
    index or -1); `shared_bufs`: two updates may share one buffer (then only the first takes it)."""

    __slots__ = ("steps", "run", "bufs", "vals", "owner", "guard", "scan", "sparse_limit", "updates", "shared_bufs",
                 "swaps")

    def __init__(self, steps, bufs, vals, owner):
        self.steps = steps
        self.run = [(fn, bi, ins, k, len(ins)) for fn, bi, ins, k in steps]
        self.bufs, self.vals, self.owner = bufs + [None], vals, owner
        self.guard: list[tuple[int, np.ndarray]] = []  # (float input index, zeros of its size)
        # native one-pass (all finite, nonzero count) of a float32 input, or None: the guard's BLAS dot
        self.scan: Any = None
        self.sparse_limit = 0.0  # sparse.max_density() when planned (the kernels are chosen then too)
        self.updates: list[tuple[SharedVariable, int, int]] = []
        self.shared_bufs = False
        self.swaps: list[tuple[SharedVariable, int, int]] | None = None  # updates if all are buffer swaps


_dot, _isfinite = np.dot, math.isfinite

ALIGN = 64  # bytes: a cache line, so a vector kernel's row loads never straddle two
# The live arrays _aligned_empty made, by id: telling them apart costs a dict lookup, where
# reading an array's address (`.ctypes.data`) costs about 1 us, 5% of a small step's updates.
_ALIGNED: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """np.empty, starting on a cache line (numpy aligns to 16 bytes): the plan's buffers, which
    become the shared values they update, are what the native kernels stream."""
    dtype = np.dtype(dtype)
    n = math.prod(shape) * dtype.itemsize
    raw = np.empty(n + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    a = raw[start:start + n].view(dtype).reshape(shape)
    _ALIGNED[id(a)] = a
    return a


def _recycled(old: np.ndarray) -> np.ndarray:
    """The scratch buffer for an update's next value once `old` is replaced: `old` itself when
    _aligned_empty made it, else (a caller's value) a new buffer, once, so that every later
    value is aligned too."""
    if _ALIGNED.get(id(old)) is old:
        return old
    return _aligned_empty(old.shape, old.dtype)


# numpy 2 keeps its floating-point error state in a context variable; setting it directly costs a
# fraction of np.errstate's ~2 us per call. Elsewhere (numpy 1.x), np.errstate.
try:
    from numpy._core._ufunc_config import _extobj_contextvar as _FP_STATE

    with np.errstate(all="ignore"):
        _FP_IGNORE = _FP_STATE.get()
except (ImportError, AttributeError):
    _FP_STATE = None


class _QuietFP:
    """numpy's floating-point warnings off inside `with` (the kernels handle nan and inf)."""

    __slots__ = ("token",)

    def __enter__(self) -> None:
        self.token = _FP_STATE.set(_FP_IGNORE)

    def __exit__(self, *exc: object) -> None:
        _FP_STATE.reset(self.token)


def _quiet_fp() -> Any:
    return _QuietFP() if _FP_STATE is not None else np.errstate(all="ignore")


class NonFiniteInputError(ValueError):
    """A compiled function was called with nan or inf in a float input (the NaN guard)."""


_MODES = ("FAST_RUN", "FAST_COMPILE", "DebugMode", "DEBUG_MODE", "NanGuardMode", "Mode")


def _mode_nan_guard(mode: Any, nan_guard: bool) -> bool:
    """Theano's mode= is accepted: every mode runs the same schedule here; NanGuardMode turns the
    input check on (it is on by default anyway)."""
    if mode is None or not isinstance(mode, str):
        name = type(mode).__name__ if mode is not None else None
        return nan_guard or name == "NanGuardMode"
    if mode not in _MODES:
        raise ValueError(f"function: unknown mode {mode!r} (Theano's names are accepted: {', '.join(_MODES)})")
    return nan_guard or mode == "NanGuardMode"


class Function:
    """A compiled function; call it with numpy arrays for its inputs, in order."""

    def __init__(self, inputs: Sequence[Variable], outputs: Any, updates: Any = None, givens: Any = None,
                 name: str | None = None, sparse_inputs: str | bool = "auto", *,
                 allow_input_downcast: bool | None = None, on_unused_input: str | None = None,
                 mode: Any = None, nan_guard: bool = True) -> None:
        self.name = name
        if allow_input_downcast not in (None, True, False):
            raise ValueError("function: allow_input_downcast must be None, True or False")
        self._downcast = allow_input_downcast
        on_unused_input = on_unused_input or "raise"
        if on_unused_input not in ("raise", "warn", "ignore"):
            raise ValueError("function: on_unused_input must be 'raise', 'warn' or 'ignore'")
        self.nan_guard = _mode_nan_guard(mode, nan_guard)
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
            shape_only = opdef.get(v.op).shape_operands if v.kind == "apply" else ()
            for j, i in enumerate(v.inputs):
                if j not in shape_only:
                    self._consumers[id(i)] = self._consumers.get(id(i), 0) + 1
        for v in roots:
            self._consumers[id(v)] = self._consumers.get(id(v), 0) + 1
        self._in_slots = [self._slot.get(id(v)) for v in self.inputs]
        self._input_of_slot = {k: i for i, k in enumerate(self._in_slots) if k is not None}
        self._in_slot_index = list(self._input_of_slot.items())  # (slot, input index) of inputs read
        unused = [v.name or f"input {i}" for i, (v, k) in enumerate(zip(self.inputs, self._in_slots, strict=True))
                  if k is None]
        if unused and on_unused_input != "ignore":
            msg = (f"function: {', '.join(unused)} is not used to compute the outputs or updates "
                   "(pass on_unused_input='ignore' or 'warn' to allow it, as in Theano)")
            if on_unused_input == "raise":
                raise GraphError(msg)
            warnings.warn(msg, stacklevel=3)
        self._float_inputs = [i for i, v in enumerate(self.inputs) if v.dtype.kind == "f"]
        # per input: (dtype, rank, (dim, size) of each fixed dim), for the call's fast check
        self._in_specs = [(v.dtype, v.ndim, tuple((d, n) for d, n in enumerate(v.shape) if n is not None))
                          for v in self.inputs]
        self._used_in_slots = [k for k in self._in_slots if k is not None]
        self._shared = [v for v in order if v.kind == "shared"]
        self._shared_slots = [self._slot[id(v)] for v in self._shared]
        self._shared_pairs = list(zip(self._shared_slots, self._shared, strict=True))
        self._out_slots = [self._slot[id(v)] for v in self.outputs]
        self._upd_slots = [self._slot[id(v)] for v in self._upd_exprs]
        self._sparse_mode = sparse_inputs
        self._sparse_slots = set() if sparse_inputs is False else fusions.sparse_candidates(order, self._slot)
        self._ctx: dict[int, sparse.BinaryRows | None] = {}
        self._patterns: dict[int, sparse.PatternBuffers] = {}  # per sparse input: its patterns' scratch
        self._plans: dict[tuple, _Plan] = {}
        self._setup_dynamic()
        self.last_call_sparse = False

    # ------------------------------------------------------------------ value-dependent shapes
    def _setup_dynamic(self) -> None:
        """Find the value operands (of arange, random sizes, dynamic_slice) that depend on the
        values of inputs or shared variables, not only on shapes. Only dynamic_slice may have
        them: its bounds are computed per call by a small compiled function, and the plan is
        chosen by the resulting slice lengths (so a data set sliced by a symbolic index uses one
        plan per batch size, not one per index)."""
        static: dict[int, bool] = {}
        for v in self._order:
            if v.kind == "constant":
                static[id(v)] = True
            elif v.kind != "apply":
                static[id(v)] = False
            else:
                static[id(v)] = v.op == "shape" or all(static[id(i)] for i in v.inputs)
        self._dyn_nodes: list[Variable] = []
        bounds: list[Variable] = []
        for v in self._order:
            if v.kind != "apply":
                continue
            dyn = [j for j in opdef.get(v.op).value_operands if not static[id(v.inputs[j])]]
            if not dyn:
                continue
            if v.op != "dynamic_slice":
                raise GraphError(f"{v.trace[0]}:{v.trace[1]}: {v.op}: its size must follow from shapes and "
                                 "constants, not from the values of inputs")
            data = v.inputs[0]
            if data.kind == "apply" and data.shape[0] is None:
                raise GraphError(f"{v.trace[0]}:{v.trace[1]}: a symbolic slice needs the length of what it "
                                 "slices to be known before the call: slice an input or a shared variable")
            self._dyn_nodes.append(v)
            bounds += [v.inputs[1], v.inputs[2]]
        self._bounds_fn = None
        if bounds:
            self._bounds_fn = Function(self.inputs, bounds, on_unused_input="ignore", nan_guard=False)
            self._bounds_slots = [self._slot[id(b)] for b in bounds]

    def _dyn_key(self, arrays: list[np.ndarray]) -> tuple[tuple, list]:
        """The slice lengths this call's bounds give, and the bounds' values."""
        values = self._bounds_fn(*arrays)
        lengths = []
        pos = {id(v): i for i, v in enumerate(self.inputs)}
        for n, v in enumerate(self._dyn_nodes):
            data = v.inputs[0]
            if data.kind == "input":
                d = arrays[pos[id(data)]].shape[0]
            elif data.kind in ("shared", "constant"):
                d = data.value.shape[0]
            else:
                d = data.shape[0]
            lo, hi, _ = slice(int(values[2 * n]), int(values[2 * n + 1])).indices(d)
            lengths.append(max(hi - lo, 0))
        return tuple(lengths), values

    # ------------------------------------------------------------------ planning
    def _plan(self, shapes: dict[int, tuple], dyn_values: list | None = None) -> _Plan:
        vals: list[Any] = [None] * len(self._order)
        bufs: list[np.ndarray | None] = []
        steps = []
        owner: dict[int, int] = {}  # slot -> buffer index that holds its value when the kernel writes out=
        conc: dict[int, tuple] = {}
        planned: dict[int, Any] = {}  # slot -> its kernel, for fusions that reuse planned kernels
        site = fusions.PlanSite(self._order, self._slot, conc, self._consumers, planned,
                                self._sparse_slots, self._ctx,
                                dict(zip(self._upd_slots, (self._slot.get(id(s), -1) for s in self._upd_shared),
                                         strict=True)))
        known: dict[int, np.ndarray] = {}  # slot -> value known at plan time (shapes and what follows)
        alias: dict[int, int] = {}  # slot of a node that is the identity here -> the slot holding its value
        results = set(self._out_slots) | set(self._upd_slots)
        if dyn_values is not None:  # this call's slice bounds (any bounds of the same lengths plan alike)
            known.update(zip(self._bounds_slots, dyn_values, strict=True))
        for k, v in enumerate(self._order):
            if v.kind == "constant":
                vals[k] = v.value
                conc[k] = v.value.shape
                known[k] = v.value
                continue
            if v.kind in ("input", "shared"):
                conc[k] = shapes[k]
                continue
            ins = [self._slot[id(i)] for i in v.inputs]
            row = opdef.get(v.op)
            try:
                shape, dtype = opdef.infer(v.op, [conc[i] for i in ins], [i.dtype for i in v.inputs], v.attrs,
                                           [known.get(i) for i in ins] if row.value_operands else None)
            except opdef.OpShapeError as e:
                raise ShapeError(f"{v.trace[0]}:{v.trace[1]}: {v.op}: {e}") from None
            conc[k] = shape
            if v.op == "shape":
                known[k] = np.array(conc[ins[0]], dtype=np.int64)
            elif (row.fold and v.dtype.kind in "iu" and len(shape) <= 1 and ins
                  and all(i in known for i in ins)):
                known[k] = opdef.evaluate(v.op, v.attrs, [known[i] for i in ins], shape, dtype)
            if k in known and dyn_values is None:
                # follows from shapes and constants (T.shape(x)[0], arange(n)): computed once here
                value = known[k]
                fn, ins = (lambda out, value=value: value), []
                planned[k] = fn
                steps.append((fn, -1, (), k))
                continue
            if (v.op == "sum_to" and shape == conc[ins[0]] and dtype == v.inputs[0].dtype
                    and k not in results):
                alias[k] = alias.get(ins[0], ins[0])  # the identity at these shapes: no step, its input's value
                continue
            fused = fusions.fuse(v, site)
            if fused is not None:
                fn, ins = fused[0], fused[1]
                needs = fused[2] if len(fused) == 3 else True
            else:
                fn, needs = opdef.make_kernel(v.op, v.attrs, [conc[i] for i in ins], shape, dtype)
            planned[k] = fn
            bi = -1
            if needs:
                bi = len(bufs)
                bufs.append(_aligned_empty(shape, dtype))
                owner[k] = bi
            steps.append((fn, bi, tuple(ins), k))
        for s, k in zip(self._upd_shared, self._upd_slots, strict=False):
            if conc[k] != s.value.shape:
                v = self._order[k]
                raise ShapeError(f"{v.trace[0]}:{v.trace[1]}: update of {s.name or 'shared'} has shape "
                                 f"{conc[k]}, the shared value has {s.value.shape}")
        steps = [(fn, bi, tuple(alias.get(i, i) for i in ins), k) for fn, bi, ins, k in steps]
        # Drop steps nobody reads any more (e.g. an expand whose consumers were all fused).
        needed = set(results)
        kept = []
        for step in reversed(steps):
            if step[3] in needed:
                kept.append(step)
                needed.update(step[2])
            elif step[1] >= 0:
                bufs[step[1]] = None
                owner.pop(step[3], None)
        return _Plan(kept[::-1], bufs, vals, owner)

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
            if np.can_cast(arr.dtype, v.dtype, "safe") or self._downcast:
                arr = arr.astype(v.dtype)
            elif (self._downcast is None and not isinstance(x, np.ndarray | np.generic)
                  and arr.dtype.kind == "f" and v.dtype.kind == "f"):
                arr = arr.astype(v.dtype)  # python floats become the input's float dtype (Theano)
            else:
                cast = arr.astype(v.dtype)
                if self._downcast is False or not np.array_equal(cast, arr, equal_nan=True):
                    why = ("only safe casts are allowed (allow_input_downcast=False)" if self._downcast is False
                           else "it cannot be cast without losing precision")
                    raise TypeError(f"{self._label()}: {label} is {v.dtype}; the {arr.dtype} data given is "
                                    f"refused: {why}; convert it with .astype('{v.dtype}') or pass "
                                    "allow_input_downcast=True")
                arr = cast
        return arr

    def _refuse(self, i: int, a: np.ndarray) -> None:
        bad = np.argwhere(~np.isfinite(a))
        if len(bad):
            idx = tuple(int(j) for j in bad[0]) if a.ndim else ()
            v = self.inputs[i]
            where = f"row {idx[0]} (first bad element at index {idx})" if idx else "its value"
            raise NonFiniteInputError(
                f"{self._label()}: input {v.name or i!r} holds {a[idx]} at {where}; compiled functions "
                "refuse non-finite data, which would turn every weight into nan "
                "(clean the data, or pass nan_guard=False to function() to skip this check)")

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "function"

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self._label()} takes {len(self.inputs)} input(s), got {len(args)}")
        # an ndarray of the input's dtype and rank with its fixed dims needs no conversion
        arrays = [a if a.__class__ is np.ndarray and a.dtype == dt and a.ndim == nd
                  and (not fixed or all(a.shape[d] == n for d, n in fixed)) else self._check_input(i, v, a)
                  for i, (v, a, (dt, nd, fixed)) in enumerate(zip(self.inputs, args, self._in_specs, strict=False))]
        key = tuple([a.shape for a in arrays] + [s.value.shape for s in self._shared])
        dyn_values = None
        if self._bounds_fn is not None:
            lengths, dyn_values = self._dyn_key(arrays)
            key += lengths
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._new_plan(arrays, dyn_values)
        vals, bufs = plan.vals, plan.bufs
        for k, i in self._in_slot_index:
            vals[k] = arrays[i]
        for k, s in self._shared_pairs:
            vals[k] = s.value
        nonzeros: dict[int, int] = {}  # input index -> its nonzero count, where the guard's scan found it
        with _quiet_fp():
            if self.nan_guard:
                scan = plan.scan
                for i, z in plan.guard:
                    a = arrays[i]
                    found = scan(a) if scan is not None else None
                    if found is not None:
                        if not found[0]:
                            self._refuse(i, a)
                        nonzeros[i] = found[1]
                    elif not _isfinite(_dot(a.ravel(), z)):
                        self._refuse(i, a)
            if self._sparse_slots:
                self._detect_sparse(vals, nonzeros, plan.sparse_limit)
            try:
                for fn, bi, ins, k, n in plan.run:
                    if n == 2:
                        vals[k] = fn(bufs[bi], vals[ins[0]], vals[ins[1]])
                    elif n == 1:
                        vals[k] = fn(bufs[bi], vals[ins[0]])
                    else:
                        vals[k] = fn(bufs[bi], *[vals[i] for i in ins])
            except (ValueError, IndexError) as e:
                v = self._order[k]
                raise ShapeError(f"{v.trace[0]}:{v.trace[1]}: {v.op} failed at run time: {e}") from None
        results = [v.copy() if (v := vals[k]).__class__ is np.ndarray else np.array(v, copy=True)
                   for k in self._out_slots]
        if plan.swaps is not None:
            for s, k, bi in plan.swaps:  # all new values are computed: swap each into its shared
                new = vals[k]
                if bufs[bi] is new:
                    bufs[bi] = _recycled(s.value)  # the old storage: the scratch buffer for next time
                    s.value = new
                else:
                    s.value = np.array(new, dtype=s.dtype, order="C", copy=True)
        elif plan.updates:
            self._apply_updates(plan)
        for k in self._used_in_slots:  # do not keep the caller's arrays alive
            vals[k] = None
        if self._single:
            return results[0]
        return results

    def _in_pairs(self, arrays: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
        """(slot, array) of the inputs the graph reads."""
        return [(k, a) for k, a in zip(self._in_slots, arrays, strict=False) if k is not None]

    def _new_plan(self, arrays: list[np.ndarray], dyn_values: list | None) -> _Plan:
        shapes = {k: a.shape for k, a in self._in_pairs(arrays)}
        shapes.update({k: s.value.shape for k, s in self._shared_pairs})
        plan = self._plan(shapes, dyn_values)
        plan.guard = [(i, np.zeros(arrays[i].size, arrays[i].dtype)) for i in self._float_inputs]
        fused = fused_native.native(np.dtype(np.float32))
        plan.scan = fused.scan if fused is not None else None
        plan.sparse_limit = sparse.max_density()
        plan.updates = [(s, k, plan.owner.get(k, -1)) for s, k in zip(self._upd_shared, self._upd_slots, strict=True)]
        owned = [bi for _, _, bi in plan.updates if bi >= 0]
        plan.shared_bufs = len(set(owned)) != len(owned)
        if not plan.shared_bufs and len(owned) == len(plan.updates):
            plan.swaps = plan.updates  # every update has a buffer of its own (no row patches)
        return plan

    def _detect_sparse(self, vals: list[Any], nonzeros: dict[int, int], limit: float) -> None:
        """Decide per sparse-candidate input whether this call takes the sparse path. An input the
        guard's scan counted denser than `limit` (sparse.max_density()) takes the dense path
        without a test."""
        used_sparse = False
        for k in self._sparse_slots:
            nnz = nonzeros.get(self._input_of_slot[k])
            if nnz is not None and self._sparse_mode is not True and nnz > limit * vals[k].size:
                self._ctx[k] = None
                continue
            buffers = self._patterns.get(k)
            if buffers is None:
                buffers = self._patterns[k] = sparse.PatternBuffers()
            s = sparse.detect(vals[k], force=self._sparse_mode is True, nnz=nnz, buffers=buffers)
            self._ctx[k] = s
            used_sparse = used_sparse or s is not None
        self.last_call_sparse = used_sparse

    def _apply_updates(self, plan: _Plan) -> None:
        vals, bufs = plan.vals, plan.bufs
        new_values = [vals[k] for _, k, _ in plan.updates]  # all computed before any is applied
        taken: set[int] = set()
        patches = []
        for (s, _, bi), new in zip(plan.updates, new_values, strict=True):
            if isinstance(new, sparse.RowPatch):
                patches.append((s, new))
                continue
            if bi >= 0 and bufs[bi] is new and new.flags.c_contiguous and not (plan.shared_bufs and bi in taken):
                if plan.shared_bufs:
                    taken.add(bi)
                bufs[bi] = _recycled(s.value)  # the old storage: the scratch buffer for next time
                s.value = new
            else:
                s.value = np.array(new, dtype=s.dtype, order="C", copy=True)
        for s, patch in patches:  # in place, after every other update has read the old values
            if not s.value.flags.writeable:
                s.value = s.value.copy()
            patch.apply(s.value)


def function(inputs: Sequence[Variable], outputs: Any = None, updates: Any = None, givens: Any = None,
             name: str | None = None, sparse_inputs: str | bool = "auto", *, mode: Any = None,
             allow_input_downcast: bool | None = None, on_unused_input: str | None = None,
             nan_guard: bool = True, **theano_kwargs: Any) -> Function:
    """Compile `outputs` (a Variable or a list) of `inputs`, with Theano-style `updates`.

    updates: list of (shared, new_value_expression) pairs or a dict; every new value is
    computed from the old values, then all are assigned together. givens: pairs
    (variable, replacement Variable or array) substituted before compiling.
    sparse_inputs: "auto" (gather/scatter for 0/1 sparse inputs when faster), True (whenever
    the input is 0/1) or False (always dense).

    As Theano's: allow_input_downcast (None: safe casts, python floats, and casts that keep
    every value; True: any cast; False: safe casts only), on_unused_input ("raise" by default,
    "warn", "ignore"), mode (accepted; every mode runs the same schedule), and Theano's
    `no_default_updates`/`profile`/`accept_inplace` are accepted and ignored.
    nan_guard: refuse nan/inf in float inputs, naming the input and the first bad row.
    """
    unknown = set(theano_kwargs) - {"no_default_updates", "profile", "accept_inplace", "rebuild_strict"}
    if unknown:
        raise TypeError(f"function() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    return Function(inputs, outputs, updates, givens, name, sparse_inputs, mode=mode,
                    allow_input_downcast=allow_input_downcast, on_unused_input=on_unused_input,
                    nan_guard=nan_guard)
