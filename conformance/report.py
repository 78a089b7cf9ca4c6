"""Present conformance results: a cases x runtimes matrix, details of every
non-pass, a summary line, and JUnit XML for CI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tessera.conformance.runner import Result

MARK = {"pass": "ok", "fail": "FAIL", "crash": "CRASH", "timeout": "TIMEOUT"}


def matrix(results: dict[str, list[Result]], show_all: bool = False) -> str:
    runtimes = list(results)
    cases = [r.case for r in next(iter(results.values()))]
    width = max(len(c) for c in cases)
    lines = ["case".ljust(width) + "  " + "  ".join(f"{r:>9}" for r in runtimes)]
    by_case = {rt: {r.case: r for r in rs} for rt, rs in results.items()}
    for case in cases:
        row = [by_case[rt][case].status for rt in runtimes]
        if show_all or any(s != "pass" for s in row):
            lines.append(case.ljust(width) + "  " + "  ".join(f"{MARK[s]:>9}" for s in row))
    return "\n".join(lines)


def details(results: dict[str, list[Result]]) -> str:
    lines = []
    for rt, rs in results.items():
        for r in rs:
            if r.status != "pass":
                lines.append(f"[{rt}] {r.case}: {r.status}: {r.detail}")
    return "\n".join(lines)


def failures(results: dict[str, list[Result]]) -> int:
    return sum(r.status != "pass" for rs in results.values() for r in rs)


def summary(results: dict[str, list[Result]]) -> str:
    """Per-runtime counts, then the closing line alone ("conformance: N passed, M failed")."""
    parts = [f"{rt}: {sum(r.status == 'pass' for r in rs)}/{len(rs)} passed" for rt, rs in results.items()]
    total = sum(len(rs) for rs in results.values())
    failed = failures(results)
    return "; ".join(parts) + f"\nconformance: {total - failed} passed, {failed} failed"


def write_junit(results: dict[str, list[Result]], path: Path) -> None:
    root = ET.Element("testsuites", name="tessera-conformance")
    for rt, rs in results.items():
        suite = ET.SubElement(root, "testsuite", name=rt, tests=str(len(rs)),
                              failures=str(sum(r.status == "fail" for r in rs)),
                              errors=str(sum(r.status in ("crash", "timeout") for r in rs)))
        for r in rs:
            case = ET.SubElement(suite, "testcase", classname=rt, name=r.case, time=f"{r.seconds:.3f}")
            if r.status == "fail":
                ET.SubElement(case, "failure", message=r.detail)
            elif r.status != "pass":
                ET.SubElement(case, "error", message=f"{r.status}: {r.detail}")
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
