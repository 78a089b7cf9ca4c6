"""The native sigmoid over every float32 input (all 2^32 bit patterns), against the correctly
rounded sigmoid and against the numpy kernel (0.5*tanh(a/2) + 0.5), on each native path.

    python -m tessera.trainer.scripts.measure_fused_sigmoid [--paths avx512,avx2,baseline]

Prints, per native path: the largest distance in ulps from the reference (the float64 stable
sigmoid rounded to float32), whether the path's bits equal the first path's everywhere, and the
largest absolute difference from the numpy kernel. Takes a few minutes.
"""

from __future__ import annotations

import sys

import numpy as np

from tessera.trainer import _fused
from tessera.trainer.ops.elementwise import twice_sigmoid

CHUNK = 1 << 24


def ordered(a: np.ndarray) -> np.ndarray:
    """float32 bits as int64 in the order of the values (-0 and +0 adjacent): differences are ulps."""
    i = a.view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def reference(a: np.ndarray) -> np.ndarray:
    x = a.astype(np.float64)
    e = np.exp(-np.abs(x))
    return (np.where(x >= 0, 1.0, e) / (1.0 + e)).astype(np.float32)


def numpy_sigmoid(a: np.ndarray) -> np.ndarray:
    out = np.empty_like(a)
    twice_sigmoid(np.dtype(np.float32))(a, out)
    return np.multiply(out, np.float32(0.5), out=out)


def main() -> None:
    paths = _fused.paths()
    if "--paths" in sys.argv:
        paths = sys.argv[sys.argv.index("--paths") + 1].split(",")
    worst = dict.fromkeys(paths, 0)
    same = dict.fromkeys(paths, True)
    vs_numpy = dict.fromkeys(paths, 0.0)
    numpy_worst = 0
    outs = {p: np.empty(CHUNK, np.float32) for p in paths}
    with np.errstate(all="ignore"):
        for start in range(0, 1 << 32, CHUNK):
            a = np.arange(start, start + CHUNK, dtype=np.uint64).astype(np.uint32).view(np.float32)
            ok = ~np.isnan(a)
            ref = ordered(reference(a))
            npy = numpy_sigmoid(a)
            numpy_worst = max(numpy_worst, int(np.abs(ordered(npy) - ref)[ok].max()))
            for p in paths:
                _fused.set_path(p)
                assert _fused.sigmoid(a, outs[p])
                o = outs[p]
                assert np.isnan(o[~ok]).all()
                worst[p] = max(worst[p], int(np.abs(ordered(o) - ref)[ok].max()))
                vs_numpy[p] = max(vs_numpy[p], float(np.abs(o[ok].astype(np.float64) - npy[ok]).max()))
                same[p] = same[p] and bool(np.array_equal(o.view(np.uint32), outs[paths[0]].view(np.uint32)))
    print(f"numpy kernel (0.5*tanh(a/2) + 0.5): at most {numpy_worst} ulps from the correctly rounded sigmoid")
    for p in paths:
        print(f"native {p}: at most {worst[p]} ulps from the correctly rounded sigmoid; "
              f"bits equal to {paths[0]}'s: {same[p]}; |native - numpy| <= {vs_numpy[p]:.3g} "
              f"(= 2^{np.log2(vs_numpy[p]) if vs_numpy[p] else float('-inf'):.2f})")


if __name__ == "__main__":
    main()
