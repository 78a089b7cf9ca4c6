"""`exporter.load(...)`: a parsed, checked model with `run` and a summary."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import numpy as np
from tessera.exporter import reference
from tessera.exporter.check import CheckedModel, check
from tessera.exporter.jsonio import parse_json, read_json_file
from tessera.exporter.shapes import Shape, fmt


class Model:
    """A checked model. `run` is the strict reference runtime (bit-exact per SPEC §7)."""

    def __init__(self, checked: CheckedModel) -> None:
        self.checked = checked

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


def load(source: str | os.PathLike | bytes | bytearray | dict) -> Model:
    """Parse (if needed) and check a model: a file path, JSON bytes, or an already parsed dict."""
    if isinstance(source, (bytes, bytearray)):
        doc = parse_json(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        doc = read_json_file(source, "model file")
    else:
        doc = source
    return Model(check(doc))
