// matmul_q.c — y = x W^T for W in any weight type: activations are quantized once per call
// to the weight type's 8-bit dot format, then rows of W are split across the thread pool.
// Each task takes a chunk of weight rows and runs every token against it, so a weight row is
// read from memory once per call (decode is memory-bound: that is the whole game).
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"
#include "ops/ops.h"
#include "quant/fp8.h"
#include "quant/quant.h"

// Rows are handed out in a few long contiguous runs per thread: long sequential streams keep
// the hardware prefetchers busy (decode is memory-bound), and TASKS_PER_THREAD > 1 still
// balances threads that get descheduled. MIN_ROWS keeps tasks worth their dispatch.
enum { TASKS_PER_THREAD = 4, MIN_ROWS_PER_TASK = 16 };

struct xt_matmul_ctx {
    xt_threadpool *pool;   // borrowed
    void *scratch;         // quantized activations (n_tok rows)
    size_t scratch_size;
};

xt_status xt_matmul_ctx_new(xt_threadpool *pool, xt_matmul_ctx **out) {
    xt_matmul_ctx *c = calloc(1, sizeof *c);
    XT_RETURN_IF(c == NULL, XT_ERR_NOMEM, "out of memory for a matmul context");
    c->pool = pool;
    *out = c;
    return XT_OK;
}

void xt_matmul_ctx_free(xt_matmul_ctx *ctx) {
    if (ctx == NULL) return;
    free(ctx->scratch);
    free(ctx);
}

static xt_status reserve(xt_matmul_ctx *ctx, size_t bytes) {
    if (bytes <= ctx->scratch_size) return XT_OK;
    void *p = malloc(bytes);
    XT_RETURN_IF(p == NULL, XT_ERR_NOMEM, "out of memory for %zu bytes of activations", bytes);
    free(ctx->scratch);
    ctx->scratch = p;
    ctx->scratch_size = bytes;
    return XT_OK;
}

// ---- the parallel part ----

typedef struct {
    const xt_matmul_args *a;
    const void *act;        // (n_tok, act_row_bytes)
    size_t w_row_bytes;
    size_t act_row_bytes;
    xt_vec_dot_fn vec_dot;  // NULL for FP8
    xt_vec_dot_fn vec_dot_b4;  // tokens [0, n_b4): the peer's grouped-by-four variant
    int64_t n_b4;
    int64_t rows_per_task;
} task_ctx;

static void matmul_task(int64_t task, int64_t n_tasks, void *p) {
    (void)n_tasks;
    const task_ctx *t = p;
    const xt_matmul_args *a = t->a;
    int64_t r0 = task * t->rows_per_task;
    int64_t r1 = r0 + t->rows_per_task < a->n_out ? r0 + t->rows_per_task : a->n_out;
    const uint8_t *w = a->w;
    const uint8_t *act = t->act;
    bool fp8 = t->vec_dot == NULL;
    int64_t gc = xt_fp8_grid(a->n_in);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wrow = w + (size_t)r * t->w_row_bytes;
        for (int64_t k = 0; k < a->n_tok; k++) {
            float s;
            if (fp8) {
                s = xt_fp8_vec_dot_row(wrow, a->w_scales + (r / XT_FP8_BLOCK) * gc, a->n_in,
                                       a->type == XT_DTYPE_FP8_E5M2, a->x + k * a->n_in);
            } else {
                xt_vec_dot_fn dot = k < t->n_b4 ? t->vec_dot_b4 : t->vec_dot;
                s = dot(a->n_in, wrow, act + (size_t)k * t->act_row_bytes);
            }
            a->y[k * a->n_out + r] = s;
        }
    }
}

typedef struct {
    const float *x;
    void *dst;
    int64_t n_in;
    size_t row_bytes;
    xt_quant_act_fn quant;
} act_ctx;

static void act_task(int64_t k, int64_t n_tasks, void *p) {
    (void)n_tasks;
    const act_ctx *c = p;
    c->quant(c->x + k * c->n_in, (uint8_t *)c->dst + (size_t)k * c->row_bytes, c->n_in);
}

static xt_status run(xt_matmul_ctx *ctx, xt_task_fn fn, void *arg, int64_t n) {
    if (ctx->pool) return xt_threadpool_run(ctx->pool, fn, arg, n);
    for (int64_t i = 0; i < n; i++) fn(i, n, arg);
    return XT_OK;
}

xt_status xt_matmul_q(xt_matmul_ctx *ctx, const xt_matmul_args *a) {
    const xt_dtype_info *info = xt_dtype_get((uint32_t)a->type);
    const xt_quant_traits *qt = xt_quant_traits_get(a->type);
    XT_RETURN_IF(info == NULL || qt == NULL, XT_ERR_INVALID_ARG, "matmul: invalid type id %d",
                 (int)a->type);
    bool fp8 = a->type == XT_DTYPE_FP8_E4M3 || a->type == XT_DTYPE_FP8_E5M2;
    XT_RETURN_IF(!fp8 && qt->vec_dot == NULL, XT_ERR_UNSUPPORTED,
                 "matmul: %s weights have no dot product on the CPU backend", info->name);
    XT_RETURN_IF(fp8 && a->w_scales == NULL, XT_ERR_INVALID_ARG,
                 "matmul: %s weights need their block scales", info->name);
    XT_RETURN_IF(a->n_out < 0 || a->n_in < 0 || a->n_tok < 0, XT_ERR_INVALID_ARG,
                 "matmul: negative size");
    size_t w_row;
    XT_RETURN_IF(!xt_dtype_row_size((uint32_t)a->type, a->n_in, &w_row), XT_ERR_INVALID_ARG,
                 "matmul: row length %" PRId64 " is not a multiple of the %s block size %" PRId64,
                 a->n_in, info->name, info->block_size);
    if (a->n_out == 0 || a->n_tok == 0) return XT_OK;

    const xt_quant_kernels *k = xt_quant_kernels_get();
    task_ctx t = {.a = a, .w_row_bytes = w_row, .vec_dot = fp8 ? NULL : k->vec_dot[a->type]};
    if (!fp8 && k->vec_dot_b4[a->type] != NULL && a->n_tok >= k->b4_min_tokens[a->type]) {
        t.vec_dot_b4 = k->vec_dot_b4[a->type];
        t.n_b4 = a->n_tok - a->n_tok % k->b4_group[a->type];
    }
    xt_dtype at = qt->vec_dot_type;
    if (fp8 || at == XT_DTYPE_F32) {
        t.act = a->x;
        t.act_row_bytes = (size_t)a->n_in * sizeof(float);
    } else {
        size_t act_row;
        XT_RETURN_IF(!xt_dtype_row_size((uint32_t)at, a->n_in, &act_row), XT_ERR_INVALID_ARG,
                     "matmul: row length %" PRId64 " does not fit the %s activation blocks",
                     a->n_in, xt_dtype_get((uint32_t)at)->name);
        XT_RETURN_IF(k->quantize_act[at] == NULL, XT_ERR_UNSUPPORTED,
                     "matmul: no quantizer for %s activations", xt_dtype_get((uint32_t)at)->name);
        XT_RETURN_IF((uint64_t)a->n_tok > SIZE_MAX / act_row, XT_ERR_NOMEM, "matmul: too large");
        XT_TRY(reserve(ctx, act_row * (size_t)a->n_tok));
        act_ctx ac = {a->x, ctx->scratch, a->n_in, act_row, k->quantize_act[at]};
        XT_TRY(run(ctx, act_task, &ac, a->n_tok));
        t.act = ctx->scratch;
        t.act_row_bytes = act_row;
    }
    int64_t n_threads = ctx->pool ? xt_threadpool_size(ctx->pool) : 1;
    int64_t want = n_threads * TASKS_PER_THREAD;
    t.rows_per_task = (a->n_out + want - 1) / want;
    if (t.rows_per_task < MIN_ROWS_PER_TASK) t.rows_per_task = MIN_ROWS_PER_TASK;
    int64_t n_tasks = (a->n_out + t.rows_per_task - 1) / t.rows_per_task;
    return run(ctx, matmul_task, &t, n_tasks);
}
