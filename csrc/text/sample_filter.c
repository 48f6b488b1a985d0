// sample_filter.c — top-k, top-p and min-p over one row of logits, in llama.cpp's order and
// with its definitions. Each filter keeps a prefix of the order (logit desc, id asc), so only
// the part of the vocabulary that can survive is ever sorted: a 262k-token row costs one pass
// plus a sort of the few hundred tokens near the top.
#include <math.h>
#include <stdlib.h>

#include "core/status.h"
#include "text/sample.h"

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

// ---- row scans ----

// Max of the row; errors on NaN and on a row with no finite logit (every token banned).
static xt_status row_max(const float *x, int64_t n, float *out) {
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
    XT_TRY(row_max(x, n, &m));
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
    for (int64_t i = 0; i < n; i++) z += exp((double)c[i].logit - max);
    return z;
}

// ---- the filters ----

xt_status xt_sample_filter(xt_sampler *s, int64_t *n_out, float *max_out) {
    const xt_sampler_params *p = &s->p;
    const float *x = s->logits;
    xt_cand *c = s->cand;
    float max = 0;
    XT_TRY(row_max(x, s->n_vocab, &max));
    // min-p keeps p_i >= min_p * p_max, i.e. logit_i >= max + log(min_p): an upper set of the
    // order, so it also bounds how much of the row the other filters need to look at.
    const float min_p_thr = p->min_p > 0 ? max + logf(p->min_p) : -INFINITY;
    int64_t n = 0;
    bool sorted = false;
    double z;  // softmax denominator (relative to max) of the set top-p normalizes over

    if (p->top_k > 0) {
        n = gather(x, s->n_vocab, -INFINITY, c);
        if (p->top_k < n) {
            select_top(c, n, p->top_k);
            n = p->top_k;
        }
        sort_cands(c, n);
        sorted = true;
        z = mass(c, n, max);
    } else if (p->top_p < 1.0f) {
        z = 0;
        for (int64_t i = 0; i < s->n_vocab; i++) z += exp((double)x[i] - max);
        // Widen a logit window below the max until it holds the top-p mass (or the min-p
        // set, which ends the kept prefix anyway), then sort just that window.
        float delta = 4.0f;
        for (;;) {
            float thr = max - delta;
            bool last = thr <= min_p_thr || delta > 1e4f;
            if (last) thr = min_p_thr > -INFINITY ? min_p_thr : -INFINITY;
            n = gather(x, s->n_vocab, thr, c);
            if (last || mass(c, n, max) >= (double)p->top_p * z) break;
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
            cum += exp((double)c[i].logit - max) / z;
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
