// x86_avx2.c — AVX2 + FMA + F16C dot products and Q8 activation quantizers, compiled with
// function target attributes so the rest of the build stays portable; picked by quant_table.c.
//
// Accuracy: every kernel forms the exact integer sums of the reference (per 8-lane group of a
// block), converts them to float exactly and accumulates scale * sum with FMA in 8 float lanes;
// the reference adds one product per block in a single float. Both are sums of the same real
// terms with rounding error each below ~n_blocks * 2^-24 * sum|terms| (in practice a few
// 2^-24 * sum|w_i a_i|), which is what tests/test_quant_simd.py checks (1e-6 * sum|w_i a_i|).
// The activation quantizers are byte-identical to the scalar ones (same float operations).
#include <math.h>

#include "quant/arch/x86_common.h"
#include "quant/quant.h"

#if defined(XT_X86)

// ---- legacy 32-element blocks against Q8_0 / Q8_1 ----

XT_INLINE XT_TARGET_AVX2 __m256 blk_scale(float d) { return _mm256_set1_ps(d); }

// 4-bit lookup formats (IQ4_NL, MXFP4): table values times Q8_0.
XT_INLINE XT_TARGET_AVX2 __m256i lut_dot(const uint8_t *qs, const int8_t *qy, __m256i table) {
    __m256i v = _mm256_shuffle_epi8(table, xt_x86_nibbles32(qs));
    return xt_x86_dot_ss(v, _mm256_loadu_si256((const __m256i *)qy));
}

// IQ4_NL and MXFP4 share one shape: 4 blocks per step (see "four blocks per step" in
// x86_common.h), then the last 0..3 blocks one at a time into the same accumulator.
#define XT_LEGACY4_BODY(blk_dot, scale4, scale1)                                              \
    __m256 acc = _mm256_setzero_ps();                                                         \
    int64_t i = 0;                                                                            \
    for (; i + 3 < nb; i += 4) {                                                              \
        xt_x86_prefetch2(x + i);                                                              \
        __m256i s0 = blk_dot(i), s1 = blk_dot(i + 1);                                         \
        __m256i s2 = blk_dot(i + 2), s3 = blk_dot(i + 3);                                     \
        __m256i s = xt_x86_reduce4(s0, s1, s2, s3);                                           \
        acc = _mm256_fmadd_ps(scale4(i), _mm256_cvtepi32_ps(s), acc);                         \
    }                                                                                         \
    for (; i < nb; i++) {                                                                     \
        acc = _mm256_fmadd_ps(blk_scale(scale1(i)), _mm256_cvtepi32_ps(blk_dot(i)), acc);     \
    }                                                                                         \
    return xt_x86_hsum_ps(acc)

#define HH4(i) xt_x86_scale4_hh(xt_x86_gather_h4(&x[i].d, sizeof *x), \
                                xt_x86_gather_h4(&y[i].d, sizeof *y))
#define HH1(i) (xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d))
#define E8H4(i) xt_x86_scale4_e8h(&x[i].e, sizeof *x, xt_x86_gather_h4(&y[i].d, sizeof *y))
#define E8H1(i) (xt_x86_e8m0_half(x[i].e) * xt_x86_h2f(y[i].d))

XT_TARGET_AVX2 static float dot_q4_0(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK4_0;
    const __m256i off = _mm256_set1_epi8(8);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        XT_X86_PREFETCH1(x + i);
        __m256i y0 = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256i y1 = _mm256_loadu_si256((const __m256i *)y[i + 1].qs);
        __m256i s0 = xt_x86_dot_us_off(xt_x86_nibbles32(x[i].qs), y0, off);
        __m256i s1 = xt_x86_dot_us_off(xt_x86_nibbles32(x[i + 1].qs), y1, off);
        float d0 = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        float d1 = xt_x86_h2f(x[i + 1].d) * xt_x86_h2f(y[i + 1].d);
        acc0 = _mm256_fmadd_ps(blk_scale(d0), _mm256_cvtepi32_ps(s0), acc0);
        acc1 = _mm256_fmadd_ps(blk_scale(d1), _mm256_cvtepi32_ps(s1), acc1);
    }
    for (; i < nb; i++) {
        __m256i y0 = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256i s0 = xt_x86_dot_us_off(xt_x86_nibbles32(x[i].qs), y0, off);
        float d0 = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        acc0 = _mm256_fmadd_ps(blk_scale(d0), _mm256_cvtepi32_ps(s0), acc0);
    }
    return xt_x86_hsum_ps(_mm256_add_ps(acc0, acc1));
}

// Q8_0 and Q4_1 follow ggml's x86 kernels operation for operation (one 8-lane FMA chain over
// the blocks in order, the same horizontal sum, Q4_1's min terms as a scalar FMA chain added
// last): their results are bit-identical to llama.cpp's on the same inputs, which keeps the
// logits of small quantized models comparable (they amplify last-bit differences).
XT_TARGET_AVX2 static float dot_q8_0(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        XT_X86_PREFETCH1(x + i);
        __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
        __m256i s0 = xt_x86_dot_ss(x0, _mm256_loadu_si256((const __m256i *)y[i].qs));
        float d0 = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        acc = _mm256_fmadd_ps(blk_scale(d0), _mm256_cvtepi32_ps(s0), acc);
    }
    return xt_x86_hsum_ps(acc);
}

XT_TARGET_AVX2 static float dot_iq4_nl(int64_t n, const void *restrict w, const void *restrict a) {
    const block_iq4_nl *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK4_NL;
    const __m256i table = xt_x86_table16(xt_x86_kvalues_iq4nl);
#define BLK(i) lut_dot(x[i].qs, y[i].qs, table)
    XT_LEGACY4_BODY(BLK, HH4, HH1);
#undef BLK
}

XT_TARGET_AVX2 static float dot_mxfp4(int64_t n, const void *restrict w, const void *restrict a) {
    const block_mxfp4 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK_MXFP4;
    const __m256i table = xt_x86_table16(xt_x86_kvalues_mxfp4);
#define BLK(i) lut_dot(x[i].qs, y[i].qs, table)
    XT_LEGACY4_BODY(BLK, E8H4, E8H1);
#undef BLK
}

#undef E8H4
#undef E8H1
#undef XT_LEGACY4_BODY

// Q4_1 / Q5_1 (vs Q8_1): d_x d_y sum(q y) + m_x s_y, the min term added per block.
// Four blocks per step (the XT_LEGACY4_BODY shape), with the min terms m_x * s_y of the four
// blocks converted and multiplied together. Q4_1 is the decode bottleneck of Q4_1 models.
XT_TARGET_AVX2 static float dot_q4_1(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK4_1;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        XT_X86_PREFETCH1(x + i);
        mins = fmaf(xt_x86_h2f(x[i].m), xt_x86_h2f(y[i].s), mins);
        __m256i s = xt_x86_dot_us(xt_x86_nibbles32(x[i].qs),
                                  _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc = _mm256_fmadd_ps(blk_scale(HH1(i)), _mm256_cvtepi32_ps(s), acc);
    }
    return xt_x86_hsum_ps(acc) + mins;
}
#undef HH4
#undef HH1

XT_INLINE XT_TARGET_AVX2 __m256i q5_codes(const uint8_t *qs, const uint8_t *qh) {
    __m256i hi = _mm256_and_si256(xt_x86_bits32(qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(xt_x86_nibbles32(qs), hi);
}

XT_TARGET_AVX2 static float dot_q5_0(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK5_0;
    const __m256i off = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        XT_X86_PREFETCH1(x + i);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256i s = xt_x86_dot_us_off(q5_codes(x[i].qs, x[i].qh), qy, off);
        float d = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        acc = _mm256_fmadd_ps(blk_scale(d), _mm256_cvtepi32_ps(s), acc);
    }
    return xt_x86_hsum_ps(acc);
}

XT_TARGET_AVX2 static float dot_q5_1(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK5_1;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        XT_X86_PREFETCH1(x + i);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256i s = xt_x86_dot_us(q5_codes(x[i].qs, x[i].qh), qy);
        float d = xt_x86_h2f(x[i].d) * xt_x86_h2f(y[i].d);
        acc = _mm256_fmadd_ps(blk_scale(d), _mm256_cvtepi32_ps(s), acc);
        mins += xt_x86_h2f(x[i].m) * xt_x86_h2f(y[i].s);
    }
    return xt_x86_hsum_ps(acc) + mins;
}

// ---- K-quants against Q8_K ----

// int16 vector: lanes 0..7 = a, lanes 8..15 = b (scales of two 16-element sub-blocks).
XT_INLINE XT_TARGET_AVX2 __m256i pair16(int a, int b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)a)),
                                   _mm_set1_epi16((short)b), 1);
}

// Scales and mins of a Q4_K/Q5_K super-block as int16 vectors: *sc = sc[0..7] in both
// 128-bit halves (for xt_x86_bcast16_ctl), return value = m_j * (bsums[2j] + bsums[2j+1]).
XT_INLINE XT_TARGET_AVX2 __m256i k4_scales_mins(const uint8_t *scales, const int16_t *bsums,
                                                __m256i *sc) {
    __m128i v = xt_x86_k4_scales_v(scales);  // sc bytes 0..7, m bytes 8..15
    *sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(v));
    __m256i mdup = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(v, v));  // m0 m0 m1 m1 .. m7 m7
    return _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bsums), mdup);
}

XT_INLINE XT_TARGET_AVX2 int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

// Q4_K follows llama.cpp's repacked x86 kernels per output: the integer sum of a whole
// super-block (one-token path, gemv) or of each 64-element pair of sub-blocks (tokens in
// groups of four, gemm) is converted to float and FMA-accumulated with d_w * d_a; the min
// terms the same way into a second sum; the result is their difference.
XT_INLINE XT_TARGET_AVX2 float q4_K_body(int64_t n, const void *restrict w,
                                         const void *restrict a, bool per_pair) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    float acc = 0.0f, accm = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        xt_x86_prefetch2(x + i);
        xt_x86_prefetch2((const uint8_t *)(x + i) + 128);
        __m256i sc;
        __m256i msum = k4_scales_mins(x[i].scales, y[i].bsums, &sc);
        const float d = xt_x86_h2f(x[i].d) * y[i].d;
        const float dmin = xt_x86_h2f(x[i].dmin) * y[i].d;
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        int32_t mins[8];
        _mm256_storeu_si256((__m256i *)mins, msum);
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(q4 + 32 * j));
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i plo =
                _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j)));
            __m256i phi =
                _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j + 32)));
            plo = _mm256_madd_epi16(plo, _mm256_shuffle_epi8(sc, xt_x86_bcast16_ctl(2 * j)));
            phi = _mm256_madd_epi16(phi, _mm256_shuffle_epi8(sc, xt_x86_bcast16_ctl(2 * j + 1)));
            if (per_pair) {
                acc = fmaf((float)hsum_i32(_mm256_add_epi32(plo, phi)), d, acc);
                accm = fmaf((float)(mins[2 * j] + mins[2 * j + 1]), dmin, accm);
            } else {
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
            }
        }
        if (!per_pair) {
            acc = fmaf((float)hsum_i32(sumi), d, acc);
            accm = fmaf((float)hsum_i32(msum), dmin, accm);
        }
    }
    return acc - accm;
}

XT_TARGET_AVX2 static float dot_q4_K(int64_t n, const void *restrict w, const void *restrict a) {
    return q4_K_body(n, w, a, false);
}

XT_TARGET_AVX2 static float dot_q4_K_b4(int64_t n, const void *restrict w,
                                        const void *restrict a) {
    return q4_K_body(n, w, a, true);
}

XT_TARGET_AVX2 static float dot_q5_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        xt_x86_prefetch2(x + i);
        xt_x86_prefetch2((const uint8_t *)(x + i) + 128);
        __m256i sc;
        __m256i msum = k4_scales_mins(x[i].scales, y[i].bsums, &sc);
        __m256i sumi = _mm256_setzero_si256();
        __m256i qh = _mm256_loadu_si256((const __m256i *)x[i].qh);
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        for (int j = 0; j < 4; j++) {
            // sub-block 2j takes bit 2j of qh, sub-block 2j+1 bit 2j+1 (qh shifted as we go)
            __m256i q = _mm256_loadu_si256((const __m256i *)(q4 + 32 * j));
            __m256i hlo = _mm256_slli_epi16(_mm256_and_si256(qh, one), 4);
            __m256i hhi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4);
            qh = _mm256_srli_epi16(qh, 2);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), hlo);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), hhi);
            __m256i plo =
                _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j)));
            __m256i phi =
                _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 64 * j + 32)));
            plo = _mm256_madd_epi16(plo, _mm256_shuffle_epi8(sc, xt_x86_bcast16_ctl(2 * j)));
            phi = _mm256_madd_epi16(phi, _mm256_shuffle_epi8(sc, xt_x86_bcast16_ctl(2 * j + 1)));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        float dmin = y[i].d * xt_x86_h2f(x[i].dmin);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(msum), accm);
    }
    return xt_x86_hsum_ps(acc) - xt_x86_hsum_ps(accm);
}


// Q6_K: sum sc * (q6 - 32) * y = sum sc * q6 * y - 32 * sum sc * bsums (exact identity).
// tiled: the per-output arithmetic of llama.cpp's tiled K-quant GEMM (calls of >= 8 tokens):
// per super-block the exact integer sum S, then acc = fma(d_w * S, d_a, acc).
XT_INLINE XT_TARGET_AVX2 float q6_K_body(int64_t n, const void *restrict w,
                                         const void *restrict a, bool tiled) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m2 = _mm256_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    float acc_t = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        xt_x86_prefetch2(x + i);
        xt_x86_prefetch2((const uint8_t *)(x + i) + 128);
        const int8_t *sc = x[i].scales;
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5));
        const __m256i s_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);
        const __m256i s_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h;
            const int8_t *q8 = y[i].qs + 128 * h;
            // both halves: the 8 scales of this half of the super-block
            __m256i s = h ? s_hi : s_lo;
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
            __m256i p0 = _mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)q8));
            __m256i p1 = _mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
            __m256i p2 = _mm256_maddubs_epi16(q2, _mm256_loadu_si256((const __m256i *)(q8 + 64)));
            __m256i p3 = _mm256_maddubs_epi16(q3, _mm256_loadu_si256((const __m256i *)(q8 + 96)));
            p0 = _mm256_madd_epi16(p0, _mm256_shuffle_epi8(s, xt_x86_pair_ctl(0)));
            p1 = _mm256_madd_epi16(p1, _mm256_shuffle_epi8(s, xt_x86_pair_ctl(1)));
            p2 = _mm256_madd_epi16(p2, _mm256_shuffle_epi8(s, xt_x86_pair_ctl(2)));
            p3 = _mm256_madd_epi16(p3, _mm256_shuffle_epi8(s, xt_x86_pair_ctl(3)));
            sumi = _mm256_add_epi32(
                sumi, _mm256_add_epi32(_mm256_add_epi32(p0, p1), _mm256_add_epi32(p2, p3)));
        }
        if (tiled) {
            acc_t = fmaf(xt_x86_h2f(x[i].d) * (float)hsum_i32(sumi), y[i].d, acc_t);
            continue;
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return tiled ? acc_t : xt_x86_hsum_ps(acc);
}

XT_TARGET_AVX2 static float dot_q6_K(int64_t n, const void *restrict w, const void *restrict a) {
    return q6_K_body(n, w, a, false);
}

XT_TARGET_AVX2 static float dot_q6_K_tiled(int64_t n, const void *restrict w,
                                           const void *restrict a) {
    return q6_K_body(n, w, a, true);
}

// Q2_K: d * sum sc_i * q * y - dmin * sum m_i * bsums_i.
XT_TARGET_AVX2 static float dot_q2_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        xt_x86_prefetch2(x + i);
        xt_x86_prefetch2((const uint8_t *)(x + i) + 128);
        const uint8_t *sc = x[i].scales;
        __m128i s8 = _mm_loadu_si128((const __m128i *)sc);
        __m256i mins16 =
            _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s8, 4), _mm_set1_epi8(15)));
        __m256i msum = _mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i qv = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            const int8_t *q8 = y[i].qs + 128 * h;
            for (int k = 0; k < 4; k++) {
                __m256i q = _mm256_and_si256(qv, m3);
                qv = _mm256_srli_epi16(qv, 2);
                __m256i p =
                    _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(q8 + 32 * k)));
                int s = 8 * h + 2 * k;
                p = _mm256_madd_epi16(p, pair16(sc[s] & 15, sc[s + 1] & 15));
                sumi = _mm256_add_epi32(sumi, p);
            }
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        float dmin = y[i].d * xt_x86_h2f(x[i].dmin);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(msum), accm);
    }
    return xt_x86_hsum_ps(acc) - xt_x86_hsum_ps(accm);
}

// Q3_K: codes u = low2 | hbit << 2 in [0, 7], value u - 4;
// sum s_i (u - 4) y = sum s_i u y - 4 sum s_i bsums_i.
XT_TARGET_AVX2 static float dot_q3_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        xt_x86_prefetch2(x + i);
        xt_x86_prefetch2((const uint8_t *)(x + i) + 128);
        int8_t sc[16];
        xt_x86_q3k_scales(x[i].scales, sc);
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 2));
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[i].hmask);
        for (int h = 0; h < 2; h++) {
            __m256i qv = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            const int8_t *q8 = y[i].qs + 128 * h;
            for (int k = 0; k < 4; k++) {
                __m256i hb = _mm256_slli_epi16(_mm256_and_si256(hm, one), 2);
                hm = _mm256_srli_epi16(hm, 1);
                __m256i q = _mm256_or_si256(_mm256_and_si256(qv, m3), hb);
                qv = _mm256_srli_epi16(qv, 2);
                __m256i p =
                    _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(q8 + 32 * k)));
                int s = 8 * h + 2 * k;
                p = _mm256_madd_epi16(p, pair16(sc[s], sc[s + 1]));
                sumi = _mm256_add_epi32(sumi, p);
            }
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return xt_x86_hsum_ps(acc);
}

XT_TARGET_AVX2 static float dot_iq4_xs(int64_t n, const void *restrict w, const void *restrict a) {
    const block_iq4_xs *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i table = xt_x86_table16(xt_x86_kvalues_iq4nl);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        xt_x86_prefetch2(x + i);
        xt_x86_prefetch2((const uint8_t *)(x + i) + 128);
        __m256i sumi = _mm256_setzero_si256();
        for (int b = 0; b < 8; b++) {
            __m256i v = _mm256_shuffle_epi8(table, xt_x86_nibbles32(x[i].qs + 16 * b));
            __m256i qy = _mm256_loadu_si256((const __m256i *)(y[i].qs + 32 * b));
            __m256i p = xt_x86_mul_ss16(v, qy);
            int ls = xt_x86_iq4xs_scale(&x[i], b);
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16((short)ls)));
        }
        float d = y[i].d * xt_x86_h2f(x[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return xt_x86_hsum_ps(acc);
}

// ---- float weights against F32 activations ----

XT_TARGET_AVX2 static float dot_f32(int64_t n, const void *restrict w, const void *restrict a) {
    const float *x = w;
    const float *y = a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 15 < n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    }
    float s = xt_x86_hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

XT_TARGET_AVX2 static float dot_f16(int64_t n, const void *restrict w, const void *restrict a) {
    const xt_half *x = w;
    const float *y = a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 15 < n; i += 16) {
        __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8)));
        acc0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(y + i + 8), acc1);
    }
    float s = xt_x86_hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += xt_fp16_to_fp32(x[i]) * y[i];
    return s;
}

XT_INLINE XT_TARGET_AVX2 __m256 bf16x8(const xt_bf16 *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

XT_TARGET_AVX2 static float dot_bf16(int64_t n, const void *restrict w, const void *restrict a) {
    const xt_bf16 *x = w;
    const float *y = a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 15 < n; i += 16) {
        acc0 = _mm256_fmadd_ps(bf16x8(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(bf16x8(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    }
    float s = xt_x86_hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += xt_bf16_to_fp32(x[i]) * y[i];
    return s;
}

// ---- activation quantizers (shared bodies in x86_common.h) ----

XT_TARGET_AVX2 static void act_q8_0(const float *restrict src, void *restrict dst, int64_t n) {
    xt_x86_quant_q8_0(src, dst, n);
}

XT_TARGET_AVX2 static void act_q8_1(const float *restrict src, void *restrict dst, int64_t n) {
    xt_x86_quant_q8_1(src, dst, n);
}

XT_TARGET_AVX2 static void act_q8_K(const float *restrict src, void *restrict dst, int64_t n) {
    xt_x86_quant_q8_K(src, dst, n);
}

#endif  // XT_X86

// ---- table ----

void xt_quant_kernels_fill_avx2(xt_quant_kernels *k) {
#if defined(XT_X86)
    k->vec_dot[XT_DTYPE_Q4_0] = dot_q4_0;
    k->vec_dot[XT_DTYPE_Q8_0] = dot_q8_0;
    k->vec_dot[XT_DTYPE_MXFP4] = dot_mxfp4;
    k->vec_dot[XT_DTYPE_IQ4_NL] = dot_iq4_nl;
    k->vec_dot[XT_DTYPE_Q4_1] = dot_q4_1;
    k->vec_dot[XT_DTYPE_Q5_0] = dot_q5_0;
    k->vec_dot[XT_DTYPE_Q5_1] = dot_q5_1;
    k->vec_dot[XT_DTYPE_Q2_K] = dot_q2_K;
    k->vec_dot[XT_DTYPE_Q3_K] = dot_q3_K;
    k->vec_dot[XT_DTYPE_Q4_K] = dot_q4_K;
    k->vec_dot_b4[XT_DTYPE_Q4_K] = dot_q4_K_b4;  // repacked GEMM: tokens in fours
    k->b4_min_tokens[XT_DTYPE_Q4_K] = 4;
    k->b4_group[XT_DTYPE_Q4_K] = 4;
    k->vec_dot_b4[XT_DTYPE_Q6_K] = dot_q6_K_tiled;  // tiled GEMM: every token of >= 8
    k->b4_min_tokens[XT_DTYPE_Q6_K] = 8;
    k->b4_group[XT_DTYPE_Q6_K] = 1;
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
