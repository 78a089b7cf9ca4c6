"""The arena planner: no two live buffers share bytes, never below the live-bytes lower
bound, and the greedy plan compared with a brute-force optimum on small random graphs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tessera.exporter.c_codegen import _layout, _resolve
from tessera.exporter.memory_plan import (
    Buffer,
    Plan,
    align_up,
    conflicts,
    lower_bound,
    plan_greedy,
    plan_optimal,
    validate,
)
from tests.embedded.test_embedded_codegen import random_graph, zoo_doc
from tests.embedded.test_embedded_support import seed_ae_doc


def random_buffers(rng: np.random.Generator, n: int, steps: int = 8) -> list[Buffer]:
    out = []
    for i in range(n):
        start = int(rng.integers(steps))
        out.append(Buffer(f"b{i}", int(rng.integers(1, 9)) * 4 * int(rng.choice([1, 4, 16])), start,
                          start + int(rng.integers(0, 4))))
    return out


def test_validate_catches_overlap_and_misalignment() -> None:
    """The checker the other tests rely on can fail."""
    a, b = Buffer("a", 64, 0, 2), Buffer("b", 64, 1, 3)
    with pytest.raises(AssertionError, match="overlap"):
        validate([a, b], Plan({"a": 0, "b": 32}, 128))
    with pytest.raises(AssertionError):
        validate([a, b], Plan({"a": 0, "b": 72}, 144))
    validate([a, Buffer("c", 64, 3, 4)], Plan({"a": 0, "c": 0}, 64))  # disjoint lifetimes may share


def test_lower_bound_counts_inclusive_lifetimes() -> None:
    bufs = [Buffer("a", 10, 0, 1), Buffer("b", 20, 1, 2), Buffer("c", 40, 2, 2)]
    assert lower_bound(bufs) == 32 + 48  # step 2: b and c (sizes aligned to 16)


@pytest.mark.parametrize("seed", range(150))
def test_greedy_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    bufs = random_buffers(rng, int(rng.integers(1, 7)))
    greedy, best = plan_greedy(bufs), plan_optimal(bufs)
    validate(bufs, greedy)
    validate(bufs, best)
    bound = lower_bound(bufs)
    assert bound <= best.arena_bytes <= greedy.arena_bytes
    # greedy-by-size is a heuristic; on these small sets it stays close to the optimum
    assert greedy.arena_bytes <= 1.5 * best.arena_bytes


def test_greedy_is_usually_optimal() -> None:
    rng = np.random.default_rng(1234)
    hits = 0
    for _ in range(200):
        bufs = random_buffers(rng, int(rng.integers(2, 7)))
        hits += plan_greedy(bufs).arena_bytes == plan_optimal(bufs).arena_bytes
    assert hits >= 170, f"greedy optimal in only {hits}/200 cases"


def exhaustive(bufs: list[Buffer], limit: int) -> int:
    """Every aligned offset assignment below `limit`: the true optimum for very small sets."""
    best = limit
    grid = range(0, limit, 16)
    for offs in itertools.product(grid, repeat=len(bufs)):
        plan = Plan(dict(zip([b.name for b in bufs], offs, strict=True)),
                    max(o + align_up(b.size) for o, b in zip(offs, bufs, strict=True)))
        if plan.arena_bytes < best and not conflicts(bufs, plan):
            best = plan.arena_bytes
    return best


@pytest.mark.parametrize("seed", range(25))
def test_brute_force_is_optimal(seed: int) -> None:
    """plan_optimal (orders x lowest offset) equals an exhaustive search over offsets."""
    rng = np.random.default_rng(seed + 1000)
    bufs = [Buffer(f"b{i}", int(rng.integers(1, 4)) * 16, int(s), int(s) + int(rng.integers(0, 3)))
            for i, s in enumerate(rng.integers(0, 4, size=int(rng.integers(1, 5))))]
    limit = sum(align_up(b.size) for b in bufs) + 16
    assert plan_optimal(bufs).arena_bytes == exhaustive(bufs, limit)


@pytest.mark.parametrize("seed", range(40))
def test_random_model_graphs(seed: int) -> None:
    """Buffers of real generated layouts (in place, aliases, pinned outputs) vs the brute force."""
    model, inputs = random_graph(seed)
    lay = _layout(_resolve(model), inputs["x"].shape[0], {})
    validate(lay.buffers, lay.plan)
    assert lay.plan.arena_bytes >= lower_bound(lay.buffers)
    if len(lay.buffers) <= 7:
        assert plan_optimal(lay.buffers).arena_bytes <= lay.plan.arena_bytes


def test_seed_ae_plan_meets_target() -> None:
    lay = _layout(_resolve(seed_ae_doc()), 1, {})
    assert lay.plan.arena_bytes == 4 * 32  # the hidden layer only: x_hat is computed in `out`
    assert lay.plan.arena_bytes <= 4 * (64 + 32)


def test_zoo_plan_is_tight() -> None:
    lay = _layout(_resolve(zoo_doc()), 2, {})
    validate(lay.buffers, lay.plan)
    assert lay.plan.arena_bytes == lower_bound(lay.buffers)
