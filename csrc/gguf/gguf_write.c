// gguf_write.c — the GGUF writer: collects key-values and tensors, then writes a version-3
// file with an aligned data section. The output appears atomically (temporary file + rename).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/strmap.h"
#include "core/status.h"
#include "gguf/gguf.h"

typedef struct {
    char *key;
    xt_gguf_value value;  // owned deep copy
} writer_kv;

typedef struct {
    char *name;
    uint32_t n_dims;
    int64_t ne[XT_GGUF_MAX_DIMS];
    uint32_t type;
    const void *data;     // borrowed until write returns
    size_t nbytes;
} writer_tensor;

struct xt_gguf_writer {
    uint32_t alignment;
    writer_kv *kvs;
    size_t n_kv, cap_kv;
    writer_tensor *tensors;
    size_t n_tensors, cap_tensors;
};

// ---- building ----

xt_status xt_gguf_writer_new(uint32_t alignment, xt_gguf_writer **out) {
    if (alignment == 0) alignment = XT_GGUF_DEFAULT_ALIGNMENT;
    XT_RETURN_IF((alignment & (alignment - 1)) != 0, XT_ERR_INVALID_ARG,
                 "alignment %u is not a power of two", alignment);
    xt_gguf_writer *w = calloc(1, sizeof *w);
    XT_RETURN_IF(w == NULL, XT_ERR_NOMEM, "out of memory creating a GGUF writer");
    w->alignment = alignment;
    *out = w;
    return XT_OK;
}

void xt_gguf_writer_free(xt_gguf_writer *w) {
    if (w == NULL) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        xt_gguf_value_free_owned(&w->kvs[i].value);
    }
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kvs);
    free(w->tensors);
    free(w);
}

// Grows an array of `elem` bytes to hold one more element.
static xt_status grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return XT_OK;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * elem);
    XT_RETURN_IF(p == NULL, XT_ERR_NOMEM, "out of memory in the GGUF writer");
    *arr = p;
    *cap = ncap;
    return XT_OK;
}

static bool has_key(const xt_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kvs[i].key, key) == 0) return true;
    }
    return false;
}

xt_status xt_gguf_writer_add_kv(xt_gguf_writer *w, const char *key, const xt_gguf_value *value) {
    size_t klen = strlen(key);
    XT_RETURN_IF(klen == 0 || klen > XT_GGUF_MAX_KEY, XT_ERR_INVALID_ARG,
                 "key '%.64s' has length %zu (1 to %d allowed)", key, klen, XT_GGUF_MAX_KEY);
    XT_RETURN_IF(has_key(w, key), XT_ERR_INVALID_ARG, "key '%s' is given more than once", key);
    XT_TRY(xt_gguf_value_validate(value, key, 0));
    if (strcmp(key, "general.alignment") == 0) {
        XT_RETURN_IF(value->type != XT_GGUF_UINT32, XT_ERR_INVALID_ARG,
                     "key 'general.alignment' must be uint32, not %s",
                     xt_gguf_type_name(value->type));
        uint64_t a = value->v.u64;
        XT_RETURN_IF(a == 0 || (a & (a - 1)) != 0, XT_ERR_INVALID_ARG,
                     "general.alignment %" PRIu64 " is not a power of two", a);
        w->alignment = (uint32_t)a;
    }
    XT_TRY(grow((void **)&w->kvs, &w->cap_kv, w->n_kv, sizeof *w->kvs));
    writer_kv kv = {.key = malloc(klen + 1)};
    XT_RETURN_IF(kv.key == NULL, XT_ERR_NOMEM, "out of memory in the GGUF writer");
    memcpy(kv.key, key, klen + 1);
    xt_status s = xt_gguf_value_copy(value, &kv.value);
    if (s != XT_OK) {
        free(kv.key);
        return s;
    }
    w->kvs[w->n_kv++] = kv;
    return XT_OK;
}

xt_status xt_gguf_writer_add_tensor(xt_gguf_writer *w, const char *name, uint32_t n_dims,
                                    const int64_t *ne, uint32_t type, const void *data,
                                    size_t nbytes) {
    size_t nlen = strlen(name);
    XT_RETURN_IF(nlen == 0 || nlen > XT_GGUF_MAX_NAME, XT_ERR_INVALID_ARG,
                 "tensor name '%s' has length %zu (1 to %d bytes allowed)", name, nlen,
                 XT_GGUF_MAX_NAME);
    for (size_t i = 0; i < w->n_tensors; i++) {
        XT_RETURN_IF(strcmp(w->tensors[i].name, name) == 0, XT_ERR_INVALID_ARG,
                     "tensor '%s' is given more than once", name);
    }
    XT_RETURN_IF(n_dims > XT_GGUF_MAX_DIMS, XT_ERR_INVALID_ARG,
                 "tensor '%s' has %u dimensions (at most %d)", name, n_dims, XT_GGUF_MAX_DIMS);
    const xt_dtype_info *info = type < XT_GGML_TYPE_COUNT ? xt_dtype_get(type) : NULL;
    XT_RETURN_IF(info == NULL, XT_ERR_INVALID_ARG,
                 "tensor '%s': type id %u cannot be stored in GGUF", name, type);
    writer_tensor t = {.n_dims = n_dims, .type = type, .data = data, .nbytes = nbytes};
    for (int d = 0; d < XT_GGUF_MAX_DIMS; d++) t.ne[d] = (uint32_t)d < n_dims ? ne[d] : 1;
    size_t expect;
    XT_RETURN_IF(!xt_dtype_row_size(type, t.ne[0], &expect), XT_ERR_INVALID_ARG,
                 "tensor '%s': row length %" PRId64 " is not a multiple of the %s block size %"
                 PRId64, name, t.ne[0], info->name, info->block_size);
    for (int d = 1; d < XT_GGUF_MAX_DIMS; d++) {
        XT_RETURN_IF(t.ne[d] < 0 || (t.ne[d] > 0 && expect > SIZE_MAX / (uint64_t)t.ne[d]),
                     XT_ERR_INVALID_ARG, "tensor '%s': invalid or overflowing shape", name);
        expect *= (size_t)t.ne[d];
    }
    XT_RETURN_IF(expect != nbytes, XT_ERR_INVALID_ARG,
                 "tensor '%s': %s data of this shape takes %zu bytes, got %zu", name, info->name,
                 expect, nbytes);
    XT_TRY(grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors));
    t.name = malloc(nlen + 1);
    XT_RETURN_IF(t.name == NULL, XT_ERR_NOMEM, "out of memory in the GGUF writer");
    memcpy(t.name, name, nlen + 1);
    w->tensors[w->n_tensors++] = t;
    return XT_OK;
}

// ---- serializing ----

typedef struct {
    FILE *f;
    uint64_t pos;
    bool failed;
} out_stream;

static void put(out_stream *o, const void *p, size_t n) {
    if (o->failed || n == 0) return;
    if (fwrite(p, 1, n, o->f) != n) o->failed = true;
    o->pos += n;
}

static void put_le(out_stream *o, uint64_t v, size_t n) {
    uint8_t b[8];
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
    put(o, b, n);
}

static void put_str(out_stream *o, const char *p, uint64_t n) {
    put_le(o, n, 8);
    put(o, p, (size_t)n);
}

static void put_zeros(out_stream *o, uint64_t n) {
    static const uint8_t zeros[64];
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        put(o, zeros, k);
        n -= k;
    }
}

static void put_value_payload(out_stream *o, const xt_gguf_value *v) {
    switch (v->type) {
    case XT_GGUF_FLOAT32: {
        float f = (float)v->v.f64;
        uint32_t u;
        memcpy(&u, &f, 4);
        put_le(o, u, 4);
        return;
    }
    case XT_GGUF_FLOAT64: {
        uint64_t u;
        memcpy(&u, &v->v.f64, 8);
        put_le(o, u, 8);
        return;
    }
    case XT_GGUF_STRING:
        put_str(o, v->v.str.ptr, v->v.str.len);
        return;
    case XT_GGUF_ARRAY: {
        put_le(o, (uint64_t)v->v.arr.elem_type, 4);
        put_le(o, v->v.arr.count, 8);
        size_t esize = xt_gguf_type_size(v->v.arr.elem_type);
        if (esize > 0) {
            put(o, v->v.arr.data, (size_t)v->v.arr.count * esize);  // already little-endian
        } else {
            for (uint64_t i = 0; i < v->v.arr.count; i++) put_value_payload(o, &v->v.arr.items[i]);
        }
        return;
    }
    default:  // integers and bool: u64 and i64 share the low bytes
        put_le(o, v->v.u64, xt_gguf_type_size(v->type));
        return;
    }
}

static uint64_t align_up(uint64_t x, uint64_t a) { return x + (a - x % a) % a; }

static void put_file(out_stream *o, const xt_gguf_writer *w, bool add_alignment_key) {
    uint64_t a = w->alignment;
    put(o, XT_GGUF_MAGIC, 4);
    put_le(o, 3, 4);
    put_le(o, w->n_tensors, 8);
    put_le(o, w->n_kv + (add_alignment_key ? 1 : 0), 8);
    if (add_alignment_key) {
        static const char k[] = "general.alignment";
        put_str(o, k, sizeof k - 1);
        put_le(o, XT_GGUF_UINT32, 4);
        put_le(o, a, 4);
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(o, w->kvs[i].key, strlen(w->kvs[i].key));
        put_le(o, (uint64_t)w->kvs[i].value.type, 4);
        put_value_payload(o, &w->kvs[i].value);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        put_str(o, t->name, strlen(t->name));
        put_le(o, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++) put_le(o, (uint64_t)t->ne[d], 8);
        put_le(o, t->type, 4);
        put_le(o, offset, 8);
        offset = align_up(offset + t->nbytes, a);
    }
    if (w->n_tensors > 0) put_zeros(o, align_up(o->pos, a) - o->pos);
    for (size_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        put(o, t->data, t->nbytes);
        put_zeros(o, align_up(t->nbytes, a) - t->nbytes);
    }
}

xt_status xt_gguf_writer_write(xt_gguf_writer *w, const char *path) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    XT_RETURN_IF(tmp == NULL, XT_ERR_NOMEM, "out of memory writing '%s'", path);
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return xt_error_errno(err, "cannot create a temporary file next to '%s'", path);
    }
    fchmod(fd, 0644);  // mkstemp creates 0600; a model file is meant to be shared
    out_stream o = {.f = fdopen(fd, "wb")};
    if (o.f == NULL) {
        int err = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return xt_error_errno(err, "cannot write '%s'", path);
    }
    bool add_alignment_key = w->alignment != XT_GGUF_DEFAULT_ALIGNMENT &&
                             !has_key(w, "general.alignment");
    put_file(&o, w, add_alignment_key);
    int err = o.failed ? errno : 0;
    if (fclose(o.f) != 0 && err == 0) err = errno ? errno : EIO;
    if (err == 0 && o.failed) err = EIO;
    if (err == 0 && rename(tmp, path) != 0) err = errno;
    if (err != 0) {
        unlink(tmp);
        free(tmp);
        return xt_error_errno(err, "cannot write '%s'", path);
    }
    free(tmp);
    return XT_OK;
}
