// iq4_mxfp4.c — reference kernels for IQ4_NL, IQ4_XS and MXFP4: dequantize, quantize (with
// optional importance weights) and the dot product against the activation format.
//
// IQ4_NL / IQ4_XS port ggml's quantize_iq4_nl / quantize_iq4_xs, i.e. quantize_row_iq4_nl_impl
// with ntry = 7 (what llama-quantize runs; ggml's quantize_row_iq4_nl_ref skips the search):
// per 32-block weights x^2 (or qw*sqrt(sigma2 + x^2) with an imatrix), a least-squares scale
// refined over 15 candidate inverse scales, then IQ4_NL stores f16(d) and re-maps with 1/d of
// the unrounded d, IQ4_XS quantizes the 8 block scales to 6 bits under a super-scale and
// re-maps each block with the (unrounded) d*l. MXFP4 is quantize_row_mxfp4_ref (bit-exact
// with gguf-py); it ignores the imatrix. NaN/Inf inputs: no undefined behaviour (NaN elements
// map to table index 0; see each quantizer for the scale).
#include <math.h>
#include <string.h>

#include "quant/k_fit.h"
#include "quant/legacy_common.h"
#include "quant/quant.h"

#define IQ4_GROUP_MAX_EPS 1e-15f
#define IQ4_NTRY 7

// IQ4_NL non-linear levels (shared with IQ4_XS).
static const int8_t k_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};
// E2M1 values doubled, as ggml's kvalues_mxfp4 (code 8 decodes to +0).
static const int8_t k_mxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// ---- shared pieces ----

// Index of the nearest level in a sorted table of 16 (ties -> the upper level), by comparing
// 2x with the integer midpoint sums, both exact in f32. NaN gives 0. (ggml best_index_int8)
static inline int best_index_iq4(float x) {
    const float x2 = x + x;
    int idx = 0;
    for (int step = 8; step > 0; step >>= 1) {
        const int j = idx + step;
        idx = (x2 >= (float)(k_iq4nl[j - 1] + k_iq4nl[j])) ? j : idx;
    }
    return idx;
}

// ggml_e8m0_to_fp32_half: 2^(e-128) as f32 bits; e < 2 gives the subnormals 2^-129, 2^-128.
static inline float e8m0_to_fp32_half(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    return xt_bits_to_f32(bits);
}

static void iq4_decode_block(const uint8_t *restrict qs, float d, float *restrict y) {
    for (int j = 0; j < 16; j++) {
        y[j] = d * k_iq4nl[qs[j] & 0xF];
        y[j + 16] = d * k_iq4nl[qs[j] >> 4];
    }
}

static void iq4_pack(const uint8_t *restrict L, uint8_t *restrict qs) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

// The per-32-block fit of quantize_row_iq4_nl_impl (ntry = 7): fills Lb with level indices
// and returns the block scale (0 for an all-zero block, whose Lb is then all 0).
static float iq4_fit_block(const float *restrict xb, const float *restrict qw, float sigma2,
                           uint8_t *restrict Lb) {
    float weight[32];
    if (qw) {
        for (int j = 0; j < 32; j++) weight[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
    } else {
        for (int j = 0; j < 32; j++) weight[j] = xb[j] * xb[j];
    }
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        const float ax = fabsf(xb[j]);
        if (ax > amax) {
            amax = ax;
            max = xb[j];
        }
    }
    if (amax < IQ4_GROUP_MAX_EPS) {
        memset(Lb, 0, 32);
        return 0;
    }
    float d = -max / k_iq4nl[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; j++) {
        const int l = best_index_iq4(id * xb[j]);
        Lb[j] = (uint8_t)l;
        const float q = k_iq4nl[l];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -IQ4_NTRY; itry <= IQ4_NTRY; itry++) {
        id = (itry + k_iq4nl[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            const int l = best_index_iq4(id * xb[j]);
            const float q = k_iq4nl[l];
            const float w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

// sigma^2 of the imatrix weights: 2*sum(x^2)/n over the super-block (32 for IQ4_NL).
static float iq4_sigma2(const float *restrict x, int n) {
    float sigma2 = 0;
    for (int j = 0; j < n; j++) sigma2 += x[j] * x[j];
    return sigma2 * (2.f / n);
}

// ---- IQ4_NL ----

void xt_dequant_row_iq4_nl(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq4_nl *restrict x = src;
    const int64_t nb = n / QK4_NL;
    for (int64_t i = 0; i < nb; i++) {
        iq4_decode_block(x[i].qs, xt_fp16_to_fp32(x[i].d), dst + i * QK4_NL);
    }
}

void xt_quant_row_iq4_nl(const float *restrict src, void *restrict dst, int64_t n,
                         const float *restrict imatrix) {
    block_iq4_nl *restrict y = dst;
    const int64_t nb = n / QK4_NL;
    uint8_t L[QK4_NL];
    for (int64_t i = 0; i < nb; i++) {
        const float *restrict xb = src + i * QK4_NL;
        const float *restrict qw = imatrix ? imatrix + i * QK4_NL : NULL;
        const float sigma2 = iq4_sigma2(xb, QK4_NL);
        const float d = iq4_fit_block(xb, qw, sigma2, L);
        y[i].d = xt_fp32_to_fp16(d);
        const float id = d ? 1 / d : 0;
        for (int j = 0; j < QK4_NL; j++) L[j] = (uint8_t)best_index_iq4(id * xb[j]);
        iq4_pack(L, y[i].qs);
    }
}

// ggml_vec_dot_iq4_nl_q8_0_generic: d = da*dw, sumf += d*(sumi1 + sumi2).
float xt_vec_dot_iq4_nl(int64_t n, const void *restrict w, const void *restrict a) {
    const block_iq4_nl *restrict x = w;
    const block_q8_0 *restrict y = a;
    const int64_t nb = n / QK4_NL;
    float sumf = 0;
    for (int64_t ib = 0; ib < nb; ib++) {
        const float d = xt_fp16_to_fp32(y[ib].d) * xt_fp16_to_fp32(x[ib].d);
        int sumi1 = 0, sumi2 = 0;
        for (int j = 0; j < QK4_NL / 2; j++) {
            sumi1 += y[ib].qs[j] * k_iq4nl[x[ib].qs[j] & 0xF];
            sumi2 += y[ib].qs[j + QK4_NL / 2] * k_iq4nl[x[ib].qs[j] >> 4];
        }
        sumf += d * (sumi1 + sumi2);
    }
    return sumf;
}

// ---- IQ4_XS ----

void xt_dequant_row_iq4_xs(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq4_xs *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) |
                           (((x[i].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * (ls - 32);
            iq4_decode_block(x[i].qs + 16 * ib, dl, dst + i * QK_K + 32 * ib);
        }
    }
}

static void quant_superblock_iq4_xs(const float *restrict x, const float *restrict qw,
                                    block_iq4_xs *restrict y) {
    uint8_t L[QK_K];
    float scales[QK_K / 32];
    const float sigma2 = iq4_sigma2(x, QK_K);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < QK_K / 32; ib++) {
        const float d = iq4_fit_block(x + 32 * ib, qw ? qw + 32 * ib : NULL, sigma2, L + 32 * ib);
        scales[ib] = d;
        const float abs_d = fabsf(d);
        if (abs_d > amax_scale) {
            amax_scale = abs_d;
            max_scale = d;
        }
    }
    const float d = -max_scale / 32;
    y->d = xt_fp32_to_fp16(d);
    const float id = d ? 1 / d : 0.f;
    y->scales_h = 0;
    memset(y->scales_l, 0, sizeof y->scales_l);
    for (int ib = 0; ib < QK_K / 32; ib++) {
        int l = xt_nearest_int(id * scales[ib]);
        l = l < -32 ? -32 : (l > 31 ? 31 : l);
        const float dl = d * l;
        const float idl = dl ? 1 / dl : 0.f;
        const float *restrict xb = x + 32 * ib;
        for (int j = 0; j < 32; j++) L[32 * ib + j] = (uint8_t)best_index_iq4(idl * xb[j]);
        l += 32;
        y->scales_l[ib / 2] |= (uint8_t)((l & 0xF) << 4 * (ib % 2));
        y->scales_h |= (uint16_t)((l >> 4) << 2 * ib);
    }
    for (int ib = 0; ib < QK_K / 32; ib++) iq4_pack(L + 32 * ib, y->qs + 16 * ib);
}

void xt_quant_row_iq4_xs(const float *restrict src, void *restrict dst, int64_t n,
                         const float *restrict imatrix) {
    block_iq4_xs *restrict y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        quant_superblock_iq4_xs(src + i * QK_K, imatrix ? imatrix + i * QK_K : NULL, &y[i]);
    }
}

// ggml_vec_dot_iq4_xs_q8_K_generic: per 32-block d_b = (dw*da)*(ls-32), sumf += d_b*sumi.
float xt_vec_dot_iq4_xs(int64_t n, const void *restrict w, const void *restrict a) {
    const block_iq4_xs *restrict x = w;
    const block_q8_K *restrict y = a;
    const int64_t nb = n / QK_K;
    float sumf = 0;
    for (int64_t ibl = 0; ibl < nb; ibl++) {
        const float d4d8 = xt_fp16_to_fp32(x[ibl].d) * y[ibl].d;
        const uint8_t *restrict qs = x[ibl].qs;
        const int8_t *restrict q8 = y[ibl].qs;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const int ls = ((x[ibl].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) |
                           (((x[ibl].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d4d8 * (ls - 32);
            int sumi1 = 0, sumi2 = 0;
            for (int j = 0; j < 16; j++) {
                sumi1 += q8[j] * k_iq4nl[qs[j] & 0xF];
                sumi2 += q8[j + 16] * k_iq4nl[qs[j] >> 4];
            }
            sumf += dl * (sumi1 + sumi2);
            qs += 16;
            q8 += 32;
        }
    }
    return sumf;
}

// ---- MXFP4 ----

void xt_dequant_row_mxfp4(const void *restrict src, float *restrict dst, int64_t n) {
    const block_mxfp4 *restrict x = src;
    const int64_t nb = n / QK_MXFP4;
    for (int64_t i = 0; i < nb; i++) {
        const float d = e8m0_to_fp32_half(x[i].e);
        float *restrict y = dst + i * QK_MXFP4;
        for (int j = 0; j < QK_MXFP4 / 2; j++) {
            y[j] = k_mxfp4[x[i].qs[j] & 0x0F] * d;
            y[j + QK_MXFP4 / 2] = k_mxfp4[x[i].qs[j] >> 4] * d;
        }
    }
}

// Nearest of the 16 scaled E2M1 values (first index on ties; NaN -> 0). (best_index_mxfp4)
static inline int best_index_mxfp4(float x, float e) {
    int best_index = 0;
    float best_err = fabsf(k_mxfp4[0] * e - x);
    for (int i = 1; i < 16; i++) {
        const float err = fabsf(k_mxfp4[i] * e - x);
        if (err < best_err) {
            best_index = i;
            best_err = err;
        }
    }
    return best_index;
}

// Shared exponent e = floor(log2(amax)) - 2 + 127 stored as a byte. ggml casts the float
// straight to uint8_t; where that is undefined (amax < 2^-125 gives a negative value, amax
// = Inf gives Inf) we take the value modulo 256 (what x86 code and numpy's astype produce)
// and Inf/NaN -> 0.
static uint8_t mxfp4_exponent(float amax) {
    if (!(amax > 0.0f)) return 0;
    const float fe = floorf(log2f(amax)) - 2 + 127;
    if (!isfinite(fe)) return 0;
    return (uint8_t)((int32_t)fe & 0xFF);
}

void xt_quant_row_mxfp4(const float *restrict src, void *restrict dst, int64_t n,
                        const float *restrict imatrix) {
    (void)imatrix;  // ggml's quantize_mxfp4 ignores quant_weights
    block_mxfp4 *restrict y = dst;
    const int64_t nb = n / QK_MXFP4;
    for (int64_t i = 0; i < nb; i++) {
        const float *restrict x = src + i * QK_MXFP4;
        float amax = 0.0f;
        for (int j = 0; j < QK_MXFP4; j++) {
            if (amax < fabsf(x[j])) amax = fabsf(x[j]);
        }
        const uint8_t e = mxfp4_exponent(amax);
        const float d = e8m0_to_fp32_half(e);
        y[i].e = e;
        for (int j = 0; j < QK_MXFP4 / 2; j++) {
            const int x0 = best_index_mxfp4(x[j], d);
            const int x1 = best_index_mxfp4(x[j + QK_MXFP4 / 2], d);
            y[i].qs[j] = (uint8_t)(x0 | (x1 << 4));
        }
    }
}

// ggml_vec_dot_mxfp4_q8_0_generic: d = da*e8m0_half(e), sumf += d*(sumi1 + sumi2).
float xt_vec_dot_mxfp4(int64_t n, const void *restrict w, const void *restrict a) {
    const block_mxfp4 *restrict x = w;
    const block_q8_0 *restrict y = a;
    const int64_t nb = n / QK_MXFP4;
    float sumf = 0;
    for (int64_t ib = 0; ib < nb; ib++) {
        const float d = xt_fp16_to_fp32(y[ib].d) * e8m0_to_fp32_half(x[ib].e);
        int sumi1 = 0, sumi2 = 0;
        for (int j = 0; j < QK_MXFP4 / 2; j++) {
            sumi1 += y[ib].qs[j] * k_mxfp4[x[ib].qs[j] & 0xF];
            sumi2 += y[ib].qs[j + QK_MXFP4 / 2] * k_mxfp4[x[ib].qs[j] >> 4];
        }
        sumf += d * (sumi1 + sumi2);
    }
    return sumf;
}

// ---- registration ----

void xt_quant_register_iq4_mxfp4(xt_quant_traits *table) {
    table[XT_DTYPE_IQ4_NL] = (xt_quant_traits){
        .to_float = xt_dequant_row_iq4_nl,
        .from_float = xt_quant_row_iq4_nl,
        .vec_dot_type = XT_DTYPE_Q8_0,
        .vec_dot = xt_vec_dot_iq4_nl,
        .uses_imatrix = true,
    };
    table[XT_DTYPE_IQ4_XS] = (xt_quant_traits){
        .to_float = xt_dequant_row_iq4_xs,
        .from_float = xt_quant_row_iq4_xs,
        .vec_dot_type = XT_DTYPE_Q8_K,
        .vec_dot = xt_vec_dot_iq4_xs,
        .uses_imatrix = true,
    };
    table[XT_DTYPE_MXFP4] = (xt_quant_traits){
        .to_float = xt_dequant_row_mxfp4,
        .from_float = xt_quant_row_mxfp4,
        .vec_dot_type = XT_DTYPE_Q8_0,
        .vec_dot = xt_vec_dot_mxfp4,
        .uses_imatrix = false,
    };
}
