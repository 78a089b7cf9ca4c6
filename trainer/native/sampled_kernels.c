/* Reconstruction sampling's kernels (sampled_kernels.h). Dot products keep 16 partial sums in a
 * fixed order, so the compiler vectorises them without reassociating: every build rounds alike. */
#include "sampled_kernels.h"

#include <math.h>
#include <string.h>

#define LANES 16
#define AHEAD 4 /* pairs: how far ahead a gathered row is prefetched */

/* x86-64 Linux with GCC: each kernel over rows of nh values also built for AVX2 and AVX-512,
 * picked at load time. No FMA anywhere (-ffp-contract=off) and fixed lanes, so every copy rounds
 * alike. The helpers are forced inline: else the clones would call their baseline copies. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ROW_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#define INLINE static inline __attribute__((always_inline))
#else
#define ROW_KERNEL
#define INLINE static inline
#endif

INLINE float dot(const float *a, const float *b, size_t n) {
    float acc[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += a[j + l] * b[j + l];
    for (int l = 0; j < n; j++, l++) acc[l] += a[j] * b[j];
    for (int w = LANES / 2; w > 0; w /= 2)  /* pairwise, fixed order */
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

/* The dots of four rows with the same b, each summed exactly as dot() sums it. */
INLINE void dot4(const float *a0, const float *a1, const float *a2, const float *a3, const float *b, size_t n,
                 float out[4]) {
    float acc[4][LANES] = {{0}};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            float bl = b[j + l];
            acc[0][l] += a0[j + l] * bl;
            acc[1][l] += a1[j + l] * bl;
            acc[2][l] += a2[j + l] * bl;
            acc[3][l] += a3[j + l] * bl;
        }
    for (int l = 0; j < n; j++, l++) {
        acc[0][l] += a0[j] * b[j];
        acc[1][l] += a1[j] * b[j];
        acc[2][l] += a2[j] * b[j];
        acc[3][l] += a3[j] * b[j];
    }
    for (int k = 0; k < 4; k++) {
        for (int w = LANES / 2; w > 0; w /= 2)
            for (int l = 0; l < w; l++) acc[k][l] += acc[k][l + w];
        out[k] = acc[k][0];
    }
}

/* y += a0 x0, then a1 x1, a2 x2, a3 x3: the four axpy() calls' roundings, one pass over y. */
INLINE void axpy4(const float a[4], const float *x0, const float *x1, const float *x2, const float *x3, float *y,
                  size_t n) {
    for (size_t j = 0; j < n; j++) {
        float v = y[j];
        v += a[0] * x0[j];
        v += a[1] * x1[j];
        v += a[2] * x2[j];
        v += a[3] * x3[j];
        y[j] = v;
    }
}

INLINE void axpy(float a, const float *x, float *y, size_t n) {
    for (size_t j = 0; j < n; j++) y[j] += a * x[j];
}

INLINE void prefetch_row(const float *row) {
#if defined(__GNUC__)
    __builtin_prefetch(row);
    __builtin_prefetch(row + 16);
    __builtin_prefetch(row + 32);
    __builtin_prefetch(row + 48);
    __builtin_prefetch(row + 64);
    __builtin_prefetch(row + 80);
    __builtin_prefetch(row + 96);
    __builtin_prefetch(row + 112);
#else
    (void)row;
#endif
}

size_t sk_draw_bound(size_t n, int64_t d, const int64_t *indptr, int64_t k, const int64_t *shifts, size_t m) {
    size_t total = 0;
    for (size_t r = 0; r < n; r++) {
        int64_t nnz = indptr[r + 1] - indptr[r], n0 = d - nnz;
        total += (size_t)nnz + (size_t)(n0 <= k ? n0 : k);
        for (size_t i = 0; i < m; i++) {
            size_t p = (r + (size_t)shifts[i]) % n;
            total += (size_t)(indptr[p + 1] - indptr[p]);
        }
    }
    return total;
}

/* The column of rank q among the zeros of a row whose sorted ones are s[0..m): q plus the number
 * of ones i with s[i] - i <= q (s[i] - i zeros precede the i-th one; it is nondecreasing). */
static int64_t zero_column(const int64_t *s, int64_t m, int64_t q) {
    int64_t lo = 0, hi = m;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s[mid] - mid <= q) lo = mid + 1;
        else hi = mid;
    }
    return q + lo;
}

size_t sk_draw(size_t n, int64_t d, const int64_t *indptr, const int64_t *cols, int64_t k, const int64_t *shifts,
               size_t m, const int64_t *ranks, int32_t *count, int64_t *out_indptr, int64_t *out_cols, float *target,
               float *weight) {
    int64_t nnz_all = indptr[n];
    int partner = m > 0 && n > 1;
    if (partner)
        for (int64_t p = 0; p < nnz_all; p++) count[cols[p]]++;
    size_t o = 0;
    out_indptr[0] = 0;
    for (size_t r = 0; r < n; r++) {
        const int64_t *s = cols + indptr[r];
        int64_t ns = indptr[r + 1] - indptr[r], n0 = d - ns;
        for (int64_t i = 0; i < ns; i++, o++) {
            out_cols[o] = s[i];
            target[o] = 1.0f;
            weight[o] = 1.0f;
        }
        if (n0 <= k) {  /* every zero, weight 1: the full reconstruction of this row */
            for (int64_t c = 0, i = 0; c < d; c++) {
                if (i < ns && s[i] == c) {
                    i++;
                    continue;
                }
                out_cols[o] = c;
                target[o] = 0.0f;
                weight[o++] = 1.0f;
            }
            out_indptr[r + 1] = (int64_t)o;
            continue;
        }
        double uniform = (double)k / (double)n0;
        for (size_t i = 0; partner && i < m; i++) {  /* each partner's ones that are zeros of this row (a merge) */
            size_t pr = (r + (size_t)shifts[i]) % n;
            const int64_t *ps = cols + indptr[pr];
            int64_t pm = indptr[pr + 1] - indptr[pr];
            for (int64_t a = 0, j = 0; j < pm; j++) {
                while (a < ns && s[a] < ps[j]) a++;
                if (a < ns && s[a] == ps[j]) continue;
                out_cols[o] = ps[j];
                target[o] = 0.0f;
                weight[o++] = (float)(1.0 / (uniform + (double)((int64_t)m * count[ps[j]]) / (double)(n - 1)));
            }
        }
        const int64_t *q = ranks + r * (size_t)k;
        for (int64_t j = 0; j < k; j++, o++) {
            int64_t c = zero_column(s, ns, q[j]);
            double others = partner ? (double)((int64_t)m * count[c]) / (double)(n - 1) : 0.0;
            out_cols[o] = c;
            target[o] = 0.0f;
            weight[o] = (float)(1.0 / (uniform + others));
        }
        out_indptr[r + 1] = (int64_t)o;
    }
    if (partner)
        for (int64_t p = 0; p < nnz_all; p++) count[cols[p]] = 0;
    return o;
}

ROW_KERNEL void sk_gather_sum(size_t n, size_t nh, const float *W, const int64_t *indptr, const int64_t *cols, float *out) {
    for (size_t r = 0; r < n; r++) {
        float *o = out + r * nh;
        for (size_t j = 0; j < nh; j++) o[j] = 0.0f;
        for (int64_t p = indptr[r]; p < indptr[r + 1]; p++) {
            if (p + AHEAD < indptr[r + 1]) prefetch_row(W + (size_t)cols[p + AHEAD] * nh);
            const float *w = W + (size_t)cols[p] * nh;
            for (size_t j = 0; j < nh; j++) o[j] += w[j];
        }
    }
}

INLINE float sigmoid(float a) {
    float e = expf(-fabsf(a));
    return (a >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* One pair's loss term and gradient from its logit z: e = exp(-|z|) serves both, sigmoid(z) =
 * 1 / (1 + e) or e / (1 + e), softplus(z) - t z = log1p(e) + max(z, 0) - t z (nothing overflows).
 * Returns ((sigmoid(z) - t) - base) w inv; adds the weighted term to *loss. */
INLINE float pair_grad(float z, float t, float base, float w, float inv, double *loss) {
    float e = expf(-fabsf(z)), s = (z >= 0.0f ? 1.0f : e) / (1.0f + e);  /* sigmoid(z), sharing e */
    *loss += (double)w * ((double)log1pf(e) + (double)(z > 0.0f ? z : 0.0f) - (double)(t * z));
    float gz = ((s - t) - base) * w;
    return gz * inv;
}


/* the float f in an int32 slot (bit for bit) and back */
INLINE int32_t float_bits(float f) {
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

INLINE float bits_float(int32_t i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

/* The pairs of a sample grouped by column, stably (a counting sort, pair order within a column),
 * each entry what the decoder needs of its pair, so that the column loop reads memory in order:
 * ent[3 i] = the pair's row, ent[3 i + 1] and ent[3 i + 2] the bits of its target and weight.
 * colptr[c] becomes the end of column c's entries (the start of c + 1's); busy[0..nbusy) lists
 * the columns that have entries, ascending. Returns nbusy. */
static size_t group_by_column(size_t n, size_t d, const int64_t *indptr, const int64_t *cols, const float *target,
                              const float *weight, int64_t *colptr, int32_t *ent, int32_t *busy) {
    size_t nbusy = 0;
    for (size_t c = 0; c <= d; c++) colptr[c] = 0;
    for (int64_t p = 0; p < indptr[n]; p++) colptr[cols[p] + 1]++;
    for (size_t c = 0; c < d; c++) {
        if (colptr[c + 1]) busy[nbusy++] = (int32_t)c;
        colptr[c + 1] += colptr[c];
    }
    for (size_t r = 0; r < n; r++)
        for (int64_t p = indptr[r]; p < indptr[r + 1]; p++) {
            int32_t *e = ent + 3 * colptr[cols[p]]++;
            e[0] = (int32_t)r;
            e[1] = float_bits(target[p]);
            e[2] = float_bits(weight[p]);
        }
    return nbusy;
}

ROW_KERNEL double sk_decode_update(size_t n, size_t d, size_t nh, float *W, float *bv, const float *base,
                                   const float *u, const float *h, const int64_t *indptr, const int64_t *cols,
                                   const float *target, const float *weight, float inv, float neg, float *dh,
                                   float *scratch, int64_t *colptr, int32_t *ent) {
    int32_t *busy = ent + 3 * (size_t)indptr[n];
    size_t nbusy = group_by_column(n, d, indptr, cols, target, weight, colptr, ent, busy);
    float *uh = scratch, *gb = scratch + n;  /* per row: u . h[r], sum of dz base[c] */
    double loss = 0.0;
    for (size_t r = 0; r < n; r++) {
        uh[r] = u ? dot(u, h + r * nh, nh) : 0.0f;
        gb[r] = 0.0f;
    }
    for (size_t j = 0; j < n * nh; j++) dh[j] = 0.0f;
    for (size_t k = 0; k < nbusy; k++) {
        if (k + AHEAD < nbusy) prefetch_row(W + (size_t)busy[k + AHEAD] * nh);
        size_t c = (size_t)busy[k];
        int64_t start = c ? colptr[c - 1] : 0, end = colptr[c], i = start;
        float *w = W + c * nh, b = base ? base[c] : 0.0f, bvc = bv[c];
        /* W holds W_old + base u (u not NULL): W_old[c] . h[r] is w . h[r] - b (u . h[r]). Each
         * entry's weight slot receives its pair's dz, read back when the row is written. */
        for (; i + 4 <= end; i += 4) {
            int32_t *e = ent + 3 * i;
            float z[4];
            dot4(h + (size_t)e[0] * nh, h + (size_t)e[3] * nh, h + (size_t)e[6] * nh, h + (size_t)e[9] * nh, w, nh, z);
            for (int q = 0; q < 4; q++) {
                int32_t *eq = e + 3 * q;
                size_t r = (size_t)eq[0];
                if (u) z[q] -= b * uh[r];
                float g = pair_grad(z[q] + bvc, bits_float(eq[1]), b, bits_float(eq[2]), inv, &loss);
                eq[2] = float_bits(g);
                gb[r] += g * b;
                axpy(g, w, dh + r * nh, nh);
            }
        }
        for (; i < end; i++) {
            int32_t *e = ent + 3 * i;
            size_t r = (size_t)e[0];
            float z = dot(h + r * nh, w, nh);
            if (u) z -= b * uh[r];
            float g = pair_grad(z + bvc, bits_float(e[1]), b, bits_float(e[2]), inv, &loss);
            e[2] = float_bits(g);
            gb[r] += g * b;
            axpy(g, w, dh + r * nh, nh);
        }
        /* every pair of column c has read its row: SGD writes it (the decoder's part) */
        for (i = start; i < end; i++) {
            const int32_t *e = ent + 3 * i;
            float coef = bits_float(e[2]) * neg;
            axpy(coef, h + (size_t)e[0] * nh, w, nh);
            bvc += coef;
        }
        bv[c] = bvc;
    }
    if (u)  /* dh[r] = sum dz W_old[c] = sum dz w - (sum dz base[c]) u */
        for (size_t r = 0; r < n; r++) axpy(-gb[r], u, dh + r * nh, nh);
    return loss;
}

ROW_KERNEL void sk_scatter_rows(size_t n, size_t nh, float *Y, const int64_t *indptr, const int64_t *cols, const float *coef,
                     const float *H) {
    for (size_t r = 0; r < n; r++) {
        const float *hr = H + r * nh;
        int64_t end = indptr[r + 1];
        for (int64_t p = indptr[r]; p < end; p++) {
            if (p + AHEAD < end) prefetch_row(Y + (size_t)cols[p + AHEAD] * nh);
            axpy(coef[p], hr, Y + (size_t)cols[p] * nh, nh);
        }
    }
}

void sk_scatter_values(size_t npairs, float *y, const int64_t *cols, const float *v) {
    for (size_t p = 0; p < npairs; p++) y[cols[p]] += v[p];
}

/* Adds a[i] u to the rows w[0..4). */
INLINE void add_rank1_4(const float a[4], const float *u, float *w0, float *w1, float *w2, float *w3, size_t n) {
    for (size_t j = 0; j < n; j++) {
        w0[j] += a[0] * u[j];
        w1[j] += a[1] * u[j];
        w2[j] += a[2] * u[j];
        w3[j] += a[3] * u[j];
    }
}

/* sk_mean_field's loop; with_u a constant at each call, so each copy is compiled without the test */
INLINE void mean_field_rows(size_t d, size_t nh, float *W, const float *bv, const float *hbar, const float *u,
                            float *base, float *v, int with_u) {
    size_t c = 0;
    for (size_t j = 0; j < nh; j++) v[j] = 0.0f;
    for (; c + 4 <= d; c += 4) {
        float *w0 = W + c * nh, *w1 = w0 + nh, *w2 = w1 + nh, *w3 = w2 + nh;
        float a[4];
        for (size_t i = c + 4 * AHEAD; i < c + 4 * AHEAD + 4 && i < d; i++) prefetch_row(W + i * nh);
        dot4(w0, w1, w2, w3, hbar, nh, a);
        for (int i = 0; i < 4; i++) a[i] = base[c + i] = sigmoid(a[i] + bv[c + i]);
        axpy4(a, w0, w1, w2, w3, v, nh);
        if (with_u) add_rank1_4(a, u, w0, w1, w2, w3, nh);  /* the rows are in cache: W's rank-one update now */
    }
    for (; c < d; c++) {
        base[c] = sigmoid(dot(W + c * nh, hbar, nh) + bv[c]);
        axpy(base[c], W + c * nh, v, nh);
        if (with_u) axpy(base[c], u, W + c * nh, nh);
    }
}

ROW_KERNEL void sk_mean_field(size_t d, size_t nh, float *W, const float *bv, const float *hbar, const float *u,
                              float *base, float *v) {
    if (u) mean_field_rows(d, nh, W, bv, hbar, u, base, v, 1);
    else mean_field_rows(d, nh, W, bv, hbar, NULL, base, v, 0);
}
