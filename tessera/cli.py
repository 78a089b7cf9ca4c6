"""`tessera` command line: one entry point, one sub-command per component.

Each sub-command lives with its component (tessera.trainer.cli, tessera.exporter.cli_*,
tessera.conformance.cli, tessera.demo); this module only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

# sub-command -> (module, help). Each module has `add_arguments(parser)` and `main(args) -> int`.
COMMANDS = {
    "train": ("tessera.trainer.cli", "train the auto-encoder and export the model"),
    "export": ("tessera.exporter.cli_export", "export a training checkpoint to a model file"),
    "check": ("tessera.exporter.cli_check", "check a model file and summarise it"),
    "import": ("tessera.exporter.cli_import_onnx", "import an ONNX model (opsets 13-21) as a model file"),
    "run": ("tessera.exporter.cli_run", "run a model on an inputs file (runtime CLI protocol)"),
    "conformance": ("tessera.conformance.cli", "generate or run the conformance suite"),
    "demo": ("tessera.demo", "the main job: train, export, run in every runtime, compare"),
    "data": ("tessera.trainer.datasets.synth_shards", "write a synthetic sparse data set as shards (data synth)"),
    "score": ("tessera.exporter.score", "run a model over every shard of a data set (bulk scoring, --dask)"),
}


# `tessera export --c ...` and `tessera check --c-size ...` belong to the C code generator,
# which has its own arguments; route them there before the main parser sees them.
C_CODEGEN_FLAGS = {"export": "--c", "check": "--c-size"}
C_CODEGEN_EPILOG = {
    "export": "C for microcontrollers: tessera export --c NAME MODEL.json -o DIR [--batch N] [--inline-kernels]",
    "check": "flash/RAM of the generated C: tessera check --c-size MODEL.json",
}
# `tessera export --onnx MODEL.json -o OUT.onnx` belongs to the ONNX converter (exporter.cli_export_onnx).
ONNX_EPILOG = "ONNX (opset 17): tessera export --onnx MODEL.json -o OUT.onnx"
EPILOGS = {**C_CODEGEN_EPILOG, "export": C_CODEGEN_EPILOG["export"] + "\n" + ONNX_EPILOG}


def _c_codegen_route(argv: list[str]) -> bool:
    return len(argv) > 1 and C_CODEGEN_FLAGS.get(argv[0]) in argv[1:]


def _onnx_route(argv: list[str]) -> bool:
    return len(argv) > 1 and argv[0] == "export" and "--onnx" in argv[1:]


def main(argv: list[str] | None = None) -> int:
    try:
        return _dispatch(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        # The reader went away (`tessera check model.json | head`): stop quietly as Unix tools do,
        # with stdout pointed at /dev/null so that the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _dispatch(argv: list[str]) -> int:
    if _onnx_route(argv):
        from tessera.exporter import cli_export_onnx

        return cli_export_onnx.cli(argv)
    if _c_codegen_route(argv):
        from tessera.exporter import cli_export_c

        return cli_export_c.cli(argv)
    parser = argparse.ArgumentParser(prog="tessera", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    # Import only the component asked for (all of them for --help): `tessera run` needs neither the
    # trainer nor the conformance suite, and a broken one must not take the others down.
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else list(COMMANDS)
    for name, (module_name, help_text) in ((n, COMMANDS[n]) for n in wanted):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # component not built yet
        modules[name] = module
        epilog = EPILOGS.get(name)
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                                            formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    return int(modules[args.command].main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
