// fp16.h — portable IEEE binary16 and bfloat16 conversions (bit-exact with ggml's portable
// converters: round to nearest even; every f16 NaN becomes 0x7E00 with the sign kept).
#ifndef XT_QUANT_FP16_H
#define XT_QUANT_FP16_H

#include <stdint.h>
#include <string.h>

static inline float xt_bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint32_t xt_f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

// binary16 -> binary32, exact (subnormals, Inf and NaN payloads included).
static inline float xt_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0x1F) return xt_bits_to_f32(sign | 0x7F800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return xt_bits_to_f32(sign);
        // subnormal: man * 2^-24
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return xt_bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

// binary32 -> binary16, round to nearest even (the fp16_ieee_from_fp32_value algorithm).
static inline uint16_t xt_fp32_to_fp16(float f) {
    const float scale_to_inf = xt_bits_to_f32(0x77800000u);
    const float scale_to_zero = xt_bits_to_f32(0x08800000u);
    float base = ((f < 0 ? -f : f) * scale_to_inf) * scale_to_zero;
    uint32_t w = xt_f32_to_bits(f);
    uint32_t shl1_w = w + w;
    uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = xt_bits_to_f32((bias >> 1) + 0x07800000u) + base;
    uint32_t bits = xt_f32_to_bits(base);
    uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
    uint32_t mantissa_bits = bits & 0x00000FFFu;
    uint32_t nonsign = exp_bits + mantissa_bits;
    return (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

static inline float xt_bf16_to_fp32(uint16_t b) { return xt_bits_to_f32((uint32_t)b << 16); }

// binary32 -> bfloat16 as ggml: NaN is forced quiet, otherwise round to nearest even.
static inline uint16_t xt_fp32_to_bf16(float f) {
    uint32_t u = xt_f32_to_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + (0x7FFFu + ((u >> 16) & 1u))) >> 16);
}

#endif  // XT_QUANT_FP16_H
