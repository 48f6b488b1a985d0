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

// Query heads of one KV head whose scores one pass over the keys computes (prefill).
enum { ATTN_GROUP = 4 };

static void dot_f16_group_ref(const float *const *a, int g, const uint16_t *b, int64_t n,
                              float *out) {
    for (int h = 0; h < g; h++) out[h] = dot_f16_ref(a[h], b, n);
}

static void round16_ref(float *y, const float *x, float m, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = xt_fp16_to_fp32(xt_fp32_to_fp16(x[i] * m));
}

static void reduce8_ref(float *o, const float *acc, int64_t dv) {
    for (int64_t i = 0; i < dv; i++) {
        float l[8];
        for (int k = 0; k < 8; k++) l[k] = acc[k * dv + i];
        o[i] = hsum8(l);
    }
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
// dot_f16_avx2 for g <= ATTN_GROUP queries against one key row: each key vector is converted
// once; every query keeps its own chain and horizontal sum, as dot_f16_avx2's.
__attribute__((target("avx2,fma,f16c"))) static void dot_f16_group_avx2(const float *const *a,
                                                                        int g, const uint16_t *b,
                                                                        int64_t n, float *out) {
    __m256 acc[ATTN_GROUP];
    for (int h = 0; h < ATTN_GROUP; h++) acc[h] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 bv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i)));
        for (int h = 0; h < g; h++) acc[h] = _mm256_fmadd_ps(bv, _mm256_loadu_ps(a[h] + i), acc[h]);
    }
    for (int h = 0; h < g; h++) {
        __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc[h]), _mm256_extractf128_ps(acc[h], 1));
        s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
        float s = _mm_cvtss_f32(s4);
        for (int64_t j = i; j < n; j++) s += a[h][j] * xt_fp16_to_fp32(b[j]);
        out[h] = s;
    }
}

// y[i] = f32(f16(x[i] * m)) through F16C (round to nearest even, as xt_fp32_to_fp16; only a
// NaN's payload may differ).
__attribute__((target("avx2,fma,f16c"))) static void round16_avx2(float *y, const float *x,
                                                                  float m, int64_t n) {
    const __m256 vm = _mm256_set1_ps(m);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), vm),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) y[i] = xt_fp16_to_fp32(xt_fp32_to_fp16(x[i] * m));
}

// o[i] = hsum8 of the 8 lanes acc[k * dv + i], eight outputs per step.
__attribute__((target("avx2,fma,f16c"))) static void reduce8_avx2(float *o, const float *acc,
                                                                  int64_t dv) {
    int64_t i = 0;
    for (; i + 8 <= dv; i += 8) {
        __m256 l[8];
        for (int k = 0; k < 8; k++) l[k] = _mm256_loadu_ps(acc + k * dv + i);
        __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(l[0], l[4]), _mm256_add_ps(l[2], l[6])),
                                 _mm256_add_ps(_mm256_add_ps(l[1], l[5]), _mm256_add_ps(l[3], l[7])));
        _mm256_storeu_ps(o + i, s);
    }
    for (; i < dv; i++) {
        float l[8];
        for (int k = 0; k < 8; k++) l[k] = acc[k * dv + i];
        o[i] = hsum8(l);
    }
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
typedef void (*dot_group_fn)(const float *const *, int, const uint16_t *, int64_t, float *);
typedef void (*round16_fn)(float *, const float *, float, int64_t);
typedef void (*reduce8_fn)(float *, const float *, int64_t);

// ---- the parallel part ----

typedef struct {
    const xt_attn_args *a;
    int64_t scratch_floats;
    dot_f16_fn dot16;
    axpy_f16_fn axpy16;
    xt_vexp8_fn vexp8;
    dot_f16_fn dot16_dec;
    dot_group_fn dot16_group;
    round16_fn round16;
    reduce8_fn reduce8;
    int64_t n_sub;  // head groups per KV head (items of a multi-token call: token x KV x sub)
} attn_ctx;

// F16 cache: the arithmetic of llama.cpp's batched CPU attention, step for step. Scores are
// 8-lane FMA chains of the F16-rounded query against the keys; softmax exponentiates in
// chunks of eight positions aligned to position 0 (masked positions are exact zeros), sums
// each chunk pairwise into a double, scales by 1/sum; the probabilities are rounded to F16;
// the V product is one 8-lane chain per output element over positions (lane = position % 8).
// Heads [h0, h0 + g) share the KV head (g = 1 for one-token calls): one pass over the keys
// scores them all. Scratch: g score rows (n_ctx + 8), g query rows, then the V lanes.
static void attend_f16(const attn_ctx *c, int64_t t, int64_t h0, int g, float *scratch) {
    const xt_attn_args *a = c->a;
    const int64_t kvh = h0 / (a->n_head / a->n_head_kv);
    const int64_t pq = a->pos0 + t;
    int64_t lo = 0;
    if (a->window > 0 && pq - a->window + 1 > 0) lo = pq - a->window + 1;
    const int64_t c0 = lo & ~(int64_t)7, c1 = (pq + 8) & ~(int64_t)7;  // chunk-aligned range
    const bool single = a->n_tok == 1;  // llama.cpp's one-token path: ggml_vec_dot_f16 order
    const int64_t lanes = single ? 32 : 8;
    float *sc[ATTN_GROUP], *qr[ATTN_GROUP], mx[ATTN_GROUP];
    for (int h = 0; h < g; h++) {
        sc[h] = scratch + h * (a->n_ctx + 8) - c0;  // sc[h][j] for j in [c0, c1)
        qr[h] = scratch + ATTN_GROUP * (a->n_ctx + 8) + h * a->head_dim;
        c->round16(qr[h], a->q + t * a->q_stride + (h0 + h) * a->head_dim, 1.0f, a->head_dim);
        mx[h] = -INFINITY;
    }
    float *acc = scratch + ATTN_GROUP * (a->n_ctx + 8 + a->head_dim);
    for (int64_t j = c0; j < c1; j++) {
        if (j < lo || j > pq) {
            for (int h = 0; h < g; h++) sc[h][j] = -INFINITY;
            continue;
        }
        size_t off = ((size_t)kvh * (size_t)a->n_ctx + (size_t)j) * (size_t)a->head_dim;
        const uint16_t *krow = (const uint16_t *)a->k + off;
        float d[ATTN_GROUP];
        if (single) {
            d[0] = c->dot16_dec(qr[0], krow, a->head_dim);
        } else {
            c->dot16_group((const float *const *)qr, g, krow, a->head_dim, d);
        }
        for (int h = 0; h < g; h++) {
            float s = d[h] * a->scale;
            if (a->softcap > 0.0f) s = a->softcap * tanhf(s / a->softcap);
            sc[h][j] = s;
            if (s > mx[h]) mx[h] = s;
        }
    }
    const int64_t dv = a->head_dim_v;
    for (int h = 0; h < g; h++) {
        float *sh = sc[h];
        double sum = 0.0;
        for (int64_t j = c0; j < c1; j += 8) {
            float e[8];
            for (int l = 0; l < 8; l++) e[l] = sh[j + l] - mx[h];
            c->vexp8(sh + j, e);
            sum += (double)hsum8(sh + j);
        }
        const float inv = (float)(1.0 / sum);
        c->round16(sh + lo, sh + lo, inv, pq - lo + 1);  // the probabilities, F16-rounded
        memset(acc, 0, (size_t)(lanes * dv) * sizeof(float));
        for (int64_t j = lo; j <= pq; j++) {
            size_t off = ((size_t)kvh * (size_t)a->n_ctx + (size_t)j) * (size_t)dv;
            c->axpy16(acc + (j & (lanes - 1)) * dv, sh[j], (const uint16_t *)a->v + off, dv);
        }
        float *o = a->out + (t * a->n_head + h0 + h) * dv;
        if (!single) {
            c->reduce8(o, acc, dv);
            continue;
        }
        for (int64_t i = 0; i < dv; i++) {
            float l[32];
            for (int64_t k = 0; k < 32; k++) l[k] = acc[k * dv + i];
            // The V row count (cache positions, a multiple of 256 in llama.cpp) has no leftover.
            o[i] = reduce32(l);
        }
    }
}

// F32 cache: plain float arithmetic.
static void attend_f32(const attn_ctx *c, int64_t t, int64_t h, float *scores, float *acc) {
    const xt_attn_args *a = c->a;
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

// Task `task` takes items task, task + n_tasks, ... so long (late) rows spread evenly. Items:
// (token, head) for one-token calls and F32 caches, else (token, KV head, head group).
static void attn_task(int64_t task, int64_t n_tasks, void *p) {
    const attn_ctx *c = p;
    const xt_attn_args *a = c->a;
    float *scratch = a->scratch + task * c->scratch_floats;
    if (a->kv_type == XT_DTYPE_F16 && a->n_tok > 1) {
        const int64_t per_kv = a->n_head / a->n_head_kv;
        const int64_t n_items = a->n_tok * a->n_head_kv * c->n_sub;
        for (int64_t it = task; it < n_items; it += n_tasks) {
            const int64_t t = it / (a->n_head_kv * c->n_sub), r = it % (a->n_head_kv * c->n_sub);
            const int64_t h0 = (r / c->n_sub) * per_kv + (r % c->n_sub) * ATTN_GROUP;
            const int64_t h1 = (r / c->n_sub + 1) * per_kv;
            attend_f16(c, t, h0, h1 - h0 < ATTN_GROUP ? (int)(h1 - h0) : ATTN_GROUP, scratch);
        }
        return;
    }
    const int64_t n_items = a->n_tok * a->n_head;
    for (int64_t it = task; it < n_items; it += n_tasks) {
        if (a->kv_type == XT_DTYPE_F16) {
            attend_f16(c, it / a->n_head, it % a->n_head, 1, scratch);
            continue;
        }
        attend_f32(c, it / a->n_head, it % a->n_head, scratch, scratch + a->n_ctx + 8);
    }
}

int64_t xt_attention_scratch_floats(int64_t n_ctx, int64_t head_dim, int64_t head_dim_v) {
    // per head of a group: scores (chunk-padded) and query; then the V lanes
    return ATTN_GROUP * (n_ctx + 8 + head_dim) + 32 * head_dim_v;
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
    const int64_t per_kv = a->n_head / a->n_head_kv;
    attn_ctx c = {a, xt_attention_scratch_floats(a->n_ctx, a->head_dim, a->head_dim_v),
                  dot_f16_ref, axpy_f16_ref, xt_vexp8_get(), dot_f16_dec_ref,
                  dot_f16_group_ref, round16_ref, reduce8_ref,
                  (per_kv + ATTN_GROUP - 1) / ATTN_GROUP};
#ifdef XT_ATTN_X86
    if (xt_cpu_features_get()->avx2) {
        c.dot16 = dot_f16_avx2;
        c.axpy16 = axpy_f16_avx2;
        c.dot16_dec = dot_f16_dec_avx2;
        c.dot16_group = dot_f16_group_avx2;
        c.round16 = round16_avx2;
        c.reduce8 = reduce8_avx2;
    }
#endif
    if (pool != NULL && a->n_tasks > 1) return xt_threadpool_run(pool, attn_task, &c, a->n_tasks);
    for (int64_t i = 0; i < a->n_tasks; i++) attn_task(i, a->n_tasks, &c);
    return XT_OK;
}
