"""Every runtime's CLI says the same thing about the same bad inputs file (SPEC 9): the code is
E_INPUT and the message names the problem in the same words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import CASES_DIR, ROOT

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


def test_python_cli_stops_quietly_when_the_reader_goes_away() -> None:
    """`tessera check model.json | head`: no BrokenPipeError traceback, the SIGPIPE exit status.
    The reader is gone before the first write (stdout is a pipe whose read end is closed)."""
    script = ("import os, sys\n"
              "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
              "from tessera import cli\n"
              f"sys.exit(cli.main(['check', {str(MODEL)!r}]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
