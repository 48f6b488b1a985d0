// generate.c — one decode step for generation loops: forward the fed tokens into the
// sampler's own logits row, draw the next token, add it to the penalty history. The loop
// itself (stop tokens, stop strings, text) runs in the caller, which keeps Ctrl-C and
// streaming simple; the step allocates nothing.
#include "core/status.h"
#include "sample/sample.h"

xt_status xt_generate_step(xt_model *m, xt_sampler *s, const int32_t *tokens, int64_t n,
                           int32_t *out) {
    XT_RETURN_IF(m == NULL || s == NULL || out == NULL, XT_ERR_INVALID_ARG,
                 "xt_generate_step: NULL argument");
    xt_model_info info;
    xt_model_get_info(m, &info);
    XT_RETURN_IF(info.n_vocab != s->n_vocab, XT_ERR_INVALID_ARG,
                 "generate: the sampler was made for %" PRId64 " tokens, the model has %" PRId64,
                 s->n_vocab, info.n_vocab);
    const int64_t n_past = xt_model_n_past(m);
    XT_TRY(xt_model_forward(m, tokens, n, false, s->logits));
    int32_t next;
    xt_status st = xt_sampler_sample(s, s->logits, &next);  // fails only on NaN / all banned
    if (st != XT_OK) {
        xt_model_truncate(m, n_past);  // transactional: the cache is as it was
        return st;
    }
    XT_TRY(xt_sampler_accept(s, &next, 1));  // cannot fail: next is in range
    *out = next;
    return XT_OK;
}
