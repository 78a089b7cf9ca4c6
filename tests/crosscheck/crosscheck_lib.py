"""Helpers shared by the onnxruntime cross-check and the ONNX converter tests."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from tests.support import F32, ROOT

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


_FEED_TYPES = {"tensor(float)": F32, "tensor(int32)": np.int32}


def run_onnx(proto: Any, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run in onnxruntime; each input is given the element type the graph declares (an inputs file may give an
    int32 input without its dtype, read as float32: the declaration decides, SPEC 9). np.array, not
    np.ascontiguousarray, keeps rank 0."""
    sess = session(proto)
    names = [o.name for o in sess.get_outputs()]
    types = {i.name: _FEED_TYPES[i.type] for i in sess.get_inputs()}
    feed = {k: np.array(v, dtype=types[k], order="C") for k, v in inputs.items()}
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


# numpy's SIMD loops load strided float32 operands with AVX2/AVX-512 gathers, and qemu 7.2's TCG (the emulator
# `make cpu-classes` runs this suite under) emulates those gathers wrongly: np.maximum of a strided column with a
# scalar returns the scalar past the first few elements, and sometimes segfaults. The reference runtime's
# LogSoftmax/Softmax/reduction loops are such loops. Native numpy on the same code paths (restricted to AVX2 with
# NPY_DISABLE_CPU_FEATURES) is right: an emulator defect, not numpy's or ours, and onnxruntime's kernels are not
# numpy's. So expected values that the tests compute with the reference come from a child process whose numpy
# dispatches none of its optional SIMD targets: the same bits natively (IEEE operations either way), sound under
# the emulator.
_CHILD = """
import pickle, sys
from tessera import exporter
cases = pickle.load(sys.stdin.buffer)
def run(doc, inputs):  # the reference, never the native runtime load() would otherwise pick
    return exporter.load(doc, runtime="reference").run(inputs)
sys.stdout.buffer.write(pickle.dumps({name: run(doc, inputs) for name, (doc, inputs) in cases.items()}))
"""


def _numpy_without_simd() -> dict[str, str]:
    """The environment of a Python whose numpy dispatches none of its optional SIMD targets (baseline only)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__ as targets
    except ImportError:  # numpy 1.x layout
        from numpy.core._multiarray_umath import __cpu_dispatch__ as targets
    return {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(targets)}


def reference_outputs(cases: dict[str, tuple[dict, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """The reference's run(inputs) for each named (doc, inputs), all in one child process without numpy's
    SIMD dispatch (see above)."""
    done = subprocess.run([sys.executable, "-c", _CHILD], input=pickle.dumps(cases), capture_output=True,
                          env=_numpy_without_simd(), cwd=ROOT, timeout=1200, check=False)
    assert done.returncode == 0, f"the reference in a child process failed:\n{done.stderr.decode(errors='replace')}"
    return pickle.loads(done.stdout)
