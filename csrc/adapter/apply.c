// apply.c — the low-rank term after a targeted matmul, through the backend table:
// u = x A^T (nt, R); u *= per-column coefficients (X-LoRA: times the token's scalings);
// y += u B^T (an axpy over rows of B^T). A and B^T hold every active adapter stacked, so any
// number of adapters costs two backend calls per targeted weight. Base weights are untouched.
#include "adapter/lora_state.h"
#include "core/status.h"

bool xt_lora_xlora_active(const xt_model *m) { return m->lora && m->lora->xlora != NULL; }

xt_status xt_lora_apply(xt_model *m, int64_t il, xt_lora_role role, const float *x, int64_t nt,
                        float *y, int64_t pos0) {
    xt_lora_state *s = m->lora;
    if (s == NULL || !s->any_active || s->mode == XT_LMODE_OFF) return XT_OK;
    const xt_lora_slot *sl = &s->slots[il * XT_LR_COUNT + role];
    if (sl->R == 0) return XT_OK;
    xt_backend *be = m->be;
    const int64_t R = sl->R, out = sl->out;
    float *u = s->u;
    XT_TRY(be->ops->matmul(be, &sl->A, x, nt, u));
    if (s->mode == XT_LMODE_PLAIN) {
        for (int64_t t = 0; t < nt; t++) {
            for (int64_t j = 0; j < R; j++) u[t * R + j] *= sl->coef[j];
        }
    } else {
        const xt_xlora_rt *xr = s->xlora->x;
        const float gsw = s->xlora->ad->xcfg.global_scaling_weight;
        const int64_t L = xr->n_layers, N = xr->n_experts;
        for (int64_t t = 0; t < nt; t++) {
            // PEFT scales each expert's input by its scaling, then s * gsw on the output.
            const float *lam = s->mode == XT_LMODE_XDUMMY
                                   ? xr->dummy
                                   : xr->proc + ((pos0 + t) * L + sl->xl) * N;
            for (int64_t j = 0; j < R; j++) u[t * R + j] *= sl->coef[j] * gsw * lam[sl->expert[j]];
        }
    }
    return be->ops->add_matmul_t(be, y, u, sl->BT, sl->bt_type, nt, R, out);
}
