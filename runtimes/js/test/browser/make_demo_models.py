"""The models the browser demo test loads, written to OUTDIR with the demo's own expected files.

A small MLP classifier (64 -> 32 tanh -> 10 softmax) trained on the bundled digits with the trainer,
exported three ways from the same weights: `mlp.json` (flat (N, 64) input; outputs the probabilities
p and the int32 class label), `mlp_image.json` (a CNN-shaped (N, 1, 8, 8) input, flattened in the
graph; output p) and `mlp_logits.json` (output: the logits, no Softmax); `cnn.json` is the demo's
digits CNN (tessera.demo_cnn) trained for two epochs only (the page's bits are under test, not its
accuracy). The seed-shaped auto-encoder fixture is copied beside them. Each gets
MODEL.expected.json from `tessera.demo.write_expected`, which is what `make demo` writes.
usage: make_demo_models.py OUTDIR   (prints the held-out accuracy)"""

import shutil
import sys
from pathlib import Path

import numpy as np

import tessera.trainer.tensor as T
from tessera import exporter, trainer
from tessera.demo import write_expected
from tessera.demo_cnn import train_cnn
from tessera.trainer import datasets

HERE = Path(__file__).resolve().parent


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    x_all, y_all = datasets.load_digits(with_labels=True)
    order = np.random.default_rng(0).permutation(len(x_all))
    train, held = order[:1400], order[1400:]
    rng = np.random.default_rng(1)
    W1 = trainer.shared((rng.standard_normal((64, 32)) * 0.2).astype(np.float32), name="W1")
    b1 = trainer.shared(np.zeros(32, np.float32), name="b1")
    W2 = trainer.shared((rng.standard_normal((32, 10)) * 0.2).astype(np.float32), name="W2")
    b2 = trainer.shared(np.zeros(10, np.float32), name="b2")

    def head(x):
        logits = T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2
        p = T.nnet.softmax(logits)
        logits.name, p.name = "logits", "p"
        return logits, p

    x, y = T.matrix("x"), T.ivector("y")
    logits, p = head(x)
    label = T.argmax(p, axis=1)
    label.name = "label"
    loss = T.nnet.categorical_crossentropy(p, y).mean()
    params = [W1, b1, W2, b2]
    lr = np.float32(0.5)
    step = trainer.function([x, y], loss, updates=[(v, v - lr * g) for v, g in zip(params, T.grad(loss, params),
                                                                                   strict=True)])
    for _ in range(30):
        for i in range(0, len(train), 50):
            idx = train[i:i + 50]
            step(x_all[idx], y_all[idx].astype(np.int32))
    accuracy = float(np.mean(trainer.function([x], label)(x_all[held]) == y_all[held]))

    exporter.export([p, label], [x], out / "mlp.json", metadata={"description": "MLP digit classifier"})
    exporter.export([logits], [x], out / "mlp_logits.json", metadata={"description": "MLP digit logits"})
    image = T.tensor4("image", shape=(None, 1, 8, 8))
    _, p_image = head(image.flatten(2))
    exporter.export([p_image], [image], out / "mlp_image.json", metadata={"description": "MLP on (N, 1, 8, 8)"})
    cnn = train_cnn(epochs=2, log=lambda line: None)
    exporter.export([cnn.p], [cnn.x], out / "cnn.json", metadata={"description": "digits CNN, briefly trained"})
    shutil.copy(HERE.parent / "fixtures" / "ae64.json", out / "ae64.json")
    for name in ("mlp", "mlp_logits", "mlp_image", "cnn", "ae64"):
        write_expected(out / f"{name}.json")
    print(f"{accuracy:.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
