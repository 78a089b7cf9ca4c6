"""`tessera.demo.write_expected`, the file the browser demo proves its bits against: the page's
samples fed as the model's input declares them, the reference CLI's outputs for that input, the
model file's SHA-256, and a clear refusal (no file) for a model the page cannot show."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tessera.demo import expected_path, load_page_samples, write_expected
from tessera.exporter.tensors import read_tensors
from tests.support import ROOT, same_bits

AE64 = ROOT / "runtimes" / "js" / "test" / "fixtures" / "ae64.json"


def one_node(path: Path, op: str, shape: list, out_shape: list, *, n_inputs: int = 1, dtype: str = "float32",
             attrs: dict | None = None) -> Path:
    names = [f"x{i}" for i in range(n_inputs)]
    doc = {"format": "tessera", "format_version": "1.1" if dtype == "int32" else "1.0",
           "producer": {"name": "test", "version": "0"},
           "graph": {"inputs": [{"name": n, "dtype": dtype, "shape": shape} for n in names],
                     "outputs": [{"name": "y", "dtype": "float32", "shape": out_shape}], "initializers": [],
                     "nodes": [{"op": op, "inputs": names, "outputs": ["y"], **({"attrs": attrs} if attrs else {})}]}}
    path.write_text(json.dumps(doc))
    return path


def reference_cli(model: Path, inputs: dict, tmp_path: Path) -> dict[str, np.ndarray]:
    """`python -m tessera run` on an inputs document: the CLI path, not write_expected's."""
    doc = tmp_path / "inputs.json"
    doc.write_text(json.dumps({"inputs": inputs}))
    done = subprocess.run([sys.executable, "-m", "tessera", "run", str(model), str(doc)],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    return read_tensors(json.loads(done.stdout), key="outputs")


def test_expected_holds_the_page_samples_and_what_the_reference_cli_prints(tmp_path: Path) -> None:
    model = tmp_path / "ae64.json"
    model.write_bytes(AE64.read_bytes())
    path = write_expected(model)
    assert path == tmp_path / "ae64.expected.json" == expected_path(model)
    doc = json.loads(path.read_text())
    assert doc["model"] == "ae64.json"
    assert doc["model_sha256"] == hashlib.sha256(AE64.read_bytes()).hexdigest()
    pixels, labels = load_page_samples()
    assert doc["labels"] == labels == list(range(10))
    inputs = read_tensors({"inputs": doc["inputs"]})
    assert np.array_equal(inputs["x"], pixels) and inputs["x"].shape == (10, 64)
    want = reference_cli(model, doc["inputs"], tmp_path)
    got = read_tensors({"outputs": doc["outputs"]})
    assert got.keys() == want.keys() == {"x_hat"}
    assert same_bits(got["x_hat"], want["x_hat"])


def test_a_cnn_shaped_input_gets_the_same_pixels_as_n_1_8_8(tmp_path: Path) -> None:
    model = one_node(tmp_path / "image.json", "Sigmoid", ["N", 1, 8, 8], ["N", 1, 8, 8])
    doc = json.loads(write_expected(model).read_text())
    assert doc["inputs"]["x0"]["shape"] == [10, 1, 8, 8]
    assert np.array_equal(read_tensors({"inputs": doc["inputs"]})["x0"].reshape(10, 64), load_page_samples()[0])
    assert same_bits(read_tensors({"outputs": doc["outputs"]})["y"],
                     reference_cli(model, doc["inputs"], tmp_path)["y"])


def test_a_batch_of_one_runs_the_samples_one_at_a_time(tmp_path: Path) -> None:
    model = one_node(tmp_path / "one.json", "Sigmoid", [1, 64], [1, 64])
    doc = json.loads(write_expected(model).read_text())
    got = read_tensors({"outputs": doc["outputs"]})["y"]
    assert got.shape == (10, 64)
    for i in range(10):
        row = {"x0": {"shape": [1, 64], "data": doc["inputs"]["x0"]["data"][64 * i:64 * (i + 1)]}}
        assert same_bits(got[i:i + 1], reference_cli(model, row, tmp_path)["y"])


@pytest.mark.parametrize(("kind", "why"), [
    ("two inputs", "the model has 2 inputs"),
    ("int32", "is int32: the page feeds float32 pixels"),
    ("49 pixels", "is not an 8x8 image"),
    ("batch 4", "batch is fixed at 4"),
])
def test_a_model_the_page_cannot_show_is_refused_without_a_file(kind: str, why: str, tmp_path: Path) -> None:
    model = {
        "two inputs": lambda p: one_node(p, "Add", ["N", 64], ["N", 64], n_inputs=2),
        "int32": lambda p: one_node(p, "Cast", ["N", 64], ["N", 64], dtype="int32", attrs={"to": "float32"}),
        "49 pixels": lambda p: one_node(p, "Sigmoid", ["N", 49], ["N", 49]),
        "batch 4": lambda p: one_node(p, "Sigmoid", [4, 64], [4, 64]),
    }[kind](tmp_path / "m.json")
    with pytest.raises(ValueError, match=why):
        write_expected(model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
