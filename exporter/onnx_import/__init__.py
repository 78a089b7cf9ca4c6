"""Import an ONNX model (opsets 13 to 21) as a format document: `tessera import MODEL.onnx -o model.json`.

    from tessera import exporter
    doc = exporter.from_onnx("model.onnx")          # a checked document (dict); also ONNX bytes
    exporter.load(doc).run({"input": x})

Modules: `reader` (bytes -> checked ModelProto, tensors -> float32/int32 where exact), `graph` (the format
graph being built, shapes inferred by the registry's rules as nodes are added), `mapping` (the table: one row
per ONNX op type), `passes` (exact rewrites back to the format's own operators, dead code). The imported
document's bits are defined by the format (SPEC §7) on the imported graph, not by ONNX, which leaves
rounding order, FMA and its exp/log to each runtime; exporter/README.md lists each mapping and where it
changes arithmetic (Gemm with alpha or beta != 1, BatchNormalization folding).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tessera.exporter.check import check
from tessera.exporter.errors import ModelError
from tessera.exporter.jsonio import atomic_write, format_float32_array
from tessera.exporter.onnx_import.graph import Graph, Val
from tessera.exporter.onnx_import.mapping import TABLE, Ctx
from tessera.exporter.onnx_import.passes import PASSES
from tessera.exporter.onnx_import.reader import (
    OPSET_MAX,
    OPSET_MIN,
    declared_dtype,
    default_opset,
    elem_name,
    read_model,
    symbol,
    tensor_array,
)
from tessera.exporter.opset import covering_version
from tessera.exporter.tensors import crc32_of, encode_b64

__all__ = ["OPSET_MAX", "OPSET_MIN", "TABLE", "from_onnx", "save"]

PRODUCER = "tessera onnx_import"


def _label(node: Any, i: int) -> str:
    return f"ONNX node {node.name!r} ({node.op_type})" if node.name else f"ONNX node #{i} ({node.op_type})"


def _check_supported(proto: Any, opset: int) -> None:
    """Every node's op type must have a row (E_UNKNOWN_OP listing all that do not), and every attribute it
    carries must be one its row reads (E_SCHEMA listing each node and attribute)."""
    unknown, attrs = [], []
    for i, node in enumerate(proto.graph.node):
        row = TABLE.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if row is None or not row.since <= opset <= row.until:
            domain = f"{node.domain}." if node.domain else ""
            unknown.append(f"{domain}{node.op_type} (node {node.name or '#' + str(i)!r}, opset {opset})")
            continue
        attrs += [f"{_label(node, i)}: attribute {a.name!r}" for a in node.attribute if a.name not in row.attrs]
    if unknown:
        raise ModelError("E_UNKNOWN_OP", f"{len(unknown)} ONNX node(s) have no mapping to the format: "
                                         + "; ".join(unknown))
    if attrs:
        raise ModelError("E_SCHEMA", "unsupported attribute(s): " + "; ".join(attrs))


def _declared(value: Any, g: Graph, anonymous: list[int]) -> tuple[tuple, str]:
    t = value.type
    if not t.HasField("tensor_type"):
        raise ModelError("E_SCHEMA", f"graph value {value.name!r} is not a tensor")
    dtype = declared_dtype(t.tensor_type.elem_type)
    if dtype is None:
        kind = elem_name(t.tensor_type.elem_type)
        raise ModelError("E_SCHEMA", f"graph value {value.name!r} is {kind}; the format's dtypes are float32 and "
                                     "int32 (INT64 and BOOL become int32)")
    dims: list = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            if d.dim_value < 1:
                raise ModelError("E_SHAPE", f"graph value {value.name!r} has a dimension {d.dim_value}")
            dims.append(int(d.dim_value))
        elif d.dim_param:
            dims.append(symbol(d.dim_param))
        else:  # an unnamed dimension: a fresh symbol
            anonymous[0] += 1
            dims.append(f"d{anonymous[0]}")
    return tuple(dims), dtype


def _outputs(proto: Any, g: Graph, vals: dict[str, Val]) -> None:
    """Each ONNX graph output names a format value under its own name: the node that wrote it is renamed when
    nothing else claims that value, else a Reshape to the same shape copies it."""
    inputs = {i["name"] for i in g.inputs}
    for out in proto.graph.output:
        v = vals[out.name]
        what = f"graph output {out.name!r}"
        name = g.operand(v, what)
        claimed = {o["name"] for o in g.outputs}
        if name != g.clean(out.name) or name in claimed:
            wanted = g.fresh(out.name)
            if g.producer().get(name) is not None and name not in inputs and name not in claimed:
                _rename(g, name, wanted)
                name = wanted
            else:
                g.nodes.append({"op": "Reshape", "inputs": [name], "outputs": [wanted],
                                "attrs": {"shape": list(g.shapes[name])}})
                g.shapes[wanted], g.dtypes[wanted] = g.shapes[name], g.dtypes[name]
                name = wanted
        g.outputs.append({"name": name, "dtype": g.dtypes[name], "shape": list(g.shapes[name])})


def _rename(g: Graph, old: str, new: str) -> None:
    g.taken.add(new)
    for n in g.nodes:
        n["inputs"] = [new if i == old else i for i in n["inputs"]]
        n["outputs"] = [new if o == old else o for o in n["outputs"]]
    g.shapes[new], g.dtypes[new] = g.shapes.pop(old), g.dtypes.pop(old)


def _build(proto: Any, base: Path | None, opset: int, round_float64: bool) -> Graph:
    g = Graph(round_float64=round_float64)
    vals: dict[str, Val] = {}
    for t in proto.graph.initializer:
        vals[t.name] = Val(const=tensor_array(t, base), hint=t.name)
    anonymous = [0]
    for value in proto.graph.input:
        if value.name not in vals:
            shape, dtype = _declared(value, g, anonymous)
            vals[value.name] = g.add_input(value.name, shape, dtype)
    for value in proto.graph.output:
        _declared(value, g, anonymous)  # a dtype the format cannot hold is refused up front
    consumers: dict[str, int] = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    for out in proto.graph.output:
        consumers[out.name] = consumers.get(out.name, 0) + 1
    import onnx

    for i, node in enumerate(proto.graph.node):
        row = TABLE[node.op_type]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        cx = Ctx(g, opset, _label(node, i), node.output[0] if node.output else f"t{i}", node.name or None, consumers,
                 list(node.input))
        ins = [vals[n] if n else None for n in node.input]
        outs = row.convert(cx, ins, attrs)
        for j, name in enumerate(node.output):
            if not name:
                continue
            got = outs[j] if j < len(outs) else None
            if got is None:
                if consumers.get(name):
                    raise cx.fail("E_SCHEMA", f"output {j} ({name!r}) is used; the format has no equivalent")
                continue
            vals[name] = got
    _outputs(proto, g, vals)
    for rewrite in PASSES:
        rewrite(g)
    return g


def _tensor(name: str, arr: np.ndarray, b64: bool) -> dict:
    dtype = "int32" if arr.dtype == np.int32 else "float32"
    out: dict = {"name": name, "dtype": dtype, "shape": list(arr.shape)}
    if b64:
        out["data_b64"] = encode_b64(arr)
    elif dtype == "int32":
        out["data"] = [int(v) for v in arr.ravel()]
    else:  # the shortest decimal that reads back as this float32 (SPEC §3); json prints that double exactly
        out["data"] = [float(t) for t in format_float32_array(arr)]
    out["checksum"] = crc32_of(arr)
    return out


def from_onnx(source: str | os.PathLike | bytes | bytearray, *, encoding: str = "decimal",
              round_float64: bool = False) -> dict:
    """The format document (checked) of an ONNX model file or its bytes.

    Raises ModelError: E_LIMIT (file size), E_PARSE (not an ONNX protobuf), E_SCHEMA (onnx.checker fails, an
    attribute or dtype the importer does not map), E_VERSION (opset outside 13..21), E_UNKNOWN_OP (listing
    every node without a mapping), E_DATA (a tensor the format cannot hold exactly), E_SHAPE (operands the
    format's operator rejects); ImportError naming `pip install onnx` without onnx."""
    if encoding not in ("decimal", "base64"):
        raise ValueError(f"encoding must be 'decimal' or 'base64', not {encoding!r}")
    proto, base = read_model(source)
    opset = default_opset(proto)
    _check_supported(proto, opset)
    g = _build(proto, base, opset, round_float64)
    from tessera.exporter import __version__

    dtypes = [v["dtype"] for v in (*g.inputs, *g.outputs)] + [g.dtypes[n] for n in g.initializers]
    source_producer = f"{proto.producer_name} {proto.producer_version}".strip()
    doc = {
        "format": "tessera",
        "format_version": covering_version((n["op"] for n in g.nodes), dtypes),
        "producer": {"name": PRODUCER, "version": __version__},
        "metadata": {"description": proto.doc_string or f"imported from ONNX ({proto.graph.name})",
                     "onnx": {"opset": opset, "ir_version": proto.ir_version, "producer": source_producer}},
        "graph": {
            "inputs": g.inputs,
            "outputs": g.outputs,
            "initializers": [_tensor(n, a, encoding == "base64") for n, a in g.initializers.items()],
            "nodes": g.nodes,
        },
    }
    doc = json.loads(json.dumps(doc, allow_nan=False))
    check(doc)
    return doc


def save(doc: dict, path: str | os.PathLike) -> int:
    """Write the document atomically; returns the byte count."""
    text = json.dumps(doc, indent=1, ensure_ascii=True, allow_nan=False) + "\n"
    atomic_write(path, text)
    return len(text.encode())
