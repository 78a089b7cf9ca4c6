"""`T.nnet`: neural-network functions, each a primitive op or a composition of them."""

from __future__ import annotations

from typing import Any

from trainer.graph import Variable, apply, as_variable


def sigmoid(x: Any) -> Variable:
    return apply("sigmoid", x)


def softplus(x: Any) -> Variable:
    return apply("softplus", x)


def relu(x: Any) -> Variable:
    return apply("relu", x)


def softmax(x: Any) -> Variable:
    return apply("softmax", x, axis=-1)


def binary_crossentropy(output: Any, target: Any) -> Variable:
    """Elementwise -(t*log(p) + (1-t)*log(1-p)), built from primitives so that the
    stabilisation pass can rewrite log(sigmoid(z)) when p is a sigmoid."""
    p = as_variable(output)
    t = as_variable(target, p.dtype)
    return -(t * apply("log", p) + (1 - t) * apply("log", 1 - p))

