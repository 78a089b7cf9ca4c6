/*
 * Tessera strict kernels: SPEC.md section 7, bit for bit.
 *
 * Freestanding on purpose (the JS runtime compiles this file to wasm32):
 * only <stddef.h>, <stdint.h>, <float.h>; no libc calls, no globals with
 * state, bit casts through unions. See kernels.h for the ABI.
 *
 * Every floating-point expression below is written so that each + - * / is
 * exactly one binary32 operation: no expression mixes in double, and the
 * build uses -ffp-contract=off so a*b+c never becomes an FMA.
 */
#include <float.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "Tessera strict kernels need FLT_EVAL_METHOD == 0 (binary32 evaluated in binary32)"
#endif
#if defined(__FAST_MATH__)
#error "Tessera strict kernels must not be built with -ffast-math"
#endif

/* sqrt is correctly rounded in IEEE 754; the builtin becomes one instruction
 * (sqrtss, f32.sqrt). Without GNU builtins fall back to libm's sqrtf. */
#if defined(__GNUC__) || defined(__clang__)
#define TSR_SQRTF(x) __builtin_sqrtf(x)
#else
float sqrtf(float);
#define TSR_SQRTF(x) sqrtf(x)
#endif

/* Clang recognises zeroing and copying loops and emits calls to memset /
 * memcpy, which do not exist in a freestanding wasm module. no_builtin
 * keeps those loops as loops (gcc never links this file freestanding). */
#if defined(__clang__)
#define TSR_NOLIBC __attribute__((no_builtin("memset", "memcpy", "memmove")))
#else
#define TSR_NOLIBC
#endif

typedef union {
    float f;
    uint32_t u;
} tsr_bits;

static inline uint32_t f2u(float f)
{
    tsr_bits b;
    b.f = f;
    return b.u;
}

static inline float u2f(uint32_t u)
{
    tsr_bits b;
    b.u = u;
    return b.f;
}

/* ---- constants of SPEC 7.3, by bit pattern ---- */
#define K_EXP_LO 0xC2D00000u   /* -104.0 */
#define K_EXP_HI 0x42B20000u   /* 89.0 */
#define K_LOG2E 0x3FB8AA3Bu
#define K_MAGIC 0x4B400000u    /* 1.5 * 2^23 */
#define K_EXP_LN2_HI 0x3F317200u
#define K_EXP_LN2_LO 0x35BFBE8Eu
#define K_LOG_SQRT2 0x3FB504F3u
#define K_LOG_LN2_HI 0x3F318000u
#define K_LOG_LN2_LO 0xB95E8083u
#define K_TWO23 0x4B000000u
#define K_MIN_NORMAL 0x00800000u
#define K_TANH_SMALL 0x3F0CCCCDu

static const uint32_t k_exp_p[6] = {0x394F8450u, 0x3AB6C682u, 0x3C088938u,
                                    0x3D2AAA47u, 0x3E2AAAAAu, 0x3F000000u};
static const uint32_t k_log_q[9] = {0x3D8A2BA8u, 0xBDEF1E0Cu, 0x3DF3784Bu,
                                    0xBDFE1105u, 0x3E119BB3u, 0xBE2AAE27u,
                                    0x3E4CD25Bu, 0xBE800003u, 0x3EAAAAA4u};
static const uint32_t k_tanh_t[6] = {0x3B1D032Au, 0xBC09DAAEu, 0x3CB271E5u,
                                     0xBD5D04CBu, 0x3E08886Eu, 0xBEAAAAAAu};

static inline int is_nan(float x)
{
    return x != x;
}

static inline float horner(const uint32_t *c, int d, float t)
{
    float acc = u2f(c[0]);
    int i;
    for (i = 1; i < d; i++) {
        acc = acc * t;
        acc = acc + u2f(c[i]);
    }
    return acc;
}

/* ---- SPEC 7.2 ---- */
float tsr_k_max1(float a, float b)
{
    if (is_nan(a))
        return a;
    if (is_nan(b))
        return b;
    if (a == b) /* +0/-0: -0 only when both are -0, i.e. AND of the bits */
        return u2f(f2u(a) & f2u(b));
    return a > b ? a : b;
}

float tsr_k_min1(float a, float b)
{
    if (is_nan(a))
        return a;
    if (is_nan(b))
        return b;
    if (a == b) /* +0 only when both are +0: OR of the bits */
        return u2f(f2u(a) | f2u(b));
    return a < b ? a : b;
}

/* ---- SPEC 7.3 Exp ----
 * Written without branches (selects only) so loops over it can vectorise.
 * The NaN case is clamped to a finite value first so that no step has
 * undefined behaviour, and the NaN is restored at the end. */
float tsr_k_exp1(float x)
{
    const float lo = u2f(K_EXP_LO), hi = u2f(K_EXP_HI), magic = u2f(K_MAGIC);
    float xc = x > lo ? x : lo; /* NaN -> lo, fixed below */
    float t, nf, r, p, y;
    int32_t n, n1;
    xc = xc < hi ? xc : hi;
    t = xc * u2f(K_LOG2E);
    t = t + magic;
    nf = t - magic;
    /* t is in [2^23, 2^24): its low mantissa bits hold n + 2^22 exactly */
    n = (int32_t)f2u(t) - (int32_t)K_MAGIC;
    r = xc - nf * u2f(K_EXP_LN2_HI);
    r = r - nf * u2f(K_EXP_LN2_LO);
    p = horner(k_exp_p, 6, r);
    p = (r * r) * p;
    p = r + p;
    p = 1.0f + p;
    n1 = (n + 256) / 2 - 128; /* floor(n / 2) without shifting a negative */
    y = p * u2f((uint32_t)(n1 + 127) << 23);
    y = y * u2f((uint32_t)(n - n1 + 127) << 23);
    return is_nan(x) ? x : y;
}

/* ---- SPEC 7.3 Log ---- */
float tsr_k_log1(float x)
{
    int sub = x < u2f(K_MIN_NORMAL) && x > 0.0f;
    float xs = sub ? x * u2f(K_TWO23) : x;
    uint32_t bits = f2u(xs);
    int32_t e = (int32_t)((bits >> 23) & 0xFFu) - 127 - (sub ? 23 : 0);
    float m = u2f((bits & 0x7FFFFFu) | 0x3F800000u);
    float f, z, y, fe, r;
    if (m > u2f(K_LOG_SQRT2)) {
        m = m * 0.5f;
        e = e + 1;
    }
    f = m - 1.0f;
    z = f * f;
    y = horner(k_log_q, 9, f);
    y = y * f;
    y = y * z;
    fe = (float)e; /* |e| < 2^24: exact */
    y = y + fe * u2f(K_LOG_LN2_LO);
    y = y - 0.5f * z;
    r = f + y;
    r = r + fe * u2f(K_LOG_LN2_HI);
    if (x == 0.0f)
        r = -u2f(0x7F800000u);
    if (x == u2f(0x7F800000u))
        r = x;
    if (x < 0.0f || is_nan(x))
        r = u2f(0x7FC00000u);
    return r;
}

/* ---- SPEC 7.3 Sigmoid: NaN takes the second branch (x >= 0 is false) ---- */
float tsr_k_sigmoid1(float x)
{
    int pos = x >= 0.0f;
    float e = tsr_k_exp1(pos ? -x : x);
    float d = 1.0f + e;
    float num = pos ? 1.0f : e;
    return num / d;
}

/* ---- SPEC 7.3 Tanh ---- */
float tsr_k_tanh1(float x)
{
    float a = u2f(f2u(x) & 0x7FFFFFFFu);
    if (a < u2f(K_TANH_SMALL)) {
        float s = x * x;
        float t = horner(k_tanh_t, 6, s);
        return x + x * (s * t);
    } else {
        float e = tsr_k_exp1(a * 2.0f);
        float y = 1.0f - 2.0f / (e + 1.0f);
        return u2f(f2u(y) | (f2u(x) & 0x80000000u)); /* y >= 0 or NaN */
    }
}

/* ---- SPEC 7.3 Softplus ---- */
float tsr_k_softplus1(float x)
{
    float e, u, c, l, base;
    if (is_nan(x))
        return x;
    e = tsr_k_exp1(-u2f(f2u(x) & 0x7FFFFFFFu));
    u = 1.0f + e;
    c = e - (u - 1.0f); /* rounding error of 1 + e, exactly */
    l = tsr_k_log1(u) + c / u;
    base = x > 0.0f ? x : 0.0f;
    return base + l;
}

/* ---- elementwise unary ---- */
void tsr_k_neg(const float *x, float *y, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = u2f(f2u(x[i]) ^ 0x80000000u);
}

void tsr_k_abs(const float *x, float *y, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = u2f(f2u(x[i]) & 0x7FFFFFFFu);
}

void tsr_k_sqrt(const float *x, float *y, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = TSR_SQRTF(x[i]);
}

void tsr_k_relu(const float *x, float *y, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = tsr_k_max1(x[i], 0.0f);
}

void tsr_k_clip(const float *x, float *y, int32_t n, float lo, float hi)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = tsr_k_min1(tsr_k_max1(x[i], lo), hi);
}

void tsr_k_exp(const float *x, float *y, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = tsr_k_exp1(x[i]);
}

void tsr_k_log(const float *x, float *y, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = tsr_k_log1(x[i]);
}

void tsr_k_sigmoid(const float *x, float *y, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = tsr_k_sigmoid1(x[i]);
}

void tsr_k_tanh(const float *x, float *y, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = tsr_k_tanh1(x[i]);
}

void tsr_k_softplus(const float *x, float *y, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = tsr_k_softplus1(x[i]);
}

TSR_NOLIBC void tsr_k_copy(const float *x, float *y, int32_t n)
{
    int32_t i;
    if (x == y)
        return;
    for (i = 0; i < n; i++)
        y[i] = x[i];
}

/* ---- binary, broadcasting ---- */

/* One loop per (op, stride pattern) so the common contiguous cases are
 * simple loops the compiler vectorises. */
#define TSR_BIN_LOOPS(EXPR)                                                  \
    do {                                                                     \
        if (sa == 1 && sb == 1) {                                            \
            for (i = 0; i < n; i++) {                                        \
                float av = a[i], bv = b[i];                                  \
                y[i] = EXPR;                                                 \
            }                                                                \
        } else if (sa == 1 && sb == 0) {                                     \
            float bv = b[0];                                                 \
            for (i = 0; i < n; i++) {                                        \
                float av = a[i];                                             \
                y[i] = EXPR;                                                 \
            }                                                                \
        } else if (sa == 0 && sb == 1) {                                     \
            float av = a[0];                                                 \
            for (i = 0; i < n; i++) {                                        \
                float bv = b[i];                                             \
                y[i] = EXPR;                                                 \
            }                                                                \
        } else {                                                             \
            for (i = 0; i < n; i++) {                                        \
                float av = a[(ptrdiff_t)i * sa], bv = b[(ptrdiff_t)i * sb];  \
                y[i] = EXPR;                                                 \
            }                                                                \
        }                                                                    \
    } while (0)

/* y[i] = a[i*sa] op b[i*sb]; sa, sb any non-negative element strides. */
TSR_NOLIBC void tsr_k_binary_flat(int32_t op, const float *a, const float *b, float *y,
                       int32_t n, int32_t sa, int32_t sb)
{
    int32_t i;
    switch (op) {
    case TSR_K_ADD: TSR_BIN_LOOPS(av + bv); break;
    case TSR_K_SUB: TSR_BIN_LOOPS(av - bv); break;
    case TSR_K_MUL: TSR_BIN_LOOPS(av * bv); break;
    case TSR_K_DIV: TSR_BIN_LOOPS(av / bv); break;
    case TSR_K_MAX: TSR_BIN_LOOPS(tsr_k_max1(av, bv)); break;
    case TSR_K_MIN: TSR_BIN_LOOPS(tsr_k_min1(av, bv)); break;
    default: break;
    }
}

TSR_NOLIBC void tsr_k_binary(int32_t op, const float *a, const float *b, float *y,
                  int32_t rank, const int32_t *shape,
                  const int32_t *sa, const int32_t *sb)
{
    int32_t dims[TSR_K_MAX_RANK], as[TSR_K_MAX_RANK], bs[TSR_K_MAX_RANK];
    int32_t idx[TSR_K_MAX_RANK];
    int32_t r = 0, d, inner;
    ptrdiff_t ao = 0, bo = 0, yo = 0;

    if (rank > TSR_K_MAX_RANK)
        return;
    /* Drop size-1 dims and merge a dim into the previous kept one when both
     * operands step through them as one contiguous run. */
    for (d = 0; d < rank; d++) {
        if (shape[d] == 1)
            continue;
        if (r > 0 && as[r - 1] == sa[d] * shape[d] && bs[r - 1] == sb[d] * shape[d]) {
            dims[r - 1] *= shape[d];
            as[r - 1] = sa[d];
            bs[r - 1] = sb[d];
            continue;
        }
        dims[r] = shape[d];
        as[r] = sa[d];
        bs[r] = sb[d];
        r++;
    }
    for (d = 0; d < rank; d++)
        if (shape[d] == 0)
            return;
    if (r == 0) {
        tsr_k_binary_flat(op, a, b, y, 1, 0, 0);
        return;
    }
    inner = dims[r - 1];
    for (d = 0; d < r; d++)
        idx[d] = 0;
    for (;;) {
        tsr_k_binary_flat(op, a + ao, b + bo, y + yo, inner, as[r - 1], bs[r - 1]);
        yo += inner;
        /* odometer over the outer dims */
        for (d = r - 2; d >= 0; d--) {
            idx[d]++;
            ao += as[d];
            bo += bs[d];
            if (idx[d] < dims[d])
                break;
            ao -= (ptrdiff_t)as[d] * dims[d];
            bo -= (ptrdiff_t)bs[d] * dims[d];
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

/* ---- MatMul (SPEC 7.1) ---- */

/* Fast path, B not transposed. For each row i and a chunk of columns the
 * accumulators stay in registers while k runs 0..K-1 in order, so every
 * element still sums its terms in increasing k, starting from +0.0; a zero
 * A'[i,k] skips the whole term for the row (SPEC 7.1 makes that exact). */
#if (defined(__GNUC__) || defined(__clang__))
#define TSR_HAVE_VEC 1
typedef float tsr_v8 __attribute__((vector_size(32)));
typedef float tsr_v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define VLOAD(p) (*(const tsr_v8u *)(const void *)(p))
#define VSTORE(p, v) (*(tsr_v8u *)(void *)(p) = (v))
#else
#define TSR_HAVE_VEC 0
#endif

static inline float a_at(const float *a, int32_t m, int32_t k, int32_t ta,
                         int32_t i, int32_t kk)
{
    return ta ? a[(ptrdiff_t)kk * m + i] : a[(ptrdiff_t)i * k + kk];
}

#if TSR_HAVE_VEC
/* c[i, j0 .. j0+63] for one row: 8 vector accumulators. */
TSR_NOLIBC static void mm_row64(const float *a, const float *b, float *c, int32_t m,
                     int32_t k, int32_t n, int32_t ta, int32_t i, int32_t j0)
{
    tsr_v8 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
    tsr_v8 c4 = {0}, c5 = {0}, c6 = {0}, c7 = {0};
    const float *bp = b + j0;
    float *cp = c + (ptrdiff_t)i * n + j0;
    int32_t kk;
    for (kk = 0; kk < k; kk++, bp += n) {
        float av = a_at(a, m, k, ta, i, kk);
        if (av == 0.0f)
            continue;
        c0 = c0 + av * VLOAD(bp);
        c1 = c1 + av * VLOAD(bp + 8);
        c2 = c2 + av * VLOAD(bp + 16);
        c3 = c3 + av * VLOAD(bp + 24);
        c4 = c4 + av * VLOAD(bp + 32);
        c5 = c5 + av * VLOAD(bp + 40);
        c6 = c6 + av * VLOAD(bp + 48);
        c7 = c7 + av * VLOAD(bp + 56);
    }
    VSTORE(cp, c0);
    VSTORE(cp + 8, c1);
    VSTORE(cp + 16, c2);
    VSTORE(cp + 24, c3);
    VSTORE(cp + 32, c4);
    VSTORE(cp + 40, c5);
    VSTORE(cp + 48, c6);
    VSTORE(cp + 56, c7);
}

/* c[i, j0 .. j0+7] for one row. */
TSR_NOLIBC static void mm_row8(const float *a, const float *b, float *c, int32_t m,
                    int32_t k, int32_t n, int32_t ta, int32_t i, int32_t j0)
{
    tsr_v8 c0 = {0};
    const float *bp = b + j0;
    int32_t kk;
    for (kk = 0; kk < k; kk++, bp += n) {
        float av = a_at(a, m, k, ta, i, kk);
        if (av == 0.0f)
            continue;
        c0 = c0 + av * VLOAD(bp);
    }
    VSTORE(c + (ptrdiff_t)i * n + j0, c0);
}
#endif

/* c[i, j0 .. j1-1] one column at a time (tails, and no vector support). */
TSR_NOLIBC static void mm_row_scalar(const float *a, const float *b, float *c, int32_t m,
                          int32_t k, int32_t n, int32_t ta, int32_t i,
                          int32_t j0, int32_t j1)
{
    int32_t j, kk;
    for (j = j0; j < j1; j++) {
        float acc = 0.0f;
        for (kk = 0; kk < k; kk++) {
            float av = a_at(a, m, k, ta, i, kk);
            if (av == 0.0f)
                continue;
            acc = acc + av * b[(ptrdiff_t)kk * n + j];
        }
        c[(ptrdiff_t)i * n + j] = acc;
    }
}

/* B transposed (stored n x k): a dot product per element, k in order. */
TSR_NOLIBC static void mm_tb(const float *a, const float *b, float *c, int32_t m,
                  int32_t k, int32_t n, int32_t ta)
{
    int32_t i, j, kk;
    for (i = 0; i < m; i++) {
        for (j = 0; j < n; j++) {
            const float *bp = b + (ptrdiff_t)j * k;
            float acc = 0.0f;
            for (kk = 0; kk < k; kk++) {
                float av = a_at(a, m, k, ta, i, kk);
                if (av == 0.0f)
                    continue;
                acc = acc + av * bp[kk];
            }
            c[(ptrdiff_t)i * n + j] = acc;
        }
    }
}

TSR_NOLIBC void tsr_k_matmul(const float *a, const float *b, float *c,
                  int32_t m, int32_t k, int32_t n, int32_t ta, int32_t tb)
{
    int32_t i, j;
    if (m <= 0 || n <= 0 || k < 0)
        return;
    if (tb) {
        mm_tb(a, b, c, m, k, n, ta);
        return;
    }
    for (i = 0; i < m; i++) {
        j = 0;
#if TSR_HAVE_VEC
        for (; j + 64 <= n; j += 64)
            mm_row64(a, b, c, m, k, n, ta, i, j);
        for (; j + 8 <= n; j += 8)
            mm_row8(a, b, c, m, k, n, ta, i, j);
#endif
        mm_row_scalar(a, b, c, m, k, n, ta, i, j, n);
    }
}

/* ---- Softmax (SPEC 7.4) ---- */
TSR_NOLIBC void tsr_k_softmax(const float *x, float *y,
                   int32_t outer, int32_t len, int32_t inner)
{
    int32_t o, q, i;
    for (o = 0; o < outer; o++) {
        for (q = 0; q < inner; q++) {
            ptrdiff_t base = (ptrdiff_t)o * len * inner + q;
            float mx = -u2f(0x7F800000u), s = 0.0f;
            for (i = 0; i < len; i++)
                mx = tsr_k_max1(mx, x[base + (ptrdiff_t)i * inner]);
            for (i = 0; i < len; i++) {
                float e = tsr_k_exp1(x[base + (ptrdiff_t)i * inner] - mx);
                y[base + (ptrdiff_t)i * inner] = e;
                s = s + e;
            }
            for (i = 0; i < len; i++)
                y[base + (ptrdiff_t)i * inner] = y[base + (ptrdiff_t)i * inner] / s;
        }
    }
}

/* ---- Reductions (SPEC 7.5) ---- */
static float reduce_step(int32_t op, float acc, float v)
{
    return op == TSR_K_RMAX ? tsr_k_max1(acc, v) : acc + v;
}

TSR_NOLIBC void tsr_k_reduce(int32_t op, const float *x, float *y,
                  int32_t rank, const int32_t *shape, const int32_t *reduce)
{
    int32_t ostride[TSR_K_MAX_RANK], idx[TSR_K_MAX_RANK];
    int32_t d, inner, count = 1, nout = 1, j;
    ptrdiff_t xo = 0, yo = 0;
    float init = op == TSR_K_RMAX ? -u2f(0x7F800000u) : 0.0f;

    if (rank > TSR_K_MAX_RANK)
        return;
    for (d = rank - 1; d >= 0; d--) {
        if (shape[d] <= 0)
            return;
        if (reduce[d]) {
            ostride[d] = 0;
            count *= shape[d];
        } else {
            ostride[d] = nout;
            nout *= shape[d];
        }
    }
    for (j = 0; j < nout; j++)
        y[j] = init;
    if (rank == 0) {
        y[0] = reduce_step(op, init, x[0]);
    } else {
        inner = shape[rank - 1];
        for (d = 0; d < rank; d++)
            idx[d] = 0;
        for (;;) {
            /* Row-major walk of x: each output sees its reduced elements in
             * row-major order of the reduced indices. */
            if (reduce[rank - 1]) {
                float acc = y[yo];
                for (j = 0; j < inner; j++)
                    acc = reduce_step(op, acc, x[xo + j]);
                y[yo] = acc;
            } else {
                for (j = 0; j < inner; j++)
                    y[yo + j] = reduce_step(op, y[yo + j], x[xo + j]);
            }
            xo += inner;
            for (d = rank - 2; d >= 0; d--) {
                idx[d]++;
                yo += ostride[d];
                if (idx[d] < shape[d])
                    break;
                yo -= (ptrdiff_t)ostride[d] * shape[d];
                idx[d] = 0;
            }
            if (d < 0)
                break;
        }
    }
    if (op == TSR_K_RMEAN) {
        float cf = (float)count; /* round to nearest even */
        for (j = 0; j < nout; j++)
            y[j] = y[j] / cf;
    }
}

/* ---- Transpose ---- */
TSR_NOLIBC void tsr_k_transpose(const float *x, float *y, int32_t rank,
                     const int32_t *shape, const int32_t *perm)
{
    int32_t istride[TSR_K_MAX_RANK], odims[TSR_K_MAX_RANK];
    int32_t ostr[TSR_K_MAX_RANK], idx[TSR_K_MAX_RANK];
    int32_t d, j, inner, s = 1;
    ptrdiff_t xo = 0, yo = 0;

    if (rank > TSR_K_MAX_RANK)
        return;
    if (rank == 0) {
        y[0] = x[0];
        return;
    }
    for (d = rank - 1; d >= 0; d--) {
        if (shape[d] <= 0)
            return;
        istride[d] = s;
        s *= shape[d];
    }
    for (d = 0; d < rank; d++) {
        odims[d] = shape[perm[d]];
        ostr[d] = istride[perm[d]];
        idx[d] = 0;
    }
    inner = odims[rank - 1];
    for (;;) {
        int32_t st = ostr[rank - 1];
        for (j = 0; j < inner; j++)
            y[yo + j] = x[xo + (ptrdiff_t)j * st];
        yo += inner;
        for (d = rank - 2; d >= 0; d--) {
            idx[d]++;
            xo += ostr[d];
            if (idx[d] < odims[d])
                break;
            xo -= (ptrdiff_t)ostr[d] * odims[d];
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}
