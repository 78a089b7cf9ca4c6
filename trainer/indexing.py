"""`x[key]` on symbolic variables, and `T.set_subtensor` / `T.inc_subtensor`.

Supported keys (numpy semantics):
- basic: python ints (negative count from the end) and slices with python-int bounds and steps,
  one per leading axis, and `...`: the `subtensor` op (a view);
- advanced: integer tensors (symbolic, or int lists/arrays) on the leading axes, with full
  slices after them: `W[idx]` (an embedding lookup), `p[T.arange(n), y]`, `x[i]` with a
  symbolic scalar `i`; or one integer tensor after full slices (`x[:, idx]`). These are the
  `advanced_subtensor` op; its gradient is a scatter-add.
- a slice with symbolic bounds on the first axis, step 1 (`data[index * bs:(index + 1) * bs]`,
  the tutorials' givens): the `dynamic_slice` op, a view; plans are made per slice length.
Bool masks are not supported (the error says so).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera.trainer.graph import DTypeError, GraphError, Variable, _where, apply, as_variable


def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _slice_part(p: Any) -> int | None:
    if p is None or _is_int(p):
        return None if p is None else int(p)
    raise GraphError(f"{_where()}: slice bounds must be python ints, got {type(p).__name__}")


def _is_advanced(k: Any) -> bool:
    return isinstance(k, (Variable, list, np.ndarray))


def _index_tensor(k: Any) -> Variable:
    v = as_variable(np.asarray(k) if isinstance(k, list) else k)
    if v.dtype.kind not in "iu":
        raise DTypeError(f"{_where()}: an index tensor must be of an integer dtype, got {v.dtype} "
                         "(bool masks are not supported: use T.switch)")
    return v


def _expand_ellipsis(key: tuple, ndim: int) -> tuple:
    n_ell = sum(1 for k in key if k is Ellipsis)
    if n_ell > 1:
        raise GraphError(f"{_where()}: an index can only have a single ellipsis")
    if n_ell == 0:
        return key
    i = next(j for j, k in enumerate(key) if k is Ellipsis)
    fill = ndim - (len(key) - 1)
    return key[:i] + (slice(None),) * max(fill, 0) + key[i + 1:]


def _full(k: Any) -> bool:
    return isinstance(k, slice) and k.start is None and k.stop is None and k.step is None


def getitem(x: Variable, key: Any) -> Variable:
    key = key if isinstance(key, tuple) else (key,)
    key = _expand_ellipsis(key, x.ndim)
    if any(k is None for k in key):
        raise GraphError(f"{_where()}: None (newaxis) in an index is not supported; use x.dimshuffle(..., 'x', ...)")
    if len(key) > x.ndim:
        raise GraphError(f"{_where()}: too many indices ({len(key)}) for a {x.ndim}-d tensor")
    if any(isinstance(k, slice) and any(isinstance(p, Variable) for p in (k.start, k.stop, k.step))
           for k in key):
        return _dynamic(x, key)
    adv = [j for j, k in enumerate(key) if _is_advanced(k)]
    if not adv:
        entries = []
        for k in key:
            if _is_int(k):
                entries.append(("index", int(k)))
            elif isinstance(k, slice):
                step = _slice_part(k.step)
                entries.append(("slice", _slice_part(k.start), _slice_part(k.stop), 1 if step is None else step))
            else:
                raise GraphError(f"{_where()}: unsupported index {k!r}")
        while entries and entries[-1] == ("slice", None, None, 1):
            entries.pop()
        if not entries:
            return x
        return apply("subtensor", x, idx=tuple(entries))
    rest = [k for j, k in enumerate(key) if j not in adv]
    if adv == list(range(len(adv))) and all(_full(k) for k in rest):
        return apply("advanced_subtensor", x, *[_index_tensor(key[j]) for j in adv])
    if len(adv) == 1 and all(_full(k) for j, k in enumerate(key) if j != adv[0]):
        # x[:, idx]: move the indexed axis to the front, pick, move the picked axes back
        a = adv[0]
        idx = _index_tensor(key[a])
        front = apply("transpose", x, perm=(a,) + tuple(i for i in range(x.ndim) if i != a))
        picked = apply("advanced_subtensor", front, idx)
        r = idx.ndim
        perm = tuple(range(r, r + a)) + tuple(range(r)) + tuple(range(r + a, picked.ndim))
        return apply("transpose", picked, perm=perm)
    raise GraphError(f"{_where()}: this mix of slices and index tensors is not supported "
                     "(index tensors must come first, or be the only non-':' entry)")


def _bound(p: Any, default: int) -> Variable:
    if p is None:
        return as_variable(np.int64(default))
    v = as_variable(np.int64(p) if _is_int(p) else p)
    if v.ndim != 0 or v.dtype.kind not in "iu":
        raise GraphError(f"{_where()}: a slice bound must be an integer scalar, got {v!r}")
    return v


def _dynamic(x: Variable, key: tuple) -> Variable:
    """x[a:b] with symbolic bounds on axis 0 (e.g. train_x[index * bs:(index + 1) * bs])."""
    first, rest = key[0], key[1:]
    if not isinstance(first, slice) or first.step not in (None, 1) or any(
            isinstance(k, slice) and any(isinstance(p, Variable) for p in (k.start, k.stop, k.step)) for k in rest):
        raise GraphError(f"{_where()}: symbolic slice bounds are supported on the first axis with step 1 only, "
                         "e.g. data[index * bs:(index + 1) * bs]")
    out = apply("dynamic_slice", x, _bound(first.start, 0), _bound(first.stop, np.iinfo(np.int64).max))
    if rest:
        out = getitem(out, (slice(None),) + rest)
    return out


def _inc(x_sub: Any, y: Any, setting: bool, what: str) -> Variable:
    if not isinstance(x_sub, Variable) or x_sub.op not in ("subtensor", "advanced_subtensor"):
        raise GraphError(f"{_where()}: {what}'s first argument must be an indexed tensor, e.g. "
                         f"T.{what}(x[1:3], y) or T.{what}(W[idx], y)")
    x = x_sub.inputs[0]
    yv = as_variable(y, x.dtype)
    if x_sub.op == "subtensor":
        return apply("inc_subtensor", x, yv, idx=x_sub.attrs["idx"], set=setting)
    return apply("advanced_inc_subtensor", x, yv, *x_sub.inputs[1:], set=setting)


def set_subtensor(x_sub: Any, y: Any) -> Variable:
    """A copy of the indexed tensor with the indexed part replaced by y (Theano's set_subtensor)."""
    return _inc(x_sub, y, True, "set_subtensor")


def inc_subtensor(x_sub: Any, y: Any) -> Variable:
    """A copy of the indexed tensor with y added to the indexed part (repeated indices add twice)."""
    return _inc(x_sub, y, False, "inc_subtensor")
