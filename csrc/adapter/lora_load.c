// lora_load.c — reads LoRA adapters into F32 low-rank pairs: PEFT folders (adapter_config.json
// + adapter_model.safetensors) and llama.cpp GGUF adapters (general.type = adapter). Every
// field that changes the forward is honoured or refused; nothing is silently ignored.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/adapter.h"
#include "adapter/adapter_io.h"
#include "core/status.h"
#include "quant/quant.h"

// ---- module names ----

static const char *const k_hf[XT_LR_COUNT] = {"q_proj", "k_proj", "v_proj", "qkv_proj", "o_proj",
                                               "gate_proj", "up_proj", "down_proj"};
static const char *const k_gguf[XT_LR_COUNT] = {"attn_q", "attn_k", "attn_v", "attn_qkv",
                                                 "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

xt_lora_role xt_lora_role_from_hf(const char *proj) {
    for (int r = 0; r < XT_LR_COUNT; r++) {
        if (strcmp(proj, k_hf[r]) == 0) return (xt_lora_role)r;
    }
    if (strcmp(proj, "gate_up_proj") == 0) return XT_LR_UP;  // fused [gate | up] (phi3)
    return XT_LR_COUNT;
}

const char *xt_lora_role_gguf(xt_lora_role r) { return r < XT_LR_COUNT ? k_gguf[r] : "?"; }
const char *xt_lora_role_hf(xt_lora_role r) { return r < XT_LR_COUNT ? k_hf[r] : "?"; }

// ---- shared helpers ----

static xt_status add_module(xt_adapter *a, int64_t *cap, xt_lora_module **out) {
    if (a->n_mods == *cap) {
        int64_t c = *cap ? *cap * 2 : 32;
        xt_lora_module *p = realloc(a->mods, (size_t)c * sizeof *p);
        XT_RETURN_IF(p == NULL, XT_ERR_NOMEM, "out of memory");
        a->mods = p;
        *cap = c;
    }
    xt_lora_module *m = &a->mods[a->n_mods++];
    memset(m, 0, sizeof *m);
    *out = m;
    return XT_OK;
}

static xt_lora_module *find_module(xt_adapter *a, int64_t layer, xt_lora_role role) {
    for (int64_t i = 0; i < a->n_mods; i++) {
        if (a->mods[i].layer == layer && a->mods[i].role == role) return &a->mods[i];
    }
    return NULL;
}

// Decodes n elements of `type` (possibly unaligned in the file) into a new F32 buffer.
static xt_status to_f32(const void *src, xt_dtype type, int64_t n, size_t nbytes,
                        const char *name, float **out) {
    xt_dequant_row_fn f = xt_quant_kernels_get()->to_float[type];
    const xt_dtype_info *info = xt_dtype_get((uint32_t)type);
    XT_RETURN_IF(f == NULL || (type != XT_DTYPE_F32 && type != XT_DTYPE_F16 &&
                               type != XT_DTYPE_BF16 && type != XT_DTYPE_Q8_0),
                 XT_ERR_UNSUPPORTED, "tensor '%s': type %s is not supported for adapters "
                 "(F32, F16, BF16, Q8_0)", name, info && info->name ? info->name : "?");
    void *raw = malloc(nbytes + 1);
    float *dst = malloc((size_t)n * sizeof(float) + 1);
    if (raw == NULL || dst == NULL) {
        free(raw);
        free(dst);
        return xt_error(XT_ERR_NOMEM, "out of memory for tensor '%s'", name);
    }
    memcpy(raw, src, nbytes);
    f(raw, dst, n);
    free(raw);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(dst[i])) {
            free(dst);
            return xt_error(XT_ERR_BAD_FILE, "tensor '%s' holds a non-finite value", name);
        }
    }
    *out = dst;
    return XT_OK;
}

// ---- PEFT config ----

typedef struct {
    int64_t r;
    double alpha;
    bool rslora;
    const xt_json_value *rank_pattern, *alpha_pattern;  // objects or NULL
} peft_cfg;

static bool is_true(const xt_json_value *v) { return v && v->type == XT_JSON_BOOL && v->v.b; }
static bool is_set(const xt_json_value *v) {
    if (v == NULL || v->type == XT_JSON_NULL) return false;
    if (v->type == XT_JSON_BOOL) return v->v.b;
    if (v->type == XT_JSON_ARRAY) return v->v.arr.count > 0;
    if (v->type == XT_JSON_OBJECT) return v->v.obj.count > 0;
    return true;
}

static xt_status number(const xt_json_value *v, const char *path, const char *key, double *out) {
    XT_RETURN_IF(v->type != XT_JSON_INT && v->type != XT_JSON_DOUBLE, XT_ERR_BAD_FILE,
                 "%s: '%s' must be a number, not %s", path, key, xt_json_type_name(v->type));
    *out = v->type == XT_JSON_INT ? (double)v->v.i : v->v.d;
    return XT_OK;
}

static xt_status read_peft_cfg(const xt_json_value *root, const char *path, peft_cfg *c) {
    const xt_json_value *v = xt_json_get(root, "peft_type");
    if (v && v->type == XT_JSON_STRING && strcmp(v->v.str.ptr, "XLORA") == 0) {
        return xt_error(XT_ERR_INVALID_ARG, "%s is an X-LoRA adapter: load it with "
                        "Adapter.load_xlora", path);
    }
    XT_RETURN_IF(v && !(v->type == XT_JSON_STRING && strcmp(v->v.str.ptr, "LORA") == 0),
                 XT_ERR_UNSUPPORTED, "%s: peft_type %s is not supported (LORA, XLORA)", path,
                 v->type == XT_JSON_STRING ? v->v.str.ptr : "?");
    // Variants that change the forward or the base: refused, not ignored.
    static const char *const refuse[] = {"use_dora", "lora_bias", "modules_to_save",
                                         "layer_replication", "alora_invocation_tokens",
                                         "target_parameters", "trainable_token_indices",
                                         "use_bdlora", "arrow_config", "velora_config",
                                         "monteclora_config", "kasa_config", "use_qalora"};
    for (size_t i = 0; i < sizeof refuse / sizeof *refuse; i++) {
        XT_RETURN_IF(is_set(xt_json_get(root, refuse[i])), XT_ERR_UNSUPPORTED,
                     "%s: '%s' is set; this LoRA variant is not supported", path, refuse[i]);
    }
    v = xt_json_get(root, "bias");
    XT_RETURN_IF(v && !(v->type == XT_JSON_STRING && strcmp(v->v.str.ptr, "none") == 0),
                 XT_ERR_UNSUPPORTED, "%s: bias must be \"none\" (trained base biases are not "
                 "supported)", path);
    v = xt_json_get(root, "init_lora_weights");
    if (v && v->type == XT_JSON_STRING) {
        static const char *const mod[] = {"pissa", "olora", "corda", "loftq", "lora_ga", "mica"};
        for (size_t i = 0; i < sizeof mod / sizeof *mod; i++) {
            XT_RETURN_IF(strncmp(v->v.str.ptr, mod[i], strlen(mod[i])) == 0, XT_ERR_UNSUPPORTED,
                         "%s: init_lora_weights '%s' trains against a modified base; convert "
                         "the adapter first", path, v->v.str.ptr);
        }
    }
    c->r = 8;
    c->alpha = 8;
    if ((v = xt_json_get(root, "r")) != NULL) {
        double r = 0.0;
        XT_TRY(number(v, path, "r", &r));
        XT_RETURN_IF(r < 1 || r > 65536 || r != floor(r), XT_ERR_BAD_FILE,
                     "%s: r = %g is not a rank", path, r);
        c->r = (int64_t)r;
    }
    if ((v = xt_json_get(root, "lora_alpha")) != NULL) XT_TRY(number(v, path, "lora_alpha", &c->alpha));
    c->rslora = is_true(xt_json_get(root, "use_rslora"));
    c->rank_pattern = xt_json_get(root, "rank_pattern");
    c->alpha_pattern = xt_json_get(root, "alpha_pattern");
    const xt_json_value *pats[2] = {c->rank_pattern, c->alpha_pattern};
    for (int i = 0; i < 2; i++) {
        const xt_json_value *p = pats[i];
        if (p == NULL || p->type == XT_JSON_NULL) continue;
        XT_RETURN_IF(p->type != XT_JSON_OBJECT, XT_ERR_BAD_FILE, "%s: %s must be an object",
                     path, i ? "alpha_pattern" : "rank_pattern");
        for (size_t j = 0; j < p->v.obj.count; j++) {
            const char *k = p->v.obj.members[j].key;
            // PEFT matches keys as regexes; literal names (dots taken literally) are supported.
            XT_RETURN_IF(strpbrk(k, "*+?[](){}|^$\\") != NULL, XT_ERR_UNSUPPORTED,
                         "%s: %s key '%s' is a regular expression; only module names are "
                         "supported", path, i ? "alpha_pattern" : "rank_pattern", k);
        }
    }
    return XT_OK;
}

// PEFT get_pattern_key: the first key K (JSON order) with module == K or ending in "." + K.
static const xt_json_value *pattern(const xt_json_value *p, const char *module) {
    if (p == NULL || p->type != XT_JSON_OBJECT) return NULL;
    size_t ml = strlen(module);
    for (size_t j = 0; j < p->v.obj.count; j++) {
        const char *k = p->v.obj.members[j].key;
        size_t kl = strlen(k);
        if (strcmp(module, k) == 0) return &p->v.obj.members[j].value;
        if (ml > kl && strcmp(module + ml - kl, k) == 0 && module[ml - kl - 1] == '.') {
            return &p->v.obj.members[j].value;
        }
    }
    return NULL;
}

// ---- PEFT folder ----

// "model.layers.3.self_attn.q_proj" -> (3, XT_LR_Q). Other names: XT_ERR_UNSUPPORTED.
static xt_status parse_module(const char *module, const char *file, int64_t *layer,
                              xt_lora_role *role) {
    const char *p = strstr(module, "layers.");
    const char *last = strrchr(module, '.');
    XT_RETURN_IF(strcmp(module, "lm_head") == 0 || (last && strcmp(last + 1, "lm_head") == 0),
                 XT_ERR_UNSUPPORTED, "%s: a LoRA on lm_head is not supported", file);
    XT_RETURN_IF(last && strcmp(last + 1, "embed_tokens") == 0, XT_ERR_UNSUPPORTED,
                 "%s: a LoRA on embed_tokens is not supported", file);
    char *end = NULL;
    long long l = p ? strtoll(p + 7, &end, 10) : -1;
    XT_RETURN_IF(p == NULL || end == p + 7 || *end != '.' || l < 0 || l > 1 << 20 || last == NULL,
                 XT_ERR_UNSUPPORTED, "%s: module '%s' is not a transformer block's linear "
                 "layer", file, module);
    *layer = l;
    *role = xt_lora_role_from_hf(last + 1);
    XT_RETURN_IF(*role == XT_LR_COUNT, XT_ERR_UNSUPPORTED, "%s: module '%s': '%s' is not a "
                 "projection xtral can target", file, module, last + 1);
    return XT_OK;
}

static xt_status st_to_f32(const xt_st_tensor *t, const char *file, float **out) {
    xt_dtype type;
    switch (t->dtype) {
    case XT_ST_F32: type = XT_DTYPE_F32; break;
    case XT_ST_F16: type = XT_DTYPE_F16; break;
    case XT_ST_BF16: type = XT_DTYPE_BF16; break;
    default:
        return xt_error(XT_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (F32, F16, BF16)", file,
                        t->name, xt_st_dtype_name(t->dtype) ? xt_st_dtype_name(t->dtype) : "?");
    }
    int64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) n *= t->shape[d];
    return to_f32(t->data, type, n, (size_t)t->nbytes, t->name, out);
}

static xt_status load_peft_tensors(xt_safetensors *st, const char *file, const peft_cfg *c,
                                   xt_adapter *a) {
    int64_t cap = 0;
    for (int64_t i = 0; i < xt_safetensors_n_tensors(st); i++) {
        const xt_st_tensor *t = xt_safetensors_tensor_at(st, i);
        const char *name = t->name;
        if (strncmp(name, "base_model.model.", 17) == 0) name += 17;
        else if (strncmp(name, "base_model.", 11) == 0) name += 11;
        XT_RETURN_IF(strstr(name, "lora_embedding_") != NULL, XT_ERR_UNSUPPORTED,
                     "%s: tensor '%s': embedding LoRA is not supported", file, t->name);
        XT_RETURN_IF(strstr(name, "lora_magnitude_vector") != NULL, XT_ERR_UNSUPPORTED,
                     "%s: tensor '%s': DoRA is not supported", file, t->name);
        const char *ab = strstr(name, ".lora_A.weight");
        bool is_a = ab != NULL;
        if (!is_a) ab = strstr(name, ".lora_B.weight");
        XT_RETURN_IF(ab == NULL || ab[14] != '\0', XT_ERR_UNSUPPORTED,
                     "%s: tensor '%s' is not a lora_A/lora_B weight (not supported)", file,
                     t->name);
        char module[112];
        size_t ml = (size_t)(ab - name);
        XT_RETURN_IF(ml >= sizeof module, XT_ERR_BAD_FILE, "%s: tensor name '%.100s...' is too "
                     "long", file, t->name);
        memcpy(module, name, ml);
        module[ml] = '\0';
        XT_RETURN_IF(t->n_dims != 2 || t->shape[0] < 1 || t->shape[1] < 1, XT_ERR_BAD_FILE,
                     "%s: tensor '%s' must be 2-D", file, t->name);
        int64_t layer = 0;
        xt_lora_role role = XT_LR_COUNT;
        XT_TRY(parse_module(module, file, &layer, &role));
        xt_lora_module *m = find_module(a, layer, role);
        if (m == NULL) {
            XT_TRY(add_module(a, &cap, &m));
            m->layer = layer;
            m->role = role;
            snprintf(m->name, sizeof m->name, "%s", module);
        }
        XT_RETURN_IF(is_a ? m->A != NULL : m->B != NULL, XT_ERR_BAD_FILE,
                     "%s: tensor '%s' appears twice", file, t->name);
        if (is_a) {
            m->r = t->shape[0];
            m->in = t->shape[1];
            XT_TRY(st_to_f32(t, file, &m->A));
        } else {
            m->out = t->shape[0];
            int64_t r = t->shape[1];
            XT_RETURN_IF(m->A != NULL && r != m->r, XT_ERR_BAD_FILE,
                         "%s: %s: lora_A has rank %" PRId64 " but lora_B has rank %" PRId64, file,
                         module, m->r, r);
            m->r = r;
            XT_TRY(st_to_f32(t, file, &m->B));
        }
    }
    XT_RETURN_IF(a->n_mods == 0, XT_ERR_BAD_FILE, "%s holds no LoRA tensors", file);
    for (int64_t i = 0; i < a->n_mods; i++) {
        xt_lora_module *m = &a->mods[i];
        XT_RETURN_IF(m->A == NULL || m->B == NULL, XT_ERR_BAD_FILE, "%s: %s.%s.weight is missing",
                     file, m->name, m->A ? "lora_B" : "lora_A");
        int64_t r = c->r;
        double alpha = c->alpha;
        const xt_json_value *rp = pattern(c->rank_pattern, m->name);
        const xt_json_value *ap = pattern(c->alpha_pattern, m->name);
        double d = 0.0;
        if (rp) {
            XT_TRY(number(rp, file, "rank_pattern", &d));
            r = (int64_t)d;
        }
        if (ap) XT_TRY(number(ap, file, "alpha_pattern", &alpha));
        XT_RETURN_IF(r != m->r, XT_ERR_BAD_FILE, "%s: %s has rank %" PRId64 " but the config "
                     "says %" PRId64, file, m->name, m->r, r);
        m->scale = (float)(c->rslora ? alpha / sqrt((double)r) : alpha / (double)r);
    }
    return XT_OK;
}

xt_status xt_lora_load_peft(const char *dir, xt_adapter *a) {
    char file[4096];
    xt_json *doc = NULL;
    XT_TRY(xt_adapter_read_json(dir, "adapter_config.json", &doc));
    snprintf(file, sizeof file, "%s/adapter_config.json", dir);
    peft_cfg c = {0};
    xt_status s = read_peft_cfg(xt_json_root(doc), file, &c);
    xt_safetensors *st = NULL;
    if (s == XT_OK) {
        snprintf(file, sizeof file, "%s/adapter_model.safetensors", dir);
        s = xt_safetensors_open(file, &st);
        if (s != XT_OK && xt_last_errno() == ENOENT) {
            s = xt_error_errno(ENOENT, "%s: adapter_model.safetensors is missing (the .bin "
                               "pickle format is not supported)", dir);
        }
    }
    if (s == XT_OK) s = load_peft_tensors(st, file, &c, a);
    xt_safetensors_free(st);
    xt_json_free(doc);
    return s;
}

// ---- GGUF (llama.cpp convert_lora_to_gguf.py) ----

static xt_status gguf_string(const xt_gguf *g, const char *key, char *buf, size_t cap) {
    buf[0] = '\0';
    int64_t i = xt_gguf_find_key(g, key);
    if (i < 0) return XT_OK;
    const xt_gguf_value *v = xt_gguf_kv_value(g, i);
    XT_RETURN_IF(v->type != XT_GGUF_STRING, XT_ERR_BAD_FILE, "%s must be a string", key);
    size_t n = v->v.str.len < cap - 1 ? (size_t)v->v.str.len : cap - 1;
    memcpy(buf, v->v.str.ptr, n);
    buf[n] = '\0';
    return XT_OK;
}

xt_status xt_lora_load_gguf(const char *path, xt_adapter *a) {
    xt_gguf *g = NULL;
    XT_TRY(xt_gguf_open(path, &g));
    char type[32], atype[32];
    xt_status s = gguf_string(g, "general.type", type, sizeof type);
    if (s == XT_OK) s = gguf_string(g, "adapter.type", atype, sizeof atype);
    if (s == XT_OK) s = gguf_string(g, "general.architecture", a->arch, sizeof a->arch);
    if (s == XT_OK && strcmp(type, "adapter") != 0) {
        s = xt_error(XT_ERR_INVALID_ARG, "%s is not a GGUF adapter (general.type is '%s', "
                     "expected 'adapter')", path, type);
    }
    if (s == XT_OK && strcmp(atype, "lora") != 0) {
        s = xt_error(XT_ERR_UNSUPPORTED, "%s: adapter.type '%s' is not supported (lora)", path,
                     atype);
    }
    if (s == XT_OK && xt_gguf_find_key(g, "adapter.alora.invocation_tokens") >= 0) {
        s = xt_error(XT_ERR_UNSUPPORTED, "%s: aLoRA adapters are not supported", path);
    }
    double alpha = 0.0;
    int64_t ki = xt_gguf_find_key(g, "adapter.lora.alpha");
    if (s == XT_OK && ki >= 0) {
        const xt_gguf_value *v = xt_gguf_kv_value(g, ki);
        if (v->type == XT_GGUF_FLOAT32 || v->type == XT_GGUF_FLOAT64) alpha = v->v.f64;
        else s = xt_error(XT_ERR_BAD_FILE, "%s: adapter.lora.alpha must be a float", path);
    }
    int64_t cap = 0;
    for (int64_t i = 0; s == XT_OK && i < xt_gguf_n_tensors(g); i++) {
        const xt_gguf_tensor *t = xt_gguf_tensor_at(g, i);
        int layer = -1, used = 0;
        char role_s[32], ab[8];
        if (sscanf(t->name, "blk.%d.%31[a-z_].weight.lora_%1[ab]%n", &layer, role_s, ab, &used) != 3 ||
            t->name[used] != '\0' || layer < 0) {
            size_t nl = strlen(t->name);
            if (nl > 12 && strcmp(t->name + nl - 12, "_norm.weight") == 0) continue;  // llama.cpp skips
            s = xt_error(XT_ERR_UNSUPPORTED, "%s: tensor '%s' is not a block LoRA tensor "
                         "(blk.N.<role>.weight.lora_a/lora_b)", path, t->name);
            break;
        }
        xt_lora_role role = XT_LR_COUNT;
        for (int r = 0; r < XT_LR_COUNT; r++) {
            if (strcmp(role_s, k_gguf[r]) == 0) role = (xt_lora_role)r;
        }
        if (role == XT_LR_COUNT) {
            s = xt_error(XT_ERR_UNSUPPORTED, "%s: tensor '%s': '%s' is not a projection xtral can "
                         "target", path, t->name, role_s);
            break;
        }
        if (t->n_dims != 2 || t->ne[0] < 1 || t->ne[1] < 1) {
            s = xt_error(XT_ERR_BAD_FILE, "%s: tensor '%s' must be 2-D", path, t->name);
            break;
        }
        xt_lora_module *m = find_module(a, layer, role);
        if (m == NULL) {
            s = add_module(a, &cap, &m);
            if (s != XT_OK) break;
            m->layer = layer;
            m->role = role;
            snprintf(m->name, sizeof m->name, "blk.%d.%s.weight", layer, role_s);
        }
        bool is_a = ab[0] == 'a';
        if (is_a ? m->A != NULL : m->B != NULL) {
            s = xt_error(XT_ERR_BAD_FILE, "%s: tensor '%s' appears twice", path, t->name);
            break;
        }
        // lora_a ne = [in, r]: rows of A; lora_b ne = [r, out]: rows of B (no transposition).
        int64_t r = is_a ? t->ne[1] : t->ne[0];
        if ((is_a ? m->B : m->A) != NULL && r != m->r) {
            s = xt_error(XT_ERR_BAD_FILE, "%s: %s: lora_a has rank %" PRId64 " but lora_b has "
                         "rank %" PRId64, path, m->name, is_a ? r : m->r, is_a ? m->r : r);
            break;
        }
        m->r = r;
        if (is_a) m->in = t->ne[0];
        else m->out = t->ne[1];
        s = to_f32(t->data, (xt_dtype)t->type, t->ne[0] * t->ne[1], (size_t)t->nbytes, t->name,
                   is_a ? &m->A : &m->B);
    }
    if (s == XT_OK && a->n_mods == 0) s = xt_error(XT_ERR_BAD_FILE, "%s holds no LoRA tensors", path);
    for (int64_t i = 0; s == XT_OK && i < a->n_mods; i++) {
        xt_lora_module *m = &a->mods[i];
        if (m->A == NULL || m->B == NULL) {
            s = xt_error(XT_ERR_BAD_FILE, "%s: %s.lora_%s is missing", path, m->name,
                         m->A ? "b" : "a");
        }
        // llama.cpp: scale = alpha / rank, or 1 when alpha is 0 (missing)
        m->scale = alpha != 0.0 ? (float)(alpha / (double)m->r) : 1.0f;
    }
    a->gguf_layout = true;
    xt_gguf_free(g);
    return s;
}
