"""The README's seed example runs as written, and its model gives the same bits in C and JS."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_readme_seed_example_runs_and_runtimes_agree(tmp_path: Path, python_runtime: list[str], c_runtime: list[str],
                                                     js_runtime: list[str]) -> None:
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## The seed program, with Tessera\n\n```python\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "seed.py").write_text(code)
    subprocess.run([sys.executable, "seed.py"], cwd=tmp_path, check=True, timeout=300)
    files = [str(tmp_path / "model.json"), str(tmp_path / "inputs.json")]
    outputs = [
        subprocess.run(cmd + files, capture_output=True, text=True, check=True).stdout
        for cmd in (python_runtime, c_runtime, js_runtime)
    ]
    import json

    from tessera.conformance.compare import compare

    expect = json.loads(outputs[0])
    assert "x_hat" in expect["outputs"]
    for out in outputs[1:]:
        assert compare(expect, out, 0) == ("pass", "")
