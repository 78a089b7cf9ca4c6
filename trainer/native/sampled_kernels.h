/* Reconstruction sampling's step for the sparse binary auto-encoder, in C (float32, no contraction
 * into FMA): the sample's construction, the encoder's gather-sum, the decoder's forward and
 * backward over the sampled positions, and the SGD scatters. trainer/reconstruction_sampling.py
 * holds the numpy reference of each kernel and says what the sample is; this file only computes.
 *
 * Conventions: a batch's ones are CSR (indptr of n + 1 entries, column indices sorted within each
 * row); matrices are C-contiguous float32 with rows of `nh` values; indices are int64.
 */
#ifndef TESSERA_SAMPLED_KERNELS_H
#define TESSERA_SAMPLED_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* The most pairs sk_draw can write for this batch: every row's ones, its partners' ones and k
 * zeros (or, for a row with no more than k zeros, all of them). */
size_t sk_draw_bound(size_t n, int64_t d, const int64_t *indptr, int64_t k, const int64_t *shifts, size_t m);

/* The pairs (r, c) to reconstruct, sorted by row: row r's ones (target 1, weight 1), then, for each
 * of the m shifts (distinct, in [1, n)), the ones of row (r + shift) mod n that are zeros of row r,
 * then the zeros of rank ranks[r * k + j] (j < k) among row r's zeros (ranks drawn in [0, n0_r)).
 * A row with no more than k zeros gets all of them instead (weight 1, no partner). A sampled
 * zero's weight is 1 / E[times drawn] = 1 / (k / n0_r + m count[c] / (n - 1)) (m = 0: no second
 * term); count[c] is the number of rows of the batch with a one at c (the caller's zeroed scratch
 * of width d, filled and emptied here in O(nnz)). Writes out_indptr (n + 1), cols, target, weight
 * (at most sk_draw_bound entries); returns the number of pairs. */
size_t sk_draw(size_t n, int64_t d, const int64_t *indptr, const int64_t *cols, int64_t k, const int64_t *shifts,
               size_t m, const int64_t *ranks, int32_t *count, int64_t *out_indptr, int64_t *out_cols, float *target,
               float *weight);

/* out[r] = sum of W[cols[p]] over the pairs p of row r (the encoder's pre-activation, no bias). */
void sk_gather_sum(size_t n, size_t nh, const float *W, const int64_t *indptr, const int64_t *cols, float *out);

/* The control variate's pass over every row of W (d rows): base[c] = sigmoid(W[c] . hbar + bv[c]),
 * v = sum of base[c] W[c] (in row order), then (u not NULL) W[c] += base[c] u, the control
 * variate's exact part of the SGD step, while the row is in cache (one stream over W, not two). */
void sk_mean_field(size_t d, size_t nh, float *W, const float *bv, const float *hbar, const float *u, float *base,
                   float *v);

/* The decoder's forward and backward and its SGD writes in one pass over the columns the sample
 * reads, each row of W read once, in row order: the pairs grouped by column (a counting sort,
 * pair order kept within a column; colptr, d + 1 entries, and ent, 3 x the pairs + d entries, are
 * the caller's scratch; scratch holds 2 n floats), then for each column c: for each of its pairs
 * p of row r, z = W_old[c] . h[r] + bv[c], dz = ((sigmoid(z) - target[p]) - base[c]) weight[p]
 * inv (base NULL: 0), dh[r] += dz W_old[c] (dh is written whole); then, the row read by all of
 * them, W[c] += (dz neg) h[r] and bv[c] += dz neg for those pairs in pair order. W_old is W when
 * u is NULL; else W holds W_old + base u (sk_mean_field's update came first) and the kernel reads
 * W_old[c] as W[c] - base[c] u: z from W[c] . h[r] - base[c] (u . h[r]), dh[r] as the sum over
 * W's rows minus (sum of dz base[c]) u (equal within float32 rounding). Returns the weighted sum
 * of the terms softplus(z) - target z (the caller scales it by inv). */
double sk_decode_update(size_t n, size_t d, size_t nh, float *W, float *bv, const float *base, const float *u,
                        const float *h, const int64_t *indptr, const int64_t *cols, const float *target,
                        const float *weight, float inv, float neg, float *dh, float *scratch, int64_t *colptr,
                        int32_t *ent);

/* Y[cols[p]] += coef[p] H[r] for each pair p of row r, in pair order. */
void sk_scatter_rows(size_t n, size_t nh, float *Y, const int64_t *indptr, const int64_t *cols, const float *coef,
                     const float *H);

/* y[cols[p]] += v[p] for p < npairs, in order. */
void sk_scatter_values(size_t npairs, float *y, const int64_t *cols, const float *v);

#endif
