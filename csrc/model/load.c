// load.c — builds an xt_model from a source: hyper-parameters (checked and bounded), weight
// views with their shapes verified, F32 copies of small non-F32 vectors, the KV cache and one
// scratch arena sized from the config, then the backend's own scratch (reserve).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/model.h"
#include "quant/quant.h"

// ---- hyper-parameters ----

static xt_status key_int(xt_model *m, const char *key, bool required, int64_t def, int64_t lo,
                         int64_t hi, int64_t *out) {
    bool found;
    int64_t v = def;
    XT_TRY(m->src.get_int(m->src.ctx, key, &v, &found));
    XT_RETURN_IF(!found && required, XT_ERR_BAD_FILE, "%s.%s is missing", m->src.arch, key);
    XT_RETURN_IF(found && (v < lo || v > hi), XT_ERR_BAD_FILE,
                 "%s.%s = %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", m->src.arch,
                 key, v, lo, hi);
    *out = v;
    return XT_OK;
}

static xt_status key_float(xt_model *m, const char *key, bool required, double def, float *out) {
    bool found;
    double v = def;
    XT_TRY(m->src.get_float(m->src.ctx, key, &v, &found));
    XT_RETURN_IF(!found && required, XT_ERR_BAD_FILE, "%s.%s is missing", m->src.arch, key);
    XT_RETURN_IF(!isfinite(v), XT_ERR_BAD_FILE, "%s.%s is not finite", m->src.arch, key);
    *out = (float)v;
    return XT_OK;
}

static xt_status read_hparams(xt_model *m) {
    xt_hparams *hp = &m->hp;
    const xt_arch_desc *d = m->arch;
    memset(hp, 0, sizeof *hp);
    XT_TRY(key_int(m, "embedding_length", true, 0, 1, 1 << 20, &hp->n_embd));
    XT_TRY(key_int(m, "block_count", true, 0, 1, 4096, &hp->n_layer));
    XT_TRY(key_int(m, "attention.head_count", true, 0, 1, 4096, &hp->n_head));
    XT_TRY(key_int(m, "attention.head_count_kv", false, hp->n_head, 1, hp->n_head, &hp->n_head_kv));
    XT_RETURN_IF(hp->n_head % hp->n_head_kv != 0, XT_ERR_BAD_FILE,
                 "%s: %" PRId64 " heads are not a multiple of %" PRId64 " KV heads", d->name,
                 hp->n_head, hp->n_head_kv);
    XT_TRY(key_int(m, "feed_forward_length", true, 0, 1, 1 << 22, &hp->n_ff));
    XT_TRY(key_int(m, "context_length", false, 0, 0, XT_MODEL_MAX_CTX, &hp->n_ctx_train));
    XT_TRY(key_int(m, "attention.key_length", false, hp->n_embd / hp->n_head, 1, 1 << 14,
                   &hp->head_dim));
    XT_TRY(key_int(m, "attention.value_length", false, hp->head_dim, 1, 1 << 14, &hp->head_dim_v));
    XT_TRY(key_int(m, "rope.dimension_count", false, hp->head_dim, 0, hp->head_dim, &hp->n_rot));
    XT_RETURN_IF(hp->n_rot % 2 != 0, XT_ERR_BAD_FILE, "%s.rope.dimension_count = %" PRId64
                 " is odd", d->name, hp->n_rot);
    XT_RETURN_IF(d->rope_full_head && hp->n_rot != hp->head_dim, XT_ERR_BAD_FILE,
                 "%s.rope.dimension_count = %" PRId64 " must equal the head size %" PRId64,
                 d->name, hp->n_rot, hp->head_dim);
    XT_TRY(key_float(m, "attention.layer_norm_rms_epsilon", true, 0, &hp->eps));
    XT_RETURN_IF(!(hp->eps >= 0.0f), XT_ERR_BAD_FILE, "%s: negative RMS epsilon", d->name);
    XT_TRY(key_float(m, "rope.freq_base", false, 10000.0, &hp->rope_base));
    double swa_def = d->rope_base_swa_default > 0 ? d->rope_base_swa_default : hp->rope_base;
    XT_TRY(key_float(m, "rope.freq_base_swa", false, swa_def, &hp->rope_base_swa));
    XT_RETURN_IF(!(hp->rope_base > 0 && hp->rope_base_swa > 0), XT_ERR_BAD_FILE,
                 "%s: rope.freq_base must be positive", d->name);
    float factor = 0.0f;
    XT_TRY(key_float(m, "rope.scaling.factor", false, 0.0, &factor));
    if (factor == 0.0f) XT_TRY(key_float(m, "rope.scale_linear", false, 0.0, &factor));
    XT_RETURN_IF(factor < 0.0f, XT_ERR_BAD_FILE, "%s.rope.scaling.factor is negative", d->name);
    hp->rope_freq_scale = factor == 0.0f ? 1.0f : 1.0f / factor;
    XT_TRY(key_float(m, "rope.scaling.attn_factor", false, 1.0, &hp->rope_attn_factor));
    XT_TRY(key_int(m, "rope.scaling.original_context_length", false, 0, 0, XT_MODEL_MAX_CTX,
                   &hp->n_ctx_orig));
    XT_TRY(key_int(m, "attention.sliding_window", false, 0, 0, XT_MODEL_MAX_CTX, &hp->n_swa));
    int64_t period = d->swa_period_default;
    XT_TRY(key_int(m, "attention.sliding_window_pattern", false, period, 0, 4096, &period));
    hp->swa_period = d->swa_period_default > 0 ? (int)period : 0;
    if (hp->swa_period == 0) hp->n_swa = 0;
    XT_TRY(key_float(m, "final_logit_softcapping", false, 0.0, &hp->final_softcap));
    XT_TRY(key_float(m, "attn_logit_softcapping", false, 0.0, &hp->attn_softcap));
    hp->q_scale = 1.0f / sqrtf((float)hp->head_dim);
    hp->norm_add = (m->src.flags & XT_SRC_NORM_ADD_ONE) ? 1.0f : 0.0f;
    if (d->hparams_hook) XT_TRY(d->hparams_hook(hp));
    float qpas = 0.0f;  // HF query_pre_attn_scalar (GGUF has no such key)
    XT_TRY(key_float(m, "attention.query_pre_attn_scalar", false, 0.0, &qpas));
    XT_RETURN_IF(qpas < 0.0f, XT_ERR_BAD_FILE, "%s: query_pre_attn_scalar is negative", d->name);
    if (qpas > 0.0f) hp->q_scale = 1.0f / sqrtf(qpas);
    return XT_OK;
}

// ---- tensors ----

static xt_status own_f32(xt_model *m, const xt_tensor *t, float **out) {
    if (m->n_owned == m->cap_owned) {
        int64_t cap = m->cap_owned ? m->cap_owned * 2 : 64;
        void **p = realloc(m->owned, (size_t)cap * sizeof *p);
        XT_RETURN_IF(p == NULL, XT_ERR_NOMEM, "out of memory");
        m->owned = p;
        m->cap_owned = cap;
    }
    int64_t n = xt_tensor_nelements(t);
    float *f = malloc((size_t)n * sizeof(float) + 1);
    XT_RETURN_IF(f == NULL, XT_ERR_NOMEM, "out of memory for tensor '%s'", t->name);
    m->owned[m->n_owned++] = f;
    xt_quant_kernels_get()->to_float[t->type](t->data, f, n);
    *out = f;
    return XT_OK;
}

// Finds `name` and checks its shape; a missing required tensor is XT_ERR_BAD_FILE.
// kind: 'm' matmul weight (ne0 = in, ne1 = out), 'v' f32 vector (ne0 = in).
static xt_status tensor(xt_model *m, const char *name, char kind, int64_t in, int64_t out_dim,
                        bool required, xt_tensor *t) {
    bool found = false;
    memset(t, 0, sizeof *t);
    XT_TRY(m->src.get_tensor(m->src.ctx, name, t, &found));
    if (!found) {
        const char *own = t->name;  // the source's name for it, when it has one
        memset(t, 0, sizeof *t);
        XT_RETURN_IF(required && own != NULL && strcmp(own, name) != 0, XT_ERR_BAD_FILE,
                     "%s model: tensor '%s' (%s) is missing", m->arch->name, own, name);
        XT_RETURN_IF(required, XT_ERR_BAD_FILE, "%s model: tensor '%s' is missing", m->arch->name,
                     name);
        return XT_OK;
    }
    const char *shown = t->name != NULL ? t->name : name;
    const xt_dtype_info *info = xt_dtype_get((uint32_t)t->type);
    if (kind == 'm') {
        XT_RETURN_IF(t->ne[0] != in || t->ne[1] != out_dim || t->ne[2] != 1 || t->ne[3] != 1,
                     XT_ERR_BAD_FILE, "tensor '%s' has shape [%" PRId64 ", %" PRId64 ", %" PRId64
                     "], expected [%" PRId64 ", %" PRId64 "]", shown, t->ne[0], t->ne[1],
                     t->ne[2], in, out_dim);
        if (!m->be->ops->supports(m->be, XT_OP_MATMUL, t->type)) {
            return xt_backend_unsupported(m->be, "matmul", t->type);
        }
    } else {
        XT_RETURN_IF(xt_tensor_nelements(t) != in || t->ne[0] != in, XT_ERR_BAD_FILE,
                     "tensor '%s' has %" PRId64 " elements, expected %" PRId64, shown,
                     xt_tensor_nelements(t), in);
        if (t->type != XT_DTYPE_F32) {
            const xt_quant_traits *qt = xt_quant_traits_get(t->type);
            XT_RETURN_IF(qt == NULL || xt_quant_kernels_get()->to_float[t->type] == NULL,
                         XT_ERR_UNSUPPORTED, "tensor '%s': type %s cannot be decoded", name,
                         info ? info->name : "?");
            float *f = NULL;
            XT_TRY(own_f32(m, t, &f));
            t->data = f;
            t->type = XT_DTYPE_F32;
        }
    }
    return XT_OK;
}

static xt_status layer_tensor(xt_model *m, int64_t il, const char *base, const char *suffix,
                              char kind, int64_t in, int64_t out_dim, bool required,
                              xt_tensor *t) {
    char name[128];
    snprintf(name, sizeof name, "blk.%" PRId64 ".%s.%s", il, base, suffix);
    return tensor(m, name, kind, in, out_dim, required, t);
}

static xt_status bind_layer(xt_model *m, int64_t il) {
    const xt_arch_desc *d = m->arch;
    const xt_arch_names *nm = d->names;
    const xt_hparams *hp = &m->hp;
    xt_layer *L = &m->layers[il];
    const int64_t E = hp->n_embd, qkv = m->q_dim + m->k_dim + m->v_dim;
    XT_TRY(layer_tensor(m, il, nm->attn_norm, "weight", 'v', E, 0, true, &L->attn_norm));
    XT_TRY(layer_tensor(m, il, nm->attn_qkv, "weight", 'm', E, qkv, false, &L->wqkv));
    if (L->wqkv.data != NULL) {
        XT_TRY(layer_tensor(m, il, nm->attn_qkv, "bias", 'v', qkv, 0, false, &L->bqkv));
    } else {
        XT_TRY(layer_tensor(m, il, nm->attn_q, "weight", 'm', E, m->q_dim, true, &L->wq));
        XT_TRY(layer_tensor(m, il, nm->attn_k, "weight", 'm', E, m->k_dim, true, &L->wk));
        XT_TRY(layer_tensor(m, il, nm->attn_v, "weight", 'm', E, m->v_dim, true, &L->wv));
        XT_TRY(layer_tensor(m, il, nm->attn_q, "bias", 'v', m->q_dim, 0, d->qkv_bias, &L->bq));
        XT_TRY(layer_tensor(m, il, nm->attn_k, "bias", 'v', m->k_dim, 0, d->qkv_bias, &L->bk));
        XT_TRY(layer_tensor(m, il, nm->attn_v, "bias", 'v', m->v_dim, 0, d->qkv_bias, &L->bv));
    }
    XT_TRY(layer_tensor(m, il, nm->attn_out, "weight", 'm', hp->n_head * hp->head_dim_v, E, true,
                        &L->wo));
    if (d->qk_norm) {
        XT_TRY(layer_tensor(m, il, nm->attn_q_norm, "weight", 'v', hp->head_dim, 0, true, &L->q_norm));
        XT_TRY(layer_tensor(m, il, nm->attn_k_norm, "weight", 'v', hp->head_dim, 0, true, &L->k_norm));
    }
    if (d->post_norms) {
        XT_TRY(layer_tensor(m, il, nm->post_attn_norm, "weight", 'v', E, 0, true, &L->post_attn_norm));
        XT_TRY(layer_tensor(m, il, nm->post_ffw_norm, "weight", 'v', E, 0, true, &L->post_ffw_norm));
    }
    XT_TRY(layer_tensor(m, il, nm->ffn_norm, "weight", 'v', E, 0, true, &L->ffn_norm));
    if (d->fused_gate_up) {
        XT_TRY(layer_tensor(m, il, nm->ffn_up, "weight", 'm', E, 2 * hp->n_ff, true, &L->w_up));
    } else {
        XT_TRY(layer_tensor(m, il, nm->ffn_gate, "weight", 'm', E, hp->n_ff, true, &L->w_gate));
        XT_TRY(layer_tensor(m, il, nm->ffn_up, "weight", 'm', E, hp->n_ff, true, &L->w_up));
    }
    XT_TRY(layer_tensor(m, il, nm->ffn_down, "weight", 'm', hp->n_ff, E, true, &L->w_down));

    L->swa = hp->n_swa > 0 && hp->swa_period > 0 && il % hp->swa_period < hp->swa_period - 1;
    bool local_base = L->swa && m->arch->rope_base_swa_default > 0;
    L->rope = (xt_rope_params){
        .n_rot = hp->n_rot,
        .neox = d->rope == XT_ROPE_NEOX || (m->src.flags & XT_SRC_ROPE_NEOX),
        .freq_base = L->swa ? hp->rope_base_swa : hp->rope_base,
        .freq_scale = local_base ? 1.0f : hp->rope_freq_scale,
        .attn_factor = hp->rope_attn_factor,
        .freq_factors = m->rope_factors.data,
    };
    return XT_OK;
}

static xt_status bind_globals(xt_model *m) {
    const xt_arch_names *nm = m->arch->names;
    const xt_hparams *hp = &m->hp;
    char name[128];
    bool found = false;
    snprintf(name, sizeof name, "%s.weight", nm->token_embd);
    XT_TRY(m->src.get_tensor(m->src.ctx, name, &m->tok_embd, &found));
    const char *shown = m->tok_embd.name != NULL ? m->tok_embd.name : name;
    XT_RETURN_IF(!found, XT_ERR_BAD_FILE, "%s model: tensor '%s' is missing", m->arch->name,
                 shown);
    XT_RETURN_IF(m->tok_embd.ne[0] != hp->n_embd || m->tok_embd.ne[2] != 1 ||
                 m->tok_embd.ne[1] < 1 || m->tok_embd.ne[1] > INT32_MAX, XT_ERR_BAD_FILE,
                 "tensor '%s' has shape [%" PRId64 ", %" PRId64 "], expected [%" PRId64 ", n_vocab]",
                 shown, m->tok_embd.ne[0], m->tok_embd.ne[1], hp->n_embd);
    m->hp.n_vocab = m->tok_embd.ne[1];
    if (!m->be->ops->supports(m->be, XT_OP_GET_ROWS, m->tok_embd.type)) {
        return xt_backend_unsupported(m->be, "get_rows", m->tok_embd.type);
    }
    snprintf(name, sizeof name, "%s.weight", nm->output_norm);
    XT_TRY(tensor(m, name, 'v', hp->n_embd, 0, true, &m->output_norm));
    snprintf(name, sizeof name, "%s.weight", nm->output);
    XT_TRY(tensor(m, name, 'm', hp->n_embd, m->hp.n_vocab, false, &m->output));
    if (m->output.data == NULL) {  // tied embeddings
        m->output = m->tok_embd;
        if (!m->be->ops->supports(m->be, XT_OP_MATMUL, m->output.type)) {
            return xt_backend_unsupported(m->be, "matmul", m->output.type);
        }
    }
    const char *factors = nm->rope_freqs;
    if (m->arch->longrope_factors) {
        factors = hp->n_ctx_orig > 0 && m->n_ctx > hp->n_ctx_orig ? nm->rope_long : nm->rope_short;
    }
    snprintf(name, sizeof name, "%s.weight", factors);
    XT_TRY(tensor(m, name, 'v', hp->n_rot / 2, 0, false, &m->rope_factors));
    return XT_OK;
}

// ---- statistics ----

static void count_tensor(const xt_tensor *t, void *user) {
    xt_model *m = user;
    int64_t n = xt_tensor_nelements(t);
    m->n_params += n;
    if ((unsigned)t->type < XT_DTYPE_COUNT) {
        m->type_tensors[t->type] += 1;
        m->type_params[t->type] += n;
    }
    m->weight_bytes += xt_tensor_nbytes(t);
}

// ---- memory ----

static xt_status alloc_cache(xt_model *m) {
    const xt_hparams *hp = &m->hp;
    size_t el = m->kv_type == XT_DTYPE_F16 ? 2 : 4;
    double total = (double)hp->n_layer * (double)m->n_ctx * (double)(m->k_dim + m->v_dim) * el;
    XT_RETURN_IF(total > 1e15, XT_ERR_NOMEM, "KV cache of %.0f bytes is too large", total);
    size_t k_bytes = (size_t)m->n_ctx * (size_t)m->k_dim * el;
    size_t v_bytes = (size_t)m->n_ctx * (size_t)m->v_dim * el;
    m->kv_bytes = (size_t)hp->n_layer * (k_bytes + v_bytes);
    XT_TRY(m->be->ops->alloc(m->be, m->kv_bytes, &m->kv_mem));
    uint8_t *p = m->kv_mem;
    for (int64_t il = 0; il < hp->n_layer; il++) {
        m->layers[il].k_cache = p;
        m->layers[il].v_cache = p + k_bytes;
        p += k_bytes + v_bytes;
    }
    return XT_OK;
}

static xt_status alloc_arena(xt_model *m) {
    const xt_hparams *hp = &m->hp;
    const int64_t B = m->n_batch;
    const int64_t sizes[] = {
        B * hp->n_embd, B * hp->n_embd, B * (m->q_dim + m->k_dim + m->v_dim),
        B * hp->n_head * hp->head_dim_v, B * 2 * hp->n_ff, B * hp->n_ff, B * hp->n_embd,
    };
    float **slots[] = {&m->x, &m->xn, &m->qkv, &m->att, &m->ffn, &m->act, &m->tmp};
    size_t total = 0;
    for (int i = 0; i < 7; i++) total += ((size_t)sizes[i] * sizeof(float) + 63) & ~(size_t)63;
    XT_TRY(m->be->ops->alloc(m->be, total, &m->arena));
    m->arena_bytes = total;
    uint8_t *p = m->arena;
    for (int i = 0; i < 7; i++) {
        *slots[i] = (float *)p;
        p += ((size_t)sizes[i] * sizeof(float) + 63) & ~(size_t)63;
    }
    return XT_OK;
}

static xt_status reserve_backend(xt_model *m) {
    const xt_hparams *hp = &m->hp;
    int64_t n = 0, cap = hp->n_layer * 6 + 1;
    const xt_tensor **ws = malloc((size_t)cap * sizeof *ws);
    XT_RETURN_IF(ws == NULL, XT_ERR_NOMEM, "out of memory");
    for (int64_t il = 0; il < hp->n_layer; il++) {
        const xt_layer *L = &m->layers[il];
        const xt_tensor *all[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->w_gate,
                                  &L->w_up, &L->w_down};
        for (int i = 0; i < 8; i++) {
            if (all[i]->data != NULL && n < cap) ws[n++] = all[i];
        }
    }
    ws[n < cap ? n++ : cap - 1] = &m->output;
    xt_backend_plan plan = {m->n_ctx, hp->head_dim, hp->head_dim_v, m->n_batch, ws, n};
    xt_status s = m->be->ops->reserve(m->be, &plan);
    free(ws);
    return s;
}

// ---- build ----

xt_status xt_model_build(xt_model *m, const xt_model_params *params) {
    XT_TRY(xt_arch_find(m->src.arch, &m->arch));
    XT_TRY(read_hparams(m));
    const xt_hparams *hp = &m->hp;
    XT_RETURN_IF(params->kv_type != XT_DTYPE_F16 && params->kv_type != XT_DTYPE_F32,
                 XT_ERR_INVALID_ARG, "kv_type must be F16 or F32");
    m->kv_type = params->kv_type;
    int64_t n_ctx = params->n_ctx;
    if (n_ctx <= 0) {
        n_ctx = hp->n_ctx_train > 0 && hp->n_ctx_train < XT_MODEL_DEFAULT_CTX ? hp->n_ctx_train
                                                                             : XT_MODEL_DEFAULT_CTX;
    }
    XT_RETURN_IF(n_ctx > XT_MODEL_MAX_CTX, XT_ERR_INVALID_ARG, "n_ctx %" PRId64 " is above %" PRId64,
                 n_ctx, XT_MODEL_MAX_CTX);
    m->n_ctx = n_ctx;
    m->ffn_act = m->arch->act;
    if (m->ffn_act == XT_ACT_GELU_TANH && params->ggml_gelu) m->ffn_act = XT_ACT_GELU_TANH_TABLE;
    m->n_batch = params->n_batch > 0 ? params->n_batch : XT_MODEL_DEFAULT_BATCH;
    if (m->n_batch > n_ctx) m->n_batch = n_ctx;
    m->q_dim = hp->n_head * hp->head_dim;
    m->k_dim = hp->n_head_kv * hp->head_dim;
    m->v_dim = hp->n_head_kv * hp->head_dim_v;

    XT_TRY(xt_backend_cpu_new(params->n_threads, &m->be));
    XT_TRY(bind_globals(m));
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    XT_RETURN_IF(m->layers == NULL, XT_ERR_NOMEM, "out of memory");
    for (int64_t il = 0; il < hp->n_layer; il++) XT_TRY(bind_layer(m, il));
    m->src.each_tensor(m->src.ctx, count_tensor, m);
    XT_TRY(alloc_cache(m));
    XT_TRY(alloc_arena(m));
    return reserve_backend(m);
}
