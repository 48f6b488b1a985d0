// vocab_load.c — builds an xt_vocab from GGUF tokenizer metadata the way llama.cpp's
// llama_vocab::load does: tokenizer type and pre-tokenizer, token texts/scores/types, special
// ids (with the defaults per type), add_bos/add_eos, the end-of-generation set, attributes
// patched by token text, the special-token trie and the token -> piece cache.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

// ---- metadata access ----

static const xt_gguf_value *kv(const xt_gguf *g, const char *key) {
    int64_t i = xt_gguf_find_key(g, key);
    return i < 0 ? NULL : xt_gguf_kv_value(g, i);
}

// *out = the string under `key`; XT_OK with *found false when absent.
static xt_status get_str(const xt_gguf *g, const char *key, const char **s, size_t *n, bool *found) {
    const xt_gguf_value *v = kv(g, key);
    *found = v != NULL;
    if (v == NULL) return XT_OK;
    XT_RETURN_IF(v->type != XT_GGUF_STRING, XT_ERR_BAD_FILE, "%s: expected a string, got %s", key,
                 xt_gguf_type_name(v->type) ? xt_gguf_type_name(v->type) : "?");
    *s = v->v.str.ptr;
    *n = (size_t)v->v.str.len;
    return XT_OK;
}

static xt_status get_bool(const xt_gguf *g, const char *key, bool *out) {
    const xt_gguf_value *v = kv(g, key);
    if (v == NULL) return XT_OK;
    XT_RETURN_IF(v->type != XT_GGUF_BOOL, XT_ERR_BAD_FILE, "%s: expected a bool, got %s", key,
                 xt_gguf_type_name(v->type) ? xt_gguf_type_name(v->type) : "?");
    *out = v->v.u64 != 0;
    return XT_OK;
}

// A token id key: kept as is when absent; an id outside the vocabulary is ignored (llama.cpp
// warns and keeps the default).
static xt_status get_id(const xt_gguf *g, const char *key, int64_t n_tokens, int32_t *id) {
    const xt_gguf_value *v = kv(g, key);
    if (v == NULL) return XT_OK;
    uint64_t u;
    if (v->type == XT_GGUF_INT8 || v->type == XT_GGUF_INT16 || v->type == XT_GGUF_INT32 ||
        v->type == XT_GGUF_INT64) {
        if (v->v.i64 < 0) return XT_OK;
        u = (uint64_t)v->v.i64;
    } else {
        XT_RETURN_IF(!(v->type == XT_GGUF_UINT8 || v->type == XT_GGUF_UINT16 ||
                       v->type == XT_GGUF_UINT32 || v->type == XT_GGUF_UINT64),
                     XT_ERR_BAD_FILE, "%s: expected an integer token id, got %s", key,
                     xt_gguf_type_name(v->type) ? xt_gguf_type_name(v->type) : "?");
        u = v->v.u64;
    }
    if (u < (uint64_t)n_tokens) *id = (int32_t)u;
    return XT_OK;
}

// An array key of element type `elem` with at least `min_count` items; NULL when absent.
static xt_status get_array(const xt_gguf *g, const char *key, xt_gguf_type elem, uint64_t min_count,
                           const xt_gguf_value **out) {
    const xt_gguf_value *v = kv(g, key);
    *out = NULL;
    if (v == NULL) return XT_OK;
    XT_RETURN_IF(v->type != XT_GGUF_ARRAY || v->v.arr.elem_type != elem, XT_ERR_BAD_FILE,
                 "%s: expected an array of %s", key, xt_gguf_type_name(elem));
    XT_RETURN_IF(v->v.arr.count < min_count, XT_ERR_BAD_FILE,
                 "%s: %" PRIu64 " entries for %" PRIu64 " tokens", key, v->v.arr.count, min_count);
    *out = v;
    return XT_OK;
}

static bool streq(const char *s, size_t n, const char *lit) {
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool tok_is(const xt_token *t, const char *lit) { return streq(t->text, t->len, lit); }

static bool contains(const char *s, size_t n, const char *lit) {
    size_t m = strlen(lit);
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(s + i, lit, m) == 0) return true;
    }
    return false;
}

// ---- type and pre-tokenizer ----

typedef struct {
    const char *name;
    xt_pre_type pre;
    bool clean_spaces, ignore_merges, add_bos, no_bos;
} pre_entry;

// Names llama.cpp maps to the regex families implemented in pretokenize.c.
static const pre_entry PRE_TABLE[] = {
    {"default", XT_PRE_DEFAULT, true, false, false, false},
    {"llama3", XT_PRE_LLAMA3, true, true, true, false},
    {"llama-v3", XT_PRE_LLAMA3, true, true, true, false},
    {"llama-bpe", XT_PRE_LLAMA3, true, true, true, false},
    {"falcon3", XT_PRE_LLAMA3, true, true, true, false},
    {"falcon-h1", XT_PRE_LLAMA3, true, true, true, false},
    {"pixtral", XT_PRE_LLAMA3, true, true, true, false},
    {"midm-2.0", XT_PRE_LLAMA3, true, true, true, false},
    {"lfm2", XT_PRE_LLAMA3, true, true, true, false},
    {"dbrx", XT_PRE_LLAMA3, true, false, false, false},
    {"smaug-bpe", XT_PRE_LLAMA3, true, false, false, false},
    {"glm4", XT_PRE_LLAMA3, true, false, false, true},
    {"chatglm-bpe", XT_PRE_LLAMA3, true, false, false, true},
    {"gpt-2", XT_PRE_GPT2, true, false, false, false},
    {"phi-2", XT_PRE_GPT2, true, false, false, false},
    {"jina-es", XT_PRE_GPT2, true, false, false, false},
    {"jina-de", XT_PRE_GPT2, true, false, false, false},
    {"gigachat", XT_PRE_GPT2, true, false, false, false},
    {"jina-v2-es", XT_PRE_GPT2, true, false, false, false},
    {"jina-v2-de", XT_PRE_GPT2, true, false, false, false},
    {"a.x-4.0", XT_PRE_GPT2, true, false, false, false},
    {"mellum", XT_PRE_GPT2, true, false, false, false},
    {"modern-bert", XT_PRE_GPT2, true, false, false, false},
    {"exaone4", XT_PRE_GPT2, true, false, false, false},
    {"mpt", XT_PRE_GPT2, true, false, false, false},
    {"olmo", XT_PRE_GPT2, true, false, false, false},
    {"jais", XT_PRE_GPT2, true, false, false, false},
    {"qwen2", XT_PRE_QWEN2, false, false, false, false},
    {"deepseek-r1-qwen", XT_PRE_QWEN2, false, false, false, false},
    {"kormo", XT_PRE_QWEN2, false, false, false, false},
    {"f2llmv2", XT_PRE_QWEN2, false, false, false, false},
    {"stablelm2", XT_PRE_QWEN2, true, false, false, false},
    {"megrez", XT_PRE_QWEN2, true, false, false, false},
    {"smollm", XT_PRE_SMOLLM, false, false, false, false},
    {"starcoder", XT_PRE_SMOLLM, true, false, false, false},
    {"refact", XT_PRE_SMOLLM, true, false, false, false},
    {"command-r", XT_PRE_SMOLLM, false, false, false, false},
    {"codeshell", XT_PRE_SMOLLM, true, false, false, false},
    {"exaone", XT_PRE_SMOLLM, true, false, false, false},
    {"minerva-7b", XT_PRE_SMOLLM, true, false, false, false},
};

static xt_status set_type(xt_vocab *v, const xt_gguf *g) {
    const char *s = NULL;
    size_t n = 0;
    bool found;
    XT_TRY(get_str(g, "tokenizer.ggml.model", &s, &n, &found));
    XT_RETURN_IF(!found, XT_ERR_BAD_FILE,
                 "the model file has no tokenizer: GGUF key 'tokenizer.ggml.model' is missing");
    snprintf(v->model_name, sizeof v->model_name, "%.*s", (int)(n < 31 ? n : 31), s);
    v->bos = v->eos = v->eot = v->eom = v->unk = v->sep = v->pad = v->mask = XT_TOKEN_NULL;
    v->fim_pre = v->fim_suf = v->fim_mid = v->fim_pad = v->fim_rep = v->fim_sep = XT_TOKEN_NULL;
    if (streq(s, n, "llama")) {
        v->type = XT_VOCAB_SPM;
        v->bos = 1, v->eos = 2, v->unk = 0;
        v->add_space_prefix = true;
        v->add_bos = true;
        return XT_OK;
    }
    XT_RETURN_IF(!streq(s, n, "gpt2"), XT_ERR_UNSUPPORTED,
                 "tokenizer.ggml.model '%.*s' is not supported (supported: 'llama', 'gpt2')",
                 (int)(n > 64 ? 64 : n), s);
    v->type = XT_VOCAB_BPE;
    v->bos = 11, v->eos = 11;
    const char *p = "";
    size_t pn = 0;
    XT_TRY(get_str(g, "tokenizer.ggml.pre", &p, &pn, &found));
    if (!found) p = "default", pn = 7;  // llama.cpp warns and uses 'default'
    snprintf(v->pre_name, sizeof v->pre_name, "%.*s", (int)(pn < 63 ? pn : 63), p);
    for (size_t i = 0; i < sizeof PRE_TABLE / sizeof PRE_TABLE[0]; i++) {
        const pre_entry *e = &PRE_TABLE[i];
        if (!streq(p, pn, e->name)) continue;
        v->pre = e->pre;
        v->clean_spaces = e->clean_spaces;
        v->ignore_merges = e->ignore_merges;
        v->add_bos = e->add_bos;
        if (e->no_bos) v->bos = XT_TOKEN_NULL;
        return XT_OK;
    }
    return xt_error(XT_ERR_UNSUPPORTED, "tokenizer.ggml.pre '%.*s' is not supported",
                    (int)(pn > 64 ? 64 : pn), p);
}

// ---- tokens ----

static uint32_t attr_of_type(int32_t t) {
    switch (t) {
    case 1: return XT_ATTR_NORMAL;
    case 2: return XT_ATTR_UNKNOWN;
    case 3: return XT_ATTR_CONTROL;
    case 4: return XT_ATTR_USER_DEFINED;
    case 5: return XT_ATTR_UNUSED;
    case 6: return XT_ATTR_BYTE;
    default: return XT_ATTR_UNDEFINED;
    }
}

static xt_status load_tokens(xt_vocab *v, const xt_gguf *g) {
    const xt_gguf_value *list, *scores, *types;
    XT_TRY(get_array(g, "tokenizer.ggml.tokens", XT_GGUF_STRING, 0, &list));
    XT_RETURN_IF(list == NULL, XT_ERR_BAD_FILE,
                 "the model file has no vocabulary: GGUF key 'tokenizer.ggml.tokens' is missing");
    uint64_t n = list->v.arr.count;
    XT_RETURN_IF(n == 0 || n >= (uint64_t)INT32_MAX, XT_ERR_BAD_FILE,
                 "tokenizer.ggml.tokens: %" PRIu64 " tokens (need 1 .. 2^31-2)", n);
    const xt_gguf_value *sv = kv(g, "tokenizer.ggml.scores");
    xt_gguf_type score_type = XT_GGUF_FLOAT32;
    if (sv != NULL && sv->type == XT_GGUF_ARRAY && sv->v.arr.elem_type == XT_GGUF_INT32) {
        score_type = XT_GGUF_INT32;
    }
    XT_TRY(get_array(g, "tokenizer.ggml.scores", score_type, n, &scores));
    XT_TRY(get_array(g, "tokenizer.ggml.token_type", XT_GGUF_INT32, n, &types));

    v->n_tokens = (int64_t)n;
    v->tokens = calloc(n, sizeof *v->tokens);
    XT_RETURN_IF(v->tokens == NULL, XT_ERR_NOMEM, "out of memory for %" PRIu64 " tokens", n);
    size_t n_empty = 0;
    for (uint64_t i = 0; i < n; i++) n_empty += list->v.arr.items[i].v.str.len == 0;
    if (n_empty) {
        v->owned_text = malloc(n_empty * 24);
        XT_RETURN_IF(v->owned_text == NULL, XT_ERR_NOMEM, "out of memory");
    }
    char *empty_next = v->owned_text;
    for (uint64_t i = 0; i < n; i++) {
        xt_token *t = &v->tokens[i];
        const xt_gguf_value *s = &list->v.arr.items[i];
        XT_RETURN_IF(s->v.str.len > UINT32_MAX / 2, XT_ERR_BAD_FILE,
                     "tokenizer.ggml.tokens[%" PRIu64 "]: too long", i);
        if (s->v.str.len == 0) {  // llama.cpp names empty tokens so they stay unique
            int k = snprintf(empty_next, 24, "[EMPTY_%" PRIu64 "]", i);
            t->text = empty_next;
            t->len = (uint32_t)k;
            empty_next += 24;
        } else {
            t->text = s->v.str.ptr;
            t->len = (uint32_t)s->v.str.len;
        }
        if (scores != NULL) {
            if (score_type == XT_GGUF_FLOAT32) {
                memcpy(&t->score, scores->v.arr.data + 4 * i, 4);
            } else {
                int32_t si;
                memcpy(&si, scores->v.arr.data + 4 * i, 4);
                t->score = (float)si;
            }
        }
        t->attr = XT_ATTR_NORMAL;
        if (types != NULL) {
            int32_t ty;
            memcpy(&ty, types->v.arr.data + 4 * i, 4);
            t->attr = attr_of_type(ty);
        }
    }
    return xt_vocab_build_text_index(v);
}

static xt_status load_merges(xt_vocab *v, const xt_gguf *g) {
    const xt_gguf_value *m;
    XT_TRY(get_array(g, "tokenizer.ggml.merges", XT_GGUF_STRING, 0, &m));
    XT_RETURN_IF(m == NULL, XT_ERR_BAD_FILE,
                 "BPE tokenizer without merges: GGUF key 'tokenizer.ggml.merges' is missing");
    XT_RETURN_IF(m->v.arr.count >= (uint64_t)INT32_MAX, XT_ERR_BAD_FILE,
                 "tokenizer.ggml.merges: too many merges");
    v->n_merges = (int64_t)m->v.arr.count;
    v->merges = calloc(v->n_merges ? (size_t)v->n_merges : 1, sizeof *v->merges);
    XT_RETURN_IF(v->merges == NULL, XT_ERR_NOMEM, "out of memory for the merges");
    for (int64_t r = 0; r < v->n_merges; r++) {
        const char *s = m->v.arr.items[r].v.str.ptr;
        size_t n = (size_t)m->v.arr.items[r].v.str.len;
        // "left right": the first space after the first byte separates them; without one,
        // llama.cpp stores an empty pair.
        const char *sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL;
        xt_merge *e = &v->merges[r];
        if (sp == NULL) {
            e->left = e->right = s;
            continue;
        }
        e->left = s;
        e->left_len = (uint32_t)(sp - s);
        e->right = sp + 1;
        e->right_len = (uint32_t)(n - (size_t)(sp + 1 - s));
    }
    return xt_vocab_build_merge_index(v);
}

// ---- special tokens ----

static xt_status load_special_ids(xt_vocab *v, const xt_gguf *g) {
    struct { const char *key; int32_t *id; } keys[] = {
        {"tokenizer.ggml.bos_token_id", &v->bos},
        {"tokenizer.ggml.eos_token_id", &v->eos},
        {"tokenizer.ggml.eot_token_id", &v->eot},
        {"tokenizer.ggml.eom_token_id", &v->eom},
        {"tokenizer.ggml.unknown_token_id", &v->unk},
        {"tokenizer.ggml.seperator_token_id", &v->sep},
        {"tokenizer.ggml.padding_token_id", &v->pad},
        {"tokenizer.ggml.mask_token_id", &v->mask},
        {"tokenizer.ggml.fim_pre_token_id", &v->fim_pre},
        {"tokenizer.ggml.fim_suf_token_id", &v->fim_suf},
        {"tokenizer.ggml.fim_mid_token_id", &v->fim_mid},
        {"tokenizer.ggml.fim_pad_token_id", &v->fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &v->fim_rep},
        {"tokenizer.ggml.fim_sep_token_id", &v->fim_sep},
        {"tokenizer.ggml.prefix_token_id", &v->fim_pre},
        {"tokenizer.ggml.suffix_token_id", &v->fim_suf},
        {"tokenizer.ggml.middle_token_id", &v->fim_mid},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (*keys[i].id >= v->n_tokens) *keys[i].id = XT_TOKEN_NULL;  // default out of range
        XT_TRY(get_id(g, keys[i].key, v->n_tokens, keys[i].id));
    }
    XT_TRY(get_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos));
    XT_TRY(get_bool(g, "tokenizer.ggml.add_eos_token", &v->add_eos));
    XT_TRY(get_bool(g, "tokenizer.ggml.add_sep_token", &v->add_sep));
    XT_RETURN_IF(v->add_bos && v->bos == XT_TOKEN_NULL, XT_ERR_BAD_FILE,
                 "tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
    XT_RETURN_IF(v->add_eos && v->eos == XT_TOKEN_NULL, XT_ERR_BAD_FILE,
                 "tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
    return XT_OK;
}

static bool text_in(const xt_token *t, const char *const *list) {
    for (; *list; list++) {
        if (tok_is(t, *list)) return true;
    }
    return false;
}

// Texts llama.cpp recognizes (llama-vocab.cpp) when the metadata does not name the ids.
static const char *const EOT_TEXTS[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
    "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81"
    "of\xe2\x96\x81sentence\xef\xbd\x9c>", "<end_of_utterance>", NULL};
static const char *const EOM_TEXTS[] = {"<|eom_id|>", NULL};
static const char *const FIM_PRE_TEXTS[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>", "\xe2\x96\x81<PRE>",
    "<|code_prefix|>", "<|prefix|>", NULL};
static const char *const FIM_SUF_TEXTS[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>", "\xe2\x96\x81<SUF>",
    "<|code_suffix|>", "<|suffix|>", NULL};
static const char *const FIM_MID_TEXTS[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>", "\xe2\x96\x81<MID>",
    "<|code_middle|>", "<|middle|>", NULL};
static const char *const FIM_PAD_TEXTS[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
    "[PAD]", NULL};
static const char *const FIM_REP_TEXTS[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
    "<REPO>", "<reponame>", NULL};
static const char *const FIM_SEP_TEXTS[] = {"<|file_sep|>", NULL};
static const char *const EOG_TEXTS[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>",
    "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
    "<turn|>", "<|tool_response>", "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81"
    "sentence\xef\xbd\x9c>", "[e~[", NULL};

static void mark_control(xt_token *t) { t->attr |= XT_ATTR_CONTROL; }

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void eog_add(xt_vocab *v, int32_t id) {
    if (id == XT_TOKEN_NULL) return;
    for (int64_t i = 0; i < v->n_eog; i++) {
        if (v->eog[i] == id) return;
    }
    v->eog[v->n_eog++] = id;
}

static void eog_remove(xt_vocab *v, int32_t id) {
    for (int64_t i = 0; i < v->n_eog; i++) {
        if (v->eog[i] == id) {
            v->eog[i] = v->eog[--v->n_eog];
            return;
        }
    }
}

static xt_status detect_special(xt_vocab *v) {
    struct { int32_t *id; const char *const *texts; } finds[] = {
        {&v->eot, EOT_TEXTS}, {&v->eom, EOM_TEXTS}, {&v->fim_pre, FIM_PRE_TEXTS},
        {&v->fim_suf, FIM_SUF_TEXTS}, {&v->fim_mid, FIM_MID_TEXTS}, {&v->fim_pad, FIM_PAD_TEXTS},
        {&v->fim_rep, FIM_REP_TEXTS}, {&v->fim_sep, FIM_SEP_TEXTS},
    };
    // llama.cpp walks an unordered map, so which of several candidates wins is unspecified;
    // we take the lowest id.
    for (int64_t id = 0; id < v->n_tokens; id++) {
        xt_token *t = &v->tokens[id];
        if (t->len == 0 || t->len > 40) continue;
        for (size_t k = 0; k < sizeof finds / sizeof finds[0]; k++) {
            if (*finds[k].id == XT_TOKEN_NULL && text_in(t, finds[k].texts)) {
                *finds[k].id = (int32_t)id;
                mark_control(t);
            }
        }
    }
    // Control tokens named "unused" are unused.
    for (int64_t id = 0; id < v->n_tokens; id++) {
        xt_token *t = &v->tokens[id];
        if ((t->attr & XT_ATTR_CONTROL) && contains(t->text, t->len, "unused")) {
            t->attr |= XT_ATTR_UNUSED;
        }
    }
    // End of generation: FIM pad/repo/sep, tokens with an end-of-turn text, eos/eot/eom.
    int64_t cap = 6;
    for (int64_t id = 0; id < v->n_tokens; id++) {
        const xt_token *t = &v->tokens[id];
        cap += t->len <= 40 && text_in(t, EOG_TEXTS);
    }
    v->eog = malloc((size_t)cap * sizeof *v->eog);
    XT_RETURN_IF(v->eog == NULL, XT_ERR_NOMEM, "out of memory");
    eog_add(v, v->fim_pad);
    eog_add(v, v->fim_rep);
    eog_add(v, v->fim_sep);
    int32_t end_id = XT_TOKEN_NULL, s_id = XT_TOKEN_NULL;
    bool has_return = false, has_call = false, has_flush = false, has_tool_response = false;
    for (int64_t id = 0; id < v->n_tokens; id++) {
        xt_token *t = &v->tokens[id];
        if (t->len > 40 || !text_in(t, EOG_TEXTS)) continue;
        eog_add(v, (int32_t)id);
        mark_control(t);
    }
    eog_add(v, v->eos);
    eog_add(v, v->eot);
    eog_add(v, v->eom);
    // gpt-oss and solar-open: "<|end|>" is not the end when "<|return|>"/"<|call|>" exist.
    for (int64_t i = 0; i < v->n_eog; i++) {
        const xt_token *t = &v->tokens[v->eog[i]];
        if (tok_is(t, "<|return|>")) has_return = true;
        else if (tok_is(t, "<|call|>") || tok_is(t, "<|calls|>")) has_call = true;
        else if (tok_is(t, "<|flush|>")) has_flush = true;
        else if (tok_is(t, "<|end|>")) end_id = v->eog[i];
    }
    if (end_id != XT_TOKEN_NULL && ((has_return && has_call) || (has_call && has_flush))) {
        eog_remove(v, end_id);
        v->tokens[end_id].attr = XT_ATTR_USER_DEFINED;
    }
    for (int64_t i = 0; i < v->n_eog; i++) {
        const xt_token *t = &v->tokens[v->eog[i]];
        if (tok_is(t, "<|tool_response>")) has_tool_response = true;
        else if (tok_is(t, "</s>")) s_id = v->eog[i];
    }
    if (has_tool_response && s_id != XT_TOKEN_NULL) {
        eog_remove(v, s_id);
        v->tokens[s_id].attr = XT_ATTR_NORMAL;
    }
    qsort(v->eog, (size_t)v->n_eog, sizeof *v->eog, cmp_i32);
    // gpt-oss: these are always rendered.
    for (int64_t id = 0; id < v->n_tokens; id++) {
        xt_token *t = &v->tokens[id];
        if (tok_is(t, "<|channel|>") || tok_is(t, "<|message|>") || tok_is(t, "<|start|>") ||
            tok_is(t, "<|constrain|>")) {
            t->attr = XT_ATTR_USER_DEFINED;
        }
    }
    return XT_OK;
}

// Attributes llama.cpp sets by model name (they are not in GGUF files): Phi-3 drops the
// whitespace after its special tokens, ModernBERT the whitespace before [MASK].
static xt_status name_attributes(xt_vocab *v, const xt_gguf *g) {
    const char *s = "";
    size_t n = 0;
    bool found;
    XT_TRY(get_str(g, "general.name", &s, &n, &found));
    char name[256];
    size_t m = n < sizeof name - 1 ? n : sizeof name - 1;
    for (size_t i = 0; i < m; i++) name[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    name[m] = 0;
    if (strstr(name, "phi-3") || strstr(name, "phi3")) {
        for (int64_t id = 0; id < v->n_tokens; id++) {
            xt_token *t = &v->tokens[id];
            if (t->attr & XT_ATTR_SPECIAL) t->attr |= XT_ATTR_RSTRIP;
            if (tok_is(t, "</s>")) t->attr |= XT_ATTR_RSTRIP;
            if (tok_is(t, "<unk>") || tok_is(t, "<s>") || tok_is(t, "<|endoftext|>")) {
                t->attr &= ~(uint32_t)XT_ATTR_RSTRIP;
            }
        }
    } else if (strstr(name, "modern-bert")) {
        int32_t id = xt_vocab_find(v, "[MASK]", 6);
        if (id != XT_TOKEN_NULL) v->tokens[id].attr |= XT_ATTR_LSTRIP;
    }
    for (int64_t id = 0; id < v->n_tokens; id++) {
        if (v->tokens[id].attr & (XT_ATTR_LSTRIP | XT_ATTR_RSTRIP)) v->has_strip = true;
    }
    return XT_OK;
}

// ---- byte tables and pieces ----

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The byte of a "<0xXX>" token (strtol on the two characters after "<0x", as llama.cpp).
static uint8_t byte_of(const xt_token *t) {
    int value = 0;
    for (uint32_t i = 3; i < 5 && i < t->len; i++) {
        int h = hexval(t->text[i]);
        if (h < 0) break;
        value = value * 16 + h;
    }
    return (uint8_t)value;
}

static void build_byte_tables(xt_vocab *v) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        int32_t id = xt_vocab_find(v, name, 6);
        if (id == XT_TOKEN_NULL) {
            char c = (char)b;
            id = xt_vocab_find(v, &c, 1);
        }
        v->byte_token[b] = id;
        uint8_t enc[4];
        size_t n = xt_utf8_put(xt_byte_to_cpt((uint8_t)b), enc);
        memcpy(v->byte_enc[b], enc, 2);
        v->byte_enc_len[b] = (uint8_t)n;
    }
}

static xt_status piece_append(xt_buf *b, size_t *len, const void *p, size_t n) {
    XT_TRY(xt_buf_reserve(b, *len + n));
    memcpy((char *)b->ptr + *len, p, n);
    *len += n;
    return XT_OK;
}

// Writes the piece of token `id` as llama.cpp's token_to_piece(special = true) does.
static xt_status build_piece(const xt_vocab *v, const xt_token *t, xt_buf *b, size_t *len) {
    if (t->attr & (XT_ATTR_SPECIAL)) return piece_append(b, len, t->text, t->len);
    if (t->attr & XT_ATTR_NORMAL) {
        if (v->type == XT_VOCAB_SPM) {  // "▁" (U+2581) is a space
            for (uint32_t i = 0; i < t->len;) {
                if (i + 3 <= t->len && memcmp(t->text + i, "\xe2\x96\x81", 3) == 0) {
                    XT_TRY(piece_append(b, len, " ", 1));
                    i += 3;
                } else {
                    XT_TRY(piece_append(b, len, t->text + i, 1));
                    i++;
                }
            }
            return XT_OK;
        }
        // Byte-level BPE: each code point stands for one byte.
        for (size_t pos = 0; pos < t->len;) {
            uint32_t cpt = xt_utf8_next((const uint8_t *)t->text, t->len, &pos);
            int byte = xt_cpt_to_byte(cpt);
            if (byte >= 0) {
                uint8_t c = (uint8_t)byte;
                XT_TRY(piece_append(b, len, &c, 1));
                continue;
            }
            // Not in the alphabet: llama.cpp writes a marker with the code point's bytes.
            uint8_t enc[4];
            size_t ne = xt_utf8_put(cpt, enc);
            char hexbuf[12];
            XT_TRY(piece_append(b, len, "[UNK_BYTE_0x", 12));
            for (size_t k = 0; k < ne; k++) {
                snprintf(hexbuf, sizeof hexbuf, "%02x", enc[k]);
                XT_TRY(piece_append(b, len, hexbuf, 2));
            }
            XT_TRY(piece_append(b, len, t->text, t->len));
            XT_TRY(piece_append(b, len, "]", 1));
        }
        return XT_OK;
    }
    if (t->attr & XT_ATTR_BYTE) {
        uint8_t c = byte_of(t);
        return piece_append(b, len, &c, 1);
    }
    return XT_OK;  // unused and undefined tokens have no piece
}

static xt_status build_pieces(xt_vocab *v) {
    xt_buf b = {0};
    size_t len = 0;
    XT_TRY(xt_buf_reserve(&b, 1));  // never NULL, even when every piece is empty
    for (int64_t id = 0; id < v->n_tokens; id++) {
        xt_token *t = &v->tokens[id];
        size_t begin = len;
        xt_status s = build_piece(v, t, &b, &len);
        if (s == XT_OK && len > UINT32_MAX) s = xt_error(XT_ERR_BAD_FILE, "vocabulary too large");
        if (s != XT_OK) {
            xt_buf_free(&b);
            return s;
        }
        t->piece_off = (uint32_t)begin;
        t->piece_len = (uint32_t)(len - begin);
    }
    v->pieces = b.ptr;
    v->pieces_len = len;
    return XT_OK;
}

// ---- public ----

void xt_vocab_free(xt_vocab *v) {
    if (v == NULL) return;
    free(v->tokens);
    free(v->owned_text);
    free(v->text_index.slots);
    free(v->merges);
    free(v->merge_index.slots);
    free(v->pieces);
    free(v->eog);
    free(v->trie);
    xt_buf *bufs[] = {&v->out_ids, &v->frags, &v->text_buf, &v->cpts, &v->pieces_buf, &v->syms, &v->heap,
                      &v->cands, &v->marks, &v->detok};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) xt_buf_free(bufs[i]);
    xt_gguf_free(v->owned_gguf);
    free(v);
}

static xt_status load(xt_vocab *v, const xt_gguf *g) {
    v->gguf = g;
    XT_TRY(set_type(v, g));
    XT_TRY(get_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix));
    XT_TRY(load_tokens(v, g));
    if (v->type == XT_VOCAB_BPE) XT_TRY(load_merges(v, g));
    XT_TRY(load_special_ids(v, g));
    XT_TRY(detect_special(v));
    build_byte_tables(v);
    XT_TRY(build_pieces(v));
    XT_TRY(xt_vocab_build_trie(v));
    return name_attributes(v, g);
}

xt_status xt_vocab_load_gguf(const xt_gguf *g, xt_vocab **out) {
    XT_RETURN_IF(g == NULL || out == NULL, XT_ERR_INVALID_ARG, "xt_vocab_load_gguf: NULL argument");
    xt_vocab *v = calloc(1, sizeof *v);
    XT_RETURN_IF(v == NULL, XT_ERR_NOMEM, "out of memory");
    xt_status s = load(v, g);
    if (s != XT_OK) {
        xt_vocab_free(v);
        return s;
    }
    *out = v;
    return XT_OK;
}

xt_status xt_vocab_load(const char *path, xt_vocab **out) {
    XT_RETURN_IF(path == NULL || out == NULL, XT_ERR_INVALID_ARG, "xt_vocab_load: NULL argument");
    xt_gguf *g = NULL;
    XT_TRY(xt_gguf_open(path, &g));
    xt_vocab *v = NULL;
    xt_status s = xt_vocab_load_gguf(g, &v);
    if (s != XT_OK) {
        xt_gguf_free(g);
        return s;
    }
    v->owned_gguf = g;
    *out = v;
    return XT_OK;
}
