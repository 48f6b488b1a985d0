// sample.h — internal header of the sampler (csrc/sample/sample*.c): the xt_sampler layout, the
// candidate list the filters work on, and the random stream.
#ifndef XT_SAMPLE_SAMPLE_H
#define XT_SAMPLE_SAMPLE_H

#include "xtral.h"

// One surviving token. Filters keep prefixes of the order (logit desc, id asc), so the result
// never depends on how a sort breaks ties.
typedef struct {
    int32_t id;
    float logit;
} xt_cand;

struct xt_sampler {
    xt_sampler_params p;
    int64_t n_vocab;
    float *logits;        // (n_vocab) working row: bias and penalties are applied here
    xt_cand *cand;        // (n_vocab) candidates left by the filters
    float *weights;       // (n_vocab) softmax weights of a whole row, when a step needs them
    int32_t *bias_ids;    // (n_bias) logit bias, as given (owned)
    float *bias_val;      // (n_bias)
    int64_t n_bias;
    int32_t *window;      // (p.penalty_last_n) ring of accepted tokens; NULL when penalties off
    int64_t win_len;      // tokens in the ring (<= penalty_last_n)
    int64_t win_head;     // next slot to write
    int32_t *counts;      // (n_vocab) occurrences of each token in the ring; NULL when off
    uint64_t rng[4];      // xoshiro256** state
};

// sample_rng.c: xoshiro256** seeded through splitmix64 (Blackman & Vigna).
void xt_rng_seed(uint64_t state[4], uint64_t seed);
uint64_t xt_rng_next(uint64_t state[4]);
double xt_rng_uniform(uint64_t state[4]);  // [0, 1) with 53 random bits

// sample_filter.c: the filters over s->logits (bias and penalties already applied).
// Leaves the kept tokens in s->cand[0..*n_out) and their max logit in *max_out.
// XT_ERR_INVALID_ARG when a logit is NaN or every token is banned (-inf).
xt_status xt_sample_filter(xt_sampler *s, int64_t *n_out, float *max_out);
// exp(x) for x <= 0 (relative error ~1e-7; -inf gives 0), vectorizable.
float xt_sample_exp(float x);
// w[i] = exp((x[i] - max) * inv_t) for the whole row; returns their sum.
double xt_sample_weights(const float *x, int64_t n, float max, float inv_t, float *w);
// True when no filter can remove a token (top-k, top-p and min-p are off or cannot bite).
bool xt_sample_unfiltered(const xt_sampler *s);
// Max of a row; XT_ERR_INVALID_ARG on NaN, +inf, or when every logit is -inf.
xt_status xt_sample_max(const float *x, int64_t n, float *out);
// Index of the largest logit (lowest id on ties); the same NaN / all-banned errors.
xt_status xt_sample_argmax(const float *logits, int64_t n, int32_t *out);

#endif  // XT_SAMPLE_SAMPLE_H
