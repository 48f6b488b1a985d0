// act.c — gated activations of the feed-forward block: SwiGLU (SiLU) and GeGLU with the
// tanh GELU, in float32 or through ggml's fp16 lookup table (llama.cpp's CPU numbers).
#include <math.h>
#include <pthread.h>

#include "ops/ops.h"
#include "quant/fp16.h"

// SwiGLU lives in vexp.c (it shares the exp polynomial with softmax).

// ---- geglu ----

// The tanh arguments of a chunk go through xt_tanhf_n together (eight lanes at a time).
enum { GELU_CHUNK = 256 };

void xt_geglu_f32(float *y, const float *g, const float *u, int64_t n) {
    const float sqrt_2_over_pi = 0.79788456080286535587989211986876f;
    const float coef_a = 0.044715f;
    float t[GELU_CHUNK];
    for (int64_t i0 = 0; i0 < n; i0 += GELU_CHUNK) {
        const int64_t m = n - i0 < GELU_CHUNK ? n - i0 : GELU_CHUNK;
        for (int64_t i = 0; i < m; i++) {
            const float x = g[i0 + i];
            t[i] = sqrt_2_over_pi * x * (1.0f + coef_a * x * x);
        }
        xt_tanhf_n(t, t, m);
        for (int64_t i = 0; i < m; i++) {
            const float x = g[i0 + i];
            y[i0 + i] = 0.5f * x * (1.0f + t[i]) * u[i0 + i];
        }
    }
}

// ---- geglu through ggml's fp16 table (GGML_GELU_FP16) ----

static uint16_t g_gelu_table[1 << 16];  // fp16 bits -> fp16 bits of gelu(x)
static pthread_once_t g_gelu_once = PTHREAD_ONCE_INIT;

static void gelu_table_init(void) {
    const float sqrt_2_over_pi = 0.79788456080286535587989211986876f;
    const float coef_a = 0.044715f;
    for (uint32_t i = 0; i < (1u << 16); i++) {
        const float x = xt_fp16_to_fp32((uint16_t)i);
        // 1 + a*x*x as the compiled peer contracts it: fma(a*x, x, 1).
        const float v = 0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * x * fmaf(coef_a * x, x, 1.0f)));
        g_gelu_table[i] = xt_fp32_to_fp16(v);
    }
}

void xt_geglu_table_f32(float *y, const float *g, const float *u, int64_t n) {
    pthread_once(&g_gelu_once, gelu_table_init);
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        if (x <= -10.0f) {
            y[i] = 0.0f;
        } else if (x >= 10.0f) {
            y[i] = x * u[i];
        } else {
            y[i] = xt_fp16_to_fp32(g_gelu_table[xt_fp32_to_fp16(x)]) * u[i];
        }
    }
}
