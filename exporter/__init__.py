"""Tessera exporter: format v1 writer, loader, checker and the strict reference runtime."""
