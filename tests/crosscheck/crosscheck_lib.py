"""Helpers shared by the onnxruntime cross-check and the ONNX converter tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.support import F32


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

