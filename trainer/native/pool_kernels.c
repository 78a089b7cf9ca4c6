/* Max pooling over windows side by side (pool_kernels.h), in place of numpy's strided views with
 * short inner loops (ops/pool.py, Tiles).
 *
 * The maximum works on order keys: a float's bits as a signed integer, with the magnitude bits
 * flipped when negative, order every non-NaN float as its value does and put -0 just below +0,
 * which is SPEC 7.2's Maximum; a key maps back to the same bits. A NaN gets the largest key.
 *
 * Both kernels walk the same blocks of at most PK_BLOCK elements (next_block: whole rows of
 * windows, or whole windows of one row). The maximum: down each column in 4-lane vectors (SSE2,
 * NEON), then across each window's columns in one flat loop over the block's windows. The
 * gradient: the block's maxima and gradients spread over their windows' columns once, then every
 * input row compared with them in 4-lane vectors. */
#include "pool_kernels.h"

#include <stdint.h>
#include <string.h>

typedef int32_t vi __attribute__((vector_size(16)));
typedef uint32_t vu __attribute__((vector_size(16)));
typedef float vf __attribute__((vector_size(16)));

static inline vi ldi(const int32_t *p) {
    vi v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline vf ldf(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* the order key of the bits u; INT32_MAX for a NaN (the flip, applied again, gives the bits back) */
static inline int32_t key(int32_t u) {
    return (u & 0x7fffffff) > 0x7f800000 ? INT32_MAX : u ^ (int32_t)((uint32_t)(u >> 31) >> 1);
}
/* the key of non-NaN bits; NaN lanes are tracked apart and get INT32_MAX once per column */
static inline vi vkey(vi u) { return u ^ (vi)((vu)(u >> 31) >> 1); }
static inline vi vnan(vi u) { return (u & 0x7fffffff) > 0x7f800000; }

/* A block: qb rows of windows (q0 ..), columns c0 .. c0 + n of each, n = w when qb > 1 (at most
 * PK_BLOCK elements). Its elements are walked flat, a column counter moving the input offset to
 * the next input row at each row's end (no loop per row: the rows of small planes hold a few
 * floats). */
typedef struct {
    size_t q0, qb, c0, n;
} block;

/* the first block (b->n == 0) or the next one over r rows of w = wo kw columns; 0 after the last */
static int next_block(block *b, size_t r, size_t w, size_t kw) {
    if (b->n == 0)
        b->q0 = b->c0 = 0;
    else if ((b->c0 += b->n) >= w)
        b->q0 += b->qb, b->c0 = 0;
    if (b->q0 >= r || w == 0) return 0;
    b->qb = w <= PK_BLOCK ? (r - b->q0 < PK_BLOCK / w ? r - b->q0 : PK_BLOCK / w) : 1;
    b->n = w - b->c0 <= PK_BLOCK ? w - b->c0 : PK_BLOCK / kw * kw;
    return 1;
}

int pk_max_tiled(const float *x, float *out, size_t r, size_t kh, size_t wo, size_t kw) {
    const int32_t *xb = (const int32_t *)(const void *)x;
    size_t w = wo * kw;
    int32_t m[PK_BLOCK];
    if (kw == 0 || kw > PK_BLOCK) return -1;
    for (block b = {0, 0, 0, 0}; next_block(&b, r, w, kw);) {
        const size_t q0 = b.q0, qb = b.qb, c0 = b.c0, n = b.n;
        /* the maximum down each column: m is (qb, n) */
        size_t xo = q0 * kh * w + c0, c = 0, u = 0;
        if (n % 4 == 0) {
            for (; u < qb * n; u += 4) {
                vi v = ldi(xb + xo), best = vkey(v), nan = vnan(v);
                for (size_t i = 1; i < kh; i++) {
                    vi vv = ldi(xb + xo + i * w), k = vkey(vv), up = k > best;
                    best = (k & up) | (best & ~up);
                    nan |= vnan(vv);
                }
                best = (best & ~nan) | (nan & INT32_MAX);
                memcpy(m + u, &best, sizeof best);
                xo += 4, c += 4;
                if (c == n) c = 0, xo += kh * w - n;
            }
        } else {
            for (; u < qb * n; u++) {
                int32_t best = key(xb[xo]);
                for (size_t i = 1; i < kh; i++) {
                    int32_t k = key(xb[xo + i * w]);
                    best = k > best ? k : best;
                }
                m[u] = best;
                xo++, c++;
                if (c == n) c = 0, xo += kh * w - n;
            }
        }
        /* then across each window, into m's first qb n / kw keys (a window's keys are read
         * before its own slot, at or after it, is written; pairs without a loop: the usual
         * 2-wide window), and back to bits: the block's windows are consecutive outputs */
        size_t nw = qb * n / kw, t = 0;
        if (kw == 2)
            for (; t < nw; t++) m[t] = m[2 * t + 1] > m[2 * t] ? m[2 * t + 1] : m[2 * t];
        else
            for (; t < nw; t++) {
                int32_t best = m[t * kw];
                for (size_t cc = 1; cc < kw; cc++) best = m[t * kw + cc] > best ? m[t * kw + cc] : best;
                m[t] = best;
            }
        float *o = out + q0 * wo + c0 / kw;
        for (t = 0; t + 4 <= nw; t += 4) {
            vi k = ldi(m + t), nan = k == INT32_MAX, bits = vkey(k);
            bits = (bits & ~nan) | (nan & 0x7fc00000);
            memcpy(o + t, &bits, sizeof bits);
        }
        for (; t < nw; t++) {
            int32_t bits = m[t] == INT32_MAX ? 0x7fc00000 : m[t] ^ (int32_t)((uint32_t)(m[t] >> 31) >> 1);
            memcpy(o + t, &bits, sizeof bits);
        }
    }
    return 0;
}

int pk_max_grad_tiled(const float *x, const float *pooled, const float *g, float *out, size_t r, size_t kh,
                      size_t wo, size_t kw) {
    size_t w = wo * kw;
    float pe[PK_BLOCK], ge[PK_BLOCK];
    if (kw == 0 || kw > PK_BLOCK) return -1;
    for (block b = {0, 0, 0, 0}; next_block(&b, r, w, kw);) {
        const size_t q0 = b.q0, qb = b.qb, c0 = b.c0, n = b.n;
        /* each window's maximum and gradient spread over its columns: pe, ge are (qb, n) */
        const float *p = pooled + q0 * wo + c0 / kw, *gp = g + q0 * wo + c0 / kw;
        for (size_t t = 0; t < qb * n / kw; t++)
            for (size_t cc = 0; cc < kw; cc++) pe[t * kw + cc] = p[t], ge[t * kw + cc] = gp[t];
        /* every input row against its windows' row of pe, ge: kh input rows per row of pe */
        size_t xo = q0 * kh * w + c0, po = 0, c = 0, i = 0, u = 0;
        if (n % 4 == 0) {
            for (; u < qb * kh * n; u += 4) {
                vf hit = (vf)((ldf(x + xo) == ldf(pe + po)) & ((vi){0} + 0x3f800000)); /* 1.0f or +0 */
                vf y = ldf(ge + po) * hit;
                memcpy(out + xo, &y, sizeof y);
                xo += 4, po += 4, c += 4;
                if (c == n) {
                    c = 0, xo += w - n;
                    if (++i < kh) po -= n;
                    else i = 0;
                }
            }
        } else {
            for (; u < qb * kh * n; u++) {
                out[xo] = ge[po] * (float)(x[xo] == pe[po]);
                xo++, po++, c++;
                if (c == n) {
                    c = 0, xo += w - n;
                    if (++i < kh) po -= n;
                    else i = 0;
                }
            }
        }
    }
    return 0;
}
