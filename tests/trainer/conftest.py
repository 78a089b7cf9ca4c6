"""Fixtures of the trainer suites: the native kernels' module and its dispatched paths."""

from __future__ import annotations

from types import ModuleType

import pytest


def native_kernels() -> ModuleType:
    """tessera.trainer._fused; no skip: `make setup` builds it, its absence is a failure."""
    from tessera.trainer import _fused
    return _fused


@pytest.fixture
def paths():
    """Every native path this CPU runs; the dispatched one is restored after the test."""
    f = native_kernels()
    best = f.path()
    yield f.paths()
    f.set_path(best)
