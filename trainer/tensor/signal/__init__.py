"""Theano's `tensor.signal` package: `pool.pool_2d`."""

from tessera.trainer.tensor.signal import pool

__all__ = ["pool"]
