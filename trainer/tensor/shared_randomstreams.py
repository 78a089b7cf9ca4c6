"""`RandomStreams(seed)`: random draws inside a graph, as Theano's shared_randomstreams.

Each `uniform`/`normal`/`binomial` call makes one draw node with its own generator, seeded from
(seed, the draw's position in this stream): every call of a compiled function draws anew, and
the same program with the same seed reproduces every draw exactly. A graph holding a draw does
not export: build the inference graph without it (e.g. without the dropout mask, scaling the
weights instead).
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from tessera.trainer.graph import GraphError, StaticShape, Variable, apply, as_dtype, as_variable, constant
from tessera.trainer.ops.random import STREAMS


class RandomStreams:
    """A seeded source of random draws for graphs (Theano's RandomStreams / MRG_RandomStreams)."""

    def __init__(self, seed: int = 12345) -> None:
        self.uid = secrets.randbits(62)  # random: streams unpickled in another process keep theirs
        self._seed = int(seed)
        self._draws = 0
        self._gens: dict[int, np.random.Generator] = {}
        STREAMS[self.uid] = self

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        STREAMS.setdefault(self.uid, self)  # an unpickled graph finds its stream by uid

    def seed(self, seed: int) -> None:
        """Restart every draw of this stream from `seed`."""
        self._seed = int(seed)
        self._gens.clear()

    def generator(self, k: int) -> np.random.Generator:
        gen = self._gens.get(k)
        if gen is None:
            gen = self._gens[k] = np.random.default_rng([self._seed, k])
        return gen

    def get_state(self) -> dict:
        """The generators' states (for checkpoints): restore with set_state."""
        return {"seed": self._seed, "draws": {k: g.bit_generator.state for k, g in self._gens.items()}}

    def set_state(self, state: dict) -> None:
        self._seed = int(state["seed"])
        self._gens.clear()
        for k, st in state["draws"].items():
            self.generator(int(k)).bit_generator.state = st

    def _size(self, size: Any) -> Variable:
        from tessera.trainer.tensor import shape

        if size is None:
            raise GraphError("RandomStreams: give size= (a tuple of ints, or T.shape(x))")
        if isinstance(size, Variable):
            if size.ndim != 1 or size.dtype.kind not in "iu":
                raise GraphError("RandomStreams: a symbolic size must be an int vector such as T.shape(x)")
            return size
        if isinstance(size, StaticShape) and None in size and size.owner is not None:
            return shape(size.owner)  # Theano's size=x.shape: the symbolic shape
        parts = tuple(size) if isinstance(size, (tuple, list)) else (size,)
        if any(p is None for p in parts):
            raise GraphError(f"RandomStreams: size {parts} has unknown dims (None); x.shape is the static "
                             "shape here: use size=T.shape(x), or T.shape(x)[0] for one dim")
        if any(isinstance(p, Variable) for p in parts):
            from tessera.trainer.tensor import cast, stack
            return stack([cast(as_variable(p, np.dtype(np.int64)), "int64") for p in parts])
        return constant(np.array([int(p) for p in parts], dtype=np.int64))

    def _draw(self, op: str, size: Any, dtype: Any, **attrs: Any) -> Variable:
        k = self._draws
        self._draws += 1
        return apply(op, self._size(size), stream=self.uid, k=k, dtype=as_dtype(dtype).name, **attrs)

    def uniform(self, size: Any = None, low: float = 0.0, high: float = 1.0, ndim: int | None = None,
                dtype: Any = None) -> Variable:
        return self._draw("random_uniform", size, dtype, low=float(low), high=float(high))

    def normal(self, size: Any = None, avg: float = 0.0, std: float = 1.0, ndim: int | None = None,
               dtype: Any = None) -> Variable:
        return self._draw("random_normal", size, dtype, avg=float(avg), std=float(std))

    def binomial(self, size: Any = None, n: int = 1, p: float = 0.5, ndim: int | None = None,
                 dtype: Any = "int64") -> Variable:
        if isinstance(p, Variable):
            raise GraphError("RandomStreams.binomial: p must be a python number here")
        if not 0.0 <= float(p) <= 1.0:
            raise GraphError(f"RandomStreams.binomial: p={p} is not a probability")
        return self._draw("random_binomial", size, dtype, n=int(n), p=float(p))


__all__ = ["RandomStreams"]
