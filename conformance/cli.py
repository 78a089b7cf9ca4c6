"""`tessera conformance`: generate the cases, check they are up to date, run them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tessera.conformance import report
from tessera.conformance.runner import CASES_DIR, load_manifest, resolve_runtime, run_suite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("generate", help="rebuild conformance/cases from the Python reference")
    sub.add_parser("check-generated", help="fail if the committed cases differ from a fresh generation")
    run = sub.add_parser("run", help="run the cases through one or more runtimes")
    run.add_argument("--runtime", action="append", required=True,
                     help='built-in (python, python-native, c, js, js-purejs, js-wasm) or a command "RUN ..."; '
                          'repeatable')
    run.add_argument("--cases", type=Path, default=CASES_DIR, help="cases folder (default: bundled)")
    run.add_argument("--tag", action="append", help="only cases with this tag (op, edge, model, reject, ...)")
    run.add_argument("--skip", action="append", default=[], help="skip this case (report it as skipped)")
    run.add_argument("--junit", type=Path, help="write JUnit XML here")
    run.add_argument("--jobs", type=int, default=None)
    run.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    run.add_argument("--all", action="store_true", help="show every row, not only the ones that did not pass")


def main(args: argparse.Namespace) -> int:
    if args.action == "generate":
        from tessera.conformance.generate import generate

        print(f"wrote {generate()} cases to {CASES_DIR}")
        return 0
    if args.action == "check-generated":
        from tessera.conformance.generate import differences

        diff = differences()
        if diff:
            print("conformance cases are stale (run `tessera conformance generate`):", *diff[:20], sep="\n  ")
            return 1
        print("conformance cases match the generator")
        return 0
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    cases = load_manifest(args.cases)
    if args.tag:
        cases = [c for c in cases if set(args.tag) & set(c["tags"])]
    skipped = [c["name"] for c in cases if c["name"] in args.skip]
    cases = [c for c in cases if c["name"] not in args.skip]
    results = {}
    for spec in args.runtime:
        name, command = resolve_runtime(spec)
        results[name] = run_suite(name, command, cases, args.cases, args.jobs, args.timeout)
    print(report.matrix(results, show_all=args.all))
    det = report.details(results)
    if det:
        print(det)
    if skipped:
        print(f"skipped on request ({len(skipped)}): {', '.join(skipped)}")
    if args.junit:
        report.write_junit(results, args.junit)
    print(report.summary(results))
    return 1 if report.failures(results) else 0


if __name__ == "__main__":
    sys.exit(main(argparse.ArgumentParser().parse_args()))
