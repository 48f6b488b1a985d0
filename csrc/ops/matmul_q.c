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
    xt_gemm_fn gemm;        // NULL: vec_dot per (row, token)
    xt_gemv_fn gemv;        // one-token tiles; NULL: vec_dot per row
    xt_vec_dot_fn vec_dot_b4;  // tokens [0, n_b4): the peer's grouped-by-four variant
    xt_gemm_fn gemm_b4;        // its tile kernel (NULL: vec_dot_b4 per (row, token))
    int64_t n_b4;
    int64_t rows_per_task;
} task_ctx;

// Cache blocking inside a task: weight rows in groups of about ROW_BLOCK_BYTES (they stay in
// L2 while every token block passes over them), tokens in blocks of TOK_BLOCK; the tile
// kernel then walks a few tokens at a time (kept in L1) against the group's rows.
enum { ROW_BLOCK_BYTES = 96 * 1024, TOK_BLOCK = 64 };

// One tile of dot products through `dot`, entry by entry (types without a tile kernel).
static void gemm_by_rows(const task_ctx *t, xt_vec_dot_fn dot, const uint8_t *w, int64_t nr,
                         const uint8_t *act, int64_t nc, float *y) {
    const xt_matmul_args *a = t->a;
    for (int64_t c = 0; c < nc; c++) {
        for (int64_t r = 0; r < nr; r++) {
            y[c * a->n_out + r] = dot(a->n_in, w + (size_t)r * t->w_row_bytes,
                                      act + (size_t)c * t->act_row_bytes);
        }
    }
}

// Tokens [tok0, tok0 + nc) of the call against nr rows: those below n_b4 take the grouped
// variant, the rest the plain one; each part goes to its variant's tile kernel if it has one
// (a single plain token: to the one-token row kernel).
static void gemm_tokens(const task_ctx *t, const uint8_t *w, int64_t nr, const uint8_t *act,
                        int64_t tok0, int64_t nc, float *y) {
    const xt_matmul_args *a = t->a;
    int64_t n_grouped = t->n_b4 - tok0;
    n_grouped = n_grouped < 0 ? 0 : n_grouped > nc ? nc : n_grouped;
    for (int part = 0; part < 2; part++) {
        int64_t c0 = part ? n_grouped : 0, c1 = part ? nc : n_grouped;
        if (c1 == c0) continue;
        xt_gemm_fn gemm = part ? t->gemm : t->gemm_b4;
        const uint8_t *ac = act + (size_t)c0 * t->act_row_bytes;
        float *yc = y + c0 * a->n_out;
        if (gemm && c1 - c0 > 1) {
            gemm(a->n_in, w, t->w_row_bytes, nr, ac, t->act_row_bytes, c1 - c0, yc, a->n_out);
        } else if (part && t->gemv && c1 - c0 == 1) {
            t->gemv(a->n_in, w, t->w_row_bytes, nr, ac, yc);
        } else {
            gemm_by_rows(t, part ? t->vec_dot : t->vec_dot_b4, w, nr, ac, c1 - c0, yc);
        }
    }
}

static void fp8_rows(const task_ctx *t, int64_t r0, int64_t r1) {
    const xt_matmul_args *a = t->a;
    int64_t gc = xt_fp8_grid(a->n_in);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wrow = (const uint8_t *)a->w + (size_t)r * t->w_row_bytes;
        for (int64_t k = 0; k < a->n_tok; k++) {
            a->y[k * a->n_out + r] =
                xt_fp8_vec_dot_row(wrow, a->w_scales + (r / XT_FP8_BLOCK) * gc, a->n_in,
                                   a->type == XT_DTYPE_FP8_E5M2, a->x + k * a->n_in);
        }
    }
}

static void matmul_task(int64_t task, int64_t n_tasks, void *p) {
    (void)n_tasks;
    const task_ctx *t = p;
    const xt_matmul_args *a = t->a;
    int64_t r0 = task * t->rows_per_task;
    int64_t r1 = r0 + t->rows_per_task < a->n_out ? r0 + t->rows_per_task : a->n_out;
    if (t->vec_dot == NULL) {
        fp8_rows(t, r0, r1);
        return;
    }
    int64_t rb = (int64_t)(ROW_BLOCK_BYTES / t->w_row_bytes);
    rb = rb < 8 ? 8 : rb & ~(int64_t)7;
    for (int64_t rr = r0; rr < r1; rr += rb) {
        int64_t nr = r1 - rr < rb ? r1 - rr : rb;
        const uint8_t *w = (const uint8_t *)a->w + (size_t)rr * t->w_row_bytes;
        for (int64_t tt = 0; tt < a->n_tok; tt += TOK_BLOCK) {
            int64_t nc = a->n_tok - tt < TOK_BLOCK ? a->n_tok - tt : TOK_BLOCK;
            const uint8_t *act = (const uint8_t *)t->act + (size_t)tt * t->act_row_bytes;
            float *y = a->y + tt * a->n_out + rr;
            gemm_tokens(t, w, nr, act, tt, nc, y);
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

// Checks one product's arguments; *w_row gets its weight row size.
static xt_status check_args(const xt_matmul_args *a, size_t *w_row) {
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
    XT_RETURN_IF(!xt_dtype_row_size((uint32_t)a->type, a->n_in, w_row), XT_ERR_INVALID_ARG,
                 "matmul: row length %" PRId64 " is not a multiple of the %s block size %" PRId64,
                 a->n_in, info->name, info->block_size);
    return XT_OK;
}

static bool is_fp8(xt_dtype t) { return t == XT_DTYPE_FP8_E4M3 || t == XT_DTYPE_FP8_E5M2; }

// The activation format a product reads (F32 for FP8 and float weights: x itself).
static xt_dtype act_type(const xt_matmul_args *a) {
    return is_fp8(a->type) ? XT_DTYPE_F32 : xt_quant_traits_get(a->type)->vec_dot_type;
}

// Quantizes x (n_tok rows of n_in) to `at` into the context's scratch (or points at x).
static xt_status prepare_act(xt_matmul_ctx *ctx, const xt_matmul_args *a, xt_dtype at,
                             const void **act, size_t *act_row_bytes) {
    if (at == XT_DTYPE_F32) {
        *act = a->x;
        *act_row_bytes = (size_t)a->n_in * sizeof(float);
        return XT_OK;
    }
    const xt_quant_kernels *k = xt_quant_kernels_get();
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
    *act = ctx->scratch;
    *act_row_bytes = act_row;
    return XT_OK;
}

// Several products in one pool run: tasks [first[s], first[s + 1]) belong to product s,
// after the caller's extra tasks [0, n_extra) (the larger ones first: better balance).
typedef struct {
    task_ctx seg[XT_MATMUL_MAX_MULTI];
    int64_t first[XT_MATMUL_MAX_MULTI + 1];
    int n;
    const xt_task_set *extra;
    int64_t n_extra;
} multi_ctx;

static void multi_task(int64_t task, int64_t n_tasks, void *p) {
    const multi_ctx *m = p;
    if (task < m->n_extra) {
        m->extra->fn(task, m->extra->n_tasks, m->extra->ctx);
        return;
    }
    task -= m->n_extra;
    int s = 0;
    while (task >= m->first[s + 1]) s++;
    const task_ctx *t = &m->seg[s];
    const int64_t r0 = (task - m->first[s]) * t->rows_per_task;
    const int64_t r1 = r0 + t->rows_per_task < t->a->n_out ? r0 + t->rows_per_task : t->a->n_out;
    if (m->extra && m->extra->before_rows) m->extra->before_rows(m->extra->ctx, s, r0, r1);
    matmul_task(task - m->first[s], n_tasks, (void *)t);
    if (m->extra && m->extra->after_rows) m->extra->after_rows(m->extra->ctx, s, r0, r1);
}

xt_status xt_matmul_q_multi(xt_matmul_ctx *ctx, const xt_matmul_args *args, int n) {
    return xt_matmul_q_multi_ex(ctx, args, n, NULL);
}

xt_status xt_matmul_q_multi_ex(xt_matmul_ctx *ctx, const xt_matmul_args *args, int n,
                               const xt_task_set *extra) {
    XT_RETURN_IF(n < 1 || n > XT_MATMUL_MAX_MULTI, XT_ERR_INVALID_ARG,
                 "matmul: %d products in one call (1 to %d)", n, XT_MATMUL_MAX_MULTI);
    size_t w_row[XT_MATMUL_MAX_MULTI];
    bool shared = true;  // one activation format for all: quantize once, one pool run
    for (int i = 0; i < n; i++) {
        XT_TRY(check_args(&args[i], &w_row[i]));
        shared = shared && args[i].x == args[0].x && args[i].n_in == args[0].n_in &&
                 args[i].n_tok == args[0].n_tok && act_type(&args[i]) == act_type(&args[0]);
    }
    if (!shared) {  // one product after another, the extra tasks first (as in one run)
        if (extra) XT_TRY(run(ctx, extra->fn, extra->ctx, extra->n_tasks));
        for (int i = 0; i < n; i++) {
            XT_TRY(xt_matmul_q_multi(ctx, &args[i], 1));
            if (extra && extra->after_rows) extra->after_rows(extra->ctx, i, 0, args[i].n_out);
        }
        return XT_OK;
    }
    if (args[0].n_tok == 0) return XT_OK;
    const void *act = NULL;
    size_t act_row = 0;
    XT_TRY(prepare_act(ctx, &args[0], act_type(&args[0]), &act, &act_row));

    const xt_quant_kernels *k = xt_quant_kernels_get();
    int64_t n_threads = ctx->pool ? xt_threadpool_size(ctx->pool) : 1;
    int64_t want = n_threads * TASKS_PER_THREAD;
    multi_ctx m = {.n = n, .extra = extra, .n_extra = extra ? extra->n_tasks : 0};
    for (int i = 0; i < n; i++) {
        const xt_matmul_args *a = &args[i];
        bool fp8 = is_fp8(a->type);
        task_ctx *t = &m.seg[i];
        *t = (task_ctx){.a = a, .act = act, .w_row_bytes = w_row[i], .act_row_bytes = act_row,
                        .vec_dot = fp8 ? NULL : k->vec_dot[a->type],
                        .gemm = fp8 ? NULL : k->gemm[a->type],
                        .gemv = fp8 ? NULL : k->gemv[a->type]};
        if (!fp8 && k->vec_dot_b4[a->type] != NULL && a->n_tok >= k->b4_min_tokens[a->type]) {
            t->vec_dot_b4 = k->vec_dot_b4[a->type];
            t->gemm_b4 = k->gemm_b4[a->type];
            t->n_b4 = a->n_tok - a->n_tok % k->b4_group[a->type];
        }
        t->rows_per_task = (a->n_out + want - 1) / want;
        if (t->rows_per_task < MIN_ROWS_PER_TASK) t->rows_per_task = MIN_ROWS_PER_TASK;
        // Whole gemm tiles, and the caller's alignment for after_rows.
        const int64_t align = extra && extra->row_align > 8 ? extra->row_align : 8;
        t->rows_per_task = (t->rows_per_task + align - 1) / align * align;
        m.first[i + 1] = m.first[i] + (a->n_out + t->rows_per_task - 1) / t->rows_per_task;
    }
    if (n == 1 && !extra) return run(ctx, matmul_task, &m.seg[0], m.first[1]);
    return run(ctx, multi_task, &m, m.n_extra + m.first[n]);
}

xt_status xt_matmul_q(xt_matmul_ctx *ctx, const xt_matmul_args *a) {
    return xt_matmul_q_multi(ctx, a, 1);
}
