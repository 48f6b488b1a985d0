// quant.h — internal header of the quantization subsystem: the row-kernel signatures, the
// kernel columns of the dtype table, every format's reference (scalar) kernels and the
// run-time SIMD dispatch.
//
// Usage (one weight row against one activation row):
//     const xt_quant_traits *qt = xt_quant_traits_get(XT_DTYPE_Q4_K);
//     qt->from_float(x, wrow, n, NULL);                          // quantize a float row
//     const xt_quant_traits *at = xt_quant_traits_get(qt->vec_dot_type);
//     xt_quant_kernels_get()->quantize_act[qt->vec_dot_type](a, arow, n);
//     float s = xt_quant_kernels_get()->vec_dot[XT_DTYPE_Q4_K](n, wrow, arow);
//
// Conventions: `n` is the row length in elements and a multiple of the type's block size;
// rows are contiguous blocks; `imatrix` is NULL or n importance weights (one per column, as
// llama.cpp's quant_weights), all >= 0.
#ifndef XT_QUANT_QUANT_H
#define XT_QUANT_QUANT_H

#include "core/dtype.h"
#include "quant/blocks.h"
#include "xtral.h"

// ---- row kernels ----

// Decodes one row of n elements to float32.
typedef void (*xt_dequant_row_fn)(const void *restrict src, float *restrict dst, int64_t n);
// Encodes one row of n float32 elements. The reference quantizer: bit-exact with ggml's
// (quantize_<type> with quant_weights == imatrix). Must not read or write past the row.
typedef void (*xt_quant_row_fn)(const float *restrict src, void *restrict dst, int64_t n,
                                const float *restrict imatrix);
// Fast activation quantizer for the 8-bit dot formats (Q8_0, Q8_1, Q8_K): same result as
// the reference one (imatrix-free).
typedef void (*xt_quant_act_fn)(const float *restrict src, void *restrict dst, int64_t n);
// Dot product of one weight row (its type) with one activation row (its vec_dot_type).
typedef float (*xt_vec_dot_fn)(int64_t n, const void *restrict w, const void *restrict a);
// A tile of dot products: y[c * y_stride + r] = vec_dot(n, w + r * w_stride, a + c * a_stride)
// for r < nr, c < nc. SIMD versions load each weight block once for several activation rows
// and each activation block once for several weight rows (prefill); results differ from the
// vec_dot ones at most in float summation order (the tiles of the types llama.cpp's numbers are
// matched for keep the vec_dot's bits, see docs/development.md "Numerics").
typedef void (*xt_gemm_fn)(int64_t n, const void *restrict w, size_t w_stride, int64_t nr,
                           const void *restrict a, size_t a_stride, int64_t nc,
                           float *restrict y, int64_t y_stride);
// One token against nr weight rows: y[r] = vec_dot(n, w + r * w_stride, a) for r < nr, bit for
// bit (the same per-row arithmetic; SIMD versions run several rows' chains side by side).
typedef void (*xt_gemv_fn)(int64_t n, const void *restrict w, size_t w_stride, int64_t nr,
                           const void *restrict a, float *restrict y);

// ---- the kernel columns of the dtype table (same row ids as core/dtype.c) ----
typedef struct {
    xt_dequant_row_fn to_float;    // NULL: not decodable (Q8_K has one; see quant_table.c)
    xt_quant_row_fn from_float;    // NULL: not a quantization target
    xt_dtype vec_dot_type;         // the activation format a weight row is dotted with
    xt_vec_dot_fn vec_dot;         // scalar reference dot (NULL when the type is not a weight)
    bool uses_imatrix;             // whether from_float looks at imatrix at all
} xt_quant_traits;

// Kernel row of `type`, or NULL for ids without kernels.
const xt_quant_traits *xt_quant_traits_get(xt_dtype type);

// ---- run-time dispatch ----
typedef enum {
    XT_SIMD_SCALAR = 0,
    XT_SIMD_AVX2 = 1,     // AVX2 + FMA + F16C
    XT_SIMD_AVX512 = 2,   // AVX-512 F/BW/VL/DQ (+ VNNI where the CPU has it)
    XT_SIMD_COUNT = 3,
} xt_simd_level;

// The kernels in use: the reference ones overridden by the fastest SIMD versions the CPU
// (and the pinned level) allows. Entries are never NULL where the reference one is not.
typedef struct {
    xt_simd_level level;
    xt_vec_dot_fn vec_dot[XT_DTYPE_COUNT];
    xt_gemm_fn gemm[XT_DTYPE_COUNT];               // NULL: vec_dot per (row, token)
    xt_gemv_fn gemv[XT_DTYPE_COUNT];               // NULL: vec_dot per row (one token)
    // Optional: the dot for the tokens of a multi-token call that llama.cpp's x86 backend
    // runs through a GEMM with another accumulation grouping (repacked or tiled K-quants):
    // calls of >= b4_min_tokens tokens use it for tokens [0, n - n % b4_group). NULL: vec_dot.
    xt_vec_dot_fn vec_dot_b4[XT_DTYPE_COUNT];
    int b4_min_tokens[XT_DTYPE_COUNT];
    int b4_group[XT_DTYPE_COUNT];
    // The tile kernel of vec_dot_b4 (xt_gemm_fn with vec_dot_b4 in place of vec_dot): matmul
    // hands it the tokens below n - n % b4_group and `gemm` the rest. NULL: vec_dot_b4 per entry.
    xt_gemm_fn gemm_b4[XT_DTYPE_COUNT];
    xt_quant_act_fn quantize_act[XT_DTYPE_COUNT];  // for Q8_0, Q8_1, Q8_K (and F32 copy)
    xt_dequant_row_fn to_float[XT_DTYPE_COUNT];
} xt_quant_kernels;

const xt_quant_kernels *xt_quant_kernels_get(void);
// Highest level this CPU supports.
xt_simd_level xt_simd_detect(void);
// Pins the level (capped to what the CPU supports); XT_ERR_INVALID_ARG when above it.
// Also read once from the environment variable XTRAL_SIMD=scalar|avx2|avx512.
xt_status xt_simd_set_level(xt_simd_level level);
const char *xt_simd_level_name(xt_simd_level level);

// SIMD tables fill in what they accelerate (quant/arch/x86_*.c); defined empty elsewhere.
void xt_quant_kernels_fill_avx2(xt_quant_kernels *k);
void xt_quant_kernels_fill_avx512(xt_quant_kernels *k);
void xt_quant_kernels_fill_avx2_gemm(xt_quant_kernels *k);  // x86_avx2_gemm.c: prefill tiles
void xt_quant_kernels_fill_avx2_gemm_k(xt_quant_kernels *k);  // x86_avx2_gemm_k.c: K-quant tiles
void xt_quant_kernels_fill_avx2_gemv(xt_quant_kernels *k);  // x86_avx2_gemv.c: decode rows

// Each family file fills its own rows of the kernel table (called once by quant_table.c).
void xt_quant_register_float(xt_quant_traits *table);      // quant/float_types.c
void xt_quant_register_q4_q5(xt_quant_traits *table);      // quant/q4_q5.c
void xt_quant_register_q8(xt_quant_traits *table);         // quant/q8.c
void xt_quant_register_iq4_mxfp4(xt_quant_traits *table);  // quant/iq4_mxfp4.c
void xt_quant_register_k_low(xt_quant_traits *table);      // quant/k_quants_low.c
void xt_quant_register_k_high(xt_quant_traits *table);     // quant/k_quants_high.c
void xt_quant_register_fp8(xt_quant_traits *table);        // quant/fp8.c
void xt_quant_register_iq_lattice(xt_quant_traits *table); // quant/iq_lattice.c
void xt_quant_register_tq_nvfp4(xt_quant_traits *table);   // quant/tq_nvfp4.c

// ---- reference kernels, one family per file ----
#define XT_DECLARE_ROW_KERNELS(name)                                                          \
    void xt_dequant_row_##name(const void *restrict src, float *restrict dst, int64_t n);     \
    void xt_quant_row_##name(const float *restrict src, void *restrict dst, int64_t n,        \
                             const float *restrict imatrix);                                  \
    float xt_vec_dot_##name(int64_t n, const void *restrict w, const void *restrict a);

// quant/float_types.c: F32, F16, BF16 (dot against F32 activations)
XT_DECLARE_ROW_KERNELS(f32)
XT_DECLARE_ROW_KERNELS(f16)
XT_DECLARE_ROW_KERNELS(bf16)
// quant/q4_q5.c: Q4_0, Q4_1, Q5_0, Q5_1
XT_DECLARE_ROW_KERNELS(q4_0)
XT_DECLARE_ROW_KERNELS(q4_1)
XT_DECLARE_ROW_KERNELS(q5_0)
XT_DECLARE_ROW_KERNELS(q5_1)
// quant/q8.c: Q8_0 (weights and activations), Q8_1 and Q8_K (activations)
XT_DECLARE_ROW_KERNELS(q8_0)
void xt_dequant_row_q8_1(const void *restrict src, float *restrict dst, int64_t n);
void xt_quant_row_q8_1(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix);
void xt_dequant_row_q8_K(const void *restrict src, float *restrict dst, int64_t n);
void xt_quant_row_q8_K(const float *restrict src, void *restrict dst, int64_t n,
                       const float *restrict imatrix);
void xt_quant_act_q8_0(const float *restrict src, void *restrict dst, int64_t n);
void xt_quant_act_q8_1(const float *restrict src, void *restrict dst, int64_t n);
void xt_quant_act_q8_K(const float *restrict src, void *restrict dst, int64_t n);
// quant/iq4_mxfp4.c: IQ4_NL, IQ4_XS, MXFP4
XT_DECLARE_ROW_KERNELS(iq4_nl)
XT_DECLARE_ROW_KERNELS(iq4_xs)
XT_DECLARE_ROW_KERNELS(mxfp4)
// quant/k_quants_*.c: Q2_K .. Q6_K (fits shared in quant/k_fit.c)
XT_DECLARE_ROW_KERNELS(q2_K)
XT_DECLARE_ROW_KERNELS(q3_K)
XT_DECLARE_ROW_KERNELS(q4_K)
XT_DECLARE_ROW_KERNELS(q5_K)
XT_DECLARE_ROW_KERNELS(q6_K)
// quant/fp8.c: E4M3 (quantize + dequantize), E5M2 (dequantize) — element formats whose
// 128x128 block scales live beside the data (see xt_fp8_* in fp8.h).
void xt_dequant_row_fp8_e4m3(const void *restrict src, float *restrict dst, int64_t n);
void xt_dequant_row_fp8_e5m2(const void *restrict src, float *restrict dst, int64_t n);
// quant/iq_lattice.c: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M (decode only)
void xt_dequant_row_iq2_xxs(const void *restrict src, float *restrict dst, int64_t n);
void xt_dequant_row_iq2_xs(const void *restrict src, float *restrict dst, int64_t n);
void xt_dequant_row_iq2_s(const void *restrict src, float *restrict dst, int64_t n);
void xt_dequant_row_iq3_xxs(const void *restrict src, float *restrict dst, int64_t n);
void xt_dequant_row_iq3_s(const void *restrict src, float *restrict dst, int64_t n);
void xt_dequant_row_iq1_s(const void *restrict src, float *restrict dst, int64_t n);
void xt_dequant_row_iq1_m(const void *restrict src, float *restrict dst, int64_t n);
// quant/tq_nvfp4.c: TQ1_0, TQ2_0 (quantize + decode), NVFP4 (decode)
void xt_dequant_row_tq1_0(const void *restrict src, float *restrict dst, int64_t n);
void xt_quant_row_tq1_0(const float *restrict src, void *restrict dst, int64_t n,
                        const float *restrict imatrix);
void xt_dequant_row_tq2_0(const void *restrict src, float *restrict dst, int64_t n);
void xt_quant_row_tq2_0(const float *restrict src, void *restrict dst, int64_t n,
                        const float *restrict imatrix);
void xt_dequant_row_nvfp4(const void *restrict src, float *restrict dst, int64_t n);

#endif  // XT_QUANT_QUANT_H
