// arch_registry.c — name -> architecture description, and the GGUF tensor names they share.
// An architecture that is not listed here is an error that names it and the supported ones.
#include <string.h>

#include "core/status.h"
#include "model/arch.h"

const xt_arch_names xt_arch_gguf_names = {
    .token_embd = "token_embd", .output_norm = "output_norm", .output = "output",
    .rope_freqs = "rope_freqs", .rope_long = "rope_factors_long",
    .rope_short = "rope_factors_short",
    .attn_norm = "attn_norm", .attn_q = "attn_q", .attn_k = "attn_k", .attn_v = "attn_v",
    .attn_qkv = "attn_qkv", .attn_out = "attn_output", .attn_q_norm = "attn_q_norm",
    .attn_k_norm = "attn_k_norm", .post_attn_norm = "post_attention_norm",
    .ffn_norm = "ffn_norm", .ffn_gate = "ffn_gate", .ffn_up = "ffn_up", .ffn_down = "ffn_down",
    .post_ffw_norm = "post_ffw_norm",
};

static const xt_arch_desc *const k_archs[] = {
    &xt_arch_llama, &xt_arch_qwen2, &xt_arch_qwen3, &xt_arch_gemma3, &xt_arch_phi3,
};
enum { N_ARCHS = sizeof k_archs / sizeof k_archs[0] };

xt_status xt_arch_find(const char *name, const xt_arch_desc **out) {
    XT_RETURN_IF(name == NULL || name[0] == '\0', XT_ERR_BAD_FILE,
                 "model has no architecture (general.architecture is missing)");
    for (int i = 0; i < N_ARCHS; i++) {
        if (strcmp(k_archs[i]->name, name) == 0) {
            *out = k_archs[i];
            return XT_OK;
        }
    }
    return xt_error(XT_ERR_UNSUPPORTED,
                    "architecture '%.100s' is not supported (supported: llama, qwen2, qwen3, "
                    "gemma3, phi3)", name);
}
