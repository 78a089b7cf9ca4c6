"""`--repeat N` on the C and JS CLIs: same protocol output, plus a median run time on stderr."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support import CASES_DIR

CASE = CASES_DIR / "model_seed_ae_digits_batch257"


@pytest.mark.parametrize("runtime", ["c", "js"])
def test_repeat_keeps_output_and_reports_median(runtime: str, request: pytest.FixtureRequest) -> None:
    command = request.getfixturevalue(f"{runtime}_runtime")
    files = [str(CASE / "model.json"), str(CASE / "inputs.json")]
    plain = subprocess.run(command + files, capture_output=True, text=True)
    timed = subprocess.run(command + ["--repeat", "3"] + files, capture_output=True, text=True)
    assert plain.returncode == timed.returncode == 0, timed.stderr
    assert timed.stdout == plain.stdout
    assert re.search(r"run median [0-9.]+ us over 3 runs", timed.stderr), timed.stderr


@pytest.mark.parametrize("runtime", ["c", "js"])
def test_bad_repeat_is_a_usage_error(runtime: str, request: pytest.FixtureRequest) -> None:
    command = request.getfixturevalue(f"{runtime}_runtime")
    files = [str(CASE / "model.json"), str(CASE / "inputs.json")]
    proc = subprocess.run(command + ["--repeat", "-1"] + files, capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr
