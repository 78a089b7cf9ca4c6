/* One-pass float32 kernels of the trainer (see fused_kernels.h).
 *
 * The arithmetic is written once on 16-float GCC/Clang vectors; each kernel body is inlined
 * into three functions compiled for AVX-512F, AVX2 and the baseline ISA (on other machines only
 * the baseline exists). A tail of fewer than 16 elements runs through the same vector code on
 * a padded copy, so an element's result never depends on its position or on the path.
 * Build with -ffp-contract=off: a multiply-add contracted into an FMA in one copy only would
 * round differently from the others.
 */
#include "fused_kernels.h"

#include <string.h>

/* The 64-byte vector helpers are static and always inlined: no call passes a vector across the ABI. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define W 16
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
typedef double vd __attribute__((vector_size(128)));

#define AI static inline __attribute__((always_inline))
#define SPLAT(c) ((vf){0} + (float)(c))
#define ISPLAT(c) ((vi){0} + (int32_t)(c))

AI vf ld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
AI void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
AI vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
AI vf canon(vf r) { return sel(r != r, (vf)ISPLAT(0x7fc00000), r); }
AI vi iota(void) { return (vi){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; }

/* exp(x): Cody-Waite reduction x = n ln2 + r (|r| <= ln2/2, the product n * ln2_hi exact),
 * Cephes' degree-7 polynomial, then 2^n applied as two normal factors so that a subnormal
 * result is rounded once. Below -104 the result is 0; above ln(FLT_MAX) it overflows to inf. */
AI vf vexp(vf x) {
    vf xc = sel(x < -104.0f, SPLAT(-104.0f), sel(x > 88.8f, SPLAT(88.8f), x));
    vf t = xc * 1.44269504f + 12582912.0f; /* + 1.5 * 2^23 rounds to the nearest integer */
    vf nf = t - 12582912.0f;
    vi n = (vi)t - ISPLAT(0x4b400000);
    vf r = xc - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    vf z = r * r;
    vf p = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r
             + 1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r + 1.0f;
    vi n1 = n >> 1;
    vi n2 = n - n1;
    return p * (vf)((n1 + 127) << 23) * (vf)((n2 + 127) << 23);
}

/* log(x): x = 2^k m, m in [sqrt(1/2), sqrt(2)), fdlibm's logf kernel, for normal x > 0 (the
 * callers' arguments are in [1, 2]); nan for nan and x < 0, inf for inf, -inf for 0. */
AI vf vlog(vf x) {
    vi b = (vi)x;
    vi k = (b >> 23) - 127;
    vf m = (vf)((b & 0x007fffff) | 0x3f800000);
    vi hi = m > 1.41421356f;
    m = sel(hi, m * 0.5f, m);
    k = k + (hi & 1);
    vf f = m - 1.0f;
    vf s = f / (2.0f + f);
    vf z = s * s;
    vf w = z * z;
    vf r = z * (0.66666662693f + w * 0.28498786688f) + w * (0.40000972152f + w * 0.24279078841f);
    vf hfsq = 0.5f * f * f;
    vf dk = __builtin_convertvector(k, vf);
    vf y = dk * 6.9313812256e-01f - ((hfsq - (s * (hfsq + r) + dk * 9.0580006145e-06f)) - f);
    y = sel(x == __builtin_inff(), x, y);
    y = sel(x == 0.0f, SPLAT(-__builtin_inff()), y);
    return sel((x != x) | (x < 0.0f), (vf)ISPLAT(0x7fc00000), y);
}

/* log1p(u) for u in [0, 1]: log(1 + u) corrected by the rounding error of 1 + u. */
AI vf vlog1p01(vf u) {
    vf w = 1.0f + u;
    return vlog(w) + (u - (w - 1.0f)) / w;
}

AI vf neg_abs(vf a) { return (vf)((vi)a | ISPLAT(INT32_MIN)); }

/* 1 / (1 + exp(-|a|)) for a >= 0, exp(-|a|) / (1 + exp(-|a|)) below: one division, no overflow */
AI vf vsigmoid(vf a) {
    vf e = vexp(neg_abs(a));
    return sel(a >= 0.0f, SPLAT(1.0f), e) / (1.0f + e);
}

AI vf bce_term(vf z, vf t) {
    vf tail = vlog1p01(vexp(neg_abs(z)));
    return tail + (sel(z > 0.0f, z, SPLAT(0.0f)) - t * z);
}

AI vd widen(vf v) { return __builtin_convertvector(v, vd); }

AI double lanes_sum(vd acc) {
    double s = 0.0;
    for (int i = 0; i < W; i++) s += acc[i];
    return s;
}

/* Loops over whole vectors, then the tail on zero-padded copies. */
#define MAP1(EXPR)                                                         \
    size_t i = 0;                                                          \
    for (; i + W <= n; i += W) { vf x0 = ld(a + i); st(out + i, canon(EXPR)); } \
    if (i < n) {                                                           \
        float b0[W] = {0}, bo[W];                                          \
        memcpy(b0, a + i, (n - i) * sizeof(float));                        \
        vf x0 = ld(b0);                                                    \
        st(bo, canon(EXPR));                                               \
        memcpy(out + i, bo, (n - i) * sizeof(float));                      \
    }

#define MAP2(P, Q, EXPR)                                                   \
    size_t i = 0;                                                          \
    for (; i + W <= n; i += W) { vf x0 = ld(P + i), y0 = ld(Q + i); st(out + i, canon(EXPR)); } \
    if (i < n) {                                                           \
        float b0[W] = {0}, b1[W] = {0}, bo[W];                             \
        memcpy(b0, P + i, (n - i) * sizeof(float));                        \
        memcpy(b1, Q + i, (n - i) * sizeof(float));                        \
        vf x0 = ld(b0), y0 = ld(b1);                                       \
        st(bo, canon(EXPR));                                               \
        memcpy(out + i, bo, (n - i) * sizeof(float));                      \
    }

AI void sigmoid_body(const float *a, float *out, size_t n) { MAP1(vsigmoid(x0)) }

AI void sigmoid_grad_body(const float *s, const float *g, float *out, size_t n) {
    MAP2(s, g, (1.0f - x0) * x0 * y0)
}

AI void bce_grad_body(const float *z, const float *t, float c, float *out, size_t n) {
    MAP2(z, t, (vsigmoid(x0) - y0) * c)
}

AI void lincomb_body(const float *x, const float *y, float a, float b, float *out, size_t n) {
    MAP2(x, y, a * x0 + b * y0)
}

AI void lincomb_sq_body(const float *x, const float *y, float a, float b, float *out, size_t n) {
    MAP2(x, y, a * x0 + b * (y0 * y0))
}

AI vf vsqrt(vf v) {
    vf r;
    for (int j = 0; j < W; j++) r[j] = __builtin_sqrtf(v[j]); /* correctly rounded on every path */
    return r;
}

AI vf adam_expr(vf p, vf m, vf v, float c, float eps) { return p - (c * m) / (vsqrt(v) + eps); }

AI void adam_body(const float *p, const float *m, const float *v, float c, float eps, float *out, size_t n) {
    size_t i = 0;
    for (; i + W <= n; i += W) st(out + i, canon(adam_expr(ld(p + i), ld(m + i), ld(v + i), c, eps)));
    if (i < n) {
        float b0[W] = {0}, b1[W] = {0}, b2[W] = {0}, bo[W];
        memcpy(b0, p + i, (n - i) * sizeof(float));
        memcpy(b1, m + i, (n - i) * sizeof(float));
        memcpy(b2, v + i, (n - i) * sizeof(float));
        st(bo, canon(adam_expr(ld(b0), ld(b1), ld(b2), c, eps)));
        memcpy(out + i, bo, (n - i) * sizeof(float));
    }
}

AI double bce_sum_body(const float *z, const float *t, size_t n) {
    vd acc = {0};
    size_t i = 0;
    for (; i + W <= n; i += W) acc += widen(bce_term(ld(z + i), ld(t + i)));
    if (i < n) {
        float b0[W] = {0}, b1[W] = {0};
        memcpy(b0, z + i, (n - i) * sizeof(float));
        memcpy(b1, t + i, (n - i) * sizeof(float));
        vf term = bce_term(ld(b0), ld(b1));
        acc += widen(sel(iota() < ISPLAT(n - i), term, SPLAT(0.0f)));
    }
    return lanes_sum(acc);
}

AI float canon1(float v) {
    if (v != v) {
        int32_t q = 0x7fc00000;
        memcpy(&v, &q, sizeof v);
    }
    return v;
}

AI void softmax_xent_grad_body(const float *ls, const float *e, size_t e_step, const int64_t *labels,
                               float *out, size_t rows, size_t cols) {
    size_t full = cols / W * W, rem = cols - full;
    for (size_t r = 0; r < rows; r++) {
        const float *x = ls + r * cols;
        float *o = out + r * cols;
        float ev = e[r * e_step], neg = -ev;
        for (size_t i = 0; i < full; i += W) st(o + i, canon(vexp(ld(x + i)) * neg));
        if (rem) {
            float b0[W] = {0}, bo[W];
            memcpy(b0, x + full, rem * sizeof(float));
            st(bo, canon(vexp(ld(b0)) * neg));
            memcpy(o + full, bo, rem * sizeof(float));
        }
        int64_t y = labels[r] < 0 ? labels[r] + (int64_t)cols : labels[r];
        o[y] = canon1(o[y] + ev);
    }
}

#define VARIANTS(SUF, ATTR)                                                                                  \
    ATTR static void sigmoid_##SUF(const float *a, float *o, size_t n) { sigmoid_body(a, o, n); }           \
    ATTR static void sigmoid_grad_##SUF(const float *s, const float *g, float *o, size_t n) {                \
        sigmoid_grad_body(s, g, o, n);                                                                       \
    }                                                                                                        \
    ATTR static void bce_grad_##SUF(const float *z, const float *t, float c, float *o, size_t n) {           \
        bce_grad_body(z, t, c, o, n);                                                                        \
    }                                                                                                        \
    ATTR static double bce_sum_##SUF(const float *z, const float *t, size_t n) { return bce_sum_body(z, t, n); } \
    ATTR static void softmax_xent_grad_##SUF(const float *ls, const float *e, size_t es, const int64_t *y,    \
                                             float *o, size_t r, size_t c) {                                 \
        softmax_xent_grad_body(ls, e, es, y, o, r, c);                                                       \
    }                                                                                                        \
    ATTR static void lincomb_##SUF(const float *x, const float *y, float a, float b, float *o, size_t n) {   \
        lincomb_body(x, y, a, b, o, n);                                                                      \
    }                                                                                                        \
    ATTR static void lincomb_sq_##SUF(const float *x, const float *y, float a, float b, float *o, size_t n) {\
        lincomb_sq_body(x, y, a, b, o, n);                                                                   \
    }                                                                                                        \
    ATTR static void adam_##SUF(const float *p, const float *m, const float *v, float c, float eps, float *o, \
                                size_t n) {                                                                  \
        adam_body(p, m, v, c, eps, o, n);                                                                    \
    }

VARIANTS(base, )

#if defined(__x86_64__) || defined(__i386__)
#define FK_X86 1
VARIANTS(avx2, __attribute__((target("avx2"))))
VARIANTS(avx512, __attribute__((target("avx512f"))))
#define DISPATCH(NAME, ...)                                                  \
    switch (fk_path) {                                                       \
    case FK_AVX512: NAME##_avx512(__VA_ARGS__); return;                      \
    case FK_AVX2: NAME##_avx2(__VA_ARGS__); return;                          \
    default: NAME##_base(__VA_ARGS__); return;                               \
    }
#define DISPATCH_RET(NAME, ...)                                              \
    switch (fk_path) {                                                       \
    case FK_AVX512: return NAME##_avx512(__VA_ARGS__);                       \
    case FK_AVX2: return NAME##_avx2(__VA_ARGS__);                           \
    default: return NAME##_base(__VA_ARGS__);                                \
    }
#else
#define FK_X86 0
#define DISPATCH(NAME, ...) NAME##_base(__VA_ARGS__);
#define DISPATCH_RET(NAME, ...) return NAME##_base(__VA_ARGS__);
#endif

int fk_path = FK_BASELINE;

int fk_path_supported(int path) {
    if (path == FK_BASELINE) return 1;
#if FK_X86
    __builtin_cpu_init();
    if (path == FK_AVX2) return __builtin_cpu_supports("avx2") != 0;
    if (path == FK_AVX512) return __builtin_cpu_supports("avx512f") != 0;
#endif
    return 0;
}

int fk_best_path(void) {
    for (int p = FK_NPATHS - 1; p > FK_BASELINE; p--)
        if (fk_path_supported(p)) return p;
    return FK_BASELINE;
}

const char *fk_path_name(int path) {
    static const char *names[FK_NPATHS] = {"baseline", "avx2", "avx512"};
    return path >= 0 && path < FK_NPATHS ? names[path] : "unknown";
}

void fk_sigmoid(const float *a, float *out, size_t n) { DISPATCH(sigmoid, a, out, n) }
void fk_sigmoid_grad(const float *s, const float *g, float *out, size_t n) { DISPATCH(sigmoid_grad, s, g, out, n) }
void fk_bce_grad(const float *z, const float *t, float c, float *out, size_t n) { DISPATCH(bce_grad, z, t, c, out, n) }
double fk_bce_sum(const float *z, const float *t, size_t n) { DISPATCH_RET(bce_sum, z, t, n) }
void fk_softmax_xent_grad(const float *ls, const float *e, size_t e_step, const int64_t *labels, float *out,
                          size_t rows, size_t cols) {
    DISPATCH(softmax_xent_grad, ls, e, e_step, labels, out, rows, cols)
}
void fk_lincomb(const float *x, const float *y, float a, float b, float *out, size_t n) {
    DISPATCH(lincomb, x, y, a, b, out, n)
}
void fk_lincomb_sq(const float *x, const float *y, float a, float b, float *out, size_t n) {
    DISPATCH(lincomb_sq, x, y, a, b, out, n)
}
void fk_adam_step(const float *p, const float *m, const float *v, float c, float eps, float *out, size_t n) {
    DISPATCH(adam, p, m, v, c, eps, out, n)
}
