"""Tessera exporter: format v1 writer, loader, checker and the strict reference runtime."""

from exporter.check import CheckedModel, check
from exporter.errors import FORMAT_VERSION, LIMITS, ModelError
from exporter.model import Model, load

__version__ = "0.1.0"

__all__ = ["FORMAT_VERSION", "LIMITS", "CheckedModel", "Model", "ModelError", "check", "load", "export"]


def export(*args, **kwargs):  # noqa: ANN002, ANN003 - thin lazy wrapper, see exporter.export.export
    """Export a trainer graph to a format v1 document (see exporter.export.export)."""
    from exporter.export import export as _export

    return _export(*args, **kwargs)
