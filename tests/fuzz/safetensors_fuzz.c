// safetensors_fuzz.c — libFuzzer target for the safetensors reader: parses arbitrary bytes with
// xt_safetensors_open_memory and, when they parse, reads everything the public API exposes.
//
// Build and run: tests/fuzz/build.sh run 60   (see that script for the flags)
// A crash, sanitizer report, leak or failed consistency check below is a finding.
#include <stdint.h>
#include <string.h>

#include "xtral.h"

// ---- consistency checks ----
#define FUZZ_CHECK(cond) \
    do {                 \
        if (!(cond)) __builtin_trap(); \
    } while (0)

static volatile uint8_t g_sink;  // keeps reads from being optimised away

// ---- entry point ----

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xt_safetensors *h = NULL;
    if (xt_safetensors_open_memory(data, size, &h) != XT_OK) {
        FUZZ_CHECK(h == NULL);
        FUZZ_CHECK(xt_last_error()[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(xt_safetensors_file_size(h) == size);
    uint64_t data_off = xt_safetensors_data_offset(h);
    FUZZ_CHECK(data_off >= 8 && data_off <= size);

    for (int64_t i = 0; i < xt_safetensors_n_metadata(h); i++) {
        const xt_st_kv *kv = xt_safetensors_metadata_at(h, i);
        FUZZ_CHECK(xt_safetensors_find_metadata(h, kv->key) == i);
        FUZZ_CHECK(kv->value[kv->value_len] == '\0');
        g_sink ^= (uint8_t)strlen(kv->key);
    }
    uint64_t expect = 0;  // tensors tile the data section in order
    for (int64_t i = 0; i < xt_safetensors_n_tensors(h); i++) {
        const xt_st_tensor *t = xt_safetensors_tensor_at(h, i);
        FUZZ_CHECK(xt_safetensors_find_tensor(h, t->name) == i);
        FUZZ_CHECK(xt_st_dtype_name(t->dtype) != NULL);
        FUZZ_CHECK(t->n_dims <= 32);
        uint64_t n = xt_st_dtype_size(t->dtype);
        for (uint32_t d = 0; d < t->n_dims; d++) {
            FUZZ_CHECK(t->shape[d] >= 0);
            n *= (uint64_t)t->shape[d];  // cannot overflow: the reader checked
        }
        FUZZ_CHECK(n == t->nbytes);
        FUZZ_CHECK(t->offset == expect);
        FUZZ_CHECK(t->data == data + data_off + t->offset);
        if (t->nbytes > 0) g_sink ^= t->data[0] ^ t->data[t->nbytes - 1];
        expect += t->nbytes;
    }
    FUZZ_CHECK(data_off + expect == size);
    xt_safetensors_free(h);
    return 0;
}
