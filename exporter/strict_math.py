"""Strict binary32 transcendental functions (SPEC.md section "Exact arithmetic").

Every function here is a fixed sequence of IEEE-754 binary32 operations
(+ - * / and bit manipulation), vectorised with numpy over float32 arrays.
The C and JS runtimes implement the same sequences; the results must agree
bit for bit. No libm, no np.exp / np.log: those differ between platforms.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

F32 = np.float32


def _f(hex_bits: int) -> np.float32:
    """A float32 constant from its IEEE bit pattern (how SPEC.md lists them)."""
    return np.array([hex_bits], dtype=np.uint32).view(np.float32)[0]


# --- constants (bit patterns are normative; decimal values are comments) ---
EXP_CLAMP_LO = _f(0xC2D00000)  # -104.0: below, exp underflows to +0
EXP_CLAMP_HI = _f(0x42B20000)  # 89.0: above, exp overflows to +inf
LOG2E = _f(0x3FB8AA3B)  # 1.44269502
ROUND_MAGIC = _f(0x4B400000)  # 1.5 * 2^23: x + M - M rounds x to an integer
EXP_LN2_HI = _f(0x3F317200)  # 0.693145751953125 (15 significant bits)
EXP_LN2_LO = _f(0x35BFBE8E)  # 1.42860677e-06
# e^r ~ 1 + (r + r^2 * P(r)), P in Horner order, highest degree first
EXP_P = tuple(_f(b) for b in (0x394F8450, 0x3AB6C682, 0x3C088938, 0x3D2AAA47, 0x3E2AAAAA, 0x3F000000))

LOG_SQRT2 = _f(0x3FB504F3)  # 1.41421354
LOG_LN2_HI = _f(0x3F318000)  # 0.693359375 (9 significant bits)
LOG_LN2_LO = _f(0xB95E8083)  # -2.12194442e-04
# log(1+f) ~ f + (f^3 * Q(f) - f^2/2), Q in Horner order, highest degree first
LOG_Q = tuple(
    _f(b)
    for b in (
        0x3D8A2BA8, 0xBDEF1E0C, 0x3DF3784B, 0xBDFE1105, 0x3E119BB3,
        0xBE2AAE27, 0x3E4CD25B, 0xBE800003, 0x3EAAAAA4,
    )
)
TWO_POW_23 = _f(0x4B000000)
MIN_NORMAL = _f(0x00800000)

TANH_SMALL = _f(0x3F0CCCCD)  # 0.55: below, tanh uses its odd polynomial
# tanh(x) ~ x + x * (x^2 * T(x^2)), T in Horner order, highest degree first
TANH_T = tuple(_f(b) for b in (0x3B1D032A, 0xBC09DAAE, 0x3CB271E5, 0xBD5D04CB, 0x3E08886E, 0xBEAAAAAA))

ONE = F32(1.0)
TWO = F32(2.0)
HALF = F32(0.5)
ZERO = F32(0.0)


def _quiet(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Overflow to inf and underflow to 0 are defined results here, not warnings."""

    @functools.wraps(fn)
    def wrapper(x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            return fn(x)

    return wrapper


def _horner(coeffs: tuple[np.float32, ...], x: np.ndarray) -> np.ndarray:
    acc = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        acc = acc * x
        acc = acc + c
    return acc


def _pow2(n: np.ndarray) -> np.ndarray:
    """2^n as float32 for integer n in [-126, 127], built from exponent bits."""
    return ((n.astype(np.int32) + 127) << 23).astype(np.uint32).view(np.float32)


def _exp_reduce(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """n = round(x log2 e) (as a float) and x - n ln2_hi, which is exact: shared by Exp and Sigmoid."""
    nf = x * LOG2E
    nf = nf + ROUND_MAGIC
    nf = nf - ROUND_MAGIC
    return nf, x - nf * EXP_LN2_HI


def _exp_tail(r: np.ndarray) -> np.ndarray:
    """e^r - 1 - r as r^2 * horner(EXP_P, r): shared by Exp and Sigmoid."""
    return (r * r) * _horner(EXP_P, r)


@_quiet
def exp(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    xc = np.minimum(np.maximum(x, EXP_CLAMP_LO), EXP_CLAMP_HI)  # NaN handled below
    nf, r = _exp_reduce(xc)
    r = r - nf * EXP_LN2_LO
    q = r + _exp_tail(r)
    q = ONE + q
    n = np.nan_to_num(nf).astype(np.int32)
    n1 = n >> 1  # floor(n/2): both halves stay within the normal range
    y = (q * _pow2(n1)) * _pow2(n - n1)
    return np.where(np.isnan(x), x, y).astype(np.float32)


@_quiet
def log(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    sub = (x < MIN_NORMAL) & (x > ZERO)
    xs = np.where(sub, x * TWO_POW_23, x)
    bits = xs.view(np.uint32).astype(np.int64)
    e = ((bits >> 23) & 0xFF) - 127 - np.where(sub, 23, 0)
    m = ((bits & 0x7FFFFF) | 0x3F800000).astype(np.uint32).view(np.float32)
    big = m > LOG_SQRT2
    m = np.where(big, m * HALF, m)
    e = e + big
    f = m - ONE
    z = f * f
    y = _horner(LOG_Q, f)
    y = y * f
    y = y * z
    fe = e.astype(np.float32)
    y = y + fe * LOG_LN2_LO
    y = y - HALF * z
    r = f + y
    r = r + fe * LOG_LN2_HI
    r = np.where(x == ZERO, F32(-np.inf), r)
    r = np.where(x == F32(np.inf), F32(np.inf), r)
    r = np.where((x < ZERO) | np.isnan(x), F32(np.nan), r)
    return r.astype(np.float32)


# --- error-free transformations (SPEC 7.3): a result pair (hi, lo) with
# hi + lo equal to the exact value; what lets Sigmoid reach 1 ulp ---
VELTKAMP = _f(0x45801000)  # 4097 = 2^12 + 1: splits a float32 into two 12-bit halves


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _fast_two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact when |a| >= |b| (or a is zero); callers guarantee it."""
    s = a + b
    return s, b - (s - a)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = a * VELTKAMP
    h = g - (g - a)
    return h, a - h


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's product without FMA: exact for the magnitudes used here."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, (((ah * bh - p) + ah * bl) + al * bh) + al * bl


@_quiet
def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) with e^-|x| and the quotient carried as float32 pairs."""
    x = np.asarray(x, dtype=np.float32)
    pos = x >= ZERO
    t = np.maximum(-np.abs(x), EXP_CLAMP_LO)
    t = np.where(np.isnan(x), EXP_CLAMP_LO, t)  # any finite value: NaN is restored at the end
    nf, r1 = _exp_reduce(t)
    rh, rl = _two_sum(r1, -(nf * EXP_LN2_LO))
    p = _exp_tail(rh)
    a_hi, a_lo = _fast_two_sum(np.full_like(rh, ONE), rh)
    b_hi, b_lo = _fast_two_sum(a_hi, p)
    e_hi, e_lo = _fast_two_sum(b_hi, (a_lo + b_lo) + rl)  # e^t = (e_hi + e_lo) * 2^n
    n = nf.astype(np.int32)
    n1 = n >> 1
    s1, s2 = _pow2(n1), _pow2(n - n1)
    d_hi, d_lo = _fast_two_sum(np.full_like(rh, ONE), (e_hi * s1) * s2)
    d_lo = d_lo + (e_lo * s1) * s2  # 1 + e^t
    num_hi = np.where(pos, ONE, e_hi)
    num_lo = np.where(pos, ZERO, e_lo)
    q_hi = num_hi / d_hi
    p_hi, p_lo = _two_prod(q_hi, d_hi)
    rem = (((num_hi - p_hi) - p_lo) + num_lo) - q_hi * d_lo
    y = q_hi + rem / d_hi
    y = np.where(pos, y, (y * s1) * s2)
    return np.where(np.isnan(x), x, y).astype(np.float32)


@_quiet
def tanh(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    a = np.abs(x)
    s = x * x
    small = x + x * (s * _horner(TANH_T, s))
    e = exp(a * TWO)
    big = ONE - TWO / (e + ONE)
    big = np.where(np.signbit(x), -big, big)
    y = np.where(a < TANH_SMALL, small, big)
    return np.where(x == ZERO, x, y).astype(np.float32)  # tanh(-0) = -0


@_quiet
def log1p_small(e: np.ndarray) -> np.ndarray:
    """log(1 + e) for e in [0, 1], with the rounding error of 1 + e corrected."""
    u = ONE + e
    c = e - (u - ONE)
    return log(u) + c / u


@_quiet
def softplus(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    l = log1p_small(exp(-np.abs(x)))
    y = np.where(x > ZERO, x, ZERO) + l
    return np.where(np.isnan(x), x, y).astype(np.float32)
