"""A small CNN (Conv2D with and without bias, pads, a depthwise group, MaxPool2D, both AveragePool2D
count rules, then Reshape, MatMul, Softmax) through the generated embedded C: the static arena only
(the direct scalar kernels take no workspace), compiled strictly with gcc and clang-16 and with the
plain `cc -std=c99 -ffp-contract=off` the generated header documents, and run on inputs with zeros,
-0, inf and NaN; every output bit must equal the Python reference's. `tessera check --c-size`
measures it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tessera.exporter.c_codegen import generate_c
from tests.embedded.test_embedded_support import COMPILERS, compile_model, doc, harness_source, run_exe, tensor, uniform
from tests.support import F32, same_bits

REPO = Path(__file__).resolve().parents[2]
BATCH = 3


def cnn_doc() -> dict:
    """8x8 digits-sized input: conv 1->8 3x3 (pads top 1, left 2, bottom 1, right 0), relu, maxpool 2,
    conv 8->16 3x3 (no bias), avgpool 2 stride 1 with a top/left pad (pads counted), depthwise 2x2 conv,
    avgpool 1x1 stride 1 (pads not counted: a no-op window), reshape, dense 16->10, softmax."""
    rng = np.random.default_rng(3)
    inits = [tensor("w1", uniform(rng, (8, 1, 3, 3), -1, 1)), tensor("b1", uniform(rng, (8,), -0.2, 0.2)),
             tensor("w2", uniform(rng, (16, 8, 3, 3), -0.5, 0.5)),
             tensor("wd", uniform(rng, (16, 1, 2, 2), -1, 1)), tensor("bd", uniform(rng, (16,), -0.1, 0.1)),
             tensor("wf", uniform(rng, (16, 10), -1, 1))]
    nodes = [("Conv2D", ["x", "w1", "b1"], "c1", {"pads": [1, 2, 1, 0]}),
             ("Relu", ["c1"], "r1"),
             ("MaxPool2D", ["r1"], "p1", {"kernel_shape": [2, 2], "strides": [2, 2]}),
             ("Conv2D", ["p1", "w2"], "c2", {}),
             ("AveragePool2D", ["c2"], "a2", {"kernel_shape": [2, 2], "pads": [1, 1, 0, 0],
                                              "count_include_pad": True}),
             ("Conv2D", ["a2", "wd", "bd"], "d3", {"group": 16}),
             ("AveragePool2D", ["d3"], "a3", {"kernel_shape": [1, 1]}),
             ("Reshape", ["a3"], "f", {"shape": ["batch", 16]}),
             ("MatMul", ["f", "wf"], "z"),
             ("Softmax", ["z"], "y")]
    return doc([("x", ["batch", 1, 8, 8])], [("y", ["batch", 10]), ("c2", ["batch", 16, 2, 2])], inits, nodes)


def cnn_input() -> np.ndarray:
    rng = np.random.default_rng(4)
    x = (rng.integers(0, 17, (BATCH, 1, 8, 8)) / np.float32(16)).astype(F32)
    x[0, 0, 0, :3] = [0.0, -0.0, np.inf]
    x[1, 0, 4, 4] = np.nan
    x[1, 0, 2, 2] = -np.inf
    x[2, 0, 3, :2] = [0.0, -0.0]  # the last sample stays finite
    return x


def reference_outputs(x: np.ndarray) -> list[np.ndarray]:
    """The Python reference's outputs (named explicitly: load() would take the native C runtime when
    it is built, and this test compares C against the reference)."""
    from tessera import exporter

    return [np.asarray(o) for o in exporter.load(cnn_doc(), runtime="reference").run({"x": x}).values()]


def test_cnn_document_is_format_1_2() -> None:
    d = cnn_doc()
    assert d["format_version"] == "1.2"
    ops = {n["op"] for n in d["graph"]["nodes"]}
    assert {"Conv2D", "MaxPool2D", "AveragePool2D"} <= ops


def test_cnn_strict_builds_give_the_reference_bits(tmp_path: Path) -> None:
    """gcc and clang-16 with -Wall -Wextra -Wpedantic -Werror; the reference output has NaN rows
    (the inf/NaN inputs) and finite ones, so the test compares both kinds."""
    x = cnn_input()
    expected = reference_outputs(x)
    assert np.isnan(expected[0]).any() and np.isfinite(expected[0]).any()
    report = generate_c(cnn_doc(), "cnn", BATCH, tmp_path / "cnn")
    src = report.source.read_text()
    assert "tsr_k_conv2d(" in src and "tsr_k_maxpool2d(" in src and "tsr_k_avgpool2d(" in src
    assert "malloc" not in src and report.arena_bytes > 0
    for cc in COMPILERS:
        exe = compile_model(report, cc, tmp_path, [x.size], [o.size for o in expected])
        got = run_exe(exe, [x], [o.shape for o in expected])
        for want, have in zip(expected, got, strict=True):
            assert same_bits(want.astype(F32), have), f"{cc}: output differs from the reference"


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_cnn_plain_cc(tmp_path: Path, opt: str) -> None:
    """`tessera export --c` then the documented plain build, `cc -std=c99 -ffp-contract=off`."""
    model_path = tmp_path / "cnn.json"
    model_path.write_text(json.dumps(cnn_doc()))
    out = tmp_path / "cnn"
    proc = subprocess.run([sys.executable, "-m", "tessera", "export", "--c", "cnn", str(model_path), "-o", str(out),
                           "--batch", str(BATCH), "--no-measure"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    x = cnn_input()
    expected = reference_outputs(x)
    (out / "main.c").write_text(harness_source("cnn", [x.size], [np.asarray(o).size for o in expected]))
    cmd = ["cc", "-std=c99", "-ffp-contract=off", opt, "main.c", "cnn.c", "-o", "prog"]
    build = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    got = run_exe(out / "prog", [x], [np.asarray(o).shape for o in expected])
    for want, have in zip(expected, got, strict=True):
        assert same_bits(np.asarray(want, F32), have), f"plain cc {opt}: output differs from the reference"


def test_cnn_c_size_report(tmp_path: Path) -> None:
    """`tessera check --c-size` accounts for the conv and pooling kernels: it builds and measures."""
    model_path = tmp_path / "cnn.json"
    model_path.write_text(json.dumps(cnn_doc()))
    proc = subprocess.run([sys.executable, "-m", "tessera", "check", "--c-size", str(model_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "activation arena" in proc.stdout and "flash" in proc.stdout, proc.stdout
