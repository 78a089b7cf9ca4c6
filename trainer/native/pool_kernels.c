/* The gradient of max pooling over windows side by side (pool_kernels.h): per chunk of whole
 * windows, their maximum and gradient are spread over their columns once, then every input row
 * of the chunk is compared with them in 4-lane vectors (SSE2, NEON). numpy's version of the same
 * (ops/pool.py, Tiles.max_grad) runs strided views with short inner loops. (A native forward
 * maximum measured slower than numpy's for the small planes of the digits CNNs: the per-row work
 * of planes 8 wide dominated.) */
#include "pool_kernels.h"

#include <stdint.h>
#include <string.h>

typedef int32_t vi __attribute__((vector_size(16)));
typedef float vf __attribute__((vector_size(16)));

static inline vf ldf(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}


int pk_max_grad_tiled(const float *x, const float *pooled, const float *g, float *out, size_t r, size_t kh,
                      size_t wo, size_t kw) {
    size_t w = wo * kw, n;
    float pe[PK_MAX_KW + 4], ge[PK_MAX_KW + 4];
    if (kw == 0 || kw > PK_MAX_KW) return -1;
    for (size_t q = 0; q < r; q++)
        for (size_t c0 = 0; c0 < w; c0 += n) {
            /* a chunk of whole windows: their maximum and gradient spread over their columns once,
             * then each input row compared with them */
            n = w - c0 < PK_MAX_KW ? w - c0 : PK_MAX_KW / kw * kw;
            for (size_t j = 0; j < n / kw; j++)
                for (size_t cc = 0; cc < kw; cc++) {
                    pe[j * kw + cc] = pooled[q * wo + c0 / kw + j];
                    ge[j * kw + cc] = g[q * wo + c0 / kw + j];
                }
            for (size_t i = 0; i < kh; i++) {
                const float *xr = x + (q * kh + i) * w + c0;
                float *o = out + (q * kh + i) * w + c0;
                size_t c = 0;
                for (; c + 4 <= n; c += 4) {
                    vf hit = (vf)((ldf(xr + c) == ldf(pe + c)) & ((vi){0} + 0x3f800000)); /* 1.0f or +0 */
                    vf y = ldf(ge + c) * hit;
                    memcpy(o + c, &y, sizeof y);
                }
                for (; c < n; c++) o[c] = ge[c] * (float)(xr[c] == pe[c]);
            }
        }
    return 0;
}
