"""Optimisers (update builders) decrease a quadratic."""

import numpy as np
import pytest

from tessera import trainer
from tessera.trainer import optimizers


@pytest.mark.parametrize("name,kw", [("sgd", {"lr": 0.1}), ("momentum", {"lr": 0.05}),
                                     ("nesterov", {"lr": 0.05}), ("adam", {"lr": 0.1})])
def test_optimizer_decreases_quadratic(name, kw):
    target = np.array([1.0, -2.0, 3.0], np.float32)
    p = trainer.shared(np.zeros(3, np.float32), name="p")
    cost = ((p - target) ** 2).sum()
    ups = optimizers.OPTIMIZERS[name](cost, [p], **kw)
    step = trainer.function([], cost, updates=ups)
    losses = [float(step()) for _ in range(200)]
    assert losses[-1] < 1e-2 * losses[0], losses[-1]
    assert np.allclose(p.get_value(), target, atol=0.1)


def test_momentum_state_and_nesterov_differ():
    def run(nesterov):
        p = trainer.shared(np.array([5.0], np.float32))
        ups = optimizers.momentum((p ** 2).sum(), [p], lr=0.1, nesterov=nesterov)
        assert len(ups.state) == 1
        f = trainer.function([], updates=ups)
        for _ in range(3):
            f()
        return float(p.get_value()[0])
    assert run(True) != run(False)


def test_adam_first_step_size_is_lr():
    p = trainer.shared(np.array([1.0, -1.0], np.float64))
    ups = optimizers.adam((p * np.array([3.0, 0.5])).sum(), [p], lr=0.01)
    trainer.function([], updates=ups)()
    assert np.allclose(p.get_value(), [0.99, -1.01], atol=1e-6)
