// k_quants_high.c — reference kernels for Q4_K, Q5_K and Q6_K: dequantize, quantize (with
// optional importance weights) and the dot product against the activation format.
//
// Ports of ggml-quants.c (quantize_row_<t>_ref without an imatrix, quantize_row_<t>_impl
// with one, as quantize_<t> picks) and ggml-cpu's ggml_vec_dot_<t>_q8_K_generic, keeping
// their loops and float operation order so results match ggml bit for bit.
// NaN/Inf inputs: no crash, every level is clamped into its field (6-bit scale levels are
// masked by the packing, as in ggml); the block then holds whatever ggml's arithmetic gives.
#include <math.h>
#include <string.h>

#include "quant/fp16.h"
#include "quant/k_fit.h"
#include "quant/quant.h"

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

// ---- shared by Q4_K and Q5_K ----

// Stores scale level ls and min level lm of sub-block j (0..7) into the 12-byte field, in
// ascending j order (j >= 4 ORs its top bits into bytes written for j < 4).
static inline void k4_put_scale_min(uint8_t *restrict s, int j, uint8_t ls, uint8_t lm) {
    if (j < 4) {
        s[j] = ls;
        s[j + 4] = lm;
    } else {
        s[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
        s[j - 4] |= (uint8_t)((ls >> 4) << 6);
        s[j - 0] |= (uint8_t)((lm >> 4) << 6);
    }
}

// Quantizes the 8 per-32 scales and mins of the _ref quantizers against their maxima
// (6 bits each) and stores d and dmin.
static void k4_store_ref_scales(const float *restrict scales, const float *restrict mins,
                                float max_scale, float max_min, uint8_t *restrict s,
                                xt_half *restrict d, xt_half *restrict dmin) {
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t ls = (uint8_t)xt_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)xt_nearest_int(inv_min * mins[j]);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        k4_put_scale_min(s, j, ls, lm);
    }
    *d = xt_fp32_to_fp16(max_scale / 63.f);
    *dmin = xt_fp32_to_fp16(max_min / 63.f);
}

// Requantizes the 256 elements with the stored scales and mins into L (levels 0..nmax);
// sub-blocks with scale 0 keep the fit's levels.
static void k4_requantize(const float *restrict x, const uint8_t *restrict s, xt_half dh,
                          xt_half dminh, int nmax, uint8_t *restrict L) {
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t sc, m;
        xt_get_scale_min_k4(j, s, &sc, &m);
        const float d = xt_fp16_to_fp32(dh) * sc;
        if (!d) continue;
        const float dm = xt_fp16_to_fp32(dminh) * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = xt_nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)imax(0, imin(nmax, l));
        }
    }
}

// The _ref fits: per 32 elements, weights sqrt(mean x^2) + |x|, qkx2 search.
static void k4_fit_ref(const float *restrict x, int nmax, float rmin, float rdelta, int nstep,
                       uint8_t *restrict L, float *restrict scales, float *restrict mins,
                       float *restrict max_scale, float *restrict max_min) {
    uint8_t Laux[32];
    float weights[32];
    *max_scale = 0;  // scales are >= 0 once the min is taken out
    *max_min = 0;
    for (int j = 0; j < QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = xt_make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j],
                                        Laux, rmin, rdelta, nstep, false);
        float scale = scales[j];
        if (scale > *max_scale) *max_scale = scale;
        float min = mins[j];
        if (min > *max_min) *max_min = min;
    }
}

// The _impl fits: weights qw * sqrt(sigma2 + x^2) (or the _ref weights without qw), qkx3
// search, then the 8 scales and mins fitted by make_qp_quants (levels Ls, Lm; returns d
// and dmin through the pointers).
static void k4_fit_impl(const float *restrict x, const float *restrict qw_block, int nmax,
                        uint8_t *restrict L, uint8_t *restrict Ls, uint8_t *restrict Lm,
                        float *restrict d_block, float *restrict m_block) {
    uint8_t Laux[32];
    float weights[32];
    float sw[QK_K / 32];
    float mins[QK_K / 32];
    float scales[QK_K / 32];

    float sum_x2 = 0;
    for (int l = 0; l < QK_K; ++l) sum_x2 += x[l] * x[l];
    float sigma2 = 2 * sum_x2 / QK_K;
    float av_x = sqrtf(sigma2);

    for (int j = 0; j < QK_K / 32; ++j) {
        if (qw_block) {
            const float *restrict qw = qw_block + 32 * j;
            for (int l = 0; l < 32; ++l)
                weights[l] = qw[l] * sqrtf(sigma2 + x[32 * j + l] * x[32 * j + l]);
        } else {
            for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
        }
        float sumw = 0;
        for (int l = 0; l < 32; ++l) sumw += weights[l];
        sw[j] = sumw;
        scales[j] = xt_make_qkx3_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j],
                                        Laux, -0.9f, 0.05f, 36, false);
    }
    *d_block = xt_make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
    *m_block = xt_make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
}

// ---- Q4_K ----

void xt_dequant_row_q4_K(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_K *restrict x = src;
    float *restrict y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q = x[i].qs;
        const float d = xt_fp16_to_fp32(x[i].d);
        const float min = xt_fp16_to_fp32(x[i].dmin);
        int is = 0;
        uint8_t sc, m;
        for (int j = 0; j < QK_K; j += 64) {
            xt_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            xt_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}

// Packs levels 0..15: byte l of each 32-byte group holds elements l (low nibble) and l+32.
static void q4_K_pack(const uint8_t *restrict L, uint8_t *restrict q) {
    for (int j = 0; j < QK_K; j += 64) {
        for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        q += 32;
    }
}

void xt_quant_row_q4_K(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    block_q4_K *restrict y = dst;
    const float *restrict x = src;
    const int64_t nb = n / QK_K;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; i++) {
        if (imatrix) {  // quantize_row_q4_K_impl
            uint8_t Ls[QK_K / 32], Lm[QK_K / 32];
            float d_block, m_block;
            k4_fit_impl(x, imatrix + QK_K * i, 15, L, Ls, Lm, &d_block, &m_block);
            for (int j = 0; j < QK_K / 32; ++j) k4_put_scale_min(y[i].scales, j, Ls[j], Lm[j]);
            y[i].d = xt_fp32_to_fp16(d_block);
            y[i].dmin = xt_fp32_to_fp16(m_block);
        } else {  // quantize_row_q4_K_ref
            float scales[QK_K / 32], mins[QK_K / 32], max_scale, max_min;
            k4_fit_ref(x, 15, -1.f, 0.1f, 20, L, scales, mins, &max_scale, &max_min);
            k4_store_ref_scales(scales, mins, max_scale, max_min, y[i].scales, &y[i].d,
                                &y[i].dmin);
        }
        k4_requantize(x, y[i].scales, y[i].d, y[i].dmin, 15, L);
        q4_K_pack(L, y[i].qs);
        x += QK_K;
    }
}

float xt_vec_dot_q4_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q4_K *restrict x = w;
    const block_q8_K *restrict y = a;
    const int64_t nb = n / QK_K;

    int8_t aux8[QK_K];
    int16_t aux16[8];
    float sums[8];
    int32_t aux32[8];
    uint8_t scales[8], mins[8];
    memset(sums, 0, sizeof(sums));

    float sumf = 0;
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t *restrict q4 = x[i].qs;
        const int8_t *restrict q8 = y[i].qs;
        memset(aux32, 0, sizeof(aux32));
        int8_t *restrict av = aux8;
        for (int j = 0; j < QK_K / 64; ++j) {
            for (int l = 0; l < 32; ++l) av[l] = (int8_t)(q4[l] & 0xF);
            av += 32;
            for (int l = 0; l < 32; ++l) av[l] = (int8_t)(q4[l] >> 4);
            av += 32;
            q4 += 32;
        }
        for (int j = 0; j < 8; ++j) xt_get_scale_min_k4(j, x[i].scales, &scales[j], &mins[j]);

        int sumi = 0;
        for (int j = 0; j < QK_K / 16; ++j) sumi += y[i].bsums[j] * mins[j / 2];
        av = aux8;
        for (int j = 0; j < QK_K / 32; ++j) {
            int32_t scale = scales[j];
            for (int quarter = 0; quarter < 4; ++quarter) {
                for (int l = 0; l < 8; ++l) aux16[l] = (int16_t)(q8[l] * av[l]);
                for (int l = 0; l < 8; ++l) aux32[l] += scale * aux16[l];
                q8 += 8;
                av += 8;
            }
        }
        const float d = xt_fp16_to_fp32(x[i].d) * y[i].d;
        for (int l = 0; l < 8; ++l) sums[l] += d * aux32[l];
        const float dmin = xt_fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf -= dmin * sumi;
    }
    for (int l = 0; l < 8; ++l) sumf += sums[l];
    return sumf;
}

// ---- Q5_K ----

void xt_dequant_row_q5_K(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_K *restrict x = src;
    float *restrict y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].qs;
        const uint8_t *qh = x[i].qh;
        const float d = xt_fp16_to_fp32(x[i].d);
        const float min = xt_fp16_to_fp32(x[i].dmin);
        int is = 0;
        uint8_t sc, m;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < QK_K; j += 64) {
            xt_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            xt_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            is += 2;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

// Packs levels 0..31: low nibbles as Q4_K, bit 4 of elements 64k+l / 64k+32+l into bit
// 2k / 2k+1 of qh[l].
static void q5_K_pack(const uint8_t *restrict L, uint8_t *restrict qh, uint8_t *restrict ql) {
    memset(qh, 0, QK_K / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < QK_K; n += 64) {
        for (int j = 0; j < 32; ++j) {
            int l1 = L[n + j];
            if (l1 > 15) {
                l1 -= 16;
                qh[j] |= m1;
            }
            int l2 = L[n + j + 32];
            if (l2 > 15) {
                l2 -= 16;
                qh[j] |= m2;
            }
            ql[j] = (uint8_t)(l1 | (l2 << 4));
        }
        m1 = (uint8_t)(m1 << 2);
        m2 = (uint8_t)(m2 << 2);
        ql += 32;
    }
}

void xt_quant_row_q5_K(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    block_q5_K *restrict y = dst;
    const float *restrict x = src;
    const int64_t nb = n / QK_K;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; i++) {
        if (imatrix) {  // quantize_row_q5_K_impl (clamps the levels, unlike Q4_K's)
            uint8_t Ls[QK_K / 32], Lm[QK_K / 32];
            float d_block, m_block;
            k4_fit_impl(x, imatrix + QK_K * i, 31, L, Ls, Lm, &d_block, &m_block);
            for (int j = 0; j < QK_K / 32; ++j) {
                uint8_t ls = Ls[j] < 63 ? Ls[j] : 63;
                uint8_t lm = Lm[j] < 63 ? Lm[j] : 63;
                k4_put_scale_min(y[i].scales, j, ls, lm);
            }
            y[i].d = xt_fp32_to_fp16(d_block);
            y[i].dmin = xt_fp32_to_fp16(m_block);
        } else {  // quantize_row_q5_K_ref
            float scales[QK_K / 32], mins[QK_K / 32], max_scale, max_min;
            k4_fit_ref(x, 31, -0.5f, 0.1f, 15, L, scales, mins, &max_scale, &max_min);
            k4_store_ref_scales(scales, mins, max_scale, max_min, y[i].scales, &y[i].d,
                                &y[i].dmin);
        }
        k4_requantize(x, y[i].scales, y[i].d, y[i].dmin, 31, L);
        q5_K_pack(L, y[i].qh, y[i].qs);
        x += QK_K;
    }
}

float xt_vec_dot_q5_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q5_K *restrict x = w;
    const block_q8_K *restrict y = a;
    const int64_t nb = n / QK_K;

    int8_t aux8[QK_K];
    int16_t aux16[8];
    float sums[8];
    int32_t aux32[8];
    uint8_t scales[8], mins[8];
    memset(sums, 0, sizeof(sums));

    float sumf = 0;
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t *restrict q4 = x[i].qs;
        const uint8_t *restrict hm = x[i].qh;
        const int8_t *restrict q8 = y[i].qs;
        memset(aux32, 0, sizeof(aux32));
        int8_t *restrict av = aux8;
        uint8_t m = 1;
        for (int j = 0; j < QK_K / 64; ++j) {
            for (int l = 0; l < 32; ++l) av[l] = (int8_t)(q4[l] & 0xF);
            for (int l = 0; l < 32; ++l) av[l] = (int8_t)(av[l] + (hm[l] & m ? 16 : 0));
            av += 32;
            m = (uint8_t)(m << 1);
            for (int l = 0; l < 32; ++l) av[l] = (int8_t)(q4[l] >> 4);
            for (int l = 0; l < 32; ++l) av[l] = (int8_t)(av[l] + (hm[l] & m ? 16 : 0));
            av += 32;
            m = (uint8_t)(m << 1);
            q4 += 32;
        }
        for (int j = 0; j < 8; ++j) xt_get_scale_min_k4(j, x[i].scales, &scales[j], &mins[j]);

        int sumi = 0;
        for (int j = 0; j < QK_K / 16; ++j) sumi += y[i].bsums[j] * mins[j / 2];
        av = aux8;
        for (int j = 0; j < QK_K / 32; ++j) {
            int32_t scale = scales[j];
            for (int quarter = 0; quarter < 4; ++quarter) {
                for (int l = 0; l < 8; ++l) aux16[l] = (int16_t)(q8[l] * av[l]);
                for (int l = 0; l < 8; ++l) aux32[l] += scale * aux16[l];
                q8 += 8;
                av += 8;
            }
        }
        const float d = xt_fp16_to_fp32(x[i].d) * y[i].d;
        for (int l = 0; l < 8; ++l) sums[l] += d * aux32[l];
        const float dmin = xt_fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf -= dmin * sumi;
    }
    for (int l = 0; l < 8; ++l) sumf += sums[l];
    return sumf;
}

// ---- Q6_K ----

void xt_dequant_row_q6_K(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q6_K *restrict x = src;
    float *restrict y = dst;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        const uint8_t *restrict ql = x[i].ql;
        const uint8_t *restrict qh = x[i].qh;
        const int8_t *restrict sc = x[i].scales;
        for (int k = 0; k < QK_K; k += 128) {
            for (int l = 0; l < 32; ++l) {
                int is = l / 16;
                const int8_t q1 = (int8_t)(((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                const int8_t q2 = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                const int8_t q3 = (int8_t)(((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                const int8_t q4 = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

// quantize_row_q6_K_ref / _impl: per-16 symmetric fits (make_qx_quants, weights x^2 or the
// imatrix itself), 8-bit signed scales against the largest one.
void xt_quant_row_q6_K(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    block_q6_K *restrict y = dst;
    const float *restrict x = src;
    const int64_t nb = n / QK_K;
    int8_t L[QK_K];
    float scales[QK_K / 16];

    for (int64_t i = 0; i < nb; i++) {
        float max_scale = 0;
        float max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            const float *restrict qw = imatrix ? imatrix + QK_K * i + 16 * ib : NULL;
            const float scale = xt_make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw);
            scales[ib] = scale;
            const float abs_scale = fabsf(scale);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scale;
            }
        }

        if (max_abs_scale < 1e-15f) {  // GROUP_MAX_EPS: all zero
            memset(&y[i], 0, sizeof(block_q6_K));
            y[i].d = xt_fp32_to_fp16(0.f);
            x += QK_K;
            continue;
        }

        float iscale = -128.f / max_scale;
        y[i].d = xt_fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            // ggml narrows the (upper-clamped) int to int8_t; same conversion here.
            y[i].scales[ib] = (int8_t)imin(127, xt_nearest_int(iscale * scales[ib]));
        }

        for (int j = 0; j < QK_K / 16; ++j) {
            float d = xt_fp16_to_fp32(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = xt_nearest_int(x[16 * j + ii] / d);
                l = imax(-32, imin(31, l));
                L[16 * j + ii] = (int8_t)(l + 32);
            }
        }

        uint8_t *restrict ql = y[i].ql;
        uint8_t *restrict qh = y[i].qh;
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t q1 = L[j + l + 0] & 0xF;
                const uint8_t q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF;
                const uint8_t q4 = L[j + l + 96] & 0xF;
                ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                  ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
            ql += 64;
            qh += 32;
        }
        x += QK_K;
    }
}

float xt_vec_dot_q6_K(int64_t n, const void *restrict w, const void *restrict a) {
    const block_q6_K *restrict x = w;
    const block_q8_K *restrict y = a;
    const int64_t nb = n / QK_K;

    int8_t aux8[QK_K];
    int16_t aux16[8];
    float sums[8];
    int32_t aux32[8];
    memset(sums, 0, sizeof(sums));

    float sumf = 0;
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t *restrict q4 = x[i].ql;
        const uint8_t *restrict qh = x[i].qh;
        const int8_t *restrict q8 = y[i].qs;
        memset(aux32, 0, sizeof(aux32));
        int8_t *restrict av = aux8;
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; ++l) {
                av[l + 0] = (int8_t)(((q4[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                av[l + 32] = (int8_t)(((q4[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                av[l + 64] = (int8_t)(((q4[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                av[l + 96] = (int8_t)(((q4[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
            av += 128;
            q4 += 64;
            qh += 32;
        }
        av = aux8;
        for (int j = 0; j < QK_K / 16; ++j) {
            int scale = x[i].scales[j];
            for (int half = 0; half < 2; ++half) {
                for (int l = 0; l < 8; ++l) aux16[l] = (int16_t)(q8[l] * av[l]);
                for (int l = 0; l < 8; ++l) aux32[l] += scale * aux16[l];
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
void xt_quant_register_k_high(xt_quant_traits *table) {
    table[XT_DTYPE_Q4_K] = (xt_quant_traits){
        .to_float = xt_dequant_row_q4_K,
        .from_float = xt_quant_row_q4_K,
        .vec_dot_type = XT_DTYPE_Q8_K,
        .vec_dot = xt_vec_dot_q4_K,
        .uses_imatrix = true,
    };
    table[XT_DTYPE_Q5_K] = (xt_quant_traits){
        .to_float = xt_dequant_row_q5_K,
        .from_float = xt_quant_row_q5_K,
        .vec_dot_type = XT_DTYPE_Q8_K,
        .vec_dot = xt_vec_dot_q5_K,
        .uses_imatrix = true,
    };
    table[XT_DTYPE_Q6_K] = (xt_quant_traits){
        .to_float = xt_dequant_row_q6_K,
        .from_float = xt_quant_row_q6_K,
        .vec_dot_type = XT_DTYPE_Q8_K,
        .vec_dot = xt_vec_dot_q6_K,
        .uses_imatrix = true,
    };
}
