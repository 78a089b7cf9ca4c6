/* One-pass float32 kernels of the trainer (see fused_kernels.h).
 *
 * The arithmetic is written once (fused_body.h) on GCC/Clang vectors and compiled three times:
 * 16 floats wide for AVX-512F, 8 for AVX2, 4 for the baseline ISA (on other machines only the
 * baseline exists). Every operation is elementwise, so an element's result is the same at every
 * width; a tail shorter than a vector runs through the same code on a padded copy.
 * Build with -ffp-contract=off: a multiply-add contracted into an FMA in one copy only would
 * round differently from the others.
 */
#include "fused_kernels.h"

#include <string.h>

/* The vector helpers are static and always inlined: no call passes a vector across the ABI. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define AI static inline __attribute__((always_inline))
#define SPLAT(c) ((vf){0} + (float)(c))
#define ISPLAT(c) ((vi){0} + (int32_t)(c))

#define FK_TEMPLATE "fused_body.h"
#include "fk_paths.h"

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

void fk_sigmoid(const float *a, const float *bias, float *out, size_t rows, size_t cols) {
    FK_DISPATCH(sigmoid, a, bias, out, rows, cols)
}
void fk_sigmoid_grad(const float *s, const float *g, float *out, size_t n) { FK_DISPATCH(sigmoid_grad, s, g, out, n) }
void fk_bce_grad(const float *z, const float *bias, const float *t, float c, float *out, size_t rows, size_t cols) {
    FK_DISPATCH(bce_grad, z, bias, t, c, out, rows, cols)
}
double fk_bce_sum(const float *z, const float *bias, const float *t, float c, float *out, float *t_copy, size_t rows,
                  size_t cols) {
    FK_DISPATCH_RET(bce_sum, z, bias, t, c, out, t_copy, rows, cols)
}
void fk_colsum_update(const float *b, const float *g, float nc, float *out, size_t rows, size_t cols) {
    FK_DISPATCH(colsum_update, b, g, nc, out, rows, cols)
}
size_t fk_scan(const float *x, size_t n, int *finite) { FK_DISPATCH_RET(scan, x, n, finite) }
void fk_axpy_sum(const float *x, const float *y, const float *z, float a, float *out, size_t n) {
    FK_DISPATCH(axpy_sum, x, y, z, a, out, n)
}
void fk_softmax_xent_grad(const float *ls, const float *e, size_t e_step, const int64_t *labels, float *out,
                          size_t rows, size_t cols) {
    FK_DISPATCH(softmax_xent_grad, ls, e, e_step, labels, out, rows, cols)
}
void fk_lincomb(const float *x, const float *y, float a, float b, float *out, size_t n) {
    FK_DISPATCH(lincomb, x, y, a, b, out, n)
}
void fk_lincomb_sq(const float *x, const float *y, float a, float b, float *out, size_t n) {
    FK_DISPATCH(lincomb_sq, x, y, a, b, out, n)
}
void fk_adam_step(const float *p, const float *m, const float *v, float c, float eps, float *out, size_t n) {
    FK_DISPATCH(adam, p, m, v, c, eps, out, n)
}
