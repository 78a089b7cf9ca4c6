"""`T.nnet`: neural-network functions, each a primitive op or a composition of them."""

from __future__ import annotations

from typing import Any

from tessera.trainer.graph import GraphError, Variable, apply, as_variable


def sigmoid(x: Any) -> Variable:
    return apply("sigmoid", x)


def softplus(x: Any) -> Variable:
    return apply("softplus", x)


def relu(x: Any, alpha: Any = 0) -> Variable:
    """max(x, 0); with alpha, the leaky relu max(x, alpha*x) for 0 <= alpha <= 1 (built from
    maximum and mul, so it exports with the 1.0 ops), Theano's abs form otherwise."""
    if isinstance(alpha, (int, float)) and alpha == 0:
        return apply("relu", x)
    v = as_variable(x)
    if isinstance(alpha, (int, float)) and 0 <= alpha <= 1:
        return apply("maximum", v, alpha * v)
    return 0.5 * (1 + alpha) * v + 0.5 * (1 - alpha) * abs(v)


def elu(x: Any, alpha: float = 1.0) -> Variable:
    """x for x > 0, alpha*(exp(x) - 1) otherwise: switch(x > 0, x, alpha*(exp(x) - 1)), the
    composition the format lowers it to."""
    v = as_variable(x)
    return apply("switch", apply("gt", v, 0), v, alpha * (apply("exp", v) - 1))


def softsign(x: Any) -> Variable:
    v = as_variable(x)
    return v / (1 + abs(v))


def softmax(x: Any, axis: int = -1) -> Variable:
    return apply("softmax", x, axis=_last_axis(x, axis))


def log_softmax(x: Any, axis: int = -1) -> Variable:
    """log(softmax(x)) computed as x - max - log(sum(exp(x - max))): finite for finite x."""
    return apply("log_softmax", x, axis=_last_axis(x, axis))


def _last_axis(x: Any, axis: int) -> int:
    nd = as_variable(x).ndim
    if axis not in (-1, nd - 1):
        raise GraphError("softmax/log_softmax work along the last axis (transpose first)")
    return -1


def binary_crossentropy(output: Any, target: Any) -> Variable:
    """Elementwise -(t*log(p) + (1-t)*log(1-p)), built from primitives so that the
    stabilisation pass can rewrite log(sigmoid(z)) when p is a sigmoid."""
    p = as_variable(output)
    t = as_variable(target, p.dtype)
    return -(t * apply("log", p) + (1 - t) * apply("log", 1 - p))


def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> Variable:
    """Per-row -log(p[i, y_i]) for integer labels y (a vector), or -sum(t * log(p), axis=1) for
    a one-hot (or any distribution) matrix t. On p = softmax(z) the stabilisation rewrites
    log(softmax(z)) to log_softmax(z): the loss is finite for finite logits and its gradient is
    softmax(z) - onehot(y)."""
    p = as_variable(coding_dist)
    t = as_variable(true_dist)
    if p.ndim != 2:
        raise GraphError(f"categorical_crossentropy: coding_dist must be a matrix, got {p.ndim}-d")
    logp = apply("log", p)
    if t.dtype.kind in "iu":
        if t.ndim != 1:
            raise GraphError("categorical_crossentropy: integer labels must be a vector")
        from tessera.trainer.tensor import arange, shape
        rows = arange(shape(t)[0])
        return -apply("advanced_subtensor", logp, rows, t)
    if t.ndim != 2:
        raise GraphError("categorical_crossentropy: true_dist must be an int vector or a matrix")
    t = as_variable(true_dist, p.dtype)
    return -(t * logp).sum(axis=1)
