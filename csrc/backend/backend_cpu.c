// backend_cpu.c — the CPU backend: fills the backend table from ops/ and quant/. Owns the
// persistent thread pool, the matmul context and the attention/rope scratch, all sized once by
// reserve() so the token loop never allocates.
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "backend/backend.h"
#include "core/status.h"
#include "quant/fp16.h"
#include "quant/quant.h"

typedef struct {
    xt_threadpool *pool;
    int n_threads;
    xt_matmul_ctx *mm;
    xt_matmul_ctx *mm_serial;  // no pool: small matmuls
    float *attn_scratch;       // (n_threads, attn_floats)
    int64_t attn_floats;
    float *rope_cache;         // (n_threads, rope_floats)
    int64_t rope_floats;
    void *lr_scratch;          // xt_lowrank_scratch_bytes(n_threads, lr_in, lr_r, lr_out)
    int64_t lr_in, lr_r, lr_out;
} cpu_impl;

static cpu_impl *impl(xt_backend *be) { return be->impl; }

xt_status xt_backend_unsupported(const xt_backend *be, const char *op, xt_dtype type) {
    const xt_dtype_info *info = xt_dtype_get((uint32_t)type);
    return xt_error(XT_ERR_UNSUPPORTED, "unsupported: %s on the %s backend for %s", op,
                    be->ops->name, info ? info->name : "an unknown type");
}

// ---- memory ----

static xt_status cpu_alloc(xt_backend *be, size_t bytes, void **out) {
    (void)be;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    XT_RETURN_IF(rounded < bytes, XT_ERR_NOMEM, "allocation of %zu bytes overflows", bytes);
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    XT_RETURN_IF(p == NULL, XT_ERR_NOMEM, "out of memory for %zu bytes", bytes);
    *out = p;
    return XT_OK;
}

static void cpu_free(xt_backend *be, void *p) {
    (void)be;
    free(p);
}

static bool cpu_supports(xt_backend *be, xt_backend_op op, xt_dtype type) {
    (void)be;
    const xt_quant_traits *qt = xt_quant_traits_get(type);
    switch (op) {
    case XT_OP_MATMUL: return qt != NULL && qt->vec_dot != NULL;
    case XT_OP_GET_ROWS: return qt != NULL && xt_quant_kernels_get()->to_float[type] != NULL;
    case XT_OP_ATTENTION:
    case XT_OP_KV_STORE: return type == XT_DTYPE_F16 || type == XT_DTYPE_F32;
    default: return type == XT_DTYPE_F32;
    }
}

// Runs one matmul row per distinct (type, n_in) at max_tok tokens, so the matmul context's
// activation scratch reaches its final size now, not inside the first forward.
static xt_status warm_matmul(xt_backend *be, const xt_backend_plan *plan) {
    int64_t max_in = 0;
    for (int64_t i = 0; i < plan->n_weights; i++) {
        if (plan->weights[i]->ne[0] > max_in) max_in = plan->weights[i]->ne[0];
    }
    if (max_in == 0 || plan->max_tok == 0) return XT_OK;
    float *x = calloc((size_t)(plan->max_tok * max_in), sizeof(float));
    float *y = calloc((size_t)plan->max_tok, sizeof(float));
    xt_status s = x && y ? XT_OK : xt_error(XT_ERR_NOMEM, "out of memory for the matmul warm-up");
    for (int64_t i = 0; s == XT_OK && i < plan->n_weights; i++) {
        const xt_tensor *w = plan->weights[i];
        bool seen = false;
        for (int64_t j = 0; j < i && !seen; j++) {
            seen = plan->weights[j]->type == w->type && plan->weights[j]->ne[0] == w->ne[0];
        }
        if (seen) continue;
        xt_matmul_args a = {.w = w->data, .type = w->type, .n_out = 1, .n_in = w->ne[0],
                            .x = x, .n_tok = plan->max_tok, .y = y};
        s = xt_matmul_q(impl(be)->mm, &a);
        if (s == XT_OK) s = xt_matmul_q(impl(be)->mm_serial, &a);
    }
    free(x);
    free(y);
    return s;
}

static xt_status cpu_reserve(xt_backend *be, const xt_backend_plan *plan) {
    cpu_impl *c = impl(be);
    int64_t af = xt_attention_scratch_floats(plan->n_ctx, plan->head_dim, plan->head_dim_v);
    if (af > c->attn_floats) {
        float *p = NULL;
        XT_TRY(cpu_alloc(be, (size_t)(af * c->n_threads) * sizeof(float), (void **)&p));
        free(c->attn_scratch);
        c->attn_scratch = p;
        c->attn_floats = af;
    }
    if (plan->head_dim > c->rope_floats) {
        float *p = NULL;
        XT_TRY(cpu_alloc(be, (size_t)(plan->head_dim * c->n_threads) * sizeof(float), (void **)&p));
        free(c->rope_cache);
        c->rope_cache = p;
        c->rope_floats = plan->head_dim;
    }
    return warm_matmul(be, plan);
}

// ---- row-parallel helpers ----

typedef struct {
    void (*fn)(const void *args, int64_t r0, int64_t r1, int64_t task);
    const void *args;
    int64_t rows;
} rows_ctx;

static void rows_task(int64_t task, int64_t n_tasks, void *p) {
    const rows_ctx *c = p;
    int64_t r0 = c->rows * task / n_tasks, r1 = c->rows * (task + 1) / n_tasks;
    if (r1 > r0) c->fn(c->args, r0, r1, task);
}

// Splits `rows` into one contiguous range per thread (calling thread alone for small work).
static xt_status run_rows(xt_backend *be, void (*fn)(const void *, int64_t, int64_t, int64_t),
                          const void *args, int64_t rows, int64_t work) {
    cpu_impl *c = impl(be);
    if (c->n_threads <= 1 || rows < 2 || work < 16384) {
        fn(args, 0, rows, 0);
        return XT_OK;
    }
    int64_t n = rows < c->n_threads ? rows : c->n_threads;
    rows_ctx rc = {fn, args, rows};
    return xt_threadpool_run(c->pool, rows_task, &rc, n);
}

// ---- ops ----

// Below this many multiply-adds, waking the pool costs more than the work.
#define SERIAL_MATMUL_MACS 32768

static xt_status cpu_matmul(xt_backend *be, const xt_tensor *w, const float *x, int64_t n_tok,
                            float *y) {
    xt_matmul_args a = {.w = w->data, .type = w->type, .n_out = w->ne[1], .n_in = w->ne[0],
                        .x = x, .n_tok = n_tok, .y = y};
    cpu_impl *c = impl(be);
    bool small = n_tok * w->ne[0] * w->ne[1] < SERIAL_MATMUL_MACS;
    return xt_matmul_q(small ? c->mm_serial : c->mm, &a);
}

static xt_status cpu_matmul_n(xt_backend *be, int n, const xt_tensor *const *w, const float *x,
                              int64_t n_tok, float *const *y) {
    XT_RETURN_IF(n < 1 || n > XT_MATMUL_MAX_MULTI, XT_ERR_INVALID_ARG,
                 "matmul_n: %d weights (1 to %d)", n, XT_MATMUL_MAX_MULTI);
    xt_matmul_args a[XT_MATMUL_MAX_MULTI];
    for (int i = 0; i < n; i++) {
        a[i] = (xt_matmul_args){.w = w[i]->data, .type = w[i]->type, .n_out = w[i]->ne[1],
                                .n_in = w[i]->ne[0], .x = x, .n_tok = n_tok, .y = y[i]};
    }
    return xt_matmul_q_multi(impl(be)->mm, a, n);
}

static xt_status cpu_get_rows(xt_backend *be, const xt_tensor *w, const int32_t *ids, int64_t n,
                              float *y) {
    xt_dequant_row_fn f = xt_quant_kernels_get()->to_float[w->type];
    if (f == NULL) return xt_backend_unsupported(be, "get_rows", w->type);
    for (int64_t i = 0; i < n; i++) {
        f((const uint8_t *)w->data + (size_t)ids[i] * w->nb[1], y + i * w->ne[0], w->ne[0]);
    }
    return XT_OK;
}

typedef struct { float *y; const float *x, *w; float w_add; int64_t n; float eps; } norm_args;

static void norm_rows(const void *p, int64_t r0, int64_t r1, int64_t task) {
    (void)task;
    const norm_args *a = p;
    xt_rms_norm_f32(a->y + r0 * a->n, a->x + r0 * a->n, a->w, a->w_add, r1 - r0, a->n, a->eps);
}

static xt_status cpu_rms_norm(xt_backend *be, float *y, const float *x, const float *w,
                              float w_add, int64_t rows, int64_t n, float eps) {
    norm_args a = {y, x, w, w_add, n, eps};
    return run_rows(be, norm_rows, &a, rows, rows * n);
}

typedef struct {
    float *x; int64_t stride, n_heads, head_dim, pos0; const xt_rope_params *p; float *cache;
    int64_t cache_floats;
} rope_args;

static void rope_rows(const void *p, int64_t r0, int64_t r1, int64_t task) {
    const rope_args *a = p;
    xt_rope_f32(a->x + r0 * a->stride, r1 - r0, a->stride, a->n_heads, a->head_dim, a->pos0 + r0,
                a->p, a->cache + task * a->cache_floats);
}

static xt_status cpu_rope(xt_backend *be, float *x, int64_t n_tok, int64_t stride, int64_t n_heads,
                          int64_t head_dim, int64_t pos0, const xt_rope_params *p) {
    cpu_impl *c = impl(be);
    XT_RETURN_IF(p->n_rot > c->rope_floats || p->n_rot > head_dim || p->n_rot % 2 != 0,
                 XT_ERR_INVALID_ARG, "rope: %" PRId64 " rotary dims do not fit head_dim %" PRId64,
                 p->n_rot, head_dim);
    rope_args a = {x, stride, n_heads, head_dim, pos0, p, c->rope_cache, c->rope_floats};
    return run_rows(be, rope_rows, &a, n_tok, n_tok * n_heads * head_dim);
}

typedef struct { xt_act_kind act; float *y; const float *g, *u; int64_t n, in_stride; } glu_args;

static void glu_rows(const void *p, int64_t r0, int64_t r1, int64_t task) {
    (void)task;
    const glu_args *a = p;
    for (int64_t r = r0; r < r1; r++) {
        float *y = a->y + r * a->n;
        const float *g = a->g + r * a->in_stride, *u = a->u + r * a->in_stride;
        if (a->act == XT_ACT_GELU_TANH) xt_geglu_f32(y, g, u, a->n);
        else if (a->act == XT_ACT_GELU_TANH_TABLE) xt_geglu_table_f32(y, g, u, a->n);
        else xt_swiglu_f32(y, g, u, a->n);
    }
}

static xt_status cpu_glu(xt_backend *be, xt_act_kind act, float *y, const float *g,
                         const float *u, int64_t rows, int64_t n, int64_t in_stride) {
    glu_args a = {act, y, g, u, n, in_stride};
    return run_rows(be, glu_rows, &a, rows, rows * n * 4);
}

static xt_status cpu_attention(xt_backend *be, xt_attn_args *a) {
    cpu_impl *c = impl(be);
    XT_RETURN_IF(xt_attention_scratch_floats(a->n_ctx, a->head_dim, a->head_dim_v) > c->attn_floats,
                 XT_ERR_INTERNAL, "attention scratch was not reserved for this shape");
    a->scratch = c->attn_scratch;
    int64_t items = a->n_tok * a->n_head;
    a->n_tasks = items < c->n_threads ? items : c->n_threads;
    // Short decode steps cost less than waking the pool.
    if (items * (a->pos0 + a->n_tok) * a->head_dim < 32768) a->n_tasks = 1;
    return xt_attention(c->n_threads > 1 ? c->pool : NULL, a);
}

static xt_status cpu_kv_store(xt_backend *be, void *cache, xt_dtype type, int64_t n_ctx,
                              const float *x, int64_t n_tok, int64_t stride, int64_t n_head_kv,
                              int64_t head_dim, int64_t pos0) {
    if (type != XT_DTYPE_F16 && type != XT_DTYPE_F32) {
        return xt_backend_unsupported(be, "kv_store", type);
    }
    for (int64_t t = 0; t < n_tok; t++) {
        for (int64_t h = 0; h < n_head_kv; h++) {
            const float *src = x + t * stride + h * head_dim;
            size_t off = ((size_t)h * (size_t)n_ctx + (size_t)(pos0 + t)) * (size_t)head_dim;
            if (type == XT_DTYPE_F32) {
                memcpy((float *)cache + off, src, (size_t)head_dim * sizeof(float));
            } else {
                uint16_t *dst = (uint16_t *)cache + off;
                for (int64_t i = 0; i < head_dim; i++) dst[i] = xt_fp32_to_fp16(src[i]);
            }
        }
    }
    return XT_OK;
}

static xt_status cpu_add(xt_backend *be, float *y, const float *x, int64_t n) {
    (void)be;
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
    return XT_OK;
}

static xt_status cpu_add_bias(xt_backend *be, float *y, const float *b, int64_t rows, int64_t n,
                              int64_t stride) {
    (void)be;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < n; i++) y[r * stride + i] += b[i];
    }
    return XT_OK;
}

static xt_status cpu_scale(xt_backend *be, float *y, float s, int64_t n) {
    (void)be;
    for (int64_t i = 0; i < n; i++) y[i] *= s;
    return XT_OK;
}

static xt_status cpu_reserve_lowrank(xt_backend *be, int64_t max_in, int64_t max_r,
                                     int64_t max_out) {
    cpu_impl *c = impl(be);
    if (max_in <= c->lr_in && max_r <= c->lr_r && max_out <= c->lr_out) return XT_OK;
    max_in = max_in > c->lr_in ? max_in : c->lr_in;
    max_r = max_r > c->lr_r ? max_r : c->lr_r;
    max_out = max_out > c->lr_out ? max_out : c->lr_out;
    void *p = NULL;
    XT_TRY(cpu_alloc(be, xt_lowrank_scratch_bytes(c->n_threads, max_in, max_r, max_out), &p));
    free(c->lr_scratch);
    c->lr_scratch = p;
    c->lr_in = max_in;
    c->lr_r = max_r;
    c->lr_out = max_out;
    return XT_OK;
}

// At decode (fewer tokens than threads) the low-rank work joins the products' pool run: one
// dispatch per targeted matmul group; each product task adds u B^T to the rows it wrote.
static xt_status cpu_matmul_lowrank(xt_backend *be, int n, const xt_tensor *const *w,
                                    const float *x, int64_t n_tok, float *const *y,
                                    const xt_lowrank_term *terms, int n_terms) {
    cpu_impl *c = impl(be);
    XT_RETURN_IF(n < 1 || n > XT_MATMUL_MAX_MULTI, XT_ERR_INVALID_ARG,
                 "matmul_lowrank: %d weights (1 to %d)", n, XT_MATMUL_MAX_MULTI);
    if (n_terms == 0) return n == 1 ? cpu_matmul(be, w[0], x, n_tok, y[0])
                                    : cpu_matmul_n(be, n, w, x, n_tok, y);
    XT_RETURN_IF(c->lr_scratch == NULL, XT_ERR_INTERNAL, "matmul_lowrank: scratch not reserved");
    xt_lowrank_args la = {.x = x, .n_in = w[0]->ne[0], .n_tok = n_tok, .terms = terms,
                          .n_terms = n_terms, .scratch = c->lr_scratch, .n_tasks = c->n_threads,
                          .max_in = c->lr_in, .max_r = c->lr_r, .max_out = c->lr_out};
    if (c->n_threads > 1 && n_tok < c->n_threads) {
        xt_lowrank_plan plan;
        XT_TRY(xt_lowrank_plan_make(&la, true, &plan));
        xt_matmul_args a[XT_MATMUL_MAX_MULTI];
        for (int i = 0; i < n; i++) {
            a[i] = (xt_matmul_args){.w = w[i]->data, .type = w[i]->type, .n_out = w[i]->ne[1],
                                    .n_in = w[i]->ne[0], .x = x, .n_tok = n_tok, .y = y[i]};
        }
        xt_task_set extra = {xt_lowrank_task, &plan, plan.n_tasks, xt_lowrank_after_rows,
                             xt_lowrank_before_rows, XT_LOWRANK_CHUNK};
        return xt_matmul_q_multi_ex(c->mm, a, n, &extra);
    }
    XT_TRY(n == 1 ? cpu_matmul(be, w[0], x, n_tok, y[0]) : cpu_matmul_n(be, n, w, x, n_tok, y));
    return xt_lowrank(c->n_threads > 1 ? c->pool : NULL, &la);
}

static xt_status cpu_softcap(xt_backend *be, float *y, float cap, int64_t n) {
    (void)be;
    for (int64_t i = 0; i < n; i++) y[i] = cap * tanhf(y[i] / cap);
    return XT_OK;
}

static const xt_backend_ops k_cpu_ops = {
    .name = "cpu",
    .alloc = cpu_alloc, .free = cpu_free, .reserve = cpu_reserve, .supports = cpu_supports,
    .matmul = cpu_matmul, .matmul_n = cpu_matmul_n, .get_rows = cpu_get_rows, .rms_norm = cpu_rms_norm, .rope = cpu_rope,
    .glu = cpu_glu, .attention = cpu_attention, .kv_store = cpu_kv_store, .add = cpu_add,
    .add_bias = cpu_add_bias, .scale = cpu_scale, .softcap = cpu_softcap,
    .reserve_lowrank = cpu_reserve_lowrank, .matmul_lowrank = cpu_matmul_lowrank,
};

// ---- lifecycle ----

xt_status xt_backend_cpu_new(int n_threads, xt_backend **out) {
    xt_backend *be = calloc(1, sizeof *be);
    cpu_impl *c = calloc(1, sizeof *c);
    xt_status s = be && c ? XT_OK : xt_error(XT_ERR_NOMEM, "out of memory for the CPU backend");
    if (s == XT_OK) {
        be->ops = &k_cpu_ops;
        be->impl = c;
        s = xt_threadpool_new(n_threads, &c->pool);
    }
    if (s == XT_OK) {
        c->n_threads = xt_threadpool_size(c->pool);
        s = xt_matmul_ctx_new(c->n_threads > 1 ? c->pool : NULL, &c->mm);
    }
    if (s == XT_OK) s = xt_matmul_ctx_new(NULL, &c->mm_serial);
    if (s != XT_OK) {
        if (be) be->impl = c;
        xt_backend_free(be);
        if (!be) free(c);
        return s;
    }
    *out = be;
    return XT_OK;
}

int xt_backend_cpu_threads(const xt_backend *be) { return ((const cpu_impl *)be->impl)->n_threads; }

void xt_backend_free(xt_backend *be) {
    if (be == NULL) return;
    cpu_impl *c = be->impl;
    if (c != NULL) {
        xt_matmul_ctx_free(c->mm);
        xt_matmul_ctx_free(c->mm_serial);
        xt_threadpool_free(c->pool);
        free(c->attn_scratch);
        free(c->rope_cache);
        free(c->lr_scratch);
        free(c);
    }
    free(be);
}
