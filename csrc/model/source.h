// source.h — where a model's hyper-parameters and weights come from. The loader asks a source
// for keys and tensors by GGUF names; GGUF files are one source (source_gguf.c), and a Hugging
// Face folder (config.json + safetensors) plugs in as another without touching the loader.
#ifndef XT_MODEL_SOURCE_H
#define XT_MODEL_SOURCE_H

#include "core/tensor.h"
#include "xtral.h"

// Where a source's weights differ from the GGUF convention the architecture assumes.
enum {
    XT_SRC_ROPE_NEOX = 1,     // Q/K rows are not permuted for pair-wise rope: rotate halves
    XT_SRC_NORM_ADD_ONE = 2,  // norm weights are w for x̂·(1 + w) (GGUF stores 1 + w)
};

typedef struct xt_model_source xt_model_source;
struct xt_model_source {
    void *ctx;
    const char *arch;  // architecture name (borrowed from ctx)
    unsigned flags;    // XT_SRC_*
    // Hyper-parameter `key` is the part after "{arch}." ("embedding_length",
    // "rope.freq_base"). XT_OK with *found = false when absent; XT_ERR_BAD_FILE when present
    // with a type that does not fit.
    xt_status (*get_int)(void *ctx, const char *key, int64_t *out, bool *found);
    xt_status (*get_float)(void *ctx, const char *key, double *out, bool *found);
    // Tensor `name` ("blk.3.attn_q.weight") as a view into the source's mapping (borrowed,
    // valid while the source lives); *found = false when absent. A source may set out->name to
    // its own name for the tensor even when absent (load.c quotes it in messages).
    xt_status (*get_tensor)(void *ctx, const char *name, xt_tensor *out, bool *found);
    // Visits every tensor once (parameter counts, type statistics).
    void (*each_tensor)(void *ctx, void (*fn)(const xt_tensor *t, void *user), void *user);
    void (*free)(void *ctx);
};

// Opens a GGUF file as a source. Caller frees with src->free(src->ctx).
xt_status xt_model_source_gguf(const char *path, xt_model_source *out);
// Opens a Hugging Face folder (config.json; model.safetensors or model.safetensors.index.json
// and its shards) as a source (source_safetensors.c).
xt_status xt_model_source_hf(const char *dir, xt_model_source *out);

#endif  // XT_MODEL_SOURCE_H
