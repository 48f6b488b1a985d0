// model.h — internal header of the model subsystem: the xt_model layout (weights as views into
// the source, KV cache, one scratch arena) shared by load.c, runner.c and model.c.
#ifndef XT_MODEL_MODEL_H
#define XT_MODEL_MODEL_H

#include "backend/backend.h"
#include "core/tensor.h"
#include "model/arch.h"
#include "model/source.h"
#include "xtral.h"

enum { XT_MODEL_DEFAULT_CTX = 4096, XT_MODEL_DEFAULT_BATCH = 512 };
#define XT_MODEL_MAX_CTX ((int64_t)1 << 22)

// Weights of one block; a tensor with data == NULL is absent. 1-D tensors are F32.
typedef struct {
    xt_tensor attn_norm;                 // (n_embd)
    xt_tensor wq, wk, wv;                // (n_embd -> n_head*hd), (n_embd -> n_head_kv*hd) x2
    xt_tensor wqkv;                      // fused (n_embd -> q_dim + k_dim + v_dim)
    xt_tensor bq, bk, bv, bqkv;          // biases of the above
    xt_tensor wo;                        // (n_head*hd_v -> n_embd)
    xt_tensor q_norm, k_norm;            // (head_dim)
    xt_tensor post_attn_norm;            // (n_embd)
    xt_tensor ffn_norm;                  // (n_embd)
    xt_tensor w_gate, w_up, w_down;      // (n_embd -> n_ff) x2 or fused up (n_embd -> 2 n_ff);
                                         // (n_ff -> n_embd)
    xt_tensor post_ffw_norm;             // (n_embd)
    bool swa;                            // sliding-window layer
    xt_rope_params rope;
    void *k_cache;                       // (n_head_kv, n_ctx, head_dim) of kv_type
    void *v_cache;                       // (n_head_kv, n_ctx, head_dim_v) of kv_type
} xt_layer;

struct xt_model {
    xt_model_source src;
    const xt_arch_desc *arch;
    xt_hparams hp;
    xt_backend *be;

    xt_tensor tok_embd;     // (n_embd, n_vocab) in ggml order: row t is token t
    xt_tensor output_norm;  // (n_embd)
    xt_tensor output;       // (n_embd -> n_vocab); token_embd when tied
    xt_tensor rope_factors; // (n_rot/2) F32, or data NULL
    xt_layer *layers;       // (n_layer)

    int64_t n_ctx, n_batch, n_past;
    xt_act_kind ffn_act;    // the FFN activation (the arch's, or its fp16-table variant)
    xt_dtype kv_type;
    int64_t q_dim, k_dim, v_dim;   // n_head*hd, n_head_kv*hd, n_head_kv*hd_v

    void *kv_mem;           // all layers' K and V (backend memory)
    size_t kv_bytes;
    void *arena;            // scratch activations (backend memory)
    size_t arena_bytes;
    float *x;               // (n_batch, n_embd) residual stream
    float *xn;              // (n_batch, n_embd) normed input of a block
    float *qkv;             // (n_batch, q_dim + k_dim + v_dim)
    float *att;             // (n_batch, n_head * hd_v)
    float *ffn;             // (n_batch, 2 * n_ff) gate and up
    float *act;             // (n_batch, n_ff)
    float *tmp;             // (n_batch, n_embd) block output

    struct xt_lora_state *lora;  // attached adapters (adapter/), NULL when none
    float *hidden_out;      // when set, xt_model_run writes final-norm hidden states
                            // (n, n_embd) instead of logits (the X-LoRA scaling pass)

    void **owned;           // F32 copies of non-F32 1-D tensors (freed at close)
    int64_t n_owned, cap_owned;
    uint64_t weight_bytes;
    int64_t n_params;
    int64_t type_tensors[XT_DTYPE_COUNT], type_params[XT_DTYPE_COUNT];
};

// load.c: fills everything above from an open source (which the model then owns).
xt_status xt_model_build(xt_model *m, const xt_model_params *params);
// runner.c: runs n tokens at position m->n_past (already validated); on success the caller
// advances n_past. Logits: (n, n_vocab) when all_logits, else (n_vocab) of the last token.
xt_status xt_model_run(xt_model *m, const int32_t *tokens, int64_t n, bool all_logits,
                       float *logits);

#endif  // XT_MODEL_MODEL_H
