/* One-pass float32 kernels of the trainer's elementwise work (tessera.trainer._fused).
 *
 * Every kernel reads its operands once and writes its result once, over C-contiguous float32
 * memory (fk_bce_sum rereads a row's 256-float segment of t from L1 in its second step). Each is compiled three times (AVX-512F, AVX2, the baseline ISA) from the same source
 * and chosen at run time (fk_path); exp and log are this file's own polynomials, built from
 * IEEE add/mul/div only and compiled without contraction, so every path gives the same bits.
 * A nan result is always the quiet nan 0x7fc00000 (the paths may propagate different payloads).
 * Outputs may alias inputs of the same index (in-place updates).
 */
#ifndef TESSERA_FUSED_KERNELS_H
#define TESSERA_FUSED_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum { FK_BASELINE = 0, FK_AVX2 = 1, FK_AVX512 = 2, FK_NPATHS = 3 };

extern int fk_path; /* the path every kernel below runs; fk_best_path() at load */
int fk_best_path(void);
int fk_path_supported(int path);
const char *fk_path_name(int path);

/* Kernels over a (rows, cols) row-major operand take `bias`: NULL, or cols values added to every
 * row first (the graph's add of a broadcast bias, the same bits); without one, rows = 1. */

/* out = 1 / (1 + exp(-a)) */
void fk_sigmoid(const float *a, const float *bias, float *out, size_t rows, size_t cols);
/* out = ((1 - s) * s) * g: the same operations, in the same order, as the numpy kernel */
void fk_sigmoid_grad(const float *s, const float *g, float *out, size_t n);
/* out = (sigmoid(z) - t) * c: the gradient of c * sum(softplus(z) - t z) */
void fk_bce_grad(const float *z, const float *bias, const float *t, float c, float *out, size_t rows, size_t cols);
/* sum of softplus(z) - t z = log1p(e) + (max(z, 0) - t z), e = exp(-|z|): the log1p terms as one
 * log per lane of the lane's product of (1 + e) in double, the rest summed in double; 16 lanes
 * (column j of a row into lane j mod 16) whatever the vector width. out, unless NULL, gets
 * fk_bce_grad's result from the same pass, t_copy, unless NULL, a copy of t */
double fk_bce_sum(const float *z, const float *bias, const float *t, float c, float *out, float *t_copy, size_t rows,
                  size_t cols);
/* out = b + nc * colsum(g), g (rows, cols): SGD on a bias from its gradient's rows (nc = -lr);
 * each column summed in float32, in row order (as numpy's g.sum(0)) */
void fk_colsum_update(const float *b, const float *g, float nc, float *out, size_t rows, size_t cols);
/* the number of nonzero elements of x (a compiled call's sparse-path test); *finite = 0 when one
 * is nan or inf (its NaN guard): one pass over an input for both */
size_t fk_scan(const float *x, size_t n, int *finite);
/* out = x + a (y + z) (SGD on a weight from its gradient's two products, a = -lr or 1) */
void fk_axpy_sum(const float *x, const float *y, const float *z, float a, float *out, size_t n);
/* out = exp(ls) * -e_r, then out[r, y_r] += e_r; e_r = e[r * e_step]; labels in [-cols, cols) */
void fk_softmax_xent_grad(const float *ls, const float *e, size_t e_step, const int64_t *labels,
                          float *out, size_t rows, size_t cols);
/* out = a x + b y (SGD with a = 1, momentum's velocity, adam's first moment) */
void fk_lincomb(const float *x, const float *y, float a, float b, float *out, size_t n);
/* out = a x + b (y y) (adam's second moment) */
void fk_lincomb_sq(const float *x, const float *y, float a, float b, float *out, size_t n);
/* out = p - (c m) / (sqrt(v) + eps) (adam's parameter step) */
void fk_adam_step(const float *p, const float *m, const float *v, float c, float eps, float *out, size_t n);

#endif
