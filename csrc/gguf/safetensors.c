// safetensors.c — the bounds-checked safetensors reader: parses the JSON header with the strict
// reader (json.c), checks every field, and points tensors into the mmapped data section.
//
// Layout rules are those the reference Rust crate (`safetensors`, Metadata::validate and
// read_metadata) enforces: header length <= 100 MB and inside the file; tensors sorted by
// data_offsets must start at 0, follow each other with no gap and no overlap, each hold exactly
// numel * dtype size bytes, and the last must end exactly at the end of the file. Unknown
// fields in a tensor entry are ignored and "__metadata__" may be null, as the crate allows.
// Stricter than the crate: duplicate keys (the crate keeps the last), tensor names or
// metadata keys holding U+0000, and more than XT_ST_MAX_DIMS dimensions are errors.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mmap.h"
#include "core/status.h"
#include "core/strmap.h"
#include "gguf/safetensors.h"

struct xt_safetensors {
    xt_mapping map;          // zeroed for xt_safetensors_open_memory
    const uint8_t *base;     // (size) the whole file image
    size_t size;
    uint64_t header_len;     // N: the data section starts at 8 + N
    xt_json *doc;            // the parsed header; names, keys and values point into it
    xt_st_tensor *tensors;   // (n_tensors) in data order
    int64_t n_tensors;
    int64_t *dims;           // every tensor's shape, back to back
    xt_st_kv *kvs;           // (n_kvs) "__metadata__" in header order
    int64_t n_kvs;
    xt_strmap tensor_index;  // name -> index into tensors
    xt_strmap kv_index;      // key -> index into kvs
};

// ---- dtypes ----

static const struct {
    const char *name;
    size_t size;
} k_dtypes[XT_ST_DTYPE_COUNT] = {
    [XT_ST_BOOL] = {"BOOL", 1},          [XT_ST_U8] = {"U8", 1},
    [XT_ST_I8] = {"I8", 1},              [XT_ST_F8_E5M2] = {"F8_E5M2", 1},
    [XT_ST_F8_E4M3] = {"F8_E4M3", 1},    [XT_ST_F8_E8M0] = {"F8_E8M0", 1},
    [XT_ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 1}, [XT_ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 1},
    [XT_ST_I16] = {"I16", 2},            [XT_ST_U16] = {"U16", 2},
    [XT_ST_F16] = {"F16", 2},            [XT_ST_BF16] = {"BF16", 2},
    [XT_ST_I32] = {"I32", 4},            [XT_ST_U32] = {"U32", 4},
    [XT_ST_F32] = {"F32", 4},            [XT_ST_C64] = {"C64", 8},
    [XT_ST_F64] = {"F64", 8},            [XT_ST_I64] = {"I64", 8},
    [XT_ST_U64] = {"U64", 8},
};

// Sub-byte types the crate knows; well-formed but not supported here.
static const char *const k_sub_byte[] = {"F4", "F6_E2M3", "F6_E3M2"};

const char *xt_st_dtype_name(xt_st_dtype t) {
    return (unsigned)t < XT_ST_DTYPE_COUNT ? k_dtypes[t].name : NULL;
}

size_t xt_st_dtype_size(xt_st_dtype t) {
    return (unsigned)t < XT_ST_DTYPE_COUNT ? k_dtypes[t].size : 0;
}

// ---- field checks ----

#define NAME_FMT "'%.200s'"  // XT_ST_MSG_NAME

static bool has_nul(const char *s, size_t len) { return strlen(s) != len; }

static xt_status parse_dtype(const char *name, const xt_json_value *v, xt_st_dtype *out) {
    XT_RETURN_IF(v == NULL, XT_ERR_BAD_FILE, "safetensors tensor " NAME_FMT ": missing field 'dtype'",
                 name);
    XT_RETURN_IF(v->type != XT_JSON_STRING, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": 'dtype' is a %s, not a string", name,
                 xt_json_type_name(v->type));
    for (int t = 0; t < XT_ST_DTYPE_COUNT; t++) {
        if (strcmp(v->v.str.ptr, k_dtypes[t].name) == 0 && !has_nul(v->v.str.ptr, v->v.str.len)) {
            *out = (xt_st_dtype)t;
            return XT_OK;
        }
    }
    for (size_t i = 0; i < sizeof k_sub_byte / sizeof *k_sub_byte; i++) {
        XT_RETURN_IF(strcmp(v->v.str.ptr, k_sub_byte[i]) == 0, XT_ERR_UNSUPPORTED,
                     "safetensors tensor " NAME_FMT ": dtype '%s' (sub-byte elements) is not "
                     "supported", name, k_sub_byte[i]);
    }
    return xt_error(XT_ERR_BAD_FILE,
                    "safetensors tensor " NAME_FMT ": unknown dtype '%.40s' (expected one of BOOL, "
                    "U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, C64, F8_E4M3, "
                    "F8_E5M2, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ)", name, v->v.str.ptr);
}

// A JSON integer >= 0 (the crate's usize).
static xt_status read_count(const char *name, const char *field, const xt_json_value *v,
                            uint64_t *out) {
    XT_RETURN_IF(v->type == XT_JSON_DOUBLE, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": %s holds %g, not a non-negative integer", name,
                 field, v->v.d);
    XT_RETURN_IF(v->type != XT_JSON_INT, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": %s holds a %s, not a non-negative integer",
                 name, field, xt_json_type_name(v->type));
    XT_RETURN_IF(v->v.i < 0, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": %s is %" PRId64 "; it must be >= 0", name, field,
                 v->v.i);
    *out = (uint64_t)v->v.i;
    return XT_OK;
}

static xt_status parse_shape(const char *name, const xt_json_value *v, xt_st_tensor *t,
                             int64_t *dims) {
    XT_RETURN_IF(v == NULL, XT_ERR_BAD_FILE, "safetensors tensor " NAME_FMT ": missing field 'shape'",
                 name);
    XT_RETURN_IF(v->type != XT_JSON_ARRAY, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": 'shape' is a %s, not an array", name,
                 xt_json_type_name(v->type));
    XT_RETURN_IF(v->v.arr.count > XT_ST_MAX_DIMS, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": %zu dimensions (at most %d)", name,
                 v->v.arr.count, XT_ST_MAX_DIMS);
    for (size_t d = 0; d < v->v.arr.count; d++) {
        uint64_t n = 0;
        XT_TRY(read_count(name, "a 'shape' entry", &v->v.arr.items[d], &n));
        dims[d] = (int64_t)n;
    }
    t->n_dims = (uint32_t)v->v.arr.count;
    t->shape = dims;
    return XT_OK;
}

static xt_status parse_offsets(const char *name, const xt_json_value *v, uint64_t *begin,
                               uint64_t *end) {
    XT_RETURN_IF(v == NULL, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": missing field 'data_offsets'", name);
    XT_RETURN_IF(v->type != XT_JSON_ARRAY || v->v.arr.count != 2, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": 'data_offsets' must be an array [begin, end]",
                 name);
    XT_TRY(read_count(name, "data_offsets[0]", &v->v.arr.items[0], begin));
    XT_TRY(read_count(name, "data_offsets[1]", &v->v.arr.items[1], end));
    XT_RETURN_IF(*begin > *end, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": data_offsets [%" PRIu64 ", %" PRIu64
                 "] end before they begin", name, *begin, *end);
    return XT_OK;
}

// Fills t from one header entry; dims has room for the entry's shape (the caller counted it).
static xt_status parse_tensor(const xt_json_member *m, xt_st_tensor *t, int64_t *dims) {
    const char *name = m->key;
    XT_RETURN_IF(has_nul(name, m->key_len), XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT "...: the name contains U+0000", name);
    t->name = name;
    const xt_json_value *v = &m->value;
    XT_RETURN_IF(v->type != XT_JSON_OBJECT, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": the entry is a %s, not an object", name,
                 xt_json_type_name(v->type));
    XT_TRY(parse_dtype(name, xt_json_get(v, "dtype"), &t->dtype));
    XT_TRY(parse_shape(name, xt_json_get(v, "shape"), t, dims));
    uint64_t begin = 0, end = 0;
    XT_TRY(parse_offsets(name, xt_json_get(v, "data_offsets"), &begin, &end));

    uint64_t nbytes = k_dtypes[t->dtype].size;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t n = (uint64_t)t->shape[d];
        XT_RETURN_IF(n != 0 && nbytes > UINT64_MAX / n, XT_ERR_BAD_FILE,
                     "safetensors tensor " NAME_FMT ": the size of its shape overflows 64 bits",
                     name);
        nbytes *= n;
    }
    XT_RETURN_IF(end - begin != nbytes, XT_ERR_BAD_FILE,
                 "safetensors tensor " NAME_FMT ": data_offsets [%" PRIu64 ", %" PRIu64
                 "] hold %" PRIu64 " bytes but %s with its shape needs %" PRIu64, name, begin, end,
                 end - begin, k_dtypes[t->dtype].name, nbytes);
    t->offset = begin;
    t->nbytes = nbytes;
    return XT_OK;
}

static xt_status parse_metadata(xt_safetensors *h, const xt_json_value *v) {
    if (v->type == XT_JSON_NULL) return XT_OK;  // the crate accepts null
    XT_RETURN_IF(v->type != XT_JSON_OBJECT, XT_ERR_BAD_FILE,
                 "safetensors '__metadata__' is a %s, not an object of strings",
                 xt_json_type_name(v->type));
    size_t n = v->v.obj.count;
    h->kvs = calloc(n + 1, sizeof *h->kvs);
    XT_RETURN_IF(h->kvs == NULL, XT_ERR_NOMEM, "out of memory for safetensors metadata");
    XT_TRY(xt_strmap_init(&h->kv_index, n));
    for (size_t i = 0; i < n; i++) {
        const xt_json_member *m = &v->v.obj.members[i];
        XT_RETURN_IF(has_nul(m->key, m->key_len), XT_ERR_BAD_FILE,
                     "safetensors '__metadata__' key " NAME_FMT "...: contains U+0000", m->key);
        XT_RETURN_IF(m->value.type != XT_JSON_STRING, XT_ERR_BAD_FILE,
                     "safetensors '__metadata__' key " NAME_FMT ": the value is a %s, not a string",
                     m->key, xt_json_type_name(m->value.type));
        XT_ASSERT(xt_strmap_insert(&h->kv_index, m->key, (int64_t)i));  // JSON keys are unique
        h->kvs[i] = (xt_st_kv){m->key, m->value.v.str.ptr, m->value.v.str.len};
    }
    h->n_kvs = (int64_t)n;
    return XT_OK;
}

// ---- layout ----

static int cmp_tensor(const void *a, const void *b) {
    const xt_st_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    uint64_t xe = x->offset + x->nbytes, ye = y->offset + y->nbytes;
    if (xe != ye) return xe < ye ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;  // header order (arena order) breaks ties
}

// Sorts by data_offsets and checks the tensors tile the data section exactly.
static xt_status place_tensors(xt_safetensors *h) {
    uint64_t data_off = 8 + h->header_len;
    uint64_t data_size = h->size - data_off;
    if (h->n_tensors > 1) qsort(h->tensors, (size_t)h->n_tensors, sizeof *h->tensors, cmp_tensor);
    uint64_t expect = 0;
    const char *prev = NULL;
    for (int64_t i = 0; i < h->n_tensors; i++) {
        xt_st_tensor *t = &h->tensors[i];
        uint64_t end = t->offset + t->nbytes;  // no overflow: both came from int64 values
        XT_RETURN_IF(end > data_size, XT_ERR_BAD_FILE,
                     "safetensors tensor " NAME_FMT ": data_offsets [%" PRIu64 ", %" PRIu64
                     "] run past the end of the data section (%" PRIu64 " bytes)", t->name,
                     t->offset, end, data_size);
        XT_RETURN_IF(t->offset < expect, XT_ERR_BAD_FILE,
                     "safetensors tensor " NAME_FMT ": data_offsets [%" PRIu64 ", %" PRIu64
                     "] overlap tensor " NAME_FMT " (which ends at %" PRIu64 ")", t->name,
                     t->offset, end, prev, expect);
        XT_RETURN_IF(t->offset > expect, XT_ERR_BAD_FILE,
                     "safetensors tensor " NAME_FMT ": data_offsets begin at %" PRIu64 " but the "
                     "previous tensor ends at %" PRIu64 "; tensors must be contiguous",
                     t->name, t->offset, expect);
        t->data = h->base + data_off + t->offset;
        expect = end;
        prev = t->name;
    }
    XT_RETURN_IF(expect != data_size, XT_ERR_BAD_FILE,
                 "safetensors: the tensors cover %" PRIu64 " bytes but the data section has %" PRIu64
                 " (the file must end where the last tensor ends)", expect, data_size);
    XT_TRY(xt_strmap_init(&h->tensor_index, (size_t)h->n_tensors));
    for (int64_t i = 0; i < h->n_tensors; i++) {
        XT_ASSERT(xt_strmap_insert(&h->tensor_index, h->tensors[i].name, i));
    }
    return XT_OK;
}

// ---- header ----

static uint64_t load_le64(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static xt_status parse_json_header(xt_safetensors *h) {
    xt_status s = xt_json_parse(h->base + 8, (size_t)h->header_len, &h->doc);
    if (s == XT_OK) return XT_OK;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", xt_last_error());
    return xt_error(s, "safetensors header (byte 0 is file offset 8): %s", msg);
}

static xt_status parse(xt_safetensors *h) {
    XT_RETURN_IF(h->size < 8, XT_ERR_BAD_FILE,
                 "not a safetensors file: %zu bytes, less than the 8-byte header length", h->size);
    h->header_len = load_le64(h->base);
    XT_RETURN_IF(h->header_len > XT_ST_MAX_HEADER, XT_ERR_BAD_FILE,
                 "safetensors header length %" PRIu64 " is over the %" PRIu64 "-byte limit",
                 h->header_len, XT_ST_MAX_HEADER);
    XT_RETURN_IF(h->header_len > h->size - 8, XT_ERR_BAD_FILE,
                 "safetensors header length %" PRIu64 " runs past the end of the file (%zu bytes "
                 "follow the length field)", h->header_len, h->size - 8);
    XT_TRY(parse_json_header(h));
    const xt_json_value *root = xt_json_root(h->doc);
    XT_RETURN_IF(root->type != XT_JSON_OBJECT, XT_ERR_BAD_FILE,
                 "safetensors header is a JSON %s, not an object", xt_json_type_name(root->type));

    size_t n_dims = 0, n = 0;
    for (size_t i = 0; i < root->v.obj.count; i++) {
        const xt_json_member *m = &root->v.obj.members[i];
        if (strcmp(m->key, "__metadata__") == 0 && m->key_len == 12) continue;
        const xt_json_value *shape = xt_json_get(&m->value, "shape");
        if (xt_json_is(shape, XT_JSON_ARRAY)) n_dims += shape->v.arr.count;
        n++;
    }
    h->tensors = calloc(n + 1, sizeof *h->tensors);
    h->dims = calloc(n_dims + 1, sizeof *h->dims);
    XT_RETURN_IF(h->tensors == NULL || h->dims == NULL, XT_ERR_NOMEM,
                 "out of memory for %zu safetensors tensors", n);
    size_t used = 0;
    for (size_t i = 0; i < root->v.obj.count; i++) {
        const xt_json_member *m = &root->v.obj.members[i];
        if (strcmp(m->key, "__metadata__") == 0 && m->key_len == 12) {
            XT_TRY(parse_metadata(h, &m->value));
            continue;
        }
        xt_st_tensor *t = &h->tensors[h->n_tensors];
        XT_TRY(parse_tensor(m, t, h->dims + used));
        used += t->n_dims;
        h->n_tensors++;
    }
    return place_tensors(h);
}

// ---- public API ----

static xt_status finish_open(xt_safetensors *h, xt_safetensors **out) {
    xt_status s = parse(h);
    if (s != XT_OK) {
        xt_safetensors_free(h);
        return s;
    }
    *out = h;
    return XT_OK;
}

xt_status xt_safetensors_open(const char *path, xt_safetensors **out) {
    XT_RETURN_IF(path == NULL || out == NULL, XT_ERR_INVALID_ARG,
                 "xt_safetensors_open: NULL argument");
    xt_safetensors *h = calloc(1, sizeof *h);
    XT_RETURN_IF(h == NULL, XT_ERR_NOMEM, "out of memory opening '%s'", path);
    xt_status s = xt_mapping_open(path, &h->map);
    if (s != XT_OK) {
        free(h);
        return s;
    }
    h->base = h->map.data;
    h->size = h->map.size;
    return finish_open(h, out);
}

xt_status xt_safetensors_open_memory(const void *data, size_t size, xt_safetensors **out) {
    XT_RETURN_IF((data == NULL && size > 0) || out == NULL, XT_ERR_INVALID_ARG,
                 "xt_safetensors_open_memory: NULL argument");
    xt_safetensors *h = calloc(1, sizeof *h);
    XT_RETURN_IF(h == NULL, XT_ERR_NOMEM, "out of memory parsing a safetensors image");
    h->base = data;
    h->size = size;
    return finish_open(h, out);
}

void xt_safetensors_free(xt_safetensors *h) {
    if (h == NULL) return;
    xt_strmap_free(&h->tensor_index);
    xt_strmap_free(&h->kv_index);
    free(h->tensors);
    free(h->dims);
    free(h->kvs);
    xt_json_free(h->doc);
    xt_mapping_close(&h->map);
    free(h);
}

uint64_t xt_safetensors_file_size(const xt_safetensors *h) { return h->size; }
uint64_t xt_safetensors_data_offset(const xt_safetensors *h) { return 8 + h->header_len; }
int64_t xt_safetensors_n_tensors(const xt_safetensors *h) { return h->n_tensors; }
const xt_st_tensor *xt_safetensors_tensor_at(const xt_safetensors *h, int64_t i) {
    return &h->tensors[i];
}
int64_t xt_safetensors_find_tensor(const xt_safetensors *h, const char *name) {
    return xt_strmap_get(&h->tensor_index, name);
}
int64_t xt_safetensors_n_metadata(const xt_safetensors *h) { return h->n_kvs; }
const xt_st_kv *xt_safetensors_metadata_at(const xt_safetensors *h, int64_t i) {
    return &h->kvs[i];
}
int64_t xt_safetensors_find_metadata(const xt_safetensors *h, const char *key) {
    return xt_strmap_get(&h->kv_index, key);
}
