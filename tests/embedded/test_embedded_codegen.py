"""Generated C (issue 8) gives the reference's bits: models, every op family, conformance cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_embedded_support import COMPILERS, F32, check_model, doc, seed_ae_doc, tensor, uniform

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "conformance" / "cases"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded")


def binary(rng: np.random.Generator, shape: tuple, p: float = 0.3) -> np.ndarray:
    return (rng.random(shape) < p).astype(F32)


@pytest.mark.parametrize("batch", [1, 3])
def test_seed_ae(build: Path, batch: int) -> None:
    rng = np.random.default_rng(1)
    report = check_model(seed_ae_doc(), {"x": binary(rng, (batch, 64))}, build, f"seed{batch}", batch)
    if batch == 1:  # issue 8 target: activations <= 4*(64+32) bytes (plus alignment) at batch 1
        assert report.arena_bytes <= 4 * (64 + 32)
        assert report.arena_bytes == report.arena_lower_bound


def test_seed_ae_default_and_inline_kernels(build: Path) -> None:
    rng = np.random.default_rng(2)
    x = {"x": binary(rng, (1, 64))}
    check_model(seed_ae_doc(), x, build, "seed_incl", external=False)
    check_model(seed_ae_doc(), x, build, "seed_inline", inline=True)
