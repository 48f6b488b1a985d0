// iq_lattice.c — dequantizers for the IQ lattice types IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S,
// IQ1_S and IQ1_M (ggml's dequantize_row_iq*; bit-exact with gguf-py). No quantizer, no dot.
//
// Each 8 (IQ3: 4) elements are one point of a lattice grid (quant/iq_tables.h) times a block
// scale, with per-element signs (IQ2/IQ3) or a +-1/8 shift (IQ1). The float operations follow
// ggml's order, e.g. IQ2: y = (d * (0.5 + s) * 0.25) * grid[j], then the sign.
#include <string.h>

#include "quant/fp16.h"
#include "quant/iq_tables.h"
#include "quant/quant.h"

#define IQ1S_DELTA 0.125f

static inline uint32_t load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint16_t load_u16le(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

// y[j] = db * grid[j], negated where bit j of `signs` is set, for `len` elements.
static inline void put_signed(float *restrict y, float db, const uint8_t *restrict grid,
                              uint32_t signs, int len) {
    for (int j = 0; j < len; j++) {
        const float v = db * (float)grid[j];
        y[j] = (signs >> j) & 1 ? -v : v;
    }
}

// ---- IQ2_XXS ----

void xt_dequant_row_iq2_xxs(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq2_xxs *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        float *restrict y = dst + i * QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const uint8_t *q = x[i].qs + 8 * ib;
            const uint32_t aux = load_u32le(q + 4);
            const float db = d * (0.5f + (float)(aux >> 28)) * 0.25f;
            for (int l = 0; l < 4; l++) {
                put_signed(y, db, xt_iq2xxs_grid[q[l]], xt_ksigns_iq2xs[(aux >> 7 * l) & 127],
                           8);
                y += 8;
            }
        }
    }
}

// ---- IQ2_XS ----

void xt_dequant_row_iq2_xs(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq2_xs *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        float *restrict y = dst + i * QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const float db[2] = {
                d * (0.5f + (float)(x[i].scales[ib] & 0xF)) * 0.25f,
                d * (0.5f + (float)(x[i].scales[ib] >> 4)) * 0.25f,
            };
            for (int l = 0; l < 4; l++) {
                const uint16_t q = load_u16le(x[i].qs + 2 * (4 * ib + l));
                put_signed(y, db[l / 2], xt_iq2xs_grid[q & 511], xt_ksigns_iq2xs[q >> 9], 8);
                y += 8;
            }
        }
    }
}

// ---- IQ2_S ----

void xt_dequant_row_iq2_s(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq2_s *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        const uint8_t *qs = x[i].qs, *signs = x[i].qs + QK_K / 8;
        float *restrict y = dst + i * QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const float db[2] = {
                d * (0.5f + (float)(x[i].scales[ib] & 0xF)) * 0.25f,
                d * (0.5f + (float)(x[i].scales[ib] >> 4)) * 0.25f,
            };
            for (int l = 0; l < 4; l++) {
                const int k = 4 * ib + l;
                const int idx = qs[k] | (((x[i].qh[ib] >> 2 * l) & 3) << 8);
                put_signed(y, db[l / 2], xt_iq2s_grid[idx], signs[k], 8);
                y += 8;
            }
        }
    }
}

// ---- IQ3_XXS ----

void xt_dequant_row_iq3_xxs(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq3_xxs *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        const uint8_t *qs = x[i].qs, *sas = x[i].qs + QK_K / 4;
        float *restrict y = dst + i * QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const uint32_t aux = load_u32le(sas + 4 * ib);
            const float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
            for (int l = 0; l < 4; l++) {
                const uint8_t s = xt_ksigns_iq2xs[(aux >> 7 * l) & 127];
                put_signed(y, db, xt_iq3xxs_grid[qs[8 * ib + 2 * l]], s, 4);
                put_signed(y + 4, db, xt_iq3xxs_grid[qs[8 * ib + 2 * l + 1]], s >> 4, 4);
                y += 8;
            }
        }
    }
}

// ---- IQ3_S ----

void xt_dequant_row_iq3_s(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq3_s *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        float *restrict y = dst + i * QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const int sc = (x[i].scales[ib / 2] >> 4 * (ib % 2)) & 0xF;
            const float db = d * (float)(1 + 2 * sc);
            const int h = x[i].qh[ib];
            for (int l = 0; l < 4; l++) {
                const int k = 8 * ib + 2 * l;  // grid index k: bit 8 is bit (k % 8) of qh
                const int idx0 = x[i].qs[k] | (((h >> 2 * l) & 1) << 8);
                const int idx1 = x[i].qs[k + 1] | (((h >> (2 * l + 1)) & 1) << 8);
                const uint8_t s = x[i].signs[4 * ib + l];
                put_signed(y, db, xt_iq3s_grid[idx0], s, 4);
                put_signed(y + 4, db, xt_iq3s_grid[idx1], (uint32_t)s >> 4, 4);
                y += 8;
            }
        }
    }
}

// ---- IQ1_S / IQ1_M ----

// y[j] = dl * (grid[j] + delta), j < 8.
static inline void put_shifted(float *restrict y, float dl, const int8_t *restrict grid,
                               float delta) {
    for (int j = 0; j < 8; j++) y[j] = dl * ((float)grid[j] + delta);
}

void xt_dequant_row_iq1_s(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq1_s *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = xt_fp16_to_fp32(x[i].d);
        float *restrict y = dst + i * QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const uint16_t h = load_u16le(x[i].qh + 2 * ib);
            const float dl = d * (float)(2 * ((h >> 12) & 7) + 1);
            const float delta = h & 0x8000 ? -IQ1S_DELTA : IQ1S_DELTA;
            for (int l = 0; l < 4; l++) {
                const int idx = x[i].qs[4 * ib + l] | (((h >> 3 * l) & 7) << 8);
                put_shifted(y, dl, xt_iq1s_grid[idx], delta);
                y += 8;
            }
        }
    }
}

void xt_dequant_row_iq1_m(const void *restrict src, float *restrict dst, int64_t n) {
    const block_iq1_m *restrict x = src;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        uint16_t sc[4];
        for (int k = 0; k < 4; k++) sc[k] = load_u16le(x[i].scales + 2 * k);
        const uint16_t dbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) |
                                          ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000));
        const float d = xt_fp16_to_fp32(dbits);
        float *restrict y = dst + i * QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            for (int half = 0; half < 2; half++) {
                const int s = (sc[ib / 2] >> (6 * (ib % 2) + 3 * half)) & 7;
                const float dl = d * (float)(2 * s + 1);
                const uint8_t qh = x[i].qh[2 * ib + half];
                for (int m = 0; m < 2; m++) {
                    const int nib = (qh >> 4 * m) & 0xF;
                    const int idx = x[i].qs[4 * ib + 2 * half + m] | ((nib & 7) << 8);
                    put_shifted(y, dl, xt_iq1s_grid[idx], nib & 8 ? -IQ1S_DELTA : IQ1S_DELTA);
                    y += 8;
                }
            }
        }
    }
}

// ---- registration ----

void xt_quant_register_iq_lattice(xt_quant_traits *table) {
    static const struct {
        xt_dtype type;
        xt_dequant_row_fn fn;
    } rows[] = {
        {XT_DTYPE_IQ2_XXS, xt_dequant_row_iq2_xxs}, {XT_DTYPE_IQ2_XS, xt_dequant_row_iq2_xs},
        {XT_DTYPE_IQ2_S, xt_dequant_row_iq2_s},     {XT_DTYPE_IQ3_XXS, xt_dequant_row_iq3_xxs},
        {XT_DTYPE_IQ3_S, xt_dequant_row_iq3_s},     {XT_DTYPE_IQ1_S, xt_dequant_row_iq1_s},
        {XT_DTYPE_IQ1_M, xt_dequant_row_iq1_m},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        table[rows[k].type] = (xt_quant_traits){
            .to_float = rows[k].fn,
            .from_float = NULL,
            .vec_dot_type = XT_DTYPE_Q8_K,
            .vec_dot = NULL,
            .uses_imatrix = false,
        };
    }
}
