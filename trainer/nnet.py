"""`T.nnet`: neural-network functions, each a primitive op or a composition of them."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from tessera.trainer.graph import GraphError, ShapeError, Variable, apply, as_variable, user_frame


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


# ---------------------------------------------------------------- convolutional networks

def _pair(value: Any, what: str, lowest: int) -> tuple[int, int]:
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= lowest for v in pair):
        raise GraphError(f"{_here()}: {what} must be two ints >= {lowest}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _here() -> str:
    fn, ln = user_frame()
    return f"{fn}:{ln}"


def _check_hint(v: Variable, hint: Any, what: str) -> None:
    """Theano's input_shape/filter_shape: optional, None per unknown dim; must agree with the graph."""
    if hint is None:
        return
    hint = tuple(hint)
    if len(hint) != 4 or any(h is not None and d is not None and int(h) != d
                             for h, d in zip(hint, v.shape, strict=True)):
        raise ShapeError(f"{_here()}: conv2d: {what} {hint} does not match the {what.split('_')[0]}'s "
                         f"shape {tuple(v.shape)}")


def conv2d(input: Any, filters: Any, input_shape: Any = None, filter_shape: Any = None,  # noqa: A002
           border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
           image_shape: Any = None, filter_dilation: Any = (1, 1), num_groups: int = 1,
           unshared: bool = False) -> Variable:
    """Theano's 2-D convolution on NCHW: input (N, C, H, W), filters (M, C/num_groups, kH, kW) ->
    (N, M, Hout, Wout). border_mode "valid" (no padding), "full" (dilated kernel extent - 1),
    "half" (extent // 2), an int or (ph, pw); subsample is the stride; filter_flip True (the
    default) is true convolution (kernel flipped), False cross-correlation (PyTorch's conv2d)."""
    x, w = as_variable(input), as_variable(filters)
    if unshared:
        raise GraphError(f"{_here()}: conv2d: unshared=True (locally connected layers) is not supported")
    if x.ndim != 4 or w.ndim != 4:
        raise ShapeError(f"{_here()}: conv2d: input and filters must be 4-d (NCHW and (M, C/groups, kH, kW)), "
                         f"got {x.ndim}-d and {w.ndim}-d")
    _check_hint(x, input_shape if input_shape is not None else image_shape, "input_shape")
    _check_hint(w, filter_shape, "filter_shape")
    if isinstance(border_mode, str):
        if border_mode not in ("valid", "full", "half"):
            raise GraphError(f"{_here()}: conv2d: border_mode {border_mode!r} (valid, full, half, an int or "
                             "a pair of ints)")
        border = (0, 0) if border_mode == "valid" else border_mode
    else:
        border = _pair(border_mode, "border_mode", 0)
    if not isinstance(num_groups, (int, np.integer)) or num_groups < 1:
        raise GraphError(f"{_here()}: conv2d: num_groups must be an int >= 1, got {num_groups!r}")
    return apply("conv2d", x, w, border=border, subsample=_pair(subsample, "subsample", 1),
                 dilation=_pair(filter_dilation, "filter_dilation", 1), flip=bool(filter_flip),
                 groups=int(num_groups))


def dropout(x: Any, p: float, srng: Any, deterministic: bool = False) -> Variable:
    """Inverted dropout: each element zeroed with probability p and the rest scaled by 1/(1-p)
    while training (`x * (srng.binomial(x's shape, 1 - p) / (1 - p))`), x itself when
    `deterministic` (the inference graph). The exporter writes a graph holding this dropout as
    its inference form (x): the mask is the identity in expectation."""
    v = as_variable(x)
    if not 0.0 <= float(p) < 1.0:
        raise GraphError(f"{_here()}: dropout: p={p} must be in [0, 1)")
    if deterministic or float(p) == 0.0:
        return v
    keep = 1.0 - float(p)
    mask = srng.binomial(size=v.shape, p=keep, dtype=v.dtype)
    return v * (mask / keep)


from tessera.trainer import batchnorm as bn  # noqa: E402 - Theano's T.nnet.bn (needs this module's names)

sys.modules[__name__ + ".bn"] = bn
