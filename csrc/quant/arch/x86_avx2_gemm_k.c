// x86_avx2_gemm_k.c — AVX2 prefill tile kernels (xt_gemm_fn) for Q4_K and Q6_K weights
// against Q8_K activations.
//
// Eight weight rows at a time are unpacked once into an interleaved buffer (kept in L1): each
// 32-byte vector holds four consecutive codes of every row, row r in 32-bit lane r. A token
// multiplies such a vector by four of its activation bytes broadcast to all lanes, so the
// integer sums of the eight rows come out one per lane with no horizontal sums, and the
// unpacking (nibbles, 6-bit scales, the Q6_K high bits) is shared by every token of the call.
//
// Arithmetic per output: the integer sums are exact (any grouping of them gives the same
// integers: the int16 partial sums stay below 2^15, see the kernels), and lane r carries row
// r's float accumulation with the operations, in the order, of the AVX2 dot products of
// x86_avx2.c (llama.cpp's x86 ones, see docs/development.md "Numerics"):
//   Q4_K grouped (vec_dot_b4 -> gemm_b4): per 64-element pair j of sub-blocks, in order,
//       acc = fma(float(I_j), d_w * d_a, acc), accm = fma(float(M_j), dmin_w * d_a, accm);
//   Q4_K whole (vec_dot -> gemm): the same once per super-block, I and M over all of it;
//       the result is acc - accm;
//   Q6_K tiled (vec_dot_b4 -> gemm_b4): acc = fma(d_w * float(S), d_a, acc) per super-block.
// So every entry has the bits of that dot product; tests/simd/simd_emulated.c checks them bit
// for bit on every edge tile, tests/test_model_llamacpp.py on the real model.
#include "quant/arch/x86_common.h"
#include "quant/quant.h"

#if defined(XT_X86)

// ROWS: one per 32-bit lane. CHUNK_SB: super-blocks unpacked at a time (~10 KiB per chunk,
// so the chunk and a token's activations stay in L1). TOK_CHUNK: tokens whose accumulators
// live on the stack while the chunks go by.
enum { ROWS = 8, CHUNK_SB = 4, TOK_CHUNK = 64 };

// Four activation bytes at p, broadcast to every 32-bit lane.
XT_INLINE XT_TARGET_AVX2 __m256i act4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// ---- Q4_K ----

// CHUNK_SB super-blocks of 8 rows, unpacked. Rows past the tile's last are zero.
typedef struct {
    _Alignas(32) uint8_t codes[CHUNK_SB][8][8][32];  // [sb][sub-block][group of 4]: lane r = row r
    _Alignas(32) int16_t scales[CHUNK_SB][8][16];    // sub-block s: (sc_r[s], sc_r[s]) per lane
    _Alignas(32) int16_t mins[CHUNK_SB][4][16];      // pair j: (m_r[2j], m_r[2j+1]) per lane
    _Alignas(32) float d[CHUNK_SB][ROWS], dmin[CHUNK_SB][ROWS];
} q4k_pack;

XT_INLINE XT_TARGET_AVX2 void q4k_unpack(q4k_pack *p, const uint8_t *w, size_t ws, int rows,
                                         int64_t b0, int nsb) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < nsb; b++) {
        for (int r = 0; r < ROWS; r++) {
            uint8_t sc[8] = {0}, m[8] = {0};
            float d = 0.0f, dmin = 0.0f;
            if (r < rows) {
                const block_q4_K *x = (const block_q4_K *)(w + (size_t)r * ws) + b0 + b;
                xt_x86_k4_scales(x->scales, sc, m);
                d = xt_x86_h2f(x->d);
                dmin = xt_x86_h2f(x->dmin);
            }
            for (int s = 0; s < 8; s++) p->scales[b][s][2 * r] = p->scales[b][s][2 * r + 1] = sc[s];
            for (int j = 0; j < 4; j++) {
                p->mins[b][j][2 * r] = m[2 * j];
                p->mins[b][j][2 * r + 1] = m[2 * j + 1];
            }
            p->d[b][r] = d;
            p->dmin[b][r] = dmin;
        }
        for (int j = 0; j < 4; j++) {  // sub-blocks 2j (low nibbles) and 2j + 1 (high)
            __m256i lo[ROWS], hi[ROWS];
            for (int r = 0; r < ROWS; r++) {
                __m256i q = _mm256_setzero_si256();
                if (r < rows) {
                    const block_q4_K *x = (const block_q4_K *)(w + (size_t)r * ws) + b0 + b;
                    q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
                }
                lo[r] = _mm256_and_si256(q, m4);
                hi[r] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            }
            xt_x86_transpose8_epi32(lo);
            xt_x86_transpose8_epi32(hi);
            for (int g = 0; g < 8; g++) {
                _mm256_store_si256((__m256i *)p->codes[b][2 * j][g], lo[g]);
                _mm256_store_si256((__m256i *)p->codes[b][2 * j + 1][g], hi[g]);
            }
        }
    }
}

// Sum over sub-block s of sc_r[s] * code * a for NT tokens (int32 lane r). The int16 sums of
// eight maddubs hold 16 products of a code <= 15 and |a| <= 128 each: |sum| <= 30720.
XT_INLINE XT_TARGET_AVX2 void q4k_sub(const q4k_pack *p, int b, int s, const int8_t *const *q8,
                                      const int nt, __m256i *out) {
    __m256i s16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int g = 0; g < 8; g++) {
        const __m256i c = _mm256_load_si256((const __m256i *)p->codes[b][s][g]);
        for (int t = 0; t < nt; t++) {
            s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(c, act4(q8[t] + 32 * s + 4 * g)));
        }
    }
    const __m256i sc = _mm256_load_si256((const __m256i *)p->scales[b][s]);
    for (int t = 0; t < nt; t++) out[t] = _mm256_madd_epi16(s16[t], sc);
}

// NT tokens (1 or 2) through nsb unpacked super-blocks; acc/accm: their 8-row accumulators.
XT_INLINE XT_TARGET_AVX2 void q4k_tokens(const q4k_pack *p, int nsb, const block_q8_K *const *y,
                                         int64_t b0, const int nt, const bool grouped,
                                         __m256 *acc, __m256 *accm) {
    for (int b = 0; b < nsb; b++) {
        const __m256 dw = _mm256_load_ps(p->d[b]), dmw = _mm256_load_ps(p->dmin[b]);
        __m256 d[2], dmin[2];
        __m256i bs2[2];  // int16 sums of the bsums pairs: one per 32-element sub-block
        const int8_t *q8[2];
        for (int t = 0; t < nt; t++) {
            const block_q8_K *yb = y[t] + b0 + b;
            const __m256 da = _mm256_set1_ps(yb->d);
            d[t] = _mm256_mul_ps(dw, da);  // lane r: d_w * d_a, as the dot's float product
            dmin[t] = _mm256_mul_ps(dmw, da);
            const __m256i bs = _mm256_loadu_si256((const __m256i *)yb->bsums);
            // [S0 S1 S2 S3 x x x x | S4 S5 S6 S7 x x x x], |S_k| <= 32 * 128
            bs2[t] = _mm256_hadd_epi16(bs, bs);
            q8[t] = yb->qs;
        }
        __m256i isum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        __m256i msum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int j = 0; j < 4; j++) {
            __m256i plo[2], phi[2];
            q4k_sub(p, b, 2 * j, q8, nt, plo);
            q4k_sub(p, b, 2 * j + 1, q8, nt, phi);
            const __m256i mn = _mm256_load_si256((const __m256i *)p->mins[b][j]);
            // (S_2j, S_2j+1) in every lane: 32-bit lane (j & 1) of half j / 2
            const __m256i sel = _mm256_set1_epi32((j & 1) + 4 * (j >> 1));
            for (int t = 0; t < nt; t++) {
                const __m256i pi = _mm256_add_epi32(plo[t], phi[t]);
                const __m256i mi = _mm256_madd_epi16(mn, _mm256_permutevar8x32_epi32(bs2[t], sel));
                if (grouped) {
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pi), d[t], acc[t]);
                    accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mi), dmin[t], accm[t]);
                } else {
                    isum[t] = _mm256_add_epi32(isum[t], pi);
                    msum[t] = _mm256_add_epi32(msum[t], mi);
                }
            }
        }
        if (!grouped) {
            for (int t = 0; t < nt; t++) {
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), d[t], acc[t]);
                accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum[t]), dmin[t], accm[t]);
            }
        }
    }
}

XT_INLINE XT_TARGET_AVX2 void gemm_q4_K_body(int64_t n, const uint8_t *w, size_t ws, int64_t nr,
                                             const uint8_t *a, size_t as, int64_t nc, float *y,
                                             int64_t ys, const bool grouped) {
    const int64_t nb = n / QK_K;
    q4k_pack p;
    __m256 acc[TOK_CHUNK], accm[TOK_CHUNK];
    for (int64_t r0 = 0; r0 < nr; r0 += ROWS) {
        const int rows = nr - r0 < ROWS ? (int)(nr - r0) : ROWS;
        const uint8_t *wr = w + (size_t)r0 * ws;
        for (int64_t c0 = 0; c0 < nc; c0 += TOK_CHUNK) {
            const int tc = nc - c0 < TOK_CHUNK ? (int)(nc - c0) : TOK_CHUNK;
            for (int t = 0; t < tc; t++) acc[t] = accm[t] = _mm256_setzero_ps();
            for (int64_t b0 = 0; b0 < nb; b0 += CHUNK_SB) {
                const int nsb = nb - b0 < CHUNK_SB ? (int)(nb - b0) : CHUNK_SB;
                q4k_unpack(&p, wr, ws, rows, b0, nsb);
                int t = 0;
                for (; t + 1 < tc; t += 2) {
                    const block_q8_K *yt[2] = {(const block_q8_K *)(a + (size_t)(c0 + t) * as),
                                               (const block_q8_K *)(a + (size_t)(c0 + t + 1) * as)};
                    q4k_tokens(&p, nsb, yt, b0, 2, grouped, acc + t, accm + t);
                }
                if (t < tc) {
                    const block_q8_K *yt[1] = {(const block_q8_K *)(a + (size_t)(c0 + t) * as)};
                    q4k_tokens(&p, nsb, yt, b0, 1, grouped, acc + t, accm + t);
                }
            }
            for (int t = 0; t < tc; t++) {
                xt_x86_store_first(y + (c0 + t) * ys + r0, _mm256_sub_ps(acc[t], accm[t]), rows);
            }
        }
    }
}

XT_TARGET_AVX2 static void gemm_q4_K(int64_t n, const void *restrict w, size_t ws, int64_t nr,
                                     const void *restrict a, size_t as, int64_t nc,
                                     float *restrict y, int64_t ys) {
    gemm_q4_K_body(n, w, ws, nr, a, as, nc, y, ys, false);
}

XT_TARGET_AVX2 static void gemm_q4_K_b4(int64_t n, const void *restrict w, size_t ws, int64_t nr,
                                        const void *restrict a, size_t as, int64_t nc,
                                        float *restrict y, int64_t ys) {
    gemm_q4_K_body(n, w, ws, nr, a, as, nc, y, ys, true);
}

// ---- Q6_K ----
// S = sum_s sc_s * sum (q6 - 32) a = sum_s sc_s * sum q6 a - 32 * sum_s sc_s * bsums_s (exact),
// with the unsigned codes q6 in [0, 63] as maddubs' unsigned operand.

typedef struct {
    _Alignas(32) uint8_t codes[CHUNK_SB][16][4][32];  // [sb][16-element sub-block][group of 4]
    _Alignas(32) int16_t scales[CHUNK_SB][16][16];    // sub-block s: (sc_r[s], sc_r[s]) per lane
    _Alignas(32) int16_t pairs[CHUNK_SB][8][16];      // (sc_r[2i], sc_r[2i+1]) per lane
    _Alignas(32) float d[CHUNK_SB][ROWS];
} q6k_pack;

XT_INLINE XT_TARGET_AVX2 void q6k_unpack(q6k_pack *p, const uint8_t *w, size_t ws, int rows,
                                         int64_t b0, int nsb) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    for (int b = 0; b < nsb; b++) {
        for (int r = 0; r < ROWS; r++) {
            const block_q6_K *x =
                r < rows ? (const block_q6_K *)(w + (size_t)r * ws) + b0 + b : NULL;
            for (int s = 0; s < 16; s++) {
                int16_t sc = x ? x->scales[s] : 0;
                p->scales[b][s][2 * r] = p->scales[b][s][2 * r + 1] = sc;
                p->pairs[b][s / 2][2 * r + s % 2] = sc;
            }
            p->d[b][r] = x ? xt_x86_h2f(x->d) : 0.0f;
        }
        for (int h = 0; h < 2; h++) {
            // codes of elements 128h + 32k + [0, 32): sub-blocks 8h + 2k and 8h + 2k + 1
            __m256i q[4][ROWS];
            for (int r = 0; r < ROWS; r++) {
                if (r >= rows) {
                    for (int k = 0; k < 4; k++) q[k][r] = _mm256_setzero_si256();
                    continue;
                }
                const block_q6_K *x = (const block_q6_K *)(w + (size_t)r * ws) + b0 + b;
                const uint8_t *ql = x->ql + 64 * h;
                __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
                __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
                __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
                q[0][r] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                          _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
                q[1][r] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                          _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
                q[2][r] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                          _mm256_and_si256(qh, m2));
                q[3][r] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
            }
            for (int k = 0; k < 4; k++) {
                xt_x86_transpose8_epi32(q[k]);  // groups 0..3: sub-block 8h + 2k, groups 4..7: the next
                for (int g = 0; g < 8; g++) {
                    _mm256_store_si256((__m256i *)p->codes[b][8 * h + 2 * k + g / 4][g % 4],
                                       q[k][g]);
                }
            }
        }
    }
}

// NT tokens (1 or 2) through nsb unpacked super-blocks. A 16-element sub-block is 4 maddubs;
// each int16 sum of two holds 4 products of q6 <= 63 and |a| <= 128: |sum| <= 32256.
XT_INLINE XT_TARGET_AVX2 void q6k_tokens(const q6k_pack *p, int nsb, const block_q8_K *const *y,
                                         int64_t b0, const int nt, __m256 *acc) {
    for (int b = 0; b < nsb; b++) {
        __m256i sum[2];
        const int8_t *q8[2];
        for (int t = 0; t < nt; t++) {
            const block_q8_K *yb = y[t] + b0 + b;
            const __m256i bs = _mm256_loadu_si256((const __m256i *)yb->bsums);
            __m256i off = _mm256_setzero_si256();
            for (int i = 0; i < 8; i++) {
                const __m256i pr = _mm256_load_si256((const __m256i *)p->pairs[b][i]);
                const __m256i bsi = _mm256_permutevar8x32_epi32(bs, _mm256_set1_epi32(i));
                off = _mm256_add_epi32(off, _mm256_madd_epi16(pr, bsi));
            }
            sum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5));
            q8[t] = yb->qs;
        }
        for (int s = 0; s < 16; s++) {
            const __m256i c0 = _mm256_load_si256((const __m256i *)p->codes[b][s][0]);
            const __m256i c1 = _mm256_load_si256((const __m256i *)p->codes[b][s][1]);
            const __m256i c2 = _mm256_load_si256((const __m256i *)p->codes[b][s][2]);
            const __m256i c3 = _mm256_load_si256((const __m256i *)p->codes[b][s][3]);
            const __m256i sc = _mm256_load_si256((const __m256i *)p->scales[b][s]);
            for (int t = 0; t < nt; t++) {
                const int8_t *a8 = q8[t] + 16 * s;
                __m256i m0 = _mm256_add_epi16(_mm256_maddubs_epi16(c0, act4(a8)),
                                              _mm256_maddubs_epi16(c1, act4(a8 + 4)));
                __m256i m1 = _mm256_add_epi16(_mm256_maddubs_epi16(c2, act4(a8 + 8)),
                                              _mm256_maddubs_epi16(c3, act4(a8 + 12)));
                sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(_mm256_madd_epi16(m0, sc),
                                                                   _mm256_madd_epi16(m1, sc)));
            }
        }
        const __m256 dw = _mm256_load_ps(p->d[b]);
        for (int t = 0; t < nt; t++) {
            const __m256 da = _mm256_set1_ps(y[t][b0 + b].d);
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_cvtepi32_ps(sum[t])), da, acc[t]);
        }
    }
}

XT_TARGET_AVX2 static void gemm_q6_K_b4(int64_t n, const void *restrict w, size_t ws, int64_t nr,
                                        const void *restrict a, size_t as, int64_t nc,
                                        float *restrict y, int64_t ys) {
    const int64_t nb = n / QK_K;
    const uint8_t *wb = w, *ab = a;
    q6k_pack p;
    __m256 acc[TOK_CHUNK];
    for (int64_t r0 = 0; r0 < nr; r0 += ROWS) {
        const int rows = nr - r0 < ROWS ? (int)(nr - r0) : ROWS;
        const uint8_t *wr = wb + (size_t)r0 * ws;
        for (int64_t c0 = 0; c0 < nc; c0 += TOK_CHUNK) {
            const int tc = nc - c0 < TOK_CHUNK ? (int)(nc - c0) : TOK_CHUNK;
            for (int t = 0; t < tc; t++) acc[t] = _mm256_setzero_ps();
            for (int64_t b0 = 0; b0 < nb; b0 += CHUNK_SB) {
                const int nsb = nb - b0 < CHUNK_SB ? (int)(nb - b0) : CHUNK_SB;
                q6k_unpack(&p, wr, ws, rows, b0, nsb);
                int t = 0;
                for (; t + 1 < tc; t += 2) {
                    const block_q8_K *yt[2] = {(const block_q8_K *)(ab + (size_t)(c0 + t) * as),
                                               (const block_q8_K *)(ab + (size_t)(c0 + t + 1) * as)};
                    q6k_tokens(&p, nsb, yt, b0, 2, acc + t);
                }
                if (t < tc) {
                    const block_q8_K *yt[1] = {(const block_q8_K *)(ab + (size_t)(c0 + t) * as)};
                    q6k_tokens(&p, nsb, yt, b0, 1, acc + t);
                }
            }
            for (int t = 0; t < tc; t++) xt_x86_store_first(y + (c0 + t) * ys + r0, acc[t], rows);
        }
    }
}

#endif  // XT_X86

void xt_quant_kernels_fill_avx2_gemm_k(xt_quant_kernels *k) {
#if defined(XT_X86)
    k->gemm[XT_DTYPE_Q4_K] = gemm_q4_K;
    k->gemm_b4[XT_DTYPE_Q4_K] = gemm_q4_K_b4;
    k->gemm_b4[XT_DTYPE_Q6_K] = gemm_q6_K_b4;
#else
    (void)k;
#endif
}
