/* In-process timing of the Tessera C runtime, driven over stdin by infer_py.py so that it
 * alternates with onnxruntime in one run.
 *
 *   bench_c MODEL.json INPUT.f32 BATCH [DIM...]
 * (the input is (BATCH, rest) by default; DIM... are its other dimensions, e.g. 1 8 8 for an image)
 * then one command per line, one answer line each:
 *   run N     -> seconds per tsr_run (mean of N calls)
 *   cpu N     -> the same in this thread's CPU time (robust to other processes on a shared machine)
 *   load N    -> seconds per tsr_model_load_alloc + free of the in-memory text (mean of N)
 *   dump PATH -> writes the output tensor as raw float32, prints its element count
 *   path P    -> forces kernel path P (tsr_k_set_path: 0 baseline, 1 AVX-512F, 2 AVX2, -1 by
 *                CPU) in a library built with them; prints 1, or 0 where the build or CPU lacks it
 *   quit
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera.h"

/* The library's path hook (src/kernels.h, TSR_K_DISPATCH builds only): weak, so the build from
 * source without it still links. */
extern int32_t tsr_k_set_path(int32_t path) __attribute__((weak));

static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(*len + 1);
    if (buf && fread(buf, 1, *len, f) != *len) { free(buf); buf = NULL; }
    fclose(f);
    return buf;
}

static int fail(const char *what, const tsr_error *err) {
    fprintf(stderr, "bench_c: %s: %s %s\n", what, err ? err->name : "", err ? err->message : "");
    return 1;
}

int main(int argc, char **argv) {
    size_t text_len, x_len, ws_len;
    char *text, *xbytes, line[4096];
    tsr_model *model;
    tsr_error err;
    tsr_tensor in, out;
    void *ws;
    long n, i;
    if (argc < 4 || argc - 3 > TSR_MAX_RANK) {
        fprintf(stderr, "usage: bench_c MODEL.json INPUT.f32 BATCH [DIM...]\n");
        return 2;
    }
    text = read_file(argv[1], &text_len);
    xbytes = read_file(argv[2], &x_len);
    if (!text || !xbytes) return fail("cannot read the model or the input", NULL);
    if (tsr_model_load_alloc(text, text_len, &model, &err) != TSR_OK) return fail("load", &err);
    memset(&in, 0, sizeof in);
    in.name = tsr_model_input_name(model, 0);
    in.rank = 2;
    in.shape[0] = atoi(argv[3]);
    in.shape[1] = (int32_t)(x_len / sizeof(float) / (size_t)in.shape[0]);
    if (argc > 4) {
        in.rank = argc - 3;
        for (i = 4; i < argc; i++) in.shape[i - 3] = atoi(argv[i]);
    }
    in.data = (const float *)(void *)xbytes;
    if (tsr_bind(model, &in, 1, &ws_len, &err) != TSR_OK) return fail("bind", &err);
    ws = malloc(ws_len ? ws_len : 1);
    while (fgets(line, sizeof line, stdin)) {
        char path[4000];
        double t;
        int cpu = sscanf(line, "cpu %ld", &n) == 1;
        if (cpu || sscanf(line, "run %ld", &n) == 1) {
            clock_id = cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
            t = now();
            for (i = 0; i < n; i++)
                if (tsr_run(model, &in, 1, &out, ws, ws_len, &err) != TSR_OK) return fail("run", &err);
            printf("%.9g\n", (now() - t) / (double)n);
            clock_id = CLOCK_MONOTONIC;
        } else if (sscanf(line, "load %ld", &n) == 1) {
            t = now();
            for (i = 0; i < n; i++) {
                tsr_model *m;
                if (tsr_model_load_alloc(text, text_len, &m, &err) != TSR_OK) return fail("load", &err);
                tsr_model_free(m);
            }
            printf("%.9g\n", (now() - t) / (double)n);
        } else if (sscanf(line, "path %ld", &n) == 1) {
            printf("%d\n", tsr_k_set_path && tsr_k_set_path((int32_t)n) ? 1 : 0);
        } else if (sscanf(line, "dump %3999s", path) == 1) {
            FILE *f = fopen(path, "wb");
            long count = 1;
            if (tsr_run(model, &in, 1, &out, ws, ws_len, &err) != TSR_OK) return fail("run", &err);
            for (i = 0; i < out.rank; i++) count *= out.shape[i];
            if (!f || fwrite(out.data, sizeof(float), (size_t)count, f) != (size_t)count) return fail("dump", NULL);
            fclose(f);
            printf("%ld\n", count);
        } else {
            break;
        }
        fflush(stdout);
    }
    free(ws);
    tsr_model_free(model);
    free(text);
    free(xbytes);
    return 0;
}
