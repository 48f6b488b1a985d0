// source.h — where a model's hyper-parameters and weights come from. The loader asks a source
// for keys and tensors by GGUF names; GGUF files are one source (source_gguf.c), and a Hugging
// Face folder (config.json + safetensors) plugs in as another without touching the loader.
#ifndef XT_MODEL_SOURCE_H
#define XT_MODEL_SOURCE_H

#include "core/tensor.h"
#include "xtral.h"

typedef struct xt_model_source xt_model_source;
struct xt_model_source {
    void *ctx;
    const char *arch;  // architecture name (borrowed from ctx)
    // Hyper-parameter `key` is the part after "{arch}." ("embedding_length",
    // "rope.freq_base"). XT_OK with *found = false when absent; XT_ERR_BAD_FILE when present
    // with a type that does not fit.
    xt_status (*get_int)(void *ctx, const char *key, int64_t *out, bool *found);
    xt_status (*get_float)(void *ctx, const char *key, double *out, bool *found);
    // Tensor `name` ("blk.3.attn_q.weight") as a view into the source's mapping (borrowed,
    // valid while the source lives); *found = false when absent.
    xt_status (*get_tensor)(void *ctx, const char *name, xt_tensor *out, bool *found);
    // Visits every tensor once (parameter counts, type statistics).
    void (*each_tensor)(void *ctx, void (*fn)(const xt_tensor *t, void *user), void *user);
    void (*free)(void *ctx);
};

// Opens a GGUF file as a source. Caller frees with src->free(src->ctx).
xt_status xt_model_source_gguf(const char *path, xt_model_source *out);

#endif  // XT_MODEL_SOURCE_H
