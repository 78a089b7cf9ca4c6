"""The operator registry (exporter/opset.py) agrees with the SPEC §6 table and the JSON Schema, every
row names emitters that exist, and no other module keeps its own list of operator names."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tessera import exporter
from tessera.exporter import c_codegen, lowering, onnx_export
from tessera.exporter.check import SCHEMA_DIR
from tessera.exporter.errors import FORMAT_MAJOR, FORMAT_MINOR, FORMAT_VERSION, ModelError
from tessera.exporter.opset import ATTR_SCHEMA, BY_TRAINER, OPS, UNKNOWN_ATTR, OpDef, covering_version
from tests.support import doc_for

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = {"matmul", "broadcast", "elementwise", "softmax", "reduce", "transpose", "reshape",
            "compare", "logic", "where", "cast", "gather", "concat", "slice", "argreduce", "conv", "pool"}


def schema_branches() -> dict[str, dict]:
    """Operator name -> the `then` of the node schema's branch for it (a branch may name several)."""
    schema = json.loads((SCHEMA_DIR / "model.schema.json").read_text(encoding="utf-8"))
    out: dict[str, dict] = {}
    for branch in schema["$defs"]["node"]["allOf"]:
        cond = branch["if"]["properties"]["op"]
        for name in cond.get("enum", [cond.get("const")]):
            assert name not in out, f"{name} has two schema branches"
            out[name] = branch["then"]
    return out


def test_schema_has_one_branch_per_registry_op() -> None:
    assert sorted(schema_branches()) == sorted(OPS)


@pytest.mark.parametrize("op", list(OPS))
def test_schema_branch_matches_the_row(op: str) -> None:
    row, then = OPS[op], schema_branches()[op]
    assert then["properties"]["inputs"] == {"minItems": row.min_arity, "maxItems": row.max_arity}
    attrs = then["properties"]["attrs"]
    assert attrs["type"] == "object" and attrs["additionalProperties"] is False
    assert attrs["properties"] == {a.name: ATTR_SCHEMA[a.kind] for a in row.attributes}
    required = [a.name for a in row.attributes if a.required]
    assert attrs.get("required", []) == required
    assert then.get("required", []) == (["attrs"] if required else [])


def spec_table() -> list[tuple[list[str], list[str], str]]:
    """(op names, attribute names, since) of each row of the SPEC §6 operator table, in order."""
    text = (ROOT / "schema" / "SPEC.md").read_text(encoding="utf-8")
    section = text[text.index("## 6. Operators"):text.index("## 7. ")]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append((re.findall(r"`(\w+)`", cells[0]), re.findall(r"`(\w+)`", cells[2]), cells[-1]))
    return rows


def test_spec_table_lists_the_registry_ops_in_order() -> None:
    assert [op for names, _, _ in spec_table() for op in names] == list(OPS)


def test_spec_table_attributes_and_versions_match() -> None:
    for names, attrs, since in spec_table():
        for op in names:
            assert attrs == list(OPS[op].attrs), op
            assert since == OPS[op].since, op


@pytest.mark.parametrize("op", list(OPS))
def test_row_names_emitters_that_exist(op: str) -> None:
    row = OPS[op]
    assert row.family in FAMILIES
    assert all(a.kind in ATTR_SCHEMA for a in row.attributes)
    # A 1.1 row may have no generated-C or ONNX mapping yet (None); a named one must exist.
    assert row.c is not None or row.since != "1.0", op
    assert row.onnx is not None or row.since != "1.0", op
    if row.c is not None:
        assert callable(getattr(c_codegen._Emitter, f"_op_{row.c.how}", None)), row.c
    if row.onnx is not None:
        assert row.onnx.how in onnx_export.EMITTERS, row.onnx
    if row.lower is not None:
        assert callable(getattr(lowering.Lowering, f"lower_{row.lower.how}", None)), row.lower
    assert re.fullmatch(r"6|7\.[1-9][0-9]?", row.spec)


def test_every_op_is_within_the_implemented_version() -> None:
    """An op of a new minor version comes with FORMAT_VERSION (exporter/errors.py) raised to it."""
    newest = covering_version(OPS)
    assert tuple(map(int, newest.split("."))) <= (FORMAT_MAJOR, FORMAT_MINOR), (newest, FORMAT_VERSION)


def test_trainer_ops_map_to_one_format_op_each() -> None:
    lowered = [d for d in OPS.values() if d.lower is not None]
    assert len(BY_TRAINER) == len(lowered)


_OPERAND = {"float32": "x", "int32": "i"}  # one graph input per operand dtype


def _square_doc(row: OpDef, attrs: dict) -> dict:
    dtypes, shape = row.operand_dtypes, list(row.example_shape)
    out, _ = row.shape([tuple(shape)] * len(dtypes), row.with_defaults(row.example))
    out_dtype = row.dtype(list(dtypes), row.with_defaults(row.example))
    node = {"op": row.name, "inputs": [_OPERAND[d] for d in dtypes], "outputs": ["y"], "attrs": attrs}
    doc = doc_for([node], [(_OPERAND[d], shape) for d in dict.fromkeys(dtypes)], [("y", list(out))])
    for value in doc["graph"]["inputs"]:
        value["dtype"] = "int32" if value["name"] == "i" else "float32"
    doc["graph"]["outputs"][0]["dtype"] = out_dtype
    doc["format_version"] = covering_version([row.name], dtypes)
    return doc


@pytest.mark.parametrize("op", list(OPS))
def test_example_runs_and_every_bad_value_is_rejected(op: str) -> None:
    """The samples the conformance generator turns into must-reject cases (conformance/cases.py)."""
    row = OPS[op]
    doc = _square_doc(row, row.example)
    feeds = {"x": np.ones(row.example_shape, np.float32), "i": np.ones(row.example_shape, np.int32)}
    exporter.load(doc).run({v["name"]: feeds[v["name"]] for v in doc["graph"]["inputs"]})
    label, key, value = UNKNOWN_ATTR
    samples = [({**row.example, key: value}, "E_SCHEMA")]
    for attr in row.attributes:
        assert attr.bad, f"{op}.{attr.name} lists no rejected value"
        samples += [({**row.example, attr.name: bad}, code) for _, bad, code in attr.bad]
    for attrs, code in samples:
        with pytest.raises(ModelError) as info:
            exporter.load(_square_doc(row, attrs))
        assert info.value.code == code, (attrs, info.value)


# ---------------------------------------------------------------- one list of names

# Modules that must dispatch through registry rows: no comparison with an operator name and no
# list, set or dict holding several. Constructing one node of a named op is fine.
# graph_passes.py is exempt: each of its rewrites is a pattern over named ops (Conv2D then Add).
MODULES = sorted(p for p in [*(ROOT / "exporter").glob("*.py"), *(ROOT / "conformance").glob("*.py")]
                 if p.name != "graph_passes.py")
ALLOWED = {"BROADCAST_SAMPLES"}  # conformance/cases.py: the two ops the broadcasting forms are tried on


def _op_names_in(node: ast.AST) -> list[str]:
    elts = [*node.keys, *node.values] if isinstance(node, ast.Dict) else node.elts
    return [e.value for e in elts if isinstance(e, ast.Constant) and e.value in OPS]


def op_name_lists(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    allowed = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id in ALLOWED for t in n.targets)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            names = [c.value for c in (node.left, *node.comparators) if isinstance(c, ast.Constant) and c.value in OPS]
            if names:
                found.append(f"{path.name}:{node.lineno}: compares with {names}")
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)) and id(node) not in allowed:
            names = _op_names_in(node)
            if len(names) >= 2:
                found.append(f"{path.name}:{node.lineno}: lists {names}")
    return found


@pytest.mark.parametrize("path", [p for p in MODULES if p.name != "opset.py"], ids=lambda p: p.name)
def test_no_module_keeps_its_own_op_list(path: Path) -> None:
    assert op_name_lists(path) == []


def test_the_op_list_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('UNARY = ["Neg", "Exp"]\nif op == "Reshape":\n    pass\n')
    assert len(op_name_lists(bad)) == 2
