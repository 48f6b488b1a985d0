// apply.c — targeted matmuls with the low-rank terms, through the backend table: for each
// role, y = x W^T + ((x A^T) * f) B^T where f holds per-column factors (X-LoRA: times the
// token's scalings). A and B^T hold every active adapter stacked, and the roles that read the
// same x (q/k/v, gate/up) go to the backend together with their base products: one call (at
// decode one pool run), whatever the number of adapters. Base weights are untouched.
#include "adapter/lora_state.h"
#include "core/status.h"

bool xt_lora_xlora_active(const xt_model *m) { return m->lora && m->lora->xlora != NULL; }

xt_status xt_lora_matmul(xt_model *m, int64_t il, const xt_lora_role *roles, int n,
                         const xt_tensor *const *w, const float *x, int64_t nt, float *const *y,
                         int64_t pos0) {
    xt_lora_state *s = m->lora;
    xt_backend *be = m->be;
    XT_RETURN_IF(n < 1 || n > XT_LOWRANK_MAX_TERMS || nt > m->n_batch, XT_ERR_INTERNAL,
                 "lora_matmul: %d roles over %" PRId64 " tokens", n, nt);
    xt_lowrank_term terms[XT_LOWRANK_MAX_TERMS];
    int k = 0;
    const bool on = s != NULL && s->any_active && s->mode != XT_LMODE_OFF;
    for (int i = 0; on && i < n; i++) {
        const xt_lora_slot *sl = &s->slots[il * XT_LR_COUNT + roles[i]];
        if (sl->R == 0) continue;
        xt_lowrank_term *t = &terms[k];
        *t = (xt_lowrank_term){.a = sl->A.data, .a_type = sl->A.type, .a_row_bytes = sl->A.nb[1],
                               .bt = sl->BT, .bt_type = sl->bt_type, .r = sl->R, .out = sl->out,
                               .scale = sl->coef, .scale_stride = 0, .y = y[i], .product = i};
        if (s->mode != XT_LMODE_PLAIN) {
            // PEFT scales each expert's input by its scaling, then s * gsw on the output.
            const xt_xlora_rt *xr = s->xlora->x;
            const float gsw = s->xlora->ad->xcfg.global_scaling_weight;
            const int64_t L = xr->n_layers, N = xr->n_experts, R = sl->R;
            float *f = s->u + k * (s->u_cap / XT_LOWRANK_MAX_TERMS);
            for (int64_t tk = 0; tk < nt; tk++) {
                const float *lam = s->mode == XT_LMODE_XDUMMY
                                       ? xr->dummy
                                       : xr->proc + ((pos0 + tk) * L + sl->xl) * N;
                for (int64_t j = 0; j < R; j++) {
                    f[tk * R + j] = sl->coef[j] * gsw * lam[sl->expert[j]];
                }
            }
            t->scale = f;
            t->scale_stride = R;
        }
        k++;
    }
    return be->ops->matmul_lowrank(be, n, w, x, nt, y, terms, k);
}
