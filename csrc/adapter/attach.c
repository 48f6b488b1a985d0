// attach.c — adapters on a model: attach (a checked private copy, Q/K rows permuted to the
// base's order), the active set compiled into stacked low-rank pairs per targeted matmul,
// remove, and merge/unmerge into float base weights. Every operation is transactional: on
// failure the model's adapter set is as it was.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/lora_state.h"
#include "core/status.h"
#include "quant/fp16.h"
#include "quant/quant.h"
#include "core/dtype.h"

// ---- the model's weights ----

xt_tensor *xt_lora_weight(xt_model *m, int64_t il, xt_lora_role role) {
    if (il < 0 || il >= m->hp.n_layer) return NULL;
    xt_layer *L = &m->layers[il];
    xt_tensor *t = NULL;
    switch (role) {
    case XT_LR_Q: t = &L->wq; break;
    case XT_LR_K: t = &L->wk; break;
    case XT_LR_V: t = &L->wv; break;
    case XT_LR_QKV: t = &L->wqkv; break;
    case XT_LR_O: t = &L->wo; break;
    case XT_LR_GATE: t = &L->w_gate; break;
    case XT_LR_UP: t = &L->w_up; break;
    case XT_LR_DOWN: t = &L->w_down; break;
    default: return NULL;
    }
    return t->data != NULL ? t : NULL;
}

static xt_status state(xt_model *m, xt_lora_state **out) {
    if (m->lora == NULL) {
        xt_lora_state *s = calloc(1, sizeof *s);
        XT_RETURN_IF(s == NULL, XT_ERR_NOMEM, "out of memory");
        s->slots = calloc((size_t)(m->hp.n_layer * XT_LR_COUNT), sizeof *s->slots);
        if (s->slots == NULL) {
            free(s);
            return xt_error(XT_ERR_NOMEM, "out of memory");
        }
        m->lora = s;
    }
    *out = m->lora;
    return XT_OK;
}

static xt_attached *find(xt_lora_state *s, const char *name) {
    for (int64_t i = 0; s && i < s->n; i++) {
        if (strcmp(s->list[i].name, name) == 0) return &s->list[i];
    }
    return NULL;
}

// ---- checked copy ----

// HF (rotate-half) -> GGUF (interleaved pairs) row order of Q/K, or back (`inverse`).
static void permute_rows(float *B, int64_t out, int64_t r, int64_t n_head, bool inverse) {
    int64_t hd = out / n_head, half = hd / 2;
    float *tmp = malloc((size_t)(out * r) * sizeof(float));
    if (tmp == NULL) return;  // checked by the caller through the result pointer below
    memcpy(tmp, B, (size_t)(out * r) * sizeof(float));
    for (int64_t h = 0; h < n_head; h++) {
        for (int64_t j = 0; j < half; j++) {
            for (int64_t p = 0; p < 2; p++) {
                int64_t gg = h * hd + 2 * j + p, hf = h * hd + p * half + j;
                int64_t dst = inverse ? hf : gg, src = inverse ? gg : hf;
                memcpy(B + dst * r, tmp + src * r, (size_t)r * sizeof(float));
            }
        }
    }
    free(tmp);
}

static xt_status check_module(xt_model *m, const xt_adapter *ad, const xt_lora_module *md) {
    char wname[64];
    snprintf(wname, sizeof wname, "blk.%" PRId64 ".%s.weight", md->layer, xt_lora_role_gguf(md->role));
    XT_RETURN_IF(md->layer >= m->hp.n_layer, XT_ERR_INVALID_ARG,
                 "adapter %s: module '%s' targets layer %" PRId64 " but the %s model has %" PRId64
                 " layers", ad->path, md->name, md->layer, m->arch->name, m->hp.n_layer);
    const xt_tensor *w = xt_lora_weight(m, md->layer, md->role);
    XT_RETURN_IF(w == NULL, XT_ERR_INVALID_ARG, "adapter %s: module '%s' targets '%s' (%s), "
                 "which the %s model does not have", ad->path, md->name, wname,
                 xt_lora_role_hf(md->role), m->arch->name);
    XT_RETURN_IF(w->ne[0] != md->in || w->ne[1] != md->out, XT_ERR_INVALID_ARG,
                 "adapter %s: module '%s': lora_A [%" PRId64 ", %" PRId64 "] and lora_B [%" PRId64
                 ", %" PRId64 "] make a [%" PRId64 ", %" PRId64 "] delta, but model tensor '%s' "
                 "has shape [%" PRId64 ", %" PRId64 "] (out, in)", ad->path, md->name, md->r,
                 md->in, md->out, md->r, md->out, md->in, wname, w->ne[1], w->ne[0]);
    return XT_OK;
}

static xt_status copy_lora(xt_model *m, const xt_adapter *src, xt_adapter *dst) {
    XT_RETURN_IF(src->arch[0] && strcmp(src->arch, m->arch->name) != 0, XT_ERR_INVALID_ARG,
                 "adapter %s is for architecture '%s' but the model is '%s'", src->path,
                 src->arch, m->arch->name);
    for (int64_t i = 0; i < src->n_mods; i++) XT_TRY(check_module(m, src, &src->mods[i]));
    memcpy(dst->arch, src->arch, sizeof dst->arch);
    dst->gguf_layout = src->gguf_layout;
    dst->mods = calloc((size_t)src->n_mods, sizeof *dst->mods);
    XT_RETURN_IF(dst->mods == NULL, XT_ERR_NOMEM, "out of memory");
    // Rows of Q/K follow the base: GGUF llama files were permuted by the converter for the
    // pair-wise rope, PEFT adapters were not.
    bool base_gguf_rows = m->arch->rope == XT_ROPE_NORM && !(m->src.flags & XT_SRC_ROPE_NEOX);
    bool ad_gguf_rows = src->gguf_layout && m->arch->rope == XT_ROPE_NORM;
    for (int64_t i = 0; i < src->n_mods; i++) {
        const xt_lora_module *s = &src->mods[i];
        xt_lora_module *d = &dst->mods[i];
        *d = *s;
        d->A = malloc((size_t)(s->r * s->in) * sizeof(float));
        d->B = malloc((size_t)(s->out * s->r) * sizeof(float));
        d->BT = malloc((size_t)(s->out * s->r) * sizeof(float));
        dst->n_mods = i + 1;
        XT_RETURN_IF(d->A == NULL || d->B == NULL || d->BT == NULL, XT_ERR_NOMEM, "out of memory");
        memcpy(d->A, s->A, (size_t)(s->r * s->in) * sizeof(float));
        memcpy(d->B, s->B, (size_t)(s->out * s->r) * sizeof(float));
        if (base_gguf_rows != ad_gguf_rows && m->hp.n_rot > 0 &&
            (s->role == XT_LR_Q || s->role == XT_LR_K)) {
            int64_t heads = s->role == XT_LR_Q ? m->hp.n_head : m->hp.n_head_kv;
            permute_rows(d->B, s->out, s->r, heads, !base_gguf_rows);
        }
        // The low-rank output is y += u B^T = sum_j u_j * (row j of B^T): keep B^T.
        for (int64_t o = 0; o < s->out; o++) {
            for (int64_t j = 0; j < s->r; j++) d->BT[j * s->out + o] = d->B[o * s->r + j];
        }
        free(d->B);
        d->B = NULL;
    }
    return XT_OK;
}

static xt_status copy_adapter(xt_model *m, const xt_adapter *src, xt_adapter **out) {
    xt_adapter *d = calloc(1, sizeof *d);
    XT_RETURN_IF(d == NULL, XT_ERR_NOMEM, "out of memory");
    d->kind = src->kind;
    d->path = strdup(src->path);
    xt_status s = d->path ? XT_OK : xt_error(XT_ERR_NOMEM, "out of memory");
    if (s == XT_OK && src->kind == XT_ADAPTER_LORA) s = copy_lora(m, src, d);
    if (s == XT_OK && src->kind == XT_ADAPTER_XLORA) {
        const xt_xlora_config *c = &src->xcfg;
        if (c->hidden_size != m->hp.n_embd) {
            s = xt_error(XT_ERR_INVALID_ARG, "X-LoRA adapter %s: the classifier takes hidden_size "
                         "%" PRId64 " but the model's hidden size is %" PRId64, src->path,
                         c->hidden_size, m->hp.n_embd);
        }
        d->experts = s == XT_OK ? calloc((size_t)src->n_experts, sizeof *d->experts) : NULL;
        if (s == XT_OK && d->experts == NULL) s = xt_error(XT_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; s == XT_OK && i < src->n_experts; i++) {
            s = copy_adapter(m, src->experts[i], &d->experts[i]);
            if (s == XT_OK) d->n_experts = i + 1;
        }
        if (s == XT_OK) {
            d->xcfg = *c;
            memset(d->xcfg.w, 0, sizeof d->xcfg.w);
            memset(d->xcfg.b, 0, sizeof d->xcfg.b);
        }
        for (int64_t l = 0; s == XT_OK && l < c->depth; l++) {
            int64_t n = c->w[l].ne[0] * c->w[l].ne[1];
            float *w = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)c->w[l].ne[1] * sizeof(float));
            d->xcfg.b[l] = b;
            if (w == NULL || b == NULL) {
                free(w);
                s = xt_error(XT_ERR_NOMEM, "out of memory");
                break;
            }
            memcpy(w, c->w[l].data, (size_t)n * sizeof(float));
            memcpy(b, c->b[l], (size_t)c->w[l].ne[1] * sizeof(float));
            d->xcfg.w[l] = c->w[l];
            d->xcfg.w[l].data = w;
        }
    }
    if (s != XT_OK) {
        xt_adapter_free(d);
        return s;
    }
    *out = d;
    return XT_OK;
}

// ---- the active set ----

static void free_slots(xt_lora_slot *slots, int64_t n) {
    for (int64_t i = 0; slots && i < n; i++) {
        if (slots[i].a_owned) free(slots[i].A.data);
        free(slots[i].BT);
        free(slots[i].coef);
        free(slots[i].expert);
    }
    free(slots);
}

typedef struct { const xt_lora_module *md; float coef; int32_t expert; } contrib;

// Slots over quantized weights hold A and B^T in Q8_0 (A dotted with 8-bit activations, as the
// base's own matmuls; B^T as 8-bit rows with a scale per 32 outputs): the base's rounding is
// far larger, and the low-rank term then reads about a quarter of the bytes of F32 per token.
// Float bases keep F32.
static xt_status build_slot(xt_lora_slot *sl, const contrib *c, int64_t nc, bool quantized) {
    int64_t R = 0;
    for (int64_t i = 0; i < nc; i++) R += c[i].md->r;
    sl->R = R;
    if (R == 0) return XT_OK;
    const int64_t in = c[0].md->in, out = c[0].md->out;
    const xt_dtype a_type = quantized && in % 32 == 0 ? XT_DTYPE_Q8_0 : XT_DTYPE_F32;
    sl->bt_type = quantized && out % XT_LOWRANK_CHUNK == 0 ? XT_DTYPE_Q8_0 : XT_DTYPE_F32;
    sl->out = out;
    size_t a_row = (size_t)in * sizeof(float);
    if (a_type == XT_DTYPE_Q8_0) xt_dtype_row_size((uint32_t)a_type, in, &a_row);
    sl->coef = malloc((size_t)R * sizeof(float));
    sl->expert = malloc((size_t)R * sizeof(int32_t));
    sl->BT = malloc(xt_lowrank_bt_bytes(sl->bt_type, R, out));
    float *bt = malloc((size_t)(R * out) * sizeof(float));  // stacked, before packing
    void *A = c[0].md->A;
    if (nc > 1 || a_type != XT_DTYPE_F32) {  // stack A rows one contribution after another
        sl->a_owned = true;
        A = malloc((size_t)R * a_row);
        sl->A.data = A;
    }
    if (sl->coef == NULL || sl->expert == NULL || sl->BT == NULL || bt == NULL || A == NULL) {
        free(bt);
        return xt_error(XT_ERR_NOMEM, "out of memory");
    }
    const xt_quant_traits *q8 = xt_quant_traits_get(XT_DTYPE_Q8_0);
    int64_t off = 0;
    for (int64_t i = 0; i < nc; i++) {
        const xt_lora_module *md = c[i].md;
        if (a_type == XT_DTYPE_Q8_0) {
            for (int64_t j = 0; j < md->r; j++) {
                q8->from_float(md->A + j * in, (uint8_t *)A + (size_t)(off + j) * a_row, in, NULL);
            }
        } else if (nc > 1) {
            memcpy((float *)A + off * in, md->A, (size_t)(md->r * in) * sizeof(float));
        }
        memcpy(bt + off * out, md->BT, (size_t)(md->r * out) * sizeof(float));
        for (int64_t j = 0; j < md->r; j++) {
            sl->coef[off + j] = c[i].coef;
            sl->expert[off + j] = c[i].expert;
        }
        off += md->r;
    }
    xt_lowrank_pack_bt(sl->bt_type, bt, R, out, sl->BT);
    free(bt);
    int64_t ne_a[2] = {in, R};
    return xt_tensor_init(&sl->A, a_type, 2, ne_a, A);
}

static const xt_lora_module *module_of(const xt_adapter *a, int64_t il, xt_lora_role role) {
    for (int64_t i = 0; i < a->n_mods; i++) {
        if (a->mods[i].layer == il && a->mods[i].role == role) return &a->mods[i];
    }
    return NULL;
}

xt_status xt_lora_rebuild(xt_model *m) {
    xt_lora_state *s = m->lora;
    const int64_t n_slots = m->hp.n_layer * XT_LR_COUNT;
    xt_lora_slot *slots = calloc((size_t)n_slots, sizeof *slots);
    int64_t *xl = malloc((size_t)n_slots * sizeof *xl);
    contrib *c = malloc((size_t)(s->n + XT_XLORA_MAX_EXPERTS + 1) * sizeof *c);
    xt_status st = slots && xl && c ? XT_OK : xt_error(XT_ERR_NOMEM, "out of memory");
    xt_attached *x = NULL;
    for (int64_t i = 0; st == XT_OK && i < s->n; i++) {
        if (s->list[i].active && s->list[i].ad->kind == XT_ADAPTER_XLORA) x = &s->list[i];
    }
    if (st == XT_OK && x) xt_xlora_assign_layers(m, x->ad, xl);
    int64_t max_r = 0, max_out = 0, max_in = 0;
    bool any = false;
    for (int64_t si = 0; st == XT_OK && si < n_slots; si++) {
        const int64_t il = si / XT_LR_COUNT;
        const xt_lora_role role = (xt_lora_role)(si % XT_LR_COUNT);
        int64_t nc = 0;
        if (x) {
            for (int64_t e = 0; e < x->ad->n_experts; e++) {
                const xt_lora_module *md = module_of(x->ad->experts[e], il, role);
                if (md) c[nc++] = (contrib){md, x->scale * md->scale, (int32_t)e};
            }
        } else {
            for (int64_t i = 0; i < s->n; i++) {
                const xt_attached *e = &s->list[i];
                if (!e->active) continue;
                const xt_lora_module *md = module_of(e->ad, il, role);
                if (md) c[nc++] = (contrib){md, e->weight * e->scale * md->scale, -1};
            }
        }
        slots[si].xl = x && nc > 0 ? xl[si] : -1;
        if (nc == 0) continue;
        any = true;
        const xt_dtype wt = xt_lora_weight(m, il, role)->type;
        const bool quantized = wt != XT_DTYPE_F32 && wt != XT_DTYPE_F16 && wt != XT_DTYPE_BF16;
        st = build_slot(&slots[si], c, nc, quantized);
        if (slots[si].R > max_r) max_r = slots[si].R;
        if (c[0].md->out > max_out) max_out = c[0].md->out;
        if (c[0].md->in > max_in) max_in = c[0].md->in;
    }
    // Scratch for the low-rank path, sized here so the token loop never allocates.
    float *u = NULL;
    int64_t cap = XT_LOWRANK_MAX_TERMS * m->n_batch * max_r;
    if (st == XT_OK && cap > s->u_cap) {
        u = malloc((size_t)cap * sizeof(float));
        if (u == NULL) st = xt_error(XT_ERR_NOMEM, "out of memory");
    }
    if (st == XT_OK && any) st = m->be->ops->reserve_lowrank(m->be, max_in, max_r, max_out);
    free(xl);
    free(c);
    if (st != XT_OK) {
        free(u);
        free_slots(slots, n_slots);
        return st;
    }
    if (u != NULL) {
        free(s->u);
        s->u = u;
        s->u_cap = cap;
    }
    free_slots(s->slots, n_slots);
    s->slots = slots;
    s->any_active = any || x != NULL;
    s->xlora = x;
    s->mode = XT_LMODE_PLAIN;
    return XT_OK;
}

// ---- public: attach, select, remove ----

xt_status xt_model_add_adapter(xt_model *m, const xt_adapter *a, const char *name, float scale) {
    XT_RETURN_IF(m == NULL || a == NULL || name == NULL, XT_ERR_INVALID_ARG,
                 "xt_model_add_adapter: NULL argument");
    XT_RETURN_IF(name[0] == '\0' || strlen(name) > 200, XT_ERR_INVALID_ARG,
                 "adapter names must have 1 to 200 characters");
    XT_RETURN_IF(!isfinite(scale), XT_ERR_INVALID_ARG, "adapter scale must be finite");
    xt_lora_state *s = NULL;
    XT_TRY(state(m, &s));
    XT_RETURN_IF(find(s, name) != NULL, XT_ERR_INVALID_ARG, "an adapter named '%s' is already "
                 "attached (remove_adapter first, or pick another name)", name);
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 8;
        xt_attached *p = realloc(s->list, (size_t)cap * sizeof *p);
        XT_RETURN_IF(p == NULL, XT_ERR_NOMEM, "out of memory");
        s->list = p;
        s->cap = cap;
    }
    xt_attached e = {.scale = scale, .weight = 1.0f, .active = true};
    e.name = strdup(name);
    XT_RETURN_IF(e.name == NULL, XT_ERR_NOMEM, "out of memory");
    xt_status st = copy_adapter(m, a, &e.ad);
    if (st == XT_OK && a->kind == XT_ADAPTER_XLORA) st = xt_xlora_rt_new(m, e.ad, &e.x);
    if (st == XT_OK) {
        // A new X-LoRA adapter becomes the only active one; a LoRA joins the active LoRAs
        // (and deactivates an active X-LoRA).
        bool *was = malloc((size_t)(s->n + 1) * sizeof *was);
        if (was == NULL) st = xt_error(XT_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; st == XT_OK && i < s->n; i++) {
            was[i] = s->list[i].active;
            if (a->kind == XT_ADAPTER_XLORA || s->list[i].ad->kind == XT_ADAPTER_XLORA) {
                s->list[i].active = false;
            }
        }
        if (st == XT_OK) {
            s->list[s->n++] = e;
            st = xt_lora_rebuild(m);
            if (st != XT_OK) {
                s->n--;
                for (int64_t i = 0; i < s->n; i++) s->list[i].active = was[i];
            }
        }
        free(was);
    }
    if (st != XT_OK) {
        if (e.x) xt_xlora_rt_free(m, e.x);
        xt_adapter_free(e.ad);
        free(e.name);
    }
    return st;
}

xt_status xt_model_set_adapters(xt_model *m, const char *const *names, const float *weights,
                                int64_t n) {
    XT_RETURN_IF(m == NULL || (n > 0 && names == NULL) || n < 0, XT_ERR_INVALID_ARG,
                 "xt_model_set_adapters: bad arguments");
    xt_lora_state *s = NULL;
    XT_TRY(state(m, &s));
    int64_t n_x = 0;
    for (int64_t i = 0; i < n; i++) {
        const xt_attached *e = find(s, names[i]);
        XT_RETURN_IF(e == NULL, XT_ERR_NOT_FOUND, "no adapter named '%s' is attached", names[i]);
        XT_RETURN_IF(e->merged, XT_ERR_INVALID_ARG, "adapter '%s' is merged into the weights "
                     "(always on): unmerge_adapter first", names[i]);
        XT_RETURN_IF(weights && !isfinite(weights[i]), XT_ERR_INVALID_ARG,
                     "adapter weight for '%s' is not finite", names[i]);
        for (int64_t j = 0; j < i; j++) {
            XT_RETURN_IF(strcmp(names[j], names[i]) == 0, XT_ERR_INVALID_ARG,
                         "adapter '%s' is named twice", names[i]);
        }
        n_x += e->ad->kind == XT_ADAPTER_XLORA;
    }
    XT_RETURN_IF(n_x > 0 && n > 1, XT_ERR_INVALID_ARG, "an X-LoRA adapter must be the only "
                 "active adapter");
    XT_RETURN_IF(n_x > 0 && weights && weights[0] != 1.0f, XT_ERR_INVALID_ARG,
                 "an X-LoRA adapter takes no weight (its classifier weighs the experts)");
    xt_attached *old = malloc((size_t)(s->n + 1) * sizeof *old);
    XT_RETURN_IF(old == NULL, XT_ERR_NOMEM, "out of memory");
    memcpy(old, s->list, (size_t)s->n * sizeof *old);
    for (int64_t i = 0; i < s->n; i++) s->list[i].active = false;
    for (int64_t i = 0; i < n; i++) {
        xt_attached *e = find(s, names[i]);
        e->active = true;
        e->weight = weights ? weights[i] : 1.0f;
    }
    xt_status st = xt_lora_rebuild(m);
    if (st != XT_OK) memcpy(s->list, old, (size_t)s->n * sizeof *old);
    free(old);
    return st;
}

static void free_attached(xt_model *m, xt_attached *e) {
    if (e->x) xt_xlora_rt_free(m, e->x);
    xt_adapter_free(e->ad);
    free(e->merges);
    free(e->name);
}

xt_status xt_model_remove_adapter(xt_model *m, const char *name) {
    XT_RETURN_IF(m == NULL || name == NULL, XT_ERR_INVALID_ARG, "NULL argument");
    xt_lora_state *s = m->lora;
    xt_attached *e = find(s, name);
    XT_RETURN_IF(e == NULL, XT_ERR_NOT_FOUND, "no adapter named '%s' is attached", name);
    if (e->merged) XT_TRY(xt_model_unmerge_adapter(m, name));
    bool was = e->active;
    e->active = false;
    xt_status st = xt_lora_rebuild(m);
    if (st != XT_OK) {
        e->active = was;
        return st;
    }
    free_attached(m, e);
    int64_t i = e - s->list;
    memmove(e, e + 1, (size_t)(s->n - i - 1) * sizeof *e);
    s->n--;
    return xt_lora_rebuild(m);  // pointers into the list moved
}

// ---- merge ----

static bool merged_over(const xt_lora_state *s, const xt_attached *self, const xt_tensor *t) {
    for (int64_t i = 0; i < s->n; i++) {
        const xt_attached *e = &s->list[i];
        if (e == self || !e->merged) continue;
        for (int64_t j = 0; j < e->n_merges; j++) {
            if (e->merges[j].t == t) return true;
        }
    }
    return false;
}

xt_status xt_model_merge_adapter(xt_model *m, const char *name) {
    XT_RETURN_IF(m == NULL || name == NULL, XT_ERR_INVALID_ARG, "NULL argument");
    xt_lora_state *s = m->lora;
    xt_attached *e = find(s, name);
    XT_RETURN_IF(e == NULL, XT_ERR_NOT_FOUND, "no adapter named '%s' is attached", name);
    XT_RETURN_IF(e->ad->kind == XT_ADAPTER_XLORA, XT_ERR_INVALID_ARG, "'%s' is an X-LoRA adapter: "
                 "its expert weights change per token, so it cannot be merged", name);
    XT_RETURN_IF(e->merged, XT_ERR_INVALID_ARG, "adapter '%s' is already merged", name);
    const xt_adapter *ad = e->ad;
    for (int64_t i = 0; i < ad->n_mods; i++) {
        const xt_tensor *w = xt_lora_weight(m, ad->mods[i].layer, ad->mods[i].role);
        XT_RETURN_IF(w->type != XT_DTYPE_F32 && w->type != XT_DTYPE_F16, XT_ERR_UNSUPPORTED,
                     "merge_adapter('%s'): tensor 'blk.%" PRId64 ".%s.weight' is %s; merging "
                     "needs F32 or F16 weights (the adapter applies unmerged on quantized "
                     "weights)", name, ad->mods[i].layer, xt_lora_role_gguf(ad->mods[i].role),
                     xt_dtype_get((uint32_t)w->type)->name);
    }
    xt_merge_rec *recs = calloc((size_t)ad->n_mods, sizeof *recs);
    float *row = malloc((size_t)(m->hp.n_ff * 2 + m->hp.n_embd * 4 + 64) * sizeof(float));
    XT_RETURN_IF(recs == NULL || row == NULL, XT_ERR_NOMEM, "out of memory");
    xt_status st = XT_OK;
    const float k = e->scale;  // merged deltas ignore the active-set weight: merged = always on
    for (int64_t i = 0; i < ad->n_mods && st == XT_OK; i++) {
        const xt_lora_module *md = &ad->mods[i];
        xt_tensor *w = xt_lora_weight(m, md->layer, md->role);
        size_t bytes = xt_tensor_nbytes(w);
        void *dst = malloc(bytes);
        if (dst == NULL) {
            st = xt_error(XT_ERR_NOMEM, "out of memory for a merged copy of %zu bytes", bytes);
            break;
        }
        const float c = k * md->scale;
        for (int64_t o = 0; o < md->out; o++) {
            const uint8_t *src_row = (const uint8_t *)w->data + (size_t)o * w->nb[1];
            if (w->type == XT_DTYPE_F32) memcpy(row, src_row, (size_t)md->in * sizeof(float));
            else for (int64_t j = 0; j < md->in; j++) row[j] = xt_fp16_to_fp32(((const uint16_t *)src_row)[j]);
            for (int64_t r = 0; r < md->r; r++) {
                const float f = c * md->BT[r * md->out + o];
                const float *a = md->A + r * md->in;
                for (int64_t j = 0; j < md->in; j++) row[j] += f * a[j];
            }
            uint8_t *dst_row = (uint8_t *)dst + (size_t)o * w->nb[1];
            if (w->type == XT_DTYPE_F32) memcpy(dst_row, row, (size_t)md->in * sizeof(float));
            else for (int64_t j = 0; j < md->in; j++) ((uint16_t *)dst_row)[j] = xt_fp32_to_fp16(row[j]);
        }
        recs[i] = (xt_merge_rec){w, w->data, dst};
    }
    free(row);
    if (st != XT_OK) {
        for (int64_t i = 0; i < ad->n_mods; i++) free(recs[i].merged);
        free(recs);
        return st;
    }
    bool was = e->active;
    e->active = false;  // the delta now lives in the weights
    st = xt_lora_rebuild(m);
    if (st != XT_OK) {
        e->active = was;
        for (int64_t i = 0; i < ad->n_mods; i++) free(recs[i].merged);
        free(recs);
        return st;
    }
    for (int64_t i = 0; i < ad->n_mods; i++) recs[i].t->data = recs[i].merged;
    e->merges = recs;
    e->n_merges = ad->n_mods;
    e->merged = true;
    return XT_OK;
}

xt_status xt_model_unmerge_adapter(xt_model *m, const char *name) {
    XT_RETURN_IF(m == NULL || name == NULL, XT_ERR_INVALID_ARG, "NULL argument");
    xt_lora_state *s = m->lora;
    xt_attached *e = find(s, name);
    XT_RETURN_IF(e == NULL, XT_ERR_NOT_FOUND, "no adapter named '%s' is attached", name);
    XT_RETURN_IF(!e->merged, XT_ERR_INVALID_ARG, "adapter '%s' is not merged", name);
    // Each merge copied the weights it found; undo merges in reverse order per tensor.
    for (int64_t j = 0; j < e->n_merges; j++) {
        XT_RETURN_IF(e->merges[j].t->data != e->merges[j].merged, XT_ERR_INVALID_ARG,
                     "unmerge_adapter('%s'): another adapter was merged into the same weights "
                     "afterwards; unmerge that one first", name);
    }
    (void)merged_over;
    for (int64_t j = 0; j < e->n_merges; j++) {
        e->merges[j].t->data = e->merges[j].orig;
        free(e->merges[j].merged);
    }
    free(e->merges);
    e->merges = NULL;
    e->n_merges = 0;
    e->merged = false;
    return XT_OK;
}

// ---- lifecycle and listing ----

void xt_lora_state_free(xt_model *m) {
    xt_lora_state *s = m->lora;
    if (s == NULL) return;
    for (int64_t i = s->n - 1; i >= 0; i--) {  // restore merged weights, newest first
        xt_attached *e = &s->list[i];
        for (int64_t j = e->n_merges - 1; j >= 0; j--) {
            e->merges[j].t->data = e->merges[j].orig;
            free(e->merges[j].merged);
        }
        free_attached(m, e);
    }
    free(s->list);
    free_slots(s->slots, m->hp.n_layer * XT_LR_COUNT);
    free(s->u);
    free(s);
    m->lora = NULL;
}

int64_t xt_model_n_adapters(const xt_model *m) { return m && m->lora ? m->lora->n : 0; }

const char *xt_model_adapter_at(const xt_model *m, int64_t i, float *weight, bool *merged,
                                bool *is_xlora) {
    const xt_attached *e = &m->lora->list[i];
    *weight = e->active ? e->weight : 0.0f;
    *merged = e->merged;
    *is_xlora = e->ad->kind == XT_ADAPTER_XLORA;
    return e->name;
}
