"""`tessera run MODEL INPUTS`: the runtime CLI protocol of SPEC §9 for the Python runtimes.

The reference runs by default (the protocol's Python column is the executable spec);
`--runtime native` runs the C runtime in-process (the conformance suite's python-native column).
"""

from __future__ import annotations

import argparse
import sys

from tessera.exporter.errors import ModelError
from tessera.exporter.model import RUNTIMES, load
from tessera.exporter.tensors import read_tensors, write_error, write_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file (format v1 JSON)")
    parser.add_argument("inputs", help='inputs file: {"inputs": {"x": {"shape": [...], "data": [...]}}}')
    parser.add_argument("--b64", action="store_true", help="print output data as base64 (data_b64)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="reference",
                        help="reference (numpy, the default) or native (the C runtime in-process)")


def run_files(model_path: str, inputs_path: str, *, b64: bool = False,
              runtime: str = "reference") -> tuple[int, str]:
    """(exit status, stdout document) for one run; never raises for a bad file."""
    try:
        model = load(model_path, runtime=runtime)  # the model is checked before the inputs file is read
        inputs = read_tensors(inputs_path, key="inputs", dtypes=model.input_dtypes)
        outputs = model.run(inputs)
    except ModelError as exc:
        return 1, write_error(exc.code, exc.message)
    return 0, write_outputs(outputs, b64=b64)


def main(args: argparse.Namespace) -> int:
    try:
        status, text = run_files(args.model, args.inputs, b64=args.b64, runtime=args.runtime)
    except MemoryError:
        print("tessera run: out of memory", file=sys.stderr)
        return 3
    except RuntimeError as exc:  # --runtime native where it was not built
        print(f"tessera run: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return status
