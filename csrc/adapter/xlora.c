// xlora.c — X-LoRA routing on any architecture the runner supports: per call, a scaling pass
// over the new tokens with its own KV cache (experts weighted by scaling_pass_value), the
// classifier on its final-norm hidden states, then the real pass with per-token, per-layer,
// per-expert scalings on the model's KV cache. Each decode step costs two single-token
// passes, equal to PEFT's full recompute because attention is causal. The non-granular state
// (tgt_non_granular_index = k) reuses decode step k's scalings and skips the scaling pass.
#include <stdlib.h>
#include <string.h>

#include "adapter/lora_state.h"
#include "core/status.h"

// ---- layer axis ----

// PEFT numbers the LoRA-wrapped modules in registration order: blocks in order, and inside a
// block the projections in the order the HF module defines them.
int64_t xt_xlora_assign_layers(xt_model *m, const xt_adapter *ad, int64_t *slot_xl) {
    static const xt_lora_role split[] = {XT_LR_Q, XT_LR_K, XT_LR_V, XT_LR_O,
                                         XT_LR_GATE, XT_LR_UP, XT_LR_DOWN};
    static const xt_lora_role fused[] = {XT_LR_O, XT_LR_QKV, XT_LR_GATE, XT_LR_UP, XT_LR_DOWN};
    const bool is_fused = m->layers[0].wqkv.data != NULL;  // phi3: o_proj precedes qkv_proj
    const xt_lora_role *order = is_fused ? fused : split;
    const int n_roles = is_fused ? 5 : 7;
    int64_t n = 0;
    for (int64_t i = 0; i < m->hp.n_layer * XT_LR_COUNT; i++) slot_xl[i] = -1;
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        for (int r = 0; r < n_roles; r++) {
            bool any = false;
            for (int64_t e = 0; e < ad->n_experts && !any; e++) {
                const xt_adapter *x = ad->experts[e];
                for (int64_t i = 0; i < x->n_mods && !any; i++) {
                    any = x->mods[i].layer == il && x->mods[i].role == order[r];
                }
            }
            if (any) slot_xl[il * XT_LR_COUNT + order[r]] = n++;
        }
    }
    return n;
}

// ---- runtime ----

void xt_xlora_rt_free(xt_model *m, xt_xlora_rt *x) {
    if (x == NULL) return;
    m->be->ops->free(m->be, x->kv2);
    free(x->raw);
    free(x->proc);
    free(x->hidden);
    free(x->c0);
    free(x->c1);
    free(x->ng_raw);
    free(x->ng_proc);
    free(x);
}

xt_status xt_xlora_rt_new(xt_model *m, const xt_adapter *ad, xt_xlora_rt **out) {
    const xt_xlora_config *c = &ad->xcfg;
    int64_t *xl = malloc((size_t)(m->hp.n_layer * XT_LR_COUNT) * sizeof *xl);
    XT_RETURN_IF(xl == NULL, XT_ERR_NOMEM, "out of memory");
    const int64_t L = xt_xlora_assign_layers(m, ad, xl), N = ad->n_experts;
    free(xl);
    const int64_t want = c->layerwise ? L * N : N;
    XT_RETURN_IF(c->d_out != want, XT_ERR_INVALID_ARG, "X-LoRA adapter %s: the classifier gives "
                 "%" PRId64 " outputs, but this model has %" PRId64 " LoRA layers x %" PRId64
                 " adapters = %" PRId64 " (layerwise_scalings is %s)", ad->path, c->d_out, L, N,
                 L * N, c->layerwise ? "true" : "false");
    xt_xlora_rt *x = calloc(1, sizeof *x);
    XT_RETURN_IF(x == NULL, XT_ERR_NOMEM, "out of memory");
    x->n_layers = L;
    x->n_experts = N;
    int64_t width = c->d_out;
    for (int64_t l = 0; l < c->depth; l++) {
        if (c->w[l].ne[1] > width) width = c->w[l].ne[1];
    }
    const size_t rows = (size_t)(m->n_ctx * L * N);
    x->raw = calloc(rows, sizeof(float));
    x->proc = calloc(rows, sizeof(float));
    x->hidden = malloc((size_t)(m->n_batch * m->hp.n_embd) * sizeof(float));
    x->c0 = malloc((size_t)(m->n_batch * width) * sizeof(float));
    x->c1 = malloc((size_t)(m->n_batch * width) * sizeof(float));
    x->ng_raw = calloc((size_t)(L * N), sizeof(float));
    x->ng_proc = calloc((size_t)(L * N), sizeof(float));
    xt_status s = m->be->ops->alloc(m->be, m->kv_bytes, &x->kv2);
    if (s == XT_OK && !(x->raw && x->proc && x->hidden && x->c0 && x->c1 && x->ng_raw && x->ng_proc)) {
        s = xt_error(XT_ERR_NOMEM, "out of memory for the X-LoRA buffers");
    }
    if (s != XT_OK) {
        xt_xlora_rt_free(m, x);
        return s;
    }
    xt_xlora_make_dummy(c, N, x->dummy, &x->dummy_zero);
    *out = x;
    return XT_OK;
}

void xt_xlora_reset(xt_model *m) {
    xt_lora_state *s = m->lora;
    for (int64_t i = 0; s && i < s->n; i++) {
        xt_xlora_rt *x = s->list[i].x;
        if (x == NULL) continue;
        x->ng_counter = 0;
        x->ng_cached = false;
        x->last_from = x->last_to = 0;
        x->valid = 0;
    }
}

// ---- the two passes ----

// Points every layer's K/V at the cache starting at `to` (same layout as the one at `from`).
static void swap_cache(xt_model *m, void *from, void *to) {
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        xt_layer *L = &m->layers[il];
        L->k_cache = (uint8_t *)to + ((uint8_t *)L->k_cache - (uint8_t *)from);
        L->v_cache = (uint8_t *)to + ((uint8_t *)L->v_cache - (uint8_t *)from);
    }
}

static xt_status scaling_pass(xt_model *m, xt_attached *e, const int32_t *tokens, int64_t n) {
    xt_lora_state *s = m->lora;
    xt_xlora_rt *x = e->x;
    const int64_t p0 = m->n_past;
    xt_status st = XT_OK;
    swap_cache(m, m->kv_mem, x->kv2);
    s->mode = x->dummy_zero ? XT_LMODE_OFF : XT_LMODE_XDUMMY;
    m->hidden_out = x->hidden;
    for (int64_t c = 0; c < n && st == XT_OK; c += m->n_batch) {
        const int64_t nt = n - c < m->n_batch ? n - c : m->n_batch;
        m->n_past = p0 + c;
        st = xt_model_run(m, tokens + c, nt, true, x->hidden);
        if (st == XT_OK) st = xt_xlora_classify(m, &e->ad->xcfg, x, x->hidden, nt, p0 + c);
    }
    m->hidden_out = NULL;
    m->n_past = p0;
    s->mode = XT_LMODE_PLAIN;
    swap_cache(m, x->kv2, m->kv_mem);
    if (st == XT_OK) x->scaling_passes++;
    return st;
}

xt_status xt_xlora_forward(xt_model *m, const int32_t *tokens, int64_t n, bool all_logits,
                           float *logits) {
    xt_lora_state *s = m->lora;
    xt_attached *e = s->xlora;
    xt_xlora_rt *x = e->x;
    const int64_t p0 = m->n_past, LN = x->n_layers * x->n_experts;
    const int64_t k = e->ad->xcfg.non_granular_index;
    // The scaling pass attends over its own cache: it must have seen the whole sequence.
    XT_RETURN_IF(p0 > x->valid, XT_ERR_INVALID_ARG, "X-LoRA adapter '%s' was not active for "
                 "positions %" PRId64 "..%" PRId64 " of this sequence (its scaling-pass cache "
                 "lacks them): reset() and run the sequence with it active", e->name, x->valid,
                 p0 - 1);
    if (x->ng_cached) {
        for (int64_t t = 0; t < n; t++) {
            memcpy(x->raw + (p0 + t) * LN, x->ng_raw, (size_t)LN * sizeof(float));
            memcpy(x->proc + (p0 + t) * LN, x->ng_proc, (size_t)LN * sizeof(float));
        }
    } else {
        XT_TRY(scaling_pass(m, e, tokens, n));
        if (k > 0 && n == 1 && ++x->ng_counter == k) {  // the prompt does not count
            memcpy(x->ng_raw, x->raw + p0 * LN, (size_t)LN * sizeof(float));
            memcpy(x->ng_proc, x->proc + p0 * LN, (size_t)LN * sizeof(float));
            x->ng_cached = true;
        }
    }
    s->mode = XT_LMODE_XREAL;
    xt_status st = xt_model_run(m, tokens, n, all_logits, logits);
    s->mode = XT_LMODE_PLAIN;
    if (st == XT_OK) {
        x->last_from = p0;
        x->last_to = p0 + n;
        x->valid = p0 + n;
    }
    return st;
}

// ---- public queries ----

static const xt_xlora_rt *active_rt(const xt_model *m) {
    return m && m->lora && m->lora->xlora ? m->lora->xlora->x : NULL;
}

xt_status xt_model_xlora_shape(const xt_model *m, int64_t *n_layers, int64_t *n_experts,
                               int64_t *last_from, int64_t *last_to) {
    const xt_xlora_rt *x = active_rt(m);
    XT_RETURN_IF(x == NULL, XT_ERR_INVALID_ARG, "no X-LoRA adapter is active");
    *n_layers = x->n_layers;
    *n_experts = x->n_experts;
    *last_from = x->last_from;
    *last_to = x->last_to;
    return XT_OK;
}

xt_status xt_model_xlora_scalings(const xt_model *m, int64_t from, int64_t to, float *out) {
    const xt_xlora_rt *x = active_rt(m);
    XT_RETURN_IF(x == NULL, XT_ERR_INVALID_ARG, "no X-LoRA adapter is active");
    XT_RETURN_IF(from < 0 || to < from || to > m->n_past, XT_ERR_INVALID_ARG,
                 "xlora_scalings: positions [%" PRId64 ", %" PRId64 ") are not computed (the "
                 "sequence has %" PRId64 ")", from, to, m->n_past);
    const int64_t LN = x->n_layers * x->n_experts;
    memcpy(out, x->raw + from * LN, (size_t)((to - from) * LN) * sizeof(float));
    return XT_OK;
}

void xt_model_xlora_counters(const xt_model *m, int64_t *scaling_passes, int64_t *ng_counter) {
    const xt_xlora_rt *x = active_rt(m);
    *scaling_passes = x ? x->scaling_passes : 0;
    *ng_counter = x ? x->ng_counter : 0;
}
