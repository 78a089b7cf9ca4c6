"""Build model and tensor documents for conformance cases, and write them.

Kept independent of the exporter's writer on purpose: the suite states the
format in its own words, so an exporter bug cannot hide in both places.
Only the float formatting rule and the version each operator appeared in
(the registry's `since`) are shared (they are part of the spec).
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tessera.exporter.jsonio import format_float32
from tessera.exporter.opset import covering_version

PRODUCER = {"name": "tessera-conformance", "version": "1"}


def json_float(v: np.float32) -> float | str:
    """A float32 as a JSON value: a number that round-trips, or a non-finite string."""
    v = np.float32(v)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(format_float32(v))  # repr of this double is no longer than the float32 string


def _is_int32(a: Any) -> bool:
    return np.asarray(a).dtype == np.int32


def _wire(a: np.ndarray) -> bytes:
    """SPEC 3: little-endian binary32, or little-endian two's-complement int32."""
    return np.ascontiguousarray(a, dtype="<i4" if _is_int32(a) else "<f4").tobytes()


def crc32_of(a: np.ndarray) -> str:
    return f"crc32:{zlib.crc32(_wire(a)):08x}"


def as_tensor(value: Any) -> np.ndarray:
    """An int32 array stays int32 (SPEC 3, since 1.1); anything else becomes float32."""
    a = np.asarray(value)
    return a if a.dtype == np.int32 else a.astype(np.float32)


def tensor_doc(a: np.ndarray, encoding: str = "decimal") -> dict[str, Any]:
    """A tensor object; an int32 one says so ("dtype": "int32", SPEC 9) and holds JSON integers."""
    a = as_tensor(a)
    if _is_int32(a):
        doc: dict[str, Any] = {"shape": list(a.shape), "dtype": "int32"}
        if encoding == "base64":
            doc["data_b64"] = base64.b64encode(_wire(a)).decode("ascii")
        else:
            doc["data"] = [int(v) for v in a.reshape(-1)]
        return doc
    doc = {"shape": list(a.shape)}
    if encoding == "base64":
        doc["data_b64"] = base64.b64encode(a.astype("<f4").tobytes()).decode("ascii")
    else:
        doc["data"] = [json_float(v) for v in a.reshape(-1)]
    return doc


def initializer_doc(name: str, a: np.ndarray, encoding: str = "decimal") -> dict[str, Any]:
    doc = {"name": name, "dtype": "float32", **tensor_doc(a, encoding)}  # an int32 tensor_doc sets "int32"
    doc["checksum"] = crc32_of(a)
    return doc


@dataclass
class Graph:
    """A small builder: declare inputs, add initializers and nodes, declare outputs."""

    inputs: list[tuple[str, list, str]] = field(default_factory=list)
    outputs: list[tuple[str, list, str]] = field(default_factory=list)
    initializers: list[tuple[str, np.ndarray]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)

    def input(self, name: str, shape: list, dtype: str = "float32") -> str:
        self.inputs.append((name, list(shape), dtype))
        return name

    def init(self, name: str, value: np.ndarray) -> str:
        self.initializers.append((name, as_tensor(value)))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        node: dict[str, Any] = {"name": f"n{len(self.nodes)}_{op.lower()}", "op": op,
                                "inputs": list(inputs), "outputs": [output]}
        if attrs:
            node["attrs"] = attrs
        self.nodes.append(node)
        return output

    def output(self, name: str, shape: list, dtype: str = "float32") -> None:
        self.outputs.append((name, list(shape), dtype))

    def document(self, version: str | None = None, encoding: str = "decimal",
                 description: str = "") -> dict[str, Any]:
        """The model document, stamped `version` or else the lowest version that has its ops and
        dtypes (SPEC §2)."""
        dtypes = [d for _, _, d in (*self.inputs, *self.outputs)]
        dtypes += ["int32" if _is_int32(a) else "float32" for _, a in self.initializers]
        version = version or covering_version((n["op"] for n in self.nodes), dtypes)
        value = [{"name": n, "dtype": d, "shape": s} for n, s, d in self.inputs]
        out = [{"name": n, "dtype": d, "shape": s} for n, s, d in self.outputs]
        doc: dict[str, Any] = {
            "format": "tessera",
            "format_version": version,
            "producer": dict(PRODUCER),
            "graph": {
                "inputs": value,
                "outputs": out,
                "initializers": [initializer_doc(n, a, encoding) for n, a in self.initializers],
                "nodes": self.nodes,
            },
        }
        if description:
            doc["metadata"] = {"description": description}
        return doc


def dumps(doc: Any) -> str:
    """Deterministic JSON text: fixed key order as built, compact separators, one trailing newline."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"


def inputs_doc(inputs: dict[str, np.ndarray], encoding: str = "decimal") -> dict[str, Any]:
    return {"inputs": {name: tensor_doc(a, encoding) for name, a in inputs.items()}}


def outputs_doc(outputs: dict[str, np.ndarray]) -> dict[str, Any]:
    return {"outputs": {name: tensor_doc(a) for name, a in outputs.items()}}
