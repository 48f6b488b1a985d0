// x86_avx2_gemm.c — AVX2 tile kernels (xt_gemm_fn) for prefill: RM weight rows x RN tokens
// per step, so each unpacked weight block serves RN tokens and each activation block RM rows,
// and the f16 block scales are converted once per tile step instead of once per dot product.
//
// Accuracy: every (row, token, block) integer sum is exact, as in the dot kernels; each is
// scaled by the same float product d_w * d_a as the reference and added with FMA into 8 float
// lanes that are summed at the end, so results differ from vec_dot only in float summation
// order (tests/test_quant_simd.py and tests/simd/simd_emulated.c bound the gap by
// 1e-6 * sum|w_i a_i|).
#include "quant/arch/x86_common.h"
#include "quant/quant.h"

#if defined(XT_X86)

enum { MAX_RM = 4, MAX_RN = 4 };

// The f16 scale pairs at p + t * stride (t < rn, 4 bytes each: (d, s) of a Q8_1 block or
// (d, pad) of a Q8_0 block read as 32 bits) -> [d0 s0 d1 s1 | d2 s2 d3 s3] as floats.
XT_INLINE XT_TARGET_AVX2 __m256 act_scales4(const uint8_t *p, size_t stride, int rn) {
    uint32_t v[MAX_RN] = {0, 0, 0, 0};
    for (int t = 0; t < rn; t++) memcpy(&v[t], p + (size_t)t * stride, 4);
    __m128i h = _mm_set_epi64x((long long)((uint64_t)v[3] << 32 | v[2]),
                               (long long)((uint64_t)v[1] << 32 | v[0]));
    return _mm256_cvtph_ps(h);
}

XT_INLINE XT_TARGET_AVX2 void store_tile(float *y, int64_t ys, int rm, int rn,
                                         __m256 acc[MAX_RM][MAX_RN], const float *extra) {
    for (int r = 0; r < rm; r++) {
        for (int t = 0; t < rn; t++) {
            y[t * ys + r] = xt_x86_hsum_ps(acc[r][t]) + (extra ? extra[r * 8 + 2 * t + 1] : 0.0f);
        }
    }
}

// ---- Q4_1 x Q8_1: d_w d_a sum(q a) + m_w s_a per block ----

// rm rows x rn tokens. Per block: the weight pair (d, m) is broadcast as [d m d m ..] and
// multiplied by the activations' [d0 s0 d1 s1 ..]: even lanes are the block scales of the rn
// tokens, odd lanes the min terms, which accumulate in one vector per row.
XT_INLINE XT_TARGET_AVX2 void tile_q4_1(int64_t nb, const uint8_t *w, size_t ws,
                                        const uint8_t *a, size_t as, float *y, int64_t ys,
                                        const int rm, const int rn) {
    __m256 acc[MAX_RM][MAX_RN], accm[MAX_RM];
    for (int r = 0; r < rm; r++) {
        accm[r] = _mm256_setzero_ps();
        for (int t = 0; t < rn; t++) acc[r][t] = _mm256_setzero_ps();
    }
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const __m256 ads = act_scales4(a + (size_t)b * sizeof(block_q8_1), as, rn);
        for (int r = 0; r < rm; r++) {
            const block_q4_1 *x = (const block_q4_1 *)(w + (size_t)r * ws) + b;
            uint32_t dm;
            memcpy(&dm, &x->d, 4);
            __m256 prod = _mm256_mul_ps(_mm256_cvtph_ps(_mm_set1_epi32((int)dm)), ads);
            accm[r] = _mm256_add_ps(accm[r], prod);  // odd lanes: the min terms
            float sc[8];
            _mm256_storeu_ps(sc, prod);
            __m256i q = xt_x86_nibbles32(x->qs);
            for (int t = 0; t < rn; t++) {
                const block_q8_1 *yb = (const block_q8_1 *)(a + (size_t)t * as) + b;
                __m256i p = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)yb->qs)), ones);
                acc[r][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[2 * t]), _mm256_cvtepi32_ps(p),
                                            acc[r][t]);
            }
        }
    }
    float mins[MAX_RM * 8];
    for (int r = 0; r < rm; r++) _mm256_storeu_ps(mins + 8 * r, accm[r]);
    store_tile(y, ys, rm, rn, acc, mins);
}


// ---- signed codes x Q8_0: Q4_0, Q5_0, Q8_0, IQ4_NL ----
// sum s a with s the signed weight codes: |s| x (a with s's sign), |s| <= 128, |a| <= 127, so
// the int16 pair sums of maddubs never saturate.

XT_INLINE XT_TARGET_AVX2 __m256i codes_q4_0(const uint8_t *blk) {
    const block_q4_0 *x = (const block_q4_0 *)blk;
    return _mm256_sub_epi8(xt_x86_nibbles32(x->qs), _mm256_set1_epi8(8));
}

XT_INLINE XT_TARGET_AVX2 __m256i codes_q5_0(const uint8_t *blk) {
    const block_q5_0 *x = (const block_q5_0 *)blk;
    __m256i hi = _mm256_and_si256(xt_x86_bits32(x->qh), _mm256_set1_epi8(0x10));
    return _mm256_sub_epi8(_mm256_or_si256(xt_x86_nibbles32(x->qs), hi), _mm256_set1_epi8(16));
}

XT_INLINE XT_TARGET_AVX2 __m256i codes_q8_0(const uint8_t *blk) {
    return _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)blk)->qs);
}

XT_INLINE XT_TARGET_AVX2 __m256i codes_iq4_nl(const uint8_t *blk) {
    const block_iq4_nl *x = (const block_iq4_nl *)blk;
    return _mm256_shuffle_epi8(xt_x86_table16(xt_x86_kvalues_iq4nl), xt_x86_nibbles32(x->qs));
}

// rm rows x rn tokens of a 32-element format whose block starts with its f16 scale d.
XT_INLINE XT_TARGET_AVX2 void tile_signed(int64_t nb, const uint8_t *w, size_t ws, size_t wblk,
                                          __m256i (*codes)(const uint8_t *), const uint8_t *a,
                                          size_t as, float *y, int64_t ys, const int rm,
                                          const int rn) {
    __m256 acc[MAX_RM][MAX_RN];
    for (int r = 0; r < rm; r++) {
        for (int t = 0; t < rn; t++) acc[r][t] = _mm256_setzero_ps();
    }
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const __m256 ads = act_scales4(a + (size_t)b * sizeof(block_q8_0), as, rn);
        for (int r = 0; r < rm; r++) {
            const uint8_t *x = w + (size_t)r * ws + (size_t)b * wblk;
            xt_half d;
            memcpy(&d, x, 2);
            float sc[8];
            _mm256_storeu_ps(sc, _mm256_mul_ps(_mm256_set1_ps(xt_x86_h2f(d)), ads));
            __m256i s = codes(x);
            __m256i u = _mm256_sign_epi8(s, s);
            for (int t = 0; t < rn; t++) {
                const block_q8_0 *yb = (const block_q8_0 *)(a + (size_t)t * as) + b;
                __m256i v = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)yb->qs), s);
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, v), ones);
                acc[r][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc[2 * t]),
                                            _mm256_cvtepi32_ps(p), acc[r][t]);
            }
        }
    }
    store_tile(y, ys, rm, rn, acc, NULL);
}

#define XT_SIGNED_TILE(name, block_t, codes_fn)                                                \
    XT_INLINE XT_TARGET_AVX2 void name(int64_t nb, const uint8_t *w, size_t ws,                \
                                       const uint8_t *a, size_t as, float *y, int64_t ys,      \
                                       const int rm, const int rn) {                           \
        tile_signed(nb, w, ws, sizeof(block_t), codes_fn, a, as, y, ys, rm, rn);               \
    }
XT_SIGNED_TILE(tile_q4_0, block_q4_0, codes_q4_0)
XT_SIGNED_TILE(tile_q5_0, block_q5_0, codes_q5_0)
XT_SIGNED_TILE(tile_q8_0, block_q8_0, codes_q8_0)
XT_SIGNED_TILE(tile_iq4_nl, block_iq4_nl, codes_iq4_nl)
#undef XT_SIGNED_TILE

// ---- K-quants x Q8_K: one row x RN tokens (the unpacked super-block fills the registers) ----

// Q4_K: d_w d_a sum_j sc_j sum(q a) - dmin_w d_a sum_j m_j bsums_j, integer sums per
// super-block as in dot_q4_K.
XT_INLINE XT_TARGET_AVX2 void tile_q4_K(int64_t nb, const uint8_t *w, size_t ws,
                                        const uint8_t *a, size_t as, float *y, int64_t ys,
                                        const int rm, const int rn) {
    (void)ws;
    (void)rm;  // always 1
    __m256 acc[MAX_RN];
    for (int t = 0; t < rn; t++) acc[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const block_q4_K *x = (const block_q4_K *)w;
    for (int64_t b = 0; b < nb; b++) {
        __m128i v = xt_x86_k4_scales_v(x[b].scales);  // sc bytes 0..7, m bytes 8..15
        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(v));
        const __m256i mdup = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(v, v));
        const float dw = xt_x86_h2f(x[b].d), dmin = xt_x86_h2f(x[b].dmin);
        const block_q8_K *yb[MAX_RN];
        __m256i sumi[MAX_RN];
        for (int t = 0; t < rn; t++) {
            yb[t] = (const block_q8_K *)(a + (size_t)t * as) + b;
            __m256i msum = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)yb[t]->bsums),
                                             mdup);
            acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(yb[t]->d * dmin), _mm256_cvtepi32_ps(msum),
                                      acc[t]);
            sumi[t] = _mm256_setzero_si256();
        }
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * j));
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i slo = _mm256_shuffle_epi8(sc, xt_x86_bcast16_ctl(2 * j));
            __m256i shi = _mm256_shuffle_epi8(sc, xt_x86_bcast16_ctl(2 * j + 1));
            for (int t = 0; t < rn; t++) {
                const int8_t *q8 = yb[t]->qs + 64 * j;
                __m256i plo = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8)), slo);
                __m256i phi = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32))), shi);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(plo, phi));
            }
        }
        for (int t = 0; t < rn; t++) {
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(yb[t]->d * dw), _mm256_cvtepi32_ps(sumi[t]),
                                     acc[t]);
        }
    }
    for (int t = 0; t < rn; t++) y[t * ys] = xt_x86_hsum_ps(acc[t]);
}

// Q6_K: sum sc (q6 - 32) a = sum sc q6 a - 32 sum sc bsums, as in dot_q6_K.
XT_INLINE XT_TARGET_AVX2 void tile_q6_K(int64_t nb, const uint8_t *w, size_t ws,
                                        const uint8_t *a, size_t as, float *y, int64_t ys,
                                        const int rm, const int rn) {
    (void)ws;
    (void)rm;  // always 1
    __m256 acc[MAX_RN];
    for (int t = 0; t < rn; t++) acc[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    const block_q6_K *x = (const block_q6_K *)w;
    for (int64_t b = 0; b < nb; b++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[b].scales));
        const block_q8_K *yb[MAX_RN];
        __m256i sumi[MAX_RN];
        for (int t = 0; t < rn; t++) {
            yb[t] = (const block_q8_K *)(a + (size_t)t * as) + b;
            __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)yb[t]->bsums));
            sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5));
        }
        const __m256i s_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);
        const __m256i s_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);
        for (int h = 0; h < 2; h++) {
            const __m256i s = h ? s_hi : s_lo;
            const uint8_t *ql = x[b].ql + 64 * h;
            __m256i qh = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_and_si256(qh, m2));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
            for (int k = 0; k < 4; k++) {
                __m256i sk = _mm256_shuffle_epi8(s, xt_x86_pair_ctl(k));
                for (int t = 0; t < rn; t++) {
                    const int8_t *q8 = yb[t]->qs + 128 * h + 32 * k;
                    __m256i p = _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)q8));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, sk));
                }
            }
        }
        const float dw = xt_x86_h2f(x[b].d);
        for (int t = 0; t < rn; t++) {
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * yb[t]->d), _mm256_cvtepi32_ps(sumi[t]),
                                     acc[t]);
        }
    }
    for (int t = 0; t < rn; t++) y[t * ys] = xt_x86_hsum_ps(acc[t]);
}

// ---- the tile walk shared by every type ----

// Walks nc tokens in groups of RN (outer: their activation blocks stay in L1) and nr rows in
// groups of RM, handing edge tiles to smaller instances of the same inline body.
#define XT_GEMM_WALK(name, tile, blk_elems)                                                    \
    XT_TARGET_AVX2 static void name(int64_t n, const void *restrict w, size_t ws, int64_t nr,  \
                                    const void *restrict a, size_t as, int64_t nc,             \
                                    float *restrict y, int64_t ys) {                           \
        const int64_t nb = n / (blk_elems);                                                    \
        const uint8_t *wb = w, *ab = a;                                                        \
        for (int64_t c = 0; c < nc; c += RN) {                                                 \
            const int rn = nc - c < RN ? (int)(nc - c) : RN;                                   \
            int64_t r = 0;                                                                     \
            for (; r + RM <= nr; r += RM) {                                                    \
                const uint8_t *wr = wb + (size_t)r * ws, *ac = ab + (size_t)c * as;            \
                float *yt = y + c * ys + r;                                                    \
                switch (rn) {                                                                  \
                case RN: tile(nb, wr, ws, ac, as, yt, ys, RM, RN); break;                      \
                case 3: tile(nb, wr, ws, ac, as, yt, ys, RM, 3); break;                        \
                case 2: tile(nb, wr, ws, ac, as, yt, ys, RM, 2); break;                        \
                default: tile(nb, wr, ws, ac, as, yt, ys, RM, 1); break;                       \
                }                                                                              \
            }                                                                                  \
            for (; r < nr; r++) {                                                              \
                const uint8_t *wr = wb + (size_t)r * ws, *ac = ab + (size_t)c * as;            \
                float *yt = y + c * ys + r;                                                    \
                switch (rn) {                                                                  \
                case RN: tile(nb, wr, ws, ac, as, yt, ys, 1, RN); break;                       \
                case 3: tile(nb, wr, ws, ac, as, yt, ys, 1, 3); break;                         \
                case 2: tile(nb, wr, ws, ac, as, yt, ys, 1, 2); break;                         \
                default: tile(nb, wr, ws, ac, as, yt, ys, 1, 1); break;                        \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    }

#define RN 4
#define RM 2
XT_GEMM_WALK(gemm_q4_1, tile_q4_1, QK4_1)
XT_GEMM_WALK(gemm_q4_0, tile_q4_0, QK4_0)
XT_GEMM_WALK(gemm_q5_0, tile_q5_0, QK5_0)
XT_GEMM_WALK(gemm_q8_0, tile_q8_0, QK8_0)
XT_GEMM_WALK(gemm_iq4_nl, tile_iq4_nl, QK4_NL)
#undef RM
#define RM 1
XT_GEMM_WALK(gemm_q4_K, tile_q4_K, QK_K)
XT_GEMM_WALK(gemm_q6_K, tile_q6_K, QK_K)
#undef RM
#undef RN

#endif  // XT_X86

void xt_quant_kernels_fill_avx2_gemm(xt_quant_kernels *k) {
#if defined(XT_X86)
    k->gemm[XT_DTYPE_Q4_0] = gemm_q4_0;
    k->gemm[XT_DTYPE_Q4_1] = gemm_q4_1;
    k->gemm[XT_DTYPE_Q5_0] = gemm_q5_0;
    k->gemm[XT_DTYPE_Q8_0] = gemm_q8_0;
    k->gemm[XT_DTYPE_IQ4_NL] = gemm_iq4_nl;
    k->gemm[XT_DTYPE_Q4_K] = gemm_q4_K;
    k->gemm[XT_DTYPE_Q6_K] = gemm_q6_K;
#else
    (void)k;
#endif
}
