"""`x[key]` on symbolic variables, and `T.set_subtensor` / `T.inc_subtensor`.

Supported keys (numpy semantics):
- basic: python ints (negative count from the end) and slices with python-int bounds and steps,
  one per leading axis, and `...`: the `subtensor` op (a view);
- advanced: integer tensors (symbolic, or int lists/arrays) on the leading axes, with full
  slices after them: `W[idx]` (an embedding lookup), `p[T.arange(n), y]`, `x[i]` with a
  symbolic scalar `i`; or one integer tensor after full slices (`x[:, idx]`). These are the
  `advanced_subtensor` op; its gradient is a scatter-add.
Slices with symbolic bounds and bool masks are not supported (the error says so).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainer.graph import GraphError, Variable, _where, apply, as_variable


def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _slice_part(p: Any) -> int | None:
    if p is None or _is_int(p):
        return None if p is None else int(p)
    if isinstance(p, Variable):
        raise GraphError(f"{_where()}: slices with symbolic bounds are not supported; slice the data "
                         "in numpy and pass the batch as an input (see 'Coming from Theano' in trainer/README.md)")
    raise GraphError(f"{_where()}: slice bounds must be python ints, got {type(p).__name__}")


def _is_advanced(k: Any) -> bool:
    return isinstance(k, (Variable, list, np.ndarray))


def _index_tensor(k: Any) -> Variable:
    v = as_variable(np.asarray(k) if isinstance(k, list) else k)
    if v.dtype.kind not in "iu":
        raise GraphError(f"{_where()}: an index tensor must be of an integer dtype, got {v.dtype} "
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
