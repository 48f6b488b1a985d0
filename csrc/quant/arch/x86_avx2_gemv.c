// x86_avx2_gemv.c — AVX2 one-token kernels (xt_gemv_fn) for decode: GEMV_RM weight rows per
// step against one activation row. A lone dot product is bound by the latency of its one
// FMA chain; GEMV_RM independent chains fill the pipeline, each activation block is loaded
// once for all of them, and the rows' f16 scales are converted together.
//
// Arithmetic per output: exactly that of the AVX2 vec_dot of the same type (x86_avx2.c; for
// Q4_1 and Q8_0 llama.cpp's, see docs/development.md "Numerics"): the same chains over the
// blocks in order, the same scale products (d_w * d_a, one float multiply), the same
// horizontal sums; only the interleaving of independent rows differs. So decode logits stay
// bit-identical to llama.cpp's (Q4_1, Q5_0, Q8_0). tests/test_quant_simd.py checks each entry against vec_dot.
#include "quant/arch/x86_common.h"
#include "quant/quant.h"

#if defined(XT_X86)

enum { GEMV_RM = 4 };

// The f16 pairs at p, p + stride, .. (rm of them, 4 bytes each: Q4_1's (d, m), or d and the
// next two bytes of a block that starts with its scale) -> [a0 b0 a1 b1 a2 b2 a3 b3] as floats.
XT_INLINE XT_TARGET_AVX2 __m256 row_pairs(const uint8_t *p, size_t stride, int rm) {
    uint32_t v[GEMV_RM] = {0, 0, 0, 0};
    for (int r = 0; r < rm; r++) memcpy(&v[r], p + (size_t)r * stride, 4);
    return _mm256_cvtph_ps(_mm_setr_epi32((int)v[0], (int)v[1], (int)v[2], (int)v[3]));
}

// Step b of nb over a group of rows spanning `span` bytes from w: prefetches, in ascending
// order, the b-th share of the span `pf` bytes ahead, so the group pf ahead is in cache in
// full when the walk gets there and the addresses stream forward like one sequential read.
XT_INLINE void prefetch_step(const uint8_t *w, size_t span, size_t pf, int64_t b, int64_t nb) {
    const uint8_t *lo = w + pf + span * (size_t)b / (size_t)nb;
    const uint8_t *hi = w + pf + span * (size_t)(b + 1) / (size_t)nb;
    for (const uint8_t *p = (const uint8_t *)((uintptr_t)lo & ~(uintptr_t)63); p < hi; p += 64) {
        _mm_prefetch((const char *)p, _MM_HINT_T0);
    }
}

// Lane `l` of v in all eight lanes.
XT_INLINE XT_TARGET_AVX2 __m256 lane(__m256 v, int l) {
    return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(l));
}

// ---- Q4_1 x Q8_1 ----
// Per row: acc = fma(d_w * d_a, lanes, acc) over the blocks; mins = fma(m_w, s_a, mins) as a
// scalar chain, here lane 2r + 1 of one vector (the even lanes are unused products).
XT_INLINE XT_TARGET_AVX2 void rows_q4_1(int64_t nb, const uint8_t *w, size_t ws, size_t pf,
                                        const block_q8_1 *y, float *out, const int rm) {
    __m256 acc[GEMV_RM], accm = _mm256_setzero_ps();
    for (int r = 0; r < rm; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        prefetch_step(w, (size_t)rm * ws, pf, b, nb);
        uint32_t ds;
        memcpy(&ds, &y[b].d, 4);
        const __m256 yds = _mm256_cvtph_ps(_mm_set1_epi32((int)ds));  // [d s d s ..]
        const __m256 dm = row_pairs(w + (size_t)b * sizeof(block_q4_1), ws, rm);
        const __m256 prod = _mm256_mul_ps(dm, yds);
        accm = _mm256_fmadd_ps(dm, yds, accm);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        for (int r = 0; r < rm; r++) {
            const block_q4_1 *x = (const block_q4_1 *)(w + (size_t)r * ws) + b;
            __m256i s = xt_x86_dot_us(xt_x86_nibbles32(x->qs), qy);
            acc[r] = _mm256_fmadd_ps(lane(prod, 2 * r), _mm256_cvtepi32_ps(s), acc[r]);
        }
    }
    float mins[8];
    _mm256_storeu_ps(mins, accm);
    for (int r = 0; r < rm; r++) out[r] = xt_x86_hsum_ps(acc[r]) + mins[2 * r + 1];
}

// ---- one chain per row over blocks that start with their f16 scale: Q8_0, Q5_0 ----
XT_INLINE XT_TARGET_AVX2 __m256i blk_q8_0(const uint8_t *blk, __m256i qy) {
    return xt_x86_dot_ss(_mm256_loadu_si256((const __m256i *)((const block_q8_0 *)blk)->qs), qy);
}

XT_INLINE XT_TARGET_AVX2 __m256i blk_q5_0(const uint8_t *blk, __m256i qy) {
    const block_q5_0 *x = (const block_q5_0 *)blk;
    __m256i hi = _mm256_and_si256(xt_x86_bits32(x->qh), _mm256_set1_epi8(0x10));
    __m256i codes = _mm256_or_si256(xt_x86_nibbles32(x->qs), hi);
    return xt_x86_dot_us_off(codes, qy, _mm256_set1_epi8(16));
}

XT_INLINE XT_TARGET_AVX2 void rows_d_first(int64_t nb, const uint8_t *w, size_t ws, size_t pf,
                                           size_t wblk, __m256i (*blk_dot)(const uint8_t *,
                                                                           __m256i),
                                           const block_q8_0 *y, float *out, const int rm) {
    __m256 acc[GEMV_RM];
    for (int r = 0; r < rm; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        prefetch_step(w, (size_t)rm * ws, pf, b, nb);
        // even lanes: the rows' d (odd lanes: the next two bytes read as f16, unused)
        const __m256 d = row_pairs(w + (size_t)b * wblk, ws, rm);
        const __m256 prod = _mm256_mul_ps(d, _mm256_set1_ps(xt_x86_h2f(y[b].d)));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        for (int r = 0; r < rm; r++) {
            const uint8_t *x = w + (size_t)r * ws + (size_t)b * wblk;
            __m256i s = blk_dot(x, qy);
            acc[r] = _mm256_fmadd_ps(lane(prod, 2 * r), _mm256_cvtepi32_ps(s), acc[r]);
        }
    }
    for (int r = 0; r < rm; r++) out[r] = xt_x86_hsum_ps(acc[r]);
}

XT_INLINE XT_TARGET_AVX2 void rows_q8_0(int64_t nb, const uint8_t *w, size_t ws, size_t pf,
                                        const block_q8_0 *y, float *out, const int rm) {
    rows_d_first(nb, w, ws, pf, sizeof(block_q8_0), blk_q8_0, y, out, rm);
}

XT_INLINE XT_TARGET_AVX2 void rows_q5_0(int64_t nb, const uint8_t *w, size_t ws, size_t pf,
                                        const block_q8_0 *y, float *out, const int rm) {
    rows_d_first(nb, w, ws, pf, sizeof(block_q5_0), blk_q5_0, y, out, rm);
}

// ---- Q4_0 x Q8_0: two chains per row (even and odd blocks), as its vec_dot ----
XT_INLINE XT_TARGET_AVX2 void rows_q4_0(int64_t nb, const uint8_t *w, size_t ws, size_t pf,
                                        const block_q8_0 *y, float *out, const int rm) {
    __m256 acc[2][GEMV_RM];
    for (int r = 0; r < rm; r++) acc[0][r] = acc[1][r] = _mm256_setzero_ps();
    const __m256i off = _mm256_set1_epi8(8);
    const int64_t nb2 = nb & ~(int64_t)1;
    for (int64_t b = 0; b < nb; b++) {
        prefetch_step(w, (size_t)rm * ws, pf, b, nb);
        const int c = b < nb2 ? (int)(b & 1) : 0;  // a last odd block joins chain 0
        const __m256 d = row_pairs(w + (size_t)b * sizeof(block_q4_0), ws, rm);
        const __m256 prod = _mm256_mul_ps(d, _mm256_set1_ps(xt_x86_h2f(y[b].d)));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        for (int r = 0; r < rm; r++) {
            const block_q4_0 *x = (const block_q4_0 *)(w + (size_t)r * ws) + b;
            __m256i s = xt_x86_dot_us_off(xt_x86_nibbles32(x->qs), qy, off);
            acc[c][r] = _mm256_fmadd_ps(lane(prod, 2 * r), _mm256_cvtepi32_ps(s), acc[c][r]);
        }
    }
    for (int r = 0; r < rm; r++) out[r] = xt_x86_hsum_ps(_mm256_add_ps(acc[0][r], acc[1][r]));
}

// nr rows in groups of GEMV_RM, the rest one by one through the same inline body.
// Prefetch: interleaved rows read a group's bytes back and forth, which the hardware
// prefetchers do not follow; each step prefetches its share of the group a whole number of
// groups ahead (>= GEMV_PREFETCH bytes) in ascending order instead (prefetch_step).
enum { GEMV_PREFETCH = 2048 };
#define XT_GEMV_WALK(name, rows, act_t, blk_elems)                                              \
    XT_TARGET_AVX2 static void name(int64_t n, const void *restrict w, size_t ws, int64_t nr, \
                                    const void *restrict a, float *restrict y) {              \
        const int64_t nb = n / (blk_elems);                                                   \
        const uint8_t *wb = w;                                                                \
        size_t pf = GEMV_RM * ws;                                                             \
        while (pf < GEMV_PREFETCH) pf += GEMV_RM * ws;                                        \
        int64_t r = 0;                                                                        \
        for (; r + GEMV_RM <= nr; r += GEMV_RM) {                                             \
            rows(nb, wb + (size_t)r * ws, ws, pf, (const act_t *)a, y + r, GEMV_RM);          \
        }                                                                                     \
        for (; r < nr; r++) {                                                                 \
            rows(nb, wb + (size_t)r * ws, ws, ws * ((GEMV_PREFETCH + ws - 1) / ws),           \
                 (const act_t *)a, y + r, 1);                                                 \
        }                                                                                     \
    }

XT_GEMV_WALK(gemv_q4_1, rows_q4_1, block_q8_1, QK4_1)
XT_GEMV_WALK(gemv_q8_0, rows_q8_0, block_q8_0, QK8_0)
XT_GEMV_WALK(gemv_q4_0, rows_q4_0, block_q8_0, QK4_0)
XT_GEMV_WALK(gemv_q5_0, rows_q5_0, block_q8_0, QK5_0)
#undef XT_GEMV_WALK

#endif  // XT_X86

void xt_quant_kernels_fill_avx2_gemv(xt_quant_kernels *k) {
#if defined(XT_X86)
    k->gemv[XT_DTYPE_Q4_0] = gemv_q4_0;
    k->gemv[XT_DTYPE_Q4_1] = gemv_q4_1;
    k->gemv[XT_DTYPE_Q5_0] = gemv_q5_0;
    k->gemv[XT_DTYPE_Q8_0] = gemv_q8_0;
#else
    (void)k;
#endif
}
