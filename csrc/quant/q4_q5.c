// q4_q5.c — reference kernels for Q4_0, Q4_1, Q5_0, Q5_1: dequantize, quantize (with
// optional importance weights) and the dot product against the activation format.
//
// Without imatrix the quantizers are ggml's quantize_row_<t>_ref (bit-exact with gguf-py):
// symmetric types take d = vmax/-8 (-16) with vmax the signed element of largest magnitude
// (first on ties); asymmetric ones d = (max-min)/15 (31), m = min; codes use id = 1/d of the
// unrounded f32 d and truncation after +8.5 / +16.5 / +0.5. With imatrix they follow ggml's
// quantize_row_<t>_impl: weights qw*sqrt(sigma2 + x^2) with sigma2 = mean(x^2) over the row,
// then make_qx_quants (symmetric) or make_qkx3_quants (asymmetric), from quant/k_fit.c.
// NaN/Inf inputs never cause undefined behaviour: NaN elements take code 0 (ggml's x86 cast
// gives the same), an Inf in a block makes d Inf/NaN and the other codes the mid/zero code.
#include <math.h>
#include <string.h>

#include "quant/k_fit.h"
#include "quant/legacy_common.h"
#include "quant/quant.h"

// ---- shared pieces ----

// Signed element of largest magnitude (the first one on ties; NaN never wins).
static float signed_absmax(const float *restrict x, int n) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < n; j++) {
        const float v = x[j];
        if (amax < fabsf(v)) {
            amax = fabsf(v);
            max = v;
        }
    }
    return max;
}

// Row-wide sigma^2 of the imatrix weights: sum(x^2)/n_per_row, summed in row order.
static float row_sigma2(const float *restrict x, int64_t n) {
    float sum_x2 = 0;
    for (int64_t j = 0; j < n; j++) sum_x2 += x[j] * x[j];
    return sum_x2 / n;
}

static void imatrix_weights(const float *restrict xb, const float *restrict qw, float sigma2,
                            float *restrict weight) {
    for (int j = 0; j < 32; j++) weight[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
}

// Packs 32 codes (0..15 low bits) as ggml: qs[j] = code[j] | code[j+16] << 4.
static void pack_nibbles(const uint8_t *restrict code, uint8_t *restrict qs) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((code[j] & 0x0F) | ((code[j + 16] & 0x0F) << 4));
}

// The 5th bits of 32 codes (0..31) as the LE u32 qh word: bit j = bit 4 of code j.
static void pack_qh(const uint8_t *restrict code, uint8_t *restrict qh) {
    uint32_t h = 0;
    for (int j = 0; j < 32; j++) h |= (uint32_t)((code[j] & 0x10u) >> 4) << j;
    xt_store_u32le(qh, h);
}

// ---- Q4_0 ----

void xt_dequant_row_q4_0(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_0 *restrict x = src;
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        float *restrict y = dst + i * QK4_0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = (x[i].qs[j] & 0x0F) - 8;
            const int x1 = (x[i].qs[j] >> 4) - 8;
            y[j] = x0 * d;
            y[j + QK4_0 / 2] = x1 * d;
        }
    }
}

static void quant_block_q4_0_ref(const float *restrict x, block_q4_0 *restrict y) {
    const float d = signed_absmax(x, QK4_0) / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y->d = xt_fp32_to_fp16(d);
    uint8_t code[QK4_0];
    for (int j = 0; j < QK4_0; j++) code[j] = (uint8_t)xt_trunc_code(x[j] * id + 8.5f, 15);
    pack_nibbles(code, y->qs);
}

void xt_quant_row_q4_0(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    block_q4_0 *restrict y = dst;
    const int64_t nb = n / QK4_0;
    if (!imatrix) {
        for (int64_t i = 0; i < nb; i++) quant_block_q4_0_ref(src + i * QK4_0, &y[i]);
        return;
    }
    const float sigma2 = row_sigma2(src, n);
    float weight[QK4_0];
    int8_t L[QK4_0];
    uint8_t code[QK4_0];
    for (int64_t i = 0; i < nb; i++) {
        const float *restrict xb = src + i * QK4_0;
        imatrix_weights(xb, imatrix + i * QK4_0, sigma2, weight);
        const float d = xt_make_qx_quants(QK4_0, 8, xb, L, 1, weight);
        y[i].d = xt_fp32_to_fp16(d);
        for (int j = 0; j < QK4_0; j++) code[j] = (uint8_t)L[j];
        pack_nibbles(code, y[i].qs);
    }
}

// ggml_vec_dot_q4_0_q8_0_generic: sumf += (sumi*dw)*da.
float xt_vec_dot_q4_0(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q4_0 *restrict x = w;
    const block_q8_0 *restrict y = a;
    const int64_t nb = n / QK8_0;
    float sumf = 0;
    for (int64_t ib = 0; ib < nb; ib++) {
        int sumi0 = 0;
        int sumi1 = 0;
        for (int j = 0; j < QK8_0 / 2; j++) {
            const int v0 = (x[ib].qs[j] & 0x0F) - 8;
            const int v1 = (x[ib].qs[j] >> 4) - 8;
            sumi0 += v0 * y[ib].qs[j];
            sumi1 += v1 * y[ib].qs[j + QK8_0 / 2];
        }
        const int sumi = sumi0 + sumi1;
        sumf += sumi * xt_fp16_to_fp32(x[ib].d) * xt_fp16_to_fp32(y[ib].d);
    }
    return sumf;
}

// ---- Q4_1 ----

void xt_dequant_row_q4_1(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_1 *restrict x = src;
    const int64_t nb = n / QK4_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        const float m = xt_fp16_to_fp32(x[i].m);
        float *restrict y = dst + i * QK4_1;
        for (int j = 0; j < QK4_1 / 2; j++) {
            const int x0 = x[i].qs[j] & 0x0F;
            const int x1 = x[i].qs[j] >> 4;
            y[j] = x0 * d + m;  // no FMA: the build is ISO C (-ffp-contract=off)
            y[j + QK4_1 / 2] = x1 * d + m;
        }
    }
}

// Block min and max as ggml (starting from +-FLT_MAX; NaN elements are skipped).
static void block_min_max(const float *restrict x, int n, float *min_out, float *max_out) {
    float min = 3.40282347e+38f;
    float max = -3.40282347e+38f;
    for (int j = 0; j < n; j++) {
        const float v = x[j];
        if (v < min) min = v;
        if (v > max) max = v;
    }
    *min_out = min;
    *max_out = max;
}

static void quant_block_q4_1_ref(const float *restrict x, block_q4_1 *restrict y) {
    float min, max;
    block_min_max(x, QK4_1, &min, &max);
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y->d = xt_fp32_to_fp16(d);
    y->m = xt_fp32_to_fp16(min);
    uint8_t code[QK4_1];
    for (int j = 0; j < QK4_1; j++) code[j] = (uint8_t)xt_trunc_code((x[j] - min) * id + 0.5f, 15);
    pack_nibbles(code, y->qs);
}

void xt_quant_row_q4_1(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    block_q4_1 *restrict y = dst;
    const int64_t nb = n / QK4_1;
    if (!imatrix) {
        for (int64_t i = 0; i < nb; i++) quant_block_q4_1_ref(src + i * QK4_1, &y[i]);
        return;
    }
    const float sigma2 = row_sigma2(src, n);
    float weight[QK4_1];
    uint8_t L[QK4_1], Laux[QK4_1];
    for (int64_t i = 0; i < nb; i++) {
        const float *restrict xb = src + i * QK4_1;
        imatrix_weights(xb, imatrix + i * QK4_1, sigma2, weight);
        float min;
        const float d =
            xt_make_qkx3_quants(QK4_1, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
        y[i].d = xt_fp32_to_fp16(d);
        y[i].m = xt_fp32_to_fp16(-min);
        pack_nibbles(L, y[i].qs);
    }
}

// ggml_vec_dot_q4_1_q8_1_generic: sumf += (dw*da)*sumi + mw*sa.
float xt_vec_dot_q4_1(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q4_1 *restrict x = w;
    const block_q8_1 *restrict y = a;
    const int64_t nb = n / QK8_1;
    float sumf = 0;
    for (int64_t ib = 0; ib < nb; ib++) {
        int sumi0 = 0;
        int sumi1 = 0;
        for (int j = 0; j < QK8_1 / 2; j++) {
            const int v0 = x[ib].qs[j] & 0x0F;
            const int v1 = x[ib].qs[j] >> 4;
            sumi0 += v0 * y[ib].qs[j];
            sumi1 += v1 * y[ib].qs[j + QK8_1 / 2];
        }
        const int sumi = sumi0 + sumi1;
        sumf += (xt_fp16_to_fp32(x[ib].d) * xt_fp16_to_fp32(y[ib].d)) * sumi +
                xt_fp16_to_fp32(x[ib].m) * xt_fp16_to_fp32(y[ib].s);
    }
    return sumf;
}

// ---- Q5_0 ----

void xt_dequant_row_q5_0(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_0 *restrict x = src;
    const int64_t nb = n / QK5_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        const uint32_t qh = xt_load_u32le(x[i].qh);
        float *restrict y = dst + i * QK5_0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            const int h0 = (int)((qh >> j) << 4) & 0x10;
            const int h1 = (int)(qh >> (j + 12)) & 0x10;
            const int x0 = ((x[i].qs[j] & 0x0F) | h0) - 16;
            const int x1 = ((x[i].qs[j] >> 4) | h1) - 16;
            y[j] = x0 * d;
            y[j + QK5_0 / 2] = x1 * d;
        }
    }
}

static void quant_block_q5_0_ref(const float *restrict x, block_q5_0 *restrict y) {
    const float d = signed_absmax(x, QK5_0) / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y->d = xt_fp32_to_fp16(d);
    uint8_t code[QK5_0];
    for (int j = 0; j < QK5_0; j++) code[j] = (uint8_t)xt_trunc_code(x[j] * id + 16.5f, 31);
    pack_nibbles(code, y->qs);
    pack_qh(code, y->qh);
}

void xt_quant_row_q5_0(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    block_q5_0 *restrict y = dst;
    const int64_t nb = n / QK5_0;
    if (!imatrix) {
        for (int64_t i = 0; i < nb; i++) quant_block_q5_0_ref(src + i * QK5_0, &y[i]);
        return;
    }
    const float sigma2 = row_sigma2(src, n);
    float weight[QK5_0];
    int8_t L[QK5_0];
    uint8_t code[QK5_0];
    for (int64_t i = 0; i < nb; i++) {
        const float *restrict xb = src + i * QK5_0;
        imatrix_weights(xb, imatrix + i * QK5_0, sigma2, weight);
        const float d = xt_make_qx_quants(QK5_0, 16, xb, L, 1, weight);
        y[i].d = xt_fp32_to_fp16(d);
        for (int j = 0; j < QK5_0; j++) code[j] = (uint8_t)L[j];
        pack_nibbles(code, y[i].qs);
        pack_qh(code, y[i].qh);
    }
}

// ggml_vec_dot_q5_0_q8_0_generic: sumf += (dw*da)*sumi.
float xt_vec_dot_q5_0(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q5_0 *restrict x = w;
    const block_q8_0 *restrict y = a;
    const int64_t nb = n / QK8_0;
    float sumf = 0;
    for (int64_t ib = 0; ib < nb; ib++) {
        const uint32_t qh = xt_load_u32le(x[ib].qh);
        int sumi0 = 0;
        int sumi1 = 0;
        for (int j = 0; j < QK8_0 / 2; j++) {
            const int h0 = (int)((qh >> j) & 1u) << 4;
            const int h1 = (int)((qh >> (j + 16)) & 1u) << 4;
            const int x0 = ((x[ib].qs[j] & 0x0F) | h0) - 16;
            const int x1 = ((x[ib].qs[j] >> 4) | h1) - 16;
            sumi0 += x0 * y[ib].qs[j];
            sumi1 += x1 * y[ib].qs[j + QK8_0 / 2];
        }
        const int sumi = sumi0 + sumi1;
        sumf += (xt_fp16_to_fp32(x[ib].d) * xt_fp16_to_fp32(y[ib].d)) * sumi;
    }
    return sumf;
}

// ---- Q5_1 ----

void xt_dequant_row_q5_1(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_1 *restrict x = src;
    const int64_t nb = n / QK5_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        const float m = xt_fp16_to_fp32(x[i].m);
        const uint32_t qh = xt_load_u32le(x[i].qh);
        float *restrict y = dst + i * QK5_1;
        for (int j = 0; j < QK5_1 / 2; j++) {
            const int h0 = (int)((qh >> j) << 4) & 0x10;
            const int h1 = (int)(qh >> (j + 12)) & 0x10;
            const int x0 = (x[i].qs[j] & 0x0F) | h0;
            const int x1 = (x[i].qs[j] >> 4) | h1;
            y[j] = x0 * d + m;
            y[j + QK5_1 / 2] = x1 * d + m;
        }
    }
}

static void quant_block_q5_1_ref(const float *restrict x, block_q5_1 *restrict y) {
    float min, max;
    block_min_max(x, QK5_1, &min, &max);
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y->d = xt_fp32_to_fp16(d);
    y->m = xt_fp32_to_fp16(min);
    uint8_t code[QK5_1];
    // ggml: (uint8_t)(x0 + 0.5f) without a clamp; finite inputs never exceed 31
    for (int j = 0; j < QK5_1; j++) code[j] = (uint8_t)xt_trunc_code((x[j] - min) * id + 0.5f, 31);
    pack_nibbles(code, y->qs);
    pack_qh(code, y->qh);
}

void xt_quant_row_q5_1(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    block_q5_1 *restrict y = dst;
    const int64_t nb = n / QK5_1;
    if (!imatrix) {
        for (int64_t i = 0; i < nb; i++) quant_block_q5_1_ref(src + i * QK5_1, &y[i]);
        return;
    }
    const float sigma2 = row_sigma2(src, n);
    float weight[QK5_1];
    uint8_t L[QK5_1], Laux[QK5_1];
    for (int64_t i = 0; i < nb; i++) {
        const float *restrict xb = src + i * QK5_1;
        imatrix_weights(xb, imatrix + i * QK5_1, sigma2, weight);
        float min;
        const float d =
            xt_make_qkx3_quants(QK5_1, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
        y[i].d = xt_fp32_to_fp16(d);
        y[i].m = xt_fp32_to_fp16(-min);
        pack_nibbles(L, y[i].qs);
        pack_qh(L, y[i].qh);
    }
}

// ggml_vec_dot_q5_1_q8_1_generic: sumf += (dw*da)*sumi + mw*sa.
float xt_vec_dot_q5_1(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q5_1 *restrict x = w;
    const block_q8_1 *restrict y = a;
    const int64_t nb = n / QK8_1;
    float sumf = 0;
    for (int64_t ib = 0; ib < nb; ib++) {
        const uint32_t qh = xt_load_u32le(x[ib].qh);
        int sumi0 = 0;
        int sumi1 = 0;
        for (int j = 0; j < QK8_1 / 2; j++) {
            const int x0 = (x[ib].qs[j] & 0x0F) | ((int)((qh >> j) << 4) & 0x10);
            const int x1 = (x[ib].qs[j] >> 4) | ((int)(qh >> (j + 12)) & 0x10);
            sumi0 += x0 * y[ib].qs[j];
            sumi1 += x1 * y[ib].qs[j + QK8_1 / 2];
        }
        const int sumi = sumi0 + sumi1;
        sumf += (xt_fp16_to_fp32(x[ib].d) * xt_fp16_to_fp32(y[ib].d)) * sumi +
                xt_fp16_to_fp32(x[ib].m) * xt_fp16_to_fp32(y[ib].s);
    }
    return sumf;
}

// ---- registration ----

void xt_quant_register_q4_q5(xt_quant_traits *table) {
    table[XT_DTYPE_Q4_0] = (xt_quant_traits){
        .to_float = xt_dequant_row_q4_0,
        .from_float = xt_quant_row_q4_0,
        .vec_dot_type = XT_DTYPE_Q8_0,
        .vec_dot = xt_vec_dot_q4_0,
        .uses_imatrix = true,
    };
    table[XT_DTYPE_Q4_1] = (xt_quant_traits){
        .to_float = xt_dequant_row_q4_1,
        .from_float = xt_quant_row_q4_1,
        .vec_dot_type = XT_DTYPE_Q8_1,
        .vec_dot = xt_vec_dot_q4_1,
        .uses_imatrix = true,
    };
    table[XT_DTYPE_Q5_0] = (xt_quant_traits){
        .to_float = xt_dequant_row_q5_0,
        .from_float = xt_quant_row_q5_0,
        .vec_dot_type = XT_DTYPE_Q8_0,
        .vec_dot = xt_vec_dot_q5_0,
        .uses_imatrix = true,
    };
    table[XT_DTYPE_Q5_1] = (xt_quant_traits){
        .to_float = xt_dequant_row_q5_1,
        .from_float = xt_quant_row_q5_1,
        .vec_dot_type = XT_DTYPE_Q8_1,
        .vec_dot = xt_vec_dot_q5_1,
        .uses_imatrix = true,
    };
}
