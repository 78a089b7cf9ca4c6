"""Helpers shared by the onnxruntime cross-check and the ONNX converter tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES_DIR = ROOT / "conformance" / "cases"
F32 = np.float32


def require(module: str) -> Any:
    """The module, or a test failure (never a skip) naming the package to install."""
    try:
        return __import__(module)
    except ImportError:
        pytest.fail(f"the ONNX cross-check needs {module}: pip install onnx onnxruntime "
                    "(the test-peers step of `make test` installs both)", pytrace=False)


def session(proto: Any) -> Any:
    """An onnxruntime CPU session with one intra-op thread (default graph optimisations)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    data = proto if isinstance(proto, (str, bytes)) else proto.SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def run_onnx(proto: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sess = session(proto)
    names = [o.name for o in sess.get_outputs()]
    feed = {k: np.array(v, dtype=F32, order="C") for k, v in inputs.items()}  # keeps rank 0 (unlike ascontiguousarray)
    return dict(zip(names, sess.run(names, feed), strict=True))


def same_bits(e: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Elementwise: the same float32 bits, or both NaN."""
    e, g = np.asarray(e, dtype=F32), np.asarray(g, dtype=F32)
    return (e.view(np.uint32) == g.view(np.uint32)) | (np.isnan(e) & np.isnan(g))


def doc_for(nodes: list[dict], inputs: list[tuple[str, list]], outputs: list[tuple[str, list]],
            initializers: list[dict] | None = None) -> dict:
    """A format v1 model document."""
    return {
        "format": "tessera", "format_version": "1.0", "producer": {"name": "test", "version": "0"},
        "graph": {
            "inputs": [{"name": n, "dtype": "float32", "shape": s} for n, s in inputs],
            "outputs": [{"name": n, "dtype": "float32", "shape": s} for n, s in outputs],
            "initializers": initializers or [],
            "nodes": nodes,
        },
    }
