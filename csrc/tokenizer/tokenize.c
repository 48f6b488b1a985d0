// tokenize.c — the public tokenizer entry points: text -> ids (special-token partition,
// BOS/EOS, then the SPM or BPE tokenizer per raw fragment), id -> piece, ids -> text (with
// llama.cpp's leading-space and clean-up rules), and the vocabulary facts.
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

// SentencePiece writes spaces as "▁" (U+2581); a space is prepended after a special token
// (and at the start) when add_space_prefix.
static xt_status spm_fragment(xt_vocab *v, const char *s, int64_t n, bool prefix, xt_ids *out) {
    XT_TRY(xt_buf_reserve(&v->text_buf, (size_t)(n + 1) * 3));
    char *e = v->text_buf.ptr;
    int64_t m = 0;
    if (prefix) {
        memcpy(e, "\xe2\x96\x81", 3);
        m = 3;
    }
    for (int64_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(e + m, "\xe2\x96\x81", 3);
            m += 3;
        } else {
            e[m++] = s[i];
        }
    }
    return xt_spm_tokenize(v, e, m, out);
}

xt_status xt_vocab_tokenize(xt_vocab *v, const char *text, size_t len, bool add_special,
                            bool parse_special, const int32_t **tokens, int64_t *n_tokens) {
    XT_RETURN_IF(v == NULL || tokens == NULL || n_tokens == NULL || (len > 0 && text == NULL),
                 XT_ERR_INVALID_ARG, "xt_vocab_tokenize: NULL argument");
    XT_RETURN_IF(len > (size_t)INT32_MAX, XT_ERR_INVALID_ARG,
                 "tokenize: %zu bytes of text (at most 2^31 - 1)", len);
    xt_ids out = {v->out_ids.ptr, 0, (int64_t)(v->out_ids.cap / sizeof(int32_t)), &v->out_ids};
    xt_fragment *frags = NULL;
    int64_t n_frags = 0;
    XT_TRY(xt_partition_special(v, text, (int64_t)len, parse_special, &v->frags, &frags, &n_frags));
    bool bos = add_special && v->add_bos, eos = add_special && v->add_eos;
    if (bos) XT_TRY(xt_ids_push(&out, v->bos));
    bool prev_special = true;  // SPM: prefix a space at the start and after a special token
    for (int64_t i = 0; i < n_frags; i++) {
        const xt_fragment *f = &((xt_fragment *)v->frags.ptr)[i];
        if (f->token != XT_TOKEN_NULL) {
            XT_TRY(xt_ids_push(&out, f->token));
            prev_special = true;
        } else if (v->type == XT_VOCAB_SPM) {
            XT_TRY(spm_fragment(v, text + f->off, f->len, v->add_space_prefix && prev_special, &out));
            prev_special = false;
        } else {
            XT_TRY(xt_bpe_tokenize(v, text + f->off, f->len, &out));
        }
    }
    if (eos) XT_TRY(xt_ids_push(&out, v->eos));
    *tokens = out.ids;
    *n_tokens = out.n;
    return XT_OK;
}

static inline bool hidden(const xt_token *t, bool special) {
    return !special && (t->attr & (XT_ATTR_UNKNOWN | XT_ATTR_CONTROL));
}

xt_status xt_vocab_token_piece(const xt_vocab *v, int32_t id, bool special, const char **piece,
                               size_t *len) {
    XT_RETURN_IF(v == NULL || piece == NULL || len == NULL, XT_ERR_INVALID_ARG,
                 "xt_vocab_token_piece: NULL argument");
    XT_RETURN_IF(id < 0 || id >= v->n_tokens, XT_ERR_INVALID_ARG,
                 "token id %d is out of range [0, %" PRId64 ")", id, v->n_tokens);
    const xt_token *t = &v->tokens[id];
    *piece = v->pieces + t->piece_off;
    *len = hidden(t, special) ? 0 : t->piece_len;
    return XT_OK;
}

// llama.cpp's clean_up_tokenization_spaces passes, in place, exactly as written there.
static int64_t clean_spaces(char *text, int64_t total) {
    int64_t total1 = total;
    total = total ? 1 : 0;
    for (int64_t i = 1; i < total1; ++i) {  // " ?", " !", " .", " ,"
        const char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
        text[total++] = x;
    }
    int64_t total2 = total;
    total = total ? 1 : 0;
    for (int64_t i = 1; i < total2; ++i) {  // " ' "
        const char x = text[i];
        if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            total--;
            text[++i] = '\0';
        }
        text[total++] = x;
    }
    int64_t total3 = total;
    total = total ? 1 : 0;
    for (int64_t i = 1; i < total3; ++i) {  // " 's", " 'm", " 're", " 've"
        const char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
            const char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') {
                total--;
            } else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
                const char x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
            }
        }
        text[total++] = x;
    }
    return total;
}

xt_status xt_vocab_detokenize(xt_vocab *v, const int32_t *ids, int64_t n, bool remove_special,
                              bool unparse_special, const char **text, size_t *len) {
    XT_RETURN_IF(v == NULL || text == NULL || len == NULL || n < 0 || (n > 0 && ids == NULL),
                 XT_ERR_INVALID_ARG, "xt_vocab_detokenize: bad argument");
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        XT_RETURN_IF(ids[i] < 0 || ids[i] >= v->n_tokens, XT_ERR_INVALID_ARG,
                     "detokenize: token id %d at index %" PRId64 " is out of range [0, %" PRId64 ")",
                     ids[i], i, v->n_tokens);
        total += v->tokens[ids[i]].piece_len;
    }
    bool remove_space = v->add_space_prefix;
    if (remove_special && v->add_bos && n > 0 && ids[0] == v->bos) {
        remove_space = false;
        ids++;
        n--;
    }
    if (remove_special && v->add_eos && n > 0 && ids[n - 1] == v->eos) n--;
    XT_TRY(xt_buf_reserve(&v->detok, total + 1));
    char *out = v->detok.ptr;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        const xt_token *t = &v->tokens[ids[i]];
        if (!hidden(t, unparse_special)) {
            const char *p = v->pieces + t->piece_off;
            uint32_t pl = t->piece_len;
            if (remove_space && pl > 0 && p[0] == ' ') p++, pl--;
            memcpy(out + m, p, pl);
            m += pl;
        }
        remove_space = false;
    }
    if (v->clean_spaces) m = clean_spaces(out, m);
    *text = out;
    *len = (size_t)m;
    return XT_OK;
}

// ---- facts ----

void xt_vocab_get_info(const xt_vocab *v, xt_vocab_info *out) {
    memset(out, 0, sizeof *out);
    out->type = v->model_name;
    out->pre = v->pre_name;
    out->n_tokens = v->n_tokens;
    out->n_merges = v->n_merges;
    out->n_special = v->n_special;
    out->bos = v->bos;
    out->eos = v->eos;
    out->eot = v->eot;
    out->eom = v->eom;
    out->unk = v->unk;
    out->sep = v->sep;
    out->pad = v->pad;
    out->add_bos = v->add_bos;
    out->add_eos = v->add_eos;
    out->add_space_prefix = v->add_space_prefix;
    out->eog = v->eog;
    out->n_eog = v->n_eog;
}

bool xt_vocab_is_eog(const xt_vocab *v, int32_t id) {
    for (int64_t i = 0; i < v->n_eog; i++) {
        if (v->eog[i] == id) return true;
    }
    return false;
}

xt_status xt_vocab_token_text(const xt_vocab *v, int32_t id, const char **text, size_t *len,
                              uint32_t *attr) {
    XT_RETURN_IF(v == NULL || text == NULL || len == NULL, XT_ERR_INVALID_ARG,
                 "xt_vocab_token_text: NULL argument");
    XT_RETURN_IF(id < 0 || id >= v->n_tokens, XT_ERR_INVALID_ARG,
                 "token id %d is out of range [0, %" PRId64 ")", id, v->n_tokens);
    *text = v->tokens[id].text;
    *len = v->tokens[id].len;
    if (attr) *attr = v->tokens[id].attr;
    return XT_OK;
}

xt_status xt_vocab_chat_template(const xt_vocab *v, const char **text, size_t *len) {
    XT_RETURN_IF(v == NULL || text == NULL || len == NULL, XT_ERR_INVALID_ARG,
                 "xt_vocab_chat_template: NULL argument");
    *text = NULL;
    *len = 0;
    int64_t i = xt_gguf_find_key(v->gguf, "tokenizer.chat_template");
    if (i < 0) return XT_OK;
    const xt_gguf_value *val = xt_gguf_kv_value(v->gguf, i);
    XT_RETURN_IF(val->type != XT_GGUF_STRING, XT_ERR_BAD_FILE,
                 "tokenizer.chat_template: expected a string");
    *text = val->v.str.ptr;
    *len = (size_t)val->v.str.len;
    return XT_OK;
}
