"""Models the cases take as given (committed under conformance/sources/).

Training goes through BLAS, whose last bits may differ between machines, so a
trained model is produced once, committed, and from then on only read. Run
`python -m conformance.sources` to retrain it on purpose.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from conformance.cases import SOURCES, seed_ae_graph
from conformance.documents import dumps


def train_seed_ae(epochs: int = 30, hidden: int = 32, seed: int = 0) -> str:
    """The seed auto-encoder trained on the bundled digits, as model text."""
    import tessera_demo

    data = tessera_demo.load_digits()
    args = argparse.Namespace(hidden=hidden, epochs=epochs, batch=32, lr=0.5, seed=seed)
    x, x_hat, _ = tessera_demo.train(data, args)
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


if __name__ == "__main__":
    SOURCES.mkdir(exist_ok=True)
    target: Path = SOURCES / "seed_ae_digits.json"
    target.write_text(train_seed_ae(), encoding="utf-8")
    print(f"wrote {target} ({np.round(target.stat().st_size / 1024, 1)} KiB)")
