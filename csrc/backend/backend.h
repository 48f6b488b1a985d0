// backend.h — the backend interface: one table of function pointers that every backend (CPU
// now; CUDA and Metal later) fills. The model runner calls only this table.
//
// Usage:
//     xt_backend *be = NULL;
//     XT_TRY(xt_backend_cpu_new(4, &be));
//     XT_TRY(be->ops->reserve(be, &(xt_backend_plan){...}));   // at load: sizes all scratch
//     XT_TRY(be->ops->matmul(be, &w, x, n_tok, y));           // token loop: no allocation
//     xt_backend_free(be);
#ifndef XT_BACKEND_BACKEND_H
#define XT_BACKEND_BACKEND_H

#include "core/tensor.h"
#include "model/arch.h"
#include "ops/ops.h"
#include "xtral.h"

typedef struct xt_backend xt_backend;

// Largest shapes the runner will ask for; the backend sizes its scratch from it once.
typedef struct {
    int64_t n_ctx;           // KV positions
    int64_t head_dim, head_dim_v;
    int64_t max_tok;         // tokens per call (the prefill chunk)
    const xt_tensor *const *weights;  // matmul weights, for activation scratch sizing
    int64_t n_weights;
} xt_backend_plan;

typedef enum {
    XT_OP_MATMUL, XT_OP_GET_ROWS, XT_OP_RMS_NORM, XT_OP_ROPE, XT_OP_GLU, XT_OP_ATTENTION,
    XT_OP_KV_STORE, XT_OP_ELEMENTWISE,
} xt_backend_op;

typedef struct {
    const char *name;
    // ---- memory: device buffers (host memory on the CPU) ----
    xt_status (*alloc)(xt_backend *be, size_t bytes, void **out);
    void (*free)(xt_backend *be, void *p);  // accepts NULL
    xt_status (*reserve)(xt_backend *be, const xt_backend_plan *plan);
    // Whether `op` runs on tensors (weights or cache) of `type`.
    bool (*supports)(xt_backend *be, xt_backend_op op, xt_dtype type);
    // ---- ops (activations are f32 rows, shapes in elements) ----
    // y (n_tok, w->ne[1]) = x (n_tok, w->ne[0]) w^T
    xt_status (*matmul)(xt_backend *be, const xt_tensor *w, const float *x, int64_t n_tok,
                        float *y);
    // y[i] = x w[i]^T for n (<= 4) weights read against the same x (q/k/v, gate/up): lets the
    // backend prepare x once and run the products together.
    xt_status (*matmul_n)(xt_backend *be, int n, const xt_tensor *const *w, const float *x,
                          int64_t n_tok, float *const *y);
    // y (n, w->ne[0]) = rows ids[0..n) of w, decoded to f32 (ids already range-checked)
    xt_status (*get_rows)(xt_backend *be, const xt_tensor *w, const int32_t *ids, int64_t n,
                          float *y);
    // y (rows, n) = rmsnorm(x) * (w + w_add) (w may be NULL); y may equal x
    xt_status (*rms_norm)(xt_backend *be, float *y, const float *x, const float *w, float w_add,
                          int64_t rows, int64_t n, float eps);
    // in place on x (n_tok rows of `stride` floats) x (n_heads, head_dim), positions pos0..
    xt_status (*rope)(xt_backend *be, float *x, int64_t n_tok, int64_t stride, int64_t n_heads,
                      int64_t head_dim, int64_t pos0, const xt_rope_params *p);
    // y (rows, n) = act(g) * u with g, u rows of `in_stride` floats
    xt_status (*glu)(xt_backend *be, xt_act_kind act, float *y, const float *g, const float *u,
                     int64_t rows, int64_t n, int64_t in_stride);
    // Attention over the cache; the backend provides scratch and n_tasks.
    xt_status (*attention)(xt_backend *be, xt_attn_args *a);
    // Writes x (n_tok rows of `stride` floats, n_head_kv * head_dim used) into a cache laid
    // out (n_head_kv, n_ctx, head_dim) of `type`, at positions pos0..pos0+n_tok.
    xt_status (*kv_store)(xt_backend *be, void *cache, xt_dtype type, int64_t n_ctx,
                          const float *x, int64_t n_tok, int64_t stride, int64_t n_head_kv,
                          int64_t head_dim, int64_t pos0);
    // y[i] += x[i]; y[r] += b (rows of n); y *= s; y = cap * tanh(y / cap)
    xt_status (*add)(xt_backend *be, float *y, const float *x, int64_t n);
    xt_status (*add_bias)(xt_backend *be, float *y, const float *b, int64_t rows, int64_t n,
                          int64_t stride);
    xt_status (*scale)(xt_backend *be, float *y, float s, int64_t n);
    // Sizes matmul_lowrank's scratch (at adapter attach; it only grows): inputs, rank rows
    // per term and outputs per term at most.
    xt_status (*reserve_lowrank)(xt_backend *be, int64_t max_in, int64_t max_r, int64_t max_out);
    // matmul_n (n = 1: matmul), then y_k += ((x A_k^T) * scale_k) B_k^T for n_terms (0 to 4)
    // low-rank terms whose outputs are among y: LoRA's unmerged terms, in the same dispatch
    // as the products where the backend can (layouts in ops/ops.h)
    xt_status (*matmul_lowrank)(xt_backend *be, int n, const xt_tensor *const *w,
                                const float *x, int64_t n_tok, float *const *y,
                                const xt_lowrank_term *terms, int n_terms);
    xt_status (*softcap)(xt_backend *be, float *y, float cap, int64_t n);
} xt_backend_ops;

struct xt_backend {
    const xt_backend_ops *ops;
    void *impl;
};

// The CPU backend with its own persistent pool of n_threads (<= 0: one per CPU).
xt_status xt_backend_cpu_new(int n_threads, xt_backend **out);
int xt_backend_cpu_threads(const xt_backend *be);
void xt_backend_free(xt_backend *be);  // accepts NULL
// "unsupported: <op> on <backend> for <dtype>"
xt_status xt_backend_unsupported(const xt_backend *be, const char *op, xt_dtype type);

#endif  // XT_BACKEND_BACKEND_H
