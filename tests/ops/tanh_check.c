// tanh_check.c — ops/tanh.c against itself and the C library: xt_tanhf_n (eight lanes at a
// time where the CPU has AVX2) must give xt_tanhf's bits, and xt_tanhf those of the libm
// tanhf when that is fdlibm's (glibc before 2.41; its expm1f and tanhf are the fdlibm ones).
// Inputs: every 4093rd bit pattern, all floats of [-16, 16] in steps of 2^-10 and of
// [-2^-20, 2^-20] in steps of 2^-36, and the special values (zeros, subnormals, the branch
// thresholds and their neighbours, +-22, +-Inf, NaNs).
// Built and run by tests/test_ops_tanh.py; prints "N checked, M failed", exits 1 when M > 0.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

#include "ops/ops.h"

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int libm_is_fdlibm(void) {
#if defined(__GLIBC__)
    int major = 0, minor = 0;
    return sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) == 2 &&
           (major < 2 || (major == 2 && minor < 41));
#else
    return 0;
#endif
}

enum { CAP = 1 << 22 };

int main(void) {
    float *x = malloc(CAP * sizeof(float)), *y = malloc(CAP * sizeof(float));
    if (x == NULL || y == NULL) return 2;
    int64_t n = 0;
    for (uint64_t u = 0; u < (1ull << 32); u += 4093) x[n++] = from_bits((uint32_t)u);
    for (float v = -16.0f; v <= 16.0f; v += 0x1p-10f) x[n++] = v;
    for (float v = -0x1p-20f; v <= 0x1p-20f; v += 0x1p-36f) x[n++] = v;
    // thresholds of tanh (2^-55, 1, 22) and of expm1 on 2|x| (ln2 / 2, 1.5 ln2, 2^-25,
    // k = 23 and 56), both signs, with their neighbours
    const uint32_t edges[] = {0x24000000u, 0x3f800000u, 0x41b00000u, 0x3e317218u, 0x3f051592u,
                              0x32800000u, 0x40fe0000u, 0x419b0000u, 0x00000001u, 0x007fffffu,
                              0x7f7fffffu, 0x7f800000u, 0x7fc00000u, 0x7fa00001u, 0x00000000u};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        for (int d = -2; d <= 2; d++) {
            x[n++] = from_bits(edges[i] + (uint32_t)d);
            x[n++] = from_bits((edges[i] + (uint32_t)d) | 0x80000000u);
        }
    }
    if (n > CAP) return 2;
    const int with_libm = libm_is_fdlibm();
    long failed = 0;
    for (int64_t off = 0; off < 8; off++) {  // every alignment of the 8-lane blocks and tails
        xt_tanhf_n(y + off, x + off, n - off);
        for (int64_t i = off; i < n; i++) {
            float s = xt_tanhf(x[i]);
            int ok = bits(y[i]) == bits(s);
            if (with_libm && off == 0) ok = ok && bits(tanhf(x[i])) == bits(s);
            if (!ok && failed++ < 20) {
                printf("FAIL x=%a (0x%08x): xt_tanhf_n %a, xt_tanhf %a, libm %a\n", x[i],
                       bits(x[i]), y[i], s, tanhf(x[i]));
            }
        }
        if (off == 0) memset(y, 0, (size_t)n * sizeof(float));
    }
    printf("libm comparison: %s\n", with_libm ? "yes (fdlibm tanhf)" : "no (not fdlibm's)");
    printf("%lld checked, %ld failed\n", (long long)n, failed);
    free(x);
    free(y);
    return failed != 0;
}
