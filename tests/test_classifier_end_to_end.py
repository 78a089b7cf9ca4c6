"""A classifier written with the trainer's Theano API (integer labels, categorical cross-entropy,
argmax), trained on the bundled digits, exported, and run on the whole digits set by every runtime:
the int32 classes (and the float32 probabilities) agree bit for bit with the Python reference."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tessera.trainer.tensor as T
from tessera import exporter, trainer
from tessera.exporter.tensors import read_tensors
from tessera.trainer import datasets
from tests.support import same_bits


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    x_all, y_all = datasets.load_digits(with_labels=True)
    order = np.random.default_rng(0).permutation(len(x_all))
    train, held = order[:1400], order[1400:]
    rng = np.random.default_rng(1)
    W1 = trainer.shared((rng.standard_normal((64, 32)) * 0.2).astype(np.float32), name="W1")
    b1 = trainer.shared(np.zeros(32, np.float32), name="b1")
    W2 = trainer.shared((rng.standard_normal((32, 10)) * 0.2).astype(np.float32), name="W2")
    b2 = trainer.shared(np.zeros(10, np.float32), name="b2")
    x, y = T.matrix("x"), T.ivector("y")
    p = T.nnet.softmax(T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2)
    p.name = "p"
    label = T.argmax(p, axis=1)
    label.name = "label"
    loss = T.nnet.categorical_crossentropy(p, y).mean()
    params = [W1, b1, W2, b2]
    step = trainer.function([x, y], loss, updates=[(v, v - 0.5 * g) for v, g in zip(params, T.grad(loss, params),
                                                                                      strict=True)])
    for _ in range(60):
        for i in range(0, len(train), 50):
            idx = train[i:i + 50]
            step(x_all[idx], y_all[idx].astype(np.int32))
    predicted = trainer.function([x], label)(x_all[held])
    assert np.mean(predicted == y_all[held]) >= 0.9, "the classifier did not learn"
    path = tmp_path_factory.mktemp("classifier") / "model.json"
    exporter.export([p, label], [x], str(path))
    return path, x_all, predicted


def test_export_is_format_1_1_with_an_int32_argmax_output(classifier) -> None:
    path, _, _ = classifier
    doc = json.loads(path.read_text())
    assert doc["format_version"] == "1.1"
    outputs = {o["name"]: o["dtype"] for o in doc["graph"]["outputs"]}
    assert outputs == {"p": "float32", "label": "int32"}
    assert "ArgMax" in {n["op"] for n in doc["graph"]["nodes"]}


@pytest.mark.parametrize("runtime", ["c", "js", "js-purejs"])
def test_every_runtime_gives_the_reference_classes_on_all_digits(classifier, runtime: str,
                                                                request: pytest.FixtureRequest,
                                                                tmp_path: Path) -> None:
    path, x_all, _ = classifier
    reference = exporter.load(str(path)).run({"x": x_all})
    assert reference["label"].dtype == np.int32 and reference["label"].shape == (len(x_all),)
    command = request.getfixturevalue("c_runtime" if runtime == "c" else "js_runtime")
    if runtime == "js-purejs":
        command = ["env", "TESSERA_KERNELS=js", *command]
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"inputs": {"x": {"shape": list(x_all.shape), "data": x_all.ravel().tolist()}}}))
    done = subprocess.run([*command, str(path), str(inputs)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[:500] + done.stderr[:500]
    out = tmp_path / "outputs.json"
    out.write_text(done.stdout)
    got = read_tensors(out, key="outputs")
    assert got["label"].dtype == np.int32
    assert np.array_equal(got["label"], reference["label"])
    assert same_bits(got["p"], reference["p"])


def test_the_trainer_and_the_reference_pick_the_same_classes(classifier) -> None:
    path, x_all, _ = classifier
    order = np.random.default_rng(0).permutation(len(x_all))
    held = order[1400:]
    _, _, predicted = classifier
    reference = exporter.load(str(path)).run({"x": x_all[held]})
    # float32 in both, but the trainer's BLAS sums in another order: classes may differ only on near ties
    assert np.mean(reference["label"] == predicted) >= 0.99
