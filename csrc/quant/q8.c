// q8.c — reference kernels for Q8_0 weights and for the three 8-bit activation formats
// (Q8_0, Q8_1, Q8_K) that every weight row is dotted with: dequantize, quantize, dot.
//
// Bit-exactness: Q8_0 matches gguf-py and ggml's quantize_row_q8_0_ref (amax/127, id = 1/d
// from the unrounded f32 d, roundf); Q8_1 and Q8_K follow quantize_row_q8_1_ref and
// quantize_row_q8_K_ref. The imatrix is ignored by all of them (as in ggml).
// NaN/Inf inputs: no undefined behaviour, and the same bytes as ggml on x86. A NaN element
// encodes as 0; an Inf in a block makes the scale +-Inf and the block's other codes 0; in
// Q8_0/Q8_1 a NaN also resets the running max (ggml's MAX macro), so the scale comes from the
// elements after it and earlier larger ones saturate at +-127.
// The all-zero block gives d = 0 and codes 0 (Q8_K also gets zero bsums; ggml leaves them).
#include <math.h>
#include <string.h>

#include "quant/legacy_common.h"
#include "quant/quant.h"

// ---- Q8_0 ----

void xt_dequant_row_q8_0(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_0 *restrict x = src;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK8_0; j++) dst[i * QK8_0 + j] = x[i].qs[j] * d;
    }
}

// One Q8_0 block: scale amax/127, amax folded with ggml's MAX(a, b) = a > b ? a : b.
static void quant_block_q8_0(const float *restrict x, block_q8_0 *restrict y) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y->d = xt_fp32_to_fp16(d);
    for (int j = 0; j < QK8_0; j++) y->qs[j] = xt_round_to_i8(roundf(x[j] * id));
}

void xt_quant_row_q8_0(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    (void)imatrix;  // ggml's quantize_q8_0 ignores quant_weights
    block_q8_0 *restrict y = dst;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) quant_block_q8_0(src + i * QK8_0, &y[i]);
}

// Activations (the right operand of every Q8_0/Q8_1 dot product) use the formula of ggml's
// x86 CPU backend rather than the reference one: id = 127/amax instead of 1/(amax/127), and
// ties round to even. The two differ in a few codes per thousand, and these small models
// amplify such flips layer after layer; matching the peer's choice keeps logits comparable.
static int act_block(const float *restrict x, int8_t *restrict qs, float *d_out) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        qs[j] = xt_round_to_i8(rintf(x[j] * id));
        sum += qs[j];
    }
    *d_out = amax / 127.0f;
    return sum;
}

void xt_quant_act_q8_0(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_0 *restrict y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        float d;
        act_block(src + i * QK8_0, y[i].qs, &d);
        y[i].d = xt_fp32_to_fp16(d);
    }
}

// ggml_vec_dot_q8_0_q8_0_generic: int sum per block, then sumi*(dw*da).
float xt_vec_dot_q8_0(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q8_0 *restrict x = w;
    const block_q8_0 *restrict y = a;
    const int64_t nb = n / QK8_0;
    float sumf = 0;
    for (int64_t ib = 0; ib < nb; ib++) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += x[ib].qs[j] * y[ib].qs[j];
        sumf += sumi * (xt_fp16_to_fp32(x[ib].d) * xt_fp16_to_fp32(y[ib].d));
    }
    return sumf;
}

// ---- Q8_1 (activations of Q4_1 / Q5_1) ----

void xt_dequant_row_q8_1(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_1 *restrict x = src;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK8_1; j++) dst[i * QK8_1 + j] = x[i].qs[j] * d;
    }
}

void xt_quant_row_q8_1(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    (void)imatrix;
    block_q8_1 *restrict y = dst;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        const float *restrict x = src + i * QK8_1;
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; j++) {
            const float a = fabsf(x[j]);
            amax = amax > a ? amax : a;
        }
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = xt_fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < QK8_1 / 2; j++) {
            y[i].qs[j] = xt_round_to_i8(roundf(x[j] * id));
            y[i].qs[QK8_1 / 2 + j] = xt_round_to_i8(roundf(x[QK8_1 / 2 + j] * id));
            sum += y[i].qs[j];
            sum += y[i].qs[QK8_1 / 2 + j];
        }
        y[i].s = xt_fp32_to_fp16(sum * d);
    }
}

void xt_quant_act_q8_1(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_1 *restrict y = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        float d;
        const int sum = act_block(src + i * QK8_1, y[i].qs, &d);
        y[i].d = xt_fp32_to_fp16(d);
        y[i].s = xt_fp32_to_fp16((float)sum * d);
    }
}

// ---- Q8_K (activations of the K-quants and IQ4_XS) ----

void xt_dequant_row_q8_K(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_K *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        for (int j = 0; j < QK_K; j++) dst[i * QK_K + j] = x[i].d * x[i].qs[j];
    }
}

// quantize_row_q8_K_ref: signed max (largest magnitude, first on ties), iscale = -127/max,
// q = min(127, nearest_int(iscale*x)), bsums per 16, d = 1/iscale (f32).
void xt_quant_row_q8_K(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    (void)imatrix;
    block_q8_K *restrict y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float *restrict x = src + i * QK_K;
        float max = 0;
        float amax = 0;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (!amax) {
            y[i].d = 0;
            memset(y[i].qs, 0, sizeof y[i].qs);
            memset(y[i].bsums, 0, sizeof y[i].bsums);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            // finite inputs give |v| <= 127; the lower clamp only guards NaN/Inf garbage
            int v = xt_nearest_int(iscale * x[j]);
            v = v < 127 ? v : 127;
            v = v > -128 ? v : -128;
            y[i].qs[j] = (int8_t)v;
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[j * 16 + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

void xt_quant_act_q8_K(const float *restrict src, void *restrict dst, int64_t n) {
    xt_quant_row_q8_K(src, dst, n, NULL);
}

// ---- registration ----

void xt_quant_register_q8(xt_quant_traits *table) {
    table[XT_DTYPE_Q8_0] = (xt_quant_traits){
        .to_float = xt_dequant_row_q8_0,
        .from_float = xt_quant_row_q8_0,
        .vec_dot_type = XT_DTYPE_Q8_0,
        .vec_dot = xt_vec_dot_q8_0,
        .uses_imatrix = false,
    };
    // Activation-only formats: decodable and quantizable, never weights (no vec_dot).
    table[XT_DTYPE_Q8_1] = (xt_quant_traits){
        .to_float = xt_dequant_row_q8_1,
        .from_float = xt_quant_row_q8_1,
        .vec_dot_type = XT_DTYPE_Q8_1,
        .vec_dot = NULL,
        .uses_imatrix = false,
    };
    table[XT_DTYPE_Q8_K] = (xt_quant_traits){
        .to_float = xt_dequant_row_q8_K,
        .from_float = xt_quant_row_q8_K,
        .vec_dot_type = XT_DTYPE_Q8_K,
        .vec_dot = NULL,
        .uses_imatrix = false,
    };
}
