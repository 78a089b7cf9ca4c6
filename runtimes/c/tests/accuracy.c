/* Exhaustive accuracy of the strict transcendentals: all 2^32 binary32
 * inputs against a double-precision libm reference (libm is allowed here
 * only). Prints the max error in ulps (of the float32 result's binade) per
 * function and the time taken. Two threads split the input space. Also
 * checks that the array kernels tsr_k_exp / tsr_k_sigmoid (vectorised) give
 * the same bits as the scalar functions on every input.
 *
 * Pow (SPEC 7.10), two operands: every positive float32 base for two
 * exponents and every float32 exponent for one base against libm's double
 * pow (below 1 ulp of binary64, 2^-29 of a binary32 ulp: the maxima are
 * right to about 1e-8 ulp), and 10^8 random pairs against long double
 * powl (too slow for the slices); also tsr_k_binary_flat(TSR_K_POW)
 * against tsr_k_pow1 on every pair.
 *
 * `accuracy paths` (also run by default): the array kernels tsr_k_exp and
 * tsr_k_sigmoid against the scalar functions, bit for bit, on all 2^32
 * inputs on every kernel path the library and CPU have (baseline SIMD,
 * AVX-512F, AVX2+FMA), each forced in turn: the proof that every path's
 * vector code gives the scalar code's bits. */
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

/* ---- the array kernels on each forced path ---- */
#if defined(TSR_K_DISPATCH)

typedef struct {
    uint64_t lo, hi, mismatch;
} ajob;

static void *paths_work(void *arg)
{
    ajob *j = (ajob *)arg;
    float xs[1024], ye[1024], ys[1024];
    uint64_t b;
    uint32_t q;
    for (b = j->lo; b < j->hi; b += 1024) {
        for (q = 0; q < 1024; q++) {
            uint32_t v = (uint32_t)b + q;
            memcpy(&xs[q], &v, 4);
        }
        tsr_k_exp(xs, ye, 1024);
        tsr_k_sigmoid(xs, ys, 1024);
        for (q = 0; q < 1024; q++) {
            float e = tsr_k_exp1(xs[q]), s = tsr_k_sigmoid1(xs[q]);
            j->mismatch += memcmp(&e, &ye[q], 4) != 0;
            j->mismatch += memcmp(&s, &ys[q], 4) != 0;
        }
    }
    return NULL;
}

static uint64_t paths_accuracy(void)
{
    enum { NT = 2 };
    static const struct { int32_t path; const char *name; } paths[] = {
        {TSR_K_PATH_BASE, "baseline SIMD"}, {TSR_K_PATH_AVX512, "AVX-512F"}, {TSR_K_PATH_AVX2, "AVX2+FMA"}};
    uint64_t total = 0;
    int p, i;
    for (p = 0; p < 3; p++) {
        pthread_t t[NT];
        ajob jobs[NT];
        uint64_t mism = 0;
        if (!tsr_k_set_path(paths[p].path)) {
            printf("path %-13s  not in this library or CPU: not checked\n", paths[p].name);
            continue;
        }
        for (i = 0; i < NT; i++) {
            jobs[i].lo = (uint64_t)i * (1ULL << 32) / NT;
            jobs[i].hi = (uint64_t)(i + 1) * (1ULL << 32) / NT;
            jobs[i].mismatch = 0;
            pthread_create(&t[i], NULL, paths_work, &jobs[i]);
        }
        for (i = 0; i < NT; i++) {
            pthread_join(t[i], NULL);
            mism += jobs[i].mismatch;
        }
        printf("path %-13s  tsr_k_exp/tsr_k_sigmoid vs scalar on all 2^32 inputs, bit mismatches: %lu\n",
               paths[p].name, (unsigned long)mism);
        total += mism;
    }
    tsr_k_set_path(-1);
    return total;
}
#else
/* without TSR_K_DISPATCH (other CPUs) the build has one path, which work() checks */
static uint64_t paths_accuracy(void)
{
    printf("one kernel path in this build (no TSR_K_DISPATCH): checked with the scalar code above\n");
    return 0;
}
#endif

/* ---- Pow ---- */

static double pow_err(float y, long double r)
{
    double ulp;
    int e;
    long double yy = y;
    if (isnan(r))
        return isnan(y) ? 0 : 1e9;
    if (fabsl(r) >= 0x1p128L) /* the correctly rounded result is inf */
        return isinf(y) && (y > 0) == (r > 0) ? 0 : 1e9;
    if (isnan(y))
        return 1e9;
    if (isinf(y)) /* for r below 2^128: as far as 2^128 is (inf is right from 2^128 - 2^103 on) */
        yy = y > 0 ? 0x1p128L : -0x1p128L;
    frexpl(r, &e);
    if (e - 1 < -126)
        e = -125;
    ulp = ldexp(1.0, e - 1 - 23);
    return (double)(fabsl(yy - r) / ulp);
}

typedef struct {
    int kind;            /* 0: all bases (x = bits, y fixed); 1: all exponents; 2: random pairs */
    float fixed;
    uint64_t lo, hi;     /* bit patterns (kinds 0, 1) or sample indices (kind 2) */
    double maxerr;
    float wx, wy;
    uint64_t vec_mismatch, over_half;
} pjob;

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *pow_work(void *arg)
{
    pjob *j = (pjob *)arg;
    uint64_t b, seed = 0x9E3779B97F4A7C15ull ^ j->lo;
    float xs[256], ysv[256], out[256];
    int q = 0;
    for (b = j->lo; b < j->hi; b++) {
        float x, y, r;
        double e;
        uint32_t u = (uint32_t)b;
        if (j->kind == 0) {
            memcpy(&x, &u, 4);
            y = j->fixed;
        } else if (j->kind == 1) {
            memcpy(&y, &u, 4);
            x = j->fixed;
        } else {
            uint64_t rnd = xorshift(&seed);
            uint32_t ux = (uint32_t)rnd & 0x7FFFFFFFu;
            memcpy(&x, &ux, 4);
            /* exponents that keep y log2 x within the float32 range mostly */
            y = (float)((double)(int32_t)(rnd >> 32) / 2147483648.0 * 300.0 /
                        (fabs(log2((double)x)) + 1.0));
            if (rnd & 0x100000000000ull)
                y = (float)floor((double)y); /* integers too, and a negative base for them */
            if ((rnd & 0x300000000000ull) == 0x300000000000ull && y == floorf(y))
                x = -x;
        }
        r = tsr_k_pow1(x, y);
        xs[q] = x;
        ysv[q] = y;
        out[q] = r;
        if (++q == 256) {
            float v[256];
            int k;
            tsr_k_binary_flat(TSR_K_POW, xs, ysv, v, 256, 1, 1);
            for (k = 0; k < 256; k++)
                if (memcmp(&v[k], &out[k], 4))
                    j->vec_mismatch++;
            q = 0;
        }
        if (isnan(x) || isnan(y) || isinf(x) || isinf(y) || x == 0 || y == 0)
            continue; /* special cases: the conformance cases and the unit tests pin them */
        e = pow_err(r, j->kind == 2 ? powl((long double)x, (long double)y) : (long double)pow((double)x, (double)y));
        if (e > 0.5)
            j->over_half++;
        if (e > j->maxerr) {
            j->maxerr = e;
            j->wx = x;
            j->wy = y;
        }
    }
    return NULL;
}

static void pow_run(const char *what, int kind, float fixed, uint64_t lo, uint64_t hi)
{
    enum { NT = 2 };
    pthread_t t[NT];
    pjob jobs[NT];
    struct timespec a, z;
    int i;
    double m = 0;
    float wx = 0, wy = 0;
    uint64_t mism = 0, over = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < NT; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].kind = kind;
        jobs[i].fixed = fixed;
        jobs[i].lo = lo + (hi - lo) * (uint64_t)i / NT;
        jobs[i].hi = lo + (hi - lo) * (uint64_t)(i + 1) / NT;
        pthread_create(&t[i], NULL, pow_work, &jobs[i]);
    }
    for (i = 0; i < NT; i++) {
        pthread_join(t[i], NULL);
        mism += jobs[i].vec_mismatch;
        over += jobs[i].over_half;
        if (jobs[i].maxerr > m) {
            m = jobs[i].maxerr;
            wx = jobs[i].wx;
            wy = jobs[i].wy;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &z);
    printf("Pow %-34s max %.9f ulp at (%.9g, %.9g); >0.5 ulp: %lu; array/scalar mismatches: %lu; %.1f s\n", what, m,
           (double)wx, (double)wy, (unsigned long)over, (unsigned long)mism,
           (double)(z.tv_sec - a.tv_sec) + 1e-9 * (double)(z.tv_nsec - a.tv_nsec));
}

static void pow_accuracy(void)
{
    static const float exps[] = {0.33333334f, -2.5f};
    static const float bases[] = {1.0000001f};
    char what[64];
    unsigned i;
    for (i = 0; i < sizeof exps / sizeof exps[0]; i++) {
        snprintf(what, sizeof what, "all positive bases, y = %.9g", (double)exps[i]);
        pow_run(what, 0, exps[i], 1, 0x7F800000u);
    }
    for (i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        snprintf(what, sizeof what, "all exponents, x = %.9g", (double)bases[i]);
        pow_run(what, 1, bases[i], 0, 1ull << 32);
    }
    pow_run("10^8 random pairs (powl)", 2, 0, 0, 100000000u);
}

int main(int argc, char **argv)
{
    enum { NT = 2 };
    pthread_t t[NT];
    job jobs[NT];
    struct timespec a, z;
    int i, f;
    if (argc > 1 && strcmp(argv[1], "pow") == 0) { /* Pow only */
        pow_accuracy();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "paths") == 0) /* the array kernels' paths only */
        return paths_accuracy() != 0;
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
    pow_accuracy();
    return paths_accuracy() != 0;
}
