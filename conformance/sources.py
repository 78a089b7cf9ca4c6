"""Models the cases take as given (committed under conformance/sources/).

Training goes through BLAS, whose last bits may differ between machines, so a
trained model is produced once, committed, and from then on only read. Run
`python -m tessera.conformance.sources` to retrain them on purpose.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tessera.conformance.cases import SOURCES, seed_ae_graph
from tessera.conformance.documents import dumps


def train_seed_ae(epochs: int = 30, hidden: int = 32, seed: int = 0) -> str:
    """The seed auto-encoder trained on the bundled digits, as model text."""
    from tessera import demo

    data = demo.load_digits()
    args = argparse.Namespace(hidden=hidden, epochs=epochs, batch=32, lr=0.5, seed=seed)
    x, x_hat, _ = demo.train(data, args)
    params = {v.name: v.get_value() for v in _shared_leaves(x_hat)}
    graph = seed_ae_graph(params["W"], params["bh"], params["bv"])
    return dumps(graph.document(description=f"seed auto-encoder 64->{hidden}, digits, {epochs} epochs SGD"))


def _shared_leaves(out) -> list:
    seen, stack, found = set(), [out], []
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v.kind == "shared":
            found.append(v)
        stack.extend(v.inputs)
    return found


def train_digits_classifier(steps: int = 300, lr: float = 0.5) -> tuple[str, float]:
    """A softmax classifier (64 -> 10) trained on the bundled digits and their labels, full-batch
    gradient descent in float64 numpy; as model text (outputs: log-probabilities by LogSoftmax and
    the class by ArgMax, format 1.1) and its training accuracy."""
    from tessera.conformance.documents import Graph
    from tessera.trainer.datasets import load_digits

    x, labels = load_digits(dtype="float64", with_labels=True)
    onehot = np.eye(10)[labels]
    w, b = np.zeros((64, 10)), np.zeros(10)
    for _ in range(steps):
        z = x @ w + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / len(x)
        w -= lr * (x.T @ g)
        b -= lr * g.sum(axis=0)
    accuracy = float(np.mean(np.argmax(x @ w + b, axis=1) == labels))
    graph = Graph()
    graph.input("x", ["batch", 64])
    t = graph.node("MatMul", ["x", graph.init("W", w)], "xw")
    t = graph.node("Add", [t, graph.init("b", b)], "logits")
    graph.node("LogSoftmax", [t], "log_probs")
    graph.node("ArgMax", [t], "class", axis=-1)
    graph.output("log_probs", ["batch", 10])
    graph.output("class", ["batch"], "int32")
    description = f"softmax classifier 64->10, digits with labels, {steps} steps GD, train accuracy {accuracy:.3f}"
    return dumps(graph.document(description=description)), accuracy


def train_digits_cnn(epochs: int = 40, seed: int = 0) -> tuple[str, float]:
    """The demo's digit CNN (tessera/demo_cnn.py: conv, relu, max pool twice, dense, softmax; format
    1.2) trained as `make demo` trains it, as model text, and its held-out accuracy."""
    from tessera import exporter
    from tessera.demo_cnn import train_cnn

    trained = train_cnn(epochs=epochs, seed=seed, log=lambda _line: None)
    description = (f"the demo's digit CNN, {epochs} epochs Adam, held-out accuracy {trained.accuracy:.4f} "
                   "(grey digits scaled to [0, 1], input (N, 1, 8, 8))")
    doc = exporter.export([trained.p], [trained.x], metadata={"description": description})
    return dumps(doc), trained.accuracy


if __name__ == "__main__":
    SOURCES.mkdir(exist_ok=True)
    target: Path = SOURCES / "seed_ae_digits.json"
    target.write_text(train_seed_ae(), encoding="utf-8")
    print(f"wrote {target} ({np.round(target.stat().st_size / 1024, 1)} KiB)")
    text, accuracy = train_digits_classifier()
    target = SOURCES / "digits_classifier.json"
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target} (training accuracy {accuracy:.3f})")
    text, accuracy = train_digits_cnn()
    target = SOURCES / "digits_cnn.json"
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target} (held-out accuracy {accuracy:.4f})")
