"""`tessera export --onnx MODEL.json [-o OUT.onnx]`: convert a checked model to ONNX (opset 17).

`tessera.cli` routes `export ... --onnx ...` here before its own parser runs (like `export --c`);
this module also runs on its own: `python3 -m exporter.cli_export_onnx export --onnx MODEL.json -o OUT.onnx`.

The file is written atomically (all or nothing) after onnx.checker has accepted the model; one line
on stdout says what was written. Exit status: 0 success, 1 a rejected model, a model the converter
cannot express, a missing `onnx` package or a write error (message on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tessera.exporter import onnx_export
from tessera.exporter.errors import ModelError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", action="store_true", required=True, help="convert MODEL to ONNX (opset 17)")
    parser.add_argument("model", metavar="MODEL.json", help="a format v1 model file")
    parser.add_argument("-o", "--output", metavar="OUT.onnx",
                        help="the ONNX file to write (default: MODEL with the suffix .onnx)")


def default_output(model: str) -> Path:
    path = Path(model)
    return path.with_suffix(".onnx") if path.suffix.lower() == ".json" else path.with_name(path.name + ".onnx")


def main(args: argparse.Namespace) -> int:
    out = Path(args.output) if args.output else default_output(args.model)
    try:
        proto = onnx_export.to_onnx(args.model)
        size = onnx_export.save(proto, out)
    except ModelError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except (ImportError, onnx_export.OnnxExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}: ONNX {onnx_export.summary(proto)}, {size} bytes")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tessera export",
                                     description="Convert a Tessera model file to ONNX (opset 17).")
    parser.add_argument("command", choices=["export"], help=argparse.SUPPRESS)
    add_arguments(parser)
    return parser


def cli(argv: list[str] | None = None) -> int:
    """`argv` starts with `export` (as `tessera.cli` passes it)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return main(args)


if __name__ == "__main__":
    sys.exit(cli())
