// gguf_read.c — the bounds-checked GGUF parser. The file is untrusted: every count, length,
// offset and size is checked against the bytes left before it is multiplied or allocated.
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"
#include "gguf/gguf_impl.h"

// ---- cursor over the file image ----

typedef struct {
    const uint8_t *p;
    size_t size;
    size_t pos;
} cursor;

static size_t left(const cursor *c) { return c->size - c->pos; }

static xt_status take(cursor *c, size_t n, const uint8_t **out, const char *what) {
    XT_RETURN_IF(n > left(c), XT_ERR_BAD_FILE,
                 "GGUF truncated: %s needs %zu bytes at offset %zu but only %zu remain", what, n,
                 c->pos, left(c));
    *out = c->p + c->pos;
    c->pos += n;
    return XT_OK;
}

static uint64_t load_le(const uint8_t *b, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static xt_status read_u32(cursor *c, uint32_t *out, const char *what) {
    const uint8_t *b = NULL;
    XT_TRY(take(c, 4, &b, what));
    *out = (uint32_t)load_le(b, 4);
    return XT_OK;
}

static xt_status read_u64(cursor *c, uint64_t *out, const char *what) {
    const uint8_t *b = NULL;
    XT_TRY(take(c, 8, &b, what));
    *out = load_le(b, 8);
    return XT_OK;
}

// Reads a length-prefixed string; the bytes stay in the image.
static xt_status read_str(cursor *c, const char **ptr, uint64_t *len, const char *what) {
    uint64_t n;
    XT_TRY(read_u64(c, &n, what));
    XT_RETURN_IF(n > left(c), XT_ERR_BAD_FILE,
                 "GGUF truncated: %s has length %" PRIu64 " but only %zu bytes remain", what, n,
                 left(c));
    const uint8_t *b = NULL;
    XT_TRY(take(c, (size_t)n, &b, what));
    *ptr = (const char *)b;
    *len = n;
    return XT_OK;
}

// Copies a name (key or tensor name) into a NUL-terminated string, rejecting embedded NULs.
static xt_status dup_name(const char *ptr, uint64_t len, const char *what, char **out) {
    XT_RETURN_IF(memchr(ptr, 0, (size_t)len) != NULL, XT_ERR_BAD_FILE,
                 "GGUF %s contains a NUL byte", what);
    char *s = malloc((size_t)len + 1);
    XT_RETURN_IF(s == NULL, XT_ERR_NOMEM, "out of memory copying %s", what);
    memcpy(s, ptr, (size_t)len);
    s[len] = '\0';
    *out = s;
    return XT_OK;
}

// ---- metadata values ----

static xt_status read_value(cursor *c, xt_gguf_type type, xt_gguf_value *out, const char *key,
                            int depth);

static xt_status read_array(cursor *c, xt_gguf_value *out, const char *key, int depth) {
    uint32_t et;
    uint64_t count;
    XT_TRY(read_u32(c, &et, "array element type"));
    XT_TRY(read_u64(c, &count, "array length"));
    XT_RETURN_IF(et >= XT_GGUF_TYPE_COUNT, XT_ERR_BAD_FILE,
                 "GGUF key '%s': array element type %u is not a GGUF value type", key, et);
    XT_RETURN_IF(et == XT_GGUF_ARRAY && depth + 1 >= XT_GGUF_MAX_DEPTH, XT_ERR_BAD_FILE,
                 "GGUF key '%s': arrays nested deeper than %d levels", key, XT_GGUF_MAX_DEPTH);
    out->type = XT_GGUF_ARRAY;
    out->v.arr.elem_type = (xt_gguf_type)et;
    out->v.arr.count = count;
    out->v.arr.data = NULL;
    out->v.arr.items = NULL;

    size_t esize = xt_gguf_type_size((xt_gguf_type)et);
    if (esize > 0) {
        XT_RETURN_IF(count > left(c) / esize, XT_ERR_BAD_FILE,
                     "GGUF key '%s': array of %" PRIu64 " %s elements runs past the end of the file",
                     key, count, xt_gguf_type_name((xt_gguf_type)et));
        const uint8_t *b = NULL;
        XT_TRY(take(c, (size_t)count * esize, &b, "array data"));
        out->v.arr.data = b;
        return XT_OK;
    }
    // STRING needs >= 8 bytes per element and ARRAY >= 12: bound the allocation by the file.
    size_t min_elem = et == XT_GGUF_STRING ? 8 : 12;
    XT_RETURN_IF(count > left(c) / min_elem, XT_ERR_BAD_FILE,
                 "GGUF key '%s': array of %" PRIu64 " %s elements runs past the end of the file",
                 key, count, xt_gguf_type_name((xt_gguf_type)et));
    if (count == 0) return XT_OK;
    xt_gguf_value *items = calloc((size_t)count, sizeof *items);
    XT_RETURN_IF(items == NULL, XT_ERR_NOMEM, "out of memory for array '%s'", key);
    out->v.arr.items = items;  // the caller frees through xt_gguf_value_free_items
    for (uint64_t i = 0; i < count; i++) {
        if (et == XT_GGUF_STRING) {
            items[i].type = XT_GGUF_STRING;
            XT_TRY(read_str(c, &items[i].v.str.ptr, &items[i].v.str.len, "array string"));
        } else {
            XT_TRY(read_value(c, XT_GGUF_ARRAY, &items[i], key, depth + 1));
        }
    }
    return XT_OK;
}

static xt_status read_value(cursor *c, xt_gguf_type type, xt_gguf_value *out, const char *key,
                            int depth) {
    out->type = type;
    const uint8_t *b = NULL;
    switch (type) {
    case XT_GGUF_UINT8: case XT_GGUF_UINT16: case XT_GGUF_UINT32: case XT_GGUF_UINT64:
    case XT_GGUF_BOOL: {
        size_t n = xt_gguf_type_size(type);
        XT_TRY(take(c, n, &b, "value"));
        out->v.u64 = load_le(b, n);
        return XT_OK;
    }
    case XT_GGUF_INT8: case XT_GGUF_INT16: case XT_GGUF_INT32: case XT_GGUF_INT64: {
        size_t n = xt_gguf_type_size(type);
        XT_TRY(take(c, n, &b, "value"));
        uint64_t u = load_le(b, n);
        if (n < 8 && (u >> (8 * n - 1)) & 1) u |= ~0ull << (8 * n);  // sign-extend
        out->v.i64 = (int64_t)u;
        return XT_OK;
    }
    case XT_GGUF_FLOAT32: {
        XT_TRY(take(c, 4, &b, "value"));
        uint32_t u = (uint32_t)load_le(b, 4);
        float f;
        memcpy(&f, &u, 4);
        out->v.f64 = f;
        return XT_OK;
    }
    case XT_GGUF_FLOAT64: {
        XT_TRY(take(c, 8, &b, "value"));
        uint64_t u = load_le(b, 8);
        memcpy(&out->v.f64, &u, 8);
        return XT_OK;
    }
    case XT_GGUF_STRING:
        return read_str(c, &out->v.str.ptr, &out->v.str.len, "string value");
    case XT_GGUF_ARRAY:
        return read_array(c, out, key, depth);
    case XT_GGUF_TYPE_COUNT:
        break;
    }
    return xt_error(XT_ERR_BAD_FILE, "GGUF key '%s': value type %u is not a GGUF value type", key,
                    (unsigned)type);
}

// ---- header, key-values, tensor infos ----

static xt_status read_header(xt_gguf *g, cursor *c) {
    const uint8_t *magic = NULL;
    XT_RETURN_IF(c->size == 0, XT_ERR_BAD_FILE, "not a GGUF file: the file is empty");
    XT_TRY(take(c, 4, &magic, "magic"));
    XT_RETURN_IF(memcmp(magic, XT_GGUF_MAGIC, 4) != 0, XT_ERR_BAD_FILE,
                 "not a GGUF file: magic is %02x %02x %02x %02x, expected 'GGUF'", magic[0],
                 magic[1], magic[2], magic[3]);
    XT_TRY(read_u32(c, &g->version, "version"));
    XT_RETURN_IF(g->version != 0 && (g->version & 0xFFFFu) == 0, XT_ERR_BAD_FILE,
                 "big-endian GGUF files are not supported (version field reads 0x%08x); "
                 "convert the file on a little-endian machine",
                 g->version);
    XT_RETURN_IF(g->version == 1, XT_ERR_BAD_FILE,
                 "GGUF version 1 is no longer supported (versions 2 and 3 are); re-convert the model");
    XT_RETURN_IF(g->version != 2 && g->version != 3, XT_ERR_BAD_FILE,
                 "unsupported GGUF version %u (versions 2 and 3 are supported)", g->version);
    uint64_t n_tensors, n_kv;
    XT_TRY(read_u64(c, &n_tensors, "header n_tensors"));
    XT_TRY(read_u64(c, &n_kv, "header n_kv"));
    // A key-value takes at least 8 + 4 + 1 bytes and a tensor info at least 8 + 4 + 4 + 8.
    XT_RETURN_IF(n_kv > left(c) / 13, XT_ERR_BAD_FILE,
                 "GGUF header: n_kv = %" PRIu64 " is more than the file can hold", n_kv);
    XT_RETURN_IF(n_tensors > left(c) / 24, XT_ERR_BAD_FILE,
                 "GGUF header: n_tensors = %" PRIu64 " is more than the file can hold", n_tensors);
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    return XT_OK;
}

static xt_status read_kvs(xt_gguf *g, cursor *c) {
    g->keys = calloc((size_t)g->n_kv + 1, sizeof *g->keys);
    g->values = calloc((size_t)g->n_kv + 1, sizeof *g->values);
    XT_RETURN_IF(g->keys == NULL || g->values == NULL, XT_ERR_NOMEM, "out of memory for metadata");
    XT_TRY(xt_strmap_init(&g->key_index, (size_t)g->n_kv));
    for (int64_t i = 0; i < g->n_kv; i++) {
        const char *kp = NULL;
        uint64_t klen = 0;
        XT_TRY(read_str(c, &kp, &klen, "key"));
        XT_RETURN_IF(klen == 0 || klen > XT_GGUF_MAX_KEY, XT_ERR_BAD_FILE,
                     "GGUF key #%" PRId64 " has length %" PRIu64 " (1 to %d allowed)", i, klen,
                     XT_GGUF_MAX_KEY);
        XT_TRY(dup_name(kp, klen, "key", &g->keys[i]));
        const char *key = g->keys[i];
        XT_RETURN_IF(!xt_strmap_insert(&g->key_index, key, i), XT_ERR_BAD_FILE,
                     "GGUF duplicate key '%s': it appears more than once", key);
        uint32_t type;
        XT_TRY(read_u32(c, &type, "value type"));
        XT_RETURN_IF(type >= XT_GGUF_TYPE_COUNT, XT_ERR_BAD_FILE,
                     "GGUF key '%s': value type %u is not a GGUF value type", key, type);
        XT_TRY(read_value(c, (xt_gguf_type)type, &g->values[i], key, 0));
    }
    return XT_OK;
}

static xt_status apply_alignment(xt_gguf *g) {
    g->alignment = XT_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = xt_strmap_get(&g->key_index, "general.alignment");
    if (i < 0) return XT_OK;
    const xt_gguf_value *v = &g->values[i];
    XT_RETURN_IF(v->type != XT_GGUF_UINT32, XT_ERR_BAD_FILE,
                 "GGUF key 'general.alignment' has type %s; it must be uint32",
                 xt_gguf_type_name(v->type));
    uint64_t a = v->v.u64;
    XT_RETURN_IF(a == 0 || (a & (a - 1)) != 0, XT_ERR_BAD_FILE,
                 "GGUF key 'general.alignment' is %" PRIu64 "; it must be a power of two", a);
    g->alignment = (uint32_t)a;
    return XT_OK;
}

static xt_status read_tensor_info(xt_gguf *g, cursor *c, int64_t i) {
    xt_gguf_tensor *t = &g->tensors[i];
    const char *np = NULL;
    uint64_t nlen = 0;
    XT_TRY(read_str(c, &np, &nlen, "tensor name"));
    XT_RETURN_IF(nlen == 0 || nlen > XT_GGUF_MAX_NAME, XT_ERR_BAD_FILE,
                 "GGUF tensor #%" PRId64 ": name length %" PRIu64 " (1 to %d bytes allowed)", i,
                 nlen, XT_GGUF_MAX_NAME);
    XT_TRY(dup_name(np, nlen, "tensor name", (char **)&t->name));
    XT_RETURN_IF(!xt_strmap_insert(&g->tensor_index, t->name, i), XT_ERR_BAD_FILE,
                 "GGUF duplicate tensor name '%s': it appears more than once", t->name);
    XT_TRY(read_u32(c, &t->n_dims, "tensor n_dims"));
    XT_RETURN_IF(t->n_dims > XT_GGUF_MAX_DIMS, XT_ERR_BAD_FILE,
                 "GGUF tensor '%s': %u dimensions (at most %d)", t->name, t->n_dims,
                 XT_GGUF_MAX_DIMS);
    for (int d = 0; d < XT_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        XT_TRY(read_u64(c, &ne, "tensor dimension"));
        XT_RETURN_IF(ne > (uint64_t)INT64_MAX, XT_ERR_BAD_FILE,
                     "GGUF tensor '%s': dimension %u is %" PRIu64 ", out of range", t->name, d, ne);
        t->ne[d] = (int64_t)ne;
    }
    XT_TRY(read_u32(c, &t->type, "tensor type"));
    const xt_dtype_info *info = t->type < XT_GGML_TYPE_COUNT ? xt_dtype_get(t->type) : NULL;
    XT_RETURN_IF(info == NULL, XT_ERR_BAD_FILE, "GGUF tensor '%s': unknown tensor type id %u",
                 t->name, t->type);
    XT_TRY(read_u64(c, &t->offset, "tensor offset"));

    size_t row;
    XT_RETURN_IF(!xt_dtype_row_size(t->type, t->ne[0], &row), XT_ERR_BAD_FILE,
                 "GGUF tensor '%s': row length %" PRId64 " is not a multiple of the %s block "
                 "size %" PRId64, t->name, t->ne[0], info->name, info->block_size);
    uint64_t nbytes = row;
    for (int d = 1; d < XT_GGUF_MAX_DIMS; d++) {
        uint64_t ne = (uint64_t)t->ne[d];
        XT_RETURN_IF(ne != 0 && nbytes > UINT64_MAX / ne, XT_ERR_BAD_FILE,
                     "GGUF tensor '%s': size overflows", t->name);
        nbytes *= ne;
    }
    t->nbytes = nbytes;
    XT_RETURN_IF(t->offset % g->alignment != 0, XT_ERR_BAD_FILE,
                 "GGUF tensor '%s': offset %" PRIu64 " is not a multiple of the alignment %u",
                 t->name, t->offset, g->alignment);
    return XT_OK;
}

// Checks every tensor's data lies in the file and points its data into the image.
static xt_status place_tensors(xt_gguf *g, size_t infos_end) {
    uint64_t a = g->alignment;
    uint64_t data_off = infos_end + (a - infos_end % a) % a;
    g->data_offset = data_off;
    if (g->n_tensors == 0) return XT_OK;
    XT_RETURN_IF(data_off > g->size, XT_ERR_BAD_FILE,
                 "GGUF truncated: the data section would start at %" PRIu64
                 " but the file has %zu bytes", data_off, g->size);
    uint64_t data_size = g->size - data_off;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        xt_gguf_tensor *t = &g->tensors[i];
        XT_RETURN_IF(t->offset > data_size || t->nbytes > data_size - t->offset, XT_ERR_BAD_FILE,
                     "GGUF tensor '%s': data [%" PRIu64 ", +%" PRIu64 ") lies past the end of "
                     "the data section (%" PRIu64 " bytes)", t->name, t->offset, t->nbytes,
                     data_size);
        t->data = g->base + data_off + t->offset;
    }
    return XT_OK;
}

static xt_status read_tensor_infos(xt_gguf *g, cursor *c) {
    g->tensors = calloc((size_t)g->n_tensors + 1, sizeof *g->tensors);
    XT_RETURN_IF(g->tensors == NULL, XT_ERR_NOMEM, "out of memory for the tensor table");
    XT_TRY(xt_strmap_init(&g->tensor_index, (size_t)g->n_tensors));
    for (int64_t i = 0; i < g->n_tensors; i++) XT_TRY(read_tensor_info(g, c, i));
    return place_tensors(g, c->pos);
}

static xt_status copy_architecture(xt_gguf *g) {
    int64_t i = xt_strmap_get(&g->key_index, "general.architecture");
    if (i < 0) return XT_OK;
    const xt_gguf_value *v = &g->values[i];
    XT_RETURN_IF(v->type != XT_GGUF_STRING, XT_ERR_BAD_FILE,
                 "GGUF key 'general.architecture' has type %s; it must be string",
                 xt_gguf_type_name(v->type));
    return dup_name(v->v.str.ptr, v->v.str.len, "general.architecture", &g->architecture);
}

static xt_status parse(xt_gguf *g) {
    cursor c = {.p = g->base, .size = g->size, .pos = 0};
    XT_TRY(read_header(g, &c));
    XT_TRY(read_kvs(g, &c));
    XT_TRY(apply_alignment(g));
    XT_TRY(copy_architecture(g));
    return read_tensor_infos(g, &c);
}

// ---- public API ----

static xt_status finish_open(xt_gguf *g, xt_gguf **out) {
    xt_status s = parse(g);
    if (s != XT_OK) {
        xt_gguf_free(g);
        return s;
    }
    *out = g;
    return XT_OK;
}

xt_status xt_gguf_open(const char *path, xt_gguf **out) {
    XT_RETURN_IF(path == NULL || out == NULL, XT_ERR_INVALID_ARG, "xt_gguf_open: NULL argument");
    xt_gguf *g = calloc(1, sizeof *g);
    XT_RETURN_IF(g == NULL, XT_ERR_NOMEM, "out of memory opening '%s'", path);
    xt_status s = xt_mapping_open(path, &g->map);
    if (s != XT_OK) {
        free(g);
        return s;
    }
    g->base = g->map.data;
    g->size = g->map.size;
    return finish_open(g, out);
}

xt_status xt_gguf_open_memory(const void *data, size_t size, xt_gguf **out) {
    XT_RETURN_IF((data == NULL && size > 0) || out == NULL, XT_ERR_INVALID_ARG,
                 "xt_gguf_open_memory: NULL argument");
    xt_gguf *g = calloc(1, sizeof *g);
    XT_RETURN_IF(g == NULL, XT_ERR_NOMEM, "out of memory parsing a GGUF image");
    g->base = data;
    g->size = size;
    return finish_open(g, out);
}

void xt_gguf_free(xt_gguf *g) {
    if (g == NULL) return;
    if (g->values) {
        for (int64_t i = 0; i < g->n_kv; i++) xt_gguf_value_free_items(&g->values[i]);
    }
    if (g->keys) {
        for (int64_t i = 0; i < g->n_kv; i++) free(g->keys[i]);
    }
    if (g->tensors) {
        for (int64_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    }
    free(g->keys);
    free(g->values);
    free(g->tensors);
    free(g->architecture);
    free(g->tensor_layer);
    free(g->layer_sizes);
    xt_strmap_free(&g->key_index);
    xt_strmap_free(&g->tensor_index);
    xt_mapping_close(&g->map);
    free(g);
}

uint32_t xt_gguf_version(const xt_gguf *g) { return g->version; }
uint32_t xt_gguf_alignment(const xt_gguf *g) { return g->alignment; }
uint64_t xt_gguf_data_offset(const xt_gguf *g) { return g->data_offset; }
uint64_t xt_gguf_file_size(const xt_gguf *g) { return g->size; }
int64_t xt_gguf_n_kv(const xt_gguf *g) { return g->n_kv; }
int64_t xt_gguf_n_tensors(const xt_gguf *g) { return g->n_tensors; }
const char *xt_gguf_kv_key(const xt_gguf *g, int64_t i) { return g->keys[i]; }
const xt_gguf_value *xt_gguf_kv_value(const xt_gguf *g, int64_t i) { return &g->values[i]; }
int64_t xt_gguf_find_key(const xt_gguf *g, const char *key) {
    return xt_strmap_get(&g->key_index, key);
}
const xt_gguf_tensor *xt_gguf_tensor_at(const xt_gguf *g, int64_t i) { return &g->tensors[i]; }
int64_t xt_gguf_find_tensor(const xt_gguf *g, const char *name) {
    return xt_strmap_get(&g->tensor_index, name);
}
const char *xt_gguf_architecture(const xt_gguf *g) { return g->architecture; }
