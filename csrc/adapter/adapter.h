// adapter.h — internal header of the adapter subsystem: LoRA adapters as loaded from files
// (xt_adapter), their attachment to a model (xt_lora_state: the attached list, the active set
// as stacked low-rank matrices per targeted matmul, merges) and X-LoRA routing (classifier,
// scalings maker, non-granular state, the second KV cache).
//
// Usage (what model.c and runner.c call):
//     XT_TRY(xt_lora_matmul(m, il, roles, 3, w, m->xn, nt, qkv, pos0));  // q/k/v + adapters
//     if (xt_lora_xlora_active(m)) XT_TRY(xt_xlora_forward(m, tokens, n, all, logits));
#ifndef XT_ADAPTER_ADAPTER_H
#define XT_ADAPTER_ADAPTER_H

#include "core/tensor.h"
#include "xtral.h"

typedef struct xt_model xt_model;

// The matmuls a LoRA may target. Per layer, plus the output head (layer = n_layer).
typedef enum {
    XT_LR_Q = 0, XT_LR_K, XT_LR_V, XT_LR_QKV, XT_LR_O, XT_LR_GATE, XT_LR_UP, XT_LR_DOWN,
    XT_LR_COUNT,
} xt_lora_role;

// One targeted module of one adapter: the low-rank pair in PyTorch layout, F32, owned.
typedef struct {
    int64_t layer;       // block index
    xt_lora_role role;
    int64_t in, out, r;
    float *A;            // (r, in) row-major
    float *B;            // (out, r) row-major (as loaded; NULL in a model's attached copy)
    float *BT;           // (r, out) row-major: B transposed (attached copies only)
    float scale;         // alpha/r, alpha/sqrt(r) (rsLoRA), with alpha_pattern applied
    char name[112];      // the file's name for the module (messages)
} xt_lora_module;

enum { XT_ADAPTER_LORA = 0, XT_ADAPTER_XLORA = 1 };
enum { XT_XLORA_MAX_DEPTH = 64, XT_XLORA_MAX_EXPERTS = 64 };

typedef struct {
    int64_t depth, size;        // xlora_depth, xlora_size
    int64_t hidden_size;
    bool layerwise, enable_softmax, enable_softmax_topk;
    int64_t top_k;              // 0: off
    float temperature, scaling_pass_value, global_scaling_weight;
    int64_t non_granular_index; // 0: off (tgt_non_granular_index)
    // Linear i: W (out_i, in_i) row-major as an F32 tensor (ne = [in_i, out_i]), bias (out_i).
    xt_tensor w[XT_XLORA_MAX_DEPTH];
    float *b[XT_XLORA_MAX_DEPTH];
    int64_t d_out;              // rows of the last Linear
} xt_xlora_config;

struct xt_adapter {
    int kind;                  // XT_ADAPTER_*
    char *path;                // owned
    char arch[32];             // GGUF adapters: general.architecture; "" when unknown (PEFT)
    bool gguf_layout;          // Q/K lora_b rows follow the GGUF base's row order
    xt_lora_module *mods;      // (n_mods)
    int64_t n_mods;
    // X-LoRA only
    xt_xlora_config xcfg;
    struct xt_adapter **experts;  // (n_experts) owned; the classifier's column order
    int64_t n_experts;
};

// ---- loading (lora_load.c, xlora_load.c) ----
xt_status xt_lora_load_peft(const char *dir, xt_adapter *a);
xt_status xt_lora_load_gguf(const char *path, xt_adapter *a);
xt_status xt_xlora_load(const char *dir, xt_adapter *a);
xt_lora_role xt_lora_role_from_hf(const char *proj);  // "q_proj" -> XT_LR_Q; XT_LR_COUNT: none
const char *xt_lora_role_gguf(xt_lora_role r);        // XT_LR_Q -> "attn_q"
const char *xt_lora_role_hf(xt_lora_role r);          // XT_LR_Q -> "q_proj"

// ---- the model side (attach.c, apply.c, xlora.c) ----
typedef struct xt_lora_state xt_lora_state;

// Frees everything attached (merged weights restored first). Accepts m->lora == NULL.
void xt_lora_state_free(xt_model *m);
// y[i] (nt, w[i]->ne[1]) = x (nt, in) W_i^T for the n (1 to 4) matmuls roles[i] of layer il
// that read the same x (q/k/v, gate/up), plus the active adapters' low-rank terms: one backend
// call. Rows are positions pos0.. (X-LoRA looks up the scalings by position). Nothing active:
// the plain products.
xt_status xt_lora_matmul(xt_model *m, int64_t il, const xt_lora_role *roles, int n,
                         const xt_tensor *const *w, const float *x, int64_t nt, float *const *y,
                         int64_t pos0);
bool xt_lora_xlora_active(const xt_model *m);
// The X-LoRA step: scaling pass (its own KV cache), classifier, real pass. Same contract as
// xt_model_run (the caller advances n_past on success).
xt_status xt_xlora_forward(xt_model *m, const int32_t *tokens, int64_t n, bool all_logits,
                           float *logits);
void xt_xlora_reset(xt_model *m);  // new sequence: forgets the non-granular state

#endif  // XT_ADAPTER_ADAPTER_H
