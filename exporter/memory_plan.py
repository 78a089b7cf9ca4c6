"""Static activation-arena planning for the C generator (exporter/c_codegen.py): the arena of a
`tessera export --c` model, which runs with no heap on a microcontroller.

A *buffer* is a block of bytes that is live over an inclusive range of schedule steps
(`start` = the step that first writes it, `end` = the last step that reads it). Two buffers
whose step ranges intersect must not share bytes; buffers whose lifetimes are disjoint may
reuse the same bytes. The planner gives each buffer an offset in one arena.

- `plan_greedy`: greedy by size (largest first, the TFLite/onnx2c heuristic), each buffer put
  in the smallest gap between already-placed, time-conflicting buffers that fits (best fit),
  else on top. A second order (by start step) is tried too and the smaller arena is kept.
- `plan_optimal`: brute force over placement orders, for tiny graphs (tests). Placing buffers in
  order of their offsets in an optimal plan, each at the lowest feasible offset, never puts one
  higher than in that optimal plan (whatever sits below it ends no higher than before), so the
  best over all orders is optimal.
- `lower_bound`: the largest total of live (aligned) bytes over the steps; no plan is smaller.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ALIGN = 16


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int  # bytes, before alignment
    start: int  # first step that writes it
    end: int  # last step that reads it (inclusive), >= start


@dataclass(frozen=True)
class Plan:
    offsets: dict[str, int]  # buffer name -> byte offset (a multiple of the alignment)
    arena_bytes: int
    align: int = ALIGN


def align_up(n: int, align: int = ALIGN) -> int:
    return -(-n // align) * align


def overlaps_in_time(a: Buffer, b: Buffer) -> bool:
    return a.start <= b.end and b.start <= a.end


def lower_bound(buffers: Sequence[Buffer], align: int = ALIGN) -> int:
    """Max over steps of the aligned bytes live at that step (live intervals are inclusive)."""
    steps = {b.start for b in buffers}  # the live set only grows at a start, so starts suffice
    return max((sum(align_up(b.size, align) for b in buffers if b.start <= s <= b.end) for s in steps), default=0)


def _place(order: Iterable[Buffer], align: int, best_fit: bool) -> Plan:
    placed: list[tuple[Buffer, int]] = []
    offsets: dict[str, int] = {}
    top = 0
    for buf in order:
        size = align_up(buf.size, align)
        busy = sorted((off, off + align_up(b.size, align)) for b, off in placed if overlaps_in_time(b, buf))
        offset = _choose_gap(busy, size, best_fit)
        offsets[buf.name] = offset
        placed.append((buf, offset))
        top = max(top, offset + size)
    return Plan(offsets, top, align)


def _choose_gap(busy: list[tuple[int, int]], size: int, best_fit: bool) -> int:
    """Lowest (first fit) or tightest (best fit) gap of `size` bytes among busy [lo, hi) ranges."""
    best: tuple[int, int] | None = None  # (gap length, offset)
    cursor = 0
    for lo, hi in busy:
        gap = lo - cursor
        if gap >= size:
            if not best_fit:
                return cursor
            if best is None or gap < best[0]:
                best = (gap, cursor)
        cursor = max(cursor, hi)
    return best[1] if best is not None else cursor


def plan_greedy(buffers: Sequence[Buffer], align: int = ALIGN) -> Plan:
    """Greedy plan: best of (largest first, best fit) and (earliest first, first fit)."""
    if not buffers:
        return Plan({}, 0, align)
    by_size = sorted(buffers, key=lambda b: (-align_up(b.size, align), b.start, b.name))
    by_start = sorted(buffers, key=lambda b: (b.start, -b.size, b.name))
    plans = [_place(by_size, align, best_fit=True), _place(by_start, align, best_fit=False)]
    return min(plans, key=lambda p: p.arena_bytes)


def plan_optimal(buffers: Sequence[Buffer], align: int = ALIGN, max_buffers: int = 8) -> Plan:
    """The smallest arena: every placement order, each buffer at its lowest feasible offset."""
    if len(buffers) > max_buffers:
        raise ValueError(f"plan_optimal is exponential; {len(buffers)} buffers > {max_buffers}")
    best = Plan({}, 0, align)
    for i, order in enumerate(itertools.permutations(buffers)):
        plan = _place(order, align, best_fit=False)
        if i == 0 or plan.arena_bytes < best.arena_bytes:
            best = plan
    return best


def conflicts(buffers: Sequence[Buffer], plan: Plan) -> list[tuple[str, str]]:
    """Pairs of buffers live at the same step whose byte ranges intersect (should be empty)."""
    bad = []
    for a, b in itertools.combinations(buffers, 2):
        if not overlaps_in_time(a, b) or a.size == 0 or b.size == 0:
            continue
        oa, ob = plan.offsets[a.name], plan.offsets[b.name]
        if oa < ob + b.size and ob < oa + a.size:
            bad.append((a.name, b.name))
    return bad


def validate(buffers: Sequence[Buffer], plan: Plan) -> None:
    """Raise if the plan overlaps live buffers, misaligns one, or exceeds its arena."""
    for b in buffers:
        off = plan.offsets[b.name]
        if off % plan.align or off < 0 or off + b.size > plan.arena_bytes:
            raise AssertionError(f"buffer {b.name}: offset {off}, size {b.size}, arena {plan.arena_bytes}")
    bad = conflicts(buffers, plan)
    if bad:
        raise AssertionError(f"live buffers overlap: {bad}")
