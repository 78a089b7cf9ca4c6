"""`tessera import MODEL.onnx -o model.json [--encoding base64] [--round-float64]`: an ONNX model (opsets
13 to 21) as a format document, checked, written atomically. A rejected model prints `CODE: message` on
stderr and exits 1, as `tessera check` does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tessera.exporter.errors import ModelError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL.onnx", help="an ONNX model file (external data beside it)")
    parser.add_argument("-o", "--output", metavar="OUT.json", help="default: MODEL with the suffix .json")
    parser.add_argument("--encoding", choices=["decimal", "base64"], default="decimal",
                        help="initializer data as JSON numbers (default) or base64")
    parser.add_argument("--round-float64", action="store_true",
                        help="round float64 initializers that are not float32 values (default: refuse them)")


def main(args: argparse.Namespace) -> int:
    from tessera.exporter import onnx_import

    out = Path(args.output) if args.output else Path(args.model).with_suffix(".json")
    try:
        doc = onnx_import.from_onnx(args.model, encoding=args.encoding, round_float64=args.round_float64)
        size = onnx_import.save(doc, out)
    except ModelError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    g = doc["graph"]
    print(f"wrote {out}: format {doc['format_version']}, {len(g['nodes'])} nodes, "
          f"{len(g['initializers'])} initializers, {size} bytes")
    return 0
