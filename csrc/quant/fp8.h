// fp8.h — FP8 element formats (E4M3FN, E5M2) and the 2-D block scales of "fine-grained" FP8
// checkpoints: W[o, i] = fp8(q[o, i]) * scale[o / 128, i / 128] (scale = block amax / 448).
#ifndef XT_QUANT_FP8_H
#define XT_QUANT_FP8_H

#include "quant/quant.h"

#define XT_FP8_BLOCK 128
#define XT_FP8_E4M3_MAX 448.0f

float xt_fp8_e4m3_to_fp32(uint8_t v);
float xt_fp8_e5m2_to_fp32(uint8_t v);
// Round to nearest even, saturating to +-448 (E4M3FN has no infinity); NaN stays NaN (0x7F).
uint8_t xt_fp32_to_fp8_e4m3(float f);

// Grid of block scales for a [rows, cols] matrix: ceil(rows/128) x ceil(cols/128).
static inline int64_t xt_fp8_grid(int64_t n) { return (n + XT_FP8_BLOCK - 1) / XT_FP8_BLOCK; }

// Quantizes a row-major float matrix as transformers does: per 128x128 block
// inv = 448/amax (1 when amax is 0), q = e4m3(x * inv), stored scale = 1/inv.
// `q` is rows*cols bytes, `scales` the grid (row-major).
void xt_fp8_quantize_matrix(const float *restrict x, int64_t rows, int64_t cols,
                            uint8_t *restrict q, float *restrict scales);
// Decodes rows [r0, r1) of such a matrix (E4M3 or E5M2 elements) into `dst` (row-major).
void xt_fp8_dequantize_rows(const uint8_t *restrict q, const float *restrict scales,
                            int64_t cols, int64_t r0, int64_t r1, bool e5m2,
                            float *restrict dst);
// Dot of weight row `r` (E4M3 or E5M2, scaled by its block scales) with a float row.
float xt_fp8_vec_dot_row(const uint8_t *restrict wrow, const float *restrict scale_row,
                         int64_t cols, bool e5m2, const float *restrict x);

#endif  // XT_QUANT_FP8_H
