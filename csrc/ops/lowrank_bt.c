// lowrank_bt.c — the B side of the low-rank terms: B^T packed at attach, and y += u B^T.
//
// B^T (r, out) is packed in column chunks of 32, so a chunk's 32 outputs stay in registers
// while the rank rows stream past, and a range of whole chunks is one contiguous read.
//
// F32: [chunk][rank row][32 columns] (the last chunk narrower when out % 32 != 0).
//
// Q8_0 (out % 32 == 0): each chunk row is quantized as one Q8_0 block (a scale per 32
// outputs), stored as [chunk]{scales: r F16, padded to a multiple of 8 | int8 rows in
// interleaved pairs: 64 bytes per pair, column i of row 2p then of row 2p + 1}. The product
// then runs in integers: per chunk and group of at most 256 rows, s_j = u_j * d_j is rounded
// to 16 bits against the group's largest |s_j| (w_j = round(s_j * 32767 / m)), one 16-bit
// multiply-add takes two rows at once, and y += (sum_j w_j q_j) * m / 32767. That rounding
// adds at most 0.5 * m / 32767 per unit of |q| to an 8-bit product; the integer sum cannot
// overflow (256 * 32767 * 127 < 2^31). The scalar and AVX2 kernels give the same bits.
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "ops/ops.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/quant.h"

enum { CHUNK = XT_LOWRANK_CHUNK, GROUP = 256, W_MAX = 32767 };
// Largest |u_j| the integer path takes: u_j * d_j (|d_j| <= 65504) stays finite.
#define U_MAX 1e30f

static int64_t pad8(int64_t r) { return (r + 7) & ~(int64_t)7; }
static int64_t n_pairs(int64_t r) { return (r + 1) / 2; }

// Bytes of one Q8_0 chunk: the scales, then the row pairs.
static size_t q8_chunk_bytes(int64_t r) {
    return (size_t)pad8(r) * sizeof(uint16_t) + (size_t)n_pairs(r) * 2 * CHUNK;
}

// ---- packing (at attach) ----

size_t xt_lowrank_bt_bytes(xt_dtype type, int64_t r, int64_t out) {
    if (type == XT_DTYPE_Q8_0) return (size_t)(out / CHUNK) * q8_chunk_bytes(r);
    return (size_t)(r * out) * sizeof(float);
}

void xt_lowrank_pack_bt(xt_dtype type, const float *bt, int64_t r, int64_t out, void *dst) {
    const xt_quant_traits *q8 = xt_quant_traits_get(XT_DTYPE_Q8_0);
    if (type == XT_DTYPE_Q8_0) memset(dst, 0, xt_lowrank_bt_bytes(type, r, out));
    for (int64_t c0 = 0; c0 < out; c0 += CHUNK) {
        const int64_t w = out - c0 < CHUNK ? out - c0 : CHUNK;
        uint8_t *chunk = (uint8_t *)dst + (size_t)(c0 / CHUNK) * q8_chunk_bytes(r);
        for (int64_t j = 0; j < r; j++) {
            const float *src = bt + j * out + c0;
            if (type != XT_DTYPE_Q8_0) {
                memcpy((float *)dst + c0 * r + j * w, src, (size_t)w * sizeof(float));
                continue;
            }
            block_q8_0 b;
            q8->from_float(src, &b, CHUNK, NULL);
            memcpy(chunk + (size_t)j * sizeof(uint16_t), &b.d, sizeof b.d);
            int8_t *pair = (int8_t *)(chunk + (size_t)pad8(r) * sizeof(uint16_t)) +
                           (j / 2) * 2 * CHUNK;
            for (int64_t i = 0; i < CHUNK; i++) pair[2 * i + j % 2] = b.qs[i];
        }
    }
}

void xt_lowrank_prefetch_bt(const xt_lowrank_term *t, int64_t c_lo, int64_t c_hi) {
    const size_t row = t->bt_type == XT_DTYPE_Q8_0 ? q8_chunk_bytes(t->r) / CHUNK
                                                   : (size_t)t->r * sizeof(float);
    const char *p = (const char *)t->bt + (size_t)c_lo * row;
    const char *end = (const char *)t->bt + (size_t)c_hi * row;
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < end; p += 64) {
        __builtin_prefetch(p, 0, 3);
    }
}

// ---- y += u B^T over columns [c_lo, c_hi) ----
// (u: all r rank values; c_lo a multiple of CHUNK, c_hi one or out; y: the whole output row.)

static void add_f32_ref(const xt_lowrank_term *t, const float *u, int64_t c_lo, int64_t c_hi,
                        float *y) {
    for (int64_t c0 = c_lo; c0 < c_hi; c0 += CHUNK) {
        const int64_t w = t->out - c0 < CHUNK ? t->out - c0 : CHUNK;
        float acc[CHUNK] = {0};
        for (int64_t j = 0; j < t->r; j++) {
            const float *b = (const float *)t->bt + c0 * t->r + j * w;
            for (int64_t i = 0; i < w; i++) acc[i] += u[j] * b[i];
        }
        for (int64_t i = 0; i < w; i++) y[c0 + i] += acc[i];
    }
}

// s_j = u_j * d_j for the group's rows (zero past them); returns max |s_j|.
static float group_scales(const uint16_t *d, const float *u, int64_t n, float *s) {
    float m = 0.0f;
    for (int64_t j = 0; j < pad8(n); j++) {
        s[j] = j < n ? u[j] * xt_fp16_to_fp32(d[j]) : 0.0f;
        m = fabsf(s[j]) > m ? fabsf(s[j]) : m;
    }
    return m;
}

static void add_q8_ref(const xt_lowrank_term *t, const float *u, int64_t c_lo, int64_t c_hi,
                       float *y) {
    const size_t cb = q8_chunk_bytes(t->r);
    float s[GROUP];
    for (int64_t c0 = c_lo; c0 < c_hi; c0 += CHUNK) {
        const uint8_t *chunk = (const uint8_t *)t->bt + (size_t)(c0 / CHUNK) * cb;
        const int8_t *pairs = (const int8_t *)(chunk + (size_t)pad8(t->r) * sizeof(uint16_t));
        for (int64_t g0 = 0; g0 < t->r; g0 += GROUP) {
            const int64_t n = t->r - g0 < GROUP ? t->r - g0 : GROUP;
            const float m = group_scales((const uint16_t *)chunk + g0, u + g0, n, s);
            if (m == 0.0f) continue;
            const float to_w = (float)W_MAX / m;
            int32_t acc[CHUNK] = {0};
            for (int64_t p = 0; p < n_pairs(n); p++) {
                const int32_t w0 = (int32_t)nearbyintf(s[2 * p] * to_w);
                const int32_t w1 = (int32_t)nearbyintf(s[2 * p + 1] * to_w);
                const int8_t *q = pairs + (g0 / 2 + p) * 2 * CHUNK;
                for (int64_t i = 0; i < CHUNK; i++) acc[i] += w0 * q[2 * i] + w1 * q[2 * i + 1];
            }
            const float back = m / (float)W_MAX;
            for (int64_t i = 0; i < CHUNK; i++) y[c0 + i] += (float)acc[i] * back;
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

TARGET_AVX2 static void add_f32_avx2(const xt_lowrank_term *t, const float *u, int64_t c_lo,
                                     int64_t c_hi, float *y) {
    for (int64_t c0 = c_lo; c0 < c_hi; c0 += CHUNK) {
        if (t->out - c0 < CHUNK) {  // tail chunk: narrower rows
            add_f32_ref(t, u, c0, t->out, y);
            return;
        }
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *b = (const float *)t->bt + c0 * t->r;
        for (int64_t j = 0; j < t->r; j++, b += CHUNK) {
            const __m256 s = _mm256_set1_ps(u[j]);
            a0 = _mm256_fmadd_ps(s, _mm256_loadu_ps(b), a0);
            a1 = _mm256_fmadd_ps(s, _mm256_loadu_ps(b + 8), a1);
            a2 = _mm256_fmadd_ps(s, _mm256_loadu_ps(b + 16), a2);
            a3 = _mm256_fmadd_ps(s, _mm256_loadu_ps(b + 24), a3);
        }
        float *yc = y + c0;
        _mm256_storeu_ps(yc, _mm256_add_ps(_mm256_loadu_ps(yc), a0));
        _mm256_storeu_ps(yc + 8, _mm256_add_ps(_mm256_loadu_ps(yc + 8), a1));
        _mm256_storeu_ps(yc + 16, _mm256_add_ps(_mm256_loadu_ps(yc + 16), a2));
        _mm256_storeu_ps(yc + 24, _mm256_add_ps(_mm256_loadu_ps(yc + 24), a3));
    }
}

// Eight columns of a row pair against the pair's 16-bit values, into acc.
TARGET_AVX2 static inline __m256i pair_madd(const int8_t *q, __m256i w, __m256i acc) {
    const __m256i q16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)q));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(q16, w));
}

TARGET_AVX2 static void add_q8_avx2(const xt_lowrank_term *t, const float *u, int64_t c_lo,
                                    int64_t c_hi, float *y) {
    const size_t cb = q8_chunk_bytes(t->r);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t g0 = 0; g0 < t->r; g0 += GROUP) {
        const int64_t n = t->r - g0 < GROUP ? t->r - g0 : GROUP;
        float ug[GROUP] = {0};  // the group's u, zero past its rows
        memcpy(ug, u + g0, (size_t)n * sizeof(float));
        __m256 s[GROUP / 8];
        int16_t w[GROUP];
        for (int64_t c0 = c_lo; c0 < c_hi; c0 += CHUNK) {
            const uint8_t *chunk = (const uint8_t *)t->bt + (size_t)(c0 / CHUNK) * cb;
            const uint16_t *d = (const uint16_t *)chunk + g0;
            __m256 mx = _mm256_setzero_ps();
            for (int64_t j = 0; j < pad8(n); j += 8) {
                s[j / 8] = _mm256_mul_ps(_mm256_loadu_ps(ug + j),
                                         _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(d + j))));
                mx = _mm256_max_ps(mx, _mm256_and_ps(s[j / 8], abs_mask));
            }
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
            const float m = _mm_cvtss_f32(m4);
            if (m == 0.0f) continue;
            const __m256 to_w = _mm256_set1_ps((float)W_MAX / m);
            for (int64_t j = 0; j < pad8(n); j += 8) {
                const __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(s[j / 8], to_w));
                _mm_storeu_si128((__m128i *)(w + j),
                                 _mm_packs_epi32(_mm256_castsi256_si128(v),
                                                 _mm256_extracti128_si256(v, 1)));
            }
            const int8_t *q = (const int8_t *)(chunk + (size_t)pad8(t->r) * sizeof(uint16_t)) +
                              g0 * CHUNK;
            __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t p = 0; p < n_pairs(n); p++, q += 2 * CHUNK) {
                int32_t pw;
                memcpy(&pw, w + 2 * p, sizeof pw);
                const __m256i wp = _mm256_set1_epi32(pw);
                a0 = pair_madd(q, wp, a0);
                a1 = pair_madd(q + 16, wp, a1);
                a2 = pair_madd(q + 32, wp, a2);
                a3 = pair_madd(q + 48, wp, a3);
            }
            const __m256 back = _mm256_set1_ps(m / (float)W_MAX);
            float *yc = y + c0;
            const __m256i acc[4] = {a0, a1, a2, a3};
            for (int k = 0; k < 4; k++) {
                const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[k]), back);
                _mm256_storeu_ps(yc + 8 * k, _mm256_add_ps(_mm256_loadu_ps(yc + 8 * k), v));
            }
        }
    }
}
#endif

// Q8_0 in floats: y += sum_j u_j d_j q_j. For u that the integer path cannot scale (not
// finite, or so large that u_j * d_j could overflow): NaN and infinities propagate as usual.
static void add_q8_float(const xt_lowrank_term *t, const float *u, int64_t c_lo, int64_t c_hi,
                         float *y) {
    const size_t cb = q8_chunk_bytes(t->r);
    for (int64_t c0 = c_lo; c0 < c_hi; c0 += CHUNK) {
        const uint8_t *chunk = (const uint8_t *)t->bt + (size_t)(c0 / CHUNK) * cb;
        const int8_t *pairs = (const int8_t *)(chunk + (size_t)pad8(t->r) * sizeof(uint16_t));
        float acc[CHUNK] = {0};
        for (int64_t j = 0; j < t->r; j++) {
            uint16_t d;
            memcpy(&d, chunk + (size_t)j * sizeof d, sizeof d);
            const float s = u[j] * xt_fp16_to_fp32(d);
            const int8_t *q = pairs + (j / 2) * 2 * CHUNK + j % 2;
            for (int64_t i = 0; i < CHUNK; i++) acc[i] += s * (float)q[2 * i];
        }
        for (int64_t i = 0; i < CHUNK; i++) y[c0 + i] += acc[i];
    }
}

void xt_lowrank_add_bt(const xt_lowrank_term *t, const float *u, int64_t c_lo, int64_t c_hi,
                       float *y) {
    if (t->r == 0) return;
    const bool q8 = t->bt_type == XT_DTYPE_Q8_0;
    if (q8) {
        float big = 0.0f;
        for (int64_t j = 0; j < t->r; j++) big = fabsf(u[j]) > big ? fabsf(u[j]) : big;
        bool nan = false;
        for (int64_t j = 0; j < t->r; j++) nan = nan || u[j] != u[j];
        if (nan || !(big <= U_MAX)) {
            add_q8_float(t, u, c_lo, c_hi, y);
            return;
        }
    }
#if defined(__x86_64__) && defined(__GNUC__)
    if (xt_quant_kernels_get()->level >= XT_SIMD_AVX2) {
        if (q8) add_q8_avx2(t, u, c_lo, c_hi, y);
        else add_f32_avx2(t, u, c_lo, c_hi, y);
        return;
    }
#endif
    if (q8) add_q8_ref(t, u, c_lo, c_hi, y);
    else add_f32_ref(t, u, c_lo, c_hi, y);
}
