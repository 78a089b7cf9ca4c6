"""`export(outputs, inputs, path)`: a trainer graph to a format v1 document, deterministic and atomic."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from tessera.exporter import symdims
from tessera.exporter.check import check
from tessera.exporter.errors import ModelError
from tessera.exporter.graph_passes import PASSES as GRAPH_PASSES
from tessera.exporter.jsonio import atomic_write, format_float32_array, parse_json
from tessera.exporter.lowering import ExportError, Lowering, Names, Value, describe
from tessera.exporter.opset import OPS, covering_version
from tessera.exporter.tensors import crc32_of, dtype_name, encode_b64

__all__ = ["ExportError", "export", "export_text"]


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _optimize(outputs: list) -> list:
    """The trainer's stabilised forward graph (log(sigmoid) -> softplus ...), with the gradient-only ops of a
    gradient graph (a saliency map `T.grad(score, x)`) in their forward forms, when the trainer has rewrites."""
    try:
        from tessera.trainer.rewrites import for_export
    except ImportError:
        return outputs
    return list(for_export(outputs))


def _lower(outputs: list, inputs: list, rewrite: bool) -> Lowering:
    optimized = _optimize(outputs) if rewrite else outputs
    names = Names()
    lowering = Lowering(inputs, {}, names)
    out_names = [names.user(getattr(o, "name", None), "y") for o in outputs]
    for opt, name in zip(optimized, out_names, strict=True):
        lowering.output_names.setdefault(id(opt), name)
    lowering.lower(optimized)
    for opt, name in zip(optimized, out_names, strict=True):
        value = lowering.values[id(opt)]
        if value.name != name:  # an input, a weight, or a value already given another output name
            value = lowering.reshape_to(value, value.shape)
            lowering.graph.nodes[-1]["outputs"] = [name]
            value = Value(name, value.shape, value.dtype)
        lowering.graph.outputs.append(value)
    for run_pass in GRAPH_PASSES:  # exact, unlike the trainer's rewrites: they run whatever `rewrite` says
        run_pass(lowering.graph)
    return lowering


def _shape(shape: tuple) -> list:
    return [symdims.final(d) for d in shape]


def _initializer(name: str, arr: np.ndarray, b64: bool, blobs: list[str]) -> dict:
    dtype = dtype_name(arr)
    out: dict = {"name": name, "dtype": dtype, "shape": list(arr.shape)}
    if b64:
        out["data_b64"] = encode_b64(arr)
    else:
        texts = [str(v) for v in arr.ravel().tolist()] if dtype == "int32" else format_float32_array(arr)
        blobs.append("[" + ",".join(texts) + "]")
        out["data"] = f"@@tessera-data-{len(blobs) - 1}@@"  # spliced in after json.dumps
    out["checksum"] = crc32_of(arr)
    return out


def _node(node: dict) -> dict:
    """Attributes of kind "shape" (Reshape's target) may hold DimVars: named symbols or ints here."""
    dims = [a.name for a in OPS[node["op"]].attributes if a.kind == "shape" and a.name in node.get("attrs", {})]
    if dims:
        node = {**node, "attrs": {**node["attrs"], **{k: _shape(tuple(node["attrs"][k])) for k in dims}}}
    return node


def _version(g: Any) -> str:
    """The lowest version covering every op and dtype used (SPEC §2: a 1.0-only model stays 1.0)."""
    dtypes = [v.dtype for v in (*g.inputs, *g.outputs)] + [dtype_name(a) for _, a in g.initializers]
    return covering_version((n["op"] for n in g.nodes), dtypes)


def export_text(outputs: Any, inputs: Any, *, encoding: str = "decimal", metadata: dict | None = None,
                producer: dict | None = None, rewrite: bool = True) -> str:
    """The document text `export` writes (no file I/O)."""
    if encoding not in ("decimal", "base64"):
        raise ValueError(f"encoding must be 'decimal' or 'base64', not {encoding!r}")
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    g = _lower(outputs, inputs, rewrite).graph
    symdims.name_symbols([v.shape for v in g.inputs])
    blobs: list[str] = []
    try:
        doc = {
            "format": "tessera",
            "format_version": _version(g),
            "producer": producer or {"name": "tessera", "version": _package_version()},
            **({"metadata": metadata} if metadata is not None else {}),
            "graph": {
                "inputs": [{"name": v.name, "dtype": v.dtype, "shape": _shape(v.shape)} for v in g.inputs],
                "outputs": [{"name": v.name, "dtype": v.dtype, "shape": _shape(v.shape)} for v in g.outputs],
                "initializers": [_initializer(n, a, encoding == "base64", blobs) for n, a in g.initializers],
                "nodes": [_node(n) for n in g.nodes],
            },
        }
    except symdims.ShapeProblem as exc:
        raise ExportError(str(exc)) from None
    text = json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=True, allow_nan=False)
    for i, blob in enumerate(blobs):
        text = text.replace(f'"@@tessera-data-{i}@@"', blob, 1)
    return text + "\n"


def _package_version() -> str:
    from tessera.exporter import __version__

    return __version__


def export(outputs: Any, inputs: Any, path: str | os.PathLike | None = None, *, encoding: str = "decimal",
           metadata: dict | None = None, producer: dict | None = None, rewrite: bool = True) -> dict:
    """Export the forward graph from `inputs` to `outputs` (trainer Variables) as format v1.

    Shared variables become initializers (current values, each stored once however it is used),
    constants become initializers, ops are lowered to v1 primitives. The document is re-read and
    checked before anything is written; with `path` it is written atomically. Returns the document.
    Raises ExportError for graphs v1 cannot express (the message names the op and variable).
    """
    text = export_text(outputs, inputs, encoding=encoding, metadata=metadata, producer=producer, rewrite=rewrite)
    try:
        doc = parse_json(text)
        check(doc)
    except ModelError as exc:  # an exporter bug: never write a file the runtimes would reject
        raise ExportError(f"internal error: the exported document fails the checker: {exc}") from None
    if path is not None:
        atomic_write(path, text)
    return doc


# `describe` is re-exported for messages in callers (cli_export).
__all__ += ["describe"]
