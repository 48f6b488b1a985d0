// apply.c — the low-rank terms after targeted matmuls, through the backend table: for each
// role, y += ((x A^T) * f) B^T where f holds per-column factors (X-LoRA: times the token's
// scalings). A and B^T hold every active adapter stacked, and the roles that read the same x
// (q/k/v, gate/up) go to the backend together: one call, one pool run, whatever the number of
// adapters. Base weights are untouched.
#include "adapter/lora_state.h"
#include "core/status.h"

bool xt_lora_xlora_active(const xt_model *m) { return m->lora && m->lora->xlora != NULL; }

xt_status xt_lora_apply_n(xt_model *m, int64_t il, const xt_lora_role *roles, int n,
                          const float *x, int64_t nt, float *const *y, int64_t pos0) {
    xt_lora_state *s = m->lora;
    if (s == NULL || !s->any_active || s->mode == XT_LMODE_OFF || nt == 0) return XT_OK;
    XT_RETURN_IF(n < 1 || n > XT_LOWRANK_MAX_TERMS || nt > m->n_batch, XT_ERR_INTERNAL,
                 "lora_apply: %d roles over %" PRId64 " tokens", n, nt);
    xt_lowrank_term terms[XT_LOWRANK_MAX_TERMS];
    int k = 0;
    int64_t in = 0;
    for (int i = 0; i < n; i++) {
        const xt_lora_slot *sl = &s->slots[il * XT_LR_COUNT + roles[i]];
        if (sl->R == 0) continue;
        xt_lowrank_term *t = &terms[k];
        *t = (xt_lowrank_term){.a = sl->A.data, .a_type = sl->A.type, .a_row_bytes = sl->A.nb[1],
                               .bt = sl->BT, .bt_type = sl->bt_type, .r = sl->R, .out = sl->out,
                               .scale = sl->coef, .scale_stride = 0, .y = y[i]};
        in = sl->A.ne[0];
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
    if (k == 0) return XT_OK;
    return m->be->ops->add_lowrank(m->be, x, in, nt, terms, k);
}

xt_status xt_lora_apply(xt_model *m, int64_t il, xt_lora_role role, const float *x, int64_t nt,
                        float *y, int64_t pos0) {
    return xt_lora_apply_n(m, il, &role, 1, x, nt, &y, pos0);
}
