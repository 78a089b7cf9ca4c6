"""Random draws inside a graph (`RandomStreams`): uniform, normal, binomial.

A draw node's operand is its size (an int vector: a constant, or `T.shape(x)`, whose value is
known when a plan is made). Its attrs name the stream (`"stream"`, the stream object's uid) and
the draw's position in it (`"k"`); the generator lives in the stream object
(`trainer.tensor.shared_randomstreams.RandomStreams`), so every call of a compiled function
draws anew, plans made for other shapes continue the same sequence, and a fixed seed reproduces
a run. Draws are never constant-folded and carry no gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera.trainer.opdef import OpDef, OpShapeError, fmt, register

# uid -> stream object (anything with .generator(k) -> np.random.Generator)
STREAMS: dict[int, Any] = {}  # strong: a compiled graph names its stream only by uid


def _size_shape(shapes, attrs, values):
    (s,) = shapes
    if len(s) != 1:
        raise OpShapeError(f"a random draw's size must be an int vector, got shape {fmt(s)}")
    if values[0] is None:
        return (None,) * s[0] if s[0] is not None else ()
    v = np.asarray(values[0]).reshape(-1)
    if np.any(v < 0):
        raise OpShapeError(f"negative size {tuple(v.tolist())}")
    return tuple(int(d) for d in v)


def _generator(attrs: dict) -> np.random.Generator:
    stream = STREAMS.get(attrs["stream"])
    if stream is None:
        raise OpShapeError("the RandomStreams object of this draw no longer exists")
    return stream.generator(attrs["k"])


def _uniform(attrs, ins, oshape, dt):
    low, high = attrs["low"], attrs["high"]
    scale, off = dt.type(high - low), dt.type(low)

    def fn(out, size):
        gen = _generator(attrs)  # looked up per call: RandomStreams.seed() replaces generators
        if dt.kind == "f":
            gen.random(out=out, dtype=dt)
        else:
            out[...] = gen.random(oshape)
        np.multiply(out, scale, out=out)
        return np.add(out, off, out=out)
    return fn, True


def _normal(attrs, ins, oshape, dt):
    avg, std = dt.type(attrs["avg"]), dt.type(attrs["std"])

    def fn(out, size):
        _generator(attrs).standard_normal(out=out, dtype=dt)
        np.multiply(out, std, out=out)
        return np.add(out, avg, out=out)
    return fn, True


def _binomial(attrs, ins, oshape, dt):
    n, p = attrs["n"], attrs["p"]
    u = np.empty(oshape, np.float64)
    pv = np.float64(p)

    def fn(out, size):
        gen = _generator(attrs)
        if n == 1:
            gen.random(out=u)
            np.less(u, pv, out=out, casting="unsafe")
        else:
            out[...] = gen.binomial(n, p, oshape)
        return out
    return fn, True


def _row(name: str, kernel) -> OpDef:
    return OpDef(name, 1, _size_shape, kernel, lambda n, g: [None], dtype_attr="dtype",
                 value_operands=(0,), shape_operands=(0,), fold=False)


register(
    _row("random_uniform", _uniform),  # {"stream", "k", "low", "high", "dtype"}
    _row("random_normal", _normal),  # {"stream", "k", "avg", "std", "dtype"}
    _row("random_binomial", _binomial),  # {"stream", "k", "n", "p", "dtype"}
)
