// xlora_classifier.c — the X-LoRA classifier and scalings maker: final-norm hidden states of
// the scaling pass -> Linear (+ReLU) x depth -> logits -> per-layer scalings (broadcast or
// layerwise), softmax with temperature; then, per layer, top-k (no renormalisation) and the
// optional softmax over the kept nonzero entries, exactly in PEFT's order.
#include <math.h>
#include <string.h>

#include "adapter/lora_state.h"
#include "core/status.h"

// Keeps the k largest of v[0..N) (ties: lower index first), zeroing the rest; then, when
// `softmax_topk`, replaces the nonzero entries by their softmax (zeros stay 0).
static void topk_and_softmax(float *v, int64_t N, int64_t k, bool softmax_topk) {
    if (k > 0 && k < N) {
        float keep[XT_XLORA_MAX_EXPERTS];
        for (int64_t i = 0; i < N; i++) {
            int64_t rank = 0;
            for (int64_t j = 0; j < N; j++) rank += v[j] > v[i] || (v[j] == v[i] && j < i);
            keep[i] = rank < k ? v[i] : 0.0f;
        }
        memcpy(v, keep, (size_t)N * sizeof(float));
    }
    if (!softmax_topk) return;
    float mx = -INFINITY;
    for (int64_t i = 0; i < N; i++) {
        if (v[i] != 0.0f && v[i] > mx) mx = v[i];
    }
    if (mx == -INFINITY) return;  // all zero
    double sum = 0.0;
    for (int64_t i = 0; i < N; i++) {
        if (v[i] != 0.0f) sum += exp((double)v[i] - mx);
    }
    for (int64_t i = 0; i < N; i++) {
        if (v[i] != 0.0f) v[i] = (float)(exp((double)v[i] - mx) / sum);
    }
}

void xt_xlora_make_dummy(const xt_xlora_config *c, int64_t N, float *dummy, bool *all_zero) {
    for (int64_t i = 0; i < N; i++) dummy[i] = c->scaling_pass_value;
    topk_and_softmax(dummy, N, c->top_k, c->enable_softmax_topk);
    *all_zero = true;
    for (int64_t i = 0; i < N; i++) *all_zero = *all_zero && dummy[i] == 0.0f;
}

xt_status xt_xlora_classify(xt_model *m, const xt_xlora_config *c, xt_xlora_rt *xr,
                            const float *h, int64_t nt, int64_t pos0) {
    xt_backend *be = m->be;
    const xt_backend_ops *op = be->ops;
    const float *in = h;
    float *bufs[2] = {xr->c0, xr->c1};
    for (int64_t l = 0; l < c->depth; l++) {
        float *out = bufs[l % 2];
        const int64_t n_out = c->w[l].ne[1];
        XT_TRY(op->matmul(be, &c->w[l], in, nt, out));
        XT_TRY(op->add_bias(be, out, c->b[l], nt, n_out, n_out));
        if (l + 1 < c->depth) {
            for (int64_t i = 0; i < nt * n_out; i++) out[i] = out[i] > 0.0f ? out[i] : 0.0f;
        }
        in = out;
    }
    const int64_t L = xr->n_layers, N = xr->n_experts;
    for (int64_t t = 0; t < nt; t++) {
        const float *logits = in + t * c->d_out;
        float *raw = xr->raw + (pos0 + t) * L * N;
        float *proc = xr->proc + (pos0 + t) * L * N;
        for (int64_t l = 0; l < L; l++) {
            const float *src = c->layerwise ? logits + l * N : logits;
            float *dst = raw + l * N;
            if (c->enable_softmax) {
                float mx = -INFINITY;
                for (int64_t i = 0; i < N; i++) {
                    float v = src[i] / c->temperature;
                    if (v > mx) mx = v;
                }
                double sum = 0.0;
                for (int64_t i = 0; i < N; i++) sum += exp((double)(src[i] / c->temperature) - mx);
                for (int64_t i = 0; i < N; i++) {
                    dst[i] = (float)(exp((double)(src[i] / c->temperature) - mx) / sum);
                }
            } else {
                memcpy(dst, src, (size_t)N * sizeof(float));
            }
            memcpy(proc + l * N, dst, (size_t)N * sizeof(float));
            topk_and_softmax(proc + l * N, N, c->top_k, c->enable_softmax_topk);
        }
    }
    return XT_OK;
}
