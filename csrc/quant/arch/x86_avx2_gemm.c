// x86_avx2_gemm.c — AVX2 tile kernels (xt_gemm_fn) for prefill of the 32-element formats.
// Q4_1: RM weight rows x RN tokens per step, so each unpacked weight block serves RN tokens and
// each activation block RM rows, and the f16 block scales are converted once per tile step
// instead of once per dot product. The signed-code formats (Q4_0, Q5_0, Q8_0, IQ4_NL): eight
// rows interleaved once per call, every token against them (see "signed codes" below).
//
// Arithmetic per output: exactly that of the AVX2 vec_dot of Q4_1, Q5_0 and Q8_0 (llama.cpp's,
// see docs/development.md "Numerics"): one 8-lane FMA chain over the blocks in order, lane =
// 4 consecutive products, acc = fma(d_w * d_a, lane, acc), the same horizontal sum, Q4_1's
// min terms as an FMA chain added last; so prefill logits stay bit-identical to llama.cpp's.
// Q4_0 and IQ4_NL use the same chain (their vec_dot groups blocks differently: float
// summation order only). tests/test_quant_simd.py and tests/simd/simd_emulated.c check every
// entry against the scalar vec_dot within 1e-6 * sum|w_i a_i|, the harness those of Q4_1,
// Q5_0 and Q8_0 also bit for bit against the AVX2 vec_dot.
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
            const __m256 dmv = _mm256_cvtph_ps(_mm_set1_epi32((int)dm));
            const __m256 prod = _mm256_mul_ps(dmv, ads);
            accm[r] = _mm256_fmadd_ps(dmv, ads, accm[r]);  // odd lanes: m_w s_a chains
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

// ---- signed codes x Q8_0, eight rows interleaved ----
// The rows' codes are unpacked once per call into a buffer where 32-bit lane r of a vector
// holds four codes of row r (the transpose of the row-major blocks): group g of a block (its
// elements 4g .. 4g + 3) of all eight rows in one vector. A token's four activation bytes of
// group g broadcast to all lanes then give, through the same sign / maddubs / madd steps, the
// integer lane g of the dot of every row at once; lane g of each output's 8-lane FMA chain is
// a vector of its own (acc[g], lane r), so each output keeps the chain and the final pairwise
// sum of the row-by-row tile above, bit for bit.
enum { S_ROWS = 8, S_CHUNK = 32, S_TOK = 64 };

typedef struct {
    _Alignas(32) int8_t mag[S_CHUNK][8][32];  // [block][group]: |code|, lane r = row r
    _Alignas(32) int8_t sgn[S_CHUNK][8][32];  // the codes (for their signs)
    _Alignas(32) float d[S_CHUNK][S_ROWS];    // the rows' block scales
} signed_pack;

XT_INLINE XT_TARGET_AVX2 void signed_unpack(signed_pack *p, const uint8_t *w, size_t ws,
                                            size_t wblk, __m256i (*codes)(const uint8_t *),
                                            int rows, int64_t b0, int nbk) {
    for (int b = 0; b < nbk; b++) {
        __m256i s[S_ROWS];
        for (int r = 0; r < S_ROWS; r++) {
            s[r] = _mm256_setzero_si256();
            p->d[b][r] = 0.0f;
            if (r < rows) {
                const uint8_t *x = w + (size_t)r * ws + (size_t)(b0 + b) * wblk;
                xt_half d;
                memcpy(&d, x, 2);
                p->d[b][r] = xt_x86_h2f(d);
                s[r] = codes(x);
            }
        }
        xt_x86_transpose8_epi32(s);
        for (int g = 0; g < 8; g++) {
            _mm256_store_si256((__m256i *)p->sgn[b][g], s[g]);
            _mm256_store_si256((__m256i *)p->mag[b][g], _mm256_sign_epi8(s[g], s[g]));
        }
    }
}

// One token through nbk unpacked blocks: acc[g] (lane r) is lane g of output (row r)'s chain.
XT_INLINE XT_TARGET_AVX2 void signed_token(const signed_pack *p, int nbk,
                                           const block_q8_0 *y, __m256 *acc) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 c[8];
    for (int g = 0; g < 8; g++) c[g] = acc[g];
    for (int b = 0; b < nbk; b++) {
        const __m256 sc = _mm256_mul_ps(_mm256_load_ps(p->d[b]), _mm256_set1_ps(xt_x86_h2f(y[b].d)));
        for (int g = 0; g < 8; g++) {
            int32_t a4;
            memcpy(&a4, y[b].qs + 4 * g, 4);
            const __m256i s = _mm256_load_si256((const __m256i *)p->sgn[b][g]);
            const __m256i v = _mm256_sign_epi8(_mm256_set1_epi32(a4), s);
            const __m256i u = _mm256_load_si256((const __m256i *)p->mag[b][g]);
            const __m256i pr = _mm256_madd_epi16(_mm256_maddubs_epi16(u, v), ones);
            c[g] = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(pr), c[g]);
        }
    }
    for (int g = 0; g < 8; g++) acc[g] = c[g];
}

XT_INLINE XT_TARGET_AVX2 void gemm_signed(int64_t n, const uint8_t *w, size_t ws, size_t wblk,
                                          __m256i (*codes)(const uint8_t *), int64_t nr,
                                          const uint8_t *a, size_t as, int64_t nc, float *y,
                                          int64_t ys) {
    const int64_t nb = n / QK8_0;
    signed_pack p;
    __m256 acc[S_TOK][8];
    for (int64_t r0 = 0; r0 < nr; r0 += S_ROWS) {
        const int rows = nr - r0 < S_ROWS ? (int)(nr - r0) : S_ROWS;
        const uint8_t *wr = w + (size_t)r0 * ws;
        for (int64_t c0 = 0; c0 < nc; c0 += S_TOK) {
            const int tc = nc - c0 < S_TOK ? (int)(nc - c0) : S_TOK;
            for (int t = 0; t < tc; t++) {
                for (int g = 0; g < 8; g++) acc[t][g] = _mm256_setzero_ps();
            }
            for (int64_t b0 = 0; b0 < nb; b0 += S_CHUNK) {
                const int nbk = nb - b0 < S_CHUNK ? (int)(nb - b0) : S_CHUNK;
                signed_unpack(&p, wr, ws, wblk, codes, rows, b0, nbk);
                for (int t = 0; t < tc; t++) {
                    const block_q8_0 *yt = (const block_q8_0 *)(a + (size_t)(c0 + t) * as) + b0;
                    signed_token(&p, nbk, yt, acc[t]);
                }
            }
            for (int t = 0; t < tc; t++) {
                const __m256 *l = acc[t];  // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
                __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(l[0], l[4]),
                                                       _mm256_add_ps(l[2], l[6])),
                                         _mm256_add_ps(_mm256_add_ps(l[1], l[5]),
                                                       _mm256_add_ps(l[3], l[7])));
                xt_x86_store_first(y + (c0 + t) * ys + r0, s, rows);
            }
        }
    }
}

#define XT_SIGNED_GEMM(name, block_t, codes_fn)                                                \
    XT_TARGET_AVX2 static void name(int64_t n, const void *restrict w, size_t ws, int64_t nr,  \
                                    const void *restrict a, size_t as, int64_t nc,             \
                                    float *restrict y, int64_t ys) {                           \
        gemm_signed(n, w, ws, sizeof(block_t), codes_fn, nr, a, as, nc, y, ys);                \
    }
XT_SIGNED_GEMM(gemm_q4_0, block_q4_0, codes_q4_0)
XT_SIGNED_GEMM(gemm_q5_0, block_q5_0, codes_q5_0)
XT_SIGNED_GEMM(gemm_q8_0, block_q8_0, codes_q8_0)
XT_SIGNED_GEMM(gemm_iq4_nl, block_iq4_nl, codes_iq4_nl)
#undef XT_SIGNED_GEMM


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
#else
    (void)k;
#endif
}
