"""Helpers every test suite shares: where things are, float32 bit comparisons, model documents.

Tests import them as `from tests.support import ...` (tests/ is a package; pytest puts the
repository root on sys.path for it). Suite-specific helpers live beside their suite
(tests/exporter/exporter_testlib.py, tests/crosscheck/crosscheck_lib.py, ...); fixtures are in
tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = ROOT / "conformance" / "cases"
F32 = np.float32


def bits(a: np.ndarray) -> np.ndarray:
    """The float32 bit patterns of a, as uint32 (same shape)."""
    return np.asarray(a, dtype=F32).view(np.uint32)


def equal_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: the same float32 bits, or both NaN (SPEC §7: any NaN equals any NaN; -0 != +0)."""
    a, b = np.asarray(a, dtype=F32), np.asarray(b, dtype=F32)
    return (bits(a) == bits(b)) | (np.isnan(a) & np.isnan(b))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and `equal_bits` everywhere."""
    a, b = np.asarray(a, F32), np.asarray(b, F32)
    return a.shape == b.shape and bool(np.all(equal_bits(a, b)))


def doc_for(nodes: list[dict], inputs: list[tuple[str, list]], outputs: list[tuple[str, list]],
            initializers: list[dict] | None = None, version: str = "1.0") -> dict:
    """A model document with float32 inputs and outputs given as (name, shape) pairs."""
    return {
        "format": "tessera",
        "format_version": version,
        "producer": {"name": "test", "version": "0"},
        "graph": {
            "inputs": [{"name": n, "dtype": "float32", "shape": s} for n, s in inputs],
            "outputs": [{"name": n, "dtype": "float32", "shape": s} for n, s in outputs],
            "initializers": initializers or [],
            "nodes": nodes,
        },
    }
