/*
 * Tessera strict kernels: SPEC.md section 7, bit for bit.
 *
 * Freestanding on purpose (the JS runtime compiles this file to wasm32):
 * only <stddef.h>, <stdint.h>, <float.h>; no libc calls, no globals with
 * state (except, in the x86-64 library build with TSR_K_DISPATCH, the path
 * forced by the test/bench hook tsr_k_set_path), bit casts through unions.
 * See kernels.h for the ABI.
 *
 * Every floating-point expression below is written so that each + - * / is
 * exactly one binary32 operation: no expression mixes in double, and the
 * build uses -ffp-contract=off so a*b+c never becomes an FMA. (The one
 * fused operation, an explicit multiply-subtract in the wide Sigmoid
 * kernels, computes a product's exact error: TSR_DEKKER below.)
 */
#include <float.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "Tessera strict kernels need FLT_EVAL_METHOD == 0 (binary32 evaluated in binary32)"
#endif
#if defined(__FAST_MATH__)
#error "Tessera strict kernels must not be built with -ffast-math"
#endif

/* sqrt is correctly rounded in IEEE 754; the builtin becomes one instruction
 * (sqrtss, f32.sqrt). Without GNU builtins fall back to libm's sqrtf. An
 * includer may predefine TSR_SQRTF (the generated embedded C does: a libm-free
 * correctly rounded one unless its TESSERA_SQRT_BUILTIN is defined). */
#if defined(TSR_SQRTF)
#elif defined(__GNUC__) || defined(__clang__)
#define TSR_SQRTF(x) __builtin_sqrtf(x)
#else
float sqrtf(float);
#define TSR_SQRTF(x) sqrtf(x)
#endif

/* Compilers recognise zeroing and copying loops and emit calls to memset /
 * memcpy, which do not exist in a freestanding build (wasm, bare-metal ARM).
 * no_builtin (clang) and no-tree-loop-distribute-patterns (gcc) keep those
 * loops as loops. */
#if defined(__clang__)
#define TSR_NOLIBC __attribute__((no_builtin("memset", "memcpy", "memmove")))
#elif defined(__GNUC__)
#define TSR_NOLIBC __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define TSR_NOLIBC
#endif

/* Elementwise loops: vectorised, but not interleaved/unrolled further under
 * clang (keeps the wasm module small; the arithmetic is the same). */
#if defined(__clang__)
#define TSR_LOOP_SMALL _Pragma("clang loop interleave_count(1) unroll(disable)")
#else
#define TSR_LOOP_SMALL
#endif

/* Vector types where the target has real SIMD registers (GNU vector
 * extensions: SSE/AVX, wasm simd128, AArch64 NEON; not ARMv7 NEON, which
 * flushes subnormals to zero); MM_W floats per vector. */
#if (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__SSE2__) || defined(__wasm_simd128__) || (defined(__ARM_NEON) && defined(__aarch64__)))
#define TSR_SIMD 1
#if defined(__AVX__)
#define MM_W 8
#else
#define MM_W 4
#endif
typedef float tsr_vf __attribute__((vector_size(MM_W * 4)));
typedef int32_t tsr_vi __attribute__((vector_size(MM_W * 4)));
typedef float tsr_vfu __attribute__((vector_size(MM_W * 4), aligned(4), may_alias));
#define VLOAD(p) (*(const tsr_vfu *)(const void *)(p))
#define VSTORE(p, v) (*(tsr_vfu *)(void *)(p) = (v))
#else
#define TSR_SIMD 0
#endif

/* x86-64 wide vectors (AVX-512F, 16 floats, 32 registers) for MatMul and
 * Exp/Sigmoid, in functions compiled with a target attribute and picked at
 * run time when the library is built with TSR_K_DISPATCH
 * (runtimes/c/Makefile), or always under -mavx512f. -ffp-contract=off
 * holds, so mul and add stay separate (the Sigmoid's exact product error is
 * the one explicit fused multiply-subtract: TSR_DEKKER).
 * Never seen by the wasm build, ARM, or the generated embedded C. */
#if TSR_SIMD && defined(__x86_64__) && defined(__GNUC__) && !defined(__wasm__) && \
    (defined(TSR_K_DISPATCH) || defined(__AVX512F__))
#define TSR_MM_WIDE 1
#define MW_W 16
#define MW_R 8
#define MW_KC 64
#define MW_KCP (MW_KC + MW_W) /* list room: whole vectors are stored */
#if defined(__AVX512F__) && defined(__POPCNT__)
#define TSR_WIDE_FN static
#define TSR_HAVE_WIDE() 1
#define TSR_WIDE_STATIC 1
#else
#define TSR_WIDE_STATIC 0
#define TSR_WIDE_FN __attribute__((target("avx512f,popcnt"))) static
#define TSR_HAVE_WIDE() (tsr_cpu_paths & TSR_CPU_WIDE)
#endif
/* a compiler header (no libc): the compress instructions have no GNU
 * vector spelling */
#include <immintrin.h>
typedef int32_t tsr_wi __attribute__((vector_size(MW_W * 4)));
typedef float tsr_wf __attribute__((vector_size(MW_W * 4)));
typedef float tsr_wfu __attribute__((vector_size(MW_W * 4), aligned(4), may_alias));
#define WLOAD(p) (*(const tsr_wfu *)(const void *)(p))
#define WSTORE(p, v) (*(tsr_wfu *)(void *)(p) = (v))
#else
#define TSR_MM_WIDE 0
#endif

/* x86-64 AVX2 path (8 floats per vector, 16 ymm registers) for MatMul and
 * Exp/Sigmoid, for CPUs with AVX2 but no AVX-512F: the generic SIMD code
 * below instantiated a second time for 8-wide vectors, in functions compiled
 * with target("avx2") and picked at run time on CPUs with AVX2 and FMA3 (the
 * Sigmoid kernel alone, target("avx2,fma"), uses a fused multiply-subtract
 * for an exact product error: TSR_DEKKER). Only in the
 * library (TSR_K_DISPATCH): the wasm build and the generated embedded C do
 * not define it and compile none of it. The 8-wide types and target also
 * serve the packed MatMul, which both x86-64 paths use (TSR_MM_WIDE). */
#if TSR_MM_WIDE && defined(TSR_K_DISPATCH)
#define TSR_MM_AVX2 1
#else
#define TSR_MM_AVX2 0
#endif
#if TSR_MM_WIDE
#if defined(__AVX2__) && defined(__FMA__)
#define TSR_AVX2_FN static
#define TSR_AVX2_FMA_FN static
#define TSR_HAVE_AVX2() 1
#define TSR_AVX2_STATIC 1
#else
#define TSR_AVX2_STATIC 0
#define TSR_AVX2_FN __attribute__((target("avx2"))) static
#define TSR_AVX2_FMA_FN __attribute__((target("avx2,fma"))) static
#define TSR_HAVE_AVX2() (tsr_cpu_paths & TSR_CPU_AVX2) /* AVX2 and FMA3 */
#endif
typedef float tsr_v8f __attribute__((vector_size(32)));
typedef int32_t tsr_v8i __attribute__((vector_size(32)));
typedef float tsr_v8fu __attribute__((vector_size(32), aligned(4), may_alias));
#endif

/* The run-time CPU check of those paths: CPUID for the instructions, XCR0
 * (XGETBV) for the OS saving the registers they use, as libgcc checks them.
 * Read once, at load time (a kernel called from an earlier constructor
 * finds no path and takes the baseline one: the same bits). Written out
 * because __builtin_cpu_supports links libgcc's model of every CPU, 4.5 KB
 * of code against the CLI's 100 KB text budget. */
#if TSR_MM_WIDE && !(TSR_WIDE_STATIC && TSR_AVX2_STATIC)
#include <cpuid.h> /* a compiler header, as immintrin.h */
#define TSR_CPU_AVX2 1
#define TSR_CPU_WIDE 2 /* AVX-512F and POPCNT */
static int32_t tsr_cpu_paths;
__attribute__((constructor)) static void tsr_cpu_init(void)
{
    unsigned a, b, c1, c7, d, xcr0, xcr0_hi;
    if (!__get_cpuid(1, &a, &b, &c1, &d) || !(c1 & bit_OSXSAVE) || !(c1 & bit_AVX))
        return;
    __asm__("xgetbv" : "=a"(xcr0), "=d"(xcr0_hi) : "c"(0u));
    if ((xcr0 & 6u) != 6u || !__get_cpuid_count(7, 0, &a, &b, &c7, &d)) /* xmm, ymm state */
        return;
    tsr_cpu_paths = ((b & bit_AVX2) && (c1 & bit_FMA) ? TSR_CPU_AVX2 : 0) |
                    ((xcr0 & 0xE0u) == 0xE0u && (b & bit_AVX512F) && (c1 & bit_POPCNT) ? TSR_CPU_WIDE : 0);
}
#endif

/* Library code kept out of the hot paths, built for size (the CLI's text
 * budget): gcc and clang optimise cold functions for size. Empty in the
 * wasm and embedded builds. */
#if defined(TSR_K_DISPATCH)
#define TSR_LIB_COLD __attribute__((cold))
#else
#define TSR_LIB_COLD
#endif

/* unaligned vector load / store through the may_alias type U */
#define VLOADT(U, p) (*(const U *)(const void *)(p))
#define VSTORET(U, p, v) (*(U *)(void *)(p) = (v))

/* Library only: the path tsr_k_matmul / tsr_k_exp / tsr_k_sigmoid take,
 * TSR_K_PATH_* of kernels.h, or -1 (the default) for the best one the CPU
 * has. Set only by the test/bench hook tsr_k_set_path; the one global with
 * state, and none in the wasm or embedded builds. */
#if defined(TSR_K_DISPATCH)
static int32_t tsr_forced_path = -1;
#endif

typedef union {
    float f;
    uint32_t u;
} tsr_bits;

static inline uint32_t f2u(float f)
{
    tsr_bits b;
    b.f = f;
    return b.u;
}

static inline float u2f(uint32_t u)
{
    tsr_bits b;
    b.u = u;
    return b.f;
}

/* ---- constants of SPEC 7.3, by bit pattern ---- */
#define K_EXP_LO 0xC2D00000u   /* -104.0 */
#define K_EXP_HI 0x42B20000u   /* 89.0 */
#define K_LOG2E 0x3FB8AA3Bu
#define K_MAGIC 0x4B400000u    /* 1.5 * 2^23 */
#define K_EXP_LN2_HI 0x3F317200u
#define K_EXP_LN2_LO 0x35BFBE8Eu
#define K_LOG_SQRT2 0x3FB504F3u
#define K_LOG_LN2_HI 0x3F318000u
#define K_LOG_LN2_LO 0xB95E8083u
#define K_TWO23 0x4B000000u
#define K_MIN_NORMAL 0x00800000u
#define K_TANH_SMALL 0x3F0CCCCDu

static const uint32_t k_exp_p[6] = {0x394F8450u, 0x3AB6C682u, 0x3C088938u,
                                    0x3D2AAA47u, 0x3E2AAAAAu, 0x3F000000u};
static const uint32_t k_log_q[9] = {0x3D8A2BA8u, 0xBDEF1E0Cu, 0x3DF3784Bu,
                                    0xBDFE1105u, 0x3E119BB3u, 0xBE2AAE27u,
                                    0x3E4CD25Bu, 0xBE800003u, 0x3EAAAAA4u};
static const uint32_t k_tanh_t[6] = {0x3B1D032Au, 0xBC09DAAEu, 0x3CB271E5u,
                                     0xBD5D04CBu, 0x3E08886Eu, 0xBEAAAAAAu};

static inline int is_nan(float x)
{
    return x != x;
}

static inline float horner(const uint32_t *c, int d, float t)
{
    float acc = u2f(c[0]);
    int i;
    for (i = 1; i < d; i++) {
        acc = acc * t;
        acc = acc + u2f(c[i]);
    }
    return acc;
}

/* ---- SPEC 7.3 Exp and Sigmoid, written once for every vector width ----
 * The bodies below are macros over a float type F (float, or a GNU vector of
 * floats) and its int type I, so the scalar code, the SSE/NEON vectors and
 * the AVX-512 vectors run the same operations in the same order and give
 * the same bits. The caller supplies
 *   K(bits)      a constant of type F from its bit pattern,
 *   SEL(m, a, b) a where m holds, b elsewhere (m from a comparison),
 *   AS_I / AS_F  bit casts between F and I.
 * Selects only, no branches: clang vectorises the scalar loops (wasm). */
#define K_VELTKAMP 0x45801000u /* 4097 = 2^12 + 1 */

/* error-free transformations: hi + lo is the exact sum / product */
#define TSR_FAST_TWO_SUM(hi, lo, a, b) (hi = (a) + (b), lo = (b) - (hi - (a)))
#define TSR_TWO_SUM(hi, lo, a, b, tmp) \
    (hi = (a) + (b), tmp = hi - (a), lo = ((a) - (hi - tmp)) + ((b) - tmp))
#define TSR_SPLIT(hi, lo, a, tmp, K) (tmp = (a) * K(K_VELTKAMP), hi = tmp - (tmp - (a)), lo = (a) - hi)

/* n = round(x * log2 e) and the reduced argument r = x - n ln2 */
#define TSR_EXP_REDUCE(F, K, AS_I, xc, nf, n, tmp)      \
    (tmp = (xc) * K(K_LOG2E), tmp = tmp + K(K_MAGIC), \
     nf = tmp - K(K_MAGIC), n = AS_I(tmp) - (int32_t)K_MAGIC)

/* pow2(n1) * pow2(n - n1) with n1 = floor(n / 2), as two factors */
#define TSR_POW2(AS_F, e) AS_F(((e) + 127) << 23)
#define TSR_HALVES(n, n1) (n1 = (((n) + 256) >> 1) - 128) /* n + 256 > 0 */

#define TSR_EXP_BODY(F, I, K, SEL, AS_I, AS_F, x, y)                        \
    do {                                                                    \
        F xc_ = SEL((x) > K(K_EXP_LO), (x), K(K_EXP_LO)), tmp_, nf_, r_, p_; \
        I n_, n1_;                                                          \
        int i_;                                                             \
        xc_ = SEL(xc_ < K(K_EXP_HI), xc_, K(K_EXP_HI)); /* NaN -> lo */     \
        TSR_EXP_REDUCE(F, K, AS_I, xc_, nf_, n_, tmp_);                     \
        r_ = xc_ - nf_ * K(K_EXP_LN2_HI);                                   \
        r_ = r_ - nf_ * K(K_EXP_LN2_LO);                                    \
        p_ = K(k_exp_p[0]);                                                 \
        for (i_ = 1; i_ < 6; i_++)                                          \
            p_ = p_ * r_ + K(k_exp_p[i_]);                                  \
        p_ = (r_ * r_) * p_;                                                \
        p_ = r_ + p_;                                                       \
        p_ = K(0x3F800000u) + p_;                                           \
        TSR_HALVES(n_, n1_);                                                \
        p_ = p_ * TSR_POW2(AS_F, n1_);                                      \
        p_ = p_ * TSR_POW2(AS_F, n_ - n1_);                                 \
        (y) = SEL((x) != (x), (x), p_);                                     \
    } while (0)

/* pl = qh * dh - ph exactly, ph the rounded product (no overflow or
 * underflow: qh and dh lie in [1/3, 2]): Dekker's product from Veltkamp
 * halves, or, where the instruction exists, one fused multiply-subtract,
 * which rounds the exact difference once and so returns it unchanged, as it
 * is a float: the same bits either way (SPEC 7.3; checked on all 2^32
 * inputs by `make accuracy`). */
#define TSR_DEKKER(F, K, pl, qh, dh, ph)                                        \
    do {                                                                          \
        F uh_, ul_, vh_, vl_, t_;                                                 \
        TSR_SPLIT(uh_, ul_, qh, t_, K);                                           \
        TSR_SPLIT(vh_, vl_, dh, t_, K);                                           \
        pl = (((uh_ * vh_ - ph) + uh_ * vl_) + ul_ * vh_) + ul_ * vl_;            \
    } while (0)

/* Sigmoid: e^-|x| = (eh + el) 2^n and the quotient as float32 pairs, so that
 * the result is rounded once (SPEC 7.3; max error 0.78 ulp, not 2.4). In two
 * halves: TSR_SIGMOID_E gives eh, el and n from x, TSR_SIGMOID_Q the result
 * from x, eh, el and n, so that an array kernel can run the halves as two
 * passes over a block of vectors (shorter chains of dependent operations for
 * the core to overlap); one after the other they are TSR_SIGMOID_BODY. */
#define TSR_SIGMOID_E(F, I, K, SEL, AS_I, AS_F, x, eh_, el_, n_)                     \
    do {                                                                          \
        F t_ = AS_F(AS_I(x) | (int32_t)(-2147483647 - 1)), tmp_, nf_, rh_, rl_, p_; \
        F ah_, al_, bh_, bl_;                                                     \
        int i_;                                                                   \
        t_ = SEL(t_ > K(K_EXP_LO), t_, K(K_EXP_LO)); /* -|x| >= -104; NaN -> -104 */ \
        TSR_EXP_REDUCE(F, K, AS_I, t_, nf_, n_, tmp_);                            \
        tmp_ = t_ - nf_ * K(K_EXP_LN2_HI); /* exact */                            \
        TSR_TWO_SUM(rh_, rl_, tmp_, -(nf_ * K(K_EXP_LN2_LO)), p_);                \
        p_ = K(k_exp_p[0]);                                                       \
        for (i_ = 1; i_ < 6; i_++)                                                \
            p_ = p_ * rh_ + K(k_exp_p[i_]);                                       \
        p_ = (rh_ * rh_) * p_;                                                    \
        TSR_FAST_TWO_SUM(ah_, al_, K(0x3F800000u), rh_);                          \
        TSR_FAST_TWO_SUM(bh_, bl_, ah_, p_);                                      \
        TSR_FAST_TWO_SUM(eh_, el_, bh_, (al_ + bl_) + rl_);                       \
    } while (0)

#define TSR_SIGMOID_Q(F, I, K, SEL, AS_I, AS_F, PE, x, eh_, el_, n_, y)              \
    do {                                                                          \
        const F one_ = K(0x3F800000u);                                            \
        F tmp_, s1_, s2_, dh_, dl_, nh_, nl_, qh_, ph_, pl_;                      \
        I pos_ = (x) >= K(0), n1_;                                                \
        TSR_HALVES(n_, n1_);                                                      \
        s1_ = TSR_POW2(AS_F, n1_);                                                \
        s2_ = TSR_POW2(AS_F, (n_) - n1_);                                         \
        TSR_FAST_TWO_SUM(dh_, dl_, one_, ((eh_) * s1_) * s2_);                    \
        dl_ = dl_ + ((el_) * s1_) * s2_; /* dh + dl = 1 + e^-|x| */               \
        nh_ = SEL(pos_, one_, (eh_));                                             \
        nl_ = SEL(pos_, K(0), (el_));                                             \
        qh_ = nh_ / dh_;                                                          \
        ph_ = qh_ * dh_;                                                          \
        PE(F, K, pl_, qh_, dh_, ph_);                                             \
        tmp_ = (((nh_ - ph_) - pl_) + nl_) - qh_ * dl_;                           \
        qh_ = qh_ + tmp_ / dh_;                                                   \
        qh_ = SEL(pos_, qh_, (qh_ * s1_) * s2_);                                  \
        (y) = SEL((x) != (x), (x), qh_);                                          \
    } while (0)

#define TSR_SIGMOID_BODY(F, I, K, SEL, AS_I, AS_F, x, y)                          \
    do {                                                                          \
        F eh__, el__;                                                             \
        I n__;                                                                    \
        TSR_SIGMOID_E(F, I, K, SEL, AS_I, AS_F, x, eh__, el__, n__);              \
        TSR_SIGMOID_Q(F, I, K, SEL, AS_I, AS_F, TSR_DEKKER, x, eh__, el__, n__, y); \
    } while (0)

/* the scalar instantiation */
#define KS(bits) u2f(bits)
#define SELS(m, a, b) ((m) ? (a) : (b))
#define AS_IS(f) ((int32_t)f2u(f))
#define AS_FS(i) u2f((uint32_t)(i))

/* ---- SPEC 7.2 ---- */
float tsr_k_max1(float a, float b)
{
    if (is_nan(a))
        return a;
    if (is_nan(b))
        return b;
    if (a == b) /* +0/-0: -0 only when both are -0, i.e. AND of the bits */
        return u2f(f2u(a) & f2u(b));
    return a > b ? a : b;
}

float tsr_k_min1(float a, float b)
{
    if (is_nan(a))
        return a;
    if (is_nan(b))
        return b;
    if (a == b) /* +0 only when both are +0: OR of the bits */
        return u2f(f2u(a) | f2u(b));
    return a < b ? a : b;
}

/* ---- SPEC 7.3 Exp ---- */
float tsr_k_exp1(float x)
{
    float y;
    TSR_EXP_BODY(float, int32_t, KS, SELS, AS_IS, AS_FS, x, y);
    return y;
}

/* ---- SPEC 7.3 Log ---- */
float tsr_k_log1(float x)
{
    int sub = x < u2f(K_MIN_NORMAL) && x > 0.0f;
    float xs = sub ? x * u2f(K_TWO23) : x;
    uint32_t bits = f2u(xs);
    int32_t e = (int32_t)((bits >> 23) & 0xFFu) - 127 - (sub ? 23 : 0);
    float m = u2f((bits & 0x7FFFFFu) | 0x3F800000u);
    float f, z, y, fe, r;
    if (m > u2f(K_LOG_SQRT2)) {
        m = m * 0.5f;
        e = e + 1;
    }
    f = m - 1.0f;
    z = f * f;
    y = horner(k_log_q, 9, f);
    y = y * f;
    y = y * z;
    fe = (float)e; /* |e| < 2^24: exact */
    y = y + fe * u2f(K_LOG_LN2_LO);
    y = y - 0.5f * z;
    r = f + y;
    r = r + fe * u2f(K_LOG_LN2_HI);
    if (x == 0.0f)
        r = -u2f(0x7F800000u);
    if (x == u2f(0x7F800000u))
        r = x;
    if (x < 0.0f || is_nan(x))
        r = u2f(0x7FC00000u);
    return r;
}

/* ---- SPEC 7.3 Sigmoid ----
 * Forced inline into the array loop: too big for clang's inliner otherwise,
 * and an outlined call stops clang from vectorising the loop (wasm). */
#if defined(__GNUC__) || defined(__clang__)
#define TSR_INLINE static inline __attribute__((always_inline))
#else
#define TSR_INLINE static inline
#endif
TSR_INLINE float sigmoid_s(float x)
{
    float y;
    TSR_SIGMOID_BODY(float, int32_t, KS, SELS, AS_IS, AS_FS, x, y);
    return y;
}

float tsr_k_sigmoid1(float x)
{
    return sigmoid_s(x);
}

/* ---- SPEC 7.3 Tanh ---- */
float tsr_k_tanh1(float x)
{
    float a = u2f(f2u(x) & 0x7FFFFFFFu);
    if (x == 0.0f)
        return x; /* -0 stays -0, as in IEEE */
    if (a < u2f(K_TANH_SMALL)) {
        float s = x * x;
        float t = horner(k_tanh_t, 6, s);
        return x + x * (s * t);
    } else {
        float e = tsr_k_exp1(a * 2.0f);
        float y = 1.0f - 2.0f / (e + 1.0f);
        return u2f(f2u(y) | (f2u(x) & 0x80000000u)); /* y >= 0 or NaN */
    }
}

/* ---- SPEC 7.3 Softplus ---- */
float tsr_k_softplus1(float x)
{
    float e, u, c, l, base;
    if (is_nan(x))
        return x;
    e = tsr_k_exp1(-u2f(f2u(x) & 0x7FFFFFFFu));
    u = 1.0f + e;
    c = e - (u - 1.0f); /* rounding error of 1 + e, exactly */
    l = tsr_k_log1(u) + c / u;
    base = x > 0.0f ? x : 0.0f;
    return base + l;
}

/* ---- elementwise unary ---- */
void tsr_k_neg(const float *x, float *y, int32_t n)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = u2f(f2u(x[i]) ^ 0x80000000u);
}

void tsr_k_abs(const float *x, float *y, int32_t n)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = u2f(f2u(x[i]) & 0x7FFFFFFFu);
}

void tsr_k_sqrt(const float *x, float *y, int32_t n)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = TSR_SQRTF(x[i]);
}

void tsr_k_relu(const float *x, float *y, int32_t n)
{
    int32_t i = 0;
#if defined(TSR_K_DISPATCH) && TSR_SIMD
    /* Maximum(x, +0) without branches: x where x > 0 or NaN, else +0 (for
     * x == +-0 the AND of the bits with +0 is +0) */
    for (; i + MM_W <= n; i += MM_W) {
        tsr_vf v = VLOAD(x + i);
        VSTORE(y + i, (tsr_vf)((tsr_vi)v & ((v > (tsr_vf){0}) | (v != v))));
    }
#endif
    TSR_LOOP_SMALL for (; i < n; i++)
        y[i] = tsr_k_max1(x[i], 0.0f);
}

void tsr_k_clip(const float *x, float *y, int32_t n, float lo, float hi)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = tsr_k_min1(tsr_k_max1(x[i], lo), hi);
}

/* ---- Exp and Sigmoid four/eight (SSE, AVX, NEON), and in the x86-64
 * library eight (AVX2) and sixteen (AVX-512), at a time: the bodies above
 * on vectors, so the bits are the same. (clang vectorises the scalar loops
 * itself, gcc -O2 does not; wasm keeps clang's loops, which keeps the module
 * small.) ---- */
#if TSR_SIMD && !defined(__wasm__)
#define TSR_VEC_EXP 1
#define KV(bits) ((tsr_vf)((tsr_vi){0} + (int32_t)(bits)))
#define SELV(m, a, b) ((tsr_vf)(((tsr_vi)(a) & (m)) | ((tsr_vi)(b) & ~(m))))
#define AS_IV(f) ((tsr_vi)(f))
#define AS_FV(i) ((tsr_vf)(i))
static inline tsr_vf exp_v(tsr_vf x)
{
    tsr_vf y;
    TSR_EXP_BODY(tsr_vf, tsr_vi, KV, SELV, AS_IV, AS_FV, x, y);
    return y;
}

static inline tsr_vf sigmoid_v(tsr_vf x)
{
    tsr_vf y;
    TSR_SIGMOID_BODY(tsr_vf, tsr_vi, KV, SELV, AS_IV, AS_FV, x, y);
    return y;
}
#else
#define TSR_VEC_EXP 0
#endif

#if TSR_MM_WIDE
/* An array kernel y[i] = f(x[i]) on vectors of W floats (types VF/VI, U for
 * unaligned access), with the body BODY (TSR_EXP_BODY) and the scalar
 * function for the tail: the wide x86-64 paths. The explicit vzeroupper
 * before the tail: gcc 12 leaves it out before calls to functions of this
 * file (IPA-RA), so the SSE code of the tail, and the caller after the
 * return, would run with dirty upper halves (slow on Intel). */
#define TSR_VEC_ARRAY(FN, NAME, BODY, VF, VI, U, W, K, SEL, AS_I, AS_F, SCALAR) \
    FN void NAME(const float *x, float *y, int32_t n)                           \
    {                                                                           \
        int32_t i = 0;                                                          \
        for (; i + (W) <= n; i += (W)) {                                        \
            VF xv_ = VLOADT(U, x + i), yv_;                                     \
            BODY(VF, VI, K, SEL, AS_I, AS_F, xv_, yv_);                         \
            VSTORET(U, y + i, yv_);                                             \
        }                                                                       \
        _mm256_zeroupper();                                                     \
        for (; i < n; i++)                                                      \
            y[i] = SCALAR(x[i]);                                                \
    }

/* Sigmoid in blocks of up to SG_B vectors of W floats, each half of the
 * body (TSR_SIGMOID_E, TSR_SIGMOID_Q) as its own pass over the block: one
 * vector's whole chain of dependent operations (two divisions among them) is
 * longer than the core's window holds, and the passes give it independent
 * shorter chains to overlap (measured on Zen 4: 5% faster than two vectors
 * interleaved, and about half the code); two vectors per step of each pass
 * (the last one again when one is left), interleaved by gcc's scheduler
 * before register allocation (TSR_SCHED). PE computes the product error:
 * the fused multiply-subtract where the path has one (18% less time than
 * TSR_DEKKER on both wide paths). */
#if defined(__clang__)
#define TSR_SCHED
#else
#define TSR_SCHED __attribute__((optimize("schedule-insns")))
#endif
#define SG_B 8
#define TSR_SIGMOID_ARRAY(FN, NAME, VF, VI, U, W, K, SEL, AS_I, AS_F, PE)          \
    TSR_SCHED FN void NAME(const float *x, float *y, int32_t n)                 \
    {                                                                           \
        VF eh[SG_B], el[SG_B];                                                  \
        VI ne[SG_B];                                                            \
        int32_t i = 0, v, w, nv;                                                \
        while (i + (W) <= n) {                                                  \
            nv = (n - i) / (W) < SG_B ? (n - i) / (W) : SG_B;                   \
            for (v = 0; v < nv; v += 2) {                                       \
                VF xv = VLOADT(U, x + i + (W) * v), xw;                         \
                w = v + 1 < nv ? v + 1 : v;                                     \
                xw = VLOADT(U, x + i + (W) * w);                                \
                TSR_SIGMOID_E(VF, VI, K, SEL, AS_I, AS_F, xv, eh[v], el[v], ne[v]); \
                TSR_SIGMOID_E(VF, VI, K, SEL, AS_I, AS_F, xw, eh[w], el[w], ne[w]); \
            }                                                                   \
            for (v = 0; v < nv; v += 2) { /* x[j] read before y[j] is written */ \
                VF xv = VLOADT(U, x + i + (W) * v), yv, xw, yw;                 \
                w = v + 1 < nv ? v + 1 : v;                                     \
                xw = VLOADT(U, x + i + (W) * w);                                \
                TSR_SIGMOID_Q(VF, VI, K, SEL, AS_I, AS_F, PE, xv, eh[v], el[v], ne[v], yv); \
                TSR_SIGMOID_Q(VF, VI, K, SEL, AS_I, AS_F, PE, xw, eh[w], el[w], ne[w], yw); \
                VSTORET(U, y + i + (W) * w, yw);                                \
                VSTORET(U, y + i + (W) * v, yv);                                \
            }                                                                   \
            i += (W) * nv;                                                      \
        }                                                                       \
        _mm256_zeroupper();                                                     \
        for (; i < n; i++)                                                      \
            y[i] = tsr_k_sigmoid1(x[i]);                                        \
    }

#define KW(bits) ((tsr_wf)((tsr_wi){0} + (int32_t)(bits)))
#define SELW(m, a, b) ((tsr_wf)(((tsr_wi)(a) & (m)) | ((tsr_wi)(b) & ~(m))))
#define AS_IW(f) ((tsr_wi)(f))
#define AS_FW(i) ((tsr_wf)(i))
TSR_VEC_ARRAY(TSR_WIDE_FN, exp_wide, TSR_EXP_BODY, tsr_wf, tsr_wi, tsr_wfu, MW_W,
              KW, SELW, AS_IW, AS_FW, tsr_k_exp1)
/* the fused multiply-subtract of AVX-512F for the exact product error; two
 * vectors per step: 265 -> 246 us for 266,240 floats on Zen 4 */
#define TSR_FMS_W(F, K, pl, qh, dh, ph) \
    (pl = (tsr_wf)_mm512_fmsub_ps((__m512)(qh), (__m512)(dh), (__m512)(ph)))
TSR_SIGMOID_ARRAY(TSR_WIDE_FN, sigmoid_wide, tsr_wf, tsr_wi, tsr_wfu, MW_W, KW, SELW, AS_IW, AS_FW, TSR_FMS_W)
#endif

#if TSR_MM_AVX2
#define K8(bits) ((tsr_v8f)((tsr_v8i){0} + (int32_t)(bits)))
#define SEL8(m, a, b) ((tsr_v8f)(((tsr_v8i)(a) & (m)) | ((tsr_v8i)(b) & ~(m))))
#define AS_I8(f) ((tsr_v8i)(f))
#define AS_F8(i) ((tsr_v8f)(i))
TSR_VEC_ARRAY(TSR_AVX2_FN, exp_avx2, TSR_EXP_BODY, tsr_v8f, tsr_v8i, tsr_v8fu, 8,
              K8, SEL8, AS_I8, AS_F8, tsr_k_exp1)
/* FMA3 (every AVX2 CPU has it; the path requires both) for the exact product
 * error. Two vectors per step: 384 -> 347 us for 266,240 floats on Zen 4. */
#define TSR_FMS_8(F, K, pl, qh, dh, ph) \
    (pl = (tsr_v8f)_mm256_fmsub_ps((__m256)(qh), (__m256)(dh), (__m256)(ph)))
TSR_SIGMOID_ARRAY(TSR_AVX2_FMA_FN, sigmoid_avx2, tsr_v8f, tsr_v8i, tsr_v8fu, 8, K8, SEL8, AS_I8, AS_F8, TSR_FMS_8)
#endif

#if defined(TSR_K_DISPATCH)
/* The path to take now (TSR_K_PATH_*): forced by tsr_k_set_path, else the
 * widest the CPU has: AVX-512F, then AVX2, then the baseline ISA. */
static int32_t tsr_path(void)
{
    if (tsr_forced_path >= 0)
        return tsr_forced_path;
#if TSR_MM_WIDE
    if (TSR_HAVE_WIDE())
        return TSR_K_PATH_AVX512;
#endif
#if TSR_MM_AVX2
    if (TSR_HAVE_AVX2())
        return TSR_K_PATH_AVX2;
#endif
    return TSR_K_PATH_BASE;
}

/* Whether this build and CPU have the path. */
static int32_t tsr_path_ok(int32_t path)
{
    switch (path) {
    case TSR_K_PATH_BASE:
        return 1;
#if TSR_MM_WIDE
    case TSR_K_PATH_AVX512:
        return TSR_HAVE_WIDE() ? 1 : 0;
#endif
#if TSR_MM_AVX2
    case TSR_K_PATH_AVX2:
        return TSR_HAVE_AVX2() ? 1 : 0;
#endif
    default:
        return 0;
    }
}

int32_t tsr_k_set_path(int32_t path)
{
    if (path != -1 && !tsr_path_ok(path))
        return 0;
    tsr_forced_path = path;
    return 1;
}

/* Exp / Sigmoid on a wide path; 0 for the baseline path (the caller's loop). */
static int32_t exp_fast(const float *x, float *y, int32_t n, int32_t path, int sig)
{
    switch (path) {
#if TSR_MM_WIDE
    case TSR_K_PATH_AVX512:
        if (sig)
            sigmoid_wide(x, y, n);
        else
            exp_wide(x, y, n);
        return 1;
#endif
#if TSR_MM_AVX2
    case TSR_K_PATH_AVX2:
        if (sig)
            sigmoid_avx2(x, y, n);
        else
            exp_avx2(x, y, n);
        return 1;
#endif
    default:
        (void)x, (void)y, (void)n, (void)sig;
        return 0;
    }
}
#endif

void tsr_k_exp(const float *x, float *y, int32_t n)
{
    int32_t i = 0;
#if defined(TSR_K_DISPATCH)
    if (exp_fast(x, y, n, tsr_path(), 0))
        return;
#elif TSR_MM_WIDE
    if (TSR_HAVE_WIDE()) {
        exp_wide(x, y, n);
        return;
    }
#endif
#if TSR_VEC_EXP
    for (; i + MM_W <= n; i += MM_W)
        VSTORE(y + i, exp_v(VLOAD(x + i)));
#endif
    for (; i < n; i++)
        y[i] = tsr_k_exp1(x[i]);
}

void tsr_k_log(const float *x, float *y, int32_t n)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = tsr_k_log1(x[i]);
}

void tsr_k_sigmoid(const float *x, float *y, int32_t n)
{
    int32_t i = 0;
#if defined(TSR_K_DISPATCH)
    if (exp_fast(x, y, n, tsr_path(), 1))
        return;
#elif TSR_MM_WIDE
    if (TSR_HAVE_WIDE()) {
        sigmoid_wide(x, y, n);
        return;
    }
#endif
#if TSR_VEC_EXP
    for (; i + MM_W <= n; i += MM_W)
        VSTORE(y + i, sigmoid_v(VLOAD(x + i)));
    for (; i < n; i++) /* the tail: a call, not a second inlined copy */
        y[i] = tsr_k_sigmoid1(x[i]);
#else
    for (; i < n; i++)
        y[i] = sigmoid_s(x[i]);
#endif
}

void tsr_k_tanh(const float *x, float *y, int32_t n)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = tsr_k_tanh1(x[i]);
}

void tsr_k_softplus(const float *x, float *y, int32_t n)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = tsr_k_softplus1(x[i]);
}

TSR_NOLIBC void tsr_k_copy(const float *x, float *y, int32_t n)
{
    int32_t i;
    if (x == y)
        return;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = x[i];
}

/* ---- SPEC 7.10 Pow: log2 and exp2 in binary64, one rounding to binary32 ----
 * Left out of two builds, where tsr_k_pow1 is then not defined and
 * TSR_K_POW writes nothing:
 *  - wasm: the JS runtime runs its plain kernel for Pow under both backends
 *    (the same bits), which keeps the wasm module, and the JS import graph's
 *    size budget, as they were;
 *  - TSR_K_NO_POW defined: the generated embedded C of a model without Pow
 *    defines it, so that model does not link this binary64 code (nor, on a
 *    single-precision FPU, the compiler's software double routines) through
 *    the Pow case of tsr_k_binary_flat. */
#if !defined(__wasm__) && !defined(TSR_K_NO_POW)
#define TSR_K_HAS_POW 1
#else
#define TSR_K_HAS_POW 0
#endif
#if TSR_K_HAS_POW

typedef union {
    double d;
    uint64_t u;
} tsr_bits64;

static inline double tsr_u2d(uint64_t u)
{
    tsr_bits64 b;
    b.u = u;
    return b.d;
}

/* K/21, K/19, .., K/3 with K = 2/ln 2 (Horner order) */
static const uint64_t k_pow_l[10] = {
    0x3FC1964EC6FC9491u, 0x3FC3703C1F4D0FFEu, 0x3FC5B9AC9B743F0Du, 0x3FC89F3B1694CFFEu,
    0x3FCC68F568D31760u, 0x3FD0C9A84994022Du, 0x3FD484B13D7C02A9u, 0x3FDA61762A7ADED9u,
    0x3FE2776C50EF9BFEu, 0x3FEEC709DC3A03FDu};
/* (ln 2)^j / j!, j = 13 .. 0 */
static const uint64_t k_pow_e[14] = {
    0x3D7816193166D0F9u, 0x3DBC3BD650FC2986u, 0x3DFE8CAC7351BB25u, 0x3E3E4CF5158B8ECAu,
    0x3E7B5253D395E7C4u, 0x3EB62C0223A5C824u, 0x3EEFFCBFC588B0C7u, 0x3F2430912F86C787u,
    0x3F55D87FE78A6731u, 0x3F83B2AB6FBA4E77u, 0x3FAC6B08D704A0C0u, 0x3FCEBFBDFF82C58Fu,
    0x3FE62E42FEFA39EFu, 0x3FF0000000000000u};
#define K_POW_K 0x40071547652B82FEu     /* 2 / ln 2 */
#define K_POW_MAGIC 0x4338000000000000u /* 1.5 * 2^52 */

static double horner64(const uint64_t *c, int n, double t)
{
    double acc = tsr_u2d(c[0]);
    int i;
    for (i = 1; i < n; i++)
        acc = acc * t + tsr_u2d(c[i]);
    return acc;
}

TSR_LIB_COLD float tsr_k_pow1(float x, float y)
{
    const float inf = u2f(0x7F800000u);
    uint32_t uy = f2u(y);
    int32_t ey = (int32_t)((uy >> 23) & 0xFFu) - 127;
    int integer, odd, neg, sub, e;
    float a, m;
    uint32_t bits;
    double M, S, Z, Q, L, T, N, R, P, V;
    float r;

    if (y == 0.0f || x == 1.0f)
        return 1.0f;
    if (x != x || y != y)
        return x + y;
    a = x < 0.0f ? -x : x;
    if (y == inf || y == -inf) {
        if (a == 1.0f)
            return 1.0f;
        return (a < 1.0f) == (y < 0.0f) ? inf : 0.0f;
    }
    /* y finite, nonzero: integer / odd from its bits */
    if (ey < 0) {
        integer = 0;
        odd = 0;
    } else if (ey >= 23) {
        integer = 1;
        odd = ey == 23 && (uy & 1u);
    } else {
        integer = (uy & (0x7FFFFFu >> ey)) == 0;
        odd = integer && ((uy >> (23 - ey)) & 1u);
    }
    neg = (f2u(x) >> 31) && odd; /* -0 and -inf included */
    if (a == 0.0f) {
        if (y < 0.0f)
            return neg ? -inf : inf;
        return neg ? -0.0f : 0.0f;
    }
    if (a == inf) {
        if (y < 0.0f)
            return neg ? -0.0f : 0.0f;
        return neg ? -inf : inf;
    }
    if (x < 0.0f && !integer)
        return u2f(0x7FC00000u);
    sub = a < u2f(K_MIN_NORMAL);
    if (sub)
        a = a * u2f(K_TWO23);
    bits = f2u(a);
    e = (int32_t)((bits >> 23) & 0xFFu) - 127 - (sub ? 23 : 0);
    m = u2f((bits & 0x7FFFFFu) | 0x3F800000u);
    if (m > u2f(K_LOG_SQRT2)) {
        m = m * 0.5f;
        e = e + 1;
    }
    M = (double)m;
    S = (M - 1.0) / (M + 1.0);
    Z = S * S;
    Q = horner64(k_pow_l, 10, Z);
    L = S * tsr_u2d(K_POW_K) + (S * Z) * Q;
    L = (double)e + L;
    T = (double)y * L;
    T = T < -200.0 ? -200.0 : T > 200.0 ? 200.0 : T;
    N = (T + tsr_u2d(K_POW_MAGIC)) - tsr_u2d(K_POW_MAGIC);
    R = T - N;
    P = horner64(k_pow_e, 14, R);
    V = P * tsr_u2d((uint64_t)((int32_t)N + 1023) << 52);
    r = (float)V;
    return neg ? -r : r;
}
#endif /* TSR_K_HAS_POW */

/* ---- binary, broadcasting ---- */

/* One loop per (op, stride pattern) so the common contiguous cases are
 * simple loops the compiler vectorises. The library (below) runs the dense
 * + - * / by vectors first and keeps only the strided loop per op, for the
 * tails, strides above 1 and the other ops (the CLI's text budget). */
#if defined(TSR_K_DISPATCH) && TSR_SIMD
#define TSR_BIN_LOOPS(EXPR)                                                  \
    TSR_LOOP_SMALL for (i = 0; i < n; i++) {                                 \
        float av = a[(ptrdiff_t)i * sa], bv = b[(ptrdiff_t)i * sb];          \
        y[i] = EXPR;                                                         \
    }
#else
#define TSR_BIN_LOOPS(EXPR)                                                  \
    do {                                                                     \
        if (sa == 1 && sb == 1) {                                            \
            TSR_LOOP_SMALL for (i = 0; i < n; i++) {                                        \
                float av = a[i], bv = b[i];                                  \
                y[i] = EXPR;                                                 \
            }                                                                \
        } else if (sa == 1 && sb == 0) {                                     \
            float bv = b[0];                                                 \
            TSR_LOOP_SMALL for (i = 0; i < n; i++) {                                        \
                float av = a[i];                                             \
                y[i] = EXPR;                                                 \
            }                                                                \
        } else if (sa == 0 && sb == 1) {                                     \
            float av = a[0];                                                 \
            TSR_LOOP_SMALL for (i = 0; i < n; i++) {                                        \
                float bv = b[i];                                             \
                y[i] = EXPR;                                                 \
            }                                                                \
        } else {                                                             \
            TSR_LOOP_SMALL for (i = 0; i < n; i++) {                                        \
                float av = a[(ptrdiff_t)i * sa], bv = b[(ptrdiff_t)i * sb];  \
                y[i] = EXPR;                                                 \
            }                                                                \
        }                                                                    \
    } while (0)
#endif

#if defined(TSR_K_DISPATCH) && TSR_SIMD
/* The library: + - * / over whole vectors where the operands are dense or
 * one repeated value (sa, sb 0 or 1), each lane the same single operation;
 * returns the elements done (gcc -O2 leaves the loops below scalar: y may
 * alias an operand). */
static int32_t bin_vec(int32_t op, const float *a, const float *b, float *y, int32_t n, int32_t sa,
                       int32_t sb)
{
    int32_t i = 0;
    tsr_vf a0 = a[0] - (tsr_vf){0}, b0 = b[0] - (tsr_vf){0}, u, v; /* x - +0 keeps -0; +0 + x would not */
    if (op > TSR_K_DIV || sa > 1 || sb > 1)
        return 0;
    for (; i + MM_W <= n; i += MM_W) {
        u = sa ? (tsr_vf)VLOAD(a + i) : a0;
        v = sb ? (tsr_vf)VLOAD(b + i) : b0;
        VSTORE(y + i, op == TSR_K_ADD ? u + v : op == TSR_K_SUB ? u - v : op == TSR_K_MUL ? u * v : u / v);
    }
    return i;
}
#endif

/* y[i] = a[i*sa] op b[i*sb]; sa, sb any non-negative element strides. */
TSR_NOLIBC void tsr_k_binary_flat(int32_t op, const float *a, const float *b, float *y,
                       int32_t n, int32_t sa, int32_t sb)
{
    int32_t i;
#if defined(TSR_K_DISPATCH) && TSR_SIMD
    if (n >= MM_W) {
        i = bin_vec(op, a, b, y, n, sa, sb);
        a += (ptrdiff_t)i * sa, b += (ptrdiff_t)i * sb, y += i, n -= i;
    }
#endif
    switch (op) {
    case TSR_K_ADD: TSR_BIN_LOOPS(av + bv); break;
    case TSR_K_SUB: TSR_BIN_LOOPS(av - bv); break;
    case TSR_K_MUL: TSR_BIN_LOOPS(av * bv); break;
    case TSR_K_DIV: TSR_BIN_LOOPS(av / bv); break;
    case TSR_K_MAX: TSR_BIN_LOOPS(tsr_k_max1(av, bv)); break;
    case TSR_K_MIN: TSR_BIN_LOOPS(tsr_k_min1(av, bv)); break;
#if TSR_K_HAS_POW
    case TSR_K_POW: TSR_BIN_LOOPS(tsr_k_pow1(av, bv)); break;
#endif
    default: break;
    }
}

TSR_NOLIBC void tsr_k_binary(int32_t op, const float *a, const float *b, float *y,
                  int32_t rank, const int32_t *shape,
                  const int32_t *sa, const int32_t *sb)
{
    int32_t dims[TSR_K_MAX_RANK], as[TSR_K_MAX_RANK], bs[TSR_K_MAX_RANK];
    int32_t idx[TSR_K_MAX_RANK];
    int32_t r = 0, d, inner;
    ptrdiff_t ao = 0, bo = 0, yo = 0;

    if (rank > TSR_K_MAX_RANK)
        return;
    /* Drop size-1 dims and merge a dim into the previous kept one when both
     * operands step through them as one contiguous run. */
    for (d = 0; d < rank; d++) {
        if (shape[d] == 1)
            continue;
        if (r > 0 && as[r - 1] == sa[d] * shape[d] && bs[r - 1] == sb[d] * shape[d]) {
            dims[r - 1] *= shape[d];
            as[r - 1] = sa[d];
            bs[r - 1] = sb[d];
            continue;
        }
        dims[r] = shape[d];
        as[r] = sa[d];
        bs[r] = sb[d];
        r++;
    }
    for (d = 0; d < rank; d++)
        if (shape[d] == 0)
            return;
    if (r == 0) {
        tsr_k_binary_flat(op, a, b, y, 1, 0, 0);
        return;
    }
    inner = dims[r - 1];
    for (d = 0; d < r; d++)
        idx[d] = 0;
    for (;;) {
        tsr_k_binary_flat(op, a + ao, b + bo, y + yo, inner, as[r - 1], bs[r - 1]);
        yo += inner;
        /* odometer over the outer dims */
        for (d = r - 2; d >= 0; d--) {
            idx[d]++;
            ao += as[d];
            bo += bs[d];
            if (idx[d] < dims[d])
                break;
            ao -= (ptrdiff_t)as[d] * dims[d];
            bo -= (ptrdiff_t)bs[d] * dims[d];
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

/* ---- MatMul (SPEC 7.1) ---- */

/* Generic path: one element at a time, k in order, any strides. Used for a
 * transposed B, for column tails, and as the whole kernel without SIMD.
 * A'[i,k] = a[i*sai + k*sak], B'[k,j] = b[k*sbk + j*sbj]. */
TSR_NOLIBC static void mm_generic(const float *a, const float *b, float *c, int32_t m,
                                  int32_t k, int32_t n, ptrdiff_t sai, ptrdiff_t sak,
                                  ptrdiff_t sbk, ptrdiff_t sbj, int32_t j0)
{
    int32_t i, j, kk;
    for (i = 0; i < m; i++) {
        for (j = j0; j < n; j++) {
            float acc = 0.0f;
            TSR_LOOP_SMALL for (kk = 0; kk < k; kk++) {
                float av = a[i * sai + kk * sak];
                if (av == 0.0f)
                    continue;
                acc = acc + av * b[kk * sbk + j * sbj];
            }
            c[(ptrdiff_t)i * n + j] = acc;
        }
    }
}

/* SIMD path (B not transposed), where the target has real SIMD registers.
 * Rows are taken MM_R at a time and k in chunks of MM_KC. For each row of
 * the panel the nonzero A'[i,k] of the chunk are gathered (without
 * branches) into a list of (offset of B row k, a value), in increasing k.
 * Then for each strip of MM_NV vectors of columns, each row runs over its
 * list with MM_NV accumulators in registers: every element adds its terms
 * in increasing k, starting from +0.0 (chunk 0) or from the partial sum the
 * previous chunk stored in C (a float stored and reloaded is the same float,
 * so splitting k this way changes no bit); zero terms are never visited,
 * which is the skip of SPEC 7.1 (exact also for inf/NaN in B). The strip of B
 * stays in cache while the rows of the panel reuse it. A panel of fewer than
 * MM_R rows (batch 1 to 3, or the last rows) reuses nothing: its chunks are
 * cut to about 16 terms of its densest row (16 to MM_KC k), so that the next
 * chunk's rows of B are read across all the strips, in memory order, instead
 * of each strip walking down all of k (1x256x784, SSE2 on Zen 4: 19.8 ->
 * 13.4 us; the wasm build 23.4 -> 21.1 us). */
#if TSR_SIMD
/* accumulators per row: 8 vectors fit 16 registers; in the wasm build 6, since
 * V8 then spills one of 8 to the stack, a store and load on every term's
 * chain (1x256x784 in Node: 21.7 -> 16.2 us with 6) */
#if defined(__wasm__)
#define MM_NV 6
#else
#define MM_NV 8
#endif
#define MM_R 4    /* rows per panel */
#define MM_KC 256 /* k per chunk */

/* The code is written once, as a macro over the vector type VF (U for
 * unaligned access) of W floats, the function prefix FN (static, or static
 * with a target attribute) and a name suffix SFX: instantiated below for
 * tsr_vf (the baseline ISA: SSE2, AVX under -mavx, wasm simd128, NEON) and,
 * in the x86-64 library, for 8-wide vectors under target("avx2"), whose
 * strips serve mm_list_avx2 (its mm_simd, marked unused, is dropped). ZU is
 * empty or a macro for an expression with a trailing comma, evaluated before
 * the scalar column tail. DQ is 1 to run mm_quad2 on dense panels, 0 where
 * the packed kernel (mm_pack_avx2) takes dense operands instead.
 *
 * mm_strip: c[0, 0 .. MM_NV*W-1] (+)= the terms of the list, MM_NV
 * accumulators in registers (written out, the last two under MM_NV > 6 and
 * > 7: compilers keep an array of vectors in memory).
 * mm_strip1: the same for one vector of columns.
 * mm_quad2: four dense rows (no zero in the chunk) x two vectors of columns:
 * the two B loads of each k serve all four rows. x[r][t] is A'[i0+r, k0+t]. */
#define TSR_MM_SIMD_DEFINE(FN, SFX, VF, U, W, ZU, DQ)                                          \
    FN void mm_strip##SFX(const float *b, float *c, const int32_t *off,                        \
                          const float *av, int32_t cnt, int first)                             \
    {                                                                                          \
        VF c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0}, c6 = {0}, c7 = {0};     \
        int32_t t;                                                                             \
        if (!first) {                                                                          \
            c0 = VLOADT(U, c);                                                                 \
            c1 = VLOADT(U, c + W);                                                             \
            c2 = VLOADT(U, c + 2 * W);                                                         \
            c3 = VLOADT(U, c + 3 * W);                                                         \
            c4 = VLOADT(U, c + 4 * W);                                                         \
            c5 = VLOADT(U, c + 5 * W);                                                         \
            if (MM_NV > 6) c6 = VLOADT(U, c + 6 * W);                                          \
            if (MM_NV > 7) c7 = VLOADT(U, c + 7 * W);                                          \
        }                                                                                      \
        for (t = 0; t < cnt; t++) {                                                            \
            const float *bp = b + off[t];                                                      \
            float x = av[t];                                                                   \
            c0 = c0 + x * VLOADT(U, bp);                                                       \
            c1 = c1 + x * VLOADT(U, bp + W);                                                   \
            c2 = c2 + x * VLOADT(U, bp + 2 * W);                                               \
            c3 = c3 + x * VLOADT(U, bp + 3 * W);                                               \
            c4 = c4 + x * VLOADT(U, bp + 4 * W);                                               \
            c5 = c5 + x * VLOADT(U, bp + 5 * W);                                               \
            if (MM_NV > 6) c6 = c6 + x * VLOADT(U, bp + 6 * W);                                \
            if (MM_NV > 7) c7 = c7 + x * VLOADT(U, bp + 7 * W);                                \
        }                                                                                      \
        VSTORET(U, c, c0);                                                                     \
        VSTORET(U, c + W, c1);                                                                 \
        VSTORET(U, c + 2 * W, c2);                                                             \
        VSTORET(U, c + 3 * W, c3);                                                             \
        VSTORET(U, c + 4 * W, c4);                                                             \
        VSTORET(U, c + 5 * W, c5);                                                             \
        if (MM_NV > 6) VSTORET(U, c + 6 * W, c6);                                              \
        if (MM_NV > 7) VSTORET(U, c + 7 * W, c7);                                              \
    }                                                                                          \
                                                                                               \
    FN void mm_strip1##SFX(const float *b, float *c, const int32_t *off,                       \
                           const float *av, int32_t cnt, int first)                            \
    {                                                                                          \
        VF c0 = {0};                                                                           \
        int32_t t;                                                                             \
        if (!first)                                                                            \
            c0 = VLOADT(U, c);                                                                 \
        for (t = 0; t < cnt; t++)                                                              \
            c0 = c0 + av[t] * VLOADT(U, b + off[t]);                                           \
        VSTORET(U, c, c0);                                                                     \
    }                                                                                          \
                                                                                               \
    __attribute__((unused)) FN void mm_quad2##SFX(const float *b, float *c, int32_t n,         \
                                                  const float (*x)[MM_KC], int32_t kc, int first) \
    {                                                                                          \
        VF a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0}, d0 = {0}, d1 = {0}, e0 = {0}, e1 = {0};     \
        const float *bp = b;                                                                   \
        int32_t t;                                                                             \
        if (!first) {                                                                          \
            a0 = VLOADT(U, c);                                                                 \
            a1 = VLOADT(U, c + W);                                                             \
            b0 = VLOADT(U, c + n);                                                             \
            b1 = VLOADT(U, c + n + W);                                                         \
            d0 = VLOADT(U, c + 2 * n);                                                         \
            d1 = VLOADT(U, c + 2 * n + W);                                                     \
            e0 = VLOADT(U, c + 3 * n);                                                         \
            e1 = VLOADT(U, c + 3 * n + W);                                                     \
        }                                                                                      \
        for (t = 0; t < kc; t++, bp += n) {                                                    \
            VF v0 = VLOADT(U, bp), v1 = VLOADT(U, bp + W);                                     \
            float x0 = x[0][t], x1 = x[1][t], x2 = x[2][t], x3 = x[3][t];                      \
            a0 = a0 + x0 * v0;                                                                 \
            a1 = a1 + x0 * v1;                                                                 \
            b0 = b0 + x1 * v0;                                                                 \
            b1 = b1 + x1 * v1;                                                                 \
            d0 = d0 + x2 * v0;                                                                 \
            d1 = d1 + x2 * v1;                                                                 \
            e0 = e0 + x3 * v0;                                                                 \
            e1 = e1 + x3 * v1;                                                                 \
        }                                                                                      \
        VSTORET(U, c, a0);                                                                     \
        VSTORET(U, c + W, a1);                                                                 \
        VSTORET(U, c + n, b0);                                                                 \
        VSTORET(U, c + n + W, b1);                                                             \
        VSTORET(U, c + 2 * n, d0);                                                             \
        VSTORET(U, c + 2 * n + W, d1);                                                         \
        VSTORET(U, c + 3 * n, e0);                                                             \
        VSTORET(U, c + 3 * n + W, e1);                                                         \
    }                                                                                          \
                                                                                               \
    __attribute__((unused)) TSR_NOLIBC FN void mm_simd##SFX(const float *a, const float *b,   \
                                                            float *c, int32_t m,               \
                                    int32_t k, int32_t n, ptrdiff_t sai, ptrdiff_t sak)        \
    {                                                                                          \
        int32_t off[MM_R][MM_KC], cnt[MM_R];                                                   \
        float av[MM_R][MM_KC];                                                                 \
        int32_t i0, k0, r, rows, kc, kk, j, kcm, most;                                         \
        for (i0 = 0; i0 < m; i0 += MM_R) {                                                     \
            rows = m - i0 < MM_R ? m - i0 : MM_R;                                              \
            kcm = MM_KC;                                                                       \
            if (rows < MM_R) { /* chunks of about 16 terms: see above */                        \
                most = 1;                                                                      \
                for (r = 0; r < rows; r++) {                                                   \
                    int32_t nz = 0;                                                            \
                    for (kk = 0; kk < k; kk++)                                                 \
                        nz += a[(i0 + r) * sai + kk * sak] != 0.0f;                            \
                    most = nz > most ? nz : most;                                              \
                }                                                                              \
                kcm = (int32_t)(16 * (int64_t)k / most);                                       \
                kcm = kcm < 16 ? 16 : kcm > MM_KC ? MM_KC : kcm;                               \
            }                                                                                  \
            for (k0 = 0; k0 < k || k0 == 0; k0 += kcm) {                                       \
                int first = k0 == 0;                                                           \
                kc = k - k0 < kcm ? k - k0 : kcm;                                              \
                for (r = 0; r < rows; r++) {                                                   \
                    const float *ap = a + (i0 + r) * sai + k0 * sak;                           \
                    int32_t t = 0;                                                             \
                    for (kk = 0; kk < kc; kk++) {                                              \
                        float x = ap[kk * sak];                                                \
                        off[r][t] = (k0 + kk) * n;                                             \
                        av[r][t] = x;                                                          \
                        t += x != 0.0f;                                                        \
                    }                                                                          \
                    cnt[r] = t;                                                                \
                }                                                                              \
                j = 0;                                                                         \
                if ((DQ) && rows == MM_R && cnt[0] == kc && cnt[1] == kc && cnt[2] == kc &&      \
                    cnt[3] == kc)                                                              \
                    for (; j + 2 * W <= n; j += 2 * W)                                         \
                        mm_quad2##SFX(b + (ptrdiff_t)k0 * n + j, c + (ptrdiff_t)i0 * n + j, n, \
                                      (const float(*)[MM_KC])av, kc, first);                   \
                for (; j + MM_NV * W <= n; j += MM_NV * W)                                     \
                    for (r = 0; r < rows; r++)                                                 \
                        mm_strip##SFX(b + j, c + (ptrdiff_t)(i0 + r) * n + j, off[r], av[r],   \
                                      cnt[r], first);                                          \
                for (; j + W <= n; j += W)                                                     \
                    for (r = 0; r < rows; r++)                                                 \
                        mm_strip1##SFX(b + j, c + (ptrdiff_t)(i0 + r) * n + j, off[r], av[r],  \
                                       cnt[r], first);                                         \
            }                                                                                  \
            if (j < n)                                                                         \
                ZU mm_generic(a + i0 * sai, b, c + (ptrdiff_t)i0 * n, rows, k, n, sai, sak, n, 1, j); \
        }                                                                                      \
    }

TSR_MM_SIMD_DEFINE(static, , tsr_vf, tsr_vfu, MM_W, , 1)
#if TSR_MM_AVX2
/* vzeroupper before the SSE column tail (see TSR_VEC_ARRAY) */
#define TSR_ZU256 _mm256_zeroupper(),
TSR_MM_SIMD_DEFINE(TSR_AVX2_FN, _avx2, tsr_v8f, tsr_v8fu, 8, TSR_ZU256, 0)
#endif
#endif

/* x86-64 wide path (AVX-512F, 16 floats per vector, 32 registers), compiled
 * with a target attribute and picked at run time when the library is built
 * with TSR_K_DISPATCH (runtimes/c/Makefile), or always under -mavx512f.
 * Same scheme as mm_simd (per-row nonzero lists in increasing k, chunks of
 * k whose partial sums go through C), with panels of 8 rows and the lists
 * built 16 terms at a time; dense operands take the packed kernel
 * (mm_pack_avx2) instead. Mul and add stay separate instructions (no FMA is
 * enabled in the target, and -ffp-contract=off). Never seen by the wasm
 * build. */
#if TSR_MM_WIDE

/* One row over its list, 8 vectors (128 columns). */
TSR_WIDE_FN void mw_strip8(const float *b, float *c, const int32_t *off,
                           const float *av, int32_t cnt, int first)
{
#define MW_V8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define MW_S_DECL(v) tsr_wf q##v = {0};
#define MW_S_LOAD(v) q##v = WLOAD(c + v * MW_W);
#define MW_S_STEP(v) q##v = q##v + x * WLOAD(bp + v * MW_W);
#define MW_S_STORE(v) WSTORE(c + v * MW_W, q##v);
    MW_V8(MW_S_DECL)
    int32_t t;
    if (!first) {
        MW_V8(MW_S_LOAD)
    }
    for (t = 0; t < cnt; t++) {
        const float *bp = b + off[t];
        float x = av[t];
        MW_V8(MW_S_STEP)
    }
    MW_V8(MW_S_STORE)
}

/* One row over its list, the columns of mask mk of 1 vector (masked loads
 * and store: a narrow product, e.g. 10 classes, or the last columns, stays
 * in vectors; lanes outside mk are not read). */
TSR_WIDE_FN void mw_strip1(const float *b, float *c, const int32_t *off,
                           const float *av, int32_t cnt, int first, __mmask16 mk)
{
    tsr_wf q0 = {0};
    int32_t t;
    if (!first)
        q0 = (tsr_wf)_mm512_maskz_loadu_ps(mk, c);
    for (t = 0; t < cnt; t++)
        q0 = q0 + av[t] * (tsr_wf)_mm512_maskz_loadu_ps(mk, b + off[t]);
    _mm512_mask_storeu_ps(c, mk, (__m512)q0);
}

TSR_WIDE_FN TSR_NOLIBC void mm_wide(const float *a, const float *b, float *c, int32_t m,
                                    int32_t k, int32_t n, ptrdiff_t sai, ptrdiff_t sak)
{
    int32_t off[MW_R][MW_KCP], cnt[MW_R];
    float av[MW_R][MW_KCP];
    int32_t i0, k0, r, rows, kc, kk, j = 0;
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i vn = _mm512_mullo_epi32(iota, _mm512_set1_epi32(n)), step = _mm512_set1_epi32(MW_W * n);
    /* chunks of k outermost: a chunk of B (MW_KC rows) is read by every
     * panel of rows while it is in L2 (the partial sums go through C) */
    for (k0 = 0; k0 < k || k0 == 0; k0 += MW_KC) {
        int first = k0 == 0;
        kc = k - k0 < MW_KC ? k - k0 : MW_KC;
        for (i0 = 0; i0 < m; i0 += MW_R) {
            rows = m - i0 < MW_R ? m - i0 : MW_R;
            for (r = 0; r < rows; r++) {
                const float *ap = a + (i0 + r) * sai + k0 * sak;
                int32_t t = 0;
                kk = 0;
                if (sak == 1) {
                    /* 16 at a time: the nonzero values (NaN included) and
                     * their B offsets, compressed in order */
                    __m512i vo = _mm512_add_epi32(vn, _mm512_set1_epi32(k0 * n));
                    for (; kk + MW_W <= kc; kk += MW_W) {
                        __m512 x = _mm512_loadu_ps(ap + kk);
                        __mmask16 nz = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NEQ_UQ);
                        _mm512_storeu_ps(&av[r][t], _mm512_maskz_compress_ps(nz, x));
                        _mm512_storeu_si512((void *)&off[r][t], _mm512_maskz_compress_epi32(nz, vo));
                        t += __builtin_popcount((unsigned)nz);
                        vo = _mm512_add_epi32(vo, step);
                    }
                }
                for (; kk < kc; kk++) {
                    float x = ap[kk * sak];
                    off[r][t] = (k0 + kk) * n;
                    av[r][t] = x;
                    t += x != 0.0f;
                }
                cnt[r] = t;
            }
            j = 0;
            for (; j + 8 * MW_W <= n; j += 8 * MW_W)
                for (r = 0; r < rows; r++)
                    mw_strip8(b + j, c + (ptrdiff_t)(i0 + r) * n + j, off[r], av[r], cnt[r], first);
            for (; j < n; j += MW_W) {
                __mmask16 mk = (__mmask16)(n - j >= MW_W ? 0xFFFFu : (1u << (n - j)) - 1u);
                for (r = 0; r < rows; r++)
                    mw_strip1(b + j, c + (ptrdiff_t)(i0 + r) * n + j, off[r], av[r], cnt[r], first, mk);
            }
        }
    }
    _mm256_zeroupper(); /* see TSR_VEC_ARRAY */
}
#endif

#if TSR_MM_AVX2
/* One row over its list, the columns of mask mk of 1 vector (as mw_strip1). */
TSR_AVX2_FN void mm_strip1m_avx2(const float *b, float *c, const int32_t *off, const float *av,
                                 int32_t cnt, int first, __m256i mk)
{
    tsr_v8f q0 = {0};
    int32_t t;
    if (!first)
        q0 = (tsr_v8f)_mm256_maskload_ps(c, mk);
    for (t = 0; t < cnt; t++)
        q0 = q0 + av[t] * (tsr_v8f)_mm256_maskload_ps(b + off[t], mk);
    _mm256_maskstore_ps(c, mk, (__m256)q0);
}

/* The compress permutation of 8 floats by their nonzero mask m: entry m
 * holds, 3 bits each from bit 0, the lanes of m's set bits in increasing
 * order, and their count in bits 24..27. Built at load time (1 KB of bss
 * instead of 1 KB of text); a product called before that (from another
 * constructor) finds entry 255 still 0 and takes the baseline path. */
static uint32_t ml_pack8[256];
__attribute__((constructor)) static void ml_pack8_init(void)
{
    uint32_t m, i, t, e;
    for (m = 0; m < 256; m++) {
        for (i = t = e = 0; i < 8; i++)
            if (m >> i & 1)
                e |= i << 3 * t++;
        ml_pack8[m] = e | t << 24;
    }
}

/* The AVX2 path's sparse MatMul: per-row lists of the nonzero terms in
 * chunks of MW_KC k (outermost; partial sums go through C), the AVX2 strips
 * above (64 columns). The lists of a chunk share one pool: a group takes
 * rows while the pool has room for another whole list (at least ML_G rows,
 * since a list holds at most MW_KCP entries; at most ML_RMAX), so sparse rows
 * make long groups. When n is a multiple of 128 and ML_G or more rows are
 * left, each strip's B'[k0.., j..j+63] is first copied into a contiguous
 * block that the group's rows then read from L1: read in place, rows of B a
 * multiple of 512 bytes apart fall into a quarter or less of L1's sets and
 * evict each other, and the strips wait on L2 (measured on Zen 4,
 * 256x784x256 at 20% nonzero: 466 us against 583; for other n the copy costs
 * more than it saves). Long groups copy each block fewer times (the AE's
 * 256 rows at 20% nonzero as one group: 377 -> 342 us). A list entry is the
 * nonzero value and its row's offset in the block (ld = 64) or in B
 * (ld = n). The lists are built 8 terms at a time without AVX-512's
 * compress: one permute by the lanes ml_pack8 gives for the nonzero mask
 * (425 -> 377 us against two 4-lane permutes from a 16-entry table). */
#define ML_G 64
#define ML_POOL (ML_G * MW_KCP)
#define ML_RMAX 256
TSR_AVX2_FN TSR_NOLIBC void mm_list_avx2(const float *a, const float *b, float *c, int32_t m,
                                         int32_t k, int32_t n, ptrdiff_t sai, ptrdiff_t sak)
{
    int32_t off[ML_POOL], beg[ML_RMAX], cnt[ML_RMAX];
    float av[ML_POOL], p[MW_KC * 64] __attribute__((aligned(32)));
    int32_t i0, k0, r, rows, kc, kk, t, j, ld;
    const __m256i sh = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
    const tsr_v8i iota = {0, 1, 2, 3, 4, 5, 6, 7};
    for (k0 = 0; k0 < k || k0 == 0; k0 += MW_KC) {
        int first = k0 == 0;
        kc = k - k0 < MW_KC ? k - k0 : MW_KC;
        for (i0 = 0; i0 < m; i0 += rows) {
            ld = m - i0 >= ML_G && n % 128 == 0 ? 64 : n;
            for (r = t = 0; r < ML_RMAX && i0 + r < m && t + MW_KCP <= ML_POOL; r++) {
                const float *ap = a + (i0 + r) * sai + k0 * sak;
                beg[r] = t;
                kk = 0;
                if (sak == 1) {
                    tsr_v8i vo = iota * ld;
                    for (; kk + 8 <= kc; kk += 8, vo += 8 * ld) {
                        __m256 x = _mm256_loadu_ps(ap + kk);
                        uint32_t e = ml_pack8[_mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NEQ_UQ))];
                        const __m256i ix = _mm256_srlv_epi32(_mm256_set1_epi32((int32_t)e), sh);
                        _mm256_storeu_ps(&av[t], _mm256_permutevar8x32_ps(x, ix));
                        _mm256_storeu_si256((__m256i *)(void *)&off[t], _mm256_permutevar8x32_epi32((__m256i)vo, ix));
                        t += (int32_t)(e >> 24);
                    }
                }
                for (; kk < kc; kk++) {
                    float x = ap[kk * sak];
                    off[t] = kk * ld;
                    av[t] = x;
                    t += x != 0.0f;
                }
                cnt[r] = t - beg[r];
            }
            rows = r;
            for (j = 0; j < n; j += 64) {
                const float *bj = b + (ptrdiff_t)k0 * n + j;
                if (ld == 64) {
                    for (t = 0; t < kc; t++)
                        for (kk = 0; kk < 64; kk += 8)
                            _mm256_store_ps(p + t * 64 + kk, _mm256_loadu_ps(bj + (ptrdiff_t)t * n + kk));
                    bj = p;
                }
                if (j + 64 <= n)
                    for (r = 0; r < rows; r++)
                        mm_strip_avx2(bj, c + (ptrdiff_t)(i0 + r) * n + j, off + beg[r], av + beg[r], cnt[r],
                                      first);
                else
                    for (kk = j; kk < n; kk += 8) {
                        const __m256i mk = (__m256i)(iota < n - kk);
                        for (r = 0; r < rows; r++)
                            mm_strip1m_avx2(bj + kk - j, c + (ptrdiff_t)(i0 + r) * n + kk, off + beg[r],
                                            av + beg[r], cnt[r], first, mk);
                    }
            }
        }
    }
    _mm256_zeroupper();
}
#endif


/* Packed, register-blocked MatMul for a dense enough A' (the x86-64 library
 * paths; mm_simd / mm_wide keep the per-row lists, which win when A' is
 * sparse). For each chunk of k (KC) and each panel of 2 vectors of columns,
 * B'[k0.., j0..] is copied once into a contiguous, aligned panel (zeros
 * beyond column n) that every block of rows then reads from L1, free of the
 * cache-set conflicts of B's own row stride. A block of R rows x 2 vectors
 * keeps its 2R accumulators in registers and runs k in increasing order, one
 * broadcast A'[i,k] per row; partial sums pass through C between chunks (a
 * float stored and reloaded is the same float).
 *
 * The block does not skip zero terms, and is used only on a panel free of
 * inf and NaN, where that is exact: a zero A'[i,k] times a finite B'[k,j] is
 * +0 or -0, and adding +0 or -0 to the accumulator leaves it unchanged,
 * because the accumulator is never -0 (it starts at +0, and in
 * round-to-nearest a sum is -0 only when both addends are -0). The copy
 * records whether the panel holds an inf or NaN; such a panel, the rows left
 * below a whole block and the last, partial, panel's rows run one row at a
 * time with the skip of SPEC 7.1 (pk_row). ROWS is an X-macro over the R
 * row numbers of a block. */
#define PK_DECL(r) PV q##r##a = {0}, q##r##b = {0};
#define PK_LOAD(r) q##r##a = VLOADT(PU, c + r * ldc); q##r##b = VLOADT(PU, c + r * ldc + PW);
#define PK_STEP(r) { float x = a[r * sai]; q##r##a = q##r##a + x * v0; q##r##b = q##r##b + x * v1; }
#define PK_STORE(r) VSTORET(PU, c + r * ldc, q##r##a); VSTORET(PU, c + r * ldc + PW, q##r##b);
#define TSR_MM_PACK_DEFINE(FN, SFX, VF, VI, U, W, ROWS, R, KC)                                       \
    /* panel p[t][0 .. 2W-1] = B'[t, 0 .. nc-1], zeros after; 1 if all finite */                  \
    TSR_NOLIBC FN int pk_pack##SFX(const float *b, int32_t n, int32_t kc, int32_t nc, float *p)     \
    {                                                                                              \
        VI bad = {0};                                                                              \
        int32_t t, j;                                                                              \
        for (t = 0; t < kc; t++, b += n, p += 2 * W) {                                             \
            if (nc == 2 * W) {                                                                     \
                VSTORET(U, p, VLOADT(U, b));                                                       \
                VSTORET(U, p + W, VLOADT(U, b + W));                                               \
            } else {                                                                               \
                for (j = 0; j < 2 * W; j++)                                                        \
                    p[j] = j < nc ? b[j] : 0.0f;                                                   \
            }                                                                                      \
            /* |x| above the largest finite float: inf or NaN */                                   \
            bad |= ((VI)VLOADT(U, p) & 0x7FFFFFFF) > 0x7F7FFFFF;                                   \
            bad |= ((VI)VLOADT(U, p + W) & 0x7FFFFFFF) > 0x7F7FFFFF;                               \
        }                                                                                          \
        for (j = 0; j < W; j++)                                                                    \
            if (bad[j])                                                                            \
                return 0;                                                                          \
        return 1;                                                                                  \
    }                                                                                              \
                                                                                                   \
    /* R rows x 2 vectors, no skip (finite panel): c[r][0 .. 2W-1] (+)= ... */                     \
    __attribute__((noinline)) FN void pk_block##SFX(const float *a, ptrdiff_t sai, ptrdiff_t sak,  \
                                                    const float *p, int32_t kc, float *c,          \
                                                    ptrdiff_t ldc, int first)                      \
    {                                                                                              \
        typedef VF PV;                                                                             \
        typedef U PU;                                                                              \
        enum { PW = W };                                                                           \
        ROWS(PK_DECL)                                                                              \
        int32_t t;                                                                                 \
        if (!first) {                                                                              \
            ROWS(PK_LOAD)                                                                          \
        }                                                                                          \
        for (t = 0; t < kc; t++, a += sak, p += 2 * W) {                                           \
            VF v0 = VLOADT(U, p), v1 = VLOADT(U, p + W);                                           \
            ROWS(PK_STEP)                                                                          \
        }                                                                                          \
        ROWS(PK_STORE)                                                                             \
    }                                                                                              \
                                                                                                   \
    /* one row, the first nc of 2 vectors of columns, zero terms skipped */                        \
    TSR_NOLIBC FN void pk_row##SFX(const float *a, ptrdiff_t sak, const float *p, int32_t kc,     \
                                   float *c, int32_t nc, int first)                                \
    {                                                                                              \
        float tl[2 * W];                                                                           \
        VF q0, q1;                                                                                 \
        int32_t t, j;                                                                              \
        for (j = 0; j < 2 * W; j++)                                                                \
            tl[j] = j < nc && !first ? c[j] : 0.0f;                                                \
        q0 = VLOADT(U, tl);                                                                        \
        q1 = VLOADT(U, tl + W);                                                                    \
        for (t = 0; t < kc; t++, a += sak, p += 2 * W) {                                           \
            float x = *a;                                                                          \
            if (x != 0.0f) {                                                                       \
                q0 = q0 + x * VLOADT(U, p);                                                        \
                q1 = q1 + x * VLOADT(U, p + W);                                                    \
            }                                                                                      \
        }                                                                                          \
        VSTORET(U, tl, q0);                                                                        \
        VSTORET(U, tl + W, q1);                                                                    \
        for (j = 0; j < nc; j++)                                                                   \
            c[j] = tl[j];                                                                          \
    }                                                                                              \
                                                                                                   \
    TSR_NOLIBC FN void mm_pack##SFX(const float *a, const float *b, float *c, int32_t m,           \
                                    int32_t k, int32_t n, ptrdiff_t sai, ptrdiff_t sak)            \
    {                                                                                              \
        float p[(KC) * 2 * W] __attribute__((aligned(64)));                                        \
        int32_t k0, j0, i0, r, kc, nc, mb = m - m % (R);                                           \
        for (k0 = 0; k0 < k || k0 == 0; k0 += (KC)) {                                              \
            int first = k0 == 0;                                                                   \
            kc = k - k0 < (KC) ? k - k0 : (KC);                                                    \
            for (j0 = 0; j0 < n; j0 += 2 * W) {                                                    \
                int fin;                                                                           \
                nc = n - j0 < 2 * W ? n - j0 : 2 * W;                                              \
                fin = pk_pack##SFX(b + (ptrdiff_t)k0 * n + j0, n, kc, nc, p);                      \
                for (i0 = 0; i0 < m; i0 += (R)) {                                                  \
                    /* one chunk of k: the last partial block of rows is the block ending at       \
                     * row m (rows computed again give the same bits), and a partial panel's       \
                     * block goes through tl, of which the nc columns are kept */                  \
                    const int one = k <= (KC) && m >= (R);                                         \
                    const int32_t ib = one && i0 >= mb ? m - (R) : i0;                             \
                    const float *ai = a + ib * sai + k0 * sak;                                     \
                    float *ci = c + (ptrdiff_t)ib * n + j0, tl[(R) * 2 * W];                       \
                    if (fin && nc == 2 * W && (i0 < mb || one)) {                                  \
                        pk_block##SFX(ai, sai, sak, p, kc, ci, n, first);                          \
                    } else if (fin && one) {                                                       \
                        pk_block##SFX(ai, sai, sak, p, kc, tl, 2 * W, 1);                          \
                        for (r = 0; r < (R) * 2 * W; r++)                                          \
                            if (r % (2 * W) < nc)                                                  \
                                ci[r / (2 * W) * (ptrdiff_t)n + r % (2 * W)] = tl[r];              \
                    } else {                                                                       \
                        ai = a + i0 * sai + k0 * sak, ci = c + (ptrdiff_t)i0 * n + j0;             \
                        for (r = 0; r < (R) && i0 + r < m; r++)                                    \
                            pk_row##SFX(ai + r * sai, sak, p, kc, ci + (ptrdiff_t)r * n, nc, first); \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

#if TSR_MM_WIDE
/* One copy, 8-wide, 6 rows x 2 vectors (12 accumulators of the 16 ymm
 * registers), target("avx2"): on AMD Zen 4 it runs near the peak of separate
 * multiplies and adds (2 + 2 per cycle), and above the 16-wide AVX-512
 * kernels tried (6, 8 or 12 rows), so the AVX-512 path uses it too. */
#define PK_ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
TSR_MM_PACK_DEFINE(TSR_AVX2_FN, _avx2, tsr_v8f, tsr_v8i, tsr_v8fu, 8, PK_ROWS6, 6, 256)

/* Whether the packed kernel suits A' (m x k): a whole block of rows, and
 * at least 40% of the terms nonzero in a sample of up to 8 rows (below that
 * the per-row lists of nonzero terms do less work: measured on Zen 4, where
 * the two meet near 35% on the AVX2 path and 40% on the AVX-512 one). */
static int pk_suits(const float *a, int32_t m, int32_t k, ptrdiff_t sai, ptrdiff_t sak)
{
    int32_t s, kk, ns = m < 8 ? m : 8, nz = 0;
    if (m < 6)
        return 0;
    for (s = 0; s < ns; s++) {
        const float *ap = a + (ptrdiff_t)(s * (m / ns)) * sai;
        for (kk = 0; kk < k; kk++)
            nz += ap[kk * sak] != 0.0f;
    }
    return 5 * (int64_t)nz >= 2 * (int64_t)ns * k;
}
#endif

#if defined(TSR_K_DISPATCH)
/* MatMul (tb == 0) on a wide path; 0 for the baseline path. */
static int32_t mm_fast(const float *a, const float *b, float *c, int32_t m, int32_t k, int32_t n,
                       ptrdiff_t sai, ptrdiff_t sak, int32_t path)
{
    switch (path) {
#if TSR_MM_WIDE
    case TSR_K_PATH_AVX512:
        if (TSR_HAVE_AVX2() && pk_suits(a, m, k, sai, sak))
            mm_pack_avx2(a, b, c, m, k, n, sai, sak);
        else
            mm_wide(a, b, c, m, k, n, sai, sak);
        return 1;
#endif
#if TSR_MM_AVX2
    case TSR_K_PATH_AVX2:
        if (pk_suits(a, m, k, sai, sak))
            mm_pack_avx2(a, b, c, m, k, n, sai, sak);
        else if (ml_pack8[255])
            mm_list_avx2(a, b, c, m, k, n, sai, sak);
        else
            return 0;
        return 1;
#endif
    default:
        (void)a, (void)b, (void)c, (void)m, (void)k, (void)n, (void)sai, (void)sak;
        return 0;
    }
}
#endif

TSR_NOLIBC void tsr_k_matmul(const float *a, const float *b, float *c,
                  int32_t m, int32_t k, int32_t n, int32_t ta, int32_t tb)
{
    ptrdiff_t sai = ta ? 1 : k, sak = ta ? m : 1;
    if (m <= 0 || n <= 0 || k < 0)
        return;
#if defined(TSR_K_DISPATCH)
    if (!tb && mm_fast(a, b, c, m, k, n, sai, sak, tsr_path()))
        return;
#elif TSR_MM_WIDE
    if (!tb && TSR_HAVE_WIDE()) {
        if (TSR_HAVE_AVX2() && pk_suits(a, m, k, sai, sak))
            mm_pack_avx2(a, b, c, m, k, n, sai, sak);
        else
            mm_wide(a, b, c, m, k, n, sai, sak);
        return;
    }
#endif
#if TSR_SIMD
    if (!tb) {
        mm_simd(a, b, c, m, k, n, sai, sak);
        return;
    }
#endif
    mm_generic(a, b, c, m, k, n, sai, sak, tb ? 1 : n, tb ? k : 1, 0);
}

#if defined(TSR_K_DISPATCH)
/* Tests: the same product by a chosen path (TSR_K_PATH_BASE, _AVX512,
 * _AVX2), tb == 0 only. Returns 0 if that path is not available. */
TSR_NOLIBC int32_t tsr_k_matmul_path(const float *a, const float *b, float *c, int32_t m,
                                     int32_t k, int32_t n, int32_t ta, int32_t tb, int32_t path)
{
    ptrdiff_t sai = ta ? 1 : k, sak = ta ? m : 1;
    if (m <= 0 || n <= 0 || k < 0)
        return 1;
    if (tb || !tsr_path_ok(path))
        return 0;
    if (mm_fast(a, b, c, m, k, n, sai, sak, path))
        return 1;
#if TSR_SIMD
    mm_simd(a, b, c, m, k, n, sai, sak);
#else
    mm_generic(a, b, c, m, k, n, sai, sak, n, 1, 0);
#endif
    return 1;
}
#endif

/* ---- Softmax (SPEC 7.4) ---- */
TSR_NOLIBC void tsr_k_softmax(const float *x, float *y,
                   int32_t outer, int32_t len, int32_t inner)
{
    int32_t o, q, i;
    for (o = 0; o < outer; o++) {
        for (q = 0; q < inner; q++) {
            ptrdiff_t base = (ptrdiff_t)o * len * inner + q;
            float mx = -u2f(0x7F800000u), s = 0.0f;
            TSR_LOOP_SMALL for (i = 0; i < len; i++)
                mx = tsr_k_max1(mx, x[base + (ptrdiff_t)i * inner]);
            TSR_LOOP_SMALL for (i = 0; i < len; i++) {
                float e = tsr_k_exp1(x[base + (ptrdiff_t)i * inner] - mx);
                y[base + (ptrdiff_t)i * inner] = e;
                s = s + e;
            }
            TSR_LOOP_SMALL for (i = 0; i < len; i++)
                y[base + (ptrdiff_t)i * inner] = y[base + (ptrdiff_t)i * inner] / s;
        }
    }
}

/* ---- Reductions (SPEC 7.5) ---- */
TSR_INLINE float reduce_step(int32_t op, float acc, float v)
{
    switch (op) {
    case TSR_K_RMAX: return tsr_k_max1(acc, v);
    case TSR_K_RMIN: return tsr_k_min1(acc, v);
    case TSR_K_RPROD: return acc * v;
    default: return acc + v;
    }
}

TSR_NOLIBC void tsr_k_reduce(int32_t op, const float *x, float *y,
                  int32_t rank, const int32_t *shape, const int32_t *reduce)
{
    int32_t ostride[TSR_K_MAX_RANK], idx[TSR_K_MAX_RANK];
    int32_t d, inner, count = 1, nout = 1, j;
    ptrdiff_t xo = 0, yo = 0;
    float init = op == TSR_K_RMAX ? -u2f(0x7F800000u) : op == TSR_K_RMIN ? u2f(0x7F800000u)
               : op == TSR_K_RPROD ? 1.0f : 0.0f;

    if (rank > TSR_K_MAX_RANK)
        return;
    for (d = rank - 1; d >= 0; d--) {
        if (shape[d] <= 0)
            return;
        if (reduce[d]) {
            ostride[d] = 0;
            count *= shape[d];
        } else {
            ostride[d] = nout;
            nout *= shape[d];
        }
    }
#if TSR_SIMD
    /* Leading axes reduced, trailing kept (ReduceSum over the rows of a
     * Gather, for one): x is (count, nout), and blocks of 4 vectors of
     * outputs stay in registers while the rows stream by, in row order, so
     * each output sees the same operations in the same order as below. */
    if ((op == TSR_K_RSUM || op == TSR_K_RMEAN || op == TSR_K_RPROD) && rank > 0 && nout >= 4 * MM_W) {
        int32_t lead = 1;
        for (d = 0; d < rank && reduce[d]; d++)
            ;
        for (j = d; j < rank; j++)
            lead = lead && !reduce[j];
        if (lead && d > 0) {
            int32_t i, j0;
            tsr_vf vi = (tsr_vf)((tsr_vi){0} + (int32_t)f2u(init));
            for (j0 = 0; j0 + 4 * MM_W <= nout; j0 += 4 * MM_W) {
                tsr_vf v0 = vi, v1 = vi, v2 = vi, v3 = vi;
                for (i = 0; i < count; i++) {
                    const float *p = x + (ptrdiff_t)i * nout + j0;
                    if (op == TSR_K_RPROD) {
                        v0 = v0 * VLOAD(p), v1 = v1 * VLOAD(p + MM_W);
                        v2 = v2 * VLOAD(p + 2 * MM_W), v3 = v3 * VLOAD(p + 3 * MM_W);
                    } else {
                        v0 = v0 + VLOAD(p), v1 = v1 + VLOAD(p + MM_W);
                        v2 = v2 + VLOAD(p + 2 * MM_W), v3 = v3 + VLOAD(p + 3 * MM_W);
                    }
                }
                VSTORE(y + j0, v0), VSTORE(y + j0 + MM_W, v1);
                VSTORE(y + j0 + 2 * MM_W, v2), VSTORE(y + j0 + 3 * MM_W, v3);
            }
            for (; j0 < nout; j0++) {
                float acc = init;
                for (i = 0; i < count; i++)
                    acc = reduce_step(op, acc, x[(ptrdiff_t)i * nout + j0]);
                y[j0] = acc;
            }
            goto mean;
        }
    }
    /* Trailing axes summed, leading kept (ReduceMean over H and W of NCHW,
     * i.e. global average pooling; ReduceSum along rows): x is (nout, count)
     * and each output one chain of dependent additions, about 3 cycles per
     * element. Eight outputs' chains side by side let the core overlap them;
     * each output still adds its elements in order from +0. The last block
     * ends at nout (outputs computed again give the same bits). */
    if ((op == TSR_K_RSUM || op == TSR_K_RMEAN) && rank > 0 && nout >= 8) {
        int32_t i, r0;
        for (d = rank - 1; d >= 0 && reduce[d]; d--)
            ;
        for (j = d; j >= 0 && !reduce[j]; j--)
            ;
        if (d < rank - 1 && j < 0) {
            for (r0 = 0; r0 < nout; r0 += 8) {
                const ptrdiff_t c = count;
                const float *p;
                float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;
                r0 = r0 < nout - 8 ? r0 : nout - 8;
                p = x + r0 * c;
                for (i = 0; i < count; i++, p++) {
                    a0 = a0 + p[0], a1 = a1 + p[c], a2 = a2 + p[2 * c], a3 = a3 + p[3 * c];
                    a4 = a4 + p[4 * c], a5 = a5 + p[5 * c], a6 = a6 + p[6 * c], a7 = a7 + p[7 * c];
                }
                y[r0] = a0, y[r0 + 1] = a1, y[r0 + 2] = a2, y[r0 + 3] = a3;
                y[r0 + 4] = a4, y[r0 + 5] = a5, y[r0 + 6] = a6, y[r0 + 7] = a7;
            }
            goto mean;
        }
    }
#endif
    TSR_LOOP_SMALL for (j = 0; j < nout; j++)
        y[j] = init;
    if (rank == 0) {
        y[0] = reduce_step(op, init, x[0]);
    } else {
        inner = shape[rank - 1];
        for (d = 0; d < rank; d++)
            idx[d] = 0;
        for (;;) {
            /* Row-major walk of x: each output sees its reduced elements in
             * row-major order of the reduced indices. */
            if (reduce[rank - 1]) {
                float acc = y[yo];
                TSR_LOOP_SMALL for (j = 0; j < inner; j++)
                    acc = reduce_step(op, acc, x[xo + j]);
                y[yo] = acc;
            } else {
                j = 0;
#if TSR_SIMD
                /* a kept last axis: each output is its own lane, so whole
                 * vectors of outputs take their next element at once (the
                 * same operation per output, in the same order) */
                if (op == TSR_K_RSUM || op == TSR_K_RMEAN) {
                    for (; j + MM_W <= inner; j += MM_W)
                        VSTORE(y + yo + j, VLOAD(y + yo + j) + VLOAD(x + xo + j));
                } else if (op == TSR_K_RPROD) {
                    for (; j + MM_W <= inner; j += MM_W)
                        VSTORE(y + yo + j, VLOAD(y + yo + j) * VLOAD(x + xo + j));
                }
#endif
                TSR_LOOP_SMALL for (; j < inner; j++)
                    y[yo + j] = reduce_step(op, y[yo + j], x[xo + j]);
            }
            xo += inner;
            for (d = rank - 2; d >= 0; d--) {
                idx[d]++;
                yo += ostride[d];
                if (idx[d] < shape[d])
                    break;
                yo -= (ptrdiff_t)ostride[d] * shape[d];
                idx[d] = 0;
            }
            if (d < 0)
                break;
        }
    }
#if TSR_SIMD
mean:
#endif
    if (op == TSR_K_RMEAN) {
        float cf = (float)count; /* round to nearest even */
        TSR_LOOP_SMALL for (j = 0; j < nout; j++)
            y[j] = y[j] / cf;
    }
}

/* ---- Transpose: the element copy of tsr_k_transpose32 (below) ---- */
TSR_NOLIBC void tsr_k_transpose(const float *x, float *y, int32_t rank, const int32_t *shape, const int32_t *perm)
{
    tsr_k_transpose32(x, y, rank, shape, perm);
}

/* ==== format 1.1: int32 tensors, comparisons, logic, data movement ==== */

/* A 4-byte element of either dtype, copied as bits. may_alias: the same
 * memory is float or int32_t depending on the tensor, and data movement does
 * not care which. */
#if defined(__GNUC__) || defined(__clang__)
typedef uint32_t tsr_w32 __attribute__((may_alias));
#else
typedef uint32_t tsr_w32;
#endif
#if TSR_SIMD
typedef uint32_t tsr_vwu __attribute__((vector_size(MM_W * 4), aligned(4), may_alias));
#endif

/* n words from x to y (no overlap unless x == y): whole vectors, then a
 * scalar tail; integer loads and stores, so every bit pattern survives. */
static inline TSR_NOLIBC void copy_words(const tsr_w32 *x, tsr_w32 *y, int32_t n)
{
    int32_t i = 0;
#if TSR_SIMD
    for (; i + MM_W <= n; i += MM_W)
        *(tsr_vwu *)(void *)(y + i) = *(const tsr_vwu *)(const void *)(x + i);
#endif
    for (; i < n; i++)
        y[i] = x[i];
}

/* Broadcast walk shared by tsr_k_compare and tsr_k_where: the dims of the
 * output with size-1 dims dropped and contiguous runs merged (as
 * tsr_k_binary), up to three operands' strides, and an odometer over all
 * but the last merged dim. */
typedef struct {
    int32_t r, dims[TSR_K_MAX_RANK], st[3][TSR_K_MAX_RANK], idx[TSR_K_MAX_RANK];
    ptrdiff_t off[3], yo;
    int32_t inner, in_st[3];
} bc_walk;

static int bc_init(bc_walk *w, int32_t rank, const int32_t *shape, const int32_t *const s[3])
{
    int32_t d, k;
    if (rank > TSR_K_MAX_RANK || rank < 0)
        return 0;
    w->r = 0;
    for (d = 0; d < rank; d++) {
        int merge = w->r > 0;
        if (shape[d] <= 0)
            return 0;
        if (shape[d] == 1)
            continue;
        for (k = 0; k < 3 && merge; k++)
            merge = w->st[k][w->r - 1] == s[k][d] * shape[d];
        if (merge) {
            w->dims[w->r - 1] *= shape[d];
            for (k = 0; k < 3; k++)
                w->st[k][w->r - 1] = s[k][d];
            continue;
        }
        w->dims[w->r] = shape[d];
        for (k = 0; k < 3; k++)
            w->st[k][w->r] = s[k][d];
        w->idx[w->r] = 0;
        w->r++;
    }
    w->inner = w->r ? w->dims[w->r - 1] : 1;
    for (k = 0; k < 3; k++) {
        w->off[k] = 0;
        w->in_st[k] = w->r ? w->st[k][w->r - 1] : 0;
    }
    w->yo = 0;
    return 1;
}

/* Next run of `inner` outputs; 0 when the walk is over. */
static int bc_next(bc_walk *w)
{
    int32_t d, k;
    w->yo += w->inner;
    for (d = w->r - 2; d >= 0; d--) {
        w->idx[d]++;
        for (k = 0; k < 3; k++)
            w->off[k] += w->st[k][d];
        if (w->idx[d] < w->dims[d])
            return 1;
        for (k = 0; k < 3; k++)
            w->off[k] -= (ptrdiff_t)w->st[k][d] * w->dims[d];
        w->idx[d] = 0;
    }
    return 0;
}

/* One loop per operand type: each element pair gets a class (less, equal,
 * greater, unordered) and the op is the set of classes for which it holds,
 * a 4-bit mask; And/Or look at the truth of each operand instead. (One
 * loop instead of one per op and type keeps the code small; comparisons are
 * not on any hot path.) */
TSR_NOLIBC void tsr_k_compare(int32_t op, int32_t dtype, const void *a, const void *b, int32_t *y,
                              int32_t rank, const int32_t *shape, const int32_t *sa, const int32_t *sb)
{
    /* bit 0 less, bit 1 equal, bit 2 greater, bit 3 unordered (NaN) */
    static const unsigned char holds[8] = {4, 6, 1, 3, 2, 13, 4, 6};
    static const int32_t zero[TSR_K_MAX_RANK] = {0};
    const int32_t *s[3];
    bc_walk w;
    int32_t i;
    unsigned mask;
    if (op < 0 || op > TSR_K_OR || (op >= TSR_K_AND && dtype != TSR_K_I32))
        return;
    mask = holds[op];
    s[0] = sa;
    s[1] = sb;
    s[2] = zero;
    if (!bc_init(&w, rank, shape, s))
        return;
    do {
        ptrdiff_t ia = w.in_st[0], ib = w.in_st[1];
        int32_t *py = y + w.yo;
        if (dtype == TSR_K_F32) {
            const float *pa = (const float *)a + w.off[0], *pb = (const float *)b + w.off[1];
            TSR_LOOP_SMALL for (i = 0; i < w.inner; i++) {
                float av = pa[i * ia], bv = pb[i * ib];
                unsigned c = av < bv ? 0u : av == bv ? 1u : av > bv ? 2u : 3u;
                py[i] = (int32_t)((mask >> c) & 1u);
            }
        } else {
            const int32_t *pa = (const int32_t *)a + w.off[0], *pb = (const int32_t *)b + w.off[1];
            TSR_LOOP_SMALL for (i = 0; i < w.inner; i++) {
                int32_t av = pa[i * ia], bv = pb[i * ib];
                /* And/Or: class from the truth values: 0 none, 1 one, 2 both */
                unsigned c = op >= TSR_K_AND ? (unsigned)(av != 0) + (unsigned)(bv != 0)
                           : av < bv ? 0u : av == bv ? 1u : 2u;
                py[i] = (int32_t)((mask >> c) & 1u);
            }
        }
    } while (bc_next(&w));
}

void tsr_k_not(const int32_t *x, int32_t *y, int32_t n)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = x[i] == 0;
}

TSR_NOLIBC void tsr_k_where(const int32_t *c, const void *a, const void *b, void *y, int32_t rank,
                            const int32_t *shape, const int32_t *sc, const int32_t *sa,
                            const int32_t *sb)
{
    const int32_t *s[3];
    bc_walk w;
    int32_t i, ic, ia, ib;
    s[0] = sc;
    s[1] = sa;
    s[2] = sb;
    if (!bc_init(&w, rank, shape, s))
        return;
    ic = w.in_st[0];
    ia = w.in_st[1];
    ib = w.in_st[2];
    do {
        const int32_t *pc = c + w.off[0];
        const tsr_w32 *pa = (const tsr_w32 *)a + w.off[1], *pb = (const tsr_w32 *)b + w.off[2];
        tsr_w32 *py = (tsr_w32 *)y + w.yo;
        TSR_LOOP_SMALL for (i = 0; i < w.inner; i++)
            py[i] = pc[(ptrdiff_t)i * ic] != 0 ? pa[(ptrdiff_t)i * ia] : pb[(ptrdiff_t)i * ib];
    } while (bc_next(&w));
}

void tsr_k_cast_f2i(const float *x, int32_t *y, int32_t n)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++) {
        float v = x[i];
        /* 2^31 is exact in binary32; inside the bounds the conversion
         * truncates toward zero and cannot overflow */
        y[i] = v != v ? 0 : v >= 2147483648.0f ? INT32_MAX : v < -2147483648.0f ? INT32_MIN : (int32_t)v;
    }
}

void tsr_k_cast_i2f(const int32_t *x, float *y, int32_t n)
{
    int32_t i;
    TSR_LOOP_SMALL for (i = 0; i < n; i++)
        y[i] = (float)x[i]; /* round to nearest even (the default mode) */
}

TSR_NOLIBC void tsr_k_copy32(const void *x, void *y, int32_t n)
{
    if (x != y)
        copy_words((const tsr_w32 *)x, (tsr_w32 *)y, n);
}

TSR_NOLIBC void tsr_k_transpose32(const void *xv, void *yv, int32_t rank, const int32_t *shape,
                                  const int32_t *perm)
{
    const tsr_w32 *x = (const tsr_w32 *)xv;
    tsr_w32 *y = (tsr_w32 *)yv;
    int32_t istride[TSR_K_MAX_RANK], odims[TSR_K_MAX_RANK];
    int32_t ostr[TSR_K_MAX_RANK], idx[TSR_K_MAX_RANK];
    int32_t d, j, inner, s = 1;
    ptrdiff_t xo = 0, yo = 0;
    if (rank > TSR_K_MAX_RANK)
        return;
    if (rank == 0) {
        y[0] = x[0];
        return;
    }
    for (d = rank - 1; d >= 0; d--) {
        if (shape[d] <= 0)
            return;
        istride[d] = s;
        s *= shape[d];
        idx[d] = 0; /* here, not in a loop of its own: clang would make that a memset call */
    }
    for (d = 0; d < rank; d++) {
        odims[d] = shape[perm[d]];
        ostr[d] = istride[perm[d]];
    }
    inner = odims[rank - 1];
    for (;;) {
        int32_t st = ostr[rank - 1];
        TSR_LOOP_SMALL for (j = 0; j < inner; j++)
            y[yo + j] = x[xo + (ptrdiff_t)j * st];
        yo += inner;
        for (d = rank - 2; d >= 0; d--) {
            idx[d]++;
            xo += ostr[d];
            if (idx[d] < odims[d])
                break;
            xo -= (ptrdiff_t)ostr[d] * odims[d];
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

/* The sparse fast path: one row copy per index. */
TSR_NOLIBC int32_t tsr_k_gather(const void *xv, const int32_t *idx, void *yv, int32_t outer,
                                int32_t d, int32_t n_idx, int32_t inner)
{
    const tsr_w32 *x = (const tsr_w32 *)xv;
    tsr_w32 *y = (tsr_w32 *)yv;
    int32_t o, j;
    for (j = 0; j < n_idx; j++) /* all checked first: nothing written on error */
        if (idx[j] < -d || idx[j] >= d)
            return j;
    for (o = 0; o < outer; o++) {
        const tsr_w32 *xb = x + (ptrdiff_t)o * d * inner;
        tsr_w32 *yb = y + (ptrdiff_t)o * n_idx * inner;
        for (j = 0; j < n_idx; j++) {
            int32_t i = idx[j] < 0 ? idx[j] + d : idx[j];
            copy_words(xb + (ptrdiff_t)i * inner, yb + (ptrdiff_t)j * inner, inner);
        }
    }
    return -1;
}

TSR_NOLIBC void tsr_k_concat(const void *xv, void *yv, int32_t outer, int32_t len, int32_t inner,
                             int32_t total, int32_t at)
{
    const tsr_w32 *x = (const tsr_w32 *)xv;
    tsr_w32 *y = (tsr_w32 *)yv;
    int32_t o;
    ptrdiff_t row = (ptrdiff_t)len * inner;
    for (o = 0; o < outer; o++)
        copy_words(x + o * row, y + ((ptrdiff_t)o * total + at) * inner, (int32_t)row);
}

TSR_NOLIBC void tsr_k_slice(const void *xv, void *yv, int32_t rank, const int32_t *shape,
                            const int32_t *out, const int32_t *start, const int32_t *step)
{
    const tsr_w32 *x = (const tsr_w32 *)xv;
    tsr_w32 *y = (tsr_w32 *)yv;
    ptrdiff_t istride[TSR_K_MAX_RANK], xo = 0, yo = 0, st;
    int32_t idx[TSR_K_MAX_RANK], d, j, inner;
    ptrdiff_t s = 1;
    if (rank < 1 || rank > TSR_K_MAX_RANK)
        return;
    for (d = rank - 1; d >= 0; d--) {
        if (out[d] <= 0)
            return;
        istride[d] = s;
        s *= shape[d];
        xo += (ptrdiff_t)start[d] * istride[d];
        idx[d] = 0;
    }
    inner = out[rank - 1];
    st = (ptrdiff_t)step[rank - 1] * istride[rank - 1];
    for (;;) {
        if (st == 1) {
            copy_words(x + xo, y + yo, inner);
        } else {
            TSR_LOOP_SMALL for (j = 0; j < inner; j++)
                y[yo + j] = x[xo + (ptrdiff_t)j * st];
        }
        yo += inner;
        for (d = rank - 2; d >= 0; d--) {
            ptrdiff_t sd = (ptrdiff_t)step[d] * istride[d];
            idx[d]++;
            xo += sd;
            if (idx[d] < out[d])
                break;
            xo -= sd * out[d];
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

#if TSR_SIMD
/* A contiguous slice (the class axis of a classifier's output): the extreme
 * value by whole vectors, then the first index holding it. Without NaN the
 * scan of SPEC 7.9 ends on exactly that index: it moves only to a strictly
 * greater (smaller) value, so it stops at the first occurrence of the
 * maximum (minimum), and -0 == +0 makes the two zeros one value for both.
 * Comparisons and selects only: no arithmetic, nothing to round. Returns -1
 * when the slice holds a NaN (the scan then decides: the first NaN wins). */
#define TSR_ARG_VEC(NAME, T, VT)                                                  \
    static int32_t NAME(const T *p, int32_t len, int32_t max)                     \
    {                                                                             \
        VT m = *(const VT *)(const void *)p, v;                                   \
        T lanes[MM_W], best;                                                      \
        int32_t i, nan = 0;                                                       \
        tsr_vi bad = (tsr_vi){0}, sel;                                            \
        for (i = MM_W; i + MM_W <= len; i += MM_W) {                              \
            v = *(const VT *)(const void *)(p + i);                               \
            bad |= (tsr_vi)(v != v);                                              \
            sel = (tsr_vi)(max ? v > m : v < m);                                  \
            m = (VT)(((tsr_vi)v & sel) | ((tsr_vi)m & ~sel));                     \
        }                                                                         \
        bad |= (tsr_vi)(m != m);                                                  \
        *(VT *)(void *)lanes = m;                                                 \
        for (i = 0; i < MM_W; i++)                                                \
            nan |= bad[i];                                                        \
        best = lanes[0];                                                          \
        for (i = 1; i < MM_W; i++)                                                \
            best = max ? (lanes[i] > best ? lanes[i] : best) : (lanes[i] < best ? lanes[i] : best); \
        for (i = len - len % MM_W; i < len; i++) {                                \
            nan |= p[i] != p[i];                                                  \
            best = max ? (p[i] > best ? p[i] : best) : (p[i] < best ? p[i] : best); \
        }                                                                         \
        if (nan)                                                                  \
            return -1;                                                            \
        for (i = 0; p[i] != best; i++)                                            \
            ;                                                                     \
        return i;                                                                 \
    }
typedef float tsr_vfa __attribute__((vector_size(MM_W * 4), aligned(4)));
typedef int32_t tsr_via __attribute__((vector_size(MM_W * 4), aligned(4)));
TSR_ARG_VEC(arg_vec_f, float, tsr_vfa)
TSR_ARG_VEC(arg_vec_i, int32_t, tsr_via)
#endif

TSR_LIB_COLD TSR_NOLIBC void tsr_k_argmax(int32_t max, int32_t dtype, const void *x, int32_t *y, int32_t outer,
                             int32_t len, int32_t inner)
{
    int32_t o, q, i;
    for (o = 0; o < outer; o++) {
        for (q = 0; q < inner; q++) {
            ptrdiff_t base = (ptrdiff_t)o * len * inner + q;
            int32_t best = 0;
#if TSR_SIMD
            if (inner == 1 && len >= 2 * MM_W) {
                best = dtype == TSR_K_F32 ? arg_vec_f((const float *)x + base, len, max)
                                          : arg_vec_i((const int32_t *)x + base, len, max);
                if (best >= 0) {
                    y[o] = best;
                    continue;
                }
                best = 0; /* a NaN: the scan below finds the first one */
            }
#endif
            if (dtype == TSR_K_F32) {
                const float *p = (const float *)x + base;
                float bv = p[0];
                /* once the best is NaN it stays: stop there */
                for (i = 1; i < len && bv == bv; i++) {
                    float v = p[(ptrdiff_t)i * inner];
                    if (v != v || (max ? v > bv : v < bv)) {
                        best = i;
                        bv = v;
                    }
                }
            } else {
                const int32_t *p = (const int32_t *)x + base;
                int32_t bv = p[0];
                for (i = 1; i < len; i++) {
                    int32_t v = p[(ptrdiff_t)i * inner];
                    if (max ? v > bv : v < bv) {
                        best = i;
                        bv = v;
                    }
                }
            }
            y[(ptrdiff_t)o * inner + q] = best;
        }
    }
}

TSR_LIB_COLD TSR_NOLIBC void tsr_k_log_softmax(const float *x, float *y, int32_t outer, int32_t len, int32_t inner)
{
    int32_t o, q, i, j;
    for (o = 0; o < outer; o++) {
        for (q = 0; q < inner; q++) {
            ptrdiff_t base = (ptrdiff_t)o * len * inner + q;
            float m = -u2f(0x7F800000u), s = 0.0f, l;
            TSR_LOOP_SMALL for (i = 0; i < len; i++)
                m = tsr_k_max1(m, x[base + (ptrdiff_t)i * inner]);
            if (inner == 1) {
                /* contiguous slice: Exp through the array kernel (vector
                 * paths, the same bits as tsr_k_exp1), 64 at a time; the
                 * sum still runs in index order */
                float buf[64];
                for (i = 0; i < len; i += 64) {
                    int32_t c = len - i < 64 ? len - i : 64;
                    TSR_LOOP_SMALL for (j = 0; j < c; j++)
                        buf[j] = x[base + i + j] - m;
                    tsr_k_exp(buf, buf, c);
                    for (j = 0; j < c; j++)
                        s = s + buf[j];
                }
            } else {
                TSR_LOOP_SMALL for (i = 0; i < len; i++)
                    s = s + tsr_k_exp1(x[base + (ptrdiff_t)i * inner] - m);
            }
            l = tsr_k_log1(s);
            TSR_LOOP_SMALL for (i = 0; i < len; i++) {
                ptrdiff_t at = base + (ptrdiff_t)i * inner;
                y[at] = (x[at] - m) - l;
            }
        }
    }
}

/* ---- Conv2D (SPEC 7.11), MaxPool2D and AveragePool2D (SPEC 7.12) ----
 * The scalar kernels loop directly. Each window's taps are clipped to the
 * input first (tap_range), so padding costs nothing and the taps that stay
 * are visited in the same increasing order: the loops never run over a
 * padding position, however large the pads. */

/* [*lo, *hi): the taps t in [0, k) with 0 <= base + t * d < lim. */
static void tap_range(int32_t base, int32_t d, int32_t lim, int32_t k, int32_t *lo, int32_t *hi)
{
    int32_t a = base < 0 ? (d - 1 - base) / d : 0;
    int32_t b = lim - base <= 0 ? 0 : (lim - base + d - 1) / d;
    b = b < k ? b : k;
    *lo = a < b ? a : b;
    *hi = b;
}

/* In the library, tsr_k_conv2d only serves geometries the vectorised path
 * refuses: built for size there (TSR_LIB_COLD). */
TSR_LIB_COLD TSR_NOLIBC void tsr_k_conv2d(const float *x, const float *w, const float *b, float *y, const int32_t *g)
{
    const int32_t C = g[1], H = g[2], W = g[3], M = g[4], kH = g[5], kW = g[6], sh = g[7], sw = g[8];
    const int32_t dh = g[9], dw = g[10], pt = g[11], pl = g[12], Ho = g[16], Wo = g[17];
    const int32_t Cg = C / g[15], Mg = M / g[15];
    int32_t n, m, oh, ow, c, i, j, i0, i1, j0, j1;
    for (n = 0; n < g[0]; n++) {
        for (m = 0; m < M; m++) {
            const float *xg = x + ((ptrdiff_t)n * C + (ptrdiff_t)(m / Mg) * Cg) * H * W;
            const float *wm = w + (ptrdiff_t)m * Cg * kH * kW;
            float *ym = y + ((ptrdiff_t)n * M + m) * Ho * Wo;
            for (oh = 0; oh < Ho; oh++) {
                int32_t bh = oh * sh - pt;
                tap_range(bh, dh, H, kH, &i0, &i1);
                for (ow = 0; ow < Wo; ow++) {
                    int32_t bw = ow * sw - pl;
                    float acc = 0.0f;
                    tap_range(bw, dw, W, kW, &j0, &j1);
                    for (c = 0; c < Cg; c++) {
                        for (i = i0; i < i1; i++) {
                            const float *xr = xg + ((ptrdiff_t)c * H + bh + i * dh) * W + bw;
                            const float *wr = wm + ((ptrdiff_t)c * kH + i) * kW;
                            for (j = j0; j < j1; j++) {
                                float xv = xr[j * dw];
                                if (xv == 0.0f)
                                    continue;
                                acc = acc + xv * wr[j];
                            }
                        }
                    }
                    ym[(ptrdiff_t)oh * Wo + ow] = b ? acc + b[m] : acc;
                }
            }
        }
    }
}

#if defined(__wasm_simd128__)
/* wasm simd128 Conv2D (tsr_k_conv2d_ws, with the caller's workspace),
 * vectorised over output channels. Per group the weights are packed into
 * panels of 8 output channels, P[k][0..7] with k = (c, i, j) in the order of
 * SPEC 7.11 (zeros past the group's last channel); per image the group's
 * channels are copied into zero-padded planes when the node has pads (else
 * read in place), so every tap k of every output position is one element at
 * a fixed offset tap[k] from the position's origin. A block is 4 output
 * positions x 8 channels, 8 accumulators in registers: per tap each
 * position's element (one load, splat) times the panel's two weight vectors.
 * Every lane is one output element summing over k in order from +0. It skips
 * no zero term, which is exact because every weight is finite (checked
 * first; else the scalar kernel runs): a zero input or padding times a finite
 * weight is +0 or -0, and adding +-0 leaves the accumulator unchanged, since
 * a sum that starts at +0 is never -0 (in round to nearest a sum is -0 only
 * when both addends are). An inf or NaN input meets every weight, as SPEC
 * requires. The 4 x 4 blocks are transposed so each channel's 4 outputs are
 * stored together, the bias added then. */
#define CW_M 8 /* output channels per panel */
#define CW_P 4 /* output positions per block */
typedef struct {
    int64_t pack, planes, total; /* in floats: weight panels, padded planes, all with the tap table */
    int32_t plane, Wp, K;
} cw_layout;

/* 0 when the workspace would exceed 2^26 floats (then the scalar kernel runs). */
static int cw_plan(const int32_t *g, cw_layout *L)
{
    int64_t Cg = g[1] / g[15], Mg = g[4] / g[15], K = Cg * g[5] * g[6];
    int64_t Hp = (int64_t)g[2] + g[11] + g[13], Wp = (int64_t)g[3] + g[12] + g[14];
    if (Hp * Wp > (1 << 26))
        return 0;
    L->Wp = (int32_t)Wp;
    L->plane = (int32_t)(Hp * Wp);
    L->K = (int32_t)K;
    L->pack = (Mg + CW_M - 1) / CW_M * K * CW_M;
    L->planes = (g[11] | g[12] | g[13] | g[14]) ? Cg * Hp * Wp : 0;
    L->total = L->pack + L->planes + K;
    return L->total <= (1 << 26);
}

#define CW_SPLAT(v) ((tsr_vf){(v), (v), (v), (v)})
/* a[r], a[4 + r]: channels 0-3 and 4-7 of position r (origin p + o[r]) */
__attribute__((noinline)) static void cw_block(const float *p, const int32_t *o, const int32_t *tap,
                                               const float *pk, int32_t K, tsr_vf *a)
{
    const float *p0 = p + o[0], *p1 = p + o[1], *p2 = p + o[2], *p3 = p + o[3];
    tsr_vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0}, v;
    int32_t k;
    for (k = 0; k < K; k++, pk += CW_M) {
        tsr_vf w0 = VLOAD(pk), w1 = VLOAD(pk + 4);
        int32_t t = tap[k];
        v = CW_SPLAT(p0[t]);
        a0 = a0 + v * w0;
        b0 = b0 + v * w1;
        v = CW_SPLAT(p1[t]);
        a1 = a1 + v * w0;
        b1 = b1 + v * w1;
        v = CW_SPLAT(p2[t]);
        a2 = a2 + v * w0;
        b2 = b2 + v * w1;
        v = CW_SPLAT(p3[t]);
        a3 = a3 + v * w0;
        b3 = b3 + v * w1;
    }
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3, a[4] = b0, a[5] = b1, a[6] = b2, a[7] = b3;
}

/* y[c * ys + r] = a[r][c] (+ b[c]) for the first np positions, mc channels */
static void cw_store(const tsr_vf *a, float *y, ptrdiff_t ys, const float *b, int32_t np, int32_t mc)
{
    int32_t r, c;
    if (np == CW_P && mc >= 4) {
        tsr_vf lo01 = __builtin_shufflevector(a[0], a[1], 0, 4, 1, 5);
        tsr_vf hi01 = __builtin_shufflevector(a[0], a[1], 2, 6, 3, 7);
        tsr_vf lo23 = __builtin_shufflevector(a[2], a[3], 0, 4, 1, 5);
        tsr_vf hi23 = __builtin_shufflevector(a[2], a[3], 2, 6, 3, 7);
        tsr_vf t[4];
        t[0] = __builtin_shufflevector(lo01, lo23, 0, 1, 4, 5);
        t[1] = __builtin_shufflevector(lo01, lo23, 2, 3, 6, 7);
        t[2] = __builtin_shufflevector(hi01, hi23, 0, 1, 4, 5);
        t[3] = __builtin_shufflevector(hi01, hi23, 2, 3, 6, 7);
        for (c = 0; c < 4; c++)
            VSTORE(y + c * ys, b ? t[c] + CW_SPLAT(b[c]) : t[c]);
        return;
    }
    for (c = 0; c < mc && c < 4; c++)
        for (r = 0; r < np; r++)
            y[c * ys + r] = b ? a[r][c] + b[c] : a[r][c];
}

int64_t tsr_k_conv2d_ws_floats(const int32_t *geom)
{
    cw_layout L;
    return cw_plan(geom, &L) ? L.total : 0;
}

TSR_NOLIBC void tsr_k_conv2d_ws(const float *x, const float *w, const float *b, float *y,
                                const int32_t *g, float *ws)
{
    const int32_t C = g[1], H = g[2], W = g[3], M = g[4], grp = g[15], Ho = g[16], Wo = g[17];
    const int32_t Cg = C / grp, Mg = M / grp, HoWo = Ho * Wo;
    cw_layout L;
    uint32_t bad = 0;
    int32_t n, gi, c, i, j, k, m, q, r, h;
    int32_t *tap;
    if (!ws || !cw_plan(g, &L))
        goto scalar;
    for (k = 0; k < M * L.K; k++) /* |w| above the largest finite float: inf or NaN */
        bad |= f2u(w[k]) << 1 > 0xFEFFFFFFu;
    if (bad)
        goto scalar;
    tap = (int32_t *)(void *)(ws + L.pack + L.planes);
    for (c = 0, k = 0; c < Cg; c++)
        for (i = 0; i < g[5]; i++)
            for (j = 0; j < g[6]; j++)
                tap[k++] = c * L.plane + i * g[9] * L.Wp + j * g[10];
    for (gi = 0; gi < grp; gi++) {
        for (m = 0; m < Mg; m += CW_M) { /* the group's panels */
            float *pk = ws + (ptrdiff_t)m * L.K;
            for (k = 0; k < L.K; k++, pk += CW_M)
                for (r = 0; r < CW_M; r++)
                    pk[r] = m + r < Mg ? w[((ptrdiff_t)gi * Mg + m + r) * L.K + k] : 0.0f;
        }
        for (n = 0; n < g[0]; n++) {
            const float *xg = x + ((ptrdiff_t)n * C + (ptrdiff_t)gi * Cg) * H * W, *p = xg;
            float *yg = y + ((ptrdiff_t)n * M + (ptrdiff_t)gi * Mg) * HoWo;
            if (L.planes) {
                float *pp = ws + L.pack;
                for (q = 0; q < Cg * L.plane; q++)
                    pp[q] = 0.0f;
                for (c = 0; c < Cg; c++)
                    for (h = 0; h < H; h++)
                        for (q = 0; q < W; q++)
                            pp[(ptrdiff_t)c * L.plane + (h + g[11]) * L.Wp + g[12] + q] =
                                xg[((ptrdiff_t)c * H + h) * W + q];
                p = pp;
            }
            for (m = 0; m < Mg; m += CW_M) {
                const float *bm = b ? b + gi * Mg + m : NULL;
                int32_t oh = 0, ow = 0; /* of the next position */
                for (q = 0; q < HoWo; q += CW_P) {
                    int32_t o[CW_P], np = HoWo - q < CW_P ? HoWo - q : CW_P;
                    tsr_vf a[2 * CW_P];
                    for (r = 0; r < CW_P; r++) { /* the last position repeats in a partial block */
                        o[r] = oh * g[7] * L.Wp + ow * g[8];
                        if (r + 1 < np && ++ow == Wo)
                            ow = 0, oh++;
                    }
                    if (++ow == Wo)
                        ow = 0, oh++;
                    cw_block(p, o, tap, ws + (ptrdiff_t)m * L.K, L.K, a);
                    cw_store(a, yg + (ptrdiff_t)m * HoWo + q, HoWo, bm, np, Mg - m);
                    if (Mg - m > 4)
                        cw_store(a + 4, yg + (ptrdiff_t)(m + 4) * HoWo + q, HoWo, bm ? bm + 4 : NULL, np, Mg - m - 4);
                }
            }
        }
    }
    return;
scalar:
    tsr_k_conv2d(x, w, b, y, g);
}

/* Four consecutive outputs of a pooling row whose windows lie inside the
 * input (no padding): lanes ow .. ow+3, taps in window order, Maximum by
 * f32x4.max (NaN if either is NaN, -0 below +0: SPEC 7.2) or fl(s + x),
 * then the division by div. xr: the first visited row at the window of ow. */
static void pool_w4(const float *xr, int32_t W, int32_t sw, int32_t rows, int32_t kW, float *y,
                    int32_t mode, float div)
{
    tsr_vf acc = {0}, v;
    int32_t i, j;
    for (i = 0; i < rows; i++, xr += W)
        for (j = 0; j < kW; j++) {
            const float *q = xr + j;
            if (sw == 1)
                v = VLOAD(q);
            else if (sw == 2) /* q[0], q[2], q[4], q[6]: no read past q[6] */
                v = __builtin_shufflevector(VLOAD(q), VLOAD(q + 3), 0, 2, 5, 7);
            else
                v = (tsr_vf){q[0], q[sw], q[2 * sw], q[3 * sw]};
            /* max from the first element, not from -inf: the same value,
             * Maximum being the max of a total order (-inf lowest, NaN highest) */
            acc = mode ? acc + v : i + j ? __builtin_wasm_max_f32x4(acc, v) : v;
        }
    VSTORE(y, mode ? acc / CW_SPLAT(div) : acc);
}

/* Pooling without pads (every window inside the input), when output rows
 * do not split into whole vectors: the lanes are 4 consecutive outputs of
 * y, across rows and planes, each loading its own window's elements in
 * window order. */
static void pool_flat(const float *x, float *y, const int32_t *g, int32_t mode)
{
    const int32_t H = g[2], W = g[3], kH = g[4], kW = g[5], Ho = g[12], Wo = g[13];
    const int32_t total = g[0] * g[1] * Ho * Wo;
    const float full = (float)((int64_t)kH * kW);
    int32_t f, r, i, j, np, pl = 0, oh = 0, ow = 0; /* plane, row, column of the next output */
    for (f = 0; f < total; f += CW_P) {
        const float *b[CW_P];
        tsr_vf acc = {0}, v;
        np = total - f < CW_P ? total - f : CW_P;
        for (r = 0; r < CW_P; r++) { /* the last output repeats in a partial vector */
            b[r] = x + ((ptrdiff_t)pl * H + (ptrdiff_t)oh * g[6]) * W + (ptrdiff_t)ow * g[7];
            if (r + 1 < np || r + 1 == CW_P) {
                if (++ow == Wo && (ow = 0, ++oh == Ho))
                    oh = 0, pl++;
            }
        }
        for (i = 0; i < kH; i++)
            for (j = 0; j < kW; j++) {
                ptrdiff_t t = (ptrdiff_t)i * W + j;
                v = (tsr_vf){b[0][t], b[1][t], b[2][t], b[3][t]};
                acc = mode ? acc + v : i + j ? __builtin_wasm_max_f32x4(acc, v) : v; /* as pool_w4 */
            }
        if (mode)
            acc = acc / CW_SPLAT(full);
        for (r = 0; r < np; r++)
            y[f + r] = acc[r];
    }
}
#endif

/* mode 0: max; 1: average over the visited elements; 2: average over kH*kW. */
static void pool2d(const float *x, float *y, const int32_t *g, int32_t mode)
{
    const int32_t H = g[2], W = g[3], kH = g[4], kW = g[5], sh = g[6], sw = g[7], pt = g[8], pl = g[9];
    const int32_t Ho = g[12], Wo = g[13];
    const float full = (float)((int64_t)kH * kW);
    int32_t p, oh, ow, i, j, i0, i1, j0, j1;
#if defined(__wasm_simd128__)
    if (!(g[8] | g[9] | g[10] | g[11]) && Wo % CW_P) {
        pool_flat(x, y, g, mode);
        return;
    }
#endif
    for (p = 0; p < g[0] * g[1]; p++) {
        const float *xp = x + (ptrdiff_t)p * H * W;
        float *yp = y + (ptrdiff_t)p * Ho * Wo;
        for (oh = 0; oh < Ho; oh++) {
            int32_t bh = oh * sh - pt;
            tap_range(bh, 1, H, kH, &i0, &i1);
            for (ow = 0; ow < Wo; ow++) {
                int32_t bw = ow * sw - pl;
                float acc = mode ? 0.0f : -u2f(0x7F800000u);
#if defined(__wasm_simd128__)
                if (ow + 4 <= Wo && bw >= 0 && (ow + 3) * sw - pl + kW <= W) {
                    pool_w4(xp + (ptrdiff_t)(bh + i0) * W + bw, W, sw, i1 - i0, kW, yp + (ptrdiff_t)oh * Wo + ow,
                            mode, mode == 2 ? full : (float)((int64_t)(i1 - i0) * kW));
                    ow += 3;
                    continue;
                }
#endif
                tap_range(bw, 1, W, kW, &j0, &j1);
                for (i = i0; i < i1; i++) {
                    const float *xr = xp + (ptrdiff_t)(bh + i) * W + bw;
                    for (j = j0; j < j1; j++)
                        acc = mode ? acc + xr[j] : tsr_k_max1(acc, xr[j]);
                }
                if (mode)
                    acc = acc / (mode == 2 ? full : (float)((int64_t)(i1 - i0) * (j1 - j0)));
                yp[(ptrdiff_t)oh * Wo + ow] = acc;
            }
        }
    }
}

/* Library fast path of MaxPool2D and AveragePool2D (TSR_K_DISPATCH): each
 * vector lane is one output element, the lanes consecutive elements of y
 * (across rows and planes, so small planes fill whole vectors). For each tap
 * (i, j), in window order, a masked gather loads every lane's input element;
 * lanes whose tap falls on padding keep their accumulator unchanged, so
 * every lane runs the SPEC 7.12 loop: the same elements in the same order,
 * Maximum of SPEC 7.2 (NaN wins, -0 below +0) or fl(s + x), and the same
 * divisor. The lane coordinates (plane offset, oh, ow) advance by W outputs
 * per vector. Taken when the window fits in the input (kH <= H, kW <= W):
 * larger windows are mostly padding, which the scalar loop clips away. */
#if defined(TSR_K_DISPATCH) && TSR_SIMD
#define TSR_POOL_DEFINE(FN, SFX, VF, VI, U, UI, W, GATHER, ZU)                                    \
    FN void pool_vec##SFX(const float *x, float *y, const int32_t *g, int32_t mode)               \
    {                                                                                             \
        const int32_t H = g[2], Wd = g[3], kH = g[4], kW = g[5], sh = g[6], sw = g[7];            \
        const int32_t Ho = g[12], Wo = g[13], total = g[0] * g[1] * Ho * Wo, dq = W / Wo;         \
        const int32_t dr = W % Wo, wraps = (dq + Ho) / Ho;                                        \
        const float full = (float)((int64_t)kH * kW);                                             \
        int32_t f, l, i, j, q, lanes[4][W];                                                       \
        VI ow, oh, pb, iota;                                                                      \
        for (l = 0; l < W; l++) {                                                                 \
            lanes[0][l] = l % Wo, lanes[1][l] = l / Wo % Ho;                                      \
            lanes[2][l] = l / Wo / Ho * H * Wd, lanes[3][l] = l;                                  \
        }                                                                                         \
        ow = VLOADT(UI, lanes[0]), oh = VLOADT(UI, lanes[1]);                                     \
        pb = VLOADT(UI, lanes[2]), iota = VLOADT(UI, lanes[3]);                                   \
        for (f = 0; f < total; f += W) {                                                          \
            VI bh = oh * sh - g[8], bw = ow * sw - g[9], base = pb + bh * Wd + bw;                \
            VI live = iota < total - f, cnt = {0}, m, rok;                                        \
            VF acc = (VF)((VI){0} + (int32_t)(mode ? 0u : 0xFF800000u)), v, r;                    \
            for (i = 0; i < kH; i++) {                                                            \
                rok = live & (bh + i >= 0) & (bh + i < H);                                        \
                for (j = 0; j < kW; j++) {                                                        \
                    m = rok & (bw + j >= 0) & (bw + j < Wd);                                      \
                    v = GATHER(acc, x, base + (i * Wd + j), m);                                   \
                    if (mode) {                                                                   \
                        r = acc + v;                                                              \
                        cnt -= m;                                                                 \
                    } else { /* SPEC 7.2, as tsr_k_max1 */                                        \
                        VI gt = v > acc, eq = v == acc, nan = v != v;                             \
                        r = (VF)(((VI)v & gt) | ((VI)acc & ~gt));                                 \
                        r = (VF)((((VI)v & (VI)acc) & eq) | ((VI)r & ~eq));                       \
                        r = (VF)(((VI)v & nan) | ((VI)r & ~nan));                                 \
                    }                                                                             \
                    acc = (VF)(((VI)r & m) | ((VI)acc & ~m));                                     \
                }                                                                                 \
            }                                                                                     \
            if (mode)                                                                             \
                acc = acc / (mode == 2 ? (VF){0} + full : __builtin_convertvector(cnt, VF));      \
            if (total - f >= W) {                                                                 \
                VSTORET(U, y + f, acc);                                                           \
            } else {                                                                              \
                float t[W];                                                                       \
                VSTORET(U, t, acc);                                                               \
                for (l = 0; l < total - f; l++)                                                   \
                    y[f + l] = t[l];                                                              \
            }                                                                                     \
            ow += dr, oh += dq;                                                                   \
            m = ow >= Wo, ow -= Wo & m, oh -= m;                                                  \
            for (q = 0; q < wraps; q++)                                                           \
                m = oh >= Ho, oh -= Ho & m, pb += (H * Wd) & m;                                   \
        }                                                                                         \
        ZU;                                                                                       \
    }

#if TSR_MM_AVX2
/* One 8-wide instance, also on the AVX-512 path (16-wide gathers measured
 * no faster on Zen 4); the baseline ISA has no gather and keeps the scalar
 * loop (the CLI's text budget). */
typedef int32_t tsr_v8iu __attribute__((vector_size(32), aligned(4), may_alias));
#define POOL_GATHER8(s, x, i, m) (tsr_v8f)_mm256_mask_i32gather_ps((__m256)(s), x, (__m256i)(i), (__m256)(m), 4)
TSR_POOL_DEFINE(__attribute__((cold)) TSR_AVX2_FN, _avx2, tsr_v8f, tsr_v8i, tsr_v8fu, tsr_v8iu, 8, POOL_GATHER8, _mm256_zeroupper())
#endif

/* Maximum of SPEC 7.2 on 8 lanes, up to NaN payloads: a NaN operand gives
 * the OR of the bits (a NaN); otherwise the larger both ways round, whose
 * AND is +0 for +0 against -0. */
#define POOL_MAX8(a, b)                                                                   \
    _mm256_blendv_ps(_mm256_and_ps(_mm256_max_ps(a, b), _mm256_max_ps(b, a)), _mm256_or_ps(a, b), \
                     _mm256_cmp_ps(a, b, _CMP_UNORD_Q))

/* The 8 outputs of two vectors a and b of row-pair Maximums, columns in
 * order: the Maximum of the even and odd columns (64-bit halves out of
 * order, put back by the permute). */
#define POOL_PAIRS8(a, b)                                                                          \
    _mm256_castpd_ps(_mm256_permute4x64_pd(                                                        \
        _mm256_castps_pd(POOL_MAX8(_mm256_shuffle_ps(a, b, 0x88), _mm256_shuffle_ps(a, b, 0xDD))), 0xD8))

/* MaxPool2D 2x2, stride 2, no pads, even H and W (CNN pooling layers),
 * without gathers: the Maximum of two input rows, then of its even and odd
 * columns. Rows of 4 or 8 (the small planes of CNNs on small images) take 4
 * or 2 row pairs per 32 input floats, whole vectors; then per pair of input
 * rows, 16 columns at a time, 8 outputs in order (masked loads and stores:
 * nothing past the row). The four operands of a window in another order
 * than SPEC 7.12's give the same bits: Maximum is the max of a total order,
 * and SPEC 6 does not tell NaN payloads apart. 0: not this shape. */
TSR_AVX2_FN int pool_max2_avx2(const float *x, float *y, const int32_t *g)
{
    const int32_t Wd = g[3], per = 16 / Wd; /* row pairs per 32 floats when Wd is 4 or 8 */
    const tsr_v8i iota = {0, 1, 2, 3, 4, 5, 6, 7};
    __m256 t, u, a, b;
    int64_t q = (int64_t)g[0] * g[1] * (g[2] / 2);
    int32_t j, h;
    if (g[4] != 2 || g[5] != 2 || g[6] != 2 || g[7] != 2 || (g[8] | g[9] | g[10] | g[11] | ((g[2] | Wd) & 1)))
        return 0;
    if (Wd == 4 || Wd == 8)
        for (; q >= per; q -= per, x += 32, y += 8) {
            a = _mm256_loadu_ps(x), b = _mm256_loadu_ps(x + 8);
            t = _mm256_loadu_ps(x + 16), u = _mm256_loadu_ps(x + 24);
            if (Wd == 4) { /* [A top | A bottom], [B ..] -> [A top | B top], [A bottom | B bottom] */
                __m256 a2 = _mm256_permute2f128_ps(a, b, 0x20), t2 = _mm256_permute2f128_ps(t, u, 0x20);
                b = _mm256_permute2f128_ps(a, b, 0x31), u = _mm256_permute2f128_ps(t, u, 0x31);
                a = a2, t = t2;
            }
            a = POOL_MAX8(a, b), b = POOL_MAX8(t, u);
            _mm256_storeu_ps(y, POOL_PAIRS8(a, b));
        }
    for (; q > 0; q--, x += 2 * Wd, y += Wd / 2)
        for (j = 0; j < Wd; j += 16) {
            for (h = 0; h < 2; h++) { /* columns j .. j+7, then j+8 .. j+15 */
                __m256i m = (__m256i)(iota < Wd - j - 8 * h);
                t = _mm256_maskload_ps(x + j + 8 * h, m);
                u = _mm256_maskload_ps(x + Wd + j + 8 * h, m);
                b = POOL_MAX8(t, u);
                if (!h)
                    a = b;
            }
            _mm256_maskstore_ps(y + j / 2, (__m256i)(iota < (Wd - j) / 2), POOL_PAIRS8(a, b));
        }
    _mm256_zeroupper();
    return 1;
}

/* 1 when a vector path ran the pooling (mode as pool2d). */
static int pool_fast(const float *x, float *y, const int32_t *g, int32_t mode)
{
    if (g[4] > g[2] || g[5] > g[3] || tsr_path() == TSR_K_PATH_BASE)
        return 0;
#if TSR_MM_AVX2
    if (!mode && pool_max2_avx2(x, y, g))
        return 1;
    pool_vec_avx2(x, y, g, mode);
    return 1;
#else
    (void)x, (void)y, (void)mode;
    return 0;
#endif
}
#define TSR_POOL_FAST(x, y, g, mode) \
    if (pool_fast(x, y, g, mode))    \
        return;
#else
#define TSR_POOL_FAST(x, y, g, mode)
#endif

void tsr_k_maxpool2d(const float *x, float *y, const int32_t *geom)
{
    TSR_POOL_FAST(x, y, geom, 0)
    pool2d(x, y, geom, 0);
}

void tsr_k_avgpool2d(const float *x, float *y, const int32_t *geom, int32_t count_include_pad)
{
    TSR_POOL_FAST(x, y, geom, count_include_pad ? 2 : 1)
    pool2d(x, y, geom, count_include_pad ? 2 : 1);
}

/* Library fast path of Conv2D (TSR_K_DISPATCH), for stride 1 along the
 * width: the group's input channels are copied into zero-padded planes in
 * the workspace, so padding and zero inputs are both zeros, and a run of
 * output positions is a run of consecutive plane elements for every tap
 * (c, i, j), shifted by c * plane + i * dh * Wp + j * dw. Each vector lane
 * is one output position; per tap it adds fl(x * w) masked to +0 where
 * x == 0. Adding +0 changes no sum here (a sum that starts at +0 is never
 * -0), so every lane is the SPEC 7.11 loop: the same taps, in the same
 * order. With sh == 1 the whole output plane is one run (Hout rows of Wp
 * positions; the Wp - Wout extra ones per row are computed and dropped),
 * else one run per output row. Four output channels share each input
 * load. The sums go to a buffer; the bias is added while copying out. */
#if defined(TSR_K_DISPATCH) && TSR_SIMD
#define CV_W 16 /* runs are rounded up to this (the widest vector) */
typedef struct {
    int64_t plane, runs, run_len, run_step, tbuf, total; /* in floats */
    int32_t Wp, kw; /* row length of a stored plane; stored planes per channel */
} cv_layout;

/* 0 when the fast path does not apply (stride across the width, or a
 * workspace above 2^26 floats). shifted: the layout of the x86-64 blocks for sh == 1
 * (0 when sh != 1): per channel kW planes of Hp rows x Wout, copy j holding
 * padded column ow + j * dw at column ow, so that tap (c, i, j) of output
 * (oh, ow) is element (oh + i * dh) * Wout + ow of copy j: one run of
 * exactly Hout * Wout positions, where the padded plane's run also passes
 * over the Wp - Wout columns of each row that no output uses. */
static int cv_plan(const int32_t *g, cv_layout *L, int shifted)
{
    int64_t Cg = g[1] / g[15], Mg = g[4] / g[15], Hp = (int64_t)g[2] + g[11] + g[13];
    int64_t Wp = (int64_t)g[3] + g[12] + g[14], kHe = (int64_t)g[9] * (g[5] - 1) + 1;
    int64_t kWe = (int64_t)g[10] * (g[6] - 1) + 1, reach, len;
    if (g[8] != 1 || Hp * Wp > (1 << 26) || (shifted && g[7] != 1))
        return 0;
    L->kw = shifted ? g[6] : 1;
    if (shifted)
        Wp = g[17], kWe = 1;
    L->Wp = (int32_t)Wp;
    L->runs = g[7] == 1 ? 1 : g[16];
    L->run_step = g[7] == 1 ? 0 : (int64_t)g[7] * Wp;
    len = g[7] == 1 ? (int64_t)(g[16] - 1) * Wp + g[17] : g[17];
    L->run_len = (len + CV_W - 1) / CV_W * CV_W;
    reach = (L->runs - 1) * L->run_step + L->run_len + (kHe - 1) * Wp + kWe;
    Hp = Hp * Wp + 8; /* room for cv_rows8's whole-vector stores past the last row */
    L->plane = ((reach > Hp ? reach : Hp) + CV_W - 1) / CV_W * CV_W;
    L->tbuf = Mg * L->runs * L->run_len;
    L->total = Cg * L->kw * L->plane + L->tbuf + Cg * g[5] * g[6]; /* + the blocks' tap offsets */
    return L->total <= (1 << 26);
}

/* Sums of output channels m0 .. m0+cnt-1 (cnt 1 to 4) of one group, for
 * every run, into t (cnt rows of runs * run_len). p: the padded planes;
 * w: the group's weights (Mg x K, K = Cg kH kW). */
#define TSR_CV_DEFINE(FN, SFX, VF, VI, U, W, ZU)                                                    \
    FN void cv_block##SFX(const float *p, const float *w, float *t, const int32_t *g,              \
                          const cv_layout *L, int32_t m0, int32_t cnt)                              \
    {                                                                                               \
        const int32_t Cg = g[1] / g[15], kH = g[5], kW = g[6], K = Cg * kH * kW;                    \
        const float *w0 = w + (ptrdiff_t)m0 * K, *w1 = w0 + (cnt > 1 ? K : 0);                      \
        const float *w2 = w0 + (cnt > 2 ? 2 * K : 0), *w3 = w0 + (cnt > 3 ? 3 * K : 0);             \
        const ptrdiff_t rl = (ptrdiff_t)(L->runs * L->run_len), dhp = (ptrdiff_t)g[9] * L->Wp;      \
        int64_t r, q;                                                                               \
        int32_t c, i, j, k;                                                                         \
        for (r = 0; r < L->runs; r++) {                                                             \
            for (q = 0; q < L->run_len; q += W) {                                                   \
                VF a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, z = {0};                                 \
                const float *pq = p + r * L->run_step + q;                                          \
                float *tq = t + r * L->run_len + q;                                                 \
                for (c = 0, k = 0; c < Cg; c++) {                                                   \
                    const float *pc = pq + (ptrdiff_t)c * L->plane;                                 \
                    for (i = 0; i < kH; i++) {                                                      \
                        const float *pr = pc + i * dhp;                                             \
                        for (j = 0; j < kW; j++, k++) {                                             \
                            VF xv = VLOADT(U, pr + (ptrdiff_t)j * g[10]);                           \
                            VI nz = (VI)(xv != z);                                                  \
                            a0 = a0 + (VF)((VI)(xv * w0[k]) & nz);                                  \
                            a1 = a1 + (VF)((VI)(xv * w1[k]) & nz);                                  \
                            a2 = a2 + (VF)((VI)(xv * w2[k]) & nz);                                  \
                            a3 = a3 + (VF)((VI)(xv * w3[k]) & nz);                                  \
                        }                                                                           \
                    }                                                                               \
                }                                                                                   \
                VSTORET(U, tq, a0);                                                                 \
                if (cnt > 1)                                                                        \
                    VSTORET(U, tq + rl, a1);                                                        \
                if (cnt > 2)                                                                        \
                    VSTORET(U, tq + 2 * rl, a2);                                                    \
                if (cnt > 3)                                                                        \
                    VSTORET(U, tq + 3 * rl, a3);                                                    \
            }                                                                                       \
        }                                                                                           \
        ZU;                                                                                         \
    }

#if !TSR_MM_WIDE /* x86-64 takes the register blocks below, or the SPEC loop */
TSR_CV_DEFINE(__attribute__((noinline, hot)) static, , tsr_vf, tsr_vi, tsr_vfu, MM_W, (void)0)
#else

/* The x86-64 paths, weights free of inf and NaN: then the zero skip needs
 * no mask. A zero input (or padding) times a finite weight is +-0, and
 * adding +-0 leaves the sum unchanged, since a sum that starts at +0 is
 * never -0 (the argument of the packed MatMul). Register-blocked like that
 * MatMul's block: N output channels x 16 run positions, the taps k in
 * increasing order, tap k's positions at p + off[k] (off[k] = c * plane +
 * i * dh * Wp + j * dw). Instances: 6 and 4 channels by two 8-wide vectors
 * (the 4-channel one ends a group whose last blocks of 6 would leave 2 or
 * more rows unused; 4 rows per tap run about 10% slower per product than 6
 * on Zen 4), and on the AVX-512 path 8 channels by one 16-wide vector, each
 * weight broadcast inside its multiply (fewer instructions per product:
 * the 8-wide loops are limited by how many instructions the core takes per
 * cycle, this one by its multiply and add pipes). Block row r is channel
 * m0 + r, or the group's last channel (rows = Mg - m0 below N), whose sums
 * it then stores again, the same bits; the clamps are resolved once into
 * per-row pointers, which keeps the code small. The sums plus the bias of
 * their row (fl(s + b) of SPEC 7.11, or + +0 without a bias, which changes
 * no sum) go to c, rows ldc apart. */
#define CB_ROW(r) const float *w##r = wr[r];
#define CB_DECL8(r) PV q##r##a = {0}, q##r##b = {0};
#define CB_STEP8(r) { float x = w##r[k]; q##r##a = q##r##a + x * v0; q##r##b = q##r##b + x * v1; }
#define CB_STORE8(r) VSTORET(PU, cr[r], q##r##a + bv[r]), VSTORET(PU, cr[r] + 8, q##r##b + bv[r]);
#define CB_DECL16(r) PV q##r = {0};
#define CB_STEP16(r) q##r = q##r + w##r[k] * v0;
#define CB_STORE16(r) VSTORET(PU, cr[r], q##r + bv[r]);
/* the 8-wide blocks' loop, two taps per step: their instructions per tap
 * are what limits them (Zen 4: -2% CPU time of the CNNs on the AVX2 path) */
#define CB_LOOP8 _Pragma("GCC unroll 2")
#define CB_LOOP16
#define TSR_CV_BLOCK_DEFINE(NAME, FN, N, ROWS, VT, UT, W, ZU)                                       \
    __attribute__((noinline, hot)) FN void NAME(const float *p, const float *w, int32_t K,           \
                                                const int32_t *off, float *c, ptrdiff_t ldc,         \
                                                int32_t rows, const float *bias)                     \
    {                                                                                                \
        typedef VT PV;                                                                               \
        typedef UT PU;                                                                               \
        const float *wr[N];                                                                          \
        float *cr[N];                                                                                \
        PV bv[N];                                                                                    \
        int32_t k, r;                                                                                \
        for (r = 0; r < N; r++) {                                                                    \
            int32_t e = r < rows ? r : rows - 1;                                                     \
            wr[r] = w + (ptrdiff_t)e * K, cr[r] = c + e * ldc, bv[r] = bias[e] - (PV){0};            \
        }                                                                                            \
        {                                                                                            \
            ROWS(CB_ROW)                                                                             \
            ROWS(CB_DECL##W)                                                                         \
            CB_LOOP##W for (k = 0; k < K; k++) {                                                     \
                PV v0 = VLOADT(PU, p + off[k]), v1 = VLOADT(PU, p + off[k] + 8);                    \
                (void)v1;                                                                            \
                ROWS(CB_STEP##W)                                                                     \
            }                                                                                        \
            ROWS(CB_STORE##W)                                                                        \
        }                                                                                            \
        ZU;                                                                                          \
    }
TSR_CV_BLOCK_DEFINE(cv_block6_avx2, TSR_AVX2_FN, 6, PK_ROWS6, tsr_v8f, tsr_v8fu, 8, _mm256_zeroupper())
#define CV_ROWS4(X) X(0) X(1) X(2) X(3)
TSR_CV_BLOCK_DEFINE(cv_block4_avx2, TSR_AVX2_FN, 4, CV_ROWS4, tsr_v8f, tsr_v8fu, 8, _mm256_zeroupper())
#define CV_ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
TSR_CV_BLOCK_DEFINE(cv_block8_wide, TSR_WIDE_FN, 8, CV_ROWS8, tsr_wf, tsr_wfu, 16, (void)0)

/* A group's input channels (x: Cg planes of H x W) into the blocks' planes
 * p when input and stored rows are at most 8 floats: per copy j (the
 * shifted layout, else j = 0) each row moved so that stored column ow holds
 * input column ow + j * dw - pl, or zero outside the input, by a lane
 * permute of a masked load. Stored rows as long as the input's (W == Wp)
 * and dividing 8 go R = 8 / W rows per vector; else one row per vector,
 * stored as 8 floats, zeros past Wp, which land on the next row (written
 * after), a zero border row or the plane's 8 floats of room. */
TSR_AVX2_FN void cv_rows8_avx2(const float *x, float *p, const int32_t *g, const cv_layout *L)
{
    const int32_t Cg = g[1] / g[15], H = g[2], W = g[3], Wp = L->Wp;
    /* no divisions: W of 1, 2, 4 or 8 is a power of 2 */
    const int32_t R = W == Wp && !(W & (W - 1)) && !(H & (8 / W - 1)) ? 8 / W : 1;
    const tsr_v8i iota = {0, 1, 2, 3, 4, 5, 6, 7}, ow = iota & (R > 1 ? W - 1 : 7), all = iota < W * R;
    int32_t c, h, j;
    for (j = 0; j < L->kw; j++) {
        const tsr_v8i src = iota + (j * g[10] - g[12]), col = ow + (j * g[10] - g[12]);
        const __m256 keep = (__m256)((col >= 0) & (col < W) & (ow < Wp));
        const float *xc = x;
        for (c = 0; c < Cg; c++) {
            float *d = p + (ptrdiff_t)(c * L->kw + j) * L->plane + (ptrdiff_t)g[11] * Wp;
            for (h = 0; h < H; h += R, xc += W * R, d += Wp * R)
                _mm256_storeu_ps(d, _mm256_and_ps(_mm256_permutevar8x32_ps(_mm256_maskload_ps(xc, (__m256i)all),
                                                                            (__m256i)src), keep));
        }
    }
    _mm256_zeroupper();
}

/* 1 when w (n floats) holds no inf or NaN */
static int cv_finite(const float *w, int64_t n)
{
    int64_t i = 0;
    tsr_vi vb = {0};
    int32_t bad = 0, l;
    for (; i + MM_W <= n; i += MM_W)
        vb |= ((tsr_vi)VLOAD(w + i) & 0x7FFFFFFF) > 0x7F7FFFFF;
    for (; i < n; i++)
        bad |= (f2u(w[i]) & 0x7FFFFFFFu) > 0x7F7FFFFFu;
    for (l = 0; l < MM_W; l++)
        bad |= vb[l];
    return !bad;
}
#endif

/* rows of d[0 .. n-1] = s[..] + *b (rows ss, ds apart), or + +0 when b is
 * NULL, by vectors. Adding +0
 * changes no bit of a sum (never -0) and turns only -0 into +0, which an
 * input in the padded planes may become: a zero either way, whose terms are
 * masked or add +-0 to a sum that is never -0. */
__attribute__((noinline, hot)) static void cv_copy(const float *s, ptrdiff_t ss, float *d, ptrdiff_t ds,
                                                   int32_t n, int32_t rows, const float *b)
{
    int32_t i, r;
    float bv = b ? *b : 0.0f;
    if (ss == n && ds == n) /* contiguous rows: one row, whole vectors */
        n *= rows, rows = 1;
    for (r = 0; r < rows; r++, s += ss, d += ds) {
        for (i = 0; i + MM_W <= n; i += MM_W)
            VSTORE(d + i, VLOAD(s + i) + bv);
        for (; i < n; i++)
            d[i] = s[i] + bv;
    }
}

int64_t tsr_k_conv2d_ws_floats(const int32_t *geom)
{
    cv_layout L;
    int64_t s;
    if (!cv_plan(geom, &L, 0))
        return 0;
    s = L.total;
    return cv_plan(geom, &L, 1) && L.total > s ? L.total : s;
}

/* cold: built for size, the CLI's text budget; its loops are per image and
 * channel block, the per-element work runs in the blocks and cv_copy. */
TSR_LIB_COLD TSR_NOLIBC void tsr_k_conv2d_ws(const float *x, const float *w, const float *b, float *y,
                                const int32_t *g, float *ws)
{
    const int32_t C = g[1], H = g[2], W = g[3], M = g[4], grp = g[15], Ho = g[16], Wo = g[17];
    const int32_t Cg = C / grp, Mg = M / grp, K = Cg * g[5] * g[6], path = tsr_path();
    cv_layout L;
    int32_t n, gi, c, m, j, cnt, blk6 = 0;
    int64_t e;
    int32_t *off = NULL;
    if (!ws || !cv_plan(g, &L, 0)) {
        tsr_k_conv2d(x, w, b, y, g);
        return;
    }
#if TSR_MM_WIDE
    /* the register blocks (both x86-64 paths), finite weights; with
     * sh == 1 on the shifted planes (measured on Zen 4: equal or faster on
     * the benchmark CNNs, the digits CNN's 4 x 4 planes most) */
    if (path == TSR_K_PATH_BASE || !cv_finite(w, (int64_t)M * K)) {
        /* a CPU without AVX2, or inf or NaN weights: the SPEC loop (the
         * blocks of the other targets would cost the CLI 0.7 KB of text) */
        tsr_k_conv2d(x, w, b, y, g);
        return;
    } else {
        int32_t i, kw;
        cv_layout S;
        blk6 = 1;
        if (cv_plan(g, &S, 1)) /* the workspace has room for either layout */
            L = S;
        kw = L.kw;
        off = (int32_t *)(void *)(ws + Cg * kw * L.plane + L.tbuf);
        for (c = 0, m = 0; c < Cg; c++)
            for (i = 0; i < g[5]; i++)
                for (j = 0; j < g[6]; j++)
                    off[m++] = (int32_t)((c * kw + (kw > 1 ? j : 0)) * L.plane) + i * g[9] * L.Wp +
                               (kw > 1 ? 0 : j * g[10]);
    }
#endif
    for (e = 0; e < Cg * L.kw * L.plane; e += MM_W) /* the planes' borders, zero once */
        VSTORE(ws + e, (tsr_vf){0});
    for (n = 0; n < g[0]; n++) {
        for (gi = 0; gi < grp; gi++) {
            float *t = ws + Cg * L.kw * L.plane, *yg = y + ((ptrdiff_t)n * M + (ptrdiff_t)gi * Mg) * Ho * Wo;
            const float *wg = w + (ptrdiff_t)gi * Mg * K, *xg = x + ((ptrdiff_t)n * C + (ptrdiff_t)gi * Cg) * H * W;
            /* the sums straight into y when a run is an output plane */
            const int direct = blk6 && L.runs == 1 && L.Wp == Wo && L.run_len == (int64_t)Ho * Wo;
#if TSR_MM_WIDE
            if (blk6 && W <= 8 && L.Wp <= 8)
                cv_rows8_avx2(xg, ws, g, &L);
            else
#endif
                for (c = 0; c < Cg; c++) /* the interior: the zero border stays */
                    for (j = 0; j < L.kw; j++) {
                        /* input column iw goes to column iw - s of the stored rows */
                        const int32_t s = j * g[10] - g[12], lo = s > 0 ? s : 0, hi = W < L.Wp + s ? W : L.Wp + s;
                        if (lo < hi)
                            cv_copy(xg + (ptrdiff_t)c * H * W + lo, W,
                                    ws + (c * L.kw + j) * L.plane + (ptrdiff_t)g[11] * L.Wp + lo - s, L.Wp, hi - lo,
                                    H, NULL);
                    }
            for (m = 0; m < Mg; m += cnt) {
                /* AVX-512: blocks of 8 while 7 or more channels are left; AVX2: of 6, the
                 * last 1 to 4 or 7 to 8 by 4 (32: 6 6 6 6 4 4); then by 6 or 4 */
                int32_t six = blk6 && (Mg - m > 8 || Mg - m == 5 || Mg - m == 6);
                int32_t eight = blk6 && path == TSR_K_PATH_AVX512 && (Mg - m >= 7);
                cnt = Mg - m < 4 ? Mg - m : 4;
                float *tm = t + (ptrdiff_t)m * L.runs * L.run_len;
#if TSR_MM_WIDE
                if (blk6) {
                    static const float zeros[8]; /* a bias of +0 for every row of a block */
                    const ptrdiff_t rl = direct ? (ptrdiff_t)Ho * Wo : (ptrdiff_t)(L.runs * L.run_len);
                    const float *bm = b ? b + gi * Mg + m : zeros;
                    int64_t r, q;
                    if (direct)
                        tm = yg + (ptrdiff_t)m * rl;
                    for (r = 0; r < L.runs; r++)
                        for (q = 0; q < L.run_len; q += 16)
                            (eight ? cv_block8_wide : six ? cv_block6_avx2 : cv_block4_avx2)(
                                ws + r * L.run_step + q, wg + (ptrdiff_t)m * K, K, off, tm + r * L.run_len + q, rl,
                                Mg - m, bm);
                    cnt = eight ? 8 : six ? 6 : cnt;
                    continue;
                }
#endif
#if !TSR_MM_WIDE
                cv_block(ws, wg, tm, g, &L, m, cnt);
#endif
            }
            for (m = 0; m < Mg && !direct; m++) /* blk6 added the bias */
                cv_copy(t + (ptrdiff_t)m * L.runs * L.run_len, L.runs == 1 ? L.Wp : L.run_len,
                        yg + (ptrdiff_t)m * Ho * Wo, Wo, Wo, Ho, b && !blk6 ? b + gi * Mg + m : NULL);
        }
    }
}
#endif
