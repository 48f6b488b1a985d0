// xlora_load.c — reads a PEFT X-LoRA folder: adapter_config.json (peft_type XLORA, the
// classifier settings, `adapters` = the experts in classifier-column order) and the classifier
// Linears from adapter_model.safetensors (base_model.internal_xlora_classifier.layers.<k>).
// Expert paths are resolved against the folder when relative.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/adapter.h"
#include "adapter/adapter_io.h"
#include "core/status.h"
#include "quant/quant.h"

static xt_status get_num(const xt_json_value *root, const char *file, const char *key,
                         double def, double *out) {
    const xt_json_value *v = xt_json_get(root, key);
    *out = def;
    if (v == NULL || v->type == XT_JSON_NULL) return XT_OK;
    XT_RETURN_IF(v->type != XT_JSON_INT && v->type != XT_JSON_DOUBLE, XT_ERR_BAD_FILE,
                 "%s: '%s' must be a number, not %s", file, key, xt_json_type_name(v->type));
    *out = v->type == XT_JSON_INT ? (double)v->v.i : v->v.d;
    return XT_OK;
}

static xt_status get_bool(const xt_json_value *root, const char *file, const char *key,
                          bool def, bool *out) {
    const xt_json_value *v = xt_json_get(root, key);
    *out = def;
    if (v == NULL || v->type == XT_JSON_NULL) return XT_OK;
    XT_RETURN_IF(v->type != XT_JSON_BOOL, XT_ERR_BAD_FILE, "%s: '%s' must be true or false",
                 file, key);
    *out = v->v.b;
    return XT_OK;
}

static xt_status get_int(const xt_json_value *root, const char *file, const char *key,
                         int64_t def, int64_t lo, int64_t hi, int64_t *out) {
    double d;
    XT_TRY(get_num(root, file, key, (double)def, &d));
    XT_RETURN_IF(d != floor(d) || d < (double)lo || d > (double)hi, XT_ERR_BAD_FILE,
                 "%s: '%s' = %g is out of range [%" PRId64 ", %" PRId64 "]", file, key, d, lo, hi);
    *out = (int64_t)d;
    return XT_OK;
}

static xt_status read_config(const xt_json_value *root, const char *file, xt_xlora_config *c) {
    const xt_json_value *v = xt_json_get(root, "peft_type");
    XT_RETURN_IF(v == NULL || v->type != XT_JSON_STRING || strcmp(v->v.str.ptr, "XLORA") != 0,
                 XT_ERR_INVALID_ARG, "%s: peft_type is not \"XLORA\" (a plain LoRA loads with "
                 "Adapter.load)", file);
    double d;
    XT_TRY(get_int(root, file, "hidden_size", 4096, 1, 1 << 20, &c->hidden_size));
    XT_TRY(get_int(root, file, "xlora_depth", 1, 1, XT_XLORA_MAX_DEPTH, &c->depth));
    XT_TRY(get_int(root, file, "xlora_size", 2048, 1, 1 << 20, &c->size));
    XT_TRY(get_bool(root, file, "layerwise_scalings", false, &c->layerwise));
    XT_TRY(get_bool(root, file, "enable_softmax", true, &c->enable_softmax));
    XT_TRY(get_bool(root, file, "enable_softmax_topk", false, &c->enable_softmax_topk));
    XT_TRY(get_int(root, file, "top_k_lora", 0, 0, XT_XLORA_MAX_EXPERTS, &c->top_k));
    XT_TRY(get_num(root, file, "softmax_temperature", 1.0, &d));
    XT_RETURN_IF(!(d > 0) || !isfinite(d), XT_ERR_BAD_FILE, "%s: softmax_temperature must be "
                 "positive", file);
    c->temperature = (float)d;
    v = xt_json_get(root, "scaling_pass_value");
    XT_RETURN_IF(v != NULL && v->type == XT_JSON_NULL, XT_ERR_UNSUPPORTED,
                 "%s: scaling_pass_value null (1/n_adapters) is not supported; write the value",
                 file);
    XT_TRY(get_num(root, file, "scaling_pass_value", 0.0, &d));
    c->scaling_pass_value = (float)d;
    XT_TRY(get_num(root, file, "global_scaling_weight", 1.0, &d));
    c->global_scaling_weight = (float)d;
    XT_TRY(get_int(root, file, "tgt_non_granular_index", 0, 0, INT32_MAX, &c->non_granular_index));
    return XT_OK;
}

// Experts: the `adapters` object in order (keys name classifier columns 0..N-1), or a list.
static xt_status load_experts(const xt_json_value *root, const char *dir, const char *file,
                              xt_adapter *a) {
    const xt_json_value *v = xt_json_get(root, "adapters");
    XT_RETURN_IF(v == NULL || (v->type != XT_JSON_OBJECT && v->type != XT_JSON_ARRAY),
                 XT_ERR_BAD_FILE, "%s: 'adapters' (the experts) is missing", file);
    size_t n = v->type == XT_JSON_OBJECT ? v->v.obj.count : v->v.arr.count;
    XT_RETURN_IF(n < 1 || n > XT_XLORA_MAX_EXPERTS, XT_ERR_BAD_FILE,
                 "%s: %zu experts (1..%d supported)", file, n, XT_XLORA_MAX_EXPERTS);
    a->experts = calloc(n, sizeof *a->experts);
    XT_RETURN_IF(a->experts == NULL, XT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const xt_json_value *p = v->type == XT_JSON_OBJECT ? &v->v.obj.members[i].value
                                                           : &v->v.arr.items[i];
        XT_RETURN_IF(p->type != XT_JSON_STRING, XT_ERR_BAD_FILE, "%s: adapters[%zu] must be a "
                     "path", file, i);
        char path[4096];
        if (p->v.str.ptr[0] == '/') snprintf(path, sizeof path, "%s", p->v.str.ptr);
        else snprintf(path, sizeof path, "%s/%s", dir, p->v.str.ptr);
        xt_status s = xt_adapter_load(path, &a->experts[i]);
        if (s != XT_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", xt_last_error());
            if (s == XT_ERR_IO) return xt_error_errno(xt_last_errno(), "%s: expert %zu: %s", file, i, msg);
            return xt_error(s, "%s: expert %zu: %s", file, i, msg);
        }
        a->n_experts = (int64_t)i + 1;
    }
    return XT_OK;
}

// Classifier Linears: layers.<k>.weight/bias in increasing k (ReLU/Dropout slots have none).
static xt_status load_classifier(xt_safetensors *st, const char *file, xt_adapter *a) {
    xt_xlora_config *c = &a->xcfg;
    static const char prefix[] = "base_model.internal_xlora_classifier.layers.";
    int64_t idx[XT_XLORA_MAX_DEPTH];
    int64_t n = 0;
    for (int64_t i = 0; i < xt_safetensors_n_tensors(st); i++) {
        const char *name = xt_safetensors_tensor_at(st, i)->name;
        if (strncmp(name, prefix, sizeof prefix - 1) != 0) continue;
        char *end = NULL;
        long long k = strtoll(name + sizeof prefix - 1, &end, 10);
        if (end == NULL || strcmp(end, ".weight") != 0) continue;
        XT_RETURN_IF(n == XT_XLORA_MAX_DEPTH, XT_ERR_BAD_FILE, "%s: too many classifier layers", file);
        int64_t j = n++;
        while (j > 0 && idx[j - 1] > k) {  // insertion sort by k
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = k;
    }
    XT_RETURN_IF(n != c->depth, XT_ERR_BAD_FILE, "%s: the classifier has %" PRId64 " Linear "
                 "layers (%sweight tensors) but xlora_depth is %" PRId64, file, n, prefix, c->depth);
    int64_t in = c->hidden_size;
    for (int64_t l = 0; l < n; l++) {
        char wn[160], bn[160];
        snprintf(wn, sizeof wn, "%s%" PRId64 ".weight", prefix, idx[l]);
        snprintf(bn, sizeof bn, "%s%" PRId64 ".bias", prefix, idx[l]);
        int64_t wi = xt_safetensors_find_tensor(st, wn), bi = xt_safetensors_find_tensor(st, bn);
        XT_RETURN_IF(bi < 0, XT_ERR_BAD_FILE, "%s: tensor '%s' is missing", file, bn);
        const xt_st_tensor *w = xt_safetensors_tensor_at(st, wi), *b = xt_safetensors_tensor_at(st, bi);
        int64_t want_out = l + 1 < n ? c->size : -1;
        XT_RETURN_IF(w->n_dims != 2 || w->shape[1] != in || (want_out > 0 && w->shape[0] != want_out),
                     XT_ERR_BAD_FILE, "%s: tensor '%s' has shape [%" PRId64 ", %" PRId64 "], "
                     "expected [%" PRId64 ", %" PRId64 "]", file, wn, w->n_dims > 0 ? w->shape[0] : 0,
                     w->n_dims > 1 ? w->shape[1] : 0, want_out > 0 ? want_out : w->shape[0], in);
        int64_t out = w->shape[0];
        XT_RETURN_IF(b->n_dims != 1 || b->shape[0] != out, XT_ERR_BAD_FILE,
                     "%s: tensor '%s' must have %" PRId64 " elements", file, bn, out);
        const xt_st_tensor *ts[2] = {w, b};
        float *dst[2] = {NULL, NULL};
        for (int t = 0; t < 2; t++) {
            xt_dtype type = ts[t]->dtype == XT_ST_F32 ? XT_DTYPE_F32
                          : ts[t]->dtype == XT_ST_F16 ? XT_DTYPE_F16
                          : ts[t]->dtype == XT_ST_BF16 ? XT_DTYPE_BF16 : XT_DTYPE_COUNT;
            XT_RETURN_IF(type == XT_DTYPE_COUNT, XT_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s "
                         "(F32, F16, BF16)", file, ts[t]->name,
                         xt_st_dtype_name(ts[t]->dtype) ? xt_st_dtype_name(ts[t]->dtype) : "?");
            int64_t cnt = t == 0 ? out * in : out;
            void *raw = malloc((size_t)ts[t]->nbytes + 1);
            dst[t] = malloc((size_t)cnt * sizeof(float) + 1);
            if (raw == NULL || dst[t] == NULL) {
                free(raw);
                free(dst[0]);
                free(dst[1]);
                return xt_error(XT_ERR_NOMEM, "out of memory");
            }
            memcpy(raw, ts[t]->data, (size_t)ts[t]->nbytes);
            xt_quant_kernels_get()->to_float[type](raw, dst[t], cnt);
            free(raw);
        }
        int64_t ne[2] = {in, out};
        xt_status s = xt_tensor_init(&c->w[l], XT_DTYPE_F32, 2, ne, dst[0]);
        c->b[l] = dst[1];
        if (s != XT_OK) {
            free(dst[0]);
            return s;
        }
        in = out;
    }
    c->d_out = in;
    return XT_OK;
}

xt_status xt_xlora_load(const char *dir, xt_adapter *a) {
    char file[4096];
    snprintf(file, sizeof file, "%s/adapter_config.json", dir);
    xt_json *doc = NULL;
    XT_TRY(xt_adapter_read_json(dir, "adapter_config.json", &doc));
    const xt_json_value *root = xt_json_root(doc);
    xt_status s = read_config(root, file, &a->xcfg);
    if (s == XT_OK) s = load_experts(root, dir, file, a);
    xt_json_free(doc);
    XT_TRY(s);
    snprintf(file, sizeof file, "%s/adapter_model.safetensors", dir);
    xt_safetensors *st = NULL;
    XT_TRY(xt_safetensors_open(file, &st));
    s = load_classifier(st, file, a);
    xt_safetensors_free(st);
    XT_TRY(s);
    const xt_xlora_config *c = &a->xcfg;
    XT_RETURN_IF(!c->layerwise && c->d_out != a->n_experts, XT_ERR_BAD_FILE,
                 "%s: the classifier gives %" PRId64 " outputs but there are %" PRId64 " experts "
                 "(layerwise_scalings is false)", file, c->d_out, a->n_experts);
    XT_RETURN_IF(c->layerwise && c->d_out % a->n_experts != 0, XT_ERR_BAD_FILE,
                 "%s: the classifier gives %" PRId64 " outputs, not a multiple of the %" PRId64
                 " experts", file, c->d_out, a->n_experts);
    return XT_OK;
}
