/* Products with a 0/1 float32 matrix X of few ones (tessera.trainer._fused): a binary first
 * layer's x @ W as a sum of W's rows, and x.T @ G as the same product with the pattern of x.T.
 *
 * X is held as CSR without values: indptr (n + 1 entries) and, for row r, the columns
 * cols[indptr[r] .. indptr[r + 1]) of its ones, ascending. Matrices are C-contiguous, float32.
 */
#ifndef TESSERA_BINARY_KERNELS_H
#define TESSERA_BINARY_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* The pattern of x (n, d): writes indptr and cols and returns the number of ones; -1 when an
 * element is neither 0 (either sign) nor 1, or when more than cap ones would be written. Fastest
 * with cap at least the number of ones + d (a row is then written without a test per element). */
int64_t bk_pattern(const float *x, size_t n, size_t d, int64_t *indptr, int64_t *cols, size_t cap);

/* The pattern of X.T (d, n) from X's: colptr (d + 1 entries) and rows (indptr[n] entries), the
 * rows of each column ascending. */
void bk_transpose(size_t n, size_t d, const int64_t *indptr, const int64_t *cols, int64_t *colptr, int64_t *rows);

/* out (n, m) = X @ W, W (d, m): out[r] = 0 + W[c0] + W[c1] + ... over row r's columns in order,
 * on the path fk_path names (the same bits on each). The columns must lie in [0, d). Returns 0,
 * or -1 when its scratch (n int64) cannot be allocated. */
int bk_matmul(size_t n, size_t d, size_t m, const float *W, const int64_t *indptr, const int64_t *cols, float *out);

#endif
