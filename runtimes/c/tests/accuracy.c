/* Exhaustive accuracy of the strict transcendentals: all 2^32 binary32
 * inputs against a double-precision libm reference (libm is allowed here
 * only). Prints the max error in ulps (of the float32 result's binade) per
 * function and the time taken. Two threads split the input space. Also
 * checks that the array kernels tsr_k_exp / tsr_k_sigmoid (vectorised) give
 * the same bits as the scalar functions on every input. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

#define NF 5
static const char *names[NF] = {"Exp", "Log", "Sigmoid", "Tanh", "Softplus"};
static float (*const fns[NF])(float) = {tsr_k_exp1, tsr_k_log1, tsr_k_sigmoid1, tsr_k_tanh1, tsr_k_softplus1};

static double ref(int f, double x)
{
    switch (f) {
    case 0: return exp(x);
    case 1: return log(x);
    case 2: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    case 3: return tanh(x);
    default: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    }
}

/* Error of y against exact r in units of the float ulp at r. */
static double ulp_err(float y, double r)
{
    double ulp;
    int e;
    if (isnan(r))
        return isnan(y) ? 0 : 1e9;
    if (isinf(r) || fabs(r) > 3.4028234663852886e38) {
        if ((double)y == r || (isinf(y) && (r > 0) == (y > 0)))
            return 0;
        if (fabs(r) > 3.4028234663852886e38 && isinf(y))
            return 0;
        return 1e9;
    }
    if (isnan(y) || isinf(y))
        return 1e9;
    frexp(r, &e);
    if (e - 1 < -126)
        e = -125;
    ulp = ldexp(1.0, e - 1 - 23);
    return fabs((double)y - r) / ulp;
}

typedef struct {
    uint64_t lo, hi;
    double maxerr[NF];
    uint32_t worst[NF];
    uint64_t vec_mismatch;
} job;

static void *work(void *arg)
{
    job *j = (job *)arg;
    uint64_t b;
    int f;
    float xs[1024], ye[1024], ys[1024];
    for (b = j->lo; b < j->hi; b++) {
        uint32_t u = (uint32_t)b;
        float x;
        memcpy(&x, &u, 4);
        if ((b & 1023) == 0) { /* array kernels on the next 1024 inputs */
            uint32_t q;
            for (q = 0; q < 1024; q++) {
                uint32_t v = u + q;
                memcpy(&xs[q], &v, 4);
            }
            tsr_k_exp(xs, ye, 1024);
            tsr_k_sigmoid(xs, ys, 1024);
        }
        {
            float e = tsr_k_exp1(x), s = tsr_k_sigmoid1(x);
            if (memcmp(&e, &ye[b & 1023], 4) || memcmp(&s, &ys[b & 1023], 4))
                j->vec_mismatch++;
        }
        for (f = 0; f < NF; f++) {
            double e = ulp_err(fns[f](x), ref(f, (double)x));
            if (e > j->maxerr[f]) {
                j->maxerr[f] = e;
                j->worst[f] = u;
            }
        }
    }
    return NULL;
}

int main(void)
{
    enum { NT = 2 };
    pthread_t t[NT];
    job jobs[NT];
    struct timespec a, z;
    int i, f;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < NT; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].lo = (uint64_t)i * (1ULL << 32) / NT;
        jobs[i].hi = (uint64_t)(i + 1) * (1ULL << 32) / NT;
        pthread_create(&t[i], NULL, work, &jobs[i]);
    }
    for (i = 0; i < NT; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &z);
    printf("function   max_ulp   worst_input\n");
    for (f = 0; f < NF; f++) {
        double m = 0;
        uint32_t w = 0;
        float wx;
        for (i = 0; i < NT; i++)
            if (jobs[i].maxerr[f] > m) {
                m = jobs[i].maxerr[f];
                w = jobs[i].worst[f];
            }
        memcpy(&wx, &w, 4);
        printf("%-9s  %7.3f   0x%08x (%.9g)\n", names[f], m, w, (double)wx);
    }
    printf("array kernels tsr_k_exp/tsr_k_sigmoid vs scalar, bit mismatches: %lu\n",
           (unsigned long)(jobs[0].vec_mismatch + jobs[1].vec_mismatch));
    printf("all 2^32 inputs, %d threads, %.1f s\n", NT,
           (double)(z.tv_sec - a.tv_sec) + 1e-9 * (double)(z.tv_nsec - a.tv_nsec));
    return 0;
}
