"""`T.nnet.bn`: Theano's batch normalisation, built from primitive ops (so it differentiates and
exports with the 1.0 operators).

Training (`batch_normalization_train`) normalises with the batch's statistics and returns the
running averages' new values, which the caller puts into `updates` (as Theano). Inference
(`batch_normalization_test`) is the affine form Theano's inference op computes,
`(x - mean) * (gamma / sqrt(var + epsilon)) + beta`: exported as written (Sub, Add, Sqrt, Div,
Mul, Add), it gives the trainer's bits in every runtime.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera.trainer.graph import GraphError, Variable, apply, as_variable, floatx, user_frame


def _here() -> str:
    fn, ln = user_frame()
    return f"{fn}:{ln}"


def _axes(axes: Any, ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(normalised axes, the others): 'per-activation' is (0,), 'spatial' (0, 2, 3, ...)."""
    if axes == "per-activation":
        ax: tuple[int, ...] = (0,)
    elif axes == "spatial":
        ax = (0,) + tuple(range(2, ndim))
    elif isinstance(axes, (tuple, list)) and all(isinstance(a, (int, np.integer)) for a in axes):
        ax = tuple(sorted({int(a) % ndim for a in axes if -ndim <= int(a) < ndim}))
        if len(ax) != len(axes):
            raise GraphError(f"{_here()}: batch normalisation: axes {tuple(axes)} are not distinct axes of a "
                             f"{ndim}-d input")
    else:
        raise GraphError(f"{_here()}: batch normalisation: axes must be 'per-activation', 'spatial' or a tuple "
                         f"of ints, got {axes!r}")
    return ax, tuple(i for i in range(ndim) if i not in ax)


def _params(ndim: int, kept: tuple[int, ...], **params: Any) -> tuple[dict[str, Variable], bool]:
    """The parameters broadcast to the input's rank; True when they were given with the reduced
    rank (one dim per kept axis), whose results are then returned in that rank too."""
    out, reduced = {}, None
    for name, value in params.items():
        v = as_variable(value)
        if v.ndim == ndim:
            is_reduced = False
        elif v.ndim == len(kept):
            is_reduced = True
            pattern = ["x"] * ndim
            for i, axis in enumerate(kept):
                pattern[axis] = i
            v = v.dimshuffle(tuple(pattern))
        else:
            raise GraphError(f"{_here()}: batch normalisation: {name} has rank {v.ndim}; it must have the input's "
                             f"rank {ndim} or one dim per non-normalised axis ({len(kept)})")
        if reduced is not None and is_reduced != reduced:
            raise GraphError(f"{_here()}: batch normalisation: the parameters must all have the same rank")
        reduced = is_reduced
        out[name] = v
    return out, bool(reduced)


def _epsilon(epsilon: float) -> float:
    # Theano's rule (cuDNN's minimum), checked after rounding to floatX: float32(1e-5) < 1e-5
    if np.asarray(epsilon, dtype=floatx()) < 1e-5:
        raise GraphError(f"{_here()}: batch normalisation: epsilon {epsilon} is below 1e-5 (Theano's minimum)")
    return float(epsilon)


def batch_normalization_train(inputs: Any, gamma: Any, beta: Any, axes: Any = "per-activation",
                              epsilon: float = 1e-4, running_average_factor: float = 0.1,
                              running_mean: Any = None, running_var: Any = None) -> tuple[Variable, ...]:
    """Normalise with the batch's mean and variance over `axes`: returns (out, mean, invstd), plus
    the new running mean and/or variance when `running_mean`/`running_var` are given
    (`running * (1 - f) + batch * f`, the variance unbiased by m / (m - 1), m the number of
    elements averaged): put them in the function's `updates`. gamma and beta have the input's
    rank with 1 on the normalised axes, or one dim per other axis (then so do the results)."""
    x = as_variable(inputs)
    ax, kept = _axes(axes, x.ndim)
    eps = _epsilon(epsilon)
    p, reduced = _params(x.ndim, kept, gamma=gamma, beta=beta)
    mean = x.mean(axis=ax, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=ax, keepdims=True)
    invstd = 1.0 / apply("sqrt", var + eps)
    out = centred * (p["gamma"] * invstd) + p["beta"]

    def as_given(v: Variable) -> Variable:
        return v.dimshuffle(kept) if reduced else v

    results = [out, as_given(mean), as_given(invstd)]
    f = float(running_average_factor)
    if running_mean is not None:
        rm = as_variable(running_mean)
        results.append(rm * (1.0 - f) + as_given(mean) * f)
    if running_var is not None:
        from tessera.trainer.tensor import cast, shape
        rv = as_variable(running_var)
        m = cast(shape(x)[list(ax)].prod(), x.dtype)  # known when the plan is made
        results.append(rv * (1.0 - f) + (m / (m - 1)) * as_given(var) * f)
    return tuple(results)


def batch_normalization_test(inputs: Any, gamma: Any, beta: Any, mean: Any, var: Any,
                             axes: Any = "per-activation", epsilon: float = 1e-4) -> Variable:
    """Normalise with given statistics (the running averages) in the affine form
    `x * scale + shift`, `scale = gamma / sqrt(var + epsilon)`, `shift = beta - mean * scale`: the
    same function as Theano's `(x - mean) * (gamma / sqrt(var + epsilon)) + beta`, rounded in
    another order, and two passes over `x` instead of three. With the statistics and parameters
    shared variables, the exporter folds `scale` and `shift` into weights (the same bits), so the
    model file holds one Mul and one Add."""
    x = as_variable(inputs)
    ax, kept = _axes(axes, x.ndim)
    eps = _epsilon(epsilon)
    p, _ = _params(x.ndim, kept, gamma=gamma, beta=beta, mean=mean, var=var)
    scale = p["gamma"] / apply("sqrt", p["var"] + eps)
    return x * scale + (p["beta"] - p["mean"] * scale)


__all__ = ["batch_normalization_train", "batch_normalization_test"]
