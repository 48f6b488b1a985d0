// rope.c — rotary position embeddings in ggml's two layouts (NORM: adjacent pairs; NEOX:
// rotate-half), with linear scaling, per-pair frequency factors and an mscale.
#include <math.h>

#include "ops/ops.h"

// ---- cos/sin cache ----

// cache: (n_rot) as (cos, sin) pairs, built the way ggml_rope_cache_init does: theta is
// advanced by repeated multiplication in float, not recomputed with powf per pair.
static void rope_cache(const xt_rope_params *p, int64_t pos, float *cache) {
    const float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
    float theta = (float)pos;
    for (int64_t i0 = 0; i0 < p->n_rot; i0 += 2) {
        const float ff = p->freq_factors ? p->freq_factors[i0 / 2] : 1.0f;
        const float t = p->freq_scale * (theta / ff);
        cache[i0 + 0] = cosf(t) * p->attn_factor;
        cache[i0 + 1] = sinf(t) * p->attn_factor;
        theta *= theta_scale;
    }
}

// ---- apply ----

// The rotation is written with explicit FMAs in the order llama.cpp's compiled CPU code
// evaluates it (x0*c - x1*s contracts to fma(x0, c, -(x1*s))), so rotated values match it
// bit for bit.

void xt_rope_f32(float *x, int64_t n_tok, int64_t tok_stride, int64_t n_heads, int64_t head_dim,
                 int64_t pos0, const xt_rope_params *p, float *cache) {
    const int64_t half = p->n_rot / 2;
    for (int64_t t = 0; t < n_tok; t++) {
        rope_cache(p, pos0 + t, cache);
        for (int64_t h = 0; h < n_heads; h++) {
            float *v = x + t * tok_stride + h * head_dim;
            if (p->neox) {
                for (int64_t i = 0; i < half; i++) {
                    const float c = cache[2 * i], s = cache[2 * i + 1];
                    const float x0 = v[i], x1 = v[i + half];
                    v[i] = fmaf(x0, c, -(x1 * s));
                    v[i + half] = fmaf(x0, s, x1 * c);
                }
            } else {
                for (int64_t i = 0; i < half; i++) {
                    const float c = cache[2 * i], s = cache[2 * i + 1];
                    const float x0 = v[2 * i], x1 = v[2 * i + 1];
                    v[2 * i] = fmaf(x0, c, -(x1 * s));
                    v[2 * i + 1] = fmaf(x0, s, x1 * c);
                }
            }
        }
    }
}
