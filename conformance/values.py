"""Deterministic float32 test values for the conformance cases.

numpy's random streams may change between releases, and the committed cases
must be reproducible forever, so weights and inputs come from a tiny
xorshift generator written here, mapped to float32 exactly.
"""

from __future__ import annotations

import numpy as np


def bits_to_f32(bits: list[int] | np.ndarray) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


class XorShift32:
    """Marsaglia's xorshift32: a stable stream of 32-bit integers."""

    def __init__(self, seed: int) -> None:
        self.state = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next_u32(self) -> int:
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def uniform(self, shape: tuple[int, ...], lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
        """Uniform float32 in [lo, hi): 24 random bits scaled, all steps exact in float64."""
        n = int(np.prod(shape, dtype=np.int64))
        u = np.array([self.next_u32() >> 8 for _ in range(n)], dtype=np.float64) / 2.0**24
        return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)

    def binary(self, shape: tuple[int, ...], density: float) -> np.ndarray:
        u = self.uniform(shape, 0.0, 1.0)
        return (u < np.float32(density)).astype(np.float32)


# Special float32 values every op is tried on (bit patterns).
SPECIAL_BITS = [
    0x00000000,  # +0
    0x80000000,  # -0
    0x00000001,  # smallest subnormal
    0x80000001,
    0x007FFFFF,  # largest subnormal
    0x00800000,  # smallest normal
    0x3F800000,  # 1
    0xBF800000,  # -1
    0x3F000000,  # 0.5
    0x40490FDB,  # pi
    0x7F7FFFFF,  # largest finite
    0xFF7FFFFF,
    0x7F800000,  # +inf
    0xFF800000,  # -inf
    0x7FC00000,  # nan
    0x4B400000,  # 1.5 * 2^23
]

# Edges of the strict transcendental algorithms (SPEC 7.3): exp overflow and
# underflow thresholds and clamps, sigmoid/tanh/softplus saturation, log of
# subnormals and of values near 1.
TRANSCENDENTAL_EDGE_FLOATS = [
    88.72283, 88.722839, 88.7228394, 88.72284, 89.0, 89.5, 100.0, 1e30,
    -87.33654, -87.336548, -103.27893, -103.972, -103.97208, -104.0, -104.5, -150.0, -1e30,
    1e-7, -1e-7, 1e-20, 2.0**-126, 0.34657359, -0.34657359, 0.55, -0.55, 0.54999995,
    9.0, 9.1, -9.1, 16.6, 17.0, -17.0, 20.0, -20.0, 30.0, -30.0, 0.9999999, 1.0000001, 2.0, 10.0,
]


def special_values() -> np.ndarray:
    return bits_to_f32(SPECIAL_BITS)


def transcendental_edges() -> np.ndarray:
    return np.concatenate([special_values(), np.array(TRANSCENDENTAL_EDGE_FLOATS, dtype=np.float32)])


def bit_sweep(count: int) -> np.ndarray:
    """`count` float32 values spread evenly over all 2^32 bit patterns."""
    step = 2**32 // count
    return bits_to_f32(np.arange(count, dtype=np.uint64) * step + 12345)
