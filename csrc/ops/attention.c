// attention.c — causal multi-head attention with grouped KV heads over the KV cache (F16 or
// F32), optional sliding window and soft-capping. Work items (token, head) are spread over the
// pool; the F16 dot/axpy use F16C+FMA when the CPU has them (picked at run time).
#include <math.h>
#include <string.h>

#include "core/cpu_features.h"
#include "core/status.h"
#include "ops/ops.h"
#include "quant/fp16.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define XT_ATTN_X86 1
#endif

// ---- row kernels ----

static float dot_f32(const float *a, const float *b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void axpy_f32(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static float dot_f16_ref(const float *a, const uint16_t *b, int64_t n) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * xt_fp16_to_fp32(b[i]);
    return s;
}

static void axpy_f16_ref(float *y, float a, const uint16_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * xt_fp16_to_fp32(x[i]);
}

#ifdef XT_ATTN_X86
__attribute__((target("avx2,fma,f16c"))) static float dot_f16_avx2(const float *a,
                                                                   const uint16_t *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8)));
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), b0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), b1, acc1);
    }
    acc0 = _mm256_add_ps(acc0, acc1);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    float s = _mm_cvtss_f32(s4);
    for (; i < n; i++) s += a[i] * xt_fp16_to_fp32(b[i]);
    return s;
}

__attribute__((target("avx2,fma,f16c"))) static void axpy_f16_avx2(float *y, float a,
                                                                  const uint16_t *x, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * xt_fp16_to_fp32(x[i]);
}
#endif

typedef float (*dot_f16_fn)(const float *, const uint16_t *, int64_t);
typedef void (*axpy_f16_fn)(float *, float, const uint16_t *, int64_t);

// ---- the parallel part ----

typedef struct {
    const xt_attn_args *a;
    int64_t scratch_floats;
    dot_f16_fn dot16;
    axpy_f16_fn axpy16;
} attn_ctx;

// One (token, head) pair: scores over the visible positions, softmax, weighted sum of V.
static void attend_one(const attn_ctx *c, int64_t t, int64_t h, float *scores, float *qr,
                       float *acc) {
    const xt_attn_args *a = c->a;
    const int64_t group = a->n_head / a->n_head_kv;
    const int64_t kvh = h / group;
    const int64_t pq = a->pos0 + t;
    int64_t lo = 0;
    if (a->window > 0 && pq - a->window + 1 > 0) lo = pq - a->window + 1;
    const float *q = a->q + t * a->q_stride + h * a->head_dim;
    const bool f16 = a->kv_type == XT_DTYPE_F16;
    // llama.cpp multiplies Q against an F16 cache in F16: round Q the same way.
    if (f16) {
        for (int64_t i = 0; i < a->head_dim; i++) qr[i] = xt_fp16_to_fp32(xt_fp32_to_fp16(q[i]));
    } else {
        memcpy(qr, q, (size_t)a->head_dim * sizeof(float));
    }
    float mx = -INFINITY;
    for (int64_t j = lo; j <= pq; j++) {
        size_t off = ((size_t)kvh * (size_t)a->n_ctx + (size_t)j) * (size_t)a->head_dim;
        float s = f16 ? c->dot16(qr, (const uint16_t *)a->k + off, a->head_dim)
                      : dot_f32(qr, (const float *)a->k + off, a->head_dim);
        s *= a->scale;
        if (a->softcap > 0.0f) s = a->softcap * tanhf(s / a->softcap);
        scores[j - lo] = s;
        if (s > mx) mx = s;
    }
    double sum = 0.0;
    for (int64_t j = lo; j <= pq; j++) {
        float e = expf(scores[j - lo] - mx);
        scores[j - lo] = e;
        sum += (double)e;
    }
    memset(acc, 0, (size_t)a->head_dim_v * sizeof(float));
    for (int64_t j = lo; j <= pq; j++) {
        size_t off = ((size_t)kvh * (size_t)a->n_ctx + (size_t)j) * (size_t)a->head_dim_v;
        if (f16) {
            c->axpy16(acc, scores[j - lo], (const uint16_t *)a->v + off, a->head_dim_v);
        } else {
            axpy_f32(acc, scores[j - lo], (const float *)a->v + off, a->head_dim_v);
        }
    }
    const float inv = (float)(1.0 / sum);
    float *o = a->out + (t * a->n_head + h) * a->head_dim_v;
    for (int64_t i = 0; i < a->head_dim_v; i++) o[i] = acc[i] * inv;
}

// Task `task` takes items task, task + n_tasks, ... so long (late) rows spread evenly.
static void attn_task(int64_t task, int64_t n_tasks, void *p) {
    const attn_ctx *c = p;
    const xt_attn_args *a = c->a;
    float *scores = a->scratch + task * c->scratch_floats;
    float *qr = scores + a->n_ctx;
    float *acc = qr + a->head_dim;
    const int64_t n_items = a->n_tok * a->n_head;
    for (int64_t it = task; it < n_items; it += n_tasks) {
        attend_one(c, it / a->n_head, it % a->n_head, scores, qr, acc);
    }
}

int64_t xt_attention_scratch_floats(int64_t n_ctx, int64_t head_dim, int64_t head_dim_v) {
    return n_ctx + head_dim + head_dim_v;
}

xt_status xt_attention(xt_threadpool *pool, const xt_attn_args *a) {
    XT_RETURN_IF(a->kv_type != XT_DTYPE_F16 && a->kv_type != XT_DTYPE_F32, XT_ERR_UNSUPPORTED,
                 "attention: KV cache type %d is not supported on the CPU backend",
                 (int)a->kv_type);
    XT_RETURN_IF(a->n_head_kv <= 0 || a->n_head % a->n_head_kv != 0, XT_ERR_INVALID_ARG,
                 "attention: %" PRId64 " heads do not group over %" PRId64 " KV heads",
                 a->n_head, a->n_head_kv);
    XT_RETURN_IF(a->pos0 < 0 || a->pos0 + a->n_tok > a->n_ctx || a->n_tasks < 1,
                 XT_ERR_INVALID_ARG, "attention: positions past the cache");
    attn_ctx c = {a, xt_attention_scratch_floats(a->n_ctx, a->head_dim, a->head_dim_v),
                  dot_f16_ref, axpy_f16_ref};
#ifdef XT_ATTN_X86
    if (xt_cpu_features_get()->avx2) {
        c.dot16 = dot_f16_avx2;
        c.axpy16 = axpy_f16_avx2;
    }
#endif
    if (pool != NULL && a->n_tasks > 1) return xt_threadpool_run(pool, attn_task, &c, a->n_tasks);
    for (int64_t i = 0; i < a->n_tasks; i++) attn_task(i, a->n_tasks, &c);
    return XT_OK;
}
