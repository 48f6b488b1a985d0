// legacy_common.h — small helpers shared by the legacy 32-block quantizers (q4_q5.c, q8.c,
// iq4_mxfp4.c): float-to-code conversions that match ggml's casts without undefined behaviour.
//
// ggml converts with plain C casts such as `(int8_t)(x*id + 8.5f)`; for the finite values
// a valid block produces they are exact truncations, but for NaN/Inf (or out-of-range)
// inputs they are undefined. These helpers give the same code for every value ggml's cast
// defines, and a fixed, documented code otherwise: NaN -> the low end of the range (0 for
// unsigned codes, 0 for signed ones), values past either end -> that end.
#ifndef XT_QUANT_LEGACY_COMMON_H
#define XT_QUANT_LEGACY_COMMON_H

#include <stdint.h>

#include "quant/fp16.h"
#include "quant/k_fit.h"

// Truncation toward zero of v into [0, hi] (ggml: MIN(hi, (int8_t)v) for v in [0, 127]).
// Negative values and NaN give 0.
static inline int xt_trunc_code(float v, int hi) {
    if (v >= (float)hi) return hi;
    if (v > 0.0f) return (int)v;
    return 0;
}

// An already rounded value (roundf / nearest_int result) to int8, saturating; NaN -> 0.
static inline int8_t xt_round_to_i8(float r) {
    if (r >= 127.0f) return 127;
    if (r <= -128.0f) return -128;
    if (r == r) return (int8_t)(int)r;
    return 0;
}

// Stores a 32-bit little-endian word (the qh field of Q5_0/Q5_1).
static inline void xt_store_u32le(uint8_t *dst, uint32_t v) {
    dst[0] = (uint8_t)v;
    dst[1] = (uint8_t)(v >> 8);
    dst[2] = (uint8_t)(v >> 16);
    dst[3] = (uint8_t)(v >> 24);
}

static inline uint32_t xt_load_u32le(const uint8_t *src) {
    return (uint32_t)src[0] | ((uint32_t)src[1] << 8) | ((uint32_t)src[2] << 16) |
           ((uint32_t)src[3] << 24);
}

#endif  // XT_QUANT_LEGACY_COMMON_H
