"""`tessera check MODEL`: valid plus a one-screen summary, or the error code and message (exit 1)."""

from __future__ import annotations

import argparse
import json
import sys

from tessera.exporter.errors import ModelError
from tessera.exporter.model import load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file (format v1 JSON)")
    parser.add_argument("--json", action="store_true", help="print the summary (or error) as JSON")


def main(args: argparse.Namespace) -> int:
    try:
        model = load(args.model)
    except ModelError as exc:
        if args.json:
            print(json.dumps({"error": {"code": exc.code, "message": exc.message}}))
        else:
            print(f"{args.model}: invalid: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"valid": True, **model.summary()}))
    else:
        print(f"{args.model}: valid")
        print(model.summary_text())
    return 0
