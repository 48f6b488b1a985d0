// blocks.h — the block layouts of every quantized type, shared by the C, CUDA and Metal
// kernels (the ggml-common.h pattern). Sizes are pinned with static asserts: they are the
// file format (docs: shared formats sheet, section 2).
#ifndef XT_QUANT_BLOCKS_H
#define XT_QUANT_BLOCKS_H

#include <stdint.h>

#if defined(__CUDACC__)
#define XT_BLOCKS_DECL_CUDA
#elif defined(__METAL_VERSION__)
#define XT_BLOCKS_DECL_METAL
#else
#define XT_BLOCKS_DECL_C
#endif

#if defined(XT_BLOCKS_DECL_C) || defined(XT_BLOCKS_DECL_CUDA)
typedef uint16_t xt_half;  // IEEE binary16 bits
typedef uint16_t xt_bf16;  // bfloat16 bits
#define XT_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#else
typedef half xt_half;
#define XT_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#endif
#if defined(XT_BLOCKS_DECL_CUDA)
#undef XT_STATIC_ASSERT
#define XT_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#endif

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12
#define QK4_NL 32
#define QK_MXFP4 32

// ---- legacy 32-element blocks ----
// 4-bit nibbles: qs[j] low nibble = element j, high nibble = element j + 16.

typedef struct {
    xt_half d;              // scale
    uint8_t qs[QK4_0 / 2];  // x = d * (q - 8)
} block_q4_0;
XT_STATIC_ASSERT(sizeof(block_q4_0) == 18, "block_q4_0 size");

typedef struct {
    xt_half d;              // scale
    xt_half m;              // min
    uint8_t qs[QK4_1 / 2];  // x = d * q + m
} block_q4_1;
XT_STATIC_ASSERT(sizeof(block_q4_1) == 20, "block_q4_1 size");

typedef struct {
    xt_half d;
    uint8_t qh[4];          // 5th bit of each element (LE u32, bit j = element j)
    uint8_t qs[QK5_0 / 2];  // x = d * (q - 16)
} block_q5_0;
XT_STATIC_ASSERT(sizeof(block_q5_0) == 22, "block_q5_0 size");

typedef struct {
    xt_half d;
    xt_half m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];  // x = d * q + m
} block_q5_1;
XT_STATIC_ASSERT(sizeof(block_q5_1) == 24, "block_q5_1 size");

typedef struct {
    xt_half d;
    int8_t qs[QK8_0];       // x = d * q
} block_q8_0;
XT_STATIC_ASSERT(sizeof(block_q8_0) == 34, "block_q8_0 size");

typedef struct {
    xt_half d;
    xt_half s;              // d * sum(qs)
    int8_t qs[QK8_1];
} block_q8_1;
XT_STATIC_ASSERT(sizeof(block_q8_1) == 36, "block_q8_1 size");

typedef struct {
    xt_half d;
    uint8_t qs[QK4_NL / 2]; // x = d * kvalues_iq4nl[nibble]
} block_iq4_nl;
XT_STATIC_ASSERT(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");

typedef struct {
    uint8_t e;                // E8M0 shared exponent
    uint8_t qs[QK_MXFP4 / 2]; // E2M1 codes
} block_mxfp4;
XT_STATIC_ASSERT(sizeof(block_mxfp4) == 17, "block_mxfp4 size");

// ---- K-quants (256-element super-blocks) ----

typedef struct {
    uint8_t scales[QK_K / 16];  // low nibble scale, high nibble min, per 16 elements
    uint8_t qs[QK_K / 4];       // 2-bit codes
    xt_half d;
    xt_half dmin;
} block_q2_K;
XT_STATIC_ASSERT(sizeof(block_q2_K) == 84, "block_q2_K size");

typedef struct {
    uint8_t hmask[QK_K / 8];    // high bit
    uint8_t qs[QK_K / 4];       // low 2 bits
    uint8_t scales[12];         // 16 6-bit scales
    xt_half d;
} block_q3_K;
XT_STATIC_ASSERT(sizeof(block_q3_K) == 110, "block_q3_K size");

typedef struct {
    xt_half d;
    xt_half dmin;
    uint8_t scales[K_SCALE_SIZE];  // 8 6-bit scales and mins
    uint8_t qs[QK_K / 2];
} block_q4_K;
XT_STATIC_ASSERT(sizeof(block_q4_K) == 144, "block_q4_K size");

typedef struct {
    xt_half d;
    xt_half dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
XT_STATIC_ASSERT(sizeof(block_q5_K) == 176, "block_q5_K size");

typedef struct {
    uint8_t ql[QK_K / 2];       // low 4 bits
    uint8_t qh[QK_K / 4];       // high 2 bits
    int8_t scales[QK_K / 16];   // 8-bit scales
    xt_half d;
} block_q6_K;
XT_STATIC_ASSERT(sizeof(block_q6_K) == 210, "block_q6_K size");

typedef struct {
    float d;                    // f32 scale (activation format)
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];   // sums of qs per 16
} block_q8_K;
XT_STATIC_ASSERT(sizeof(block_q8_K) == 292, "block_q8_K size");

typedef struct {
    xt_half d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
} block_iq4_xs;
XT_STATIC_ASSERT(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

// ---- IQ lattice types (256-element super-blocks; grids in quant/iq_tables.h) ----
// Multi-byte fields are stored as bytes and read little-endian (the file's byte order).

typedef struct {
    xt_half d;
    uint8_t qs[QK_K / 4];       // 8 x (u32 4 grid indices, u32 4x7 sign bits | 4-bit scale)
} block_iq2_xxs;
XT_STATIC_ASSERT(sizeof(block_iq2_xxs) == 66, "block_iq2_xxs size");

typedef struct {
    xt_half d;
    uint8_t qs[QK_K / 4];       // 32 LE u16: 9-bit grid index | 7 sign bits << 9
    uint8_t scales[QK_K / 32];  // 4-bit scales, 2 per byte
} block_iq2_xs;
XT_STATIC_ASSERT(sizeof(block_iq2_xs) == 74, "block_iq2_xs size");

typedef struct {
    xt_half d;
    uint8_t qs[QK_K / 4];       // 32 grid index low bytes, then 32 sign bytes
    uint8_t qh[QK_K / 32];      // grid index bits 8-9, 2 per entry
    uint8_t scales[QK_K / 32];
} block_iq2_s;
XT_STATIC_ASSERT(sizeof(block_iq2_s) == 82, "block_iq2_s size");

typedef struct {
    xt_half d;
    uint8_t qs[3 * QK_K / 8];   // 64 grid indices, then 8 LE u32 (4x7 sign bits | scale)
} block_iq3_xxs;
XT_STATIC_ASSERT(sizeof(block_iq3_xxs) == 98, "block_iq3_xxs size");

typedef struct {
    xt_half d;
    uint8_t qs[QK_K / 4];       // grid index low bytes
    uint8_t qh[QK_K / 32];      // grid index bit 8
    uint8_t signs[QK_K / 8];
    uint8_t scales[QK_K / 64];  // 4-bit scales, 2 per byte
} block_iq3_s;
XT_STATIC_ASSERT(sizeof(block_iq3_s) == 110, "block_iq3_s size");

typedef struct {
    xt_half d;
    uint8_t qs[QK_K / 8];       // grid index low bytes
    uint8_t qh[QK_K / 16];      // 8 LE u16: 4x3 index bits | 3-bit scale << 12 | sign << 15
} block_iq1_s;
XT_STATIC_ASSERT(sizeof(block_iq1_s) == 50, "block_iq1_s size");

typedef struct {
    uint8_t qs[QK_K / 8];       // grid index low bytes
    uint8_t qh[QK_K / 16];      // per nibble: 3 index bits | delta sign
    uint8_t scales[QK_K / 32];  // 4 LE u16: 4x3-bit scales | a nibble of the f16 scale
} block_iq1_m;
XT_STATIC_ASSERT(sizeof(block_iq1_m) == 56, "block_iq1_m size");

// ---- ternary and NVFP4 ----

typedef struct {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];  // 5 trits per byte (base-3, scaled to 256)
    uint8_t qh[QK_K / 64];                   // 4 trits per byte
    xt_half d;
} block_tq1_0;
XT_STATIC_ASSERT(sizeof(block_tq1_0) == 54, "block_tq1_0 size");

typedef struct {
    uint8_t qs[QK_K / 4];       // 2-bit codes q + 1
    xt_half d;
} block_tq2_0;
XT_STATIC_ASSERT(sizeof(block_tq2_0) == 66, "block_tq2_0 size");

#define QK_NVFP4 64
#define QK_NVFP4_SUB 16
typedef struct {
    uint8_t d[QK_NVFP4 / QK_NVFP4_SUB];  // UE4M3 scale per 16 elements
    uint8_t qs[QK_NVFP4 / 2];            // E2M1 codes, per 16: low nibbles then high
} block_nvfp4;
XT_STATIC_ASSERT(sizeof(block_nvfp4) == 36, "block_nvfp4 size");

#endif  // XT_QUANT_BLOCKS_H
