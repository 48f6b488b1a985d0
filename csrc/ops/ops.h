// ops.h — internal header of the CPU kernels (ops/): quantized matrix products first.
//
// Usage:
//     xt_matmul_ctx *ctx; xt_matmul_ctx_new(pool, &ctx);
//     xt_matmul_q(ctx, &(xt_matmul_args){.w = raw, .type = XT_DTYPE_Q4_K, .n_out = 4096,
//                 .n_in = 4096, .x = x, .n_tok = 1, .y = y});
//     xt_matmul_ctx_free(ctx);
#ifndef XT_OPS_OPS_H
#define XT_OPS_OPS_H

#include <stdatomic.h>

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
// Up to XT_MATMUL_MAX_MULTI products of the same activations (q/k/v, gate/up): quantized once
// and run as one pool dispatch when their weight types share an activation format (else one
// after another). Same results as separate xt_matmul_q calls.
enum { XT_MATMUL_MAX_MULTI = 4 };
xt_status xt_matmul_q_multi(xt_matmul_ctx *ctx, const xt_matmul_args *args, int n);
// Tasks of the caller's that run in the same pool run as the products (before theirs in task
// order), e.g. LoRA terms that read the same activations; they must not touch the outputs.
// `after_rows` (NULL: none) then runs in each product task once it has written output rows
// [r0, r1) of product `product` (for every token): the one place that may add to them;
// `before_rows` runs as the task starts (to prefetch what after_rows will read). Task row
// ranges start at multiples of `row_align` (0: the products' own alignment).
typedef struct {
    xt_task_fn fn;
    void *ctx;
    int64_t n_tasks;
    void (*after_rows)(void *ctx, int product, int64_t r0, int64_t r1);
    void (*before_rows)(void *ctx, int product, int64_t r0, int64_t r1);  // NULL: none
    int64_t row_align;
} xt_task_set;
// xt_matmul_q_multi plus `extra` (NULL: none) in one dispatch.
xt_status xt_matmul_q_multi_ex(xt_matmul_ctx *ctx, const xt_matmul_args *args, int n,
                               const xt_task_set *extra);

// ---- model ops (norm.c, rope.c, act.c, attention.c) ----
// Float kernels of the transformer runner. Each follows ggml's CPU arithmetic (order of
// operations, float vs double accumulation) so logits match llama.cpp closely.

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) (* (w + w_add) when w != NULL); x, y: (n_rows, n),
// w: (n). w_add is 0 for GGUF weights, 1 for Gemma's HF norms (x̂·(1 + w)). y may equal x.
void xt_rms_norm_f32(float *y, const float *x, const float *w, float w_add, int64_t n_rows,
                     int64_t n, float eps);

typedef struct {
    int64_t n_rot;              // rotated dims per head (<= head_dim, even); the rest pass
    bool neox;                  // true: pairs (i, i + n_rot/2); false: pairs (2i, 2i+1)
    float freq_base;
    float freq_scale;           // 1 / linear scaling factor
    float attn_factor;          // mscale: cos and sin are multiplied by it (1 normally)
    const float *freq_factors;  // (n_rot/2) divisors of theta, or NULL
} xt_rope_params;

// Rotates in place x: (n_tok rows of stride `tok_stride` floats) x (n_heads, head_dim);
// token i has position pos0 + i. `cache` is (n_rot) scratch floats.
void xt_rope_f32(float *x, int64_t n_tok, int64_t tok_stride, int64_t n_heads, int64_t head_dim,
                 int64_t pos0, const xt_rope_params *p, float *cache);

// exp of 8 floats with the polynomial of llama.cpp's x86 CPU backend (vexp.c): the fastest
// level this CPU has, all levels bit-identical.
typedef void (*xt_vexp8_fn)(float *y, const float *x);
xt_vexp8_fn xt_vexp8_get(void);

// tanh as fdlibm's tanhf (ops/tanh.c): the same bits at every SIMD level, and as glibc's
// tanhf where that is fdlibm's (through 2.40). xt_tanhf_n: y[i] = xt_tanhf(x[i]), i < n.
float xt_tanhf(float x);
void xt_tanhf_n(float *y, const float *x, int64_t n);

// y = silu(g) * u and y = gelu_tanh(g) * u, each over n elements. xt_geglu_f32 evaluates the
// tanh GELU in float32 (as transformers); xt_geglu_table_f32 through ggml's fp16 lookup table
// (input and result rounded to fp16, as llama.cpp's CPU backend).
void xt_swiglu_f32(float *y, const float *g, const float *u, int64_t n);
void xt_geglu_f32(float *y, const float *g, const float *u, int64_t n);
void xt_geglu_table_f32(float *y, const float *g, const float *u, int64_t n);

typedef struct {
    const float *q;       // (n_tok, q_stride): head h at q + t*q_stride + h*head_dim
    int64_t q_stride;
    const void *k;        // this layer's keys: (n_head_kv, n_ctx, head_dim) of kv_type
    const void *v;        // this layer's values: (n_head_kv, n_ctx, head_dim_v) of kv_type
    xt_dtype kv_type;     // XT_DTYPE_F16 or XT_DTYPE_F32
    int64_t n_ctx;        // cache capacity (positions)
    float *out;           // (n_tok, n_head * head_dim_v)
    int64_t n_tok, n_head, n_head_kv, head_dim, head_dim_v;
    int64_t pos0;         // position of token 0; token t sees positions [lo, pos0 + t]
    int64_t window;       // 0: causal only; else also pos_q - pos_k < window
    float scale;          // applied to q.k
    float softcap;        // 0: none; else scores = softcap * tanh(scores / softcap)
    float *scratch;       // (n_tasks, xt_attention_scratch_floats(n_ctx, head_dim, head_dim_v))
    int64_t n_tasks;      // >= 1; one scratch slice per task
} xt_attn_args;

// Floats of scratch one attention task needs.
int64_t xt_attention_scratch_floats(int64_t n_ctx, int64_t head_dim, int64_t head_dim_v);
// Causal (optionally sliding-window) multi-head attention with grouped KV heads over a cache
// that already holds positions [0, pos0 + n_tok). Runs on `pool` (NULL: calling thread).
xt_status xt_attention(xt_threadpool *pool, const xt_attn_args *a);
// The one-token F16 path of xt_attention on AVX2 (attention_decode.c), bit-identical to the
// generic one. Returns false (and does nothing) for shapes or CPUs it does not cover; else
// runs it and stores its status in *st.
bool xt_attention_decode_f16(xt_threadpool *pool, const xt_attn_args *a, xt_status *st);

// ---- low-rank adapter terms (lowrank.c) ----

enum { XT_LOWRANK_CHUNK = 32, XT_LOWRANK_MAX_TERMS = 4 };

// B^T (r, out) row-major packed for xt_lowrank (lowrank_bt.c): column chunks of 32, each
// holding its r rows. `type` F32, or Q8_0 (needs out % 32 == 0: one block per chunk row).
size_t xt_lowrank_bt_bytes(xt_dtype type, int64_t r, int64_t out);
void xt_lowrank_pack_bt(xt_dtype type, const float *bt, int64_t r, int64_t out, void *dst);

// One term: y += ((x A^T) * scale) B^T.
typedef struct {
    const void *a;          // (r, n_in) rows of a_type (F32, or Q8_0 against Q8_0 activations)
    xt_dtype a_type;
    size_t a_row_bytes;
    const void *bt;         // packed B^T (xt_lowrank_pack_bt) of bt_type
    xt_dtype bt_type;
    int64_t r, out;
    const float *scale;     // (n_tok, r) factors of x A^T, rows scale_stride apart (0: one row)
    int64_t scale_stride;
    float *y;               // (n_tok, out): accumulated into
    int product;            // fused runs: the index of the product that writes y
} xt_lowrank_term;

typedef struct {
    const float *x;         // (n_tok, n_in), read by every term
    int64_t n_in, n_tok;
    const xt_lowrank_term *terms;
    int n_terms;            // 1 to XT_LOWRANK_MAX_TERMS
    void *scratch;          // xt_lowrank_scratch_bytes(n_tasks, max_in, max_r, max_out)
    int n_tasks;            // the pool's threads (1: the calling thread)
    int64_t max_in, max_r, max_out;  // what the scratch was sized for
} xt_lowrank_args;

// y[c] += sum_j u[j] B^T[j][c] for c in [c_lo, c_hi) (c_lo a multiple of XT_LOWRANK_CHUNK,
// c_hi one or t->out), from t's packed B^T; u holds all t->r values, y the whole output row.
void xt_lowrank_add_bt(const xt_lowrank_term *t, const float *u, int64_t c_lo, int64_t c_hi,
                       float *y);

// Prefetches the packed B^T of columns [c_lo, c_hi).
void xt_lowrank_prefetch_bt(const xt_lowrank_term *t, int64_t c_lo, int64_t c_hi);

size_t xt_lowrank_scratch_bytes(int n_tasks, int64_t max_in, int64_t max_r, int64_t max_out);
// Adds every term on `pool` (NULL: the calling thread), tasks taking whole tokens; small
// calls run on the calling thread.
xt_status xt_lowrank(xt_threadpool *pool, const xt_lowrank_args *a);

// The same inside someone else's pool run, fused with the products that write the terms'
// y (xt_matmul_q_multi_ex; needs n_tok < n_tasks: decode): tasks [0, plan.n_tasks) of
// xt_lowrank_task compute x A^T, scaled, each for a share of the rank rows, ahead of the
// products' tasks; xt_lowrank_after_rows then adds u B^T to the rows a product task has just
// written, all rank rows in order, so the sums are those of one thread whatever the task
// count. Unfused plans (xt_lowrank) give tasks whole tokens. Caller-owned, valid while `a` is.
typedef struct {
    const xt_lowrank_args *a;
    int64_t n_tasks;
    bool fused;
    size_t task_bytes;
    float *u;             // fused: (n_terms, n_tok, max_r) scaled x A^T, in the scratch
    atomic_int_fast64_t u_done;  // fused: tasks that have written their share of u
    xt_dtype act;         // XT_DTYPE_Q8_0 when a term's A is Q8_0 (x quantized per token)
} xt_lowrank_plan;
xt_status xt_lowrank_plan_make(const xt_lowrank_args *a, bool fused, xt_lowrank_plan *plan);
void xt_lowrank_task(int64_t task, int64_t n_tasks, void *plan);
// xt_task_set.after_rows of a fused run (row_align XT_LOWRANK_CHUNK): waits for every
// xt_lowrank_task (claimed before any product task, so running), then adds the terms of
// `product` to its output rows [r0, r1).
void xt_lowrank_after_rows(void *plan, int product, int64_t r0, int64_t r1);
// xt_task_set.before_rows of the same run: prefetches the B^T columns of those rows, which
// then arrive while the product task streams its weights.
void xt_lowrank_before_rows(void *plan, int product, int64_t r0, int64_t r1);

// ---- end of model ops ----

#endif  // XT_OPS_OPS_H
