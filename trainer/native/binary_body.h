/* The product with a 0/1 matrix at one vector width: included by binary_kernels.c once per
 * dispatched path, with FK_W (floats per vector), FK_SUF (the names' suffix) and FK_ATTR (the
 * target attribute) defined. Every output element is the same sum in the same order at every
 * width, so the paths differ only in speed. No include guard: a template. */
#define BK_CAT_(a, b) a##b
#define BK_CAT(a, b) BK_CAT_(a, b)
#define BK_NAME(x) BK_CAT(x, FK_SUF)
#define vf BK_NAME(bvf_)
#define vu BK_NAME(bvu_)
#define all_binary BK_NAME(ball_binary_)
#define strip BK_NAME(bstrip_)
#define column BK_NAME(bcolumn_)
#define strip1 BK_NAME(bstrip1_)
#define strip_nv BK_NAME(bstrip_nv_)

typedef float vf __attribute__((vector_size(FK_W * 4)));
typedef uint32_t vu __attribute__((vector_size(FK_W * 4)));

/* Vectors of sums per strip: 16 on every path (the adds take W straight from memory, so AVX2's
 * and SSE's 16 registers hold them all; fewer measured slower: AVX2 at 8, 313 against 257 us
 * for 128 x 784 x 256 at 30% ones). */
#define BK_NV 16
/* Rows of W per chunk: a chunk of a strip, copied into one contiguous aligned block (24 KB),
 * stays in L1 while every row of X adds its rows from it. In place it would not: W's rows are
 * often 1 KB apart, which puts a 512-byte strip's rows in half of L1's sets, and numpy aligns
 * rows to 16 bytes, which splits every other vector across two lines (the copy: 318 -> 224 us
 * for 128 x 784 x 256 at 30% ones, AVX2, W 16 bytes past a line). */
#define BK_K (24576 / (BK_NV * FK_W * 4))

/* Nonzero unless the float's bits u are +-0 or 1.0f: then v = u << 1 is 0 or 0x7f000000, that
 * is, no bit outside 0x7f000000, and its top byte e is 0 or 127, where e (127 - e) is 0; and a
 * negative u must have v = 0 (-0; not -1). In integer arithmetic only (a vector compare on
 * AVX-512F alone compiles to scalar code). */
#define BK_NOT_BINARY(u)                                                                                   \
    ((((u) << 1) & 0x80ffffffu) | (((u) << 1 >> 24) * (127u - ((u) << 1 >> 24))) | (((u) >> 31) * ((u) << 1)))

/* 1 when every element of row[0..d) is +-0 or 1 */
AI int all_binary(const uint32_t *row, size_t d) {
    vu bad = (vu){0};
    size_t c = 0;
    for (; c + FK_W <= d; c += FK_W) {
        vu u;
        memcpy(&u, row + c, sizeof u);
        bad |= BK_NOT_BINARY(u);
    }
    uint32_t any = 0;
    for (int i = 0; i < FK_W; i++) any |= bad[i];
    for (; c < d; c++) any |= BK_NOT_BINARY(row[c]);
    return any == 0;
}

FK_ATTR static int64_t BK_NAME(pattern_)(const float *x, size_t n, size_t d, int64_t *indptr, int64_t *cols,
                                         size_t cap) {
    size_t p = 0, last = d; /* last: the previous row's ones */
    indptr[0] = 0;
    for (size_t r = 0; r < n; r++) {
        const uint32_t *row = (const uint32_t *)(const void *)(x + r * d);
        if (!all_binary(row, d)) return -1;
        if (p + d <= cap) {
            size_t c = 0;
            if (16 * last < d) {
                /* few ones (the last row had under 1/16): skip the blocks of 8 zeros */
                for (; c + 8 <= d; c += 8) {
                    uint64_t q[4];
                    memcpy(q, row + c, sizeof q);
                    if (((q[0] | q[1] | q[2] | q[3]) & 0x7fffffff7fffffffu) == 0) continue;
                    for (size_t k = c; k < c + 8; k++) {
                        cols[p] = (int64_t)k;
                        p += (row[k] << 1) != 0;
                    }
                }
            }
            /* branch-free: every column is written, and kept when its element is a one (a branch
             * per element would mispredict at every density worth this path) */
#pragma GCC unroll 4
            for (; c < d; c++) {
                cols[p] = (int64_t)c;
                p += (row[c] << 1) != 0;
            }
        } else {
            for (size_t c = 0; c < d; c++) {
                if ((row[c] << 1) == 0) continue;
                if (p == cap) return -1;
                cols[p++] = (int64_t)c;
            }
        }
        last = p - (size_t)indptr[r];
        indptr[r + 1] = (int64_t)p;
    }
    return (int64_t)p;
}

/* out[:, j0 : j0 + nv FK_W] for all rows (nv a constant where inlined: the sums stay in
 * registers), over one chunk of W's rows at a time, each row's next position in cur (chunked, a
 * W row serves every X row that uses it while it is in L1; chunk = d: one pass per row). With
 * `block` (nv = BK_NV, chunk = BK_K), each chunk of the strip is read from a copy in block. */
AI void strip_nv(size_t n, size_t d, size_t m, const float *W, const int64_t *indptr, const int64_t *cols, float *out,
                 int64_t *cur, size_t j0, size_t chunk, const int nv, vf *block) {
    for (size_t r = 0; r < n; r++) cur[r] = indptr[r];
    for (size_t c0 = 0; c0 < d; c0 += chunk) {
        int64_t c1 = (int64_t)(c0 + chunk);
        const float *wb = W + j0; /* W row c's strip at wb + (c - c_first) ws */
        size_t ws = m, c_first = 0;
        if (block != NULL) {
            size_t rows = d - c0 < chunk ? d - c0 : chunk;
            for (size_t k = 0; k < rows; k++)
#pragma GCC unroll 16
                for (int i = 0; i < nv; i++) memcpy(&block[k * nv + i], W + (c0 + k) * m + j0 + i * FK_W, sizeof(vf));
            wb = (const float *)(const void *)block;
            ws = (size_t)nv * FK_W;
            c_first = c0;
        }
        for (size_t r = 0; r < n; r++) {
            int64_t p = cur[r], e = indptr[r + 1];
            if (c0 > 0 && (p == e || cols[p] >= c1)) continue; /* nothing in this chunk: sums unchanged */
            float *o = out + r * m + j0;
            vf a[BK_NV];
#pragma GCC unroll 16
            for (int i = 0; i < nv; i++) {
                if (c0 == 0) {
                    a[i] = (vf){0};
                } else {
                    memcpy(&a[i], o + i * FK_W, sizeof(vf));
                }
            }
            for (; p < e && cols[p] < c1; p++) {
                const float *w = wb + ((size_t)cols[p] - c_first) * ws;
#pragma GCC unroll 16
                for (int i = 0; i < nv; i++) {
                    vf v;
                    memcpy(&v, w + i * FK_W, sizeof v);
                    a[i] += v;
                }
            }
            cur[r] = p;
#pragma GCC unroll 16
            for (int i = 0; i < nv; i++) memcpy(o + i * FK_W, &a[i], sizeof(vf));
        }
    }
}

FK_ATTR static void strip(size_t n, size_t d, size_t m, const float *W, const int64_t *indptr, const int64_t *cols,
                          float *out, int64_t *cur, size_t j0, size_t chunk) {
    vf block[BK_K * BK_NV];
    strip_nv(n, d, m, W, indptr, cols, out, cur, j0, chunk, BK_NV, chunk == BK_K ? block : NULL);
}

FK_ATTR static void strip1(size_t n, size_t d, size_t m, const float *W, const int64_t *indptr, const int64_t *cols,
                           float *out, int64_t *cur, size_t j0) {
    strip_nv(n, d, m, W, indptr, cols, out, cur, j0, d, 1, NULL);
}

/* out[:, j] for one column (m below one vector) */
FK_ATTR static void column(size_t n, size_t m, const float *W, const int64_t *indptr, const int64_t *cols, float *out,
                           size_t j) {
    for (size_t r = 0; r < n; r++) {
        float s = 0.0f;
        for (int64_t p = indptr[r]; p < indptr[r + 1]; p++) s += W[(size_t)cols[p] * m + j];
        out[r * m + j] = s;
    }
}

FK_ATTR static int BK_NAME(binary_matmul_)(size_t n, size_t d, size_t m, const float *W, const int64_t *indptr,
                                           const int64_t *cols, float *out, int64_t *cur) {
    if (d == 0) { /* no W rows: sums of nothing */
        memset(out, 0, n * m * sizeof *out);
        return 0;
    }
    if (m < FK_W) {
        for (size_t j = 0; j < m; j++) column(n, m, W, indptr, cols, out, j);
        return 0;
    }
    /* a W row is reused from L1 by the X rows using it: n nnz / d of them on average; below two,
     * chunks only add passes */
    size_t nnz = (size_t)(indptr[n] - indptr[0]);
    size_t chunk = nnz >= 2 * d ? BK_K : d;
    /* a column right of the last whole vector gets a vector strip overlapping its neighbours: a
     * column computed twice gets the same sum twice */
    size_t j0 = 0;
    for (; j0 + BK_NV * FK_W <= m; j0 += BK_NV * FK_W) strip(n, d, m, W, indptr, cols, out, cur, j0, chunk);
    for (; j0 + FK_W <= m; j0 += FK_W) strip1(n, d, m, W, indptr, cols, out, cur, j0);
    if (j0 < m) strip1(n, d, m, W, indptr, cols, out, cur, m - FK_W);
    return 0;
}

#undef vf
#undef vu
#undef all_binary
#undef BK_NOT_BINARY
#undef strip
#undef column
#undef strip1
#undef strip_nv
#undef BK_NV
#undef BK_K
#undef BK_NAME
#undef BK_CAT
#undef BK_CAT_
