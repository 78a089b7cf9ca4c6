"""`MRG_RandomStreams`: the same streams as `trainer.tensor.shared_randomstreams.RandomStreams`
(numpy's generator, not Theano's MRG31k3p: same API, different numbers)."""

from __future__ import annotations

from tessera.trainer.tensor.shared_randomstreams import RandomStreams

MRG_RandomStreams = RandomStreams

__all__ = ["MRG_RandomStreams"]
