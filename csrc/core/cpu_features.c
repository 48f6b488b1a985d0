// cpu_features.c — x86 feature bits through the compiler's cpuid helpers; every other
// architecture reports no SIMD (the scalar kernels run).
#include "core/cpu_features.h"

#include <pthread.h>

static xt_cpu_features g_features;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void detect(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    // Every AVX2 CPU also has F16C (Haswell, Zen and later); clang 14 cannot query "f16c".
    g_features.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    g_features.avx512 = g_features.avx2 && __builtin_cpu_supports("avx512f") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512dq");
    g_features.avx512_vnni = g_features.avx512 && __builtin_cpu_supports("avx512vnni");
#if defined(__clang__) || __GNUC__ >= 11
    g_features.avx512_bf16 = g_features.avx512 && __builtin_cpu_supports("avx512bf16");
#endif
#endif
}

const xt_cpu_features *xt_cpu_features_get(void) {
    pthread_once(&g_once, detect);
    return &g_features;
}
