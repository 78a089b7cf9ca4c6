"""The op tables of every language name the same ops, with the same arity and attribute keys.

One table per op and language: the Python registry (`exporter.opset.OPS`), the C runtime's
static op table (`tessera-run --ops`), the JS runtime's `OPS` (`tessera-run.js --ops`), the wasm
exports the JS rows name (against the committed module's real exports) and the JSON Schema's per-op
branches. A new op that one of them lacks, or an attribute key spelled differently, fails here.
"""

from __future__ import annotations

import json
import subprocess

from tessera.exporter.opset import OPS
from tests.support import ROOT

WASM_EXPORTS = ROOT / "runtimes" / "js" / "tools" / "wasm-exports.js"
SCHEMA = ROOT / "schema" / "v1" / "model.schema.json"

# (name, arity, sorted attribute keys), in table order; arity is the input count, or (min, max) for a
# variadic op, which the C and JS `--ops` print as `"arity": [min, max]`.
Table = list[tuple[str, int | tuple[int, int], tuple[str, ...]]]


def python_table() -> Table:
    return [(name, d.arity, tuple(sorted(d.attrs))) for name, d in OPS.items()]


def _arity(value: int | list[int]) -> int | tuple[int, int]:
    """`--ops` arity: an integer, or [min, max] only when they differ."""
    if isinstance(value, list):
        assert len(value) == 2 and value[0] < value[1], f"arity {value}: [min, max] with min < max"
        return (value[0], value[1])
    return value


def _listed(command: list[str]) -> Table:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stderr}"
    doc = json.loads(done.stdout)
    return [(row["name"], _arity(row["arity"]), tuple(row["attrs"])) for row in doc["ops"]]


def schema_table() -> Table:
    """(op, arity, attribute keys) from each `if op ... then ...` branch of the node schema."""
    node = json.loads(SCHEMA.read_text(encoding="utf-8"))["$defs"]["node"]
    rows: Table = []
    for branch in node["allOf"]:
        op = branch["if"]["properties"]["op"]
        names = [op["const"]] if "const" in op else list(op["enum"])
        then = branch["then"]["properties"]
        low, high = then["inputs"]["minItems"], then["inputs"]["maxItems"]
        arity = low if low == high else (low, high)
        attrs = tuple(sorted(then["attrs"]["properties"]))
        rows += [(name, arity, attrs) for name in names]
    return rows


def _diff(ours: Table, theirs: Table) -> str:
    a, b = set(ours), set(theirs)
    return f"only in the Python registry: {sorted(a - b)}; only in the other table: {sorted(b - a)}"


def test_registry_is_not_empty() -> None:
    assert len(OPS) >= 23 and "MatMul" in OPS


def test_c_op_table_matches_registry(c_runtime: list[str]) -> None:
    c = _listed([*c_runtime, "--ops"])
    assert c == python_table(), _diff(python_table(), c)


def test_js_op_table_matches_registry(js_runtime: list[str]) -> None:
    js = _listed([*js_runtime, "--ops"])
    assert js == python_table(), _diff(python_table(), js)


def test_schema_op_branches_match_registry() -> None:
    schema = schema_table()
    assert sorted(schema) == sorted(python_table()), _diff(python_table(), schema)
    node = json.loads(SCHEMA.read_text(encoding="utf-8"))["$defs"]["node"]
    branches = [b["if"]["properties"]["op"] for b in node["allOf"]]
    named = [n for op in branches for n in ([op["const"]] if "const" in op else op["enum"])]
    assert len(named) == len(set(named)), "an op has two schema branches"


def test_wasm_module_exports_what_the_js_rows_name() -> None:
    named = subprocess.run(["node", str(WASM_EXPORTS)], capture_output=True, text=True, timeout=60, check=True)
    wanted = set(named.stdout.split())
    assert wanted, "the JS OPS table names no wasm export"
    actual = json.loads(subprocess.run(["node", str(WASM_EXPORTS), "--module"], capture_output=True, text=True,
                                       timeout=60, check=True).stdout)["exports"]
    assert wanted <= set(actual), f"named by OPS rows but not exported by the module: {sorted(wanted - set(actual))}"

