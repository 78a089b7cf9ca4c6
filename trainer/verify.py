"""`verify_grad`: check symbolic gradients against finite differences (random projection)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tessera.trainer.compile import function
from tessera.trainer.gradient import grad
from tessera.trainer.graph import Variable
from tessera.trainer.tensor import tensor

# Central-difference step and tolerance per dtype (float32 has ~7 digits, float64 ~16).
_EPS = {np.dtype(np.float32): 1e-2, np.dtype(np.float64): 1e-6}
_TOL = {np.dtype(np.float32): 1e-2, np.dtype(np.float64): 1e-5}


class GradientError(AssertionError):
    """The symbolic and numeric gradients disagree."""


def verify_grad(fn: Callable[..., Variable], points: Sequence[np.ndarray], n_tests: int = 2,
                rng: np.random.Generator | int | None = None, eps: float | None = None,
                abs_tol: float | None = None, rel_tol: float | None = None) -> None:
    """Raise GradientError unless grad agrees with central differences at `points`.

    fn maps symbolic inputs (one per point, same shape and dtype) to a symbolic output of any
    shape; the checked cost is sum(output * P) for a random projection P, as in Theano.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    pts = [np.array(p, copy=True) for p in points]
    dtype = np.result_type(*[p.dtype for p in pts])
    if dtype not in _EPS:
        raise TypeError(f"verify_grad: points must be float32 or float64, got {dtype}")
    eps = eps or _EPS[np.dtype(dtype)]
    abs_tol = abs_tol or _TOL[np.dtype(dtype)]
    rel_tol = rel_tol or _TOL[np.dtype(dtype)]
    syms = [tensor(p.ndim, name=f"p{i}", dtype=p.dtype, shape=p.shape) for i, p in enumerate(pts)]
    out = fn(*syms)
    for _ in range(n_tests):
        proj = rng.standard_normal(out.shape if None not in out.shape else ()).astype(out.dtype)
        cost = (out * proj).sum()
        gs = grad(cost, syms)
        f_cost = function(syms, cost)
        f_grad = function(syms, gs)
        analytic = f_grad(*pts)
        for i, p in enumerate(pts):
            num = np.zeros(p.shape, np.float64)
            flat = p.reshape(-1)
            for j in range(flat.size):
                old = flat[j]
                flat[j] = old + eps
                hi = float(f_cost(*pts))
                flat[j] = old - eps
                lo = float(f_cost(*pts))
                flat[j] = old
                num.reshape(-1)[j] = (hi - lo) / (2 * eps)
            a = np.asarray(analytic[i], np.float64)
            err = np.abs(a - num)
            bad = err > abs_tol + rel_tol * np.abs(num)
            if np.any(bad):
                j = int(np.argmax(err))
                raise GradientError(f"verify_grad: gradient of input {i} wrong: "
                                    f"max abs error {err.max():.3g} "
                                    f"at flat index {j} (symbolic {a.reshape(-1)[j]:.8g}, "
                                    f"numeric {num.reshape(-1)[j]:.8g})")
