// tq_nvfp4.c — TQ1_0 and TQ2_0 (ternary, quantize + dequantize) and NVFP4 (dequantize), bit-exact
// with gguf-py (ggml's quantize_row_tq*_ref / dequantize_row_tq* and gguf-py's NVFP4 decoder).
//
// TQ: d = absmax of the 256-block, q = round(x / d) in {-1, 0, 1} stored as q + 1; TQ2_0 packs
// 2 bits per element, TQ1_0 5 (or 4) trits per byte as ceil(v * 256 / 243) so that the trit
// n is ((uint8)(byte * 3^n) * 3) >> 8. NVFP4: 64-element blocks of 4 UE4M3 scales (one per 16)
// and E2M1 codes; the optional per-tensor f32 scale lives outside the blocks and is not applied.
#include <math.h>

#include "quant/fp16.h"
#include "quant/quant.h"

static const uint8_t k_pow3[5] = {1, 3, 9, 27, 81};

// ---- TQ shared ----

// absmax scale of one 256-block and the codes q + 1 in {0, 1, 2} (round half away from 0).
static float tq_fit_block(const float *restrict x, uint8_t *restrict q) {
    float amax = 0;
    for (int j = 0; j < QK_K; j++) {
        const float a = fabsf(x[j]);
        if (a > amax) amax = a;
    }
    const float id = amax != 0 ? 1.0f / amax : 0.0f;
    for (int j = 0; j < QK_K; j++) {
        const float r = roundf(x[j] * id);  // in [-1, 1] for finite input
        q[j] = (uint8_t)(r > 0 ? 2 : (r < 0 ? 0 : 1));
    }
    return amax;
}

// ---- TQ1_0 ----

static inline float tq1_trit(uint8_t byte, int n) {
    const uint8_t v = (uint8_t)(byte * k_pow3[n]);
    return (float)((int)((v * 3u) >> 8) - 1);
}

void xt_dequant_row_tq1_0(const void *restrict src, float *restrict dst, int64_t n) {
    const block_tq1_0 *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        float *restrict y = dst + i * QK_K;
        for (int t = 0; t < 5; t++) {
            for (int m = 0; m < 32; m++) y[t * 32 + m] = d * tq1_trit(x[i].qs[m], t);
        }
        for (int t = 0; t < 5; t++) {
            for (int m = 0; m < 16; m++) y[160 + t * 16 + m] = d * tq1_trit(x[i].qs[32 + m], t);
        }
        for (int t = 0; t < 4; t++) {
            for (int m = 0; m < 4; m++) y[240 + t * 4 + m] = d * tq1_trit(x[i].qh[m], t);
        }
    }
}

// Packs `ntrits` codes q[t * stride] (most significant first) into ceil(v * 256 / 243).
static inline uint8_t tq1_pack(const uint8_t *restrict q, int ntrits, int stride) {
    unsigned v = 0;
    for (int t = 0; t < ntrits; t++) v = v * 3 + q[t * stride];
    for (int t = ntrits; t < 5; t++) v *= 3;
    return (uint8_t)((v * 256 + 242) / 243);
}

void xt_quant_row_tq1_0(const float *restrict src, void *restrict dst, int64_t n,
                        const float *restrict imatrix) {
    (void)imatrix;
    block_tq1_0 *restrict y = dst;
    const int64_t nb = n / QK_K;
    uint8_t q[QK_K];
    for (int64_t i = 0; i < nb; i++) {
        const float d = tq_fit_block(src + i * QK_K, q);
        for (int m = 0; m < 32; m++) y[i].qs[m] = tq1_pack(q + m, 5, 32);
        for (int m = 0; m < 16; m++) y[i].qs[32 + m] = tq1_pack(q + 160 + m, 5, 16);
        for (int m = 0; m < 4; m++) y[i].qh[m] = tq1_pack(q + 240 + m, 4, 4);
        y[i].d = xt_fp32_to_fp16(d);
    }
}

// ---- TQ2_0 ----

void xt_dequant_row_tq2_0(const void *restrict src, float *restrict dst, int64_t n) {
    const block_tq2_0 *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        float *restrict y = dst + i * QK_K;
        for (int j = 0; j < 2; j++) {
            for (int l = 0; l < 4; l++) {
                for (int m = 0; m < 32; m++) {
                    const int q = (x[i].qs[32 * j + m] >> 2 * l) & 3;
                    y[128 * j + 32 * l + m] = d * (float)(q - 1);
                }
            }
        }
    }
}

void xt_quant_row_tq2_0(const float *restrict src, void *restrict dst, int64_t n,
                        const float *restrict imatrix) {
    (void)imatrix;
    block_tq2_0 *restrict y = dst;
    const int64_t nb = n / QK_K;
    uint8_t q[QK_K];
    for (int64_t i = 0; i < nb; i++) {
        const float d = tq_fit_block(src + i * QK_K, q);
        for (int j = 0; j < 2; j++) {
            for (int m = 0; m < 32; m++) {
                const uint8_t *c = q + 128 * j + m;
                y[i].qs[32 * j + m] = (uint8_t)(c[0] | c[32] << 2 | c[64] << 4 | c[96] << 6);
            }
        }
        y[i].d = xt_fp32_to_fp16(d);
    }
}

// ---- NVFP4 ----

// E2M1 values doubled (ggml's kvalues_mxfp4); the UE4M3 decode below carries the 1/2.
static const int8_t k_e2m1x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// gguf-py's ue4m3_to_fp32 times 1/2: bit 7 is ignored; 0x00 and 0x7F decode to 0.
static float ue4m3_half(uint8_t b) {
    if (b == 0 || b == 0x7F) return 0.0f;
    const int exp = (b >> 3) & 0xF, man = b & 7;
    const float v = exp == 0 ? ldexpf((float)man, -9) : ldexpf(1.0f + (float)man / 8.0f, exp - 7);
    return v * 0.5f;
}

void xt_dequant_row_nvfp4(const void *restrict src, float *restrict dst, int64_t n) {
    const block_nvfp4 *restrict x = src;
    const int64_t nb = n / QK_NVFP4;
    for (int64_t i = 0; i < nb; i++) {
        float *restrict y = dst + i * QK_NVFP4;
        for (int s = 0; s < QK_NVFP4 / QK_NVFP4_SUB; s++) {
            const float d = ue4m3_half(x[i].d[s]);
            const uint8_t *qs = x[i].qs + 8 * s;
            for (int j = 0; j < 8; j++) {
                y[16 * s + j] = d * (float)k_e2m1x2[qs[j] & 0xF];
                y[16 * s + j + 8] = d * (float)k_e2m1x2[qs[j] >> 4];
            }
        }
    }
}

// ---- registration ----

void xt_quant_register_tq_nvfp4(xt_quant_traits *table) {
    table[XT_DTYPE_TQ1_0] = (xt_quant_traits){
        .to_float = xt_dequant_row_tq1_0,
        .from_float = xt_quant_row_tq1_0,
        .vec_dot_type = XT_DTYPE_Q8_K,
        .vec_dot = NULL,
        .uses_imatrix = false,
    };
    table[XT_DTYPE_TQ2_0] = (xt_quant_traits){
        .to_float = xt_dequant_row_tq2_0,
        .from_float = xt_quant_row_tq2_0,
        .vec_dot_type = XT_DTYPE_Q8_K,
        .vec_dot = NULL,
        .uses_imatrix = false,
    };
    table[XT_DTYPE_NVFP4] = (xt_quant_traits){
        .to_float = xt_dequant_row_nvfp4,
        .from_float = NULL,
        .vec_dot_type = XT_DTYPE_Q8_0,
        .vec_dot = NULL,
        .uses_imatrix = false,
    };
}
