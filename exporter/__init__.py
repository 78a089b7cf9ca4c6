"""Tessera exporter: format v1 writer, loader, checker and the strict reference runtime.

    exporter.load(path_or_dict_or_bytes).run({"x": array}) -> {"x_hat": array}
    exporter.check(doc) -> CheckedModel          (raises ModelError with a SPEC §5 code)
    exporter.export(outputs, inputs, path=None, encoding="decimal"|"base64") -> document
"""

from tessera import __version__  # noqa: E402,F401  (the producer version written into exported files)
from tessera.exporter.check import CheckedModel, check  # noqa: E402
from tessera.exporter.errors import FORMAT_VERSION, LIMITS, ModelError  # noqa: E402
from tessera.exporter.export import ExportError  # noqa: E402
from tessera.exporter.export import export as export  # noqa: E402  (the function shadows the submodule name)
from tessera.exporter.model import Model, load  # noqa: E402


def from_onnx(source, **options):  # noqa: ANN001, ANN201 (onnx_import.from_onnx has the typed signature)
    """An ONNX model (path or bytes) as a checked format document: `onnx_import.from_onnx`."""
    from tessera.exporter.onnx_import import from_onnx as convert

    return convert(source, **options)


__all__ = ["FORMAT_VERSION", "LIMITS", "CheckedModel", "ExportError", "Model", "ModelError", "check", "export",
           "from_onnx", "load"]
