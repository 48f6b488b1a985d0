// gguf_value.c — GGUF metadata value helpers: type sizes and names, validation, deep copy
// (for the writer) and freeing (for the parser's item arrays).
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "gguf/gguf.h"

static const struct {
    const char *name;
    size_t size;  // 0 = variable (string, array)
} k_types[XT_GGUF_TYPE_COUNT] = {
    [XT_GGUF_UINT8] = {"uint8", 1},     [XT_GGUF_INT8] = {"int8", 1},
    [XT_GGUF_UINT16] = {"uint16", 2},   [XT_GGUF_INT16] = {"int16", 2},
    [XT_GGUF_UINT32] = {"uint32", 4},   [XT_GGUF_INT32] = {"int32", 4},
    [XT_GGUF_FLOAT32] = {"float32", 4}, [XT_GGUF_BOOL] = {"bool", 1},
    [XT_GGUF_STRING] = {"string", 0},   [XT_GGUF_ARRAY] = {"array", 0},
    [XT_GGUF_UINT64] = {"uint64", 8},   [XT_GGUF_INT64] = {"int64", 8},
    [XT_GGUF_FLOAT64] = {"float64", 8},
};

size_t xt_gguf_type_size(xt_gguf_type t) {
    return (unsigned)t < XT_GGUF_TYPE_COUNT ? k_types[t].size : 0;
}

const char *xt_gguf_type_name(xt_gguf_type t) {
    return (unsigned)t < XT_GGUF_TYPE_COUNT ? k_types[t].name : NULL;
}

bool xt_gguf_value_as_u64(const xt_gguf_value *v, uint64_t *out) {
    switch (v->type) {
    case XT_GGUF_UINT8: case XT_GGUF_UINT16: case XT_GGUF_UINT32: case XT_GGUF_UINT64:
        *out = v->v.u64;
        return true;
    case XT_GGUF_INT8: case XT_GGUF_INT16: case XT_GGUF_INT32: case XT_GGUF_INT64:
        if (v->v.i64 < 0) return false;
        *out = (uint64_t)v->v.i64;
        return true;
    default:
        return false;
    }
}

// ---- validation ----

xt_status xt_gguf_value_validate(const xt_gguf_value *v, const char *key, int depth) {
    XT_RETURN_IF((unsigned)v->type >= XT_GGUF_TYPE_COUNT, XT_ERR_INVALID_ARG,
                 "key '%s': invalid value type %d", key, (int)v->type);
    if (v->type == XT_GGUF_STRING) {
        XT_RETURN_IF(v->v.str.ptr == NULL && v->v.str.len > 0, XT_ERR_INVALID_ARG,
                     "key '%s': string without data", key);
        return XT_OK;
    }
    if (v->type != XT_GGUF_ARRAY) return XT_OK;
    XT_RETURN_IF(depth + 1 >= XT_GGUF_MAX_DEPTH, XT_ERR_INVALID_ARG,
                 "key '%s': arrays nested deeper than %d levels", key, XT_GGUF_MAX_DEPTH);
    xt_gguf_type et = v->v.arr.elem_type;
    XT_RETURN_IF((unsigned)et >= XT_GGUF_TYPE_COUNT, XT_ERR_INVALID_ARG,
                 "key '%s': invalid array element type %d", key, (int)et);
    if (v->v.arr.count == 0) return XT_OK;
    if (xt_gguf_type_size(et) > 0) {
        XT_RETURN_IF(v->v.arr.data == NULL, XT_ERR_INVALID_ARG, "key '%s': array without data",
                     key);
        return XT_OK;
    }
    XT_RETURN_IF(v->v.arr.items == NULL, XT_ERR_INVALID_ARG, "key '%s': array without items", key);
    for (uint64_t i = 0; i < v->v.arr.count; i++) {
        const xt_gguf_value *it = &v->v.arr.items[i];
        XT_RETURN_IF(it->type != et, XT_ERR_INVALID_ARG,
                     "key '%s': array item %" PRIu64 " is %s, the array holds %s", key, i,
                     xt_gguf_type_name(it->type) ? xt_gguf_type_name(it->type) : "?",
                     xt_gguf_type_name(et));
        XT_TRY(xt_gguf_value_validate(it, key, depth + 1));
    }
    return XT_OK;
}

// ---- copy and free ----

static void *dup_bytes(const void *src, size_t n) {
    void *p = malloc(n > 0 ? n : 1);
    if (p != NULL && n > 0) memcpy(p, src, n);
    return p;
}

xt_status xt_gguf_value_copy(const xt_gguf_value *src, xt_gguf_value *dst) {
    *dst = *src;
    if (src->type == XT_GGUF_STRING) {
        XT_RETURN_IF(src->v.str.len > SIZE_MAX - 1, XT_ERR_NOMEM, "string too large");
        dst->v.str.ptr = dup_bytes(src->v.str.ptr, (size_t)src->v.str.len);
        XT_RETURN_IF(dst->v.str.ptr == NULL, XT_ERR_NOMEM, "out of memory copying a string");
        return XT_OK;
    }
    if (src->type != XT_GGUF_ARRAY) return XT_OK;
    dst->v.arr.data = NULL;
    dst->v.arr.items = NULL;
    uint64_t n = src->v.arr.count;
    size_t esize = xt_gguf_type_size(src->v.arr.elem_type);
    if (esize > 0) {
        XT_RETURN_IF(n > SIZE_MAX / esize, XT_ERR_NOMEM, "array too large");
        dst->v.arr.data = dup_bytes(src->v.arr.data, (size_t)n * esize);
        XT_RETURN_IF(dst->v.arr.data == NULL, XT_ERR_NOMEM, "out of memory copying an array");
        return XT_OK;
    }
    if (n == 0) return XT_OK;
    XT_RETURN_IF(n > SIZE_MAX / sizeof(xt_gguf_value), XT_ERR_NOMEM, "array too large");
    xt_gguf_value *items = calloc((size_t)n, sizeof *items);
    XT_RETURN_IF(items == NULL, XT_ERR_NOMEM, "out of memory copying an array");
    dst->v.arr.items = items;
    for (uint64_t i = 0; i < n; i++) {
        xt_status s = xt_gguf_value_copy(&src->v.arr.items[i], &items[i]);
        if (s != XT_OK) {
            dst->v.arr.count = i;  // free only what was copied
            xt_gguf_value_free_owned(dst);
            return s;
        }
    }
    return XT_OK;
}

void xt_gguf_value_free_owned(xt_gguf_value *v) {
    if (v->type == XT_GGUF_STRING) {
        free((void *)v->v.str.ptr);
    } else if (v->type == XT_GGUF_ARRAY) {
        free((void *)v->v.arr.data);
        if (v->v.arr.items) {
            for (uint64_t i = 0; i < v->v.arr.count; i++) {
                xt_gguf_value_free_owned((xt_gguf_value *)&v->v.arr.items[i]);
            }
            free((void *)v->v.arr.items);
        }
    }
    memset(v, 0, sizeof *v);
}

void xt_gguf_value_free_items(xt_gguf_value *v) {
    if (v->type != XT_GGUF_ARRAY || v->v.arr.items == NULL) return;
    if (v->v.arr.elem_type == XT_GGUF_ARRAY) {
        for (uint64_t i = 0; i < v->v.arr.count; i++) {
            xt_gguf_value_free_items((xt_gguf_value *)&v->v.arr.items[i]);
        }
    }
    free((void *)v->v.arr.items);
    v->v.arr.items = NULL;
}
