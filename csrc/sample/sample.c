// sample.c — the xt_sampler API: parameters, logit bias, the penalty window, and the draw.
// The filters live in sample_filter.c, the random stream in sample_rng.c.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "sample/sample.h"

// ---- parameters ----

void xt_sampler_params_default(xt_sampler_params *p) {
    memset(p, 0, sizeof *p);
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->penalty_last_n = 64;
}

static bool penalties_on(const xt_sampler_params *p) {
    return p->penalty_last_n > 0 &&
           (p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f);
}

static xt_status check_params(const xt_sampler_params *p) {
    // Comparisons are written so that NaN fails them.
    XT_RETURN_IF(!(p->temperature >= 0 && isfinite(p->temperature)), XT_ERR_INVALID_ARG,
                 "temperature must be a finite number >= 0 (0: greedy), got %g", p->temperature);
    XT_RETURN_IF(p->top_k < 0, XT_ERR_INVALID_ARG, "top_k must be >= 0 (0: off), got %d", p->top_k);
    XT_RETURN_IF(!(p->top_p > 0 && p->top_p <= 1), XT_ERR_INVALID_ARG,
                 "top_p must be in (0, 1] (1: off), got %g", p->top_p);
    XT_RETURN_IF(!(p->min_p >= 0 && p->min_p <= 1), XT_ERR_INVALID_ARG,
                 "min_p must be in [0, 1] (0: off), got %g", p->min_p);
    XT_RETURN_IF(!(p->repeat_penalty > 0 && isfinite(p->repeat_penalty)), XT_ERR_INVALID_ARG,
                 "repeat_penalty must be a finite number > 0 (1: off), got %g", p->repeat_penalty);
    XT_RETURN_IF(!isfinite(p->presence_penalty), XT_ERR_INVALID_ARG,
                 "presence_penalty must be finite, got %g", p->presence_penalty);
    XT_RETURN_IF(!isfinite(p->frequency_penalty), XT_ERR_INVALID_ARG,
                 "frequency_penalty must be finite, got %g", p->frequency_penalty);
    XT_RETURN_IF(p->penalty_last_n < 0 || p->penalty_last_n > XT_SAMPLER_MAX_WINDOW,
                 XT_ERR_INVALID_ARG, "penalty_last_n must be in [0, %d], got %d",
                 XT_SAMPLER_MAX_WINDOW, p->penalty_last_n);
    return XT_OK;
}

// ---- lifecycle ----

void xt_sampler_free(xt_sampler *s) {
    if (s == NULL) return;
    free(s->logits);
    free(s->cand);
    free(s->weights);
    free(s->bias_ids);
    free(s->bias_val);
    free(s->window);
    free(s->counts);
    free(s);
}

xt_status xt_sampler_new(int64_t n_vocab, const xt_sampler_params *p, xt_sampler **out) {
    XT_RETURN_IF(p == NULL || out == NULL, XT_ERR_INVALID_ARG, "xt_sampler_new: NULL argument");
    XT_RETURN_IF(n_vocab < 1 || n_vocab > INT32_MAX, XT_ERR_INVALID_ARG,
                 "sampler: n_vocab must be in [1, 2^31), got %" PRId64, n_vocab);
    XT_TRY(check_params(p));
    xt_sampler *s = calloc(1, sizeof *s);
    XT_RETURN_IF(s == NULL, XT_ERR_NOMEM, "out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->logits = malloc((size_t)n_vocab * sizeof *s->logits);
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->weights = malloc((size_t)n_vocab * sizeof *s->weights);
    bool ok = s->logits && s->cand && s->weights;
    if (ok && penalties_on(p)) {
        s->window = malloc((size_t)p->penalty_last_n * sizeof *s->window);
        s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
        ok = s->window && s->counts;
    }
    if (!ok) {
        xt_sampler_free(s);
        return xt_error(XT_ERR_NOMEM, "sampler: out of memory for %" PRId64 " tokens", n_vocab);
    }
    xt_rng_seed(s->rng, p->seed);
    *out = s;
    return XT_OK;
}

int64_t xt_sampler_n_vocab(const xt_sampler *s) { return s ? s->n_vocab : 0; }

xt_status xt_sampler_set_bias(xt_sampler *s, const int32_t *ids, const float *bias, int64_t n) {
    XT_RETURN_IF(s == NULL || (n > 0 && (ids == NULL || bias == NULL)), XT_ERR_INVALID_ARG,
                 "xt_sampler_set_bias: NULL argument");
    XT_RETURN_IF(n < 0 || n > s->n_vocab * 4, XT_ERR_INVALID_ARG,
                 "logit_bias: %" PRId64 " entries (at most 4 x n_vocab)", n);
    for (int64_t i = 0; i < n; i++) {
        XT_RETURN_IF(ids[i] < 0 || ids[i] >= s->n_vocab, XT_ERR_INVALID_ARG,
                     "logit_bias: token id %d is out of range [0, %" PRId64 ")", ids[i], s->n_vocab);
        XT_RETURN_IF(isnan(bias[i]) || bias[i] == INFINITY, XT_ERR_INVALID_ARG,
                     "logit_bias: bias of token %d must be a number or -inf, got %g", ids[i],
                     bias[i]);
    }
    int32_t *new_ids = NULL;
    float *new_val = NULL;
    if (n > 0) {
        new_ids = malloc((size_t)n * sizeof *new_ids);
        new_val = malloc((size_t)n * sizeof *new_val);
        if (new_ids == NULL || new_val == NULL) {
            free(new_ids);
            free(new_val);
            return xt_error(XT_ERR_NOMEM, "logit_bias: out of memory");
        }
        memcpy(new_ids, ids, (size_t)n * sizeof *ids);
        memcpy(new_val, bias, (size_t)n * sizeof *bias);
    }
    free(s->bias_ids);
    free(s->bias_val);
    s->bias_ids = new_ids;
    s->bias_val = new_val;
    s->n_bias = n;
    return XT_OK;
}

void xt_sampler_reset(xt_sampler *s, uint64_t seed) {
    if (s == NULL) return;
    if (s->counts) memset(s->counts, 0, (size_t)s->n_vocab * sizeof *s->counts);
    s->win_len = 0;
    s->win_head = 0;
    s->p.seed = seed;
    xt_rng_seed(s->rng, seed);
}

// ---- penalty window ----

xt_status xt_sampler_accept(xt_sampler *s, const int32_t *tokens, int64_t n) {
    XT_RETURN_IF(s == NULL || (n > 0 && tokens == NULL) || n < 0, XT_ERR_INVALID_ARG,
                 "xt_sampler_accept: bad argument");
    for (int64_t i = 0; i < n; i++) {
        XT_RETURN_IF(tokens[i] < 0 || tokens[i] >= s->n_vocab, XT_ERR_INVALID_ARG,
                     "accept: token id %d is out of range [0, %" PRId64 ")", tokens[i], s->n_vocab);
    }
    if (s->window == NULL) return XT_OK;
    const int64_t cap = s->p.penalty_last_n;
    for (int64_t i = n > cap ? n - cap : 0; i < n; i++) {
        if (s->win_len == cap) s->counts[s->window[s->win_head]]--;  // evict the oldest
        else s->win_len++;
        s->window[s->win_head] = tokens[i];
        s->counts[tokens[i]]++;
        s->win_head = (s->win_head + 1) % cap;
    }
    return XT_OK;
}

// llama.cpp's penalties, once per distinct token of the window with its count c:
//   logit = logit <= 0 ? logit * repeat : logit / repeat;  logit -= c * freq + presence.
static void apply_penalties(xt_sampler *s) {
    const xt_sampler_params *p = &s->p;
    for (int64_t j = 0; j < s->win_len; j++) {
        int32_t t = s->window[j];
        int32_t c = s->counts[t];
        if (c <= 0) continue;  // done already (count negated below)
        float *l = &s->logits[t];
        *l = *l <= 0 ? *l * p->repeat_penalty : *l / p->repeat_penalty;
        *l -= (float)c * p->frequency_penalty + p->presence_penalty;
        s->counts[t] = -c;
    }
    for (int64_t j = 0; j < s->win_len; j++) {
        int32_t t = s->window[j];
        if (s->counts[t] < 0) s->counts[t] = -s->counts[t];
    }
}

// ---- sampling ----

// Bias, then penalties, on the sampler's copy of the row.
static void prepare(xt_sampler *s, const float *logits) {
    if (logits != s->logits) memcpy(s->logits, logits, (size_t)s->n_vocab * sizeof *logits);
    for (int64_t i = 0; i < s->n_bias; i++) s->logits[s->bias_ids[i]] += s->bias_val[i];
    if (s->window) apply_penalties(s);
}

// Softmax weights exp((logit - max) / T) of the kept candidates, written back over their
// logits; returns their sum.
static double weigh(xt_sampler *s, int64_t n, float max) {
    const float inv_t = 1.0f / s->p.temperature;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        float w = xt_sample_exp((s->cand[i].logit - max) * inv_t);
        s->cand[i].logit = w;
        sum += w;
    }
    return sum;
}

// No filter applies: weights of the whole row into s->weights (id order); returns their sum.
static xt_status weigh_row(xt_sampler *s, double *sum) {
    float max;
    XT_TRY(xt_sample_max(s->logits, s->n_vocab, &max));
    *sum = xt_sample_weights(s->logits, s->n_vocab, max, 1.0f / s->p.temperature, s->weights);
    return XT_OK;
}

xt_status xt_sampler_sample(xt_sampler *s, const float *logits, int32_t *out) {
    XT_RETURN_IF(s == NULL || logits == NULL || out == NULL, XT_ERR_INVALID_ARG,
                 "xt_sampler_sample: NULL argument");
    prepare(s, logits);
    if (s->p.temperature == 0) return xt_sample_argmax(s->logits, s->n_vocab, out);
    if (xt_sample_unfiltered(s)) {
        double sum;
        XT_TRY(weigh_row(s, &sum));
        double target = xt_rng_uniform(s->rng) * sum, cum = 0;
        int32_t pick = -1;
        for (int64_t i = 0; i < s->n_vocab; i++) {
            if (s->weights[i] > 0) pick = (int32_t)i;  // the last drawable, if rounding runs over
            cum += s->weights[i];
            if (target < cum) break;
        }
        *out = pick;
        return XT_OK;
    }
    int64_t n;
    float max = 0;
    XT_TRY(xt_sample_filter(s, &n, &max));
    double sum = weigh(s, n, max);
    double target = xt_rng_uniform(s->rng) * sum;
    double cum = 0;
    int32_t pick = s->cand[n - 1].id;  // rounding can leave target just above the last sum
    for (int64_t i = 0; i < n; i++) {
        cum += s->cand[i].logit;
        if (target < cum) {
            pick = s->cand[i].id;
            break;
        }
    }
    *out = pick;
    return XT_OK;
}

xt_status xt_sampler_probs(xt_sampler *s, const float *logits, float *probs) {
    XT_RETURN_IF(s == NULL || logits == NULL || probs == NULL, XT_ERR_INVALID_ARG,
                 "xt_sampler_probs: NULL argument");
    prepare(s, logits);
    if (s->p.temperature == 0) {
        int32_t best;
        XT_TRY(xt_sample_argmax(s->logits, s->n_vocab, &best));
        memset(probs, 0, (size_t)s->n_vocab * sizeof *probs);
        probs[best] = 1.0f;
        return XT_OK;
    }
    if (xt_sample_unfiltered(s)) {
        double sum;
        XT_TRY(weigh_row(s, &sum));
        for (int64_t i = 0; i < s->n_vocab; i++) probs[i] = (float)(s->weights[i] / sum);
        return XT_OK;
    }
    int64_t n;
    float max = 0;
    XT_TRY(xt_sample_filter(s, &n, &max));
    double sum = weigh(s, n, max);
    memset(probs, 0, (size_t)s->n_vocab * sizeof *probs);
    for (int64_t i = 0; i < n; i++) probs[s->cand[i].id] = (float)(s->cand[i].logit / sum);
    return XT_OK;
}
