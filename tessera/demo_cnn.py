"""The demo's digit classifier: a small CNN written Theano style and trained on the bundled digits.

Network (NCHW, input (N, 1, 8, 8)): conv 1->16 3x3 "half" + bias, relu, 2x2 max pool, conv 16->32
3x3 "half" + bias, relu, 2x2 max pool, dense 128->10, softmax.

Data: the bundled 8x8 digits' grey levels (0..16) scaled to [0, 1], labels from
`load_digits(with_labels=True)`. Held out: the first 297 digits of a permutation seeded 0; trained
on the other 1,500. The input is grey because the binarized digits (grey level > 7) lose what
separates some classes: small CNNs, ours and PyTorch's alike, stay near 95% held-out on them.
Each training example is shown binarized half of the time, as the demo page draws (0/1 pixels),
and shifted by up to one pixel each way. Adam with a cosine learning-rate decay, batch 64.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SIDE = 8
HELD_OUT = 297
SPLIT_SEED = 0


def labelled_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bundled digits as (n, 1, 8, 8) float32 grey levels in [0, 1], the same binarized as
    `load_digits` does (grey level > 7), and the int64 labels."""
    from tessera.trainer.datasets import DIGITS_PATH, load_digits

    binary, labels = load_digits(with_labels=True)
    with np.load(DIGITS_PATH) as d:
        grey = d["images"].astype(np.float32) / np.float32(16)
    return grey.reshape(-1, 1, SIDE, SIDE), binary.reshape(-1, 1, SIDE, SIDE), labels


def split(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices): the held-out digits are the first HELD_OUT of a
    permutation seeded SPLIT_SEED."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    return order[HELD_OUT:], order[:HELD_OUT]


class DigitsCNN:
    """The network's weights, and the graph from an input (N, 1, 8, 8) to the probabilities "p"."""

    def __init__(self, rng: np.random.Generator, channels: tuple[int, int] = (16, 32)) -> None:
        from tessera import trainer

        def glorot(name: str, *shape: int):
            fan_in, fan_out = np.prod(shape[1:]), shape[0] * np.prod(shape[2:])
            scale = np.float32(np.sqrt(6.0 / (fan_in + fan_out)))
            return trainer.shared(rng.uniform(-1, 1, shape).astype(np.float32) * scale, name=name)

        def zeros(name: str, n: int):
            return trainer.shared(np.zeros(n, np.float32), name=name)

        c1, c2 = channels
        self.w1, self.b1 = glorot("w1", c1, 1, 3, 3), zeros("b1", c1)
        self.w2, self.b2 = glorot("w2", c2, c1, 3, 3), zeros("b2", c2)
        self.w3, self.b3 = glorot("w3", c2 * (SIDE // 4) ** 2, 10), zeros("b3", 10)
        self.params = [self.w1, self.b1, self.w2, self.b2, self.w3, self.b3]

    def __call__(self, x):
        import tessera.trainer.tensor as T
        from tessera.trainer.tensor.signal.pool import pool_2d

        h = T.nnet.relu(T.nnet.conv2d(x, self.w1, border_mode="half") + self.b1.dimshuffle("x", 0, "x", "x"))
        h = pool_2d(h, (2, 2))
        h = T.nnet.relu(T.nnet.conv2d(h, self.w2, border_mode="half") + self.b2.dimshuffle("x", 0, "x", "x"))
        h = pool_2d(h, (2, 2))
        p = T.nnet.softmax(T.dot(h.flatten(2), self.w3) + self.b3)
        p.name = "p"
        return p


@dataclass
class TrainedCNN:
    """A trained DigitsCNN: the symbolic input and output to export, the trainer's inference
    function, the held-out digits (grey) with their labels, and the held-out accuracies."""

    x: object
    p: object
    infer: Callable[[np.ndarray], np.ndarray]
    held_out: np.ndarray
    held_out_labels: np.ndarray
    accuracy: float  # on the held-out grey digits
    accuracy_binarized: float  # on the same digits binarized, as the page draws them


def shift_by_up_to_one(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by -1, 0 or 1 pixel along each axis (independently drawn), zeros shifted in."""
    n = len(batch)
    padded = np.zeros((n, SIDE + 2, SIDE + 2), batch.dtype)
    padded[:, 1:-1, 1:-1] = batch[:, 0]
    offset = rng.integers(0, 3, (n, 2))
    rows = offset[:, 0, None] + np.arange(SIDE)
    cols = offset[:, 1, None] + np.arange(SIDE)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]][:, None]


def train_cnn(epochs: int = 40, seed: int = 0, batch: int = 64, lr: float = 0.01,
              channels: tuple[int, int] = (16, 32), log: Callable[[str], None] = print) -> TrainedCNN:
    """Train the demo CNN (fixed seed: the same weights on a given machine's BLAS)."""
    with _one_blas_thread():
        return _train(epochs, seed, batch, lr, channels, log)


def _one_blas_thread():
    """BLAS held at one thread where threadpoolctl is installed: this network's products are small,
    and on a busy machine BLAS threads spin for several times the single-threaded run time."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _train(epochs: int, seed: int, batch: int, lr: float, channels: tuple[int, int],
           log: Callable[[str], None]) -> TrainedCNN:
    import tessera.trainer.tensor as T
    from tessera import trainer
    from tessera.trainer import optimizers

    grey, binary, labels = labelled_digits()
    train_idx, held_idx = split(len(labels))
    rng = np.random.default_rng(seed)
    net = DigitsCNN(rng, channels)
    x, y = T.tensor4("x", shape=(None, 1, SIDE, SIDE)), T.lvector("y")
    p = net(x)
    loss = T.nnet.categorical_crossentropy(p, y).mean()
    rate = trainer.shared(np.float32(lr), name="lr")
    step = trainer.function([x, y], loss, updates=optimizers.adam(loss, net.params, lr=rate))
    infer = trainer.function([x], p)

    for epoch in range(epochs):
        rate.set_value(np.float32(lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs))))
        order = rng.permutation(train_idx)
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            images = np.where(rng.random((len(idx), 1, 1, 1)) < 0.5, binary[idx], grey[idx])
            losses.append(float(step(shift_by_up_to_one(images, rng), labels[idx])))
        if epoch == 0 or (epoch + 1) % 10 == 0 or epoch + 1 == epochs:
            log(f"  epoch {epoch + 1:3d}/{epochs}  loss {np.mean(losses):.4f}")

    def accuracy(images: np.ndarray) -> float:
        return float(np.mean(np.argmax(infer(images), axis=1) == labels[held_idx]))

    return TrainedCNN(x, p, infer, grey[held_idx], labels[held_idx], accuracy(grey[held_idx]),
                      accuracy(binary[held_idx]))
