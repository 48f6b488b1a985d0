// source_gguf.c — a GGUF file as a model source: "{arch}.key" lookups with type checks, and
// tensors as borrowed views into the file mapping.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/source.h"

typedef struct {
    xt_gguf *g;
    const char *arch;
} gguf_src;

static const xt_gguf_value *find(gguf_src *s, const char *key, char *full, size_t cap) {
    snprintf(full, cap, "%s.%s", s->arch, key);
    int64_t i = xt_gguf_find_key(s->g, full);
    return i < 0 ? NULL : xt_gguf_kv_value(s->g, i);
}

static xt_status get_int(void *ctx, const char *key, int64_t *out, bool *found) {
    char full[160];
    const xt_gguf_value *v = find(ctx, key, full, sizeof full);
    *found = false;
    if (v == NULL) return XT_OK;
    switch (v->type) {
    case XT_GGUF_UINT8: case XT_GGUF_UINT16: case XT_GGUF_UINT32: case XT_GGUF_UINT64:
    case XT_GGUF_BOOL:
        XT_RETURN_IF(v->v.u64 > (uint64_t)INT64_MAX, XT_ERR_BAD_FILE, "%s: value too large", full);
        *out = (int64_t)v->v.u64;
        break;
    case XT_GGUF_INT8: case XT_GGUF_INT16: case XT_GGUF_INT32: case XT_GGUF_INT64:
        *out = v->v.i64;
        break;
    case XT_GGUF_ARRAY:
        return xt_error(XT_ERR_UNSUPPORTED, "%s: per-layer arrays are not supported", full);
    default:
        return xt_error(XT_ERR_BAD_FILE, "%s: expected an integer, got %s", full,
                        xt_gguf_type_name(v->type) ? xt_gguf_type_name(v->type) : "?");
    }
    *found = true;
    return XT_OK;
}

static xt_status get_float(void *ctx, const char *key, double *out, bool *found) {
    char full[160];
    const xt_gguf_value *v = find(ctx, key, full, sizeof full);
    *found = false;
    if (v == NULL) return XT_OK;
    if (v->type == XT_GGUF_FLOAT32 || v->type == XT_GGUF_FLOAT64) {
        *out = v->v.f64;
    } else if (v->type == XT_GGUF_UINT32 || v->type == XT_GGUF_UINT64) {
        *out = (double)v->v.u64;
    } else if (v->type == XT_GGUF_INT32 || v->type == XT_GGUF_INT64) {
        *out = (double)v->v.i64;
    } else {
        return xt_error(XT_ERR_BAD_FILE, "%s: expected a number, got %s", full,
                        xt_gguf_type_name(v->type) ? xt_gguf_type_name(v->type) : "?");
    }
    *found = true;
    return XT_OK;
}

static void to_view(const xt_gguf_tensor *gt, xt_tensor *t) {
    memset(t, 0, sizeof *t);
    t->type = (xt_dtype)gt->type;
    t->n_dims = gt->n_dims == 0 ? 1 : (int32_t)gt->n_dims;
    for (int d = 0; d < XT_MAX_DIMS; d++) t->ne[d] = gt->ne[d];
    t->data = (void *)gt->data;
    t->name = gt->name;
    // nb: the reader validated sizes; rows are contiguous.
    const xt_dtype_info *info = xt_dtype_get(gt->type);
    t->nb[0] = info ? info->type_size : 0;
    t->nb[1] = info && info->block_size ? info->type_size * (size_t)(gt->ne[0] / info->block_size) : 0;
    for (int d = 2; d < XT_MAX_DIMS; d++) t->nb[d] = t->nb[d - 1] * (size_t)gt->ne[d - 1];
}

static xt_status get_tensor(void *ctx, const char *name, xt_tensor *out, bool *found) {
    gguf_src *s = ctx;
    int64_t i = xt_gguf_find_tensor(s->g, name);
    *found = i >= 0;
    if (i >= 0) to_view(xt_gguf_tensor_at(s->g, i), out);
    return XT_OK;
}

static void each_tensor(void *ctx, void (*fn)(const xt_tensor *t, void *user), void *user) {
    gguf_src *s = ctx;
    for (int64_t i = 0; i < xt_gguf_n_tensors(s->g); i++) {
        xt_tensor t;
        to_view(xt_gguf_tensor_at(s->g, i), &t);
        fn(&t, user);
    }
}

static void src_free(void *ctx) {
    gguf_src *s = ctx;
    if (s == NULL) return;
    xt_gguf_free(s->g);
    free(s);
}

xt_status xt_model_source_gguf(const char *path, xt_model_source *out) {
    gguf_src *s = calloc(1, sizeof *s);
    XT_RETURN_IF(s == NULL, XT_ERR_NOMEM, "out of memory");
    xt_status st = xt_gguf_open(path, &s->g);
    if (st != XT_OK) {
        free(s);
        return st;
    }
    s->arch = xt_gguf_architecture(s->g);
    if (s->arch == NULL) {
        src_free(s);
        return xt_error(XT_ERR_BAD_FILE, "%s: general.architecture is missing", path);
    }
    *out = (xt_model_source){s, s->arch, 0, get_int, get_float, get_tensor, each_tensor, src_free};
    return XT_OK;
}
