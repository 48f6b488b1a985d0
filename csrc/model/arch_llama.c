// arch_llama.c — Llama 1/2/3, Mistral, SmolLM2 (GGUF "llama"): RMSNorm, NORM rope over Q/K
// rows the converter permuted into pairs, SwiGLU, optional llama3 rope_freqs, tied output.
#include "model/arch.h"

const xt_arch_desc xt_arch_llama = {
    .name = "llama",
    .names = &xt_arch_gguf_names,
    .norm = XT_NORM_RMS,
    .rope = XT_ROPE_NORM,
    .act = XT_ACT_SILU,
    .rope_full_head = true,
};
