// k_quants_low.c — reference kernels for Q2_K and Q3_K: dequantize, quantize (with
// optional importance weights) and the dot product against the activation format.
//
// Ports of ggml-quants.c (quantize_row_<t>_ref without an imatrix, quantize_row_<t>_impl
// with one, as quantize_<t> picks) and ggml-cpu's ggml_vec_dot_<t>_q8_K_generic, keeping
// their loops and float operation order so results match ggml bit for bit. Where ggml would
// left-shift a negative int (only reachable with NaN/Inf inputs) we shift the unsigned bit
// pattern instead, which stores the same byte without undefined behaviour.
// NaN/Inf inputs: no crash, every level is clamped into its field; the block then holds
// whatever ggml's arithmetic produces (scales of 0, NaN or Inf).
#include <math.h>
#include <string.h>

#include "quant/fp16.h"
#include "quant/k_fit.h"
#include "quant/quant.h"

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

// Packs 2-bit levels L[256] into qs[64]: byte l of each 32-byte group holds elements
// l, l+32, l+64, l+96 of its 128-element half (bits 0-1, 2-3, 4-5, 6-7).
static void pack_2bit(const uint8_t *restrict L, uint8_t *restrict qs) {
    for (int j = 0; j < QK_K; j += 128) {
        for (int l = 0; l < 32; ++l) {
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                      (L[j + l + 96] << 6));
        }
    }
}

// ---- Q2_K ----

void xt_dequant_row_q2_K(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q2_K *restrict x = src;
    float *restrict y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        const float min = xt_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int k = 0; k < QK_K; k += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                uint8_t sc = x[i].scales[is++];
                float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
                sc = x[i].scales[is++];
                dl = d * (sc & 0xF);
                ml = min * (sc >> 4);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
                shift += 2;
            }
            q += 32;
        }
    }
}

// Requantizes every 16-element group with the stored (f16-rounded) scales; groups whose
// scale is 0 keep the levels of the fit.
static void q2_K_requantize(const float *restrict x, const block_q2_K *restrict y,
                            uint8_t *restrict L) {
    const float dall = xt_fp16_to_fp32(y->d);
    const float dmin = xt_fp16_to_fp32(y->dmin);
    for (int j = 0; j < QK_K / 16; ++j) {
        const float d = dall * (y->scales[j] & 0xF);
        if (!d) continue;
        const float dm = dmin * (y->scales[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) {
            int l = xt_nearest_int((x[16 * j + ii] + dm) / d);
            L[16 * j + ii] = (uint8_t)imax(0, imin(3, l));
        }
    }
}

// quantize_row_q2_K_ref: per-16 min/scale fits (weights |x|), 4-bit super-block scales.
static void q2_K_quantize_ref(const float *restrict x, block_q2_K *restrict y, int64_t nb) {
    uint8_t L[QK_K];
    uint8_t Laux[16];
    float weights[16];
    float mins[QK_K / 16];
    float scales[QK_K / 16];
    const float q4scale = 15.f;

    for (int64_t i = 0; i < nb; i++) {
        float max_scale = 0;  // scales are >= 0 once the min is taken out
        float max_min = 0;
        for (int j = 0; j < QK_K / 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = xt_make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j],
                                            Laux, -0.5f, 0.1f, 15, true);
            float scale = scales[j];
            if (scale > max_scale) max_scale = scale;
            float min = mins[j];
            if (min > max_min) max_min = min;
        }

        if (max_scale > 0) {
            float iscale = q4scale / max_scale;
            for (int j = 0; j < QK_K / 16; ++j) {
                int l = xt_nearest_int(iscale * scales[j]);
                y[i].scales[j] = (uint8_t)l;
            }
            y[i].d = xt_fp32_to_fp16(max_scale / q4scale);
        } else {
            for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = 0;
            y[i].d = xt_fp32_to_fp16(0.f);
        }
        if (max_min > 0) {
            float iscale = q4scale / max_min;
            for (int j = 0; j < QK_K / 16; ++j) {
                int l = xt_nearest_int(iscale * mins[j]);
                y[i].scales[j] |= (uint8_t)((unsigned)l << 4);
            }
            y[i].dmin = xt_fp32_to_fp16(max_min / q4scale);
        } else {
            y[i].dmin = xt_fp32_to_fp16(0.f);
        }
        q2_K_requantize(x, &y[i], L);
        pack_2bit(L, y[i].qs);
        x += QK_K;
    }
}

// quantize_row_q2_K_impl: importance-weighted fits (qkx3), super-block scales by qp fit.
static void q2_K_quantize_impl(const float *restrict x, block_q2_K *restrict y, int64_t nb,
                               const float *restrict quant_weights) {
    uint8_t L[QK_K];
    uint8_t Laux[16];
    float mins[QK_K / 16];
    float scales[QK_K / 16];
    float sw[QK_K / 16];
    float weight[16];
    uint8_t Ls[QK_K / 16], Lm[QK_K / 16];

    for (int64_t i = 0; i < nb; i++) {
        memset(sw, 0, sizeof(sw));
        float sumx2 = 0;
        for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
        float sigma2 = sumx2 / QK_K;
        for (int j = 0; j < QK_K / 16; ++j) {
            const float *restrict qw = quant_weights + QK_K * i + 16 * j;
            for (int l = 0; l < 16; ++l)
                weight[l] = qw[l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            for (int l = 0; l < 16; ++l) sw[j] += weight[l];
            scales[j] = xt_make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j],
                                            Laux, -0.9f, 0.05f, 36, false);
        }

        float dm = xt_make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
        float mm = xt_make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
        y[i].d = xt_fp32_to_fp16(dm);
        y[i].dmin = xt_fp32_to_fp16(mm);
        for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));

        q2_K_requantize(x, &y[i], L);
        pack_2bit(L, y[i].qs);
        x += QK_K;
    }
}

void xt_quant_row_q2_K(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    if (imatrix) {
        q2_K_quantize_impl(src, dst, n / QK_K, imatrix);
    } else {
        q2_K_quantize_ref(src, dst, n / QK_K);
    }
}

float xt_vec_dot_q2_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q2_K *restrict x = w;
    const block_q8_K *restrict y = a;
    const int64_t nb = n / QK_K;
    float sumf = 0;
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t *q2 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        const uint8_t *sc = x[i].scales;

        int summs = 0;
        for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (sc[j] >> 4);

        const float dall = y[i].d * xt_fp16_to_fp32(x[i].d);
        const float dmin = y[i].d * xt_fp16_to_fp32(x[i].dmin);

        int isum = 0;
        int is = 0;
        for (int k = 0; k < QK_K / 128; ++k) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                int d = sc[is++] & 0xF;
                int isuml = 0;
                for (int l = 0; l < 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
                isum += d * isuml;
                d = sc[is++] & 0xF;
                isuml = 0;
                for (int l = 16; l < 32; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
                isum += d * isuml;
                shift += 2;
                q8 += 32;
            }
            q2 += 32;
        }
        sumf += dall * isum - dmin * summs;
    }
    return sumf;
}

// ---- Q3_K ----

// The 16 6-bit scales (still biased by 32) from the 12-byte field: low nibbles in bytes
// 0-7 (element j < 8 low nibble, j >= 8 high nibble of byte j-8), high 2 bits in bytes 8-11.
// Same values as ggml's kmask unpacking, independent of byte order.
static inline int q3_K_scale(const uint8_t *restrict s, int j) {
    int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return lo | (hi << 4);
}

void xt_dequant_row_q3_K(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q3_K *restrict x = src;
    float *restrict y = dst;
    const int64_t nb = n / QK_K;
    int8_t scales[16];
    for (int64_t i = 0; i < nb; i++) {
        const float d_all = xt_fp16_to_fp32(x[i].d);
        const uint8_t *restrict q = x[i].qs;
        const uint8_t *restrict hm = x[i].hmask;
        uint8_t m = 1;
        for (int j = 0; j < 16; ++j) scales[j] = (int8_t)q3_K_scale(x[i].scales, j);

        int is = 0;
        for (int k = 0; k < QK_K; k += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                float dl = d_all * (scales[is++] - 32);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                dl = d_all * (scales[is++] - 32);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
                shift += 2;
                m = (uint8_t)(m << 1);
            }
            q += 32;
        }
    }
}

// Requantizes with the stored scales (groups with scale 0 keep the fit's levels), then
// splits each level in [0, 7] into the hmask bit and the 2 low bits.
static void q3_K_finish_block(const float *restrict x, block_q3_K *restrict y,
                              int8_t *restrict L) {
    const float d_all = xt_fp16_to_fp32(y->d);
    for (int j = 0; j < QK_K / 16; ++j) {
        int8_t sc = (int8_t)(q3_K_scale(y->scales, j) - 32);
        float d = d_all * sc;
        if (!d) continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = xt_nearest_int(x[16 * j + ii] / d);
            l = imax(-4, imin(3, l));
            L[16 * j + ii] = (int8_t)(l + 4);
        }
    }

    // The high bit of elements 0-31 goes to bit 0 of hmask[0..31], 32-63 to bit 1, ...
    memset(y->hmask, 0, QK_K / 8);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < QK_K; ++j) {
        if (L[j] > 3) {
            y->hmask[m] |= hm;
            L[j] = (int8_t)(L[j] - 4);
        }
        if (++m == QK_K / 8) {
            m = 0;
            hm = (uint8_t)(hm << 1);
        }
    }
    pack_2bit((const uint8_t *)L, y->qs);
}

// Stores the 6-bit level l (0..63) of scale j into the 12-byte field (zeroed beforehand).
static inline void q3_K_put_scale(uint8_t *restrict s, int j, int l) {
    if (j < 8) {
        s[j] = (uint8_t)(l & 0xF);
    } else {
        s[j - 8] |= (uint8_t)((l & 0xF) << 4);
    }
    l >>= 4;
    s[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
}

// quantize_row_q3_K_ref: per-16 symmetric fits (make_q3_quants), 6-bit signed scales.
static void q3_K_quantize_ref(const float *restrict x, block_q3_K *restrict y, int64_t nb) {
    int8_t L[QK_K];
    float scales[QK_K / 16];

    for (int64_t i = 0; i < nb; i++) {
        float max_scale = 0;
        float amax = 0;
        for (int j = 0; j < QK_K / 16; ++j) {
            scales[j] = xt_make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
            float scale = fabsf(scales[j]);
            if (scale > amax) {
                amax = scale;
                max_scale = scales[j];
            }
        }

        memset(y[i].scales, 0, 12);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < QK_K / 16; ++j) {
                // ggml narrows to int8_t before clamping; kept for identical results.
                int8_t l = (int8_t)xt_nearest_int(iscale * scales[j]);
                q3_K_put_scale(y[i].scales, j, imax(-32, imin(31, l)) + 32);
            }
            y[i].d = xt_fp32_to_fp16(1 / iscale);
        } else {
            y[i].d = xt_fp32_to_fp16(0.f);
        }
        q3_K_finish_block(x, &y[i], L);
        x += QK_K;
    }
}

// quantize_row_q3_K_impl: importance-weighted fits (make_qx_quants), scales fitted too.
static void q3_K_quantize_impl(const float *restrict x, block_q3_K *restrict y, int64_t nb,
                               const float *restrict quant_weights) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float weight[16];
    float sw[QK_K / 16];
    int8_t Ls[QK_K / 16];

    for (int64_t i = 0; i < nb; i++) {
        float sumx2 = 0;
        for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
        float sigma2 = 2 * sumx2 / QK_K;

        for (int j = 0; j < QK_K / 16; ++j) {
            if (quant_weights) {
                const float *restrict qw = quant_weights + QK_K * i + 16 * j;
                for (int l = 0; l < 16; ++l)
                    weight[l] = qw[l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
            } else {
                for (int l = 0; l < 16; ++l) weight[l] = x[16 * j + l] * x[16 * j + l];
            }
            float sumw = 0;
            for (int l = 0; l < 16; ++l) sumw += weight[l];
            sw[j] = sumw;
            scales[j] = xt_make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
        }

        memset(y[i].scales, 0, 12);
        float d_block = xt_make_qx_quants(QK_K / 16, 32, scales, Ls, 1, sw);
        for (int j = 0; j < QK_K / 16; ++j) q3_K_put_scale(y[i].scales, j, Ls[j]);
        y[i].d = xt_fp32_to_fp16(d_block);

        q3_K_finish_block(x, &y[i], L);
        x += QK_K;
    }
}

void xt_quant_row_q3_K(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    if (imatrix) {
        q3_K_quantize_impl(src, dst, n / QK_K, imatrix);
    } else {
        q3_K_quantize_ref(src, dst, n / QK_K);
    }
}

float xt_vec_dot_q3_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q3_K *restrict x = w;
    const block_q8_K *restrict y = a;
    const int64_t nb = n / QK_K;

    int8_t aux8[QK_K];
    int16_t aux16[8];
    float sums[8];
    int32_t aux32[8];
    int8_t scales[16];
    memset(sums, 0, sizeof(sums));

    float sumf = 0;
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t *restrict q3 = x[i].qs;
        const uint8_t *restrict hm = x[i].hmask;
        const int8_t *restrict q8 = y[i].qs;
        memset(aux32, 0, sizeof(aux32));
        int8_t *restrict av = aux8;
        uint8_t m = 1;
        for (int j = 0; j < QK_K; j += 128) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int l = 0; l < 32; ++l) av[l] = (int8_t)((q3[l] >> shift) & 3);
                for (int l = 0; l < 32; ++l) av[l] = (int8_t)(av[l] - (hm[l] & m ? 0 : 4));
                av += 32;
                m = (uint8_t)(m << 1);
            }
            q3 += 32;
        }
        av = aux8;

        for (int j = 0; j < 16; ++j) scales[j] = (int8_t)q3_K_scale(x[i].scales, j);
        for (int j = 0; j < QK_K / 16; ++j) {
            for (int half = 0; half < 2; ++half) {
                for (int l = 0; l < 8; ++l) aux16[l] = (int16_t)(q8[l] * av[l]);
                for (int l = 0; l < 8; ++l) aux32[l] += (scales[j] - 32) * aux16[l];
                q8 += 8;
                av += 8;
            }
        }
        const float d = xt_fp16_to_fp32(x[i].d) * y[i].d;
        for (int l = 0; l < 8; ++l) sums[l] += d * aux32[l];
    }
    for (int l = 0; l < 8; ++l) sumf += sums[l];
    return sumf;
}

// ---- registration ----

// Fills this family's rows of the kernel table.
void xt_quant_register_k_low(xt_quant_traits *table) {
    table[XT_DTYPE_Q2_K] = (xt_quant_traits){
        .to_float = xt_dequant_row_q2_K,
        .from_float = xt_quant_row_q2_K,
        .vec_dot_type = XT_DTYPE_Q8_K,
        .vec_dot = xt_vec_dot_q2_K,
        .uses_imatrix = true,
    };
    table[XT_DTYPE_Q3_K] = (xt_quant_traits){
        .to_float = xt_dequant_row_q3_K,
        .from_float = xt_quant_row_q3_K,
        .vec_dot_type = XT_DTYPE_Q8_K,
        .vec_dot = xt_vec_dot_q3_K,
        .uses_imatrix = true,
    };
}
