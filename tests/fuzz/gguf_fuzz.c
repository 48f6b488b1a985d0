// gguf_fuzz.c — libFuzzer target for the GGUF reader: parses arbitrary bytes with
// xt_gguf_open_memory and, when they parse, reads everything the public API exposes.
//
// Build and run: tests/fuzz/build.sh run 60   (see that script for the flags)
// A crash, sanitizer report, leak or failed consistency check below is a finding.
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xtral.h"

// ---- consistency checks ----
// __builtin_trap turns a broken invariant into a crash libFuzzer records, with the input.
#define FUZZ_CHECK(cond) \
    do {                 \
        if (!(cond)) __builtin_trap(); \
    } while (0)

// Values nested deeper than this are not walked further (the parser has already read them);
// it keeps the harness itself from overflowing its stack on a reader that allows deep nesting.
#define FUZZ_MAX_DEPTH 256

static volatile uint8_t g_sink;  // keeps reads from being optimised away

static void touch(const void *p, uint64_t n) {
    const uint8_t *b = (const uint8_t *)p;
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) acc ^= b[i];
    g_sink ^= acc;
}

// ---- walking values ----

static void walk_value(const xt_gguf_value *v, int depth) {
    FUZZ_CHECK(v != NULL);
    FUZZ_CHECK((int)v->type >= 0 && v->type < XT_GGUF_TYPE_COUNT);
    FUZZ_CHECK(xt_gguf_type_name(v->type) != NULL);
    if (depth > FUZZ_MAX_DEPTH) return;
    switch (v->type) {
    case XT_GGUF_STRING:
        FUZZ_CHECK(v->v.str.len == 0 || v->v.str.ptr != NULL);
        touch(v->v.str.ptr, v->v.str.len);
        break;
    case XT_GGUF_ARRAY: {
        xt_gguf_type et = v->v.arr.elem_type;
        FUZZ_CHECK((int)et >= 0 && et < XT_GGUF_TYPE_COUNT);
        if (et == XT_GGUF_STRING || et == XT_GGUF_ARRAY) {
            FUZZ_CHECK(v->v.arr.count == 0 || v->v.arr.items != NULL);
            for (uint64_t i = 0; i < v->v.arr.count; i++) {
                FUZZ_CHECK(v->v.arr.items[i].type == et);
                walk_value(&v->v.arr.items[i], depth + 1);
            }
        } else {
            size_t es = xt_gguf_type_size(et);
            FUZZ_CHECK(es > 0);
            FUZZ_CHECK(v->v.arr.count == 0 || v->v.arr.data != NULL);
            FUZZ_CHECK(v->v.arr.count <= UINT64_MAX / es);
            touch(v->v.arr.data, v->v.arr.count * es);
        }
        break;
    }
    default:
        FUZZ_CHECK(xt_gguf_type_size(v->type) > 0);
        g_sink ^= (uint8_t)v->v.u64;
        break;
    }
}

// ---- entry point ----

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xt_gguf *g = NULL;
    if (xt_gguf_open_memory(data, size, &g) != XT_OK) {
        FUZZ_CHECK(g == NULL);              // out-parameters are written only on success
        FUZZ_CHECK(xt_last_error()[0] != '\0');  // a failure always carries a message
        return 0;
    }
    FUZZ_CHECK(g != NULL);

    uint32_t version = xt_gguf_version(g);
    FUZZ_CHECK(version == 2 || version == 3);
    uint32_t align = xt_gguf_alignment(g);
    FUZZ_CHECK(align != 0 && (align & (align - 1)) == 0);
    uint64_t data_off = xt_gguf_data_offset(g);
    FUZZ_CHECK(xt_gguf_file_size(g) == size);
    FUZZ_CHECK(data_off <= size || xt_gguf_n_tensors(g) == 0);

    int64_t n_kv = xt_gguf_n_kv(g);
    FUZZ_CHECK(n_kv >= 0);
    for (int64_t i = 0; i < n_kv; i++) {
        const char *key = xt_gguf_kv_key(g, i);
        FUZZ_CHECK(key != NULL);
        touch(key, strlen(key));
        FUZZ_CHECK(xt_gguf_find_key(g, key) == i);  // duplicate keys are rejected
        walk_value(xt_gguf_kv_value(g, i), 0);
    }
    const char *arch = xt_gguf_architecture(g);
    if (arch != NULL) touch(arch, strlen(arch));

    int64_t n_tensors = xt_gguf_n_tensors(g);
    FUZZ_CHECK(n_tensors >= 0);
    uint64_t total = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        const xt_gguf_tensor *t = xt_gguf_tensor_at(g, i);
        FUZZ_CHECK(t != NULL && t->name != NULL);
        FUZZ_CHECK(xt_gguf_find_tensor(g, t->name) == i);  // duplicate names are rejected
        FUZZ_CHECK(t->n_dims <= 4);  // 0 is a scalar, as in ggml
        const xt_dtype_info *info = xt_dtype_get(t->type);
        FUZZ_CHECK(info != NULL && info->block_size > 0);
        uint64_t n = 1;
        for (int d = 0; d < 4; d++) {
            FUZZ_CHECK(t->ne[d] >= 0);
            FUZZ_CHECK(t->ne[d] == 0 || n <= UINT64_MAX / (uint64_t)t->ne[d]);
            n *= (uint64_t)t->ne[d];
        }
        FUZZ_CHECK(t->ne[0] % info->block_size == 0);
        FUZZ_CHECK(t->nbytes == n / (uint64_t)info->block_size * info->type_size);
        FUZZ_CHECK(t->offset % align == 0);
        FUZZ_CHECK(data_off + t->offset <= size && t->nbytes <= size - data_off - t->offset);
        FUZZ_CHECK(t->nbytes == 0 || t->data == data + data_off + t->offset);
        if (t->nbytes > 0) {
            g_sink ^= t->data[0];
            g_sink ^= t->data[t->nbytes - 1];
        }
        total += t->nbytes;
    }

    xt_memory_plan plan;
    if (xt_gguf_memory_plan(g, &plan) == XT_OK) {
        FUZZ_CHECK(plan.n_layers >= 0);
        FUZZ_CHECK(plan.n_layers == 0 || plan.layer_sizes != NULL);
        uint64_t sum = plan.non_mapped_size;
        for (int64_t i = 0; i < plan.n_layers; i++) sum += plan.layer_sizes[i];
        FUZZ_CHECK(sum == total);
        FUZZ_CHECK(memchr(plan.architecture, '\0', sizeof plan.architecture) != NULL);
        xt_memory_plan again;  // cached: same answer
        FUZZ_CHECK(xt_gguf_memory_plan(g, &again) == XT_OK);
        FUZZ_CHECK(again.n_layers == plan.n_layers && again.non_mapped_size == plan.non_mapped_size);
    }

    xt_gguf_free(g);
    return 0;
}
