"""Helpers shared by the onnxruntime cross-check and the ONNX converter tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.support import F32

# (name, shape, dtype) of a graph input or output; dtype "float32" or "int32".
Decl = tuple[str, list, str]


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


def feed_array(v: Any) -> np.ndarray:
    """An input as onnxruntime takes it: int32 stays int32, anything else is float32 (rank 0 kept, unlike
    np.ascontiguousarray)."""
    dtype = np.int32 if np.asarray(v).dtype == np.int32 else F32
    return np.array(v, dtype=dtype, order="C")


def run_onnx(proto: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sess = session(proto)
    names = [o.name for o in sess.get_outputs()]
    feed = {k: feed_array(v) for k, v in inputs.items()}
    return dict(zip(names, sess.run(names, feed), strict=True))


def tensor_doc(name: str, arr: np.ndarray) -> dict:
    """An initializer object (float32 or int32, the values as JSON numbers; finite floats only)."""
    arr = np.asarray(arr)
    dtype = "int32" if arr.dtype == np.int32 else "float32"
    data = [int(v) for v in arr.ravel()] if dtype == "int32" else [float(v) for v in arr.astype(F32).ravel()]
    return {"name": name, "dtype": dtype, "shape": list(arr.shape), "data": data}


def model_doc(nodes: list[dict], inputs: list[Decl], outputs: list[Decl], initializers: list[dict] | None = None,
              version: str = "1.1") -> dict:
    """A model document with inputs and outputs of either dtype, stamped `version` (1.1: int32 and the 1.1 ops)."""
    return {
        "format": "tessera",
        "format_version": version,
        "producer": {"name": "test", "version": "0"},
        "graph": {
            "inputs": [{"name": n, "dtype": d, "shape": s} for n, s, d in inputs],
            "outputs": [{"name": n, "dtype": d, "shape": s} for n, s, d in outputs],
            "initializers": initializers or [],
            "nodes": nodes,
        },
    }
