/* The kernels of fused_kernels.c at one vector width: included once per dispatched path, with
 * FK_W (floats per vector: 16, 8, 4), FK_SUF (the names' suffix) and FK_ATTR (the target attribute)
 * defined. Every operation is elementwise and the same on every width (the BCE sum keeps 16 lanes
 * whatever the width), so the paths differ only in speed. No include guard: a template. */
#define FK_CAT_(a, b) a##b
#define FK_CAT(a, b) FK_CAT_(a, b)
#define FK_NAME(x) FK_CAT(x, FK_SUF)
#define vf FK_NAME(vf_)
#define vi FK_NAME(vi_)
#define vd FK_NAME(vd_)
#define ld FK_NAME(ld_)
#define st FK_NAME(st_)
#define sel FK_NAME(sel_)
#define canon FK_NAME(canon_)
#define iota FK_NAME(iota_)
#define vexp FK_NAME(vexp_)
#define vlog FK_NAME(vlog_)
#define vlog1p01 FK_NAME(vlog1p01_)
#define neg_abs FK_NAME(neg_abs_)
#define vsigmoid FK_NAME(vsigmoid_)
#define sigmoid_e FK_NAME(sigmoid_e_)
#define bce_term FK_NAME(bce_term_)
#define widen FK_NAME(widen_)
#define vsqrt FK_NAME(vsqrt_)
#define adam_expr FK_NAME(adam_expr_)
#define canon1 FK_NAME(canon1_)
#define sigmoid_body FK_NAME(sigmoid_body_)
#define sigmoid_grad_body FK_NAME(sigmoid_grad_body_)
#define bce_grad_body FK_NAME(bce_grad_body_)
#define lincomb_body FK_NAME(lincomb_body_)
#define lincomb_sq_body FK_NAME(lincomb_sq_body_)
#define adam_body FK_NAME(adam_body_)
#define bce_sum_body FK_NAME(bce_sum_body_)
#define softmax_xent_grad_body FK_NAME(softmax_xent_grad_body_)

typedef float vf __attribute__((vector_size(FK_W * 4)));
typedef int32_t vi __attribute__((vector_size(FK_W * 4)));
typedef double vd __attribute__((vector_size(FK_W * 8)));

AI vf ld(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
AI void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
AI vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
AI vf canon(vf r) { return sel(r != r, (vf)ISPLAT(0x7fc00000), r); }
AI vi iota(void) {
    vi r;
    for (int j = 0; j < FK_W; j++) r[j] = j;
    return r;
}

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

/* log(x) for x in [1, 2] (its one caller, log1p): x = 2^k m, m in [sqrt(1/2), sqrt(2)), fdlibm's
 * logf kernel. Other x (nan) give an unspecified value: the caller's result is nan through its
 * other terms then. */
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
    return dk * 6.9313812256e-01f - ((hfsq - (s * (hfsq + r) + dk * 9.0580006145e-06f)) - f);
}

/* log1p(u) for u in [0, 1]: log(w), w = 1 + u rounded, plus the rounding error c = u - (w - 1)
 * over w; c is below half an ulp of w, so c (2 - w) in place of c / w (relative error u^2) changes
 * the result by far less than its ulp and saves a division. */
AI vf vlog1p01(vf u) {
    vf w = 1.0f + u;
    return vlog(w) + (u - (w - 1.0f)) * (2.0f - w);
}

AI vf neg_abs(vf a) { return (vf)((vi)a | ISPLAT(INT32_MIN)); }

/* 1 / (1 + e) for a >= 0, e / (1 + e) below, e = exp(-|a|): one division, no overflow */
AI vf sigmoid_e(vf a, vf e) { return sel(a >= 0.0f, SPLAT(1.0f), e) / (1.0f + e); }

AI vf vsigmoid(vf a) { return sigmoid_e(a, vexp(neg_abs(a))); }

/* softplus(z) - t z = log1p(e) + (max(z, 0) - t z), e = exp(-|z|) */
AI vf bce_term(vf z, vf t, vf e) { return vlog1p01(e) + (sel(z > 0.0f, z, SPLAT(0.0f)) - t * z); }

AI vd widen(vf v) { return __builtin_convertvector(v, vd); }

/* Loops over whole vectors, then the tail on zero-padded copies. */
#define MAP1(EXPR)                                                         \
    size_t i = 0;                                                          \
    for (; i + FK_W <= n; i += FK_W) { vf x0 = ld(a + i); st(out + i, canon(EXPR)); } \
    if (i < n) {                                                           \
        float b0[FK_W] = {0}, bo[FK_W];                                          \
        memcpy(b0, a + i, (n - i) * sizeof(float));                        \
        vf x0 = ld(b0);                                                    \
        st(bo, canon(EXPR));                                               \
        memcpy(out + i, bo, (n - i) * sizeof(float));                      \
    }

#define MAP2(P, Q, EXPR)                                                   \
    size_t i = 0;                                                          \
    for (; i + FK_W <= n; i += FK_W) { vf x0 = ld(P + i), y0 = ld(Q + i); st(out + i, canon(EXPR)); } \
    if (i < n) {                                                           \
        float b0[FK_W] = {0}, b1[FK_W] = {0}, bo[FK_W];                             \
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
    for (int j = 0; j < FK_W; j++) r[j] = __builtin_sqrtf(v[j]); /* correctly rounded on every path */
    return r;
}

AI vf adam_expr(vf p, vf m, vf v, float c, float eps) { return p - (c * m) / (vsqrt(v) + eps); }

AI void adam_body(const float *p, const float *m, const float *v, float c, float eps, float *out, size_t n) {
    size_t i = 0;
    for (; i + FK_W <= n; i += FK_W) st(out + i, canon(adam_expr(ld(p + i), ld(m + i), ld(v + i), c, eps)));
    if (i < n) {
        float b0[FK_W] = {0}, b1[FK_W] = {0}, b2[FK_W] = {0}, bo[FK_W];
        memcpy(b0, p + i, (n - i) * sizeof(float));
        memcpy(b1, m + i, (n - i) * sizeof(float));
        memcpy(b2, v + i, (n - i) * sizeof(float));
        st(bo, canon(adam_expr(ld(b0), ld(b1), ld(b2), c, eps)));
        memcpy(out + i, bo, (n - i) * sizeof(float));
    }
}

/* 16 double lanes whatever the vector width: element i goes to lane i mod 16, lanes added 0..15.
 * With out, also out = (sigmoid(z) - t) * c from the same exp(-|z|): bce_grad's bits. */
AI double bce_sum_body(const float *z, const float *t, float c, float *out, size_t n) {
    enum { NV = 16 / FK_W };
    vd acc[NV];
    memset(acc, 0, sizeof acc);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < NV; j++) {
            vf z0 = ld(z + i + j * FK_W), t0 = ld(t + i + j * FK_W), e = vexp(neg_abs(z0));
            acc[j] += widen(bce_term(z0, t0, e));
            if (out) st(out + i + j * FK_W, canon((sigmoid_e(z0, e) - t0) * c));
        }
    if (i < n) {
        float b0[16] = {0}, b1[16] = {0}, bo[16];
        memcpy(b0, z + i, (n - i) * sizeof(float));
        memcpy(b1, t + i, (n - i) * sizeof(float));
        for (int j = 0; j < NV; j++) {
            vf z0 = ld(b0 + j * FK_W), t0 = ld(b1 + j * FK_W), e = vexp(neg_abs(z0));
            acc[j] += widen(sel(iota() + j * FK_W < ISPLAT(n - i), bce_term(z0, t0, e), SPLAT(0.0f)));
            st(bo + j * FK_W, canon((sigmoid_e(z0, e) - t0) * c));
        }
        if (out) memcpy(out + i, bo, (n - i) * sizeof(float));
    }
    double s = 0.0;
    for (int j = 0; j < NV; j++)
        for (int k = 0; k < FK_W; k++) s += acc[j][k];
    return s;
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
    size_t full = cols / FK_W * FK_W, rem = cols - full;
    for (size_t r = 0; r < rows; r++) {
        const float *x = ls + r * cols;
        float *o = out + r * cols;
        float ev = e[r * e_step], neg = -ev;
        for (size_t i = 0; i < full; i += FK_W) st(o + i, canon(vexp(ld(x + i)) * neg));
        if (rem) {
            float b0[FK_W] = {0}, bo[FK_W];
            memcpy(b0, x + full, rem * sizeof(float));
            st(bo, canon(vexp(ld(b0)) * neg));
            memcpy(o + full, bo, rem * sizeof(float));
        }
        int64_t y = labels[r] < 0 ? labels[r] + (int64_t)cols : labels[r];
        o[y] = canon1(o[y] + ev);
    }
}


FK_ATTR static void FK_NAME(sigmoid_)(const float *a, float *o, size_t n) { sigmoid_body(a, o, n); }
FK_ATTR static void FK_NAME(sigmoid_grad_)(const float *s, const float *g, float *o, size_t n) {
    sigmoid_grad_body(s, g, o, n);
}
FK_ATTR static void FK_NAME(bce_grad_)(const float *z, const float *t, float c, float *o, size_t n) {
    bce_grad_body(z, t, c, o, n);
}
FK_ATTR static double FK_NAME(bce_sum_)(const float *z, const float *t, float c, float *o, size_t n) {
    return bce_sum_body(z, t, c, o, n);
}
FK_ATTR static void FK_NAME(softmax_xent_grad_)(const float *ls, const float *e, size_t es, const int64_t *y, float *o,
                                                size_t r, size_t c) {
    softmax_xent_grad_body(ls, e, es, y, o, r, c);
}
FK_ATTR static void FK_NAME(lincomb_)(const float *x, const float *y, float a, float b, float *o, size_t n) {
    lincomb_body(x, y, a, b, o, n);
}
FK_ATTR static void FK_NAME(lincomb_sq_)(const float *x, const float *y, float a, float b, float *o, size_t n) {
    lincomb_sq_body(x, y, a, b, o, n);
}
FK_ATTR static void FK_NAME(adam_)(const float *p, const float *m, const float *v, float c, float eps, float *o,
                                   size_t n) {
    adam_body(p, m, v, c, eps, o, n);
}

#undef vf
#undef vi
#undef vd
#undef ld
#undef st
#undef sel
#undef canon
#undef iota
#undef vexp
#undef vlog
#undef vlog1p01
#undef neg_abs
#undef vsigmoid
#undef sigmoid_e
#undef bce_term
#undef widen
#undef vsqrt
#undef adam_expr
#undef canon1
#undef sigmoid_body
#undef sigmoid_grad_body
#undef bce_grad_body
#undef lincomb_body
#undef lincomb_sq_body
#undef adam_body
#undef bce_sum_body
#undef softmax_xent_grad_body
#undef MAP1
#undef MAP2
#undef FK_NAME
#undef FK_CAT
#undef FK_CAT_
