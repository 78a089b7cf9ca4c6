"""Pow (SPEC 7.10): C99 Annex F's special cases exactly, below 1 ulp elsewhere, through the reference runtime.

The C runtime's `make accuracy` measures the same bound exhaustively over slices against long double; here the
reference is float64 `np.power` (its own error, about 2^-52 relative, is 2^-29 of a float32 ulp).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tessera import exporter
from tessera.exporter import strict_math
from tessera.exporter.errors import ModelError
from tessera.exporter.opset import OPS
from tests.support import F32, doc_for

RNG = np.random.default_rng(77)
INF, NAN = np.inf, np.nan


def pow_doc(n: int, version: str = "1.1") -> dict:
    return doc_for([{"op": "Pow", "inputs": ["a", "b"], "outputs": ["y"]}], [("a", [n]), ("b", [n])],
                   [("y", [n])], version=version)


def run_pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, F32), np.asarray(b, F32)
    (out,) = exporter.load(pow_doc(a.size)).run({"a": a, "b": b}).values()
    return out


def real_error(x: np.ndarray, y: np.ndarray, got: np.ndarray) -> np.ndarray:
    """|got - x^y| in units of the float32 ulp at x^y (the subnormal ulp below 2^-126), for the pairs whose real
    value is finite, nonzero and below 2^128."""
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), y.astype(np.float64))
    ok = np.isfinite(want) & (want != 0) & (np.abs(want) < 2.0**128) & np.isfinite(got)
    w, g = want[ok], got[ok].astype(np.float64)
    binade = np.floor(np.log2(np.maximum(np.abs(w), 2.0**-126)))
    return np.abs(g - w) / 2.0 ** (binade - 23)


def test_the_row_states_a_bound_of_one_ulp() -> None:
    acc = OPS["Pow"].accuracy
    assert acc is not None and acc.ulp == 1 and acc.real is np.power


def test_below_one_ulp_on_a_wide_random_sample() -> None:
    n = 400000
    mag = (2.0 ** RNG.uniform(-149, 128, n)).astype(F32)
    x = np.where(RNG.random(n) < 0.5, mag, -mag).astype(F32)
    y = RNG.uniform(-40, 40, n).astype(F32)
    y = np.where(RNG.random(n) < 0.4, np.round(y), y).astype(F32)  # negative bases need integer exponents
    err = real_error(x, y, run_pow(x, y))
    assert err.size > 50000
    assert err.max() <= 0.5 + 2.0**-17, err.max()


def test_below_one_ulp_near_one_with_large_exponents() -> None:
    """log2 x is small near 1: its relative accuracy carries to y log2 x for |y| up to 10^7."""
    n = 200000
    x = (1 + RNG.uniform(-1e-3, 1e-3, n)).astype(F32)
    y = (10 ** RNG.uniform(0, 7, n) * np.sign(RNG.uniform(-1, 1, n))).astype(F32)
    err = real_error(x, y, run_pow(x, y))
    assert err.max() <= 0.5 + 2.0**-17, err.max()


@pytest.mark.parametrize("exponent", [2.0, -1.0, 0.5, -0.5, 3.0, 1.0 / 3.0, 2.5, -7.0, 17.25])
def test_every_base_of_a_dense_slice(exponent: float) -> None:
    """2^20 consecutive float32 bases from 0.5 to 2, then every 1024th of all positive float32s."""
    x = np.concatenate([np.arange(0x3F000000, 0x3F000000 + 2**20, dtype=np.uint32),
                        np.arange(1, 0x7F800000, 1024, dtype=np.uint32)]).view(F32)
    y = np.full(x.size, exponent, F32)
    err = real_error(x, y, strict_math.pow_(x, y))
    assert err.max() <= 0.5 + 2.0**-17, (exponent, err.max())


@pytest.mark.parametrize("base", [2.0, 0.75, 3.0, 1.0000001, 1e-40, 3.0e38, -1.5])
def test_every_exponent_of_a_slice(base: float) -> None:
    """Every 2048th float32 exponent of either sign: the results cover overflow, subnormal and underflow."""
    y = np.arange(0, 2**32, 2048, dtype=np.uint64).astype(np.uint32).view(F32)
    y = y[np.isfinite(y)]
    x = np.full(y.size, base, F32)
    got = strict_math.pow_(x, y)
    err = real_error(x, y, got)
    assert err.max() <= 0.5 + 2.0**-17, (base, err.max())
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), y.astype(np.float64)).astype(F32)
    assert np.array_equal(np.isinf(got), np.isinf(want)) and np.array_equal(got == 0, want == 0)


def test_exact_powers_are_exact() -> None:
    x = np.array([2, 2, 9, 0.25, 3, 10, -2, -3, 1.5, 7.25, 1e-45, 2], F32)
    y = np.array([10, -149, 0.5, 0.5, 4, 7, 3, 5, 1, 1, 1, 127], F32)
    want = np.array([1024, 2.0**-149, 3, 0.5, 81, 1e7, -8, -243, 1.5, 7.25, 1e-45, 2.0**127], F32)
    assert np.array_equal(run_pow(x, y).view(np.uint32), want.view(np.uint32))


# (base, exponent, result) for every rule of C99 Annex F, both zeros distinguished.
ANNEX_F = [
    *[(x, 0.0, 1.0) for x in (0.0, -0.0, 2.0, -3.5, INF, -INF, NAN)],
    *[(x, -0.0, 1.0) for x in (5.0, NAN)],
    *[(1.0, y) + (1.0,) for y in (NAN, INF, -INF, -3.0, 0.5)],
    (-1.0, INF, 1.0), (-1.0, -INF, 1.0),
    (0.0, -3.0, INF), (-0.0, -3.0, -INF), (-0.0, -16777215.0, -INF), (0.0, -1e-45, INF), (-0.0, -2.0, INF),
    (-0.0, -0.5, INF), (-0.0, -16777216.0, INF),
    (0.0, -INF, INF), (-0.0, -INF, INF),
    (0.0, 3.0, 0.0), (-0.0, 3.0, -0.0), (-0.0, 1.0, -0.0), (-0.0, 2.0, 0.0), (-0.0, 0.5, 0.0), (-0.0, INF, 0.0),
    (-0.0, 16777216.0, 0.0), (-0.0, 8388609.0, -0.0),
    (-2.0, 0.5, NAN), (-1e-45, 2.5, NAN), (-3e38, -0.25, NAN), (-1.0, 4194304.5, NAN),
    (0.5, -INF, INF), (-0.5, -INF, INF), (0.5, INF, 0.0), (-0.99999994, INF, 0.0),
    (2.0, -INF, 0.0), (-2.0, -INF, 0.0), (2.0, INF, INF), (-1.0000001, INF, INF),
    (-INF, -3.0, -0.0), (-INF, -2.0, 0.0), (-INF, -0.5, 0.0), (-INF, 3.0, -INF), (-INF, 2.0, INF),
    (-INF, 0.5, INF), (-INF, INF, INF), (-INF, -INF, 0.0),
    (INF, -1e-45, 0.0), (INF, 1e-45, INF), (INF, -INF, 0.0), (INF, INF, INF),
    (NAN, 1.0, NAN), (NAN, INF, NAN), (2.0, NAN, NAN), (-1.0, NAN, NAN), (0.0, NAN, NAN), (NAN, NAN, NAN),
    (-1.0, 3.0, -1.0), (-1.0, 16777216.0, 1.0), (-2.0, 3.0, -8.0), (-2.0, -2.0, 0.25),
    (-2.0, 8388609.0, -INF), (-0.5, 8388609.0, -0.0), (-2.0, 3e38, INF), (-2.0, -3e38, 0.0),
]


def test_annex_f_special_cases_exactly() -> None:
    x, y, want = (np.array(c, F32) for c in zip(*ANNEX_F, strict=True))
    got = run_pow(x, y)
    for i in range(x.size):
        if np.isnan(want[i]):
            assert np.isnan(got[i]), (x[i], y[i], got[i])
        else:
            assert got[i].view(np.uint32) == want[i].view(np.uint32), (x[i], y[i], got[i], want[i])


def test_agrees_with_the_c_library_pow_where_it_is_defined() -> None:
    """Python's math.pow is the platform's C pow (Annex F), except that it raises for 0 to a negative power."""
    vals = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 2.5, INF, -INF, NAN, 1e-45, -1e-45, 3e38,
            16777216.0, 16777215.0, -16777215.0, 0.999, -1.001, 1e-40, 7.0, -7.0, 8388609.0]
    vals = [float(F32(v)) for v in vals]
    pairs = [(a, b) for a in vals for b in vals]
    got = run_pow(np.array([a for a, _ in pairs], F32), np.array([b for _, b in pairs], F32))
    checked = 0
    for (a, b), g in zip(pairs, got, strict=True):
        try:
            with np.errstate(over="ignore"):
                want = F32(math.pow(a, b))
        except OverflowError:
            want = F32(-INF if a < 0 and b == int(b) and int(b) % 2 else INF)
        except ValueError:  # 0 to a negative power: Annex F says inf (test above)
            continue
        checked += 1
        assert (np.isnan(g) and np.isnan(want)) or g.view(np.uint32) == want.view(np.uint32), (a, b, g, want)
    assert checked > 550


def test_broadcasting_and_the_version_stamp() -> None:
    doc = doc_for([{"op": "Pow", "inputs": ["a", "b"], "outputs": ["y"]}], [("a", ["batch", 3]), ("b", [])],
                  [("y", ["batch", 3])], version="1.1")
    a = np.array([[1, 2, 3], [4, 0.5, -2]], F32)
    (out,) = exporter.load(doc).run({"a": a, "b": np.array(2, F32)}).values()
    assert np.array_equal(out, a * a)
    with pytest.raises(ModelError) as err:
        exporter.load(pow_doc(2, version="1.0"))
    assert err.value.code == "E_VERSION" and "Pow" in str(err.value)
