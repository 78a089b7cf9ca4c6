/* Products with a 0/1 matrix X of few ones (binary_kernels.h): its pattern from the dense matrix,
 * the pattern of X.T, and X @ W by adding W's rows.
 *
 * The product is written once (binary_body.h) and compiled for AVX-512F, AVX2 and the baseline
 * ISA, chosen by fused_kernels.c's fk_path like the elementwise kernels. Every output element is
 * the sum of its W values in column order, from 0: the same bits on every path.
 */
#include "binary_kernels.h"

#include <stdlib.h>
#include <string.h>

#include "fused_kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define AI static inline __attribute__((always_inline))

#define FK_TEMPLATE "binary_body.h"
#include "fk_paths.h"

int64_t bk_pattern(const float *x, size_t n, size_t d, int64_t *indptr, int64_t *cols, size_t cap) {
    FK_DISPATCH_RET(pattern, x, n, d, indptr, cols, cap)
}

void bk_transpose(size_t n, size_t d, const int64_t *indptr, const int64_t *cols, int64_t *colptr, int64_t *rows) {
    memset(colptr, 0, (d + 1) * sizeof *colptr);
    size_t nnz = (size_t)indptr[n];
    for (size_t p = 0; p < nnz; p++) colptr[cols[p] + 1]++;
    for (size_t c = 0; c < d; c++) colptr[c + 1] += colptr[c];
    /* rows in ascending order within each column: the X rows are visited in order */
    for (size_t r = 0; r < n; r++)
        for (int64_t p = indptr[r]; p < indptr[r + 1]; p++) rows[colptr[cols[p]]++] = (int64_t)r;
    for (size_t c = d; c > 0; c--) colptr[c] = colptr[c - 1];
    colptr[0] = 0;
}

static int matmul(size_t n, size_t d, size_t m, const float *W, const int64_t *indptr, const int64_t *cols,
                  float *out, int64_t *cur) {
    FK_DISPATCH_RET(binary_matmul, n, d, m, W, indptr, cols, out, cur)
}

int bk_matmul(size_t n, size_t d, size_t m, const float *W, const int64_t *indptr, const int64_t *cols, float *out) {
    int64_t *cur = malloc((n ? n : 1) * sizeof *cur);
    if (cur == NULL) return -1;
    int rc = matmul(n, d, m, W, indptr, cols, out, cur);
    free(cur);
    return rc;
}
