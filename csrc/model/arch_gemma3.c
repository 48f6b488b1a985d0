// arch_gemma3.c — Gemma 3: scaled embeddings, sandwich norms, QK-norm, GeGLU (tanh GELU),
// NEOX rope with a separate base on sliding-window layers (5 local : 1 global by default).
#include <math.h>

#include "model/arch.h"

// llama.cpp: the 27B size class (62 layers) scales queries by 1/sqrt(n_embd/n_head), the
// others by 1/sqrt(head_dim) (HF query_pre_attn_scalar, which GGUF does not store).
static xt_status gemma3_hparams(xt_hparams *hp) {
    if (hp->n_layer == 62) hp->q_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    return XT_OK;
}

const xt_arch_desc xt_arch_gemma3 = {
    .name = "gemma3",
    .names = &xt_arch_gguf_names,
    .norm = XT_NORM_RMS,
    .rope = XT_ROPE_NEOX,
    .act = XT_ACT_GELU_TANH,
    .qk_norm = true,
    .post_norms = true,
    .embd_scale = true,
    .prescale_q = true,
    .swa_period_default = 6,
    .rope_base_swa_default = 10000.0f,
    .hparams_hook = gemma3_hparams,
};
