"""The model checker: SPEC §5 items 3-9, in exactly that order, first failure wins."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from tessera import resources
from tessera.exporter.errors import FORMAT_MAJOR, FORMAT_MINOR, FORMAT_VERSION, LIMITS, ModelError
from tessera.exporter.opset import DTYPE_SINCE, OPS, OpDef, version_tuple
from tessera.exporter.shapes import Shape, ShapeProblem, fmt
from tessera.exporter.tensors import (
    crc32_of,
    decode_b64,
    element_count,
    is_number,
    numbers_to_float32,
    numbers_to_int32,
)

SCHEMA_DIR = resources.path("schema", "v1")
_VERSION_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")


@cache
def schema_validator(name: str = "model.schema.json") -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


@dataclass
class Node:
    index: int
    op: str
    inputs: tuple[str, ...]
    output: str
    attrs: dict
    label: str
    opdef: OpDef = field(repr=False)  # the operator's registry row
    params: dict = field(default_factory=dict)  # attributes resolved against the operand ranks
    dtype: str = "float32"  # the output's dtype


@dataclass
class CheckedModel:
    doc: dict
    version: tuple[int, int]
    inputs: list[tuple[str, Shape]]
    outputs: list[tuple[str, Shape]]
    initializers: dict[str, np.ndarray]
    nodes: list[Node]
    shapes: dict[str, Shape]
    dtypes: dict[str, str]  # every value's dtype: inputs, initializers, node outputs


def node_label(i: int, node: object) -> str:
    if isinstance(node, dict):
        if isinstance(node.get("name"), str):
            return f"node {node['name']!r} (#{i}, {node.get('op')})"
        return f"node #{i} ({node.get('op')})"
    return f"node #{i}"


# ------------------------------------------------------------------ item 3: major version


def _version(doc: object) -> tuple[int, int] | None:
    text = doc.get("format_version") if isinstance(doc, dict) else None
    m = _VERSION_RE.match(text) if isinstance(text, str) else None
    if m is None:
        return None  # the schema reports it
    version = (int(m.group(1)), int(m.group(2)))
    if version[0] != FORMAT_MAJOR:
        raise ModelError("E_VERSION", f"file is format {text}; this runtime implements {FORMAT_VERSION}")
    return version


def _newer(version: tuple[int, int] | None) -> bool:
    return version is not None and version[1] > FORMAT_MINOR


def _version_error(version: tuple[int, int], what: str) -> ModelError:
    return ModelError(
        "E_VERSION",
        f"file is format {version[0]}.{version[1]}; this runtime implements {FORMAT_VERSION}: {what}",
    )


# ------------------------------------------------------------------ item 4: schema


def _where(doc: dict, path: list) -> str:
    """Name the node or tensor a schema error is about."""
    if len(path) >= 3 and path[0] == "graph" and isinstance(path[2], int):
        section, i = path[1], path[2]
        try:
            item = doc["graph"][section][i]
        except (KeyError, IndexError, TypeError):
            item = None
        if section == "nodes":
            return node_label(i, item)
        name = item.get("name") if isinstance(item, dict) else None
        kind = {"inputs": "input", "outputs": "output", "initializers": "initializer"}.get(section, section)
        return f"{kind} {name!r}" if isinstance(name, str) else f"{kind} #{i}"
    return "/".join(str(p) for p in path) or "document"


def _without_data(doc: object) -> object:
    """The document with initializer data arrays emptied: item types are checked by hand (fast)."""
    try:
        inits = doc["graph"]["initializers"]
        if not any(isinstance(t, dict) and isinstance(t.get("data"), list) and t["data"] for t in inits):
            return doc
    except (KeyError, TypeError):
        return doc
    slim = copy.copy(doc)
    slim["graph"] = copy.copy(doc["graph"])
    slim["graph"]["initializers"] = [
        {**t, "data": []} if isinstance(t, dict) and isinstance(t.get("data"), list) else t for t in inits
    ]
    return slim


def _schema_problem(doc: object) -> str | None:
    err = best_match(schema_validator().iter_errors(_without_data(doc)))
    if err is not None:
        return f"{_where(doc, list(err.absolute_path))}: {err.message}"
    for i, t in enumerate(doc["graph"]["initializers"]):
        data = t.get("data")
        if isinstance(data, list) and not set(map(type, data)) <= {float, int}:  # C-speed scan first
            for j, x in enumerate(data):
                if not is_number(x):
                    return f"{_where(doc, ['graph', 'initializers', i])}: data[{j}] is not a number"
    return _attr_problem(doc)


def _attr_problem(doc: dict) -> str | None:
    """Attribute values the schema cannot express but that do not depend on shapes (SPEC §6)."""
    for i, node in enumerate(doc["graph"]["nodes"]):
        opdef = OPS.get(node["op"])
        problem = opdef.check_attrs(node.get("attrs", {})) if opdef and opdef.check_attrs else None
        if problem is not None:
            return f"{node_label(i, node)}: {problem}"
    return None


def _check_schema(doc: object, version: tuple[int, int] | None) -> None:
    problem = _schema_problem(doc)
    if problem is None:
        _check_dtype_versions(doc["graph"], version)
        return
    if _newer(version):
        raise _version_error(version, f"{problem} (it may use something format {version[0]}.{version[1]} added)")
    raise ModelError("E_SCHEMA", problem)


def _stamp_error(what: str, since: str, version: tuple[int, int]) -> ModelError:
    return ModelError("E_VERSION", f"{what} needs format {since}; the file is stamped {version[0]}.{version[1]}")


def _check_dtype_versions(graph: dict, version: tuple[int, int]) -> None:
    """SPEC §2: a dtype newer than the file's stamp is E_VERSION, at the end of the schema step."""
    for key, kind in (("inputs", "input"), ("outputs", "output"), ("initializers", "initializer")):
        for t in graph[key]:
            since = DTYPE_SINCE[t["dtype"]]
            if version_tuple(since) > version:
                raise _stamp_error(f"{kind} {t['name']!r}: dtype {t['dtype']}", since, version)


# ------------------------------------------------------------------ item 5: limits


def _limit_shape(shape: list, what: str) -> None:
    if len(shape) > LIMITS.RANK:
        raise ModelError("E_LIMIT", f"{what}: rank {len(shape)} exceeds {LIMITS.RANK}")
    count = 1
    for d in shape:
        if is_number(d) and d >= 1:  # symbols and -1 do not count at check time
            if d > LIMITS.ELEMENTS:
                raise ModelError("E_LIMIT", f"{what}: dimension {d} exceeds {LIMITS.ELEMENTS}")
            count *= int(d)
            if count > LIMITS.ELEMENTS:
                raise ModelError("E_LIMIT", f"{what}: more than {LIMITS.ELEMENTS} elements")


def _limit_name(name: str, what: str) -> None:
    if len(name.encode("utf-8")) > LIMITS.NAME_BYTES:
        raise ModelError("E_LIMIT", f"{what}: name longer than {LIMITS.NAME_BYTES} bytes")


def _check_limits(graph: dict) -> None:
    for key, limit in (("inputs", LIMITS.GRAPH_INPUTS), ("outputs", LIMITS.GRAPH_OUTPUTS),
                       ("initializers", LIMITS.INITIALIZERS), ("nodes", LIMITS.NODES)):
        if len(graph[key]) > limit:
            raise ModelError("E_LIMIT", f"{len(graph[key])} {key} (limit {limit})")
    total = 0
    for key, kind in (("inputs", "input"), ("outputs", "output"), ("initializers", "initializer")):
        for t in graph[key]:
            what = f"{kind} {t['name'][:64]!r}"
            _limit_name(t["name"], what)
            _limit_shape(t["shape"], what)
            if key == "initializers":
                total += element_count(t["shape"])
                if total > LIMITS.TOTAL_INIT_ELEMENTS:
                    raise ModelError("E_LIMIT", f"{what}: initializers exceed {LIMITS.TOTAL_INIT_ELEMENTS} elements")
    for i, node in enumerate(graph["nodes"]):
        for name in (*node["inputs"], *node["outputs"]):
            _limit_name(name, node_label(i, node))
        opdef = OPS.get(node["op"])
        for attr in opdef.attributes if opdef else ():
            value = node.get("attrs", {}).get(attr.name)
            if attr.kind == "shape" and isinstance(value, list):
                _limit_shape(value, f"{node_label(i, node)}: {opdef.name} {attr.name}")


# ------------------------------------------------------------------ item 6: operators


def _check_ops(graph: dict, version: tuple[int, int]) -> None:
    for i, node in enumerate(graph["nodes"]):
        if node["op"] not in OPS:
            what = f"{node_label(i, node)}: unknown operator {node['op']!r}"
            if _newer(version):
                raise _version_error(version, what)
            raise ModelError("E_UNKNOWN_OP", f"{what} (format {FORMAT_VERSION})")
        since = OPS[node["op"]].since
        if version_tuple(since) > version:  # SPEC §2: an operator newer than the stamp
            raise _stamp_error(f"{node_label(i, node)}: op {node['op']}", since, version)


# ------------------------------------------------------------------ item 7: data


def _initializer_data(t: dict) -> np.ndarray:
    what = f"initializer {t['name']!r}"
    count = element_count(t["shape"])
    dtype = t["dtype"]
    if "data" in t:
        if len(t["data"]) != count:
            raise ModelError("E_DATA", f"{what}: {len(t['data'])} values, shape {t['shape']} needs {count}")
        if dtype == "int32":
            arr, bad_at = numbers_to_int32(t["data"])
            if bad_at is not None:
                raise ModelError("E_DATA", f"{what}: value #{bad_at} ({t['data'][bad_at]}) is not an int32 integer")
        else:
            arr = numbers_to_float32(t["data"])
    else:
        arr = decode_b64(t["data_b64"], dtype)
        if arr is None:
            raise ModelError("E_DATA", f"{what}: data_b64 is not valid base64")
        if arr.dtype == np.uint8 or arr.size != count:
            raise ModelError("E_DATA", f"{what}: data_b64 holds {arr.nbytes} bytes, shape needs {4 * count}")
    bad = np.flatnonzero(~np.isfinite(arr)) if dtype == "float32" else np.empty(0, np.intp)
    if bad.size:
        raise ModelError("E_DATA", f"{what}: value #{bad[0]} is not finite as float32 ({arr[bad[0]]})")
    if "checksum" in t and crc32_of(arr) != t["checksum"]:
        raise ModelError("E_DATA", f"{what}: checksum {t['checksum']} does not match data ({crc32_of(arr)})")
    return arr.reshape([int(d) for d in t["shape"]])


# ------------------------------------------------------------------ item 8: graph


def _check_graph(graph: dict) -> None:
    defined: set[str] = set()

    def define(name: str, what: str) -> None:
        if name in defined:
            raise ModelError("E_GRAPH", f"{what}: name {name!r} is defined more than once")
        defined.add(name)

    for t in graph["inputs"]:
        define(t["name"], f"input {t['name']!r}")
    for t in graph["initializers"]:
        define(t["name"], f"initializer {t['name']!r}")
    for i, node in enumerate(graph["nodes"]):
        for name in node["inputs"]:
            if name not in defined:
                raise ModelError("E_GRAPH", f"{node_label(i, node)}: input {name!r} is not defined before use")
        define(node["outputs"][0], node_label(i, node))
    seen: set[str] = set()
    for t in graph["outputs"]:
        if t["name"] not in defined:
            raise ModelError("E_GRAPH", f"output {t['name']!r} is not defined by the graph")
        if t["name"] in seen:
            raise ModelError("E_GRAPH", f"output {t['name']!r} is listed twice")
        seen.add(t["name"])


# ------------------------------------------------------------------ item 9: shapes


def _decl_shape(shape: list) -> Shape:
    return tuple(d if isinstance(d, str) else int(d) for d in shape)


def _fixed_count(shape: Shape) -> int:
    n = 1
    for d in shape:
        if isinstance(d, int):
            n *= d
    return n


def _infer_shapes(graph: dict, shapes: dict[str, Shape], dtypes: dict[str, str]) -> list[Node]:
    """Shapes and dtypes of every node output (SPEC §5 step 9); `shapes` and `dtypes` grow."""
    nodes = []
    for i, raw in enumerate(graph["nodes"]):
        label = node_label(i, raw)
        opdef = OPS[raw["op"]]
        node = Node(i, raw["op"], tuple(raw["inputs"]), raw["outputs"][0], dict(raw.get("attrs", {})),
                    label, opdef)
        attrs = opdef.with_defaults(node.attrs)
        try:
            node.dtype = opdef.dtype([dtypes[n] for n in node.inputs], attrs)
            out, node.params = opdef.shape([shapes[n] for n in node.inputs], attrs)
        except ShapeProblem as exc:
            raise ModelError("E_SHAPE", f"{label}: {exc}") from None
        if len(out) > LIMITS.RANK:
            raise ModelError("E_LIMIT", f"{label}: result {fmt(out)} has rank above {LIMITS.RANK}")
        if _fixed_count(out) > LIMITS.ELEMENTS:
            raise ModelError("E_LIMIT", f"{label}: result {fmt(out)} exceeds {LIMITS.ELEMENTS} elements")
        shapes[node.output] = out
        dtypes[node.output] = node.dtype
        nodes.append(node)
    for t in graph["outputs"]:
        declared, inferred = _decl_shape(t["shape"]), shapes[t["name"]]
        if t["dtype"] != dtypes[t["name"]]:
            raise ModelError("E_SHAPE", f"output {t['name']!r}: declared {t['dtype']}, inferred {dtypes[t['name']]}")
        if declared != inferred:
            raise ModelError("E_SHAPE", f"output {t['name']!r}: declared {fmt(declared)}, inferred {fmt(inferred)}")
    return nodes


# ------------------------------------------------------------------ the whole check


def check(doc: object) -> CheckedModel:
    """Check a parsed model document (SPEC §5 items 3-9). Raises ModelError with the first failure."""
    version = _version(doc)
    _check_schema(doc, version)
    graph = doc["graph"]
    _check_limits(graph)
    _check_ops(graph, version)
    initializers = {t["name"]: _initializer_data(t) for t in graph["initializers"]}
    _check_graph(graph)
    shapes: dict[str, Shape] = {t["name"]: _decl_shape(t["shape"]) for t in graph["inputs"]}
    shapes.update({name: arr.shape for name, arr in initializers.items()})
    dtypes = {t["name"]: t["dtype"] for t in (*graph["inputs"], *graph["initializers"])}
    nodes = _infer_shapes(graph, shapes, dtypes)
    return CheckedModel(
        doc=doc,
        version=version,
        inputs=[(t["name"], _decl_shape(t["shape"])) for t in graph["inputs"]],
        outputs=[(t["name"], _decl_shape(t["shape"])) for t in graph["outputs"]],
        initializers=initializers,
        nodes=nodes,
        shapes=shapes,
        dtypes=dtypes,
    )
