"""Run every case through a command that speaks the runtime CLI protocol.

`RUN MODEL.json INPUTS.json` must print one JSON document (SPEC section 9).
Cases run in parallel with a per-case timeout; results feed the table and
the JUnit report. The python-native runtime runs in this process instead (the
same document from `tessera run --runtime native`'s own function), in threads,
which spares a Python start per case; the C code it calls releases the GIL.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tessera import resources
from tessera.conformance.compare import compare

REPO = Path(__file__).resolve().parent.parent
CASES_DIR = resources.path("conformance", "cases")


# A runtime is a command line, or a function (model path, inputs path) -> (exit status, stdout).
Runtime = list[str] | Callable[[str, str], tuple[int, str]]


def _run_native(model: str, inputs: str) -> tuple[int, str]:
    from tessera.exporter.cli_run import run_files

    return run_files(model, inputs, runtime="native")


def builtin_runtimes() -> dict[str, Runtime]:
    """Our runtimes by name: the command and the environment that selects a kernel path."""
    node_cli = str(REPO / "runtimes" / "js" / "bin" / "tessera-run.js")
    return {
        "python": [sys.executable, "-m", "tessera", "run"],
        "python-native": _run_native,  # as a command: python -m tessera run --runtime native
        "c": [str(REPO / "runtimes" / "c" / "build" / "tessera-run")],
        "js": ["node", node_cli],
        "js-purejs": ["env", "TESSERA_KERNELS=js", "node", node_cli],
        "js-wasm": ["env", "TESSERA_KERNELS=wasm", "node", node_cli],
    }


def resolve_runtime(spec: str) -> tuple[str, Runtime]:
    """A built-in name, or any shell-style command line."""
    builtins = builtin_runtimes()
    if spec in builtins:
        return spec, builtins[spec]
    return spec, shlex.split(spec)


@dataclass
class Result:
    case: str
    runtime: str
    status: str  # pass | fail | crash | timeout
    detail: str
    seconds: float


def load_manifest(cases_dir: Path = CASES_DIR) -> list[dict]:
    return json.loads((cases_dir / "manifest.json").read_text())["cases"]


def run_case(command: Runtime, runtime: str, case: dict, cases_dir: Path, timeout: float) -> Result:
    folder = cases_dir / case["name"]
    expect = json.loads((folder / case["expect"]).read_text())
    start = time.perf_counter()
    if callable(command):
        return _run_case_in_process(command, runtime, case["name"], folder, expect, start)
    try:
        proc = subprocess.run(command + [str(folder / "model.json"), str(folder / "inputs.json")],
                              capture_output=True, text=True, timeout=timeout, cwd=REPO,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Result(case["name"], runtime, "timeout", f"no answer in {timeout:g} s", timeout)
    except OSError as exc:
        return Result(case["name"], runtime, "crash", f"cannot start {command[0]}: {exc}", 0.0)
    status, detail = compare(expect, proc.stdout, proc.returncode)
    if status == "crash" and proc.stderr:
        detail += " | stderr: " + proc.stderr.strip().splitlines()[-1][:160]
    return Result(case["name"], runtime, status, detail, time.perf_counter() - start)


def _run_case_in_process(run: Callable[[str, str], tuple[int, str]], runtime: str, name: str, folder: Path,
                         expect: dict, start: float) -> Result:
    """A crash here is an exception (a fault in C would end the whole run, which fails it too)."""
    try:
        code, stdout = run(str(folder / "model.json"), str(folder / "inputs.json"))
    except Exception as exc:  # any exception is this runtime's crash on this case
        return Result(name, runtime, "crash", f"{type(exc).__name__}: {exc}"[:200], time.perf_counter() - start)
    status, detail = compare(expect, stdout + "\n", code)
    return Result(name, runtime, status, detail, time.perf_counter() - start)


def run_suite(runtime: str, command: Runtime, cases: list[dict], cases_dir: Path = CASES_DIR,
              jobs: int | None = None, timeout: float = 60.0) -> list[Result]:
    jobs = jobs or max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(partial(run_case, command, runtime, cases_dir=cases_dir, timeout=timeout), cases))
