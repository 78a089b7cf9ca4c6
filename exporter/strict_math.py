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


# --- Pow (SPEC 7.10): log2 and exp2 in binary64, one rounding to binary32 at the end ---


def _d(hex_bits: int) -> np.float64:
    """A binary64 constant from its IEEE bit pattern (how SPEC.md lists Pow's)."""
    return np.array([hex_bits], dtype=np.uint64).view(np.float64)[0]


POW_K = _d(0x40071547652B82FE)  # 2 / ln 2
# log2(m) = s K + s z POW_L(z), s = (m-1)/(m+1), z = s^2: K/3, K/5, .., K/21, Horner order (highest first)
POW_L = tuple(_d(b) for b in (
    0x3FC1964EC6FC9491, 0x3FC3703C1F4D0FFE, 0x3FC5B9AC9B743F0D, 0x3FC89F3B1694CFFE, 0x3FCC68F568D31760,
    0x3FD0C9A84994022D, 0x3FD484B13D7C02A9, 0x3FDA61762A7ADED9, 0x3FE2776C50EF9BFE, 0x3FEEC709DC3A03FD,
))
# 2^r = sum (ln 2)^j / j!, j = 13 .. 0, Horner order, for |r| <= 1/2
POW_E = tuple(_d(b) for b in (
    0x3D7816193166D0F9, 0x3DBC3BD650FC2986, 0x3DFE8CAC7351BB25, 0x3E3E4CF5158B8ECA, 0x3E7B5253D395E7C4,
    0x3EB62C0223A5C824, 0x3EEFFCBFC588B0C7, 0x3F2430912F86C787, 0x3F55D87FE78A6731, 0x3F83B2AB6FBA4E77,
    0x3FAC6B08D704A0C0, 0x3FCEBFBDFF82C58F, 0x3FE62E42FEFA39EF, 0x3FF0000000000000,
))
POW_MAGIC = _d(0x4338000000000000)  # 1.5 * 2^52: t + M - M rounds |t| < 2^51 to an integer
POW_T_MAX = np.float64(200.0)  # |y log2 x| beyond 200 overflows or underflows binary32 either way


def _integer_odd(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y is an integer, y is an odd integer) for finite nonzero float32 y, from its bits."""
    by = y.view(np.uint32).astype(np.int64)
    e = ((by >> 23) & 0xFF) - 127
    sh = np.clip(e, 0, 23)
    frac = by & (0x7FFFFF >> sh)
    integer = (e >= 23) | ((e >= 0) & (frac == 0))
    odd = integer & (e <= 23) & (((by >> (23 - sh)) & 1) == 1)
    return integer, odd


@np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore")
def pow_(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x^y for float32 arrays (broadcast): C99 Annex F's special cases, else
    2^(y log2|x|) in binary64 rounded once to binary32 (SPEC 7.10)."""
    x, y = np.broadcast_arrays(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32))
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
    one = np.float32(1.0)
    ax = np.abs(x)
    integer, odd = _integer_odd(y)
    # The general path, on every element (the special ones are replaced below).
    sub = ax < MIN_NORMAL
    xs = np.where(sub, ax * TWO_POW_23, ax)
    bits = xs.view(np.uint32).astype(np.int64)
    e = ((bits >> 23) & 0xFF) - 127 - np.where(sub, 23, 0)
    m = ((bits & 0x7FFFFF) | 0x3F800000).astype(np.uint32).view(np.float32)
    big = m > LOG_SQRT2
    m = np.where(big, m * HALF, m).astype(np.float64)
    e = e + big
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    q = np.full_like(z, POW_L[0])
    for c in POW_L[1:]:
        q = q * z
        q = q + c
    l2 = s * POW_K + (s * z) * q
    l2 = e.astype(np.float64) + l2
    t = y.astype(np.float64) * l2
    t = np.minimum(np.maximum(t, -POW_T_MAX), POW_T_MAX)
    t = np.where(np.isfinite(t), t, 0.0)  # special elements only; keeps the integer conversion quiet
    k = (t + POW_MAGIC) - POW_MAGIC
    r = t - k
    p = np.full_like(r, POW_E[0])
    for c in POW_E[1:]:
        p = p * r
        p = p + c
    scale = ((k.astype(np.int64) + 1023) << 52).view(np.float64)
    res = (p * scale).astype(np.float32)
    res = np.where((x < 0) & odd, -res, res)
    # Special cases, C99 Annex F, later rules override earlier ones.
    res = np.where((x < 0) & ~integer, np.float32(np.nan), res)
    pos_inf, zero = np.float32(np.inf), np.float32(0.0)
    signed_inf = np.where(np.signbit(x) & odd, -pos_inf, pos_inf)  # x = -0 or -inf with odd y
    signed_zero = np.where(np.signbit(x) & odd, -zero, zero)
    res = np.where(ax == 0, np.where(y < 0, signed_inf, signed_zero), res)
    res = np.where(ax == np.inf, np.where(y < 0, signed_zero, signed_inf), res)
    yinf = np.isinf(y)
    res = np.where(yinf, np.where((ax < one) == (y < 0), pos_inf, zero), res)
    res = np.where(yinf & (ax == one), one, res)
    res = np.where(np.isnan(x) | np.isnan(y), np.float32(np.nan), res)
    res = np.where((x == one) | (y == 0), one, res)
    return res.astype(np.float32)
