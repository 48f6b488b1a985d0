// runner.c — the one generic transformer forward: every architecture runs through this code,
// steered by its description's flags (arch.h). Tokens are processed in chunks of n_batch
// (prefill as batched matmuls); every buffer comes from the arena sized at load.
#include <math.h>
#include <string.h>

#include "adapter/adapter.h"
#include "core/status.h"
#include "model/model.h"

// Matmuls a LoRA may target: y[i] = x W_i^T for n weights that read x (roles[i] names W_i),
// plus the active adapters' low-rank terms when any are attached.
#define MATMUL_N(il, roles, n, w, x, nt, y, pos)                                          \
    XT_TRY(m->lora ? xt_lora_matmul(m, (il), (roles), (n), (w), (x), (nt), (y), (pos))   \
                   : op->matmul_n(be, (n), (w), (x), (nt), (y)))
#define MATMUL(il, role, w, x, nt, y, pos)                                                    \
    XT_TRY(m->lora ? xt_lora_matmul(m, (il), (const xt_lora_role[]){role}, 1,                 \
                                    (const xt_tensor *const[]){w}, (x), (nt),               \
                                    (float *const[]){y}, (pos))                              \
                   : op->matmul(be, (w), (x), (nt), (y)))

// ---- attention block ----

// q, k, v point into m->qkv: (n_tok rows of `stride` floats) each. K and V of all nt rows go
// to the cache; only rows [r0, nt) get attention outputs and update x (the last layer skips
// rows whose logits nobody asked for, as llama.cpp does).
static xt_status attention_block(xt_model *m, const xt_layer *L, int64_t il, int64_t nt,
                                 int64_t pos0, int64_t r0) {
    xt_backend *be = m->be;
    const xt_backend_ops *op = be->ops;
    const xt_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, hd = hp->head_dim;
    float *q, *k, *v;
    int64_t stride;
    if (L->wqkv.data != NULL) {
        stride = m->q_dim + m->k_dim + m->v_dim;
        MATMUL(il, XT_LR_QKV, &L->wqkv, m->xn, nt, m->qkv, pos0);
        if (L->bqkv.data) XT_TRY(op->add_bias(be, m->qkv, L->bqkv.data, nt, stride, stride));
        q = m->qkv;
        k = q + m->q_dim;
        v = k + m->k_dim;
    } else {
        // Separate projections: three contiguous (n_tok, dim) matrices, each its own stride.
        q = m->qkv;
        k = q + nt * m->q_dim;
        v = k + nt * m->k_dim;
        const xt_tensor *w[3] = {&L->wq, &L->wk, &L->wv};
        float *const out[3] = {q, k, v};
        static const xt_lora_role roles[3] = {XT_LR_Q, XT_LR_K, XT_LR_V};
        MATMUL_N(il, roles, 3, w, m->xn, nt, out, pos0);
        if (L->bq.data) XT_TRY(op->add_bias(be, q, L->bq.data, nt, m->q_dim, m->q_dim));
        if (L->bk.data) XT_TRY(op->add_bias(be, k, L->bk.data, nt, m->k_dim, m->k_dim));
        if (L->bv.data) XT_TRY(op->add_bias(be, v, L->bv.data, nt, m->v_dim, m->v_dim));
        stride = 0;
    }
    const int64_t qs = stride ? stride : m->q_dim;
    const int64_t ks = stride ? stride : m->k_dim;
    const int64_t vs = stride ? stride : m->v_dim;
    if (L->q_norm.data != NULL) {
        // Per-head RMSNorm: rows of head_dim; contiguous when unfused, per token when fused.
        if (!stride) {
            XT_TRY(op->rms_norm(be, q, q, L->q_norm.data, hp->norm_add,
                                nt * hp->n_head, hd, hp->eps));
            XT_TRY(op->rms_norm(be, k, k, L->k_norm.data, hp->norm_add,
                                nt * hp->n_head_kv, hd, hp->eps));
        } else {
            for (int64_t t = 0; t < nt; t++) {
                XT_TRY(op->rms_norm(be, q + t * qs, q + t * qs, L->q_norm.data, hp->norm_add,
                                    hp->n_head, hd, hp->eps));
                XT_TRY(op->rms_norm(be, k + t * ks, k + t * ks, L->k_norm.data, hp->norm_add,
                                    hp->n_head_kv, hd, hp->eps));
            }
        }
    }
    if (hp->n_rot > 0) {
        XT_TRY(op->rope(be, q, nt, qs, hp->n_head, hd, pos0, &L->rope));
        XT_TRY(op->rope(be, k, nt, ks, hp->n_head_kv, hd, pos0, &L->rope));
    }
    float attn_scale = hp->q_scale;
    if (m->arch->prescale_q) {
        for (int64_t t = 0; t < nt; t++) XT_TRY(op->scale(be, q + t * qs, hp->q_scale, m->q_dim));
        attn_scale = 1.0f;
    }
    XT_TRY(op->kv_store(be, L->k_cache, m->kv_type, m->n_ctx, k, nt, ks, hp->n_head_kv, hd, pos0));
    XT_TRY(op->kv_store(be, L->v_cache, m->kv_type, m->n_ctx, v, nt, vs, hp->n_head_kv,
                        hp->head_dim_v, pos0));
    if (r0 >= nt) return XT_OK;
    xt_attn_args a = {
        .q = q + r0 * qs, .q_stride = qs, .k = L->k_cache, .v = L->v_cache, .kv_type = m->kv_type,
        .n_ctx = m->n_ctx, .out = m->att, .n_tok = nt - r0, .n_head = hp->n_head,
        .n_head_kv = hp->n_head_kv, .head_dim = hd, .head_dim_v = hp->head_dim_v, .pos0 = pos0 + r0,
        .window = L->swa ? hp->n_swa : 0, .scale = attn_scale, .softcap = hp->attn_softcap,
    };
    XT_TRY(op->attention(be, &a));
    const int64_t n = nt - r0;
    MATMUL(il, XT_LR_O, &L->wo, m->att, n, m->tmp, pos0 + r0);
    if (L->post_attn_norm.data) {
        XT_TRY(op->rms_norm(be, m->tmp, m->tmp, L->post_attn_norm.data, hp->norm_add,
                            n, E, hp->eps));
    }
    return op->add(be, m->x + r0 * E, m->tmp, n * E);
}

// ---- feed-forward block ----

// Runs the FFN over nt rows of the residual stream starting at x.
static xt_status ffn_block(xt_model *m, const xt_layer *L, int64_t il, float *x, int64_t nt,
                           int64_t pos0) {
    xt_backend *be = m->be;
    const xt_backend_ops *op = be->ops;
    const xt_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, F = hp->n_ff;
    XT_TRY(op->rms_norm(be, m->xn, x, L->ffn_norm.data, hp->norm_add, nt, E, hp->eps));
    const float *g, *u;
    int64_t in_stride;
    if (m->arch->fused_gate_up) {  // rows [gate | up]
        MATMUL(il, XT_LR_UP, &L->w_up, m->xn, nt, m->ffn, pos0);
        g = m->ffn;
        u = m->ffn + F;
        in_stride = 2 * F;
    } else {
        const xt_tensor *w[2] = {&L->w_gate, &L->w_up};
        float *const out[2] = {m->ffn, m->ffn + nt * F};
        static const xt_lora_role roles[2] = {XT_LR_GATE, XT_LR_UP};
        MATMUL_N(il, roles, 2, w, m->xn, nt, out, pos0);
        g = m->ffn;
        u = m->ffn + nt * F;
        in_stride = F;
    }
    XT_TRY(op->glu(be, m->ffn_act, m->act, g, u, nt, F, in_stride));
    MATMUL(il, XT_LR_DOWN, &L->w_down, m->act, nt, m->tmp, pos0);
    if (L->post_ffw_norm.data) {
        XT_TRY(op->rms_norm(be, m->tmp, m->tmp, L->post_ffw_norm.data, hp->norm_add,
                            nt, E, hp->eps));
    }
    return op->add(be, x, m->tmp, nt * E);
}

// ---- one chunk ----

// Runs nt tokens at positions pos0..; writes logits of rows [r0, nt) to `logits`
// ((nt - r0, n_vocab)); r0 == nt: no logits.
static xt_status run_chunk(xt_model *m, const int32_t *tokens, int64_t nt, int64_t pos0,
                           int64_t r0, float *logits) {
    xt_backend *be = m->be;
    const xt_backend_ops *op = be->ops;
    const xt_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd;
    XT_TRY(op->get_rows(be, &m->tok_embd, tokens, nt, m->x));
    if (m->arch->embd_scale) XT_TRY(op->scale(be, m->x, sqrtf((float)E), nt * E));
    for (int64_t il = 0; il < hp->n_layer; il++) {
        const xt_layer *L = &m->layers[il];
        XT_TRY(op->rms_norm(be, m->xn, m->x, L->attn_norm.data, hp->norm_add, nt, E, hp->eps));
        // Rows before `skip` are dead after the last layer's K/V are cached.
        const int64_t skip = il == hp->n_layer - 1 ? r0 : 0;
        XT_TRY(attention_block(m, L, il, nt, pos0, skip));
        if (skip < nt) XT_TRY(ffn_block(m, L, il, m->x + skip * E, nt - skip, pos0 + skip));
    }
    if (r0 >= nt) return XT_OK;
    const int64_t n_out = nt - r0;
    XT_TRY(op->rms_norm(be, m->xn, m->x + r0 * E, m->output_norm.data, hp->norm_add,
                        n_out, E, hp->eps));
    if (m->hidden_out) {  // final-norm hidden states instead of logits
        memcpy(logits, m->xn, (size_t)(n_out * E) * sizeof(float));
        return XT_OK;
    }
    XT_TRY(op->matmul(be, &m->output, m->xn, n_out, logits));
    if (hp->final_softcap > 0.0f) {
        XT_TRY(op->softcap(be, logits, hp->final_softcap, n_out * hp->n_vocab));
    }
    return XT_OK;
}

xt_status xt_model_run(xt_model *m, const int32_t *tokens, int64_t n, bool all_logits,
                       float *logits) {
    const int64_t V = m->hidden_out ? m->hp.n_embd : m->hp.n_vocab;
    for (int64_t c = 0; c < n; c += m->n_batch) {
        const int64_t nt = n - c < m->n_batch ? n - c : m->n_batch;
        const bool last = c + nt == n;
        int64_t r0 = nt;
        float *dst = NULL;
        if (all_logits) {
            r0 = 0;
            dst = logits + c * V;
        } else if (last) {
            r0 = nt - 1;
            dst = logits;
        }
        XT_TRY(run_chunk(m, tokens + c, nt, m->n_past + c, r0, dst));
    }
    return XT_OK;
}
