/* One source, three dispatched paths: compiles the template header FK_TEMPLATE (a quoted file
 * name, defined before this is included) 4 floats wide for the baseline ISA and, on x86, 8 wide
 * for AVX2 and 16 wide for AVX-512F, its names suffixed _base, _avx2 and _avx512; then defines
 * FK_X86 and the dispatch on fk_path (fused_kernels.h): FK_DISPATCH(NAME, args) calls
 * NAME_<path>(args) and returns, FK_DISPATCH_RET returns its value. Included once by each C
 * file of kernels (fused_kernels.c, binary_kernels.c). */
#define FK_W 4
#define FK_SUF base
#define FK_ATTR
#include FK_TEMPLATE
#undef FK_W
#undef FK_SUF
#undef FK_ATTR

#if defined(__x86_64__) || defined(__i386__)
#define FK_X86 1
#define FK_W 8
#define FK_SUF avx2
#define FK_ATTR __attribute__((target("avx2")))
#include FK_TEMPLATE
#undef FK_W
#undef FK_SUF
#undef FK_ATTR
#define FK_W 16
#define FK_SUF avx512
#define FK_ATTR __attribute__((target("avx512f")))
#include FK_TEMPLATE
#undef FK_W
#undef FK_SUF
#undef FK_ATTR
#define FK_DISPATCH(NAME, ...)                                               \
    switch (fk_path) {                                                       \
    case FK_AVX512: NAME##_avx512(__VA_ARGS__); return;                      \
    case FK_AVX2: NAME##_avx2(__VA_ARGS__); return;                          \
    default: NAME##_base(__VA_ARGS__); return;                               \
    }
#define FK_DISPATCH_RET(NAME, ...)                                           \
    switch (fk_path) {                                                       \
    case FK_AVX512: return NAME##_avx512(__VA_ARGS__);                       \
    case FK_AVX2: return NAME##_avx2(__VA_ARGS__);                           \
    default: return NAME##_base(__VA_ARGS__);                                \
    }
#else
#define FK_X86 0
#define FK_DISPATCH(NAME, ...) NAME##_base(__VA_ARGS__);
#define FK_DISPATCH_RET(NAME, ...) return NAME##_base(__VA_ARGS__);
#endif
