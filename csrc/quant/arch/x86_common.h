// x86_common.h — helpers shared by the AVX2 and AVX-512 quantized kernels: target attribute
// macros, horizontal sums, fp16/E8M0 scales and the 32-element block unpackers.
//
// Build notes:
// * Every function carries a GCC/Clang `target` attribute, so the file compiles under the
//   project's portable flags and the dispatcher picks a level at run time. A helper with the
//   AVX2 target may be inlined into an AVX-512 function (its ISA set is a subset), not the
//   reverse.
// * XT_X86_TEST_SIMDE (never set by setup.py) builds the kernels against SIMDe's portable
//   intrinsics instead of <immintrin.h>, so the AVX-512 code can be checked on a machine
//   without AVX-512 (a test-only harness; the VNNI inline asm is then replaced by SIMDe's
//   _mm512_dpbusd_epi32).
//
// Integer ranges: the Q8 quantizers give activation codes in [-127, 127] for finite input;
// the signed x signed products use the sign trick (|x| times y with x's sign), exact for
// weights in [-128, 127] and activations in [-127, 127]. A code of -128 appears only after a
// NaN in the activation row (the scalar max fold resets there and saturates); such dots are
// meaningless and may then differ from the scalar one, as in ggml.
#ifndef XT_QUANT_ARCH_X86_COMMON_H
#define XT_QUANT_ARCH_X86_COMMON_H

#if defined(__x86_64__) || defined(_M_X64) || defined(XT_X86_TEST_SIMDE)
#define XT_X86 1

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(XT_X86_TEST_SIMDE)
#ifndef XT_X86_TEST_SIMDE_VNNI
#define XT_X86_TEST_SIMDE_VNNI 0  // 1: the AVX-512 table takes the VNNI kernels
#endif
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
#undef _mm512_madd_epi16  // SIMDe 0.7.4 aliases it with the masked signature
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)
#endif

#include "quant/blocks.h"
#include "quant/fp16.h"

#if defined(XT_X86_TEST_SIMDE)
// conversions SIMDe 0.7.4 lacks (test builds only)
static inline simde__m512 xt_simde_cvtepi32_ps(simde__m512i a) {
    simde__m512i_private a_ = simde__m512i_to_private(a);
    simde__m512_private r_;
    for (int i = 0; i < 16; i++) r_.f32[i] = (float)a_.i32[i];
    return simde__m512_from_private(r_);
}
static inline simde__m512i xt_simde_cvtepu16_epi32(simde__m256i a) {
    simde__m256i_private a_ = simde__m256i_to_private(a);
    simde__m512i_private r_;
    for (int i = 0; i < 16; i++) r_.i32[i] = a_.u16[i];
    return simde__m512i_from_private(r_);
}
static inline simde__m512 xt_simde_cvtph_ps(simde__m256i a) {
    simde__m256i_private a_ = simde__m256i_to_private(a);
    simde__m512_private r_;
    for (int i = 0; i < 16; i++) r_.f32[i] = xt_fp16_to_fp32(a_.u16[i]);
    return simde__m512_from_private(r_);
}
#define _mm512_cvtepi32_ps xt_simde_cvtepi32_ps
#define _mm512_cvtepu16_epi32 xt_simde_cvtepu16_epi32
#define _mm512_cvtph_ps xt_simde_cvtph_ps
#else
#include <immintrin.h>
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define XT_TARGET_AVX2
#define XT_TARGET_AVX512
#define XT_INLINE static __forceinline
#elif defined(XT_X86_TEST_SIMDE)
#define XT_TARGET_AVX2
#define XT_TARGET_AVX512
#define XT_INLINE static inline
#else
#define XT_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define XT_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define XT_INLINE static inline __attribute__((always_inline))
#endif

// ---- scalars ----

// binary16 -> binary32 (F16C; exact, equal to xt_fp16_to_fp32 except that a signalling NaN
// comes back quiet).
XT_INLINE XT_TARGET_AVX2 float xt_x86_h2f(xt_half h) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128((int)h)));
}

// ggml's E8M0 "half" scale 2^(e-128): exponent bits (e-1)<<23 for e >= 2, the subnormal
// patterns 2^-128 / 2^-127 for e = 0 / 1 (e = 255 gives +Inf; ggml rejects such rows).
XT_INLINE float xt_x86_e8m0_half(uint8_t e) {
    uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    return xt_bits_to_f32(bits);
}

// ---- 256-bit helpers ----

XT_INLINE XT_TARGET_AVX2 float xt_x86_hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

XT_INLINE XT_TARGET_AVX2 float xt_x86_hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// 16 bytes of nibbles -> 32 bytes [low nibbles (elements 0..15) | high nibbles (16..31)].
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_nibbles32(const uint8_t *qs) {
    // both lanes get the 16 bytes; the upper lane shifts right by 4 (per 32-bit lane)
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    v = _mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

// 32 bits (little-endian bytes) -> 32 bytes, 0xFF where the bit is set.
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_bits32(const uint8_t *p) {
    uint32_t bits;
    memcpy(&bits, p, 4);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                            2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i pick = _mm256_set1_epi64x((int64_t)0x8040201008040201ULL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, pick), pick);
}

// Sum of u8 x s8 products, 8 int32 lanes (each lane: 4 neighbouring bytes).
// maddubs saturates int16 pairs: callers keep u * |s| * 2 <= 32767.
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_dot_us(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Sum of (u - off) x s with u, off unsigned bytes (u <= 31, off <= 32): 8 int32 lanes.
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_dot_us_off(__m256i u, __m256i s, __m256i off) {
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, s), _mm256_maddubs_epi16(off, s));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

// int16 pair sums of x * y for signed bytes (x in [-128, 127], y in [-127, 127]).
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_mul_ss16(__m256i x, __m256i y) {
    return _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_dot_ss(__m256i x, __m256i y) {
    return _mm256_madd_epi16(xt_x86_mul_ss16(x, y), _mm256_set1_epi16(1));
}

// Transposes 8 x 8 32-bit elements: v[g] <- element g of v[0..7] (lane r: from v[r]). The
// prefill tiles interleave eight weight rows with it, four codes per 32-bit lane.
XT_INLINE XT_TARGET_AVX2 void xt_x86_transpose8_epi32(__m256i v[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);      // groups 0 1 | 4 5
        t[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);  // groups 2 3 | 6 7
    }
    for (int i = 0; i < 2; i++) {  // rows 4i .. 4i+3
        u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);      // group 0 | 4
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);      // group 1 | 5
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);  // group 2 | 6
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);  // group 3 | 7
    }
    for (int g = 0; g < 4; g++) {
        v[g] = _mm256_permute2x128_si256(u[g], u[4 + g], 0x20);
        v[g + 4] = _mm256_permute2x128_si256(u[g], u[4 + g], 0x31);
    }
}

// Stores lanes [0, n) of v at y (n <= 8; a plain store for 8). A masked store, not a copy
// loop: compilers turn those into a memcpy call per tile row.
XT_INLINE XT_TARGET_AVX2 void xt_x86_store_first(float *y, __m256 v, int n) {
    if (n == 8) {
        _mm256_storeu_ps(y, v);
        return;
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(y, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane), v);
}

// ---- four blocks per step: batched scales, one reduction, prefetch ----
// The legacy kernels take 4 blocks per step: each block's integer dot stays in its own 8
// int32 lanes (exact), xt_x86_reduce4 folds the four into one vector, and one FMA applies the
// four block scales, converted together with one F16C instruction. That removes per block a
// scalar f16 conversion pair, a broadcast, an int->float conversion and an FMA; the scale
// products are the same float products as in the reference (x_d * y_d, exact inputs).

// Bytes ahead of the weight block being read that the kernels prefetch: enough to cover the
// memory latency at one core's share of the bandwidth (decode streams each weight once; the
// hardware prefetchers stop at 4 KiB pages, and rows are 4-9 KiB).
#define XT_X86_PREFETCH_AHEAD 2048

// Prefetches the two cache lines XT_X86_PREFETCH_AHEAD bytes after p (a step reads <= 128
// bytes of weights, so two lines per step keep ahead of it). Prefetches never fault.
// One line, for kernels whose step reads <= 64 bytes of weights.
#define XT_X86_PREFETCH1(p) _mm_prefetch((const char *)(p) + XT_X86_PREFETCH_AHEAD, _MM_HINT_T0)

XT_INLINE XT_TARGET_AVX2 void xt_x86_prefetch2(const void *p) {
    _mm_prefetch((const char *)p + XT_X86_PREFETCH_AHEAD, _MM_HINT_T0);
    _mm_prefetch((const char *)p + XT_X86_PREFETCH_AHEAD + 64, _MM_HINT_T0);
}

// The f16 values at p, p + stride, p + 2 stride, p + 3 stride, packed into 64 bits in order
// (integer loads and shifts: they run beside the vector work).
XT_INLINE uint64_t xt_x86_gather_h4(const void *p, size_t stride) {
    const uint8_t *b = p;
    uint16_t h0, h1, h2, h3;
    memcpy(&h0, b, 2);
    memcpy(&h1, b + stride, 2);
    memcpy(&h2, b + 2 * stride, 2);
    memcpy(&h3, b + 3 * stride, 2);
    return (uint64_t)h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
}

// [x0*y0, x1*y1, x2*y2, x3*y3 | the same] from four packed f16 x and y scales.
XT_INLINE XT_TARGET_AVX2 __m256 xt_x86_scale4_hh(uint64_t hx, uint64_t hy) {
    __m256 v = _mm256_cvtph_ps(_mm_set_epi64x((long long)hy, (long long)hx));  // [x | y]
    return _mm256_mul_ps(v, _mm256_permute2f128_ps(v, v, 1));
}

// Four E8M0 bytes (packed in order) -> their "half" scales 2^(e-128) (as xt_x86_e8m0_half).
XT_INLINE XT_TARGET_AVX2 __m128 xt_x86_e8m0_half4(uint32_t e4) {
    __m128i e = _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)e4));
    __m128i norm = _mm_slli_epi32(_mm_sub_epi32(e, _mm_set1_epi32(1)), 23);
    __m128i tiny = _mm_sllv_epi32(_mm_set1_epi32(0x00200000), e);  // used for e < 2 only
    __m128i small = _mm_cmpgt_epi32(_mm_set1_epi32(2), e);
    return _mm_castsi128_ps(_mm_blendv_epi8(norm, tiny, small));
}

// [e0*y0 .. e3*y3 | the same] for MXFP4: four E8M0 x scales (stride 17) and f16 y scales.
XT_INLINE XT_TARGET_AVX2 __m256 xt_x86_scale4_e8h(const uint8_t *pe, size_t stride, uint64_t hy) {
    uint32_t e4 = (uint32_t)pe[0] | (uint32_t)pe[stride] << 8 | (uint32_t)pe[2 * stride] << 16 |
                  (uint32_t)pe[3 * stride] << 24;
    __m128 d = _mm_mul_ps(xt_x86_e8m0_half4(e4),
                          _mm_cvtph_ps(_mm_cvtsi64_si128((long long)hy)));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(d), d, 1);
}

// Four blocks' int32 partial sums (8 lanes each) -> [b0 b1 b2 b3 | b0 b1 b2 b3]: lane k of
// each half holds part of block k's sum (the two halves add up to it). Exact.
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_reduce4(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
    __m256i t01 = _mm256_add_epi32(_mm256_unpacklo_epi32(s0, s1), _mm256_unpackhi_epi32(s0, s1));
    __m256i t23 = _mm256_add_epi32(_mm256_unpacklo_epi32(s2, s3), _mm256_unpackhi_epi32(s2, s3));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
}

// ---- value tables for the 4-bit lookup formats (16 entries, repeated in both lanes) ----

static const int8_t xt_x86_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                1,    13,   25,  38,  53,  69,  89,  113};
// E2M1 values doubled (ggml's int8 MXFP4 table; code 8 is +0).
static const int8_t xt_x86_kvalues_mxfp4[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                                0, -1, -2, -3, -4, -6, -8, -12};

XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_table16(const int8_t *t) {
    __m128i v = _mm_loadu_si128((const __m128i *)t);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(v), v, 1);
}

// ---- round half away from zero (C roundf), exact for every float ----
// t = trunc(v) and v - t are exact; step one unit away from zero when |v - t| >= 0.5.
// NaN stays NaN (callers map it to 0).
XT_INLINE XT_TARGET_AVX2 __m256 xt_x86_roundf(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    __m256 up = _mm256_cmp_ps(f, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 one = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

// ggml's nearest_int (round half to even through the 1.5*2^23 magic number), lane by lane
// with the same float add, so NaN/Inf give the same integers as the scalar code.
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_nearest_int(__m256 v) {
    __m256i bits = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.f)));
    return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)),
                            _mm256_set1_epi32(0x00400000));
}

// Four int32x8 vectors (elements 0..31 in order) -> 32 bytes, keeping the low byte of each
// (C's int -> int8_t conversion), in element order.
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_low_bytes(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i m = _mm256_set1_epi32(0xFF);
    __m256i ab = _mm256_packus_epi32(_mm256_and_si256(a, m), _mm256_and_si256(b, m));
    __m256i cd = _mm256_packus_epi32(_mm256_and_si256(c, m), _mm256_and_si256(d, m));
    __m256i r = _mm256_packus_epi16(ab, cd);  // 0-3 8-11 16-19 24-27 | 4-7 12-15 20-23 28-31
    return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// ---- K-quant scale unpacking ----

// Q4_K / Q5_K: 12 packed bytes -> one 128-bit vector, bytes 0..7 the 6-bit scales sc[0..7],
// bytes 8..15 the 6-bit mins m[0..7] (xt_get_scale_min_k4 on four bytes at a time).
XT_INLINE XT_TARGET_AVX2 __m128i xt_x86_k4_scales_v(const uint8_t *s) {
    uint32_t u0, u1, u2;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    const uint32_t m6 = 0x3F3F3F3Fu, m4 = 0x0F0F0F0Fu, m2 = 0x03030303u;
    uint32_t sc_lo = u0 & m6, mn_lo = u1 & m6;
    uint32_t sc_hi = (u2 & m4) | ((u0 >> 6) & m2) << 4;
    uint32_t mn_hi = ((u2 >> 4) & m4) | ((u1 >> 6) & m2) << 4;
    return _mm_set_epi64x((long long)((uint64_t)mn_hi << 32 | mn_lo),
                          (long long)((uint64_t)sc_hi << 32 | sc_lo));
}

// pshufb control that broadcasts int16 lane k (of each 128-bit half) to the whole half.
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_bcast16_ctl(int k) {
    return _mm256_set1_epi16((short)((2 * k) | (2 * k + 1) << 8));
}

// pshufb control: int16 lane 2k of the lower half to all of it, lane 2k+1 to the upper half
// (two Q6_K scales, taken from a vector that holds them in both halves).
XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_pair_ctl(int k) {
    return _mm256_blend_epi32(xt_x86_bcast16_ctl(2 * k), xt_x86_bcast16_ctl(2 * k + 1), 0xF0);
}

// Q4_K / Q5_K: 12 packed bytes -> sc[0..7] (6-bit scales) and m[0..7] (6-bit mins).
static inline void xt_x86_k4_scales(const uint8_t *s, uint8_t *sc, uint8_t *m) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 15) | ((s[j] >> 6) << 4));
        m[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

// Q3_K: 12 packed bytes -> sixteen signed scales s_i - 32.
static inline void xt_x86_q3k_scales(const uint8_t *s, int8_t *out) {
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? s[i] & 15 : s[i - 8] >> 4;
        int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        out[i] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

// IQ4_XS: sub-block b's scale ls_b - 32.
static inline int xt_x86_iq4xs_scale(const block_iq4_xs *x, int b) {
    int lo = (x->scales_l[b / 2] >> (4 * (b % 2))) & 15;
    int hi = (x->scales_h >> (2 * b)) & 3;
    return (lo | (hi << 4)) - 32;
}

// ---- activation quantizers (used by both levels: O(n) per matmul, not worth 512-bit code) ----

// Q8_0 / Q8_1 block: d = amax / 127, id = 1/d (0 when d == 0), q = roundf(x * id).
// Returns the 32 codes as bytes; *sum gets their integer sum (for Q8_1).
// Scalar semantics (quant/q8.c): amax folds left to right as amax = amax > a ? amax : a
// (a NaN resets it), which is maxss(amax, a); codes are roundf then saturated to
// [-128, 127], NaN -> 0 (xt_round_to_i8).
XT_INLINE XT_TARGET_AVX2 __m256 xt_x86_round_i8(__m256 v) {
    __m256 r = xt_x86_roundf(v);
    r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));  // NaN -> 0
    return _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
}

// Same, rounding to nearest with ties to even (the activation quantizers).
XT_INLINE XT_TARGET_AVX2 __m256 xt_x86_rint_i8(__m256 v) {
    __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));  // NaN -> 0
    return _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
}

XT_INLINE XT_TARGET_AVX2 __m256i xt_x86_q8_block(const float *x, float *d_out, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 a0 = _mm256_andnot_ps(sign, v0), a1 = _mm256_andnot_ps(sign, v1);
    __m256 a2 = _mm256_andnot_ps(sign, v2), a3 = _mm256_andnot_ps(sign, v3);
    __m256 nan =
        _mm256_or_ps(_mm256_cmp_ps(v0, v1, _CMP_UNORD_Q), _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q));
    float amax;
    if (_mm256_movemask_ps(nan)) {
        // order matters only with NaN: replay the scalar fold
        amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            float a = xt_bits_to_f32(xt_f32_to_bits(x[j]) & 0x7FFFFFFFu);
            amax = amax > a ? amax : a;
        }
    } else {
        __m256 m = _mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3));
        amax = xt_x86_hmax_ps(m);
    }
    // Activation formula of ggml's x86 CPU backend (see q8.c): id = 127/amax, ties to even.
    float d = amax / 127.0f;
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    __m256 vid = _mm256_set1_ps(id);
    __m256i i0 = _mm256_cvttps_epi32(xt_x86_rint_i8(_mm256_mul_ps(v0, vid)));
    __m256i i1 = _mm256_cvttps_epi32(xt_x86_rint_i8(_mm256_mul_ps(v1, vid)));
    __m256i i2 = _mm256_cvttps_epi32(xt_x86_rint_i8(_mm256_mul_ps(v2, vid)));
    __m256i i3 = _mm256_cvttps_epi32(xt_x86_rint_i8(_mm256_mul_ps(v3, vid)));
    __m256i q = xt_x86_low_bytes(i0, i1, i2, i3);
    if (sum) {
        // sum of the stored int8 codes
        __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
        __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
        s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
        *sum = _mm_cvtsi128_si32(s);
    }
    *d_out = d;
    return q;
}

XT_INLINE XT_TARGET_AVX2 void xt_x86_quant_q8_0(const float *restrict src, void *restrict dst,
                                                int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        float d;
        __m256i q = xt_x86_q8_block(src + i * QK8_0, &d, NULL);
        y[i].d = xt_fp32_to_fp16(d);
        _mm256_storeu_si256((__m256i *)y[i].qs, q);
    }
}

XT_INLINE XT_TARGET_AVX2 void xt_x86_quant_q8_1(const float *restrict src, void *restrict dst,
                                                int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        float d;
        int sum;
        __m256i q = xt_x86_q8_block(src + i * QK8_1, &d, &sum);
        y[i].d = xt_fp32_to_fp16(d);
        y[i].s = xt_fp32_to_fp16((float)sum * d);
        _mm256_storeu_si256((__m256i *)y[i].qs, q);
    }
}

// Q8_K: max = the first element of largest magnitude (sign kept), iscale = -127/max,
// q = clamp(nearest_int(iscale * x), -128, 127), d = 1/iscale; bsums = sums of 16 codes.
// nearest_int uses the scalar's magic-number trick, so NaN/Inf give the same codes.
XT_INLINE XT_TARGET_AVX2 void xt_x86_quant_q8_K(const float *restrict src, void *restrict dst,
                                                int64_t n) {
    block_q8_K *y = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *x = src + i * QK_K;
        // NaN lanes never win (the scalar `ax > amax` is false for NaN): max_ps(v, m)
        // returns m when v is NaN.
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8)
            m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), m);
        float amax = xt_x86_hmax_ps(m);
        if (!(amax > 0.0f)) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        float max = 0.0f;
        __m256 vam = _mm256_set1_ps(amax);
        for (int j = 0; j < QK_K; j += 8) {
            __m256 ax = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j));
            int mask = _mm256_movemask_ps(_mm256_cmp_ps(ax, vam, _CMP_EQ_OQ));
            if (mask) {
                max = x[j + __builtin_ctz((unsigned)mask)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vis = _mm256_set1_ps(iscale);
        const __m256i top = _mm256_set1_epi32(127), bot = _mm256_set1_epi32(-128);
        for (int j = 0; j < QK_K; j += 32) {
            __m256i c[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_mul_ps(vis, _mm256_loadu_ps(x + j + 8 * k));
                c[k] = _mm256_max_epi32(_mm256_min_epi32(xt_x86_nearest_int(v), top), bot);
            }
            __m256i q = xt_x86_low_bytes(c[0], c[1], c[2], c[3]);
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), q);
            // two bsums: signed byte sums via SAD of (q ^ 0x80) minus 128 per byte
            __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)),
                                          _mm256_setzero_si256());
            __m128i lo = _mm256_castsi256_si128(sad), hi = _mm256_extracti128_si256(sad, 1);
            int s0 = _mm_cvtsi128_si32(lo) + _mm_extract_epi32(lo, 2) - 16 * 128;
            int s1 = _mm_cvtsi128_si32(hi) + _mm_extract_epi32(hi, 2) - 16 * 128;
            y[i].bsums[j / 16] = (int16_t)s0;
            y[i].bsums[j / 16 + 1] = (int16_t)s1;
        }
        y[i].d = 1.0f / iscale;
    }
}

#endif  // x86-64
#endif  // XT_QUANT_ARCH_X86_COMMON_H
