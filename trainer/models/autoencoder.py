"""The seed model: a sigmoid auto-encoder trained on binary cross-entropy.

    h = sigmoid(x W + bh);  x_hat = sigmoid(h W^T + bv)   (tied; untied uses W2 instead of W^T)
    loss = mean(binary_crossentropy(x_hat, x))

With `corruption` > 0 it is the denoising auto-encoder of the dA tutorial: training encodes a
corrupted copy `x_tilde = x * srng.binomial(size=x.shape, p=1 - corruption)` (each input zeroed
with that probability, the mask drawn in the graph from a RandomStreams seeded by `seed`) and
reconstructs the clean `x`. The stream is listed in `random_streams`, so checkpoints save and
restore its generator state.

With `reconstruction_sampling=K` (sparse binary input), training reconstructs each example only
on its ones and a sample of its zeros (K uniform ones, and with `sampling_proposal="partner"`,
the default, also those at two other batch rows' ones), importance-weighted so the loss and
gradient are unbiased (trainer.reconstruction_sampling): a step costs O((nnz + B K) hidden) plus
the control variate's two passes over the d decoder rows, not O(B d hidden) (plain SGD).
`x_hat`, `loss` and the export are the ordinary full auto-encoder: sampling is a training-time
device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import optimizers
from tessera.trainer.compile import Function
from tessera.trainer.graph import SharedVariable, Variable
from tessera.trainer.reconstruction_sampling import SampledSGD, ZeroSampler, check_k
from tessera.trainer.tensor.shared_randomstreams import RandomStreams


class AutoEncoder:
    """Seed auto-encoder.

    Attributes: `x` (input Variable named "x"), `x_hat` (reconstruction of x, named "x_hat";
    the graph to export), `loss` (scalar training loss), `params` (shared variables),
    `x_tilde` (the corrupted input, a graph drawing the mask, when corruption > 0, else None),
    `random_streams` (the generators training draws from, whose states checkpoints keep: the
    RandomStreams of the corruption mask, or with reconstruction sampling its ZeroSampler, which
    also draws the mask; empty when nothing is drawn), `reconstruction_sampling` (K or None).
    """

    def __init__(self, n_visible: int, n_hidden: int, tied: bool = True, corruption: float = 0.0,
                 seed: int = 0, dtype: str = "float32", reconstruction_sampling: int | None = None,
                 sampling_proposal: str = "partner") -> None:
        if not 0.0 <= corruption < 1.0:
            raise ValueError("corruption must be in [0, 1)")
        if reconstruction_sampling is not None:
            reconstruction_sampling = check_k(reconstruction_sampling)
        self.reconstruction_sampling = reconstruction_sampling
        self.n_visible, self.n_hidden, self.tied, self.corruption = n_visible, n_hidden, tied, corruption
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        bound = 4.0 * np.sqrt(6.0 / (n_visible + n_hidden))  # Glorot range for sigmoid units
        self.W = trainer.shared(rng.uniform(-bound, bound, (n_visible, n_hidden)).astype(dtype), name="W")
        self.bh = trainer.shared(np.zeros(n_hidden, dtype), name="bh")
        self.bv = trainer.shared(np.zeros(n_visible, dtype), name="bv")
        self.params: list[SharedVariable] = [self.W, self.bh, self.bv]
        self.W2 = None
        if not tied:
            w2 = rng.uniform(-bound, bound, (n_hidden, n_visible)).astype(dtype)
            self.W2 = trainer.shared(w2, name="W2")
            self.params.append(self.W2)
        self.x = T.matrix("x", dtype=dtype)
        self.x_hat = self.decode(self.encode(self.x))
        self.x_hat.name = "x_hat"
        self.random_streams: list[RandomStreams | ZeroSampler] = []
        self.x_tilde = None
        self.sampler = None
        if reconstruction_sampling is not None:
            self.sampler = ZeroSampler(reconstruction_sampling, seed, sampling_proposal)
            self.random_streams.append(self.sampler)
        elif corruption > 0:
            srng = RandomStreams(seed)
            self.random_streams.append(srng)
            mask = srng.binomial(size=self.x.shape, n=1, p=1.0 - corruption, dtype=dtype)
            self.x_tilde = self.x * mask
        train_in = self.x_tilde if self.x_tilde is not None else self.x
        recon = self.x_hat if self.x_tilde is None else self.decode(self.encode(train_in))
        self.loss = T.nnet.binary_crossentropy(recon, self.x).mean()
        self.opt_state: list[SharedVariable] = []
        self._reconstruct: Function | None = None

    def encode(self, x: Variable) -> Variable:
        return T.nnet.sigmoid(T.dot(x, self.W) + self.bh)

    def decode(self, h: Variable) -> Variable:
        W2 = self.W.T if self.tied else self.W2
        return T.nnet.sigmoid(T.dot(h, W2) + self.bv)

    @property
    def inputs(self) -> list[Variable]:
        """Inputs of train_function, in call order."""
        return [self.x]

    def train_function(self, optimizer: str = "sgd", lr: float = 0.1, **opt_kwargs: Any) -> Function | SampledSGD:
        """Compile one training step: f(x) -> loss, updating params (and drawing a fresh corruption
        mask per call when denoising). With reconstruction sampling: a SampledSGD step (x a 0/1
        numpy array or scipy sparse matrix; the loss returned is the sampled estimate)."""
        if self.sampler is not None:
            if optimizer != "sgd" or opt_kwargs:
                raise ValueError(f"reconstruction sampling trains with plain SGD (optimizer 'sgd', no options), "
                                 f"got {optimizer!r}{' with ' + str(opt_kwargs) if opt_kwargs else ''}: momentum "
                                 "and adam decay their state in every row, which a step touching a few rows "
                                 "cannot do without a lazy per-row state (not implemented)")
            self.opt_state = []
            return SampledSGD(self, self.sampler, lr)
        builder = optimizers.OPTIMIZERS[optimizer]
        updates = builder(self.loss, self.params, lr=lr, **opt_kwargs)
        self.opt_state = list(updates.state)
        return trainer.function(self.inputs, self.loss, updates=updates, name="train_step")

    def reconstruct(self, X: np.ndarray) -> np.ndarray:
        """x_hat for a batch X, with the trainer's compiled forward pass."""
        if self._reconstruct is None:
            self._reconstruct = trainer.function([self.x], self.x_hat, name="reconstruct")
        return self._reconstruct(X)

    def cross_entropy(self, X: Any, batch: int = 256) -> float:
        """Mean BCE of the full reconstruction over every element of X (numpy or scipy sparse):
        the held-out figure of merit. Computed in float64 from the logits (softplus(z) - x z), so a
        saturated sigmoid costs its true loss instead of inf or nan."""
        p = {k: v.astype(np.float64) for k, v in self.get_params().items()}
        dec = p["W"].T if self.tied else p["W2"]
        total, count = 0.0, 0
        for s in range(0, X.shape[0], batch):
            xb = X[s:s + batch]
            xb = np.asarray(xb.toarray() if hasattr(xb, "toarray") else xb, np.float64)
            h = 1.0 / (1.0 + np.exp(-(xb @ p["W"] + p["bh"])))
            z = h @ dec + p["bv"]
            total += float((np.logaddexp(0.0, z) - xb * z).sum())
            count += xb.size
        return total / count

    def get_params(self) -> dict[str, np.ndarray]:
        return {p.name: p.get_value() for p in self.params}
