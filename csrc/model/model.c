// model.c — the public xt_model API: load (GGUF file or HF folder source + build), forward with its argument checks
// and transactional n_past, reset, info, free.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adapter/adapter.h"
#include "core/status.h"
#include "model/model.h"

void xt_model_params_default(xt_model_params *p) {
    memset(p, 0, sizeof *p);
    p->kv_type = XT_DTYPE_F16;
}

void xt_model_free(xt_model *m) {
    if (m == NULL) return;
    xt_lora_state_free(m);
    if (m->be != NULL) {
        m->be->ops->free(m->be, m->kv_mem);
        m->be->ops->free(m->be, m->arena);
    }
    xt_backend_free(m->be);
    for (int64_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    if (m->src.free) m->src.free(m->src.ctx);
    free(m);
}

xt_status xt_model_load(const char *path, const xt_model_params *params, xt_model **out) {
    XT_RETURN_IF(path == NULL || out == NULL, XT_ERR_INVALID_ARG, "xt_model_load: NULL argument");
    xt_model_params def;
    if (params == NULL) {
        xt_model_params_default(&def);
        params = &def;
    }
    xt_model *m = calloc(1, sizeof *m);
    XT_RETURN_IF(m == NULL, XT_ERR_NOMEM, "out of memory");
    struct stat sb;
    bool dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    xt_status s = dir ? xt_model_source_hf(path, &m->src) : xt_model_source_gguf(path, &m->src);
    if (s == XT_OK) s = xt_model_build(m, params);
    if (s != XT_OK) {
        xt_model_free(m);
        return s;
    }
    *out = m;
    return XT_OK;
}

xt_status xt_model_forward(xt_model *m, const int32_t *tokens, int64_t n, bool all_logits,
                           float *logits) {
    XT_RETURN_IF(m == NULL || logits == NULL || (n > 0 && tokens == NULL), XT_ERR_INVALID_ARG,
                 "xt_model_forward: NULL argument");
    XT_RETURN_IF(n < 1, XT_ERR_INVALID_ARG, "forward: empty input (no tokens)");
    XT_RETURN_IF(n > m->n_ctx - m->n_past, XT_ERR_INVALID_ARG,
                 "forward: %" PRId64 " tokens after %" PRId64 " in the cache exceed the context "
                 "of %" PRId64 " (reset() or load with a larger n_ctx)", n, m->n_past, m->n_ctx);
    for (int64_t i = 0; i < n; i++) {
        XT_RETURN_IF(tokens[i] < 0 || tokens[i] >= m->hp.n_vocab, XT_ERR_INVALID_ARG,
                     "forward: token id %d at index %" PRId64 " is out of range [0, %" PRId64 ")",
                     tokens[i], i, m->hp.n_vocab);
    }
    // Transactional: cache rows past n_past may be overwritten, but only n_past says what is
    // valid, and it moves only on success.
    if (m->lora != NULL && xt_lora_xlora_active(m)) {
        XT_TRY(xt_xlora_forward(m, tokens, n, all_logits, logits));
    } else {
        XT_TRY(xt_model_run(m, tokens, n, all_logits, logits));
    }
    m->n_past += n;
    return XT_OK;
}

void xt_model_reset(xt_model *m) {
    if (m == NULL) return;
    m->n_past = 0;
    xt_xlora_reset(m);
}

int64_t xt_model_n_past(const xt_model *m) { return m ? m->n_past : 0; }

xt_status xt_model_truncate(xt_model *m, int64_t n) {
    XT_RETURN_IF(m == NULL, XT_ERR_INVALID_ARG, "xt_model_truncate: NULL model");
    XT_RETURN_IF(n < 0 || n > m->n_past, XT_ERR_INVALID_ARG,
                 "truncate: n = %" PRId64 " is outside [0, n_past = %" PRId64 "]", n, m->n_past);
    if (n == 0) {  // a new sequence: also forgets per-sequence adapter state
        xt_model_reset(m);
        return XT_OK;
    }
    // Rows past n stay in memory but n_past alone says what attention reads.
    m->n_past = n;
    return XT_OK;
}

void xt_model_get_info(const xt_model *m, xt_model_info *out) {
    memset(out, 0, sizeof *out);
    const xt_hparams *hp = &m->hp;
    out->architecture = m->arch->name;
    out->n_vocab = hp->n_vocab;
    out->n_embd = hp->n_embd;
    out->n_layer = hp->n_layer;
    out->n_head = hp->n_head;
    out->n_head_kv = hp->n_head_kv;
    out->head_dim = hp->head_dim;
    out->n_ff = hp->n_ff;
    out->n_ctx = m->n_ctx;
    out->n_ctx_train = hp->n_ctx_train;
    out->n_batch = m->n_batch;
    out->n_threads = xt_backend_cpu_threads(m->be);
    out->kv_type = m->kv_type;
    out->n_params = m->n_params;
    out->weight_bytes = m->weight_bytes;
    out->kv_bytes = m->kv_bytes;
    out->scratch_bytes = m->arena_bytes;
    memcpy(out->type_tensors, m->type_tensors, sizeof out->type_tensors);
    memcpy(out->type_params, m->type_params, sizeof out->type_params);
}
