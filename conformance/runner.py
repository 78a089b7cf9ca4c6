"""Run every case through a command that speaks the runtime CLI protocol.

`RUN MODEL.json INPUTS.json` must print one JSON document (SPEC section 9).
Cases run in parallel with a per-case timeout; results feed the table and
the JUnit report.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tessera.conformance.compare import compare

REPO = Path(__file__).resolve().parent.parent
CASES_DIR = Path(__file__).resolve().parent / "cases"


def builtin_runtimes() -> dict[str, list[str]]:
    """Our runtimes by name: the command and the environment that selects a kernel path."""
    node_cli = str(REPO / "runtimes" / "js" / "bin" / "tessera-run.js")
    return {
        "python": [sys.executable, "-m", "tessera", "run"],
        "c": [str(REPO / "runtimes" / "c" / "build" / "tessera-run")],
        "js": ["node", node_cli],
        "js-purejs": ["env", "TESSERA_KERNELS=js", "node", node_cli],
        "js-wasm": ["env", "TESSERA_KERNELS=wasm", "node", node_cli],
    }


def resolve_runtime(spec: str) -> tuple[str, list[str]]:
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


def run_case(command: list[str], runtime: str, case: dict, cases_dir: Path, timeout: float) -> Result:
    folder = cases_dir / case["name"]
    expect = json.loads((folder / case["expect"]).read_text())
    start = time.perf_counter()
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


def run_suite(runtime: str, command: list[str], cases: list[dict], cases_dir: Path = CASES_DIR,
              jobs: int | None = None, timeout: float = 60.0) -> list[Result]:
    jobs = jobs or max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda c: run_case(command, runtime, c, cases_dir, timeout), cases))
