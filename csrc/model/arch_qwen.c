// arch_qwen.c — Qwen2/2.5 (Q/K/V biases) and Qwen3 (per-head QK RMSNorm, no biases): both
// rotate-half (NEOX) rope and SwiGLU; otherwise Llama-shaped.
#include "model/arch.h"

const xt_arch_desc xt_arch_qwen2 = {
    .name = "qwen2",
    .names = &xt_arch_gguf_names,
    .norm = XT_NORM_RMS,
    .rope = XT_ROPE_NEOX,
    .act = XT_ACT_SILU,
    .qkv_bias = true,
};

const xt_arch_desc xt_arch_qwen3 = {
    .name = "qwen3",
    .names = &xt_arch_gguf_names,
    .norm = XT_NORM_RMS,
    .rope = XT_ROPE_NEOX,
    .act = XT_ACT_SILU,
    .qk_norm = true,
};
