"""`tessera export --c NAME MODEL.json -o DIR [--batch N]` and `tessera check --c-size MODEL.json`.

`tessera.cli` routes these two forms here; this module also runs on its
own: `python3 -m tessera.exporter.cli_export_c export --c NAME MODEL.json -o DIR` or
`python3 -m tessera.exporter.cli_export_c check --c-size MODEL.json`.

Exit status: 0 success, 1 a rejected model (the error code and message on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from tessera.exporter.c_codegen import CReport, generate_c, measure
from tessera.exporter.errors import ModelError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of both forms; `--c NAME` selects export, `--c-size` selects the size check."""
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--c", metavar="NAME", dest="c_name", help="export MODEL as NAME.h / NAME.c (a C identifier)")
    mode.add_argument("--c-size", action="store_true", help="print the flash/RAM report without keeping files")
    parser.add_argument("model", metavar="MODEL.json", help="a format v1 model file")
    parser.add_argument("-o", "--output-dir", default=".", help="directory for the generated files (default .)")
    parser.add_argument("--batch", type=int, default=1, help="the value of every symbolic dimension (default 1)")
    parser.add_argument("--inline-kernels", action="store_true",
                        help="paste kernels.c/kernels.h into NAME.c (one self-contained file) instead of copying "
                             "them beside it")
    parser.add_argument("--no-measure", action="store_true", help="skip compiling for the flash/RAM figures")


def _report(report: CReport, measure_sizes: bool) -> None:
    if measure_sizes:
        try:
            measure(report)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            print(f"warning: could not measure flash: {detail.strip()}", file=sys.stderr)
    print(report.text())


def main(args: argparse.Namespace) -> int:
    if args.batch < 1:
        print("error: --batch must be >= 1", file=sys.stderr)
        return 2
    try:
        if args.c_size:
            with tempfile.TemporaryDirectory() as tmp:
                report = generate_c(args.model, "model", args.batch, Path(tmp), inline_kernels=args.inline_kernels)
                _report(report, not args.no_measure)
            return 0
        report = generate_c(args.model, args.c_name, args.batch, Path(args.output_dir),
                            inline_kernels=args.inline_kernels)
    except ModelError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.inline_kernels:
        print(f"wrote {report.header} and {report.source} (kernels inlined)")
    else:
        print(f"wrote {report.header} and {report.source}, with copies of kernels.c and kernels.h that "
              f"{report.source.name} includes (do not compile kernels.c separately)")
    print(f"build: cc -std=c99 -ffp-contract=off main.c {report.source.name}  (C99, no libm; never -ffast-math)")
    _report(report, not args.no_measure)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m tessera.exporter.cli_export_c",
                                     description="Compile a Tessera model into C with static memory.")
    parser.add_argument("command", choices=["export", "check"], help="export --c NAME, or check --c-size")
    add_arguments(parser)
    return parser


def cli(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.command == "export") != (args.c_name is not None):
        parser.error("use `export --c NAME MODEL.json` or `check --c-size MODEL.json`")
    return main(args)


if __name__ == "__main__":
    sys.exit(cli())
