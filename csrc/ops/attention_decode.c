// attention_decode.c — one-token attention over an F16 cache on AVX2 (decode): the same
// arithmetic as attention.c's one-token path (llama.cpp's: ggml_vec_dot_f16 scores, chunked
// softmax, 32-lane V accumulation, F16-rounded query and probabilities), organised for speed:
// eight keys' horizontal sums are done together by a transposing reduction that keeps each
// key's order of additions, the dot and axpy loops are inline, and the final 32-lane
// reduction runs eight outputs at a time. Bit-identical to the generic path: decode steps of
// both real models equal llama.cpp's bit for bit (tests/test_model_llamacpp.py).
#include <math.h>
#include <string.h>

#include "core/cpu_features.h"
#include "ops/ops.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#define XT_AVX2 __attribute__((target("avx2,fma,f16c")))

// ggml_vec_dot_f16's vector part for one key: four 8-lane chains over 32-element steps
// (chain j takes elements i + 8j), combined as (c0 + c2) + (c1 + c3).
XT_AVX2 static inline __m256 key_chains(const float *q, const uint16_t *k, int64_t n) {
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
    __m256 c2 = _mm256_setzero_ps(), c3 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 32) {
        c0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i))), c0);
        c1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 8))), c1);
        c2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 16),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 16))), c2);
        c3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 24))), c3);
    }
    return _mm256_add_ps(_mm256_add_ps(c0, c2), _mm256_add_ps(c1, c3));
}

// Its horizontal part for one key: low + high half, then two pairwise hadds.
XT_AVX2 static inline float key_hsum(__m256 v) {
    __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// key_hsum of eight keys at once: the same additions, lane for lane.
XT_AVX2 static inline __m256 key_hsum8(const __m256 v[8]) {
    __m256 t[4];
    for (int p = 0; p < 4; p++) {  // [v_2p lo + hi | v_2p+1 lo + hi]
        t[p] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x20),
                             _mm256_permute2f128_ps(v[2 * p], v[2 * p + 1], 0x31));
    }
    // lanes of r: keys 0 2 4 6 | 1 3 5 7
    __m256 r = _mm256_hadd_ps(_mm256_hadd_ps(t[0], t[1]), _mm256_hadd_ps(t[2], t[3]));
    return _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)): the 8-lane horizontal sum.
static float hsum8(const float *l) {
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

typedef struct {
    const xt_attn_args *a;
    int64_t scratch_floats;
    xt_vexp8_fn vexp8;
} decode_ctx;

XT_AVX2 static void decode_head(const decode_ctx *c, int64_t h, float *scratch) {
    const xt_attn_args *a = c->a;
    const int64_t hd = a->head_dim, dv = a->head_dim_v;
    const int64_t kvh = h / (a->n_head / a->n_head_kv);
    const int64_t pq = a->pos0;
    int64_t lo = 0;
    if (a->window > 0 && pq - a->window + 1 > 0) lo = pq - a->window + 1;
    const int64_t c0 = lo & ~(int64_t)7, c1 = (pq + 8) & ~(int64_t)7;  // chunk-aligned range
    float *sc = scratch - c0;                 // sc[j] for j in [c0, c1)
    float *qr = scratch + a->n_ctx + 8;       // the query, F16-rounded
    float *acc = qr + hd;                     // 32 lane rows of dv
    const float *q = a->q + h * hd;
    for (int64_t i = 0; i < hd; i += 8) {
        __m128i r = _mm256_cvtps_ph(_mm256_loadu_ps(q + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(qr + i, _mm256_cvtph_ps(r));
    }
    const uint16_t *K = (const uint16_t *)a->k + (size_t)kvh * (size_t)a->n_ctx * (size_t)hd;
    const uint16_t *V = (const uint16_t *)a->v + (size_t)kvh * (size_t)a->n_ctx * (size_t)dv;

    // scores
    for (int64_t j = c0; j < lo; j++) sc[j] = -INFINITY;
    for (int64_t j = pq + 1; j < c1; j++) sc[j] = -INFINITY;
    const __m256 vscale = _mm256_set1_ps(a->scale);
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    int64_t j = lo;
    for (; j + 8 <= pq + 1; j += 8) {
        __m256 v[8];
        for (int k = 0; k < 8; k++) v[k] = key_chains(qr, K + (size_t)(j + k) * (size_t)hd, hd);
        __m256 s = _mm256_mul_ps(key_hsum8(v), vscale);
        _mm256_storeu_ps(sc + j, s);
        vmx = _mm256_max_ps(s, vmx);  // a NaN score leaves the maximum as it was
    }
    float mxl[8];
    _mm256_storeu_ps(mxl, vmx);
    float mx = -INFINITY;
    for (int k = 0; k < 8; k++) mx = mxl[k] > mx ? mxl[k] : mx;
    for (; j <= pq; j++) {
        float s = key_hsum(key_chains(qr, K + (size_t)j * (size_t)hd, hd)) * a->scale;
        sc[j] = s;
        mx = s > mx ? s : mx;
    }

    // softmax: chunks of eight aligned to position 0, chunk sums added in double
    double sum = 0.0;
    const __m256 vmxb = _mm256_set1_ps(mx);
    for (int64_t cj = c0; cj < c1; cj += 8) {
        float d[8];
        _mm256_storeu_ps(d, _mm256_sub_ps(_mm256_loadu_ps(sc + cj), vmxb));
        c->vexp8(sc + cj, d);
        sum += (double)hsum8(sc + cj);
    }
    const float inv = (float)(1.0 / sum);

    // probabilities (F16-rounded) times V, position j into lane row j % 32
    memset(acc, 0, (size_t)(32 * dv) * sizeof(float));
    const __m256 vinv = _mm256_set1_ps(inv);
    for (j = lo; j <= pq; j++) {
        __m128i ph = _mm_cvtps_ph(_mm_mul_ss(_mm_set_ss(sc[j]), _mm256_castps256_ps128(vinv)),
                                  _MM_FROUND_TO_NEAREST_INT);
        const __m256 p = _mm256_broadcastss_ps(_mm_cvtph_ps(ph));
        float *row = acc + (j & 31) * dv;
        const uint16_t *vr = V + (size_t)j * (size_t)dv;
        for (int64_t i = 0; i < dv; i += 8) {
            __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + i)));
            _mm256_storeu_ps(row + i, _mm256_fmadd_ps(p, x, _mm256_loadu_ps(row + i)));
        }
    }
    // 32 lanes -> one output: x_m = (l_m + l_16+m) + (l_8+m + l_24+m), then
    // ((x0 + x4) + (x1 + x5)) + ((x2 + x6) + (x3 + x7)); eight outputs per step.
    float *o = a->out + h * dv;
    for (int64_t i = 0; i < dv; i += 8) {
        __m256 x[8];
        for (int m = 0; m < 8; m++) {
            x[m] = _mm256_add_ps(
                _mm256_add_ps(_mm256_loadu_ps(acc + m * dv + i),
                              _mm256_loadu_ps(acc + (16 + m) * dv + i)),
                _mm256_add_ps(_mm256_loadu_ps(acc + (8 + m) * dv + i),
                              _mm256_loadu_ps(acc + (24 + m) * dv + i)));
        }
        __m256 t0 = _mm256_add_ps(x[0], x[4]), t1 = _mm256_add_ps(x[1], x[5]);
        __m256 t2 = _mm256_add_ps(x[2], x[6]), t3 = _mm256_add_ps(x[3], x[7]);
        _mm256_storeu_ps(o + i, _mm256_add_ps(_mm256_add_ps(t0, t1), _mm256_add_ps(t2, t3)));
    }
}

// Task `task` takes heads task, task + n_tasks, ...
static void decode_task(int64_t task, int64_t n_tasks, void *p) {
    const decode_ctx *c = p;
    float *scratch = c->a->scratch + task * c->scratch_floats;
    for (int64_t h = task; h < c->a->n_head; h += n_tasks) decode_head(c, h, scratch);
}

bool xt_attention_decode_f16(xt_threadpool *pool, const xt_attn_args *a, xt_status *st) {
    // The shapes this path covers; anything else takes the generic one.
    if (a->kv_type != XT_DTYPE_F16 || a->n_tok != 1 || a->softcap > 0.0f ||
        a->head_dim % 32 != 0 || a->head_dim_v % 8 != 0 || !xt_cpu_features_get()->avx2) {
        return false;
    }
    decode_ctx c = {a, xt_attention_scratch_floats(a->n_ctx, a->head_dim, a->head_dim_v),
                    xt_vexp8_get()};
    if (pool != NULL && a->n_tasks > 1) {
        *st = xt_threadpool_run(pool, decode_task, &c, a->n_tasks);
    } else {
        for (int64_t i = 0; i < a->n_tasks; i++) decode_task(i, a->n_tasks, &c);
        *st = XT_OK;
    }
    return true;
}

#else  // not x86

bool xt_attention_decode_f16(xt_threadpool *pool, const xt_attn_args *a, xt_status *st) {
    (void)pool;
    (void)a;
    (void)st;
    return false;
}

#endif
