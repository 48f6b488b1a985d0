// arch.h — architectures as data: what the one generic runner (runner.c) needs to know about
// a model family (tensor names, norm kind, rope style, activation, attention options).
//
// Usage:
//     const xt_arch_desc *d = NULL;
//     XT_TRY(xt_arch_find("gemma3", &d));       // XT_ERR_UNSUPPORTED names unknown archs
//     if (d->post_norms) ...                     // the runner reads flags, never arch names
#ifndef XT_MODEL_ARCH_H
#define XT_MODEL_ARCH_H

#include "xtral.h"

typedef enum { XT_NORM_RMS = 0 } xt_norm_kind;
typedef enum { XT_ROPE_NORM = 0, XT_ROPE_NEOX = 2 } xt_rope_style;  // llama.cpp's numbers
// XT_ACT_GELU_TANH_TABLE is the same GELU through ggml's fp16 table (chosen at load).
typedef enum { XT_ACT_SILU = 0, XT_ACT_GELU_TANH = 1, XT_ACT_GELU_TANH_TABLE = 2 } xt_act_kind;

// Tensor names (GGUF convention; a safetensors source maps HF names onto these). Per-layer
// names are suffixes of "blk.{i}.", without ".weight"/".bias".
typedef struct {
    const char *token_embd, *output_norm, *output, *rope_freqs, *rope_long, *rope_short;
    const char *attn_norm, *attn_q, *attn_k, *attn_v, *attn_qkv, *attn_out;
    const char *attn_q_norm, *attn_k_norm, *post_attn_norm;
    const char *ffn_norm, *ffn_gate, *ffn_up, *ffn_down, *post_ffw_norm;
} xt_arch_names;

extern const xt_arch_names xt_arch_gguf_names;  // the names every GGUF architecture uses

typedef struct xt_hparams xt_hparams;

typedef struct {
    const char *name;            // general.architecture
    const xt_arch_names *names;
    xt_norm_kind norm;
    xt_rope_style rope;
    xt_act_kind act;
    bool qkv_bias;               // attn_q/k/v biases are expected (loaded when present anyway)
    bool qk_norm;                // RMSNorm per head on Q and K, before rope
    bool post_norms;             // sandwich: post_attention_norm and post_ffw_norm
    bool embd_scale;             // embeddings times sqrt(n_embd)
    bool prescale_q;             // Q is multiplied by q_scale after rope (gemma3, phi3);
                                 // otherwise q.k is scaled inside attention (llama.cpp order)
    bool fused_gate_up;          // ffn_up rows are [gate | up]; there is no ffn_gate
    bool rope_full_head;         // rope.dimension_count must equal head_dim (llama)
    bool longrope_factors;       // rope_factors_long/short chosen by context length (phi3)
    int swa_period_default;      // 0: no sliding window; else layer il is SWA iff
                                 // il % period < period - 1 (when sliding_window > 0)
    float rope_base_swa_default; // 0: SWA layers use rope.freq_base
    // Optional hook run after the common hyper-parameters are read (NULL: none).
    xt_status (*hparams_hook)(xt_hparams *hp);
} xt_arch_desc;

// Looks up an architecture; XT_ERR_UNSUPPORTED with the name and the known list otherwise.
xt_status xt_arch_find(const char *name, const xt_arch_desc **out);

extern const xt_arch_desc xt_arch_llama;
extern const xt_arch_desc xt_arch_qwen2;
extern const xt_arch_desc xt_arch_qwen3;
extern const xt_arch_desc xt_arch_gemma3;
extern const xt_arch_desc xt_arch_phi3;

// ---- hyper-parameters (filled by load.c from the source, then by the hook) ----
struct xt_hparams {
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, head_dim_v, n_ff;
    int64_t n_ctx_train;
    int64_t n_rot;              // rotated dims per head
    float eps;                  // RMSNorm epsilon
    float norm_add;             // norms multiply by (w + norm_add): 0, or 1 for Gemma HF weights
    float rope_base, rope_base_swa, rope_freq_scale, rope_attn_factor;
    int64_t n_ctx_orig;         // rope.scaling.original_context_length (0: unset)
    int64_t n_swa;              // sliding window (0: none)
    int swa_period;             // see xt_arch_desc.swa_period_default
    float q_scale;              // multiplies q.k (1/sqrt(head_dim) by default)
    float final_softcap, attn_softcap;  // 0: none
};

#endif  // XT_MODEL_ARCH_H
