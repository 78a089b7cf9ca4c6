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
#define vfh FK_NAME(vfh_)
#define widen_lo FK_NAME(widen_lo_)
#define widen_hi FK_NAME(widen_hi_)
#define vdw FK_NAME(vdw_)
#define ld FK_NAME(ld_)
#define st FK_NAME(st_)
#define sel FK_NAME(sel_)
#define canon FK_NAME(canon_)
#define iota FK_NAME(iota_)
#define vexp FK_NAME(vexp_)
#define neg_abs FK_NAME(neg_abs_)
#define vsigmoid FK_NAME(vsigmoid_)
#define sigmoid_e FK_NAME(sigmoid_e_)
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
#define vl FK_NAME(vl_)
#define log_prod FK_NAME(log_prod_)
#define renorm FK_NAME(renorm_)
#define bce_grad_e FK_NAME(bce_grad_e_)
#define bce_acc FK_NAME(bce_acc_)
#define colsum_update_body FK_NAME(colsum_update_body_)
#define scan_body FK_NAME(scan_body_)
#define axpy_sum_body FK_NAME(axpy_sum_body_)

typedef float vf __attribute__((vector_size(FK_W * 4)));
typedef int32_t vi __attribute__((vector_size(FK_W * 4)));
/* Half a float vector, widened to doubles: one register (a double vector of FK_W lanes would be
 * two, which GCC keeps in memory). */
typedef float vfh __attribute__((vector_size(FK_W * 2)));
typedef double vd __attribute__((vector_size(FK_W * 4)));
typedef int64_t vl __attribute__((vector_size(FK_W * 4)));

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

AI vf neg_abs(vf a) { return (vf)((vi)a | ISPLAT(INT32_MIN)); }

/* 1 / (1 + e) for a >= 0, e / (1 + e) below, e = exp(-|a|): one division, no overflow */
AI vf sigmoid_e(vf a, vf e) { return sel(a >= 0.0f, SPLAT(1.0f), e) / (1.0f + e); }

AI vf vsigmoid(vf a) { return sigmoid_e(a, vexp(neg_abs(a))); }

/* the low and high halves of v as doubles (converted whole, then split: GCC converts a half
 * vector piecewise) */
typedef double vdw __attribute__((vector_size(FK_W * 8)));
AI vd widen_lo(vf v) {
    vdw w = __builtin_convertvector(v, vdw);
    vd h;
    memcpy(&h, &w, sizeof h);
    return h;
}
AI vd widen_hi(vf v) {
    vdw w = __builtin_convertvector(v, vdw);
    vd h;
    memcpy(&h, (const char *)&w + sizeof h, sizeof h);
    return h;
}

/* Loops over whole vectors, then the tail on zero-padded copies. */
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

/* Row by row over a (rows, cols) operand P (and Q of the same shape, when given), x0 = P's values
 * plus the row-broadcast bias when there is one (the graph's add node, the same bits), y0 = Q's;
 * whole vectors of a row, then its tail on zero-padded copies. */
#define ROWMAP(P, Q, EXPR)                                                 \
    for (size_t r = 0; r < rows; r++) {                                    \
        const float *p_ = P + r * cols, *q_ = Q ? Q + r * cols : NULL;     \
        float *o_ = out + r * cols;                                        \
        size_t i = 0;                                                      \
        for (; i + FK_W <= cols; i += FK_W) {                              \
            vf x0 = bias ? ld(p_ + i) + ld(bias + i) : ld(p_ + i);         \
            vf y0 = q_ ? ld(q_ + i) : SPLAT(0.0f);                         \
            (void)y0;                                                      \
            st(o_ + i, canon(EXPR));                                       \
        }                                                                  \
        if (i < cols) {                                                    \
            size_t m_ = cols - i;                                          \
            float b0[FK_W] = {0}, b1[FK_W] = {0}, bb[FK_W] = {0}, bo[FK_W]; \
            memcpy(b0, p_ + i, m_ * sizeof(float));                        \
            if (q_) memcpy(b1, q_ + i, m_ * sizeof(float));                \
            if (bias) memcpy(bb, bias + i, m_ * sizeof(float));            \
            vf x0 = bias ? ld(b0) + ld(bb) : ld(b0), y0 = ld(b1);          \
            (void)y0;                                                      \
            st(bo, canon(EXPR));                                           \
            memcpy(o_ + i, bo, m_ * sizeof(float));                        \
        }                                                                  \
    }

AI void sigmoid_body(const float *a, const float *bias, float *out, size_t rows, size_t cols) {
    const float *none = NULL;
    ROWMAP(a, none, vsigmoid(x0))
}

AI void sigmoid_grad_body(const float *s, const float *g, float *out, size_t n) {
    MAP2(s, g, (1.0f - x0) * x0 * y0)
}

AI void bce_grad_body(const float *z, const float *bias, const float *t, float c, float *out, size_t rows,
                      size_t cols) {
    ROWMAP(z, t, (vsigmoid(x0) - y0) * c)
}

AI void lincomb_body(const float *x, const float *y, float a, float b, float *out, size_t n) {
    MAP2(x, y, a * x0 + b * y0)
}

AI void lincomb_sq_body(const float *x, const float *y, float a, float b, float *out, size_t n) {
    MAP2(x, y, a * x0 + b * (y0 * y0))
}

AI void axpy_sum_body(const float *x, const float *y, const float *z, float a, float *out, size_t n) {
    size_t i = 0;
    for (; i + FK_W <= n; i += FK_W) st(out + i, canon(ld(x + i) + a * (ld(y + i) + ld(z + i))));
    for (; i < n; i++) { /* scalar IEEE operations: the vector lanes' bits */
        vf v = SPLAT(0.0f);
        v[0] = x[i] + a * (y[i] + z[i]);
        out[i] = canon(v)[0];
    }
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

/* A product p of factors in [1, 2] as p' 2^e: the exponent moves into e (exactly), p' in [1, 2);
 * a nan product is left as it is (its log is nan). Exact, so where it happens changes no bits. */
AI vd renorm(vd p, vl *e) {
    vl b = (vl)p, ex = (b >> 52) & 0x7ff, finite = ex != 0x7ff;
    *e += finite & (ex - 1023);
    vl nb = (b & ~((int64_t)0x7ff << 52)) | ((int64_t)1023 << 52);
    return (vd)((finite & nb) | (~finite & b));
}

/* One chunk of 16 elements (FK_W at a time), in two steps. bce_grad_e: z0 = z plus the bias and
 * e = exp(-|z0|) into zs and es, and the gradient (sigmoid(z0) - t) * c into out when given.
 * bce_acc (`valid` of the 16 real, the rest padding): log1p(e) for e >= 2^-12 goes into products
 * of 1 + e in double lanes (each factor and product rounded to 2^-53, so the log of the product
 * is the sum of the logs to 2^-53 per element, 2^-41 of the smallest such term: one log per lane
 * at the end instead of one per element), the rest of the BCE term max(z0, 0) - t z0 (float32)
 * into double sums. bce_sum_body runs the first step over a whole segment of a row before the
 * second: the exp's constants and the lanes' products and sums then each have the registers to
 * themselves (AVX2's 16 are too few for both, and the sums went through memory: 175 -> 139 us
 * for 128 x 784, the same bits). */
AI void bce_grad_e(const float *z, const float *bias, const float *t, float c, float *out, float *zs, float *es) {
    enum { NV = 16 / FK_W };
    for (int j = 0; j < NV; j++) {
        size_t o = (size_t)j * FK_W;
        vf z0 = bias ? ld(z + o) + ld(bias + o) : ld(z + o), e = vexp(neg_abs(z0));
        if (out) st(out + o, canon((sigmoid_e(z0, e) - ld(t + o)) * c));
        st(zs + o, z0);
        st(es + o, e);
    }
}

AI void bce_acc(const float *zs, const float *es, const float *t, size_t valid, vd *prod, vd *acc) {
    enum { NV = 16 / FK_W };
    for (int j = 0; j < NV; j++) {
        size_t o = (size_t)j * FK_W;
        vf z0 = ld(zs + o), t0 = ld(t + o), e = ld(es + o);
        if (valid < 16) {
            vi in = iota() + (int32_t)o < ISPLAT(valid);
            e = sel(in, e, SPLAT(0.0f)); /* padding: a factor 1 and a term 0 */
            t0 = sel(in, t0, SPLAT(0.0f));
            z0 = sel(in, z0, SPLAT(0.0f));
        }
        vf rest = sel(z0 > 0.0f, z0, SPLAT(0.0f)) - t0 * z0;
        /* below 2^-12, 1 + e in double would keep too few of e's bits: log1p(e) = e - e^2/2 there
         * (to e^3/3, below e's own float32 error), summed with the rest */
        vi small = e < 0x1p-12f;
        vf big = sel(small, SPLAT(0.0f), e), tiny = sel(small, e - 0.5f * e * e, SPLAT(0.0f));
        prod[2 * j] = prod[2 * j] * (1.0 + widen_lo(big));
        prod[2 * j + 1] = prod[2 * j + 1] * (1.0 + widen_hi(big));
        /* rest + tiny in float32: both are >= 0 for t in [0, 1], so the sum is within 2^-24 of
         * the element's term (no cancellation), and exact where rest is 0 (z < 0 with t = 0) */
        vf terms = rest + tiny;
        acc[2 * j] += widen_lo(terms);
        acc[2 * j + 1] += widen_hi(terms);
    }
}

/* log(p) for the finite p >= 1 of renorm, in double: p = 2^k f with f in [sqrt(1/2), sqrt(2)),
 * log f = 2 atanh(s), s = (f - 1) / (f + 1) <= 0.172, by its series to s^23 (error below 2^-56) */
AI double log_prod(double p) {
    if (p != p) return p;
    int64_t b;
    memcpy(&b, &p, sizeof b);
    int64_t k = ((b >> 52) & 0x7ff) - 1023;
    b = (b & ~((int64_t)0x7ff << 52)) | ((int64_t)1023 << 52);
    double f;
    memcpy(&f, &b, sizeof f);
    if (f > 1.4142135623730951) {
        f = f * 0.5;
        k++;
    }
    double s = (f - 1.0) / (f + 1.0), s2 = s * s, q = 1.0 / 23.0;
    for (int d = 21; d >= 1; d -= 2) q = q * s2 + 1.0 / d;
    return 2.0 * s * q + (double)k * 0.69314718055994530942;
}

/* The sum of softplus(z) - t z = log1p(e) + (max(z, 0) - t z), e = exp(-|z|), z with the
 * row-broadcast bias when there is one. Each row goes in chunks of 16 (column j into lane
 * j mod 16, whatever the vector width); the lanes' products of 1 + e and sums of the rest are
 * combined in lane order at the end. With out, also bce_grad's result from the same e; with
 * t_copy, also a copy of t (for a consumer that wants t beside the gradient in one buffer). */
AI double bce_sum_body(const float *z, const float *bias, const float *t, float c, float *out, float *t_copy,
                       size_t rows, size_t cols) {
    enum { NV = 2 * 16 / FK_W }; /* half vectors of doubles in 16 lanes */
    vd prod[NV], acc[NV];
    vl ex[NV];
    for (int j = 0; j < NV; j++) {
        prod[j] = (vd){0} + 1.0;
        acc[j] = (vd){0};
        ex[j] = (vl){0};
    }
    size_t chunks = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *zr = z + r * cols, *tr = t + r * cols;
        float *outr = out ? out + r * cols : NULL;
        size_t i = 0;
        while (i < cols) {
            enum { SEG = 256 }; /* a segment of the row: whole chunks, or the last, padded one */
            float zs[SEG], es[SEG];
            size_t n = cols - i >= SEG ? SEG : cols - i >= 16 ? (cols - i) / 16 * 16 : cols - i, q;
            if (n < 16) {
                float b0[16] = {0}, b1[16] = {0}, bb[16] = {0}, bo[16];
                memcpy(b0, zr + i, n * sizeof(float));
                memcpy(b1, tr + i, n * sizeof(float));
                if (bias) memcpy(bb, bias + i, n * sizeof(float));
                bce_grad_e(b0, bias ? bb : NULL, b1, c, bo, zs, es);
                bce_acc(zs, es, b1, n, prod, acc);
                if (outr) memcpy(outr + i, bo, n * sizeof(float));
                n = 16;
            } else {
                for (q = 0; q < n; q += 16)
                    bce_grad_e(zr + i + q, bias ? bias + i + q : NULL, tr + i + q, c, outr ? outr + i + q : NULL,
                               zs + q, es + q);
                for (q = 0; q < n; q += 16)
                    bce_acc(zs + q, es + q, tr + i + q, 16, prod, acc);
            }
            for (q = 0; q < n; q += 16)
                if (++chunks % 32 == 0) /* each lane's product stays below 2^64 */
                    for (int j = 0; j < NV; j++) prod[j] = renorm(prod[j], &ex[j]);
            i += n;
        }
        if (t_copy) memcpy(t_copy + r * cols, tr, cols * sizeof(float)); /* the row just read: in cache */
    }
    double s = 0.0, logs = 0.0;
    int64_t e = 0;
    for (int j = 0; j < NV; j++) {
        prod[j] = renorm(prod[j], &ex[j]);
        for (int k = 0; k < FK_W / 2; k++) {
            s += acc[j][k];
            logs += log_prod(prod[j][k]);
            e += ex[j][k];
        }
    }
    return s + (logs + (double)e * 0.69314718055994530942);
}

AI float canon1(float v) {
    if (v != v) {
        int32_t q = 0x7fc00000;
        memcpy(&v, &q, sizeof v);
    }
    return v;
}

/* out = b + nc * colsum(g), g (rows, cols) row-major: each column summed down the rows in float32,
 * in row order (as numpy's g.sum(0)), so the bits do not depend on the vector width. Blocks of
 * CS columns keep their sums in L1 while the rows stream by in memory order. */
AI void colsum_update_body(const float *b, const float *g, float nc, float *out, size_t rows, size_t cols) {
    enum { CS = 1024 };
    vf acc[CS / FK_W];
    for (size_t j0 = 0; j0 < cols; j0 += CS) {
        size_t w = cols - j0 < CS ? cols - j0 : CS, full = w / FK_W * FK_W;
        float tail[FK_W] = {0}, sums[CS];
        memset(acc, 0, sizeof acc);
        for (size_t r = 0; r < rows; r++) {
            const float *gr = g + r * cols + j0;
            for (size_t j = 0; j < full; j += FK_W) acc[j / FK_W] += ld(gr + j);
            for (size_t j = full; j < w; j++) tail[j - full] += gr[j];
        }
        memcpy(sums, acc, full * sizeof(float));
        memcpy(sums + full, tail, (w - full) * sizeof(float));
        for (size_t j = 0; j < w; j++) out[j0 + j] = canon1(b[j0 + j] + nc * sums[j]);
    }
}

/* The number of nonzero elements of x; *finite = 0 when one is nan or inf. One pass, counts kept
 * per lane (a count of elements is exact in any order). */
AI size_t scan_body(const float *x, size_t n, int *finite) {
    vi nz = ISPLAT(0), bad = ISPLAT(0);
    size_t i = 0, total = 0;
    while (i + FK_W <= n) {
        size_t stop = n - i < ((size_t)1 << 30) ? n : i + ((size_t)1 << 30); /* int32 lanes never wrap */
        for (; i + FK_W <= stop; i += FK_W) {
            vi b = (vi)ld(x + i);
            nz -= (b & ISPLAT(0x7fffffff)) != 0;
            bad |= (b & ISPLAT(0x7f800000)) == ISPLAT(0x7f800000);
        }
        for (int j = 0; j < FK_W; j++) total += (size_t)(uint32_t)nz[j];
        nz = ISPLAT(0);
    }
    int any_bad = 0;
    for (int j = 0; j < FK_W; j++) any_bad |= bad[j] != 0;
    for (; i < n; i++) {
        int32_t b;
        memcpy(&b, x + i, sizeof b);
        total += (b & 0x7fffffff) != 0;
        any_bad |= (b & 0x7f800000) == 0x7f800000;
    }
    *finite = !any_bad;
    return total;
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


FK_ATTR static void FK_NAME(sigmoid_)(const float *a, const float *bias, float *o, size_t rows, size_t cols) {
    sigmoid_body(a, bias, o, rows, cols);
}
FK_ATTR static void FK_NAME(sigmoid_grad_)(const float *s, const float *g, float *o, size_t n) {
    sigmoid_grad_body(s, g, o, n);
}
FK_ATTR static void FK_NAME(bce_grad_)(const float *z, const float *bias, const float *t, float c, float *o,
                                       size_t rows, size_t cols) {
    bce_grad_body(z, bias, t, c, o, rows, cols);
}
FK_ATTR static double FK_NAME(bce_sum_)(const float *z, const float *bias, const float *t, float c, float *o,
                                        float *t_copy, size_t rows, size_t cols) {
    return bce_sum_body(z, bias, t, c, o, t_copy, rows, cols);
}
FK_ATTR static void FK_NAME(colsum_update_)(const float *b, const float *g, float nc, float *o, size_t rows,
                                            size_t cols) {
    colsum_update_body(b, g, nc, o, rows, cols);
}
FK_ATTR static void FK_NAME(axpy_sum_)(const float *x, const float *y, const float *z, float a, float *o,
                                       size_t n) {
    axpy_sum_body(x, y, z, a, o, n);
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
FK_ATTR static size_t FK_NAME(scan_)(const float *x, size_t n, int *finite) { return scan_body(x, n, finite); }
FK_ATTR static void FK_NAME(adam_)(const float *p, const float *m, const float *v, float c, float eps, float *o,
                                   size_t n) {
    adam_body(p, m, v, c, eps, o, n);
}

#undef vf
#undef vi
#undef vd
#undef vfh
#undef widen_lo
#undef widen_hi
#undef vdw
#undef ld
#undef st
#undef sel
#undef canon
#undef iota
#undef vexp
#undef neg_abs
#undef vsigmoid
#undef sigmoid_e
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
#undef MAP2
#undef ROWMAP
#undef vl
#undef log_prod
#undef renorm
#undef bce_grad_e
#undef bce_acc
#undef colsum_update_body
#undef scan_body
#undef axpy_sum_body
#undef FK_NAME
#undef FK_CAT
#undef FK_CAT_
