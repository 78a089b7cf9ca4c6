"""Fixtures shared by the suites: the runtimes' command lines, built before use.

The commands are the conformance runner's own table (`conformance.runner.builtin_runtimes`), so a
test starts exactly the program that `tessera conformance run --runtime NAME` starts. A runtime
that cannot be built or found fails the test that needs it: nothing here skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tessera.conformance.runner import builtin_runtimes
from tests.support import ROOT

# The suites' expected values come from the reference runtime: exporter.load() without runtime= runs
# it here (elsewhere the default is the native runtime where it is built, which would make the C
# runtime its own oracle). Tests of the native runtime ask for it by name.
os.environ["TESSERA_RUNTIME"] = "reference"

@pytest.fixture(scope="session")
def c_runtime() -> list[str]:
    """`tessera-run` of the C runtime, rebuilt first if its sources changed (make is incremental)."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "runtimes" / "c")], check=True)
    return builtin_runtimes()["c"]


@pytest.fixture(scope="session")
def js_runtime() -> list[str]:
    """`node runtimes/js/bin/tessera-run.js`."""
    assert shutil.which("node"), "these tests need Node.js (`node`) on PATH"
    return builtin_runtimes()["js"]


@pytest.fixture(scope="session")
def python_runtime() -> list[str]:
    """`python -m tessera run`, the reference runtime's CLI."""
    return builtin_runtimes()["python"]
