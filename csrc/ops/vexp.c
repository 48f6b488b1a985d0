// vexp.c — exp(x) as llama.cpp's x86 CPU backend evaluates it in softmax and SiLU: a
// range reduction to 2^n * exp(b) and a degree-5 polynomial, eight lanes at a time (max error
// about 1.5 ulp). Using the same formula, lane for lane, gives the same bits as the peer; the
// scalar lane function performs the same operations one element at a time, so every SIMD
// level of xtral agrees too. Elements past the last multiple of 8 use libm's expf, as ggml.
#include <math.h>

#include "core/cpu_features.h"
#include "ops/ops.h"
#include "quant/fp16.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define XT_VEXP_X86 1
#endif


// One lane of the vector formula below, operation for operation.
static float exp_lane(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const uint32_t e = xt_f32_to_bits(z) << 23;
    const float k = xt_bits_to_f32(e + xt_f32_to_bits(1.0f));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                              fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                         u, 0x1.ffffecp-1f * b);
    if (!(fabsf(n) > 126.0f)) return fmaf(k, j, k);
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = xt_bits_to_f32(g + 0x7f000000u);
    const float s2 = xt_bits_to_f32(e - g);
    if (fabsf(n) > 192.0f) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

static void vexp8_scalar(float *y, const float *x) {
    for (int i = 0; i < 8; i++) y[i] = exp_lane(x[i]);
}

#ifdef XT_VEXP_X86
__attribute__((target("avx2,fma"))) static inline __m256 vexp8(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k =
        _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256i c = _mm256_castps_si256(_mm256_cmp_ps(absn, _mm256_set1_ps(126), _CMP_GT_OQ));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b,
                                        _mm256_set1_ps(0x1.573e2ep-5f)),
                        u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b,
                                        _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(c))) return _mm256_fmadd_ps(j, k, k);
    const __m256i g = _mm256_and_si256(
        _mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
        _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256i d = _mm256_castps_si256(_mm256_cmp_ps(absn, _mm256_set1_ps(192), _CMP_GT_OQ));
    return _mm256_or_ps(
        _mm256_and_ps(_mm256_castsi256_ps(d), _mm256_mul_ps(s1, s1)),
        _mm256_andnot_ps(_mm256_castsi256_ps(d),
                         _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(c),
                                                    _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                                      _mm256_andnot_ps(_mm256_castsi256_ps(c),
                                                       _mm256_fmadd_ps(k, j, k)))));
}

__attribute__((target("avx2,fma"))) static void vexp8_avx2(float *y, const float *x) {
    _mm256_storeu_ps(y, vexp8(_mm256_loadu_ps(x)));
}

__attribute__((target("avx2,fma"))) static void silu_mul_avx2(float *y, const float *g,
                                                              const float *u, int64_t n8) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t i = 0; i < n8; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = vexp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
        const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, e));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
    }
}
#endif

xt_vexp8_fn xt_vexp8_get(void) {
#ifdef XT_VEXP_X86
    if (xt_cpu_features_get()->avx2) return vexp8_avx2;
#endif
    return vexp8_scalar;
}

void xt_swiglu_f32(float *y, const float *g, const float *u, int64_t n) {
    const int64_t n8 = n & ~(int64_t)7;
    int64_t i = 0;
#ifdef XT_VEXP_X86
    if (xt_cpu_features_get()->avx2) {
        silu_mul_avx2(y, g, u, n8);
        i = n8;
    }
#endif
    for (; i < n8; i++) y[i] = g[i] / (1.0f + exp_lane(0.0f - g[i])) * u[i];
    for (; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
