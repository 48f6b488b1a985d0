// lowrank.c — the low-rank adapter terms after a matmul: y += ((x A^T) * s) B^T for up to
// four terms that read the same x (q/k/v, gate/up).
//
// Decode (fewer tokens than tasks) runs fused with the base products, in their pool run: the
// first tasks compute the scaled x A^T, each for a share of every term's rank rows (A is read
// once); each product task, once its output rows are written, adds u B^T to exactly those
// rows. It reads only its own columns of B^T, contiguous in the packing below, so B^T streams
// like the weights and no partial outputs are needed. With more tokens (prefill), tasks take
// whole tokens after the products.
// The B side (packing, u B^T) is in lowrank_bt.c.
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"
#include "core/threadpool.h"
#include "ops/ops.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/quant.h"

enum { CHUNK = XT_LOWRANK_CHUNK };

// Spins of a product task waiting for u before it yields its CPU (a few microseconds).
enum { WAIT_SPINS = 4096 };

// Below this many multiply-adds per call, a pool run costs more than it saves.
#define LOWRANK_PARALLEL_MACS 16384

// ---- the pool run ----

// Tokens a task handles together: their A products go through the gemm tile (each A row read
// once for the block), and B^T's chunk rows stay in L1/L2 across the block's tokens.
enum { TOK_BLOCK = 8 };

// One task's scratch: a token block's activations in Q8_0, then its rank values of one term.
static size_t xq_row_bytes(int64_t max_in) {
    return (size_t)((max_in + CHUNK - 1) / CHUNK) * sizeof(block_q8_0);
}

static size_t task_bytes(int64_t max_in, int64_t max_r) {
    return ((TOK_BLOCK * xq_row_bytes(max_in) + 63) & ~(size_t)63) +
           (((size_t)(TOK_BLOCK * max_r) * sizeof(float) + 63) & ~(size_t)63);
}

size_t xt_lowrank_scratch_bytes(int n_tasks, int64_t max_in, int64_t max_r, int64_t max_out) {
    (void)max_out;
    // After the tasks' own areas, a fused run's u: (terms, tokens < n_tasks, rank rows).
    return (size_t)n_tasks * task_bytes(max_in, max_r) +
           (size_t)n_tasks * XT_LOWRANK_MAX_TERMS * (size_t)max_r * sizeof(float);
}

// u (nc, nr) = rows [j0, j0 + nr) of A against the block's nc activation rows.
static void a_products(const xt_lowrank_term *t, int64_t n_in, int64_t j0, int64_t nr,
                       const void *act, size_t act_row, int64_t nc, float *u) {
    const xt_quant_kernels *k = xt_quant_kernels_get();
    const uint8_t *a = (const uint8_t *)t->a + (size_t)j0 * t->a_row_bytes;
    if (nc > 1 && k->gemm[t->a_type] != NULL) {
        k->gemm[t->a_type](n_in, a, t->a_row_bytes, nr, act, act_row, nc, u, nr);
        return;
    }
    if (nc == 1 && k->gemv[t->a_type] != NULL) {  // decode: several rows' chains side by side
        k->gemv[t->a_type](n_in, a, t->a_row_bytes, nr, act, u);
        return;
    }
    for (int64_t c = 0; c < nc; c++) {
        for (int64_t j = 0; j < nr; j++) {
            u[c * nr + j] = k->vec_dot[t->a_type](n_in, a + (size_t)j * t->a_row_bytes,
                                                  (const uint8_t *)act + (size_t)c * act_row);
        }
    }
}

void xt_lowrank_task(int64_t task, int64_t n_tasks, void *p) {
    (void)n_tasks;
    xt_lowrank_plan *c = p;
    const xt_lowrank_args *a = c->a;
    const xt_quant_kernels *k = xt_quant_kernels_get();
    uint8_t *xq = (uint8_t *)a->scratch + (size_t)task * c->task_bytes;
    const size_t xq_row = xq_row_bytes(a->n_in);
    float *u = (float *)(xq + ((TOK_BLOCK * xq_row_bytes(a->max_in) + 63) & ~(size_t)63));
    int64_t t0 = 0, t1 = a->n_tok;
    if (!c->fused) {
        t0 = a->n_tok * task / c->n_tasks;
        t1 = a->n_tok * (task + 1) / c->n_tasks;
    }
    for (int64_t tb = t0; tb < t1; tb += TOK_BLOCK) {
        const int64_t nc = t1 - tb < TOK_BLOCK ? t1 - tb : TOK_BLOCK;
        const float *x = a->x + tb * a->n_in;
        if (c->act == XT_DTYPE_Q8_0) {
            for (int64_t i = 0; i < nc; i++) {
                k->quantize_act[XT_DTYPE_Q8_0](x + i * a->n_in, xq + (size_t)i * xq_row, a->n_in);
            }
        }
        for (int i = 0; i < a->n_terms; i++) {
            const xt_lowrank_term *term = &a->terms[i];
            int64_t j0 = 0, j1 = term->r;
            if (c->fused) {
                j0 = term->r * task / c->n_tasks;
                j1 = term->r * (task + 1) / c->n_tasks;
            }
            const int64_t nr = j1 - j0;
            if (nr > 0) {
                if (term->a_type == XT_DTYPE_Q8_0) {
                    a_products(term, a->n_in, j0, nr, xq, xq_row, nc, u);
                } else {
                    a_products(term, a->n_in, j0, nr, x, (size_t)a->n_in * sizeof(float), nc, u);
                }
            }
            for (int64_t tk = 0; tk < nc && nr > 0; tk++) {
                const float *s = term->scale + (tb + tk) * term->scale_stride + j0;
                float *ut = u + tk * nr;
                if (c->fused) {  // the product tasks add u B^T
                    float *dst = c->u + (i * a->n_tok + tb + tk) * a->max_r + j0;
                    for (int64_t j = 0; j < nr; j++) dst[j] = ut[j] * s[j];
                    continue;
                }
                for (int64_t j = 0; j < nr; j++) ut[j] *= s[j];
                xt_lowrank_add_bt(term, ut, 0, term->out, term->y + (tb + tk) * term->out);
            }
        }
    }
    if (c->fused) atomic_fetch_add_explicit(&c->u_done, 1, memory_order_release);
}

void xt_lowrank_before_rows(void *p, int product, int64_t r0, int64_t r1) {
    const xt_lowrank_plan *c = p;
    for (int i = 0; i < c->a->n_terms; i++) {
        const xt_lowrank_term *t = &c->a->terms[i];
        if (t->product == product) xt_lowrank_prefetch_bt(t, r0, r1);
    }
}

void xt_lowrank_after_rows(void *p, int product, int64_t r0, int64_t r1) {
    xt_lowrank_plan *c = p;
    const xt_lowrank_args *a = c->a;
    bool ready = false;
    for (int i = 0; i < a->n_terms; i++) {
        const xt_lowrank_term *t = &a->terms[i];
        if (t->product != product) continue;
        // The u tasks were claimed before this product task: they are running, not waiting
        // (only, with more threads than CPUs, perhaps descheduled: then yield to them).
        for (unsigned spins = 0; !ready; spins++) {
            ready = atomic_load_explicit(&c->u_done, memory_order_acquire) >= c->n_tasks;
            if (!ready && spins < WAIT_SPINS) XT_CPU_RELAX();
            else if (!ready) sched_yield();
        }
        for (int64_t tk = 0; tk < a->n_tok; tk++) {
            xt_lowrank_add_bt(t, c->u + (i * a->n_tok + tk) * a->max_r, r0, r1,
                              t->y + tk * t->out);
        }
    }
}

xt_status xt_lowrank_plan_make(const xt_lowrank_args *a, bool fused, xt_lowrank_plan *c) {
    XT_RETURN_IF(a->n_terms < 1 || a->n_terms > XT_LOWRANK_MAX_TERMS, XT_ERR_INVALID_ARG,
                 "lowrank: %d terms (1 to %d)", a->n_terms, XT_LOWRANK_MAX_TERMS);
    XT_RETURN_IF(a->n_in > a->max_in, XT_ERR_INVALID_ARG, "lowrank: %" PRId64 " inputs exceed "
                 "the reserved %" PRId64, a->n_in, a->max_in);
    XT_RETURN_IF(fused && a->n_tok >= a->n_tasks, XT_ERR_INVALID_ARG,
                 "lowrank: a fused run needs fewer tokens than tasks");
    *c = (xt_lowrank_plan){.a = a, .task_bytes = task_bytes(a->max_in, a->max_r),
                           .act = XT_DTYPE_F32, .fused = fused};
    atomic_init(&c->u_done, 0);
    int64_t macs = 0;
    for (int i = 0; i < a->n_terms; i++) {
        const xt_lowrank_term *t = &a->terms[i];
        XT_RETURN_IF((t->a_type != XT_DTYPE_F32 && t->a_type != XT_DTYPE_Q8_0) ||
                     (t->bt_type != XT_DTYPE_F32 && t->bt_type != XT_DTYPE_Q8_0) ||
                     t->r > a->max_r || (t->bt_type == XT_DTYPE_Q8_0 && t->out % CHUNK) ||
                     (t->a_type == XT_DTYPE_Q8_0 && a->n_in % CHUNK),
                     XT_ERR_INVALID_ARG, "lowrank: term %d has an unsupported layout", i);
        XT_RETURN_IF(t->out > a->max_out, XT_ERR_INVALID_ARG,
                     "lowrank: term %d's outputs exceed the reserved scratch", i);
        if (t->a_type == XT_DTYPE_Q8_0) c->act = XT_DTYPE_Q8_0;
        macs += a->n_tok * t->r * (a->n_in + t->out);
    }
    c->n_tasks = a->n_tasks > 1 && macs >= LOWRANK_PARALLEL_MACS ? a->n_tasks : 1;
    if (!fused && c->n_tasks > a->n_tok) c->n_tasks = a->n_tok;  // unfused: whole tokens
    c->u = (float *)((uint8_t *)a->scratch + (size_t)a->n_tasks * c->task_bytes);
    return XT_OK;
}

xt_status xt_lowrank(xt_threadpool *pool, const xt_lowrank_args *a) {
    if (a->n_tok == 0) return XT_OK;
    xt_lowrank_plan c;
    XT_TRY(xt_lowrank_plan_make(a, false, &c));
    if (pool == NULL) c.n_tasks = 1;
    if (c.n_tasks == 1) {
        xt_lowrank_task(0, 1, &c);
        return XT_OK;
    }
    return xt_threadpool_run(pool, xt_lowrank_task, &c, c.n_tasks);
}
