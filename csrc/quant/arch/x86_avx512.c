// x86_avx512.c — AVX-512 F/BW/VL/DQ dot products (VNNI where the CPU has it), compiled with
// function target attributes so the rest of the build stays portable; picked by quant_table.c.
//
// Layout: each 512-bit step handles two 32-element groups side by side (two legacy blocks, or
// two sub-block groups of a K-quant), decoded with the AVX2 helpers of x86_common.h.
// VNNI: the legacy-block kernels are written once with a constant `vnni` flag and
// instantiated twice; the VNNI instance issues vpdpbusd through inline asm, so no function
// compiled for plain AVX-512 ever contains it and the compiler cannot emit it elsewhere
// (the K-quants multiply by sub-block scales in int16 right after maddubs, where VNNI does
// not save work). Accuracy as in x86_avx2.c.
#include "quant/arch/x86_common.h"
#include "quant/quant.h"

#if defined(XT_X86)

// ---- helpers ----

XT_INLINE XT_TARGET_AVX512 __m512i join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

XT_INLINE XT_TARGET_AVX512 __m512 scale2(float d0, float d1) {
    return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}

XT_INLINE XT_TARGET_AVX512 __m512i scale16x2(int a, int b) {
    return join(_mm256_set1_epi16((short)a), _mm256_set1_epi16((short)b));
}

XT_INLINE XT_TARGET_AVX512 float hsum512(__m512 v) {
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 s = _mm256_add_ps(_mm512_castps512_ps256(v), hi);
    return xt_x86_hsum_ps(s);
}

// acc + sum of u8 x s8 products (16 int32 lanes of 4 bytes each).
XT_INLINE XT_TARGET_AVX512 __m512i dp_us(__m512i acc, __m512i u, __m512i s, int vnni) {
    if (vnni) {
#if defined(XT_X86_TEST_SIMDE) || (defined(_MSC_VER) && !defined(__clang__))
        acc = _mm512_dpbusd_epi32(acc, u, s);
#else
        __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
#endif
        return acc;
    }
    __m512i p = _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1));
    return _mm512_add_epi32(acc, p);
}

// sum of (u - off) x s (u <= 31, off <= 32), 16 int32 lanes.
XT_INLINE XT_TARGET_AVX512 __m512i dp_us_off(__m512i u, __m512i s, __m512i off, int vnni) {
    if (vnni) {
        __m512i zero = _mm512_setzero_si512();
        return _mm512_sub_epi32(dp_us(zero, u, s, 1), dp_us(zero, off, s, 1));
    }
    __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(u, s), _mm512_maddubs_epi16(off, s));
    return _mm512_madd_epi16(p, _mm512_set1_epi16(1));
}

// Sign trick without vpsignb: |x| and y negated where x < 0.
XT_INLINE XT_TARGET_AVX512 __m512i neg_where(__m512i y, __m512i x) {
    return _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
}

XT_INLINE XT_TARGET_AVX512 __m512i dp_ss(__m512i x, __m512i y, int vnni) {
    return dp_us(_mm512_setzero_si512(), _mm512_abs_epi8(x), neg_where(y, x), vnni);
}

// int16 pair sums of x * y for signed bytes (as xt_x86_mul_ss16).
XT_INLINE XT_TARGET_AVX512 __m512i mul_ss16(__m512i x, __m512i y) {
    return _mm512_maddubs_epi16(_mm512_abs_epi8(x), neg_where(y, x));
}

XT_INLINE XT_TARGET_AVX512 __m512i load_y2(const int8_t *a, const int8_t *b) {
    return join(_mm256_loadu_si256((const __m256i *)a), _mm256_loadu_si256((const __m256i *)b));
}

// ---- legacy 32-element blocks (two per step) ----

XT_INLINE XT_TARGET_AVX512 float q4_0_body(int64_t n, const void *w, const void *a, int vnni) {
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK4_0;
    const __m512i off = _mm512_set1_epi8(8);
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m512i u = join(xt_x86_nibbles32(x[i].qs), xt_x86_nibbles32(x[i + 1].qs));
        __m512i s = dp_us_off(u, load_y2(y[i].qs, y[i + 1].qs), off, vnni);
        float d0 = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        float d1 = xt_x86_h2f(x[i + 1].d) * xt_x86_h2f(y[i + 1].d);
        acc = _mm512_fmadd_ps(scale2(d0, d1), _mm512_cvtepi32_ps(s), acc);
    }
    float sum = hsum512(acc);
    if (i < nb) {
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256i s = xt_x86_dot_us_off(xt_x86_nibbles32(x[i].qs), qy, _mm256_set1_epi8(8));
        float d = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        sum += xt_x86_hsum_ps(_mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s)));
    }
    return sum;
}

XT_INLINE XT_TARGET_AVX512 float q8_0_body(int64_t n, const void *w, const void *a, int vnni) {
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m512i s = dp_ss(load_y2(x[i].qs, x[i + 1].qs), load_y2(y[i].qs, y[i + 1].qs), vnni);
        float d0 = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        float d1 = xt_x86_h2f(x[i + 1].d) * xt_x86_h2f(y[i + 1].d);
        acc = _mm512_fmadd_ps(scale2(d0, d1), _mm512_cvtepi32_ps(s), acc);
    }
    float sum = hsum512(acc);
    if (i < nb) {
        __m256i s = xt_x86_dot_ss(_mm256_loadu_si256((const __m256i *)x[i].qs),
                                  _mm256_loadu_si256((const __m256i *)y[i].qs));
        float d = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        sum += xt_x86_hsum_ps(_mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s)));
    }
    return sum;
}

// IQ4_NL and MXFP4 share the block shape (scale, 16 bytes of nibbles) up to the scale field.
XT_INLINE XT_TARGET_AVX512 float lut_body(int64_t n, const void *w, const void *a, int vnni,
                                          int mxfp4) {
    const block_q8_0 *y = a;
    const int64_t nb = n / 32;
    const size_t bsz = mxfp4 ? sizeof(block_mxfp4) : sizeof(block_iq4_nl);
    const size_t qoff = mxfp4 ? offsetof(block_mxfp4, qs) : offsetof(block_iq4_nl, qs);
    const __m256i table = xt_x86_table16(mxfp4 ? xt_x86_kvalues_mxfp4 : xt_x86_kvalues_iq4nl);
    const uint8_t *xb = w;
    __m512 acc = _mm512_setzero_ps();
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i += 2) {
        const uint8_t *b0 = xb + (size_t)i * bsz;
        const uint8_t *b1 = b0 + bsz;
        const int pair = i + 1 < nb;
        __m256i v0 = _mm256_shuffle_epi8(table, xt_x86_nibbles32(b0 + qoff));
        float d0, d1 = 0.0f;
        if (mxfp4) {
            d0 = xt_x86_e8m0_half(((const block_mxfp4 *)b0)->e) * xt_x86_h2f(y[i].d);
        } else {
            d0 = xt_x86_h2f(((const block_iq4_nl *)b0)->d) * xt_x86_h2f(y[i].d);
        }
        if (!pair) {
            __m256i s = xt_x86_dot_ss(v0, _mm256_loadu_si256((const __m256i *)y[i].qs));
            sum += xt_x86_hsum_ps(_mm256_mul_ps(_mm256_set1_ps(d0), _mm256_cvtepi32_ps(s)));
            break;
        }
        __m256i v1 = _mm256_shuffle_epi8(table, xt_x86_nibbles32(b1 + qoff));
        if (mxfp4) {
            d1 = xt_x86_e8m0_half(((const block_mxfp4 *)b1)->e) * xt_x86_h2f(y[i + 1].d);
        } else {
            d1 = xt_x86_h2f(((const block_iq4_nl *)b1)->d) * xt_x86_h2f(y[i + 1].d);
        }
        __m512i s = dp_ss(join(v0, v1), load_y2(y[i].qs, y[i + 1].qs), vnni);
        acc = _mm512_fmadd_ps(scale2(d0, d1), _mm512_cvtepi32_ps(s), acc);
    }
    return hsum512(acc) + sum;
}

// Q4_1 / Q5_1 against Q8_1: codes are unsigned, the min term is added per block.
XT_INLINE XT_TARGET_AVX512 __m256i q5_codes(const uint8_t *qs, const uint8_t *qh) {
    __m256i hi = _mm256_and_si256(xt_x86_bits32(qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(xt_x86_nibbles32(qs), hi);
}

XT_INLINE XT_TARGET_AVX512 float q4_1_body(int64_t n, const void *w, const void *a, int vnni) {
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK4_1;
    __m512 acc = _mm512_setzero_ps();
    float sum = 0.0f;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m512i u = join(xt_x86_nibbles32(x[i].qs), xt_x86_nibbles32(x[i + 1].qs));
        __m512i s = dp_us(_mm512_setzero_si512(), u, load_y2(y[i].qs, y[i + 1].qs), vnni);
        float d0 = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        float d1 = xt_x86_h2f(x[i + 1].d) * xt_x86_h2f(y[i + 1].d);
        acc = _mm512_fmadd_ps(scale2(d0, d1), _mm512_cvtepi32_ps(s), acc);
        sum += xt_x86_h2f(x[i].m) * xt_x86_h2f(y[i].s);
        sum += xt_x86_h2f(x[i + 1].m) * xt_x86_h2f(y[i + 1].s);
    }
    if (i < nb) {
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256i s = xt_x86_dot_us(xt_x86_nibbles32(x[i].qs), qy);
        float d = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        sum += xt_x86_hsum_ps(_mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s)));
        sum += xt_x86_h2f(x[i].m) * xt_x86_h2f(y[i].s);
    }
    return hsum512(acc) + sum;
}

XT_INLINE XT_TARGET_AVX512 float q5_1_body(int64_t n, const void *w, const void *a, int vnni) {
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK5_1;
    __m512 acc = _mm512_setzero_ps();
    float sum = 0.0f;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m512i u = join(q5_codes(x[i].qs, x[i].qh), q5_codes(x[i + 1].qs, x[i + 1].qh));
        __m512i s = dp_us(_mm512_setzero_si512(), u, load_y2(y[i].qs, y[i + 1].qs), vnni);
        float d0 = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        float d1 = xt_x86_h2f(x[i + 1].d) * xt_x86_h2f(y[i + 1].d);
        acc = _mm512_fmadd_ps(scale2(d0, d1), _mm512_cvtepi32_ps(s), acc);
        sum += xt_x86_h2f(x[i].m) * xt_x86_h2f(y[i].s);
        sum += xt_x86_h2f(x[i + 1].m) * xt_x86_h2f(y[i + 1].s);
    }
    if (i < nb) {
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256i s = xt_x86_dot_us(q5_codes(x[i].qs, x[i].qh), qy);
        float d = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        sum += xt_x86_hsum_ps(_mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s)));
        sum += xt_x86_h2f(x[i].m) * xt_x86_h2f(y[i].s);
    }
    return hsum512(acc) + sum;
}

XT_INLINE XT_TARGET_AVX512 float q5_0_body(int64_t n, const void *w, const void *a, int vnni) {
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK5_0;
    const __m512i off = _mm512_set1_epi8(16);
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m512i u = join(q5_codes(x[i].qs, x[i].qh), q5_codes(x[i + 1].qs, x[i + 1].qh));
        __m512i s = dp_us_off(u, load_y2(y[i].qs, y[i + 1].qs), off, vnni);
        float d0 = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        float d1 = xt_x86_h2f(x[i + 1].d) * xt_x86_h2f(y[i + 1].d);
        acc = _mm512_fmadd_ps(scale2(d0, d1), _mm512_cvtepi32_ps(s), acc);
    }
    float sum = hsum512(acc);
    if (i < nb) {
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256i s = xt_x86_dot_us_off(q5_codes(x[i].qs, x[i].qh), qy, _mm256_set1_epi8(16));
        float d = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        sum += xt_x86_hsum_ps(_mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s)));
    }
    return sum;
}

// Instantiations: plain AVX-512 and AVX-512 VNNI.
#define XT_LEGACY_PAIR(name, call)                                                     \
    XT_TARGET_AVX512 static float dot_##name(int64_t n, const void *restrict w,        \
                                             const void *restrict a) {                 \
        const int vnni = 0;                                                            \
        return call;                                                                   \
    }                                                                                  \
    XT_TARGET_AVX512 static float dot_##name##_vnni(int64_t n, const void *restrict w, \
                                                    const void *restrict a) {          \
        const int vnni = 1;                                                            \
        return call;                                                                   \
    }

XT_LEGACY_PAIR(q4_0, q4_0_body(n, w, a, vnni))
XT_LEGACY_PAIR(q8_0, q8_0_body(n, w, a, vnni))
XT_LEGACY_PAIR(iq4_nl, lut_body(n, w, a, vnni, 0))
XT_LEGACY_PAIR(mxfp4, lut_body(n, w, a, vnni, 1))
XT_LEGACY_PAIR(q4_1, q4_1_body(n, w, a, vnni))
XT_LEGACY_PAIR(q5_0, q5_0_body(n, w, a, vnni))
XT_LEGACY_PAIR(q5_1, q5_1_body(n, w, a, vnni))

// ---- K-quants against Q8_K (two 32-element groups per step) ----

XT_TARGET_AVX512 static float dot_q4_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        uint8_t sc[8], mn[8];
        xt_x86_k4_scales(x[i].scales, sc, mn);
        __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums),
                                       _mm256_set1_epi16(1));
        __m256i mv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)mn));
        __m256i msum = _mm256_mullo_epi32(bs, mv);
        __m512i sumi = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) {
            // [low nibbles = sub-block 2j | high nibbles = sub-block 2j+1]
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            __m512i c = _mm512_and_si512(join(q, _mm256_srli_epi16(q, 4)), m4);
            __m512i qy = _mm512_loadu_si512((const void *)(y[i].qs + 64 * j));
            __m512i p = _mm512_maddubs_epi16(c, qy);
            p = _mm512_madd_epi16(p, scale16x2(sc[2 * j], sc[2 * j + 1]));
            sumi = _mm512_add_epi32(sumi, p);
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        float dmin = y[i].d * xt_x86_h2f(x[i].dmin);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(msum), accm);
    }
    return hsum512(acc) - xt_x86_hsum_ps(accm);
}

XT_TARGET_AVX512 static float dot_q5_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m256i one = _mm256_set1_epi8(1);
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        uint8_t sc[8], mn[8];
        xt_x86_k4_scales(x[i].scales, sc, mn);
        __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums),
                                       _mm256_set1_epi16(1));
        __m256i mv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)mn));
        __m256i msum = _mm256_mullo_epi32(bs, mv);
        __m256i qh = _mm256_loadu_si256((const __m256i *)x[i].qh);
        __m512i sumi = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            __m256i hlo = _mm256_slli_epi16(_mm256_and_si256(qh, one), 4);
            __m256i hhi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4);
            qh = _mm256_srli_epi16(qh, 2);
            __m512i c = _mm512_and_si512(join(q, _mm256_srli_epi16(q, 4)), m4);
            c = _mm512_or_si512(c, join(hlo, hhi));
            __m512i qy = _mm512_loadu_si512((const void *)(y[i].qs + 64 * j));
            __m512i p = _mm512_maddubs_epi16(c, qy);
            p = _mm512_madd_epi16(p, scale16x2(sc[2 * j], sc[2 * j + 1]));
            sumi = _mm512_add_epi32(sumi, p);
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        float dmin = y[i].d * xt_x86_h2f(x[i].dmin);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(msum), accm);
    }
    return hsum512(acc) - xt_x86_hsum_ps(accm);
}

// int16 scales for two 32-element groups of 16-element sub-blocks s0..s3 (lanes of 8).
XT_INLINE XT_TARGET_AVX512 __m512i scale16x4(int s0, int s1, int s2, int s3) {
    __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)s0)),
                                         _mm_set1_epi16((short)s1), 1);
    __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)s2)),
                                         _mm_set1_epi16((short)s3), 1);
    return join(lo, hi);
}

XT_TARGET_AVX512 static float dot_q6_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m2 = _mm256_set1_epi8(0x30);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const int8_t *sc = x[i].scales;
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m512i sumi = _mm512_castsi256_si512(
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5)));
        sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h;
            const int8_t *q8 = y[i].qs + 128 * h;
            const int8_t *s = sc + 8 * h;
            __m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                         _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                         _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                         _mm256_and_si256(qh, m2));
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                         _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
            __m512i p01 = _mm512_maddubs_epi16(join(q0, q1), _mm512_loadu_si512((const void *)q8));
            __m512i p23 =
                _mm512_maddubs_epi16(join(q2, q3), _mm512_loadu_si512((const void *)(q8 + 64)));
            p01 = _mm512_madd_epi16(p01, scale16x4(s[0], s[1], s[2], s[3]));
            p23 = _mm512_madd_epi16(p23, scale16x4(s[4], s[5], s[6], s[7]));
            sumi = _mm512_add_epi32(sumi, _mm512_add_epi32(p01, p23));
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return hsum512(acc);
}

XT_TARGET_AVX512 static float dot_q2_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *sc = x[i].scales;
        __m128i s8 = _mm_loadu_si128((const __m128i *)sc);
        __m256i mins16 =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s8, 4), _mm_set1_epi8(15)));
        __m256i msum = _mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m512i sumi = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m256i qv = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            const int8_t *q8 = y[i].qs + 128 * h;
            for (int k = 0; k < 4; k += 2) {
                __m256i c0 = _mm256_and_si256(qv, m3);
                __m256i c1 = _mm256_and_si256(_mm256_srli_epi16(qv, 2), m3);
                qv = _mm256_srli_epi16(qv, 4);
                __m512i p = _mm512_maddubs_epi16(join(c0, c1),
                                                 _mm512_loadu_si512((const void *)(q8 + 32 * k)));
                const uint8_t *s = sc + 8 * h + 2 * k;
                p = _mm512_madd_epi16(p, scale16x4(s[0] & 15, s[1] & 15, s[2] & 15, s[3] & 15));
                sumi = _mm512_add_epi32(sumi, p);
            }
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        float dmin = y[i].d * xt_x86_h2f(x[i].dmin);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(msum), accm);
    }
    return hsum512(acc) - xt_x86_hsum_ps(accm);
}

XT_TARGET_AVX512 static float dot_q3_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i one = _mm256_set1_epi8(1);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        int8_t sc[16];
        xt_x86_q3k_scales(x[i].scales, sc);
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m512i sumi = _mm512_castsi256_si512(
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 2)));
        sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[i].hmask);
        for (int h = 0; h < 2; h++) {
            __m256i qv = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            const int8_t *q8 = y[i].qs + 128 * h;
            for (int k = 0; k < 4; k += 2) {
                __m256i c0 = _mm256_or_si256(_mm256_and_si256(qv, m3),
                                             _mm256_slli_epi16(_mm256_and_si256(hm, one), 2));
                __m256i c1 = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(qv, 2), m3),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 1), one), 2));
                qv = _mm256_srli_epi16(qv, 4);
                hm = _mm256_srli_epi16(hm, 2);
                __m512i p = _mm512_maddubs_epi16(join(c0, c1),
                                                 _mm512_loadu_si512((const void *)(q8 + 32 * k)));
                const int8_t *s = sc + 8 * h + 2 * k;
                p = _mm512_madd_epi16(p, scale16x4(s[0], s[1], s[2], s[3]));
                sumi = _mm512_add_epi32(sumi, p);
            }
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return hsum512(acc);
}

XT_TARGET_AVX512 static float dot_iq4_xs(int64_t n, const void *restrict w,
                                         const void *restrict a) {
    const block_iq4_xs *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i table = xt_x86_table16(xt_x86_kvalues_iq4nl);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m512i sumi = _mm512_setzero_si512();
        for (int b = 0; b < 8; b += 2) {
            __m256i v0 = _mm256_shuffle_epi8(table, xt_x86_nibbles32(x[i].qs + 16 * b));
            __m256i v1 = _mm256_shuffle_epi8(table, xt_x86_nibbles32(x[i].qs + 16 * b + 16));
            __m512i qy = _mm512_loadu_si512((const void *)(y[i].qs + 32 * b));
            __m512i p = mul_ss16(join(v0, v1), qy);
            __m512i ls = scale16x2(xt_x86_iq4xs_scale(&x[i], b), xt_x86_iq4xs_scale(&x[i], b + 1));
            sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(p, ls));
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return hsum512(acc);
}

// ---- float weights against F32 activations ----

XT_TARGET_AVX512 static float dot_f32(int64_t n, const void *restrict w, const void *restrict a) {
    const float *x = w;
    const float *y = a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 31 < n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
    }
    float s = hsum512(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

XT_TARGET_AVX512 static float dot_f16(int64_t n, const void *restrict w, const void *restrict a) {
    const xt_half *x = w;
    const float *y = a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 31 < n; i += 32) {
        __m512 x0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i)));
        __m512 x1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16)));
        acc0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(y + i), acc0);
        acc1 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(y + i + 16), acc1);
    }
    float s = hsum512(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++) s += xt_fp16_to_fp32(x[i]) * y[i];
    return s;
}

XT_INLINE XT_TARGET_AVX512 __m512 bf16x16(const xt_bf16 *p) {
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

XT_TARGET_AVX512 static float dot_bf16(int64_t n, const void *restrict w, const void *restrict a) {
    const xt_bf16 *x = w;
    const float *y = a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 31 < n; i += 32) {
        acc0 = _mm512_fmadd_ps(bf16x16(x + i), _mm512_loadu_ps(y + i), acc0);
        acc1 = _mm512_fmadd_ps(bf16x16(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
    }
    float s = hsum512(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++) s += xt_bf16_to_fp32(x[i]) * y[i];
    return s;
}

// ---- activation quantizers (shared bodies in x86_common.h; identical bytes) ----

XT_TARGET_AVX512 static void act_q8_0(const float *restrict src, void *restrict dst, int64_t n) {
    xt_x86_quant_q8_0(src, dst, n);
}

XT_TARGET_AVX512 static void act_q8_1(const float *restrict src, void *restrict dst, int64_t n) {
    xt_x86_quant_q8_1(src, dst, n);
}

XT_TARGET_AVX512 static void act_q8_K(const float *restrict src, void *restrict dst, int64_t n) {
    xt_x86_quant_q8_K(src, dst, n);
}

// Whether the CPU has AVX-512 VNNI (the dispatcher already checked F/BW/VL/DQ).
static int has_vnni(void) {
#if defined(XT_X86_TEST_SIMDE)
    return XT_X86_TEST_SIMDE_VNNI;
#elif defined(__GNUC__) || defined(__clang__)
    return __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

#endif  // XT_X86

// ---- table ----

void xt_quant_kernels_fill_avx512(xt_quant_kernels *k) {
#if defined(XT_X86)
    const int vnni = has_vnni();
    k->vec_dot[XT_DTYPE_Q4_0] = vnni ? dot_q4_0_vnni : dot_q4_0;
    k->vec_dot[XT_DTYPE_Q8_0] = vnni ? dot_q8_0_vnni : dot_q8_0;
    k->vec_dot[XT_DTYPE_MXFP4] = vnni ? dot_mxfp4_vnni : dot_mxfp4;
    k->vec_dot[XT_DTYPE_IQ4_NL] = vnni ? dot_iq4_nl_vnni : dot_iq4_nl;
    k->vec_dot[XT_DTYPE_Q4_1] = vnni ? dot_q4_1_vnni : dot_q4_1;
    k->vec_dot[XT_DTYPE_Q5_0] = vnni ? dot_q5_0_vnni : dot_q5_0;
    k->vec_dot[XT_DTYPE_Q5_1] = vnni ? dot_q5_1_vnni : dot_q5_1;
    k->vec_dot[XT_DTYPE_Q2_K] = dot_q2_K;
    k->vec_dot[XT_DTYPE_Q3_K] = dot_q3_K;
    k->vec_dot[XT_DTYPE_Q4_K] = dot_q4_K;
    k->vec_dot[XT_DTYPE_Q5_K] = dot_q5_K;
    k->vec_dot[XT_DTYPE_Q6_K] = dot_q6_K;
    k->vec_dot[XT_DTYPE_IQ4_XS] = dot_iq4_xs;
    k->vec_dot[XT_DTYPE_F32] = dot_f32;
    k->vec_dot[XT_DTYPE_F16] = dot_f16;
    k->vec_dot[XT_DTYPE_BF16] = dot_bf16;
    k->quantize_act[XT_DTYPE_Q8_0] = act_q8_0;
    k->quantize_act[XT_DTYPE_Q8_1] = act_q8_1;
    k->quantize_act[XT_DTYPE_Q8_K] = act_q8_K;
#else
    (void)k;
#endif
}
