// ops.h — internal header of the CPU kernels (ops/): quantized matrix products first.
//
// Usage:
//     xt_matmul_ctx *ctx; xt_matmul_ctx_new(pool, &ctx);
//     xt_matmul_q(ctx, &(xt_matmul_args){.w = raw, .type = XT_DTYPE_Q4_K, .n_out = 4096,
//                 .n_in = 4096, .x = x, .n_tok = 1, .y = y});
//     xt_matmul_ctx_free(ctx);
#ifndef XT_OPS_OPS_H
#define XT_OPS_OPS_H

#include "xtral.h"

typedef struct xt_matmul_ctx xt_matmul_ctx;

typedef struct {
    const void *w;          // (n_out, row_bytes(type, n_in)) weight rows, borrowed
    xt_dtype type;
    int64_t n_out;
    int64_t n_in;
    const float *w_scales;  // FP8 only: (ceil(n_out/128), ceil(n_in/128)) block scales
    const float *x;         // (n_tok, n_in) activations
    int64_t n_tok;
    float *y;               // (n_tok, n_out) output
} xt_matmul_args;

// A context owns the reusable scratch for quantized activations; `pool` is borrowed
// (NULL: run on the calling thread).
xt_status xt_matmul_ctx_new(xt_threadpool *pool, xt_matmul_ctx **out);
void xt_matmul_ctx_free(xt_matmul_ctx *ctx);  // accepts NULL
// y = x W^T: activations are quantized once to the weight type's activation format, then
// output rows are split across the pool. Scratch grows only when a call needs more.
// Not reentrant on one context.
xt_status xt_matmul_q(xt_matmul_ctx *ctx, const xt_matmul_args *args);

#endif  // XT_OPS_OPS_H
