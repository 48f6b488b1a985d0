// tanh.c — tanhf as fdlibm evaluates it (glibc's tanhf and expm1f up to 2.40 are these), one
// element or eight lanes at a time. The vector version performs the scalar one's float
// operations lane by lane (the branches become selects), so both give the same bits, and
// those of such a libm's tanhf: the float GELU keeps its results while running ~10x faster.
//
// fdlibm: tanh(x) = 1 - 2 / (expm1(2|x|) + 2) for |x| >= 1, -t / (t + 2) with
// t = expm1(-2|x|) below, +-1 from |x| >= 22, x itself for tiny |x|; expm1 reduces
// x = k ln2 + r (ln2 in two parts), evaluates a degree-5 rational correction on r and puts k
// back into the exponent, with special forms for k = 0, +-1, and large or small k.
#include <math.h>

#include "core/cpu_features.h"
#include "ops/ops.h"
#include "quant/fp16.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define XT_TANH_X86 1
#endif


static const float kLn2Hi = 6.9313812256e-01f, kLn2Lo = 9.0580006145e-06f,
                   kInvLn2 = 1.4426950216e+00f, kQ1 = -3.3333335072e-02f,
                   kQ2 = 1.5873016091e-03f, kQ3 = -7.9365076090e-05f, kQ4 = 4.0082177293e-06f,
                   kQ5 = -2.0109921195e-07f;

// fdlibm's expm1f on the arguments tanh passes: 2 <= x < 44 (k >= 3) and -2 < x < 0
// (k <= 0), so its overflow, saturation and k = 1 branches are never reached.
static float expm1_reduced(float x) {
    const uint32_t hx = xt_f32_to_bits(x) & 0x7fffffffu;
    const bool neg = xt_f32_to_bits(x) >> 31;
    float c = 0.0f;
    int32_t k = 0;
    if (hx > 0x3eb17218u) {         // |x| > ln2 / 2
        float hi, lo;
        if (hx < 0x3f851592u) {     // |x| < 1.5 ln2
            hi = neg ? x + kLn2Hi : x - kLn2Hi;
            lo = neg ? -kLn2Lo : kLn2Lo;
            k = neg ? -1 : 1;
        } else {
            k = (int32_t)(kInvLn2 * x + (neg ? -0.5f : 0.5f));
            const float t = (float)k;
            hi = x - t * kLn2Hi;  // exact
            lo = t * kLn2Lo;
        }
        x = hi - lo;
        c = (hi - x) - lo;
    } else if (hx < 0x33000000u) {  // |x| < 2^-25
        return x;
    }
    const float hfx = 0.5f * x;
    const float hxs = x * hfx;
    const float r1 = 1.0f + hxs * (kQ1 + hxs * (kQ2 + hxs * (kQ3 + hxs * (kQ4 + hxs * kQ5))));
    float t = 3.0f - r1 * hfx;
    float e = hxs * ((r1 - t) / (6.0f - x * t));
    if (k == 0) return x - (x * e - hxs);
    e = (x * (e - c) - c);
    e -= hxs;
    if (k == -1) return 0.5f * (x - e) - 0.5f;
    float y;
    if (k <= -2 || k > 56) {
        y = 1.0f - (e - x);
        return xt_bits_to_f32(xt_f32_to_bits(y) + ((uint32_t)k << 23)) - 1.0f;
    }
    if (k < 23) {
        t = xt_bits_to_f32(0x3f800000u - (0x1000000u >> k));  // 1 - 2^-k
        y = t - (e - x);
    } else {
        t = xt_bits_to_f32((uint32_t)(0x7f - k) << 23);        // 2^-k
        y = x - (e + t);
        y += 1.0f;
    }
    return xt_bits_to_f32(xt_f32_to_bits(y) + ((uint32_t)k << 23));
}

float xt_tanhf(float x) {
    const uint32_t jx = xt_f32_to_bits(x), ix = jx & 0x7fffffffu;
    if (ix >= 0x7f800000u) return (jx >> 31) ? 1.0f / x - 1.0f : 1.0f / x + 1.0f;  // Inf, NaN
    float z;
    if (ix < 0x41b00000u) {  // |x| < 22
        if (ix == 0) return x;
        if (ix < 0x24000000u) return x * (1.0f + x);  // |x| < 2^-55
        if (ix >= 0x3f800000u) {
            const float t = expm1_reduced(2.0f * fabsf(x));
            z = 1.0f - 2.0f / (t + 2.0f);
        } else {
            const float t = expm1_reduced(-2.0f * fabsf(x));
            z = -t / (t + 2.0f);
        }
    } else {
        z = 1.0f - 1.0e-30f;  // 1
    }
    return (jx >> 31) ? -z : z;
}

#ifdef XT_TANH_X86
#define XT_TANH_TARGET __attribute__((target("avx2")))

XT_TANH_TARGET static inline __m256 set1(float v) { return _mm256_set1_ps(v); }

XT_TANH_TARGET static inline __m256 sel(__m256 mask, __m256 a, __m256 b) {
    return _mm256_blendv_ps(b, a, mask);  // mask ? a : b
}

// expm1_reduced, lane by lane (every branch evaluated, the lane's own one selected).
XT_TANH_TARGET static inline __m256 expm1_reduced8(__m256 x) {
    const __m256i bits = _mm256_castps_si256(x);
    const __m256i hx = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff));
    const __m256 neg = _mm256_castsi256_ps(_mm256_srai_epi32(bits, 31));
    const __m256 big = _mm256_castsi256_ps(_mm256_cmpgt_epi32(hx, _mm256_set1_epi32(0x3eb17218)));
    const __m256 one_ln2 =
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x3f851592), hx));
    const __m256 tiny =
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x33000000), hx));
    // k and the reduced argument
    const __m256i kn = _mm256_cvttps_epi32(
        _mm256_add_ps(_mm256_mul_ps(set1(kInvLn2), x), sel(neg, set1(-0.5f), set1(0.5f))));
    const __m256 tk = _mm256_cvtepi32_ps(kn);
    const __m256 hi_n = _mm256_sub_ps(x, _mm256_mul_ps(tk, set1(kLn2Hi)));
    const __m256 lo_n = _mm256_mul_ps(tk, set1(kLn2Lo));
    const __m256 hi_1 = sel(neg, _mm256_add_ps(x, set1(kLn2Hi)), _mm256_sub_ps(x, set1(kLn2Hi)));
    const __m256 lo_1 = sel(neg, set1(-kLn2Lo), set1(kLn2Lo));
    const __m256i k1 = _mm256_or_si256(_mm256_castps_si256(neg), _mm256_set1_epi32(1));  // +-1
    const __m256 hi = sel(one_ln2, hi_1, hi_n), lo = sel(one_ln2, lo_1, lo_n);
    const __m256 xr_big = _mm256_sub_ps(hi, lo);
    const __m256 c_big = _mm256_sub_ps(_mm256_sub_ps(hi, xr_big), lo);
    const __m256i kbig = _mm256_blendv_epi8(kn, k1, _mm256_castps_si256(one_ln2));
    const __m256 xr = sel(big, xr_big, x);
    const __m256 c = _mm256_and_ps(big, c_big);
    const __m256i k = _mm256_and_si256(_mm256_castps_si256(big), kbig);
    // the correction on the reduced argument
    const __m256 hfx = _mm256_mul_ps(set1(0.5f), xr);
    const __m256 hxs = _mm256_mul_ps(xr, hfx);
    __m256 p = _mm256_add_ps(set1(kQ4), _mm256_mul_ps(hxs, set1(kQ5)));
    p = _mm256_add_ps(set1(kQ3), _mm256_mul_ps(hxs, p));
    p = _mm256_add_ps(set1(kQ2), _mm256_mul_ps(hxs, p));
    p = _mm256_add_ps(set1(kQ1), _mm256_mul_ps(hxs, p));
    const __m256 r1 = _mm256_add_ps(set1(1.0f), _mm256_mul_ps(hxs, p));
    const __m256 t = _mm256_sub_ps(set1(3.0f), _mm256_mul_ps(r1, hfx));
    const __m256 e0 = _mm256_mul_ps(
        hxs, _mm256_div_ps(_mm256_sub_ps(r1, t), _mm256_sub_ps(set1(6.0f), _mm256_mul_ps(xr, t))));
    const __m256 r_k0 = _mm256_sub_ps(xr, _mm256_sub_ps(_mm256_mul_ps(xr, e0), hxs));
    __m256 e = _mm256_sub_ps(_mm256_mul_ps(xr, _mm256_sub_ps(e0, c)), c);
    e = _mm256_sub_ps(e, hxs);
    const __m256 r_km1 =
        _mm256_sub_ps(_mm256_mul_ps(set1(0.5f), _mm256_sub_ps(xr, e)), set1(0.5f));
    const __m256i kexp = _mm256_slli_epi32(k, 23);
    // k <= -2 or k > 56
    const __m256 y_far = _mm256_sub_ps(set1(1.0f), _mm256_sub_ps(e, xr));
    const __m256 r_far = _mm256_sub_ps(
        _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y_far), kexp)), set1(1.0f));
    // 2 <= k < 23: t = 1 - 2^-k
    const __m256 t_mid = _mm256_castsi256_ps(_mm256_sub_epi32(
        _mm256_set1_epi32(0x3f800000), _mm256_srlv_epi32(_mm256_set1_epi32(0x1000000), k)));
    const __m256 y_mid = _mm256_sub_ps(t_mid, _mm256_sub_ps(e, xr));
    // 23 <= k <= 56: t = 2^-k
    const __m256 t_hi = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(0x7f), k), 23));
    const __m256 y_hi = _mm256_add_ps(_mm256_sub_ps(xr, _mm256_add_ps(e, t_hi)), set1(1.0f));
    const __m256 is_mid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(23), k));
    const __m256 y_near = sel(is_mid, y_mid, y_hi);
    const __m256 r_near = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y_near), kexp));
    const __m256 far = _mm256_castsi256_ps(
        _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(-1), k),
                        _mm256_cmpgt_epi32(k, _mm256_set1_epi32(56))));
    __m256 r = sel(far, r_far, r_near);
    r = sel(_mm256_castsi256_ps(_mm256_cmpeq_epi32(k, _mm256_set1_epi32(-1))), r_km1, r);
    r = sel(_mm256_castsi256_ps(_mm256_cmpeq_epi32(k, _mm256_setzero_si256())), r_k0, r);
    return sel(tiny, x, r);
}

XT_TANH_TARGET static __m256 tanh8(__m256 x) {
    const __m256 sign = set1(-0.0f);
    const __m256 ax = _mm256_andnot_ps(sign, x);
    const __m256i ix = _mm256_castps_si256(ax);
    const __m256 ge1 = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ix, _mm256_set1_epi32(0x3f7fffff)));
    const __m256 ax2 = _mm256_mul_ps(set1(2.0f), ax);
    const __m256 t = expm1_reduced8(sel(ge1, ax2, _mm256_mul_ps(set1(-2.0f), ax)));
    const __m256 d = _mm256_add_ps(t, set1(2.0f));
    __m256 z = sel(ge1, _mm256_sub_ps(set1(1.0f), _mm256_div_ps(set1(2.0f), d)),
                   _mm256_div_ps(_mm256_xor_ps(t, sign), d));
    z = sel(_mm256_castsi256_ps(_mm256_cmpgt_epi32(ix, _mm256_set1_epi32(0x41afffff))),
            set1(1.0f - 1.0e-30f), z);
    z = _mm256_or_ps(z, _mm256_and_ps(x, sign));  // z >= 0 here: the sign of x
    // |x| < 2^-55 (0 included: x * (1 + x) keeps +-0), Inf and NaN
    const __m256 small = _mm256_mul_ps(x, _mm256_add_ps(set1(1.0f), x));
    z = sel(_mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x24000000), ix)), small, z);
    const __m256 inv = _mm256_div_ps(set1(1.0f), x);
    const __m256 special = sel(_mm256_castsi256_ps(_mm256_srai_epi32(_mm256_castps_si256(x), 31)),
                               _mm256_sub_ps(inv, set1(1.0f)), _mm256_add_ps(inv, set1(1.0f)));
    return sel(_mm256_castsi256_ps(_mm256_cmpgt_epi32(ix, _mm256_set1_epi32(0x7f7fffff))),
               special, z);
}

XT_TANH_TARGET static void tanh_avx2(float *y, const float *x, int64_t n8) {
    for (int64_t i = 0; i < n8; i += 8) _mm256_storeu_ps(y + i, tanh8(_mm256_loadu_ps(x + i)));
}
#endif

void xt_tanhf_n(float *y, const float *x, int64_t n) {
    int64_t i = 0;
#ifdef XT_TANH_X86
    if (xt_cpu_features_get()->avx2) {
        i = n & ~(int64_t)7;
        tanh_avx2(y, x, i);
    }
#endif
    for (; i < n; i++) y[i] = xt_tanhf(x[i]);
}
