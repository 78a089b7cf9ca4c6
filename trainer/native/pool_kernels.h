/* Max pooling over windows side by side (stride = window, no padding), float32, for the trainer:
 * the maximum and its gradient. x is (r, kh, wo, kw): r rows of windows, each row kh input
 * rows of wo windows of kw columns; the pooled array and its gradient are (r, wo). */
#ifndef TESSERA_POOL_KERNELS_H
#define TESSERA_POOL_KERNELS_H

#include <stddef.h>

/* the widest window either kernel takes (columns per block) */
#define PK_BLOCK 4096

/* out = each window's SPEC 7.2 Maximum (-0 below +0); a window holding a NaN gives the quiet NaN
 * 0x7fc00000. 0, or -1 (nothing written) for kw outside 1..PK_BLOCK. */
int pk_max_tiled(const float *x, float *out, size_t r, size_t kh, size_t wo, size_t kw);

/* out = g * (x == pooled), g and pooled broadcast over their window: the window's gradient at
 * every position equal to its maximum, g * 0 elsewhere (as numpy's multiply by the comparison).
 * 0, or -1 (nothing written) for kw outside 1..PK_BLOCK. */
int pk_max_grad_tiled(const float *x, const float *pooled, const float *g, float *out, size_t r, size_t kh,
                       size_t wo, size_t kw);

#endif
