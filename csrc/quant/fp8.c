// fp8.c — FP8 E4M3FN (quantize and dequantize) and E5M2 (dequantize) with the 128x128 block
// scales of fine-grained FP8 checkpoints. Decoding goes through 256-entry tables.
#include <math.h>
#include <pthread.h>

#include "quant/fp16.h"
#include "quant/fp8.h"

static float g_e4m3[256], g_e5m2[256];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

// ---- decoding ----

static float decode_e4m3(uint8_t v) {
    int sign = v >> 7, exp = (v >> 3) & 15, man = v & 7;
    float x;
    if (exp == 15 && man == 7) {
        x = NAN;
    } else if (exp == 0) {
        x = ldexpf((float)man / 8.0f, -6);
    } else {
        x = ldexpf(1.0f + (float)man / 8.0f, exp - 7);
    }
    return sign ? -x : x;
}

static float decode_e5m2(uint8_t v) {
    // E5M2 is the top byte of an IEEE binary16.
    return xt_fp16_to_fp32((uint16_t)((uint16_t)v << 8));
}

static void build_tables(void) {
    for (int v = 0; v < 256; v++) {
        g_e4m3[v] = decode_e4m3((uint8_t)v);
        g_e5m2[v] = decode_e5m2((uint8_t)v);
    }
}

float xt_fp8_e4m3_to_fp32(uint8_t v) {
    pthread_once(&g_once, build_tables);
    return g_e4m3[v];
}

float xt_fp8_e5m2_to_fp32(uint8_t v) {
    pthread_once(&g_once, build_tables);
    return g_e5m2[v];
}

// ---- encoding ----

uint8_t xt_fp32_to_fp8_e4m3(float f) {
    uint8_t sign = signbit(f) ? 0x80 : 0;
    if (isnan(f)) return 0x7F | sign;
    float a = fabsf(f);
    if (a >= XT_FP8_E4M3_MAX) return 0x7E | sign;  // saturate (no infinity in E4M3FN)
    if (a < ldexpf(1.0f, -10)) return sign;        // below half the smallest subnormal
    int e;
    frexpf(a, &e);                 // a = m * 2^e, m in [0.5, 1)
    int exp = e - 1 + 7;           // biased exponent of a
    if (exp < 1) exp = 1;          // subnormal range shares the 2^-6 step
    // Step between representable values at this exponent: 2^(exp - 7 - 3).
    float step = ldexpf(1.0f, exp - 10);
    float q = rintf(a / step);     // round half to even
    float r = q * step;
    if (r > XT_FP8_E4M3_MAX) r = XT_FP8_E4M3_MAX;
    // Re-encode the (now exactly representable) value.
    int re;
    frexpf(r, &re);
    int rexp = re - 1 + 7;
    uint8_t bits;
    if (r == 0.0f) {
        bits = 0;
    } else if (rexp < 1) {
        bits = (uint8_t)rintf(r / ldexpf(1.0f, -9));  // subnormal: man * 2^-9
    } else {
        int man = (int)rintf((r / ldexpf(1.0f, rexp - 7) - 1.0f) * 8.0f);
        bits = (uint8_t)((rexp << 3) | man);
    }
    return bits | sign;
}

// ---- matrices with 128x128 block scales ----

void xt_fp8_quantize_matrix(const float *restrict x, int64_t rows, int64_t cols,
                            uint8_t *restrict q, float *restrict scales) {
    int64_t gr = xt_fp8_grid(rows), gc = xt_fp8_grid(cols);
    for (int64_t bi = 0; bi < gr; bi++) {
        for (int64_t bj = 0; bj < gc; bj++) {
            int64_t r0 = bi * XT_FP8_BLOCK, r1 = r0 + XT_FP8_BLOCK < rows ? r0 + XT_FP8_BLOCK : rows;
            int64_t c0 = bj * XT_FP8_BLOCK, c1 = c0 + XT_FP8_BLOCK < cols ? c0 + XT_FP8_BLOCK : cols;
            float amax = 0.0f;
            for (int64_t r = r0; r < r1; r++) {
                for (int64_t c = c0; c < c1; c++) {
                    float a = fabsf(x[r * cols + c]);
                    if (a > amax) amax = a;  // NaN never compares greater: it is skipped
                }
            }
            // As transformers' Fp8Quantize: scale = 448 / amax (1 for an all-zero block), the
            // stored dequant scale is its f32 reciprocal.
            float inv = amax > 0.0f && isfinite(amax) ? XT_FP8_E4M3_MAX / amax : 1.0f;
            scales[bi * gc + bj] = 1.0f / inv;
            for (int64_t r = r0; r < r1; r++) {
                for (int64_t c = c0; c < c1; c++) q[r * cols + c] = xt_fp32_to_fp8_e4m3(x[r * cols + c] * inv);
            }
        }
    }
}

void xt_fp8_dequantize_rows(const uint8_t *restrict q, const float *restrict scales,
                            int64_t cols, int64_t r0, int64_t r1, bool e5m2,
                            float *restrict dst) {
    pthread_once(&g_once, build_tables);
    const float *lut = e5m2 ? g_e5m2 : g_e4m3;
    int64_t gc = xt_fp8_grid(cols);
    for (int64_t r = r0; r < r1; r++) {
        const float *srow = scales + (r / XT_FP8_BLOCK) * gc;
        for (int64_t c = 0; c < cols; c++) {
            dst[(r - r0) * cols + c] = lut[q[r * cols + c]] * srow[c / XT_FP8_BLOCK];
        }
    }
}

float xt_fp8_vec_dot_row(const uint8_t *restrict wrow, const float *restrict scale_row,
                         int64_t cols, bool e5m2, const float *restrict x) {
    pthread_once(&g_once, build_tables);
    const float *lut = e5m2 ? g_e5m2 : g_e4m3;
    double total = 0.0;
    for (int64_t c0 = 0; c0 < cols; c0 += XT_FP8_BLOCK) {
        int64_t c1 = c0 + XT_FP8_BLOCK < cols ? c0 + XT_FP8_BLOCK : cols;
        double sum = 0.0;
        for (int64_t c = c0; c < c1; c++) sum += (double)lut[wrow[c]] * (double)x[c];
        total += sum * scale_row[c0 / XT_FP8_BLOCK];
    }
    return (float)total;
}

// ---- row kernels (element decode only; scales are applied by the matrix functions) ----

void xt_dequant_row_fp8_e4m3(const void *restrict src, float *restrict dst, int64_t n) {
    const uint8_t *q = src;
    for (int64_t i = 0; i < n; i++) dst[i] = xt_fp8_e4m3_to_fp32(q[i]);
}

void xt_dequant_row_fp8_e5m2(const void *restrict src, float *restrict dst, int64_t n) {
    const uint8_t *q = src;
    for (int64_t i = 0; i < n; i++) dst[i] = xt_fp8_e5m2_to_fp32(q[i]);
}

static void quant_row_fp8_e4m3(const float *restrict src, void *restrict dst, int64_t n,
                               const float *restrict imatrix) {
    (void)imatrix;
    uint8_t *q = dst;
    for (int64_t i = 0; i < n; i++) q[i] = xt_fp32_to_fp8_e4m3(src[i]);
}

void xt_quant_register_fp8(xt_quant_traits *table) {
    table[XT_DTYPE_FP8_E4M3] = (xt_quant_traits){xt_dequant_row_fp8_e4m3, quant_row_fp8_e4m3,
                                                 XT_DTYPE_F32, NULL, false};
    table[XT_DTYPE_FP8_E5M2] = (xt_quant_traits){xt_dequant_row_fp8_e5m2, NULL, XT_DTYPE_F32,
                                                 NULL, false};
}
