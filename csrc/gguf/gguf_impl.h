// gguf_impl.h — layout of the xt_gguf handle, shared only by the files of csrc/gguf/.
#ifndef XT_GGUF_GGUF_IMPL_H
#define XT_GGUF_GGUF_IMPL_H

#include "core/mmap.h"
#include "core/strmap.h"
#include "gguf/gguf.h"

struct xt_gguf {
    xt_mapping map;              // owned mapping (zeroed when opened from memory)
    const uint8_t *base;         // file image: map.data or the caller's buffer
    size_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;        // absolute
    int64_t n_kv;
    int64_t n_tensors;
    char **keys;                 // (n_kv) NUL-terminated copies
    xt_gguf_value *values;       // (n_kv)
    xt_gguf_tensor *tensors;     // (n_tensors); names are NUL-terminated copies
    xt_strmap key_index;
    xt_strmap tensor_index;
    char *architecture;          // copy of general.architecture or NULL

    // Tensor map and memory plan, built on first use.
    bool plan_ready;
    int64_t *tensor_layer;       // (n_tensors) block index of each tensor, -1 outside blocks
    uint64_t *layer_sizes;       // (plan.n_layers)
    xt_memory_plan plan;
};

#endif  // XT_GGUF_GGUF_IMPL_H
