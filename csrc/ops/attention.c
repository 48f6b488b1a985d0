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

// The eight partial sums of an 8-lane chain, added as the x86 horizontal sum does.
static float hsum8(const float *l) {
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

// Single-token calls follow ggml_vec_dot_f16 instead (what llama.cpp runs when a batch has one
// token): four 8-lane chains over 32-element steps (lane = index % 32), reduced as
// ((c0 + c2) + (c1 + c3)) then the hadd pairs; leftovers are added in double.
static float reduce32(const float *l) {
    float x[8];
    for (int i = 0; i < 8; i++) x[i] = (l[i] + l[16 + i]) + (l[8 + i] + l[24 + i]);
    const float t0 = x[0] + x[4], t1 = x[1] + x[5], t2 = x[2] + x[6], t3 = x[3] + x[7];
    return (t0 + t1) + (t2 + t3);
}

static float dot_f16_dec_ref(const float *a, const uint16_t *b, int64_t n) {
    float lane[32] = {0};
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32) {
        for (int l = 0; l < 32; l++) lane[l] = fmaf(a[i + l], xt_fp16_to_fp32(b[i + l]), lane[l]);
    }
    double s = (double)reduce32(lane);
    for (int64_t i = np; i < n; i++) s += (double)(a[i] * xt_fp16_to_fp32(b[i]));
    return (float)s;
}

static float dot_f16_ref(const float *a, const uint16_t *b, int64_t n) {
    float lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int l = 0; l < 8; l++) lane[l] = fmaf(xt_fp16_to_fp32(b[i + l]), a[i + l], lane[l]);
    }
    float s = hsum8(lane);
    for (; i < n; i++) s += a[i] * xt_fp16_to_fp32(b[i]);
    return s;
}

static void axpy_f16_ref(float *y, float a, const uint16_t *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = fmaf(xt_fp16_to_fp32(x[i]), a, y[i]);
}

#ifdef XT_ATTN_X86
// One 8-lane FMA chain over the row, then the pairwise horizontal sum: the order of
// llama.cpp's batched F16 products (tinyBLAS), so scores match it bit for bit.
__attribute__((target("avx2,fma,f16c"))) static float dot_f16_avx2(const float *a,
                                                                   const uint16_t *b, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 bv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i)));
        acc = _mm256_fmadd_ps(bv, _mm256_loadu_ps(a + i), acc);
    }
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
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

#ifdef XT_ATTN_X86
__attribute__((target("avx2,fma,f16c"))) static float dot_f16_dec_avx2(const float *a,
                                                                       const uint16_t *b,
                                                                       int64_t n) {
    __m256 c[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32) {
        for (int j = 0; j < 4; j++) {
            __m256 bv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8 * j)));
            c[j] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * j), bv, c[j]);
        }
    }
    c[0] = _mm256_add_ps(c[0], c[2]);
    c[1] = _mm256_add_ps(c[1], c[3]);
    c[0] = _mm256_add_ps(c[0], c[1]);
    __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(c[0]), _mm256_extractf128_ps(c[0], 1));
    __m128 t1 = _mm_hadd_ps(t0, t0);
    double s = (double)_mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    for (int64_t i = np; i < n; i++) s += (double)(a[i] * xt_fp16_to_fp32(b[i]));
    return (float)s;
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
    xt_vexp8_fn vexp8;
    dot_f16_fn dot16_dec;
} attn_ctx;

// F16 cache: the arithmetic of llama.cpp's batched CPU attention, step for step. Scores are
// 8-lane FMA chains of the F16-rounded query against the keys; softmax exponentiates in
// chunks of eight positions aligned to position 0 (masked positions are exact zeros), sums
// each chunk pairwise into a double, scales by 1/sum; the probabilities are rounded to F16;
// the V product is one 8-lane chain per output element over positions (lane = position % 8).
static void attend_one_f16(const attn_ctx *c, int64_t t, int64_t h, float *scores, float *qr,
                           float *acc) {
    const xt_attn_args *a = c->a;
    const int64_t kvh = h / (a->n_head / a->n_head_kv);
    const int64_t pq = a->pos0 + t;
    int64_t lo = 0;
    if (a->window > 0 && pq - a->window + 1 > 0) lo = pq - a->window + 1;
    const int64_t c0 = lo & ~(int64_t)7, c1 = (pq + 8) & ~(int64_t)7;  // chunk-aligned range
    const float *q = a->q + t * a->q_stride + h * a->head_dim;
    for (int64_t i = 0; i < a->head_dim; i++) qr[i] = xt_fp16_to_fp32(xt_fp32_to_fp16(q[i]));
    const bool single = a->n_tok == 1;  // llama.cpp's one-token path: ggml_vec_dot_f16 order
    const dot_f16_fn dot = single ? c->dot16_dec : c->dot16;
    const int64_t lanes = single ? 32 : 8;
    float *sc = scores - c0;  // sc[j] for j in [c0, c1)
    float mx = -INFINITY;
    for (int64_t j = c0; j < c1; j++) {
        if (j < lo || j > pq) {
            sc[j] = -INFINITY;
            continue;
        }
        size_t off = ((size_t)kvh * (size_t)a->n_ctx + (size_t)j) * (size_t)a->head_dim;
        float s = dot(qr, (const uint16_t *)a->k + off, a->head_dim) * a->scale;
        if (a->softcap > 0.0f) s = a->softcap * tanhf(s / a->softcap);
        sc[j] = s;
        if (s > mx) mx = s;
    }
    double sum = 0.0;
    for (int64_t j = c0; j < c1; j += 8) {
        float d[8];
        for (int l = 0; l < 8; l++) d[l] = sc[j + l] - mx;
        c->vexp8(sc + j, d);
        sum += (double)hsum8(sc + j);
    }
    const float inv = (float)(1.0 / sum);
    const int64_t dv = a->head_dim_v;
    memset(acc, 0, (size_t)(lanes * dv) * sizeof(float));
    for (int64_t j = lo; j <= pq; j++) {
        size_t off = ((size_t)kvh * (size_t)a->n_ctx + (size_t)j) * (size_t)dv;
        const float p = xt_fp16_to_fp32(xt_fp32_to_fp16(sc[j] * inv));
        c->axpy16(acc + (j & (lanes - 1)) * dv, p, (const uint16_t *)a->v + off, dv);
    }
    float *o = a->out + (t * a->n_head + h) * dv;
    for (int64_t i = 0; i < dv; i++) {
        float l[32];
        for (int64_t k = 0; k < lanes; k++) l[k] = acc[k * dv + i];
        // The V row count (cache positions, a multiple of 256 in llama.cpp) has no leftover.
        o[i] = single ? reduce32(l) : hsum8(l);
    }
}

// F32 cache: plain float arithmetic.
static void attend_one(const attn_ctx *c, int64_t t, int64_t h, float *scores, float *qr,
                       float *acc) {
    const xt_attn_args *a = c->a;
    if (a->kv_type == XT_DTYPE_F16) {
        attend_one_f16(c, t, h, scores, qr, acc);
        return;
    }
    const int64_t kvh = h / (a->n_head / a->n_head_kv);
    const int64_t pq = a->pos0 + t;
    int64_t lo = 0;
    if (a->window > 0 && pq - a->window + 1 > 0) lo = pq - a->window + 1;
    const float *q = a->q + t * a->q_stride + h * a->head_dim;
    float mx = -INFINITY;
    for (int64_t j = lo; j <= pq; j++) {
        size_t off = ((size_t)kvh * (size_t)a->n_ctx + (size_t)j) * (size_t)a->head_dim;
        float s = dot_f32(q, (const float *)a->k + off, a->head_dim) * a->scale;
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
    const float inv = (float)(1.0 / sum);
    memset(acc, 0, (size_t)a->head_dim_v * sizeof(float));
    for (int64_t j = lo; j <= pq; j++) {
        size_t off = ((size_t)kvh * (size_t)a->n_ctx + (size_t)j) * (size_t)a->head_dim_v;
        axpy_f32(acc, scores[j - lo] * inv, (const float *)a->v + off, a->head_dim_v);
    }
    float *o = a->out + (t * a->n_head + h) * a->head_dim_v;
    memcpy(o, acc, (size_t)a->head_dim_v * sizeof(float));
}

// Task `task` takes items task, task + n_tasks, ... so long (late) rows spread evenly.
static void attn_task(int64_t task, int64_t n_tasks, void *p) {
    const attn_ctx *c = p;
    const xt_attn_args *a = c->a;
    float *scores = a->scratch + task * c->scratch_floats;
    float *qr = scores + a->n_ctx + 8;
    float *acc = qr + a->head_dim;
    const int64_t n_items = a->n_tok * a->n_head;
    for (int64_t it = task; it < n_items; it += n_tasks) {
        attend_one(c, it / a->n_head, it % a->n_head, scores, qr, acc);
    }
}

int64_t xt_attention_scratch_floats(int64_t n_ctx, int64_t head_dim, int64_t head_dim_v) {
    return n_ctx + 8 + head_dim + 32 * head_dim_v;  // scores (chunk-padded), query, V lanes
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
    xt_status st;
    if (xt_attention_decode_f16(pool, a, &st)) return st;
    attn_ctx c = {a, xt_attention_scratch_floats(a->n_ctx, a->head_dim, a->head_dim_v),
                  dot_f16_ref, axpy_f16_ref, xt_vexp8_get(), dot_f16_dec_ref};
#ifdef XT_ATTN_X86
    if (xt_cpu_features_get()->avx2) {
        c.dot16 = dot_f16_avx2;
        c.axpy16 = axpy_f16_avx2;
        c.dot16_dec = dot_f16_dec_avx2;
    }
#endif
    if (pool != NULL && a->n_tasks > 1) return xt_threadpool_run(pool, attn_task, &c, a->n_tasks);
    for (int64_t i = 0; i < a->n_tasks; i++) attn_task(i, a->n_tasks, &c);
    return XT_OK;
}
