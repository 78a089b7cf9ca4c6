/* In-process bench: seed AE 784->256 (tied weights, sigmoid), random weights,
 * random binary inputs of density 0.15 (like the digits), and dense uniform
 * inputs. Prints median per-call microseconds at batch 1 and 256 (101 samples),
 * then the MatMul kernel alone. Built with TSR_K_DISPATCH (`make bench-ship`,
 * the shipped library) it times every kernel path the CPU has (baseline ISA,
 * AVX2, AVX-512F; tsr_k_set_path), alternating the paths within each sample
 * so that load from other processes hits them alike. Runs in well under a
 * minute. Then the sparse first layer: Gather of the active rows against the
 * dense MatMul (bench_sparse). */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "tessera.h"

#define NS 101 /* samples per figure */

/* the paths to time: path code for tsr_k_set_path, name */
static int npaths;
static int32_t paths[3];
static const char *names[3];

static void find_paths(void)
{
#if defined(TSR_K_DISPATCH)
    static const int32_t all[3] = {TSR_K_PATH_BASE, TSR_K_PATH_AVX2, TSR_K_PATH_AVX512};
    static const char *const all_names[3] = {"baseline", "avx2", "avx512f"};
    int i;
    for (i = 0; i < 3; i++)
        if (tsr_k_set_path(all[i])) {
            paths[npaths] = all[i];
            names[npaths++] = all_names[i];
        }
    tsr_k_set_path(-1);
#else
    paths[0] = -1;
    names[0] = "build default";
    npaths = 1;
#endif
}

static void use_path(int i)
{
#if defined(TSR_K_DISPATCH)
    tsr_k_set_path(paths[i]);
#else
    (void)i;
#endif
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *make_model(size_t *len)
{
    size_t cap = 16u << 20, n = 0;
    char *s = (char *)malloc(cap);
    int i;
    unsigned r = 1;
    n += (size_t)sprintf(s + n, "{\"format\":\"tessera\",\"format_version\":\"1.0\",\"producer\":{\"name\":\"b\",\"version\":\"0\"},"
                                "\"graph\":{\"inputs\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[\"b\",784]}],"
                                "\"outputs\":[{\"name\":\"y\",\"dtype\":\"float32\",\"shape\":[\"b\",784]}],\"initializers\":[");
    n += (size_t)sprintf(s + n, "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[784,256],\"data\":[");
    for (i = 0; i < 784 * 256; i++) {
        r = r * 1103515245u + 12345u;
        n += (size_t)sprintf(s + n, "%s%.6g", i ? "," : "", ((double)(r >> 8) / 16777216.0 - 0.5) * 0.1);
    }
    n += (size_t)sprintf(s + n, "]},{\"name\":\"bh\",\"dtype\":\"float32\",\"shape\":[256],\"data\":[");
    for (i = 0; i < 256; i++)
        n += (size_t)sprintf(s + n, "%s0.01", i ? "," : "");
    n += (size_t)sprintf(s + n, "]},{\"name\":\"bv\",\"dtype\":\"float32\",\"shape\":[784],\"data\":[");
    for (i = 0; i < 784; i++)
        n += (size_t)sprintf(s + n, "%s-0.02", i ? "," : "");
    n += (size_t)sprintf(s + n, "]}],\"nodes\":["
        "{\"op\":\"MatMul\",\"inputs\":[\"x\",\"W\"],\"outputs\":[\"a\"]},{\"op\":\"Add\",\"inputs\":[\"a\",\"bh\"],\"outputs\":[\"b1\"]},"
        "{\"op\":\"Sigmoid\",\"inputs\":[\"b1\"],\"outputs\":[\"h\"]},"
        "{\"op\":\"MatMul\",\"inputs\":[\"h\",\"W\"],\"outputs\":[\"c\"],\"attrs\":{\"transpose_b\":true}},"
        "{\"op\":\"Add\",\"inputs\":[\"c\",\"bv\"],\"outputs\":[\"d\"]},{\"op\":\"Sigmoid\",\"inputs\":[\"d\"],\"outputs\":[\"y\"]}]}}");
    *len = n;
    return s;
}

/* t[p][s]: sample s of path p; prints the medians, one column per path */
static void report(const char *what, double (*t)[NS])
{
    int p;
    printf("%-34s", what);
    for (p = 0; p < npaths; p++) {
        qsort(t[p], NS, sizeof t[p][0], cmp);
        printf("  %s %8.1f", names[p], t[p][NS / 2]);
    }
    printf("  us\n");
    fflush(stdout);
}

static void bench(tsr_model *m, int batch, int dense)
{
    tsr_tensor in, out[1];
    tsr_error e;
    size_t ws_len = 0;
    float *x = (float *)malloc((size_t)batch * 784 * sizeof(float));
    void *ws;
    double t[3][NS];
    char what[64];
    int i, reps = batch == 1 ? 500 : 4, k, q;
    unsigned r = 7;
    for (i = 0; i < batch * 784; i++) {
        r = r * 1103515245u + 12345u;
        x[i] = dense ? (float)((r >> 8) & 0xFFFF) / 65536.0f : (((r >> 8) % 100) < 15 ? 1.0f : 0.0f);
    }
    memset(&in, 0, sizeof in);
    in.name = "x";
    in.rank = 2;
    in.shape[0] = batch;
    in.shape[1] = 784;
    in.data = x;
    tsr_bind(m, &in, 1, &ws_len, &e);
    ws = malloc(ws_len);
    for (q = 0; q < npaths; q++) { /* warm up */
        use_path(q);
        tsr_run(m, &in, 1, out, ws, ws_len, &e);
    }
    for (k = 0; k < NS; k++) {
        for (q = 0; q < npaths; q++) {
            int p = (k + q) % npaths; /* rotate the order */
            double a;
            use_path(p);
            a = now_us();
            for (i = 0; i < reps; i++)
                tsr_run(m, &in, 1, out, ws, ws_len, &e);
            t[p][k] = (now_us() - a) / reps;
        }
    }
    sprintf(what, "AE batch %3d, %s input", batch, dense ? "dense" : "binary 15%");
    report(what, t);
    free(ws);
    free(x);
}

/* The MatMul kernel alone, dense A: m x k times k x n. */
static void bench_matmul(int32_t m, int32_t k, int32_t n)
{
    float *a = (float *)malloc((size_t)m * k * 4), *b = (float *)malloc((size_t)k * n * 4);
    float *c = (float *)malloc((size_t)m * n * 4);
    double t[3][NS];
    char what[64];
    int i, s, q, reps = m == 1 ? 200 : 3;
    unsigned r = 3;
    for (i = 0; i < m * k; i++) {
        r = r * 1103515245u + 12345u;
        a[i] = (float)((r >> 8) & 0xFFFF) / 65536.0f;
    }
    for (i = 0; i < k * n; i++) {
        r = r * 1103515245u + 12345u;
        b[i] = (float)((r >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
    for (q = 0; q < npaths; q++) {
        use_path(q);
        tsr_k_matmul(a, b, c, m, k, n, 0, 0);
    }
    for (s = 0; s < NS; s++) {
        for (q = 0; q < npaths; q++) {
            int p = (s + q) % npaths;
            double x;
            use_path(p);
            x = now_us();
            for (i = 0; i < reps; i++)
                tsr_k_matmul(a, b, c, m, k, n, 0, 0);
            t[p][s] = (now_us() - x) / reps;
        }
    }
    sprintf(what, "tsr_k_matmul %dx%dx%d dense", (int)m, (int)k, (int)n);
    report(what, t);
    free(a);
    free(b);
    free(c);
}

/* The sparse first layer: 5,000 binary features, 1% set (50), 256 hidden
 * units, batch 1. Dense: x[1, 5000] MatMul W (SPEC 7.1 skips the zero
 * terms, but still scans all 5,000). Gather: the 50 active feature ids,
 * int32, Gather(W, ids) then ReduceSum over them. With ascending ids both
 * add the same rows in the same order from +0, so the results are the same
 * bits (checked). */
#define SP_F 5000
#define SP_H 256
#define SP_K 50
static char *make_sparse_model(size_t *len, int gather)
{
    size_t cap = 24u << 20, n = 0;
    char *s = (char *)malloc(cap);
    int i;
    unsigned r = 5;
    n += (size_t)sprintf(s + n, "{\"format\":\"tessera\",\"format_version\":\"1.1\",\"producer\":{\"name\":\"b\",\"version\":\"0\"},"
                                "\"graph\":{\"inputs\":[{\"name\":\"x\",\"dtype\":\"%s\",\"shape\":%s}],"
                                "\"outputs\":[{\"name\":\"y\",\"dtype\":\"float32\",\"shape\":%s}],\"initializers\":[",
                         gather ? "int32" : "float32", gather ? "[50]" : "[1,5000]", gather ? "[256]" : "[1,256]");
    n += (size_t)sprintf(s + n, "{\"name\":\"W\",\"dtype\":\"float32\",\"shape\":[%d,%d],\"data\":[", SP_F, SP_H);
    for (i = 0; i < SP_F * SP_H; i++) {
        r = r * 1103515245u + 12345u;
        n += (size_t)sprintf(s + n, "%s%.4g", i ? "," : "", ((double)(r >> 8) / 16777216.0 - 0.5) * 0.1);
    }
    if (gather)
        n += (size_t)sprintf(s + n, "]}],\"nodes\":[{\"op\":\"Gather\",\"inputs\":[\"W\",\"x\"],\"outputs\":[\"g\"]},"
                                    "{\"op\":\"ReduceSum\",\"inputs\":[\"g\"],\"outputs\":[\"y\"],\"attrs\":{\"axes\":[0]}}]}}");
    else
        n += (size_t)sprintf(s + n, "]}],\"nodes\":[{\"op\":\"MatMul\",\"inputs\":[\"x\",\"W\"],\"outputs\":[\"y\"]}]}}");
    *len = n;
    return s;
}

static void bench_sparse(void)
{
    size_t len, wl[2];
    tsr_model *m[2];
    tsr_tensor in[2], out[2];
    tsr_error e;
    static float x[SP_F];
    int32_t ids[SP_K];
    void *ws[2];
    double t[3][3][NS];
    static float xd[SP_F];
    tsr_tensor dense;
    int i, g, k, q, reps = 1000;
    for (g = 0; g < 2; g++) {
        char *doc = make_sparse_model(&len, g);
        if (tsr_model_load_alloc(doc, len, &m[g], &e) != TSR_OK) {
            printf("sparse model: load failed: %s %s\n", e.name, e.message);
            exit(1);
        }
        free(doc);
    }
    for (i = 0; i < SP_K; i++) { /* 50 ascending ids spread over 5,000 */
        ids[i] = i * (SP_F / SP_K) + (i * 37) % (SP_F / SP_K);
        x[ids[i]] = 1.0f;
    }
    memset(in, 0, sizeof in);
    in[0].name = in[1].name = "x";
    in[0].rank = 2, in[0].shape[0] = 1, in[0].shape[1] = SP_F, in[0].data = x;
    in[1].rank = 1, in[1].shape[0] = SP_K, in[1].dtype = TSR_INT32, in[1].idata = ids;
    for (g = 0; g < 2; g++) {
        tsr_bind(m[g], &in[g], 1, &wl[g], &e);
        ws[g] = malloc(wl[g]);
        if (tsr_run(m[g], &in[g], 1, &out[g], ws[g], wl[g], &e) != TSR_OK) {
            printf("sparse model: run failed: %s %s\n", e.name, e.message);
            exit(1);
        }
    }
    dense = in[0];
    for (i = 0; i < SP_F; i++)
        xd[i] = 1.0f + (float)(i % 7);
    dense.data = xd;
    if (memcmp(out[0].data, out[1].data, SP_H * sizeof(float)) != 0) {
        printf("sparse first layer: Gather and MatMul results differ\n");
        exit(1);
    }
    for (k = 0; k < NS; k++) {
        for (q = 0; q < npaths; q++) {
            int p = (k + q) % npaths;
            use_path(p);
            for (g = 0; g < 3; g++) {
                double a = now_us();
                for (i = 0; i < reps / (g == 2 ? 10 : 1); i++)
                    tsr_run(m[g & 1], g == 2 ? &dense : &in[g], 1, &out[g & 1], ws[g & 1], wl[g & 1], &e);
                t[g][p][k] = (now_us() - a) / (reps / (g == 2 ? 10 : 1));
            }
        }
    }
    report("first layer 5000x256, 1%: MatMul", t[0]);
    report("first layer 5000x256, 1%: Gather", t[1]);
    report("  (MatMul, all 5000 inputs nonzero)", t[2]);
    printf("%-34s", "  MatMul / Gather, 1% (same bits)");
    for (q = 0; q < npaths; q++)
        printf("  %s %8.1fx", names[q], t[0][q][NS / 2] / t[1][q][NS / 2]); /* report() sorted them */
    printf("\n%-34s", "  MatMul all nonzero / Gather, 1%");
    for (q = 0; q < npaths; q++)
        printf("  %s %8.1fx", names[q], t[2][q][NS / 2] / t[1][q][NS / 2]);
    printf("\n");
    for (g = 0; g < 2; g++) {
        free(ws[g]);
        tsr_model_free(m[g]);
    }
}

int main(void)
{
    size_t len;
    char *doc = make_model(&len);
    tsr_model *m;
    tsr_error e;
    if (tsr_model_load_alloc(doc, len, &m, &e) != TSR_OK) {
        printf("load failed: %s %s\n", e.name, e.message);
        return 1;
    }
    find_paths();
    printf("seed AE 784->256->784 (tied W, sigmoid), strict, 1 thread; median of %d samples per path\n", NS);
    bench(m, 1, 0);
    bench(m, 1, 1);
    bench(m, 256, 0);
    bench(m, 256, 1);
    tsr_model_free(m);
    free(doc);
    bench_matmul(1, 256, 784);
    bench_matmul(256, 256, 784);
    bench_sparse();
    return 0;
}
