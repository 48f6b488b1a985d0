// arch_phi3.c — Phi-3/Phi-4 mini: fused attn_qkv (rows Q, K, V) and fused ffn_up [gate | up],
// partial rotary (NEOX), long-rope frequency factors picked by the context length.
#include "model/arch.h"

const xt_arch_desc xt_arch_phi3 = {
    .name = "phi3",
    .names = &xt_arch_gguf_names,
    .norm = XT_NORM_RMS,
    .rope = XT_ROPE_NEOX,
    .act = XT_ACT_SILU,
    .fused_gate_up = true,
    .prescale_q = true,
    .longrope_factors = true,
};
