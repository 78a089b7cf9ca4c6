/*
 * Tessera strict kernels (SPEC.md section 7): the arithmetic of every v1
 * operator, shared by the C runtime and (compiled to wasm32) the JS runtime.
 *
 * ABI (stable; additions only):
 *  - Plain C functions on float pointers and int32_t sizes/strides. No
 *    allocation, no globals, no libc: kernels.c includes only <stddef.h>,
 *    <stdint.h> and <float.h>, so it builds freestanding, e.g.
 *      clang-16 --target=wasm32 -nostdlib -msimd128 -O2 -ffp-contract=off \
 *               -Wl,--no-entry -Wl,--export-dynamic kernels.c
 *  - Tensors are dense, row-major float32. Sizes are element counts >= 0.
 *  - Unless stated, the output may alias an input exactly (in-place use) but
 *    must not partially overlap it. MatMul and Transpose outputs must not
 *    alias their inputs.
 *  - Strict profile: every + - * / sqrt is one binary32 operation; build with
 *    -ffp-contract=off (no contracted FMA; the one explicit fused operation,
 *    in the x86-64 library's Sigmoid, returns an exact value: SPEC 7.3) and
 *    FLT_EVAL_METHOD == 0 (checked), never -ffast-math. -fno-math-errno is recommended so that sqrt is inlined.
 *  - Shape arrays hold at most TSR_K_MAX_RANK entries.
 */
#ifndef TESSERA_KERNELS_H
#define TESSERA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define TSR_K_MAX_RANK 8

/* wasm32: clang gives symbols hidden visibility by default, so mark the API
 * for --export-dynamic. Elsewhere ordinary external linkage. Define
 * TSR_K_API before including this header to override (e.g. `static` when
 * generated code includes kernels.c into one translation unit). */
#ifndef TSR_K_API
#if defined(__wasm__)
#define TSR_K_API __attribute__((visibility("default")))
#else
#define TSR_K_API
#endif
#endif

/* Binary operator codes for tsr_k_binary. */
enum {
    TSR_K_ADD = 0,
    TSR_K_SUB = 1,
    TSR_K_MUL = 2,
    TSR_K_DIV = 3,
    TSR_K_MAX = 4, /* Maximum, SPEC 7.2 */
    TSR_K_MIN = 5, /* Minimum, SPEC 7.2 */
    TSR_K_POW = 6  /* Pow, SPEC 7.10 (since 1.1); not in the wasm build, nor
                    * where TSR_K_NO_POW is defined (kernels.c, Pow) */
};

/* Reduction codes for tsr_k_reduce. */
enum {
    TSR_K_RSUM = 0,
    TSR_K_RMEAN = 1,
    TSR_K_RMAX = 2
};

/* Scalar strict functions (SPEC 7.2, 7.3, 7.10). */
TSR_K_API float tsr_k_exp1(float x);
TSR_K_API float tsr_k_log1(float x);
TSR_K_API float tsr_k_sigmoid1(float x);
TSR_K_API float tsr_k_tanh1(float x);
TSR_K_API float tsr_k_softplus1(float x);
TSR_K_API float tsr_k_max1(float a, float b);
TSR_K_API float tsr_k_min1(float a, float b);
/* Pow (SPEC 7.10): binary64 log2 / exp2, one rounding to binary32. */
TSR_K_API float tsr_k_pow1(float x, float y);

/* Elementwise unary: y[i] = f(x[i]) for 0 <= i < n. y may equal x. */
TSR_K_API void tsr_k_neg(const float *x, float *y, int32_t n);
TSR_K_API void tsr_k_abs(const float *x, float *y, int32_t n);
TSR_K_API void tsr_k_sqrt(const float *x, float *y, int32_t n);
TSR_K_API void tsr_k_relu(const float *x, float *y, int32_t n);
TSR_K_API void tsr_k_exp(const float *x, float *y, int32_t n);
TSR_K_API void tsr_k_log(const float *x, float *y, int32_t n);
TSR_K_API void tsr_k_sigmoid(const float *x, float *y, int32_t n);
TSR_K_API void tsr_k_tanh(const float *x, float *y, int32_t n);
TSR_K_API void tsr_k_softplus(const float *x, float *y, int32_t n);
/* Clip: y = Minimum(Maximum(x, lo), hi). */
TSR_K_API void tsr_k_clip(const float *x, float *y, int32_t n, float lo, float hi);

/* Broadcasting binary op (numpy rules already resolved by the caller).
 * The output has `rank` dims `shape[0..rank-1]` (rank 0: one element) and is
 * written densely, row-major. sa[d] / sb[d] are the element strides of a and
 * b for output dim d (0 where that operand is broadcast along d). Adjacent
 * dims are merged internally so the inner loop is as long as possible.
 * y may equal a or b only when that operand is not broadcast (strides equal
 * to the dense strides of the output). */
TSR_K_API void tsr_k_binary(int32_t op, const float *a, const float *b, float *y,
                  int32_t rank, const int32_t *shape,
                  const int32_t *sa, const int32_t *sb);

/* Same-shape / scalar helpers over n elements: sa, sb are 0 or 1
 * (0 = that operand is one value repeated). */
TSR_K_API void tsr_k_binary_flat(int32_t op, const float *a, const float *b, float *y,
                       int32_t n, int32_t sa, int32_t sb);

/* MatMul (SPEC 7.1): C[m x n] = A' * B', A' = ta ? A^T : A, B' = tb ? B^T : B.
 * Storage: a is m x k (ta == 0) or k x m (ta != 0); b is k x n (tb == 0) or
 * n x k (tb != 0); c is m x n. For each element the sum runs over k in
 * increasing order from +0.0 and terms with A'[i,k] == 0 are skipped.
 * Fastest with tb == 0 (i-k-j order, vectorised over j); callers that can
 * should pass a pre-transposed B. c must not overlap a or b. */
TSR_K_API void tsr_k_matmul(const float *a, const float *b, float *c,
                  int32_t m, int32_t k, int32_t n, int32_t ta, int32_t tb);
#if defined(TSR_K_DISPATCH)
/* Built with TSR_K_DISPATCH (runtimes/c/Makefile; the x86-64 library picks
 * MatMul, Exp and Sigmoid code by CPU at run time: AVX-512F, else AVX2, else
 * the baseline ISA). Paths, for tests and benchmarks (all give the same
 * bits): */
enum {
    TSR_K_PATH_BASE = 0,   /* baseline ISA (SSE2 on x86-64) */
    TSR_K_PATH_AVX512 = 1, /* AVX-512F, 16 floats per vector */
    TSR_K_PATH_AVX2 = 2    /* AVX2, 8 floats per vector */
};
/* MatMul by a chosen path; same result bits as tsr_k_matmul; tb == 0 only;
 * returns 0 if the path is not available (build or CPU). */
TSR_K_API int32_t tsr_k_matmul_path(const float *a, const float *b, float *c, int32_t m,
                                    int32_t k, int32_t n, int32_t ta, int32_t tb, int32_t path);
/* Force the path tsr_k_matmul, tsr_k_exp, tsr_k_sigmoid, tsr_k_conv2d_ws and
 * the pooling kernels take from now on, in the whole process (-1: by CPU,
 * the default). Returns 0 and changes nothing if the path is not available. Tests and benchmarks only: not
 * thread safe, do not call while other threads run kernels. */
TSR_K_API int32_t tsr_k_set_path(int32_t path);
#endif

/* Softmax (SPEC 7.4) along the middle axis of an (outer, len, inner) view:
 * element (o, i, q) is at x[(o * len + i) * inner + q]. y may equal x. */
TSR_K_API void tsr_k_softmax(const float *x, float *y,
                   int32_t outer, int32_t len, int32_t inner);

/* Reduction (SPEC 7.5). x has `rank` dims `shape`; reduce[d] != 0 marks a
 * reduced axis. y receives the product of the kept dims (row-major, kept
 * order; keepdims only changes the shape, not the data). The input is read
 * once in row-major order, which visits the reduced elements of each output
 * in the order SPEC 7.5 requires. y must not overlap x. */
TSR_K_API void tsr_k_reduce(int32_t op, const float *x, float *y,
                  int32_t rank, const int32_t *shape, const int32_t *reduce);

/* Transpose: y has dims shape[perm[d]]; y[..i_d..] = x[..] with
 * out index d taking input axis perm[d]. y must not overlap x. */
TSR_K_API void tsr_k_transpose(const float *x, float *y, int32_t rank,
                     const int32_t *shape, const int32_t *perm);

/* Copy n floats (Reshape, and pre-transposing weights). */
TSR_K_API void tsr_k_copy(const float *x, float *y, int32_t n);

/* ---- format 1.1: int32 tensors and the ops that use them ----
 * int32 data is int32_t; booleans are int32 0/1 (nonzero is true). Kernels
 * that only move elements take void pointers and copy 4-byte words
 * unchanged, so one kernel serves float32 and int32 (NaN payloads, -0 and
 * every integer keep their bits). */
enum {
    TSR_K_F32 = 0, /* element type codes (tsr_k_compare, tsr_k_argmax) */
    TSR_K_I32 = 1
};

/* Comparison and logical codes for tsr_k_compare (SPEC 6, format 1.1). */
enum {
    TSR_K_GT = 0,  /* Greater: IEEE a > b (false with NaN) */
    TSR_K_GE = 1,  /* GreaterOrEqual */
    TSR_K_LT = 2,  /* Less */
    TSR_K_LE = 3,  /* LessOrEqual */
    TSR_K_EQ = 4,  /* Equal: -0 == +0, NaN equals nothing */
    TSR_K_NE = 5,  /* NotEqual: true with NaN */
    TSR_K_AND = 6, /* And: (a != 0) && (b != 0), int32 operands only */
    TSR_K_OR = 7   /* Or: (a != 0) || (b != 0), int32 operands only */
};

/* More reduction codes for tsr_k_reduce (format 1.1). */
enum {
    TSR_K_RMIN = 3, /* ReduceMin: acc = +inf; acc = Minimum(acc, x) */
    TSR_K_RPROD = 4 /* ReduceProd: acc = +1; acc = acc * x */
};

/* Broadcasting comparison / logical op, laid out as tsr_k_binary (strides
 * 0 = broadcast). a and b hold `dtype` elements (TSR_K_F32 or TSR_K_I32);
 * y receives int32 0/1 and must not overlap a or b. */
TSR_K_API void tsr_k_compare(int32_t op, int32_t dtype, const void *a, const void *b, int32_t *y,
                             int32_t rank, const int32_t *shape, const int32_t *sa, const int32_t *sb);

/* Not: y = (x == 0) (int32 0/1). y may equal x. */
TSR_K_API void tsr_k_not(const int32_t *x, int32_t *y, int32_t n);

/* Where: y = c != 0 ? a : b, elements of 4 bytes copied as they are;
 * three-way broadcast (strides sc, sa, sb as tsr_k_binary). y must not
 * overlap the operands. */
TSR_K_API void tsr_k_where(const int32_t *c, const void *a, const void *b, void *y, int32_t rank,
                           const int32_t *shape, const int32_t *sc, const int32_t *sa,
                           const int32_t *sb);

/* Cast float32 -> int32: NaN -> 0, x >= 2^31 -> INT32_MAX, x < -2^31 ->
 * INT32_MIN, else truncation toward zero. */
TSR_K_API void tsr_k_cast_f2i(const float *x, int32_t *y, int32_t n);
/* Cast int32 -> float32: round to nearest even. */
TSR_K_API void tsr_k_cast_i2f(const int32_t *x, float *y, int32_t n);

/* Copy n 4-byte elements (data movement of either dtype). y may equal x. */
TSR_K_API void tsr_k_copy32(const void *x, void *y, int32_t n);

/* Transpose of 4-byte elements of either dtype, as tsr_k_transpose. */
TSR_K_API void tsr_k_transpose32(const void *x, void *y, int32_t rank, const int32_t *shape,
                                 const int32_t *perm);

/* Gather along the middle axis of an (outer, d, inner) view of x: for each
 * o and each j < n_idx, the row x[o, i, :] with i = idx[j] (+ d when
 * negative) is copied to y[o, j, :]. Every index is checked before anything
 * is written: returns -1 when all are in [-d, d-1], else the position j of
 * the first one outside (y untouched). y must not overlap x. */
TSR_K_API int32_t tsr_k_gather(const void *x, const int32_t *idx, void *y, int32_t outer,
                               int32_t d, int32_t n_idx, int32_t inner);

/* Concat: one input's block. x is an (outer, len, inner) view; its rows go
 * to y viewed as (outer, total, inner) at offset `at` along the middle
 * axis. */
TSR_K_API void tsr_k_concat(const void *x, void *y, int32_t outer, int32_t len, int32_t inner,
                            int32_t total, int32_t at);

/* Slice: y[i_0..] = x[start_0 + i_0 * step_0, ...]; x has dims `shape`,
 * y dims `out` (every out[d] >= 1, every selected index inside x). */
TSR_K_API void tsr_k_slice(const void *x, void *y, int32_t rank, const int32_t *shape,
                           const int32_t *out, const int32_t *start, const int32_t *step);

/* ArgMax (max != 0) / ArgMin along the middle axis of an (outer, len,
 * inner) view: the scan of SPEC 6 (first NaN wins, ties keep the first
 * index, -0 and +0 tie). x holds `dtype` elements; y (outer x inner) int32
 * indices. */
TSR_K_API void tsr_k_argmax(int32_t max, int32_t dtype, const void *x, int32_t *y, int32_t outer,
                            int32_t len, int32_t inner);

/* LogSoftmax (SPEC 7) along the middle axis of an (outer, len, inner)
 * view: m = max, s = sum of Exp(x - m) in index order, y = (x - m) - Log(s).
 * y may equal x. */
TSR_K_API void tsr_k_log_softmax(const float *x, float *y, int32_t outer, int32_t len,
                                 int32_t inner);

/* ---- format 1.2: convolution and pooling (NCHW, SPEC 7.11, 7.12) ----
 * geom holds the node's dimensions and attributes as int32, exactly as
 * the shape rule of SPEC 6 gives them (Hout, Wout included; every pad
 * below its kernel for pooling); x is N x C x H x W, y N x M x Hout x Wout
 * (Conv2D) or N x C x Hout x Wout (pooling), dense. y must not overlap x,
 * w or b. Index arithmetic stays below 2^31 for any geometry the shape rule
 * accepts (element counts <= 2^26). */
/* Conv2D: w is M x (C/group) x kH x kW; b has M elements, or is NULL (no
 * bias). For each output the taps run over (c, i, j) in increasing order;
 * padding positions and zero inputs are skipped; the bias is added last.
 * geom: N, C, H, W, M, kH, kW, sh, sw, dh, dw, pt, pl, pb, pr, group, Hout, Wout (18 int32). */
TSR_K_API void tsr_k_conv2d(const float *x, const float *w, const float *b, float *y, const int32_t *geom);
/* MaxPool2D (acc = -inf, then Maximum of SPEC 7.2) and AveragePool2D (sum
 * in window order, divided by fl(kH kW) when count_include_pad != 0, else
 * by the number of input elements in the window); padding is skipped.
 * geom: N, C, H, W, kH, kW, sh, sw, pt, pl, pb, pr, Hout, Wout (14 int32). */
TSR_K_API void tsr_k_maxpool2d(const float *x, float *y, const int32_t *geom);
TSR_K_API void tsr_k_avgpool2d(const float *x, float *y, const int32_t *geom, int32_t count_include_pad);
#if defined(TSR_K_DISPATCH) || defined(__wasm_simd128__)
/* The x86-64 library and the wasm simd128 build (the JS runtime) only:
 * Conv2D with a workspace the caller provides, vectorised (library: over
 * output positions, on the path tsr_k_set_path selects, else the CPU's best;
 * wasm: over output channels); the same bits as tsr_k_conv2d.
 * tsr_k_conv2d_ws_floats gives the floats of workspace it needs (the same
 * for any N), 0 when the geometry does not suit it (library: a width stride
 * above 1; both: a workspace above 2^26 floats): then tsr_k_conv2d_ws (ws
 * may be NULL) runs tsr_k_conv2d. */
TSR_K_API int64_t tsr_k_conv2d_ws_floats(const int32_t *geom);
TSR_K_API void tsr_k_conv2d_ws(const float *x, const float *w, const float *b, float *y, const int32_t *geom,
                               float *ws);
#endif

#endif /* TESSERA_KERNELS_H */
