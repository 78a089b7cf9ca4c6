"""Optimisers as update builders: each returns a list of (shared, new_value) pairs for `function`.

State (velocities, moments, the step count) lives in shared variables created here, listed
on the returned list's `.state` attribute so checkpoints can save and restore it exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tessera.trainer.gradient import grad
from tessera.trainer.graph import SharedVariable, Variable


class Updates(list):
    """A list of (shared, expression) update pairs, plus the optimiser's state variables."""

    state: list[SharedVariable]


def _shared(value: np.ndarray, name: str) -> SharedVariable:
    from tessera.trainer import shared
    return shared(value, name=name)


def _grads(cost: Variable, params: Sequence[SharedVariable], grads: Sequence[Variable] | None) -> list:
    return list(grads) if grads is not None else grad(cost, list(params))


def sgd(cost: Variable, params: Sequence[SharedVariable], lr: float = 0.01,
        grads: Sequence[Variable] | None = None) -> Updates:
    """p <- p - lr * g."""
    ups = Updates((p, p - lr * g) for p, g in zip(params, _grads(cost, params, grads), strict=False))
    ups.state = []
    return ups


def momentum(cost: Variable, params: Sequence[SharedVariable], lr: float = 0.01, mu: float = 0.9,
             nesterov: bool = False, grads: Sequence[Variable] | None = None) -> Updates:
    """v <- mu*v - lr*g; p <- p + v (or p + mu*v_new - lr*g with nesterov, as in Sutskever 2013)."""
    ups = Updates()
    ups.state = []
    for p, g in zip(params, _grads(cost, params, grads), strict=False):
        v = _shared(np.zeros(p.value.shape, p.dtype), f"{p.name or 'p'}_velocity")
        ups.state.append(v)
        v_new = mu * v - lr * g
        ups.append((v, v_new))
        ups.append((p, p + mu * v_new - lr * g if nesterov else p + v_new))
    return ups


def adam(cost: Variable, params: Sequence[SharedVariable], lr: float = 0.001, beta1: float = 0.9,
         beta2: float = 0.999, epsilon: float = 1e-8, grads: Sequence[Variable] | None = None) -> Updates:
    """Adam (Kingma & Ba 2015) with bias correction folded into the step size."""
    ups = Updates()
    gs = _grads(cost, params, grads)
    dt = params[0].dtype if params else np.dtype(np.float32)
    t = _shared(np.zeros((), dt), "adam_t")
    ups.state = [t]
    t_new = t + 1
    # lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t), as a graph: b^t = exp(t * log b).
    from tessera.trainer import tensor as T
    lr_t = lr * T.sqrt(1 - T.exp(t_new * float(np.log(beta2)))) / (1 - T.exp(t_new * float(np.log(beta1))))
    ups.append((t, t_new))
    for p, g in zip(params, gs, strict=False):
        m = _shared(np.zeros(p.value.shape, p.dtype), f"{p.name or 'p'}_m")
        v = _shared(np.zeros(p.value.shape, p.dtype), f"{p.name or 'p'}_v")
        ups.state += [m, v]
        m_new = beta1 * m + (1 - beta1) * g
        v_new = beta2 * v + (1 - beta2) * (g * g)
        ups += [(m, m_new), (v, v_new), (p, p - lr_t * m_new / (T.sqrt(v_new) + epsilon))]
    return ups


OPTIMIZERS = {"sgd": sgd, "momentum": momentum, "nesterov": lambda *a, **k: momentum(*a, nesterov=True, **k),
              "adam": adam}
