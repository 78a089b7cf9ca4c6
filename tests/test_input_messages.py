"""Every runtime's CLI says the same thing about the same bad inputs file (SPEC 9): the code is
E_INPUT and the message names the problem in the same words."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import CASES_DIR

MODEL = CASES_DIR / "model_seed_ae_digits_batch1" / "model.json"


@pytest.mark.parametrize("runtime", ["python", "c", "js"])
@pytest.mark.parametrize("nested", [[[0.0] * 8] * 8, [{"v": 0.0}] * 64])
def test_nested_data_is_one_clear_message(runtime: str, nested: list, request: pytest.FixtureRequest,
                                          tmp_path: Path) -> None:
    command = request.getfixturevalue(f"{runtime}_runtime")
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"inputs": {"x": {"shape": [1, 64], "data": nested}}}))
    done = subprocess.run([*command, str(MODEL), str(inputs)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "E_INPUT"
    assert "data must be a flat row-major list" in error["message"], error["message"]
