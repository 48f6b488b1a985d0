// sample_filter.c — top-k, top-p and min-p over one row of logits, in llama.cpp's order and
// with its definitions. Each filter keeps a prefix of the order (logit desc, id asc), so only
// the part of the vocabulary that can survive is ever sorted: a 262k-token row costs one pass
// plus a sort of the few hundred tokens near the top.
#include <math.h>
#include <stdlib.h>

#include "core/status.h"
#include "sample/sample.h"

// ---- order ----

static inline bool before(const xt_cand *a, const xt_cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *pa, const void *pb) {
    const xt_cand *a = pa, *b = pb;
    return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

static void sort_cands(xt_cand *c, int64_t n) { qsort(c, (size_t)n, sizeof *c, cmp_cand); }

static inline void swap_cand(xt_cand *a, xt_cand *b) {
    xt_cand t = *a;
    *a = *b;
    *b = t;
}

// Reorders c so that its first k entries are the k first in the order (in any order).
// Quickselect with median-of-three pivots; candidates are distinct in the order (ids differ).
static void select_top(xt_cand *c, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (before(&c[hi], &c[lo])) swap_cand(&c[lo], &c[hi]);
        if (before(&c[mid], &c[lo])) swap_cand(&c[mid], &c[lo]);
        if (before(&c[hi], &c[mid])) swap_cand(&c[mid], &c[hi]);
        xt_cand pivot = c[mid];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (before(&c[i], &pivot)) i++;
            while (before(&pivot, &c[j])) j--;
            if (i <= j) swap_cand(&c[i++], &c[j--]);
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else return;
    }
}

// Keeps the k first candidates in the order among the finite logits of x, one pass: a min-heap
// (root = the worst kept) that most tokens fail to enter with a single comparison.
static int64_t heap_top_k(const float *x, int64_t n, int64_t k, xt_cand *h) {
    int64_t size = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(x[i] > -INFINITY)) continue;
        xt_cand c = {(int32_t)i, x[i]};
        int64_t j;
        if (size < k) {  // sift up
            j = size++;
            while (j > 0 && before(&h[(j - 1) / 2], &c)) {
                h[j] = h[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            h[j] = c;
            continue;
        }
        if (!before(&c, &h[0])) continue;
        j = 0;  // replace the root, sift down
        for (;;) {
            int64_t l = 2 * j + 1, r = l + 1, w = j;
            const xt_cand *wc = &c;
            if (l < size && before(wc, &h[l])) { w = l; wc = &h[l]; }  // h[l] is worse
            if (r < size && before(wc, &h[r])) { w = r; wc = &h[r]; }
            if (w == j) break;
            h[j] = h[w];
            j = w;
        }
        h[j] = c;
    }
    return size;
}

// exp(x) for x <= 0 to about 1 ulp (Cephes expf: x = n ln2 + r, a degree-6 polynomial in r),
// written without calls or branches so the loops over a row vectorize. -inf gives 0.
static inline float fast_exp(float x) {
    float xc = x < -87.3f ? -87.3f : x;
    float fn = xc * 1.44269504f;
    fn = (fn + 12582912.0f) - 12582912.0f;  // round to nearest (1.5 * 2^23)
    float r = xc - fn * 0.693359375f - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { uint32_t u; float f; } scale = {(uint32_t)((int32_t)fn + 127) << 23};
    return x > -INFINITY ? p * scale.f : 0.0f;
}

float xt_sample_exp(float x) { return fast_exp(x); }

// w[i] = exp((x[i] - max) * inv_t); returns the sum.
double xt_sample_weights(const float *x, int64_t n, float max, float inv_t, float *w) {
    double z = 0;
    for (int64_t i0 = 0; i0 < n; i0 += 1024) {  // float partial sums, a double total
        int64_t i1 = i0 + 1024 < n ? i0 + 1024 : n;
        for (int64_t i = i0; i < i1; i++) w[i] = fast_exp((x[i] - max) * inv_t);  // vectorizes
        float part = 0;
        for (int64_t i = i0; i < i1; i++) part += w[i];
        z += part;
    }
    return z;
}

// ---- row scans ----

// Max of the row; errors on NaN and on a row with no finite logit (every token banned).
xt_status xt_sample_max(const float *x, int64_t n, float *out) {
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        XT_RETURN_IF(isnan(x[i]), XT_ERR_INVALID_ARG, "sample: logit of token %" PRId64 " is NaN", i);
        if (x[i] > m) m = x[i];
    }
    XT_RETURN_IF(m == -INFINITY || m == INFINITY, XT_ERR_INVALID_ARG,
                 m == INFINITY ? "sample: a logit is +inf"
                               : "sample: every token is banned (all logits are -inf)");
    *out = m;
    return XT_OK;
}

xt_status xt_sample_argmax(const float *x, int64_t n, int32_t *out) {
    float m = 0;
    XT_TRY(xt_sample_max(x, n, &m));
    for (int64_t i = 0; i < n; i++) {
        if (x[i] == m) {
            *out = (int32_t)i;
            return XT_OK;
        }
    }
    XT_ASSERT(false);
}

// Copies the tokens with logit >= thr into c (id order); returns how many.
static int64_t gather(const float *x, int64_t n, float thr, xt_cand *c) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] >= thr && x[i] > -INFINITY) c[k++] = (xt_cand){(int32_t)i, x[i]};
    }
    return k;
}

static double mass(const xt_cand *c, int64_t n, float max) {
    double z = 0;
    for (int64_t i = 0; i < n; i++) z += fast_exp(c[i].logit - max);
    return z;
}

// ---- the filters ----

bool xt_sample_unfiltered(const xt_sampler *s) {
    const xt_sampler_params *p = &s->p;
    return (p->top_k == 0 || p->top_k >= s->n_vocab) && p->top_p >= 1.0f && p->min_p <= 0.0f;
}

xt_status xt_sample_filter(xt_sampler *s, int64_t *n_out, float *max_out) {
    const xt_sampler_params *p = &s->p;
    const float *x = s->logits;
    xt_cand *c = s->cand;
    float max = 0;
    XT_TRY(xt_sample_max(x, s->n_vocab, &max));
    // min-p keeps p_i >= min_p * p_max, i.e. logit_i >= max + log(min_p): an upper set of the
    // order, so it also bounds how much of the row the other filters need to look at.
    const float min_p_thr = p->min_p > 0 ? max + logf(p->min_p) : -INFINITY;
    int64_t n = 0;
    bool sorted = false;
    double z;  // softmax denominator (relative to max) of the set top-p normalizes over

    if (p->top_k > 0 && p->top_k <= 4096) {
        n = heap_top_k(x, s->n_vocab, p->top_k, c);
        sort_cands(c, n);
        sorted = true;
        z = mass(c, n, max);
    } else if (p->top_k > 0) {
        n = gather(x, s->n_vocab, -INFINITY, c);
        if (p->top_k < n) {
            select_top(c, n, p->top_k);
            n = p->top_k;
        }
        sort_cands(c, n);
        sorted = true;
        z = mass(c, n, max);
    } else if (p->top_p < 1.0f) {
        z = xt_sample_weights(x, s->n_vocab, max, 1.0f, s->weights);
        // Widen a logit window below the max until it holds the top-p mass (or the min-p
        // set, which ends the kept prefix anyway), then sort just that window.
        float delta = 4.0f;
        for (;;) {
            float thr = max - delta;
            bool last = thr <= min_p_thr || delta > 1e4f;
            if (last) thr = min_p_thr > -INFINITY ? min_p_thr : -INFINITY;
            n = gather(x, s->n_vocab, thr, c);
            double in = 0;
            for (int64_t i = 0; i < n; i++) in += s->weights[c[i].id];
            if (last || in >= (double)p->top_p * z) break;
            delta *= 2;
        }
        sort_cands(c, n);
        sorted = true;
    } else {
        n = gather(x, s->n_vocab, min_p_thr, c);
        z = 0;
    }

    if (p->top_p < 1.0f) {
        // llama.cpp: keep the shortest prefix whose probability (over the current set) sums
        // to >= top_p; at least one token.
        double cum = 0;
        int64_t keep = n;
        for (int64_t i = 0; i < n; i++) {
            cum += fast_exp(c[i].logit - max) / z;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0 && sorted) {
        int64_t keep = 1;
        while (keep < n && c[keep].logit >= min_p_thr) keep++;
        n = keep;
    }
    *n_out = n;
    *max_out = max;
    return XT_OK;
}
