// float_types.c — F32, F16 and BF16 rows: conversion both ways and the dot product against
// float32 activations (the scalar references the SIMD versions are checked against).
#include <string.h>

#include "quant/fp16.h"
#include "quant/quant.h"

// ---- F32 ----

void xt_dequant_row_f32(const void *restrict src, float *restrict dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void xt_quant_row_f32(const float *restrict src, void *restrict dst, int64_t n,
                      const float *restrict imatrix) {
    (void)imatrix;
    memcpy(dst, src, (size_t)n * sizeof(float));
}

// Sums in double, like ggml's scalar ggml_vec_dot_f32 (ggml_float accumulator).
float xt_vec_dot_f32(int64_t n, const void *restrict w, const void *restrict a) {
    const float *x = w, *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * (double)y[i];
    return (float)sum;
}

// ---- F16 ----

void xt_dequant_row_f16(const void *restrict src, float *restrict dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = xt_fp16_to_fp32(h[i]);
}

void xt_quant_row_f16(const float *restrict src, void *restrict dst, int64_t n,
                      const float *restrict imatrix) {
    (void)imatrix;
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = xt_fp32_to_fp16(src[i]);
}

float xt_vec_dot_f16(int64_t n, const void *restrict w, const void *restrict a) {
    const uint16_t *x = w;
    const float *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)xt_fp16_to_fp32(x[i]) * (double)y[i];
    return (float)sum;
}

// ---- BF16 ----

void xt_dequant_row_bf16(const void *restrict src, float *restrict dst, int64_t n) {
    const uint16_t *b = src;
    for (int64_t i = 0; i < n; i++) dst[i] = xt_bf16_to_fp32(b[i]);
}

void xt_quant_row_bf16(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix) {
    (void)imatrix;
    uint16_t *b = dst;
    for (int64_t i = 0; i < n; i++) b[i] = xt_fp32_to_bf16(src[i]);
}

float xt_vec_dot_bf16(int64_t n, const void *restrict w, const void *restrict a) {
    const uint16_t *x = w;
    const float *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)xt_bf16_to_fp32(x[i]) * (double)y[i];
    return (float)sum;
}

// ---- registration ----

void xt_quant_register_float(xt_quant_traits *table) {
    table[XT_DTYPE_F32] = (xt_quant_traits){xt_dequant_row_f32, xt_quant_row_f32, XT_DTYPE_F32,
                                            xt_vec_dot_f32, false};
    table[XT_DTYPE_F16] = (xt_quant_traits){xt_dequant_row_f16, xt_quant_row_f16, XT_DTYPE_F32,
                                            xt_vec_dot_f16, false};
    table[XT_DTYPE_BF16] = (xt_quant_traits){xt_dequant_row_bf16, xt_quant_row_bf16,
                                             XT_DTYPE_F32, xt_vec_dot_bf16, false};
}
