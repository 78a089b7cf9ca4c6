"""The C runtime in-process (`tessera._native`, built from runtimes/c/src with the package).

Same contract as the reference's `run`: inputs converted by the reference's rules, outputs by name
in declaration order as float32/int32 arrays, errors as ModelError with the SPEC code. The C
kernels give the reference's bits (the conformance suite's python-native column holds them to it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera.exporter.errors import CODES, ModelError
from tessera.exporter.reference import DTYPES, as_input

try:
    from tessera import _native
except ImportError as exc:  # not built: no compiler when the package was installed
    _native = None
    WHY_UNAVAILABLE = f"tessera._native is not built ({exc})"
else:
    WHY_UNAVAILABLE = ""

# tsr_dtype numbers of tessera.h
_CODES = {"float32": 0, "int32": 1}
_NAMES = {v: k for k, v in _CODES.items()}


def available() -> bool:
    """True when the native runtime was built and imports."""
    return _native is not None


def _model_error(exc: Exception) -> ModelError | Exception:
    code, message = exc.args
    if code not in CODES:  # E_ARENA and the like are API misuse, never a model's fault
        return RuntimeError(f"tessera._native: {code}: {message}")
    return ModelError(code, message)


class NativeRuntime:
    """One model loaded by the C runtime; `run` is safe to call from several threads."""

    def __init__(self, json_text: bytes) -> None:
        if not available():
            raise RuntimeError(WHY_UNAVAILABLE)
        try:
            self._model = _native.Model(json_text)
        except _native.Error as exc:
            raise _model_error(exc) from None
        self.inputs = [(name, _NAMES[code]) for name, code in self._model.inputs()]

    def run(self, inputs: dict[str, Any]) -> dict[str, np.ndarray]:
        declared = [name for name, _ in self.inputs]
        unknown = sorted(set(inputs) - set(declared))
        if unknown:
            raise ModelError("E_INPUT", f"unknown input(s) {unknown}; the model takes {declared}")
        feed = []
        for name, dtype in self.inputs:
            if name not in inputs:
                raise ModelError("E_INPUT", f"missing input {name!r}")
            arr = np.asarray(as_input(name, inputs[name], dtype), order="C")  # keeps rank 0
            feed.append((name, _CODES[dtype], arr.shape, arr))
        try:
            outputs = self._model.run(feed)
        except _native.Error as exc:
            raise _model_error(exc) from None
        return {name: np.frombuffer(data, dtype=DTYPES[_NAMES[code]]).reshape(shape)
                for name, code, shape, data in outputs}
