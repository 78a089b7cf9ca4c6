"""`exporter.load(...)`: a parsed, checked model with `run` and a summary.

Two runtimes run it, with the same bits: "reference", the strict numpy reference (the executable
spec, exporter/reference.py), and "native", the C runtime compiled into the package
(tessera._native, exporter/native.py), much faster. load() takes native when it is built.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Literal

import numpy as np

from tessera.exporter import native, reference
from tessera.exporter.check import CheckedModel, check
from tessera.exporter.jsonio import parse_json, read_file_limited
from tessera.exporter.shapes import Shape, fmt

Runtime = Literal["reference", "native"]
RUNTIMES: tuple[str, ...] = ("reference", "native")
# Sets the default runtime of a process ("reference" or "native"); the test suite sets "reference",
# the oracle its expected values come from.
RUNTIME_ENV = "TESSERA_RUNTIME"


class Model:
    """A checked model. `run` executes it on `runtime`: the strict reference or the native C
    runtime, bit-identical per SPEC §7."""

    def __init__(self, checked: CheckedModel, native_runtime: native.NativeRuntime | None = None) -> None:
        self.checked = checked
        self._native = native_runtime

    @property
    def runtime(self) -> Runtime:
        return "reference" if self._native is None else "native"

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {self.dtype(n)} {fmt(s)}" for n, s in self.checked.inputs)
        outs = ", ".join(f"{n}: {self.dtype(n)} {fmt(s)}" for n, s in self.checked.outputs)
        return f"<tessera Model ({ins}) -> ({outs}), {len(self.checked.nodes)} nodes, runtime={self.runtime}>"

    @property
    def inputs(self) -> list[tuple[str, Shape]]:
        return list(self.checked.inputs)

    @property
    def outputs(self) -> list[tuple[str, Shape]]:
        return list(self.checked.outputs)

    @property
    def input_dtypes(self) -> dict[str, str]:
        """Each graph input's declared dtype ("float32" or "int32"), for reading an inputs file."""
        return {n: self.checked.dtypes[n] for n, _ in self.checked.inputs}

    def dtype(self, name: str) -> str:
        """The dtype of any value of the graph (input, initializer, node output)."""
        return self.checked.dtypes[name]

    @property
    def version(self) -> str:
        return self.checked.doc["format_version"]

    @property
    def initializers(self) -> dict[str, np.ndarray]:
        return self.checked.initializers

    def run(self, inputs: dict[str, Any]) -> dict[str, np.ndarray]:
        """Outputs by name (declaration order) for inputs by name; ModelError E_INPUT/E_LIMIT."""
        if self._native is not None:
            return self._native.run(inputs)
        return reference.run(self.checked, inputs)

    def summary(self) -> dict[str, Any]:
        params = sum(int(a.size) for a in self.checked.initializers.values())
        return {
            "format_version": self.version,
            "producer": dict(self.checked.doc["producer"]),
            "inputs": [(n, list(s)) for n, s in self.checked.inputs],
            "outputs": [(n, list(s)) for n, s in self.checked.outputs],
            "ops": dict(sorted(Counter(n.op for n in self.checked.nodes).items())),
            "nodes": len(self.checked.nodes),
            "initializers": len(self.checked.initializers),
            "parameters": params,
            "parameter_bytes": 4 * params,
        }

    def summary_text(self) -> str:
        s = self.summary()
        lines = [
            f"format {s['format_version']}, producer {s['producer']['name']} {s['producer']['version']}",
            *(f"input  {n}: {self.dtype(n)} {fmt(tuple(shape))}" for n, shape in s["inputs"]),
            *(f"output {n}: {self.dtype(n)} {fmt(tuple(shape))}" for n, shape in s["outputs"]),
            f"nodes {s['nodes']}: " + ", ".join(f"{op} x{c}" for op, c in s["ops"].items()),
            f"parameters {s['parameters']} in {s['initializers']} initializers ({s['parameter_bytes']} bytes)",
        ]
        return "\n".join(lines)


def load(source: str | os.PathLike | bytes | bytearray | dict, runtime: Runtime | None = None) -> Model:
    """Parse (if needed) and check a model: a file path, JSON bytes, or an already parsed dict.

    runtime: "reference", "native" (RuntimeError if the native runtime is not built), or None for
    the environment's TESSERA_RUNTIME if set, else native when it is built, else the reference.
    The model is checked by the reference's checker either way, then loaded by the C runtime for
    "native" (which checks it again).
    """
    if runtime is None:
        runtime = os.environ.get(RUNTIME_ENV) or ("native" if native.available() else "reference")
        if runtime not in RUNTIMES:
            raise ValueError(f"{RUNTIME_ENV} must be one of {RUNTIMES}, not {runtime!r}")
    elif runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES} or None, not {runtime!r}")
    if isinstance(source, (bytes, bytearray)):
        text = bytes(source)
        doc = parse_json(text)
    elif isinstance(source, (str, os.PathLike)):
        text = read_file_limited(source, "model file")
        doc = parse_json(text)
    else:
        text = None
        doc = source
    checked = check(doc)
    if runtime == "reference":
        return Model(checked)
    if text is None:  # a parsed document: floats print as the shortest text that reads back the same
        text = json.dumps(doc, allow_nan=False).encode("utf-8")
    return Model(checked, native.NativeRuntime(text))
