"""`--repeat N` on the C and JS CLIs: same protocol output, plus a median run time on stderr."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CASE = REPO / "conformance" / "cases" / "model_seed_ae_digits_batch257"
COMMANDS = {
    "c": [str(REPO / "runtimes" / "c" / "build" / "tessera-run")],
    "js": ["node", str(REPO / "runtimes" / "js" / "bin" / "tessera-run.js")],
}


@pytest.mark.parametrize("runtime", sorted(COMMANDS))
def test_repeat_keeps_output_and_reports_median(runtime: str) -> None:
    files = [str(CASE / "model.json"), str(CASE / "inputs.json")]
    plain = subprocess.run(COMMANDS[runtime] + files, capture_output=True, text=True)
    timed = subprocess.run(COMMANDS[runtime] + ["--repeat", "3"] + files, capture_output=True, text=True)
    assert plain.returncode == timed.returncode == 0, timed.stderr
    assert timed.stdout == plain.stdout
    assert re.search(r"run median [0-9.]+ us over 3 runs", timed.stderr), timed.stderr


@pytest.mark.parametrize("runtime", sorted(COMMANDS))
def test_bad_repeat_is_a_usage_error(runtime: str) -> None:
    files = [str(CASE / "model.json"), str(CASE / "inputs.json")]
    proc = subprocess.run(COMMANDS[runtime] + ["--repeat", "-1"] + files, capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr
