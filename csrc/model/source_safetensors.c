// source_safetensors.c — a Hugging Face folder as a model source: config.json answers the GGUF
// keys, HF tensor names map onto GGUF roles, shards stay mmapped (weights are views, no copies).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "gguf/json.h"
#include "model/arch.h"
#include "model/source.h"

enum { MAX_SHARDS = 4096, PATH_CAP = 4096 };

typedef enum { ROPE_DEFAULT, ROPE_LINEAR, ROPE_LLAMA3, ROPE_LONGROPE } rope_kind;

typedef struct {
    xt_json *doc;
    const xt_json_value *cfg;   // the text model's config (root, or text_config)
    const xt_json_value *rope;  // rope_scaling / rope_parameters(.full_attention), or NULL
    const xt_json_value *rope_swa;  // rope_parameters.sliding_attention, or NULL
    const xt_arch_desc *arch;
    rope_kind rope_kind;
    xt_safetensors **shards;
    int n_shards;
    const char *prefix;         // of the decoder's tensors: "model.", ...
    const char *lm_head;        // "lm_head.weight", ...
    bool tied;
    float *rope_freqs, *rope_long, *rope_short;  // synthesized (n_rot/2), or NULL
    int64_t n_rot_half;
    char name[256];             // the HF name of the last lookup
} hf_src;

// ---- config ----

static const xt_json_value *cfg_get(const hf_src *s, const char *key) {
    const xt_json_value *v = xt_json_get(s->cfg, key);
    return v == NULL || v->type == XT_JSON_NULL ? NULL : v;
}

static xt_status as_number(const xt_json_value *v, const char *key, double *out) {
    XT_RETURN_IF(v->type != XT_JSON_INT && v->type != XT_JSON_DOUBLE, XT_ERR_BAD_FILE,
                 "config.json: '%s' must be a number, got %s", key, xt_json_type_name(v->type));
    *out = v->type == XT_JSON_INT ? (double)v->v.i : v->v.d;
    return XT_OK;
}

static xt_status as_int(const xt_json_value *v, const char *key, int64_t *out) {
    XT_RETURN_IF(v->type != XT_JSON_INT, XT_ERR_BAD_FILE,
                 "config.json: '%s' must be an integer, got %s", key, xt_json_type_name(v->type));
    *out = v->v.i;
    return XT_OK;
}

// Number `key` of object `o` (NULL or JSON null: *found = false).
static xt_status obj_number(const xt_json_value *o, const char *key, double *out, bool *found) {
    const xt_json_value *v = o ? xt_json_get(o, key) : NULL;
    *found = v != NULL && v->type != XT_JSON_NULL;
    return *found ? as_number(v, key, out) : XT_OK;
}

static int64_t head_dim(const hf_src *s) {
    const xt_json_value *v = cfg_get(s, "head_dim");
    if (v != NULL && v->type == XT_JSON_INT) return v->v.i;
    const xt_json_value *e = cfg_get(s, "hidden_size"), *h = cfg_get(s, "num_attention_heads");
    return e && h && e->type == XT_JSON_INT && h->type == XT_JSON_INT && h->v.i > 0
               ? e->v.i / h->v.i : 0;
}

static xt_status n_rot(const hf_src *s, int64_t *out) {
    double f = 1.0;
    bool found;
    XT_TRY(obj_number(s->cfg, "partial_rotary_factor", &f, &found));
    if (!found) XT_TRY(obj_number(s->rope, "partial_rotary_factor", &f, &found));
    XT_RETURN_IF(!(f > 0.0 && f <= 1.0), XT_ERR_BAD_FILE,
                 "config.json: partial_rotary_factor = %g is out of range (0, 1]", f);
    *out = (int64_t)((double)head_dim(s) * f);
    return XT_OK;
}

// original_max_position_embeddings: rope_scaling's, else the top level's (phi3); 0 when unset.
static xt_status orig_ctx(const hf_src *s, double *out) {
    bool found;
    *out = 0.0;
    XT_TRY(obj_number(s->rope, "original_max_position_embeddings", out, &found));
    if (!found) XT_TRY(obj_number(s->cfg, "original_max_position_embeddings", out, &found));
    return XT_OK;
}

// Layers alternate (period - 1) sliding : 1 full; layer_types must follow that pattern.
static xt_status swa_pattern(const hf_src *s, int64_t *period, bool *any_swa) {
    const xt_json_value *lt = cfg_get(s, "layer_types");
    *any_swa = true;
    *period = 0;
    if (lt == NULL) {
        const xt_json_value *p = cfg_get(s, "sliding_window_pattern");
        if (p != NULL) XT_TRY(as_int(p, "sliding_window_pattern", period));
        return XT_OK;
    }
    XT_RETURN_IF(lt->type != XT_JSON_ARRAY, XT_ERR_BAD_FILE, "config.json: 'layer_types' must be "
                 "an array, got %s", xt_json_type_name(lt->type));
    size_t n = lt->v.arr.count, first_full = n;
    for (size_t i = 0; i < n; i++) {
        const xt_json_value *t = xt_json_at(lt, i);
        XT_RETURN_IF(t->type != XT_JSON_STRING, XT_ERR_BAD_FILE,
                     "config.json: layer_types[%zu] must be a string", i);
        if (strcmp(t->v.str.ptr, "full_attention") == 0) {
            if (first_full == n) first_full = i;
        } else {
            XT_RETURN_IF(strcmp(t->v.str.ptr, "sliding_attention") != 0, XT_ERR_UNSUPPORTED,
                         "config.json: layer type '%.60s' is not supported", t->v.str.ptr);
        }
    }
    if (first_full == 0 && n > 0) {  // all layers full?
        bool all_full = true;
        for (size_t i = 0; i < n; i++) {
            all_full &= strcmp(xt_json_at(lt, i)->v.str.ptr, "full_attention") == 0;
        }
        *any_swa = !all_full;
    }
    if (!*any_swa) return XT_OK;
    *period = (int64_t)first_full + 1;  // all sliding: a period longer than the model
    for (size_t i = 0; i < n; i++) {
        bool swa = strcmp(xt_json_at(lt, i)->v.str.ptr, "sliding_attention") == 0;
        XT_RETURN_IF(swa != ((int64_t)i % *period < *period - 1), XT_ERR_UNSUPPORTED,
                     "config.json: layer_types is not a repeating pattern of sliding layers "
                     "then one full layer (layer %zu)", i);
    }
    return XT_OK;
}

static const char *const k_int_keys[][2] = {
    {"embedding_length", "hidden_size"}, {"block_count", "num_hidden_layers"},
    {"attention.head_count", "num_attention_heads"},
    {"attention.head_count_kv", "num_key_value_heads"},
    {"feed_forward_length", "intermediate_size"}, {"context_length", "max_position_embeddings"},
    {"attention.key_length", "head_dim"}, {"attention.value_length", "head_dim"},
};

static xt_status get_int(void *ctx, const char *key, int64_t *out, bool *found) {
    hf_src *s = ctx;
    *found = false;
    for (size_t i = 0; i < sizeof k_int_keys / sizeof k_int_keys[0]; i++) {
        if (strcmp(key, k_int_keys[i][0]) != 0) continue;
        const xt_json_value *v = cfg_get(s, k_int_keys[i][1]);
        if (v == NULL) return XT_OK;
        *found = true;
        return as_int(v, k_int_keys[i][1], out);
    }
    if (strcmp(key, "rope.dimension_count") == 0) {
        *found = true;
        return n_rot(s, out);
    }
    if (strcmp(key, "rope.scaling.original_context_length") == 0) {
        if (s->rope_kind != ROPE_LONGROPE) return XT_OK;
        double v;
        XT_TRY(orig_ctx(s, &v));
        *found = v > 0;
        *out = (int64_t)v;
        return XT_OK;
    }
    if (strcmp(key, "attention.sliding_window") == 0 ||
        strcmp(key, "attention.sliding_window_pattern") == 0) {
        if (s->arch->swa_period_default == 0) return XT_OK;  // the arch has no window
        int64_t period;
        bool any_swa;
        XT_TRY(swa_pattern(s, &period, &any_swa));
        if (strcmp(key, "attention.sliding_window_pattern") == 0) {
            *found = period > 0;
            *out = period;
            return XT_OK;
        }
        const xt_json_value *w = cfg_get(s, "sliding_window");
        if (!any_swa || w == NULL) return XT_OK;
        *found = true;
        return as_int(w, "sliding_window", out);
    }
    return XT_OK;
}

static xt_status get_float(void *ctx, const char *key, double *out, bool *found) {
    hf_src *s = ctx;
    *found = false;
    if (strcmp(key, "attention.layer_norm_rms_epsilon") == 0) {
        return obj_number(s->cfg, "rms_norm_eps", out, found);
    }
    if (strcmp(key, "rope.freq_base") == 0) {
        XT_TRY(obj_number(s->cfg, "rope_theta", out, found));
        return *found ? XT_OK : obj_number(s->rope, "rope_theta", out, found);
    }
    if (strcmp(key, "rope.freq_base_swa") == 0) {
        XT_TRY(obj_number(s->cfg, "rope_local_base_freq", out, found));
        return *found ? XT_OK : obj_number(s->rope_swa, "rope_theta", out, found);
    }
    if (strcmp(key, "rope.scaling.factor") == 0) {
        return s->rope_kind == ROPE_LINEAR ? obj_number(s->rope, "factor", out, found) : XT_OK;
    }
    if (strcmp(key, "rope.scaling.attn_factor") == 0 && s->rope_kind == ROPE_LONGROPE) {
        // transformers' longrope: attention_factor, else sqrt(1 + ln(s) / ln(original)) with
        // s = max_position_embeddings / original (1 when s <= 1).
        XT_TRY(obj_number(s->rope, "attention_factor", out, found));
        if (*found) return XT_OK;
        double orig, max_pos = 0.0, f = 1.0;
        bool has_max;
        XT_TRY(orig_ctx(s, &orig));
        XT_TRY(obj_number(s->cfg, "max_position_embeddings", &max_pos, &has_max));
        if (orig > 0 && has_max) {
            f = max_pos / orig;
        } else {
            orig = max_pos;
            XT_TRY(obj_number(s->rope, "factor", &f, &has_max));
            if (!has_max) f = 1.0;
        }
        *out = f <= 1.0 || orig <= 1.0 ? 1.0 : sqrt(1.0 + log(f) / log(orig));
        *found = true;
        return XT_OK;
    }
    if (strcmp(key, "attention.query_pre_attn_scalar") == 0) {
        return obj_number(s->cfg, "query_pre_attn_scalar", out, found);
    }
    if (strcmp(key, "final_logit_softcapping") == 0 || strcmp(key, "attn_logit_softcapping") == 0) {
        return obj_number(s->cfg, key, out, found);
    }
    return XT_OK;
}

// ---- tensors ----

static const xt_st_tensor *find(const hf_src *s, const char *name) {
    for (int i = 0; i < s->n_shards; i++) {
        int64_t j = xt_safetensors_find_tensor(s->shards[i], name);
        if (j >= 0) return xt_safetensors_tensor_at(s->shards[i], j);
    }
    return NULL;
}

static bool to_view(const xt_st_tensor *st, xt_tensor *t) {
    xt_dtype type;
    switch (st->dtype) {
    case XT_ST_F32: type = XT_DTYPE_F32; break;
    case XT_ST_F16: type = XT_DTYPE_F16; break;
    case XT_ST_BF16: type = XT_DTYPE_BF16; break;
    default: return false;
    }
    if (st->n_dims > XT_MAX_DIMS) return false;
    memset(t, 0, sizeof *t);
    t->type = type;
    t->n_dims = st->n_dims == 0 ? 1 : (int32_t)st->n_dims;
    for (int d = 0; d < XT_MAX_DIMS; d++) {  // ggml order: innermost first
        t->ne[d] = d < (int)st->n_dims ? st->shape[st->n_dims - 1 - (uint32_t)d] : 1;
    }
    t->nb[0] = xt_st_dtype_size(st->dtype);
    for (int d = 1; d < XT_MAX_DIMS; d++) t->nb[d] = t->nb[d - 1] * (size_t)t->ne[d - 1];
    t->data = (void *)st->data;
    t->name = st->name;
    return true;
}

// GGUF per-layer role -> HF module path under "{prefix}layers.{i}.".
static const char *hf_layer_name(const hf_src *s, const char *role) {
    static const char *const map[][2] = {
        {"attn_norm", "input_layernorm"}, {"attn_q", "self_attn.q_proj"},
        {"attn_k", "self_attn.k_proj"}, {"attn_v", "self_attn.v_proj"},
        {"attn_qkv", "self_attn.qkv_proj"}, {"attn_output", "self_attn.o_proj"},
        {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
        {"post_ffw_norm", "post_feedforward_layernorm"}, {"ffn_gate", "mlp.gate_proj"},
        {"ffn_down", "mlp.down_proj"},
    };
    // Sandwich-norm models (gemma3) name the norms around attention and FFN differently.
    if (strcmp(role, "post_attention_norm") == 0) return "post_attention_layernorm";
    if (strcmp(role, "ffn_norm") == 0) {
        return s->arch->post_norms ? "pre_feedforward_layernorm" : "post_attention_layernorm";
    }
    if (strcmp(role, "ffn_up") == 0) {
        return s->arch->fused_gate_up ? "mlp.gate_up_proj" : "mlp.up_proj";
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(role, map[i][0]) == 0) return map[i][1];
    }
    return NULL;
}

static xt_status synth(hf_src *s, const char *name, float *data, xt_tensor *out, bool *found) {
    *found = data != NULL;
    if (data == NULL) return XT_OK;
    memset(out, 0, sizeof *out);
    out->type = XT_DTYPE_F32;
    out->n_dims = 1;
    out->ne[0] = s->n_rot_half;
    for (int d = 1; d < XT_MAX_DIMS; d++) out->ne[d] = 1;
    out->nb[0] = sizeof(float);
    for (int d = 1; d < XT_MAX_DIMS; d++) out->nb[d] = sizeof(float) * (size_t)s->n_rot_half;
    out->data = data;
    out->name = name;
    return XT_OK;
}

static xt_status get_tensor(void *ctx, const char *name, xt_tensor *out, bool *found) {
    hf_src *s = ctx;
    *found = false;
    if (strcmp(name, "rope_freqs.weight") == 0) return synth(s, name, s->rope_freqs, out, found);
    if (strcmp(name, "rope_factors_long.weight") == 0) {
        return synth(s, name, s->rope_long, out, found);
    }
    if (strcmp(name, "rope_factors_short.weight") == 0) {
        return synth(s, name, s->rope_short, out, found);
    }
    int layer = -1, used = 0;
    char role[64], suffix[16];
    if (strcmp(name, "token_embd.weight") == 0) {
        snprintf(s->name, sizeof s->name, "%sembed_tokens.weight", s->prefix);
    } else if (strcmp(name, "output_norm.weight") == 0) {
        snprintf(s->name, sizeof s->name, "%snorm.weight", s->prefix);
    } else if (strcmp(name, "output.weight") == 0) {
        snprintf(s->name, sizeof s->name, "%s", s->lm_head);
        if (s->tied) return XT_OK;
        XT_RETURN_IF(find(s, s->name) == NULL, XT_ERR_BAD_FILE, "tensor '%s' is missing "
                     "(config.json: tie_word_embeddings is false)", s->name);
    } else if (sscanf(name, "blk.%d.%63[^.].%15[a-z]%n", &layer, role, suffix, &used) == 3 &&
               name[used] == '\0' && layer >= 0 && hf_layer_name(s, role) != NULL) {
        snprintf(s->name, sizeof s->name, "%slayers.%d.%s.%s", s->prefix, layer,
                 hf_layer_name(s, role), suffix);
    } else {
        return XT_OK;
    }
    out->name = s->name;
    const xt_st_tensor *st = find(s, s->name);
    if (st == NULL) return XT_OK;
    XT_RETURN_IF(!to_view(st, out), XT_ERR_UNSUPPORTED, "tensor '%s': dtype %s with %u dims is "
                 "not supported (F32, F16 or BF16, at most %d dims)", st->name,
                 xt_st_dtype_name(st->dtype) ? xt_st_dtype_name(st->dtype) : "?", st->n_dims,
                 XT_MAX_DIMS);
    *found = true;
    return XT_OK;
}

static void each_tensor(void *ctx, void (*fn)(const xt_tensor *t, void *user), void *user) {
    hf_src *s = ctx;
    for (int i = 0; i < s->n_shards; i++) {
        for (int64_t j = 0; j < xt_safetensors_n_tensors(s->shards[i]); j++) {
            xt_tensor t;
            if (to_view(xt_safetensors_tensor_at(s->shards[i], j), &t)) fn(&t, user);
        }
    }
}

static void src_free(void *ctx) {
    hf_src *s = ctx;
    if (s == NULL) return;
    for (int i = 0; i < s->n_shards; i++) xt_safetensors_free(s->shards[i]);
    free(s->shards);
    xt_json_free(s->doc);
    free(s->rope_freqs);
    free(s->rope_long);
    free(s->rope_short);
    free(s);
}

// ---- opening ----

static xt_status read_file(const char *path, char **text, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return xt_error_errno(errno, "cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    xt_status st = XT_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= XT_JSON_MAX_INPUT) {
                st = xt_error(XT_ERR_BAD_FILE, "%s is larger than %zu bytes", path,
                              (size_t)XT_JSON_MAX_INPUT);
                break;
            }
            cap = cap ? cap * 2 : 65536;
            char *p = realloc(buf, cap);
            if (p == NULL) {
                st = xt_error(XT_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (st == XT_OK && ferror(f)) st = xt_error_errno(EIO, "cannot read %s", path);
    fclose(f);
    if (st != XT_OK) {
        free(buf);
        return st;
    }
    *text = buf;
    *len = n;
    return XT_OK;
}

// Parses the JSON file dir/name; errors name the file.
static xt_status parse_file(const char *dir, const char *name, xt_json **doc) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = NULL;
    size_t len = 0;
    XT_TRY(read_file(path, &text, &len));
    xt_status st = xt_json_parse(text, len, doc);
    free(text);
    if (st != XT_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", xt_last_error());
        return xt_error(st, "%s: %s", path, msg);
    }
    XT_RETURN_IF(xt_json_root(*doc)->type != XT_JSON_OBJECT, XT_ERR_BAD_FILE,
                 "%s: expected a JSON object", path);
    return XT_OK;
}

static bool exists(const char *dir, const char *name) {
    char path[PATH_CAP];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

static xt_status add_shard(hf_src *s, const char *dir, const char *file) {
    char path[PATH_CAP];
    XT_RETURN_IF(s->n_shards >= MAX_SHARDS, XT_ERR_UNSUPPORTED, "more than %d shards", MAX_SHARDS);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    xt_status st = xt_safetensors_open(path, &s->shards[s->n_shards]);
    if (st != XT_OK && st != XT_ERR_IO) {  // name the shard (I/O messages already do)
        char msg[512];
        snprintf(msg, sizeof msg, "%s", xt_last_error());
        return xt_error(st, "%s: %s", path, msg);
    }
    XT_TRY(st);
    s->n_shards++;
    return XT_OK;
}

// model.safetensors.index.json: weight_map {tensor: file}; every file must be there and hold
// the tensors the index puts in it.
static xt_status open_index(hf_src *s, const char *dir) {
    static const char idx[] = "model.safetensors.index.json";
    xt_json *doc = NULL;
    XT_TRY(parse_file(dir, idx, &doc));
    const xt_json_value *map = xt_json_get(xt_json_root(doc), "weight_map");
    xt_status st = XT_OK;
    const char **files = NULL;
    if (map == NULL || map->type != XT_JSON_OBJECT) {
        st = xt_error(XT_ERR_BAD_FILE, "%s/%s: 'weight_map' is missing or not an object", dir, idx);
    } else {
        files = calloc(map->v.obj.count + 1, sizeof *files);
        s->shards = calloc(map->v.obj.count + 1, sizeof *s->shards);
        if (files == NULL || s->shards == NULL) st = xt_error(XT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; st == XT_OK && i < map->v.obj.count; i++) {
        const xt_json_member *e = &map->v.obj.members[i];
        if (e->value.type != XT_JSON_STRING || strchr(e->value.v.str.ptr, '/') != NULL ||
            strcmp(e->value.v.str.ptr, "..") == 0) {
            st = xt_error(XT_ERR_BAD_FILE, "%s/%s: weight_map['%.100s'] must be a file name in "
                          "the folder", dir, idx, e->key);
            break;
        }
        const char *file = e->value.v.str.ptr;
        int k = 0;
        while (k < s->n_shards && strcmp(files[k], file) != 0) k++;
        if (k == s->n_shards) {
            if (!exists(dir, file)) {
                st = xt_error_errno(ENOENT, "%s/%s names '%.200s', which is missing", dir, idx,
                                    file);
                break;
            }
            files[k] = file;
            st = add_shard(s, dir, file);
            if (st != XT_OK) break;
        }
        if (xt_safetensors_find_tensor(s->shards[k], e->key) < 0) {
            st = xt_error(XT_ERR_BAD_FILE, "%s/%s puts tensor '%.200s' in '%.200s', which does "
                          "not hold it", dir, idx, e->key, file);
        }
    }
    free(files);
    xt_json_free(doc);
    return st;
}

static xt_status rope_setup(hf_src *s) {
    const xt_json_value *rs = cfg_get(s, "rope_scaling"), *rp = cfg_get(s, "rope_parameters");
    if (rs != NULL && rs->type == XT_JSON_OBJECT) {
        s->rope = rs;
    } else if (rp != NULL && rp->type == XT_JSON_OBJECT) {  // transformers 5
        const xt_json_value *full = xt_json_get(rp, "full_attention");
        s->rope = full != NULL && full->type == XT_JSON_OBJECT ? full : rp;
        const xt_json_value *swa = xt_json_get(rp, "sliding_attention");
        s->rope_swa = swa != NULL && swa->type == XT_JSON_OBJECT ? swa : NULL;
    }
    const xt_json_value *t = s->rope ? xt_json_get(s->rope, "rope_type") : NULL;
    if (t == NULL && s->rope) t = xt_json_get(s->rope, "type");
    const char *type = t != NULL && t->type == XT_JSON_STRING ? t->v.str.ptr : "default";
    if (strcmp(type, "default") == 0) {
        s->rope_kind = ROPE_DEFAULT;
    } else if (strcmp(type, "linear") == 0) {
        s->rope_kind = ROPE_LINEAR;
    } else if (strcmp(type, "llama3") == 0 && !s->arch->longrope_factors) {
        s->rope_kind = ROPE_LLAMA3;
    } else if (strcmp(type, "longrope") == 0 && s->arch->longrope_factors) {
        s->rope_kind = ROPE_LONGROPE;
    } else {
        return xt_error(XT_ERR_UNSUPPORTED, "config.json: rope type '%.60s' is not supported for "
                        "%s (default, linear, llama3, longrope for phi3)", type, s->arch->name);
    }
    int64_t rot;
    XT_TRY(n_rot(s, &rot));
    s->n_rot_half = rot / 2;
    if (s->n_rot_half < 1) return XT_OK;
    if (s->rope_kind == ROPE_LLAMA3) {
        // llama.cpp's convert_hf_to_gguf.py (rope_freqs): per-frequency divisors.
        double base = 10000.0, factor = 8.0, lo = 1.0, hi = 4.0, old = 8192.0;
        bool f;
        XT_TRY(obj_number(s->cfg, "rope_theta", &base, &f));
        if (!f) XT_TRY(obj_number(s->rope, "rope_theta", &base, &f));
        XT_TRY(obj_number(s->rope, "factor", &factor, &f));
        XT_TRY(obj_number(s->rope, "low_freq_factor", &lo, &f));
        XT_TRY(obj_number(s->rope, "high_freq_factor", &hi, &f));
        XT_TRY(obj_number(s->rope, "original_max_position_embeddings", &old, &f));
        XT_RETURN_IF(!(base > 0 && factor > 0 && lo > 0 && hi > lo && old > 0), XT_ERR_BAD_FILE,
                     "config.json: llama3 rope_scaling values are out of range");
        s->rope_freqs = malloc((size_t)s->n_rot_half * sizeof(float));
        XT_RETURN_IF(s->rope_freqs == NULL, XT_ERR_NOMEM, "out of memory");
        const double lo_wl = old / lo, hi_wl = old / hi, pi = 3.14159265358979323846;
        for (int64_t i = 0; i < s->n_rot_half; i++) {
            float freq = (float)(1.0 / pow(base, (double)(2 * i) / (double)rot));
            double wl = 2.0 * pi / freq, r;
            if (wl < hi_wl) {
                r = 1.0;
            } else if (wl > lo_wl) {
                r = factor;
            } else {
                double smooth = (old / wl - lo) / (hi - lo);
                r = 1.0 / ((1.0 - smooth) / factor + smooth);
            }
            s->rope_freqs[i] = (float)r;
        }
    } else if (s->rope_kind == ROPE_LONGROPE) {
        const char *keys[2] = {"long_factor", "short_factor"};
        float **dst[2] = {&s->rope_long, &s->rope_short};
        for (int k = 0; k < 2; k++) {
            const xt_json_value *a = xt_json_get(s->rope, keys[k]);
            XT_RETURN_IF(a == NULL || a->type != XT_JSON_ARRAY, XT_ERR_BAD_FILE,
                         "config.json: rope_scaling.%s is missing or not an array", keys[k]);
            XT_RETURN_IF((int64_t)a->v.arr.count != s->n_rot_half, XT_ERR_BAD_FILE,
                         "config.json: rope_scaling.%s has %zu values, expected %" PRId64
                         " (rotary dims / 2)", keys[k], a->v.arr.count, s->n_rot_half);
            *dst[k] = malloc((size_t)s->n_rot_half * sizeof(float));
            XT_RETURN_IF(*dst[k] == NULL, XT_ERR_NOMEM, "out of memory");
            for (int64_t i = 0; i < s->n_rot_half; i++) {
                double v = 0.0;
                XT_TRY(as_number(xt_json_at(a, (size_t)i), keys[k], &v));
                (*dst[k])[i] = (float)v;
            }
        }
    }
    return XT_OK;
}

static const struct {
    const char *model_type;
    const xt_arch_desc *arch;
    unsigned flags;
} k_types[] = {
    {"llama", &xt_arch_llama, 0}, {"qwen2", &xt_arch_qwen2, 0}, {"qwen3", &xt_arch_qwen3, 0},
    {"gemma3_text", &xt_arch_gemma3, XT_SRC_NORM_ADD_ONE},
    {"gemma3", &xt_arch_gemma3, XT_SRC_NORM_ADD_ONE}, {"phi3", &xt_arch_phi3, 0},
};

static xt_status open_hf(hf_src *s, const char *dir, unsigned *flags) {
    if (!exists(dir, "config.json")) {
        return xt_error_errno(ENOENT, "%s is not a Hugging Face model folder: config.json is "
                              "missing", dir);
    }
    XT_TRY(parse_file(dir, "config.json", &s->doc));
    s->cfg = xt_json_root(s->doc);
    const xt_json_value *mt = xt_json_get(s->cfg, "model_type");
    XT_RETURN_IF(mt == NULL || mt->type != XT_JSON_STRING, XT_ERR_BAD_FILE,
                 "%s/config.json: 'model_type' is missing or not a string", dir);
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++) {
        if (strcmp(mt->v.str.ptr, k_types[i].model_type) == 0) {
            s->arch = k_types[i].arch;
            *flags = XT_SRC_ROPE_NEOX | k_types[i].flags;  // HF Q/K rows are rotate-half
        }
    }
    XT_RETURN_IF(s->arch == NULL, XT_ERR_UNSUPPORTED, "%s/config.json: model_type '%.100s' is not "
                 "supported (supported: llama, qwen2, qwen3, gemma3_text, gemma3, phi3)", dir,
                 mt->v.str.ptr);
    const xt_json_value *text = xt_json_get(s->cfg, "text_config");  // multimodal wrappers
    if (text != NULL && text->type == XT_JSON_OBJECT) s->cfg = text;
    static const char *const required[] = {"hidden_size", "num_hidden_layers",
                                           "num_attention_heads", "intermediate_size",
                                           "rms_norm_eps"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        XT_RETURN_IF(cfg_get(s, required[i]) == NULL, XT_ERR_BAD_FILE,
                     "%s/config.json: required key '%s' is missing", dir, required[i]);
    }
    const xt_json_value *act = cfg_get(s, "hidden_act");
    XT_RETURN_IF(act != NULL && !s->arch->post_norms &&
                 (act->type != XT_JSON_STRING || strcmp(act->v.str.ptr, "silu") != 0),
                 XT_ERR_UNSUPPORTED, "%s/config.json: hidden_act must be 'silu' for %s", dir,
                 s->arch->name);
    const xt_json_value *usw = cfg_get(s, "use_sliding_window");
    XT_RETURN_IF(usw != NULL && usw->type == XT_JSON_BOOL && usw->v.b &&
                 s->arch->swa_period_default == 0, XT_ERR_UNSUPPORTED,
                 "%s/config.json: use_sliding_window is not supported for %s", dir, s->arch->name);
    XT_TRY(rope_setup(s));

    if (exists(dir, "model.safetensors.index.json")) {
        XT_TRY(open_index(s, dir));
    } else {
        if (!exists(dir, "model.safetensors")) {
            return xt_error_errno(ENOENT, "%s: neither model.safetensors nor "
                                  "model.safetensors.index.json is there", dir);
        }
        s->shards = calloc(1, sizeof *s->shards);
        XT_RETURN_IF(s->shards == NULL, XT_ERR_NOMEM, "out of memory");
        XT_TRY(add_shard(s, dir, "model.safetensors"));
    }
    static const char *const prefixes[] = {"model.", "model.language_model.",
                                           "language_model.model.", ""};
    static const char *const heads[] = {"lm_head.weight", "language_model.lm_head.weight"};
    char name[128];
    s->prefix = prefixes[0];
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        snprintf(name, sizeof name, "%sembed_tokens.weight", prefixes[i]);
        if (find(s, name) != NULL) {
            s->prefix = prefixes[i];
            break;
        }
    }
    s->lm_head = heads[0];
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        if (find(s, heads[i]) != NULL) {
            s->lm_head = heads[i];
            break;
        }
    }
    const xt_json_value *tie = xt_json_get(xt_json_root(s->doc), "tie_word_embeddings");
    if (tie == NULL || tie->type != XT_JSON_BOOL) tie = cfg_get(s, "tie_word_embeddings");
    s->tied = tie != NULL && tie->type == XT_JSON_BOOL ? tie->v.b : find(s, s->lm_head) == NULL;
    return XT_OK;
}

xt_status xt_model_source_hf(const char *dir, xt_model_source *out) {
    XT_RETURN_IF(strlen(dir) > PATH_CAP - 64, XT_ERR_INVALID_ARG, "path is too long");
    hf_src *s = calloc(1, sizeof *s);
    XT_RETURN_IF(s == NULL, XT_ERR_NOMEM, "out of memory");
    unsigned flags = 0;
    xt_status st = open_hf(s, dir, &flags);
    if (st != XT_OK) {
        src_free(s);
        return st;
    }
    *out = (xt_model_source){s, s->arch->name, flags, get_int, get_float, get_tensor,
                             each_tensor, src_free};
    return XT_OK;
}
