"""Write the conformance cases to disk from the Python reference runtime.

Deterministic: the same sources give the same bytes, so `check` can prove the
committed cases are exactly what the generator produces.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import tempfile
from pathlib import Path

from tessera import exporter, resources
from tessera.conformance.cases import Case, all_cases, inputs_text, model_text
from tessera.conformance.documents import dumps, outputs_doc
from tessera.exporter.errors import FORMAT_VERSION
from tessera.exporter.tensors import read_tensors

CASES_DIR = resources.path("conformance", "cases")


def expectation(case: Case) -> tuple[str, str]:
    """(file name, text) of the expected result, from the reference runtime."""
    try:
        model = exporter.load(model_text(case).encode("utf-8"), runtime="reference")
        inputs = read_tensors(inputs_text(case).encode("utf-8"), dtypes=model.input_dtypes)
        outputs = model.run(inputs)
    except exporter.ModelError as err:
        if case.reject is None:
            raise RuntimeError(f"case {case.name}: the reference rejects it: {err.code}: {err}") from err
        if err.code != case.reject:
            raise RuntimeError(f"case {case.name}: expected {case.reject}, "
                               f"reference says {err.code}: {err}") from err
        return "reject.json", dumps({"error": {"code": err.code}})
    if case.reject is not None:
        raise RuntimeError(f"case {case.name}: expected {case.reject}, the reference accepts it")
    return "expected.json", dumps(outputs_doc(outputs))


def write_cases(root: Path) -> int:
    root.mkdir(parents=True, exist_ok=True)
    manifest = []
    for case in all_cases():
        folder = root / case.name
        folder.mkdir()
        (folder / "model.json").write_text(model_text(case), encoding="utf-8")
        (folder / "inputs.json").write_text(inputs_text(case), encoding="utf-8")
        name, text = expectation(case)
        (folder / name).write_text(text, encoding="utf-8")
        manifest.append({"name": case.name, "tags": case.tags, "needs": case.needs, "ops": case.ops,
                         "expect": name})
    (root / "manifest.json").write_text(json.dumps({"format_version": FORMAT_VERSION, "cases": manifest}, indent=1)
                                        + "\n", encoding="utf-8")
    return len(manifest)


def generate(target: Path = CASES_DIR) -> int:
    """Rebuild the cases in a temporary folder, then swap it in whole."""
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fresh = Path(tmp) / "cases"
        count = write_cases(fresh)
        if target.exists():
            shutil.rmtree(target)
        fresh.rename(target)
    return count


def differences(target: Path = CASES_DIR) -> list[str]:
    """Files that differ between the committed cases and a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "cases"
        write_cases(fresh)
        return _diff_trees(fresh, target)


def _diff_trees(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    out = [f"only in fresh: {n}" for n in cmp.left_only] + [f"only committed: {n}" for n in cmp.right_only]
    out += [f"differs: {n}" for n in cmp.diff_files]
    for name in cmp.common_dirs:
        out += [f"{name}/{d}" for d in _diff_trees(a / name, b / name)]
    return out
