// special.c — finds special-token text (control, user-defined, unknown tokens) in raw text.
//
// llama.cpp's tokenizer_st_partition takes the special tokens longest first and, for each,
// cuts every occurrence out of the fragments still raw, scanning left to right. We produce the
// same cut without scanning the text once per special token: a trie lists every occurrence of
// every special token (one walk per text position), the occurrences are sorted the way
// llama.cpp visits them (longer first, then token, then position), and an occurrence is taken
// when its bytes are still raw. Every occurrence taken earlier is at least as long, so it
// overlaps [p, p + len) only if it covers p or p + len - 1: two lookups decide.
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

// ---- trie ----

static int32_t new_node(xt_vocab *v, uint8_t byte, int64_t *cap) {
    if (v->n_trie == *cap) {
        int64_t nc = *cap ? *cap * 2 : 1024;
        xt_trie_node *p = realloc(v->trie, (size_t)nc * sizeof *p);
        if (p == NULL) return -1;
        v->trie = p;
        *cap = nc;
    }
    xt_trie_node *n = &v->trie[v->n_trie];
    n->byte = byte;
    n->token = XT_TOKEN_NULL;
    n->child = n->sibling = -1;
    return (int32_t)v->n_trie++;
}

xt_status xt_vocab_build_trie(xt_vocab *v) {
    int64_t cap = 0;
    for (int b = 0; b < 256; b++) v->trie_root[b] = -1;
    for (int64_t id = 0; id < v->n_tokens; id++) {
        const xt_token *t = &v->tokens[id];
        if (!(t->attr & XT_ATTR_SPECIAL) || t->len == 0) continue;
        v->n_special++;
        const uint8_t *s = (const uint8_t *)t->text;
        int32_t node = v->trie_root[s[0]];
        if (node < 0) {
            node = new_node(v, s[0], &cap);
            XT_RETURN_IF(node < 0, XT_ERR_NOMEM, "out of memory for the special-token trie");
            v->trie_root[s[0]] = node;
        }
        for (uint32_t i = 1; i < t->len; i++) {
            int32_t c = v->trie[node].child;
            while (c >= 0 && v->trie[c].byte != s[i]) c = v->trie[c].sibling;
            if (c < 0) {
                c = new_node(v, s[i], &cap);
                XT_RETURN_IF(c < 0, XT_ERR_NOMEM, "out of memory for the special-token trie");
                v->trie[c].sibling = v->trie[node].child;
                v->trie[node].child = c;
            }
            node = c;
        }
        v->trie[node].token = (int32_t)id;
    }
    return XT_OK;
}

// ---- partition ----

typedef struct {
    int64_t pos;
    uint32_t len;
    int32_t token;
} cand;

static int cand_cmp(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    if (a->token != b->token) return a->token < b->token ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

// isspace() in the C locale, as llama.cpp strips with it.
static inline bool is_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static inline bool allowed(const xt_vocab *v, int32_t id, bool parse_special) {
    return parse_special || !(v->tokens[id].attr & (XT_ATTR_CONTROL | XT_ATTR_UNKNOWN));
}

static xt_status push_frag(xt_buf *fbuf, int64_t *n, int64_t off, int64_t len, int32_t token) {
    XT_TRY(xt_buf_reserve(fbuf, (size_t)(*n + 1) * sizeof(xt_fragment)));
    xt_fragment *f = (xt_fragment *)fbuf->ptr + (*n)++;
    f->off = off;
    f->len = len;
    f->token = token;
    return XT_OK;
}

// Takes the occurrence [pos, pos + len) of `tok`, and drops the whitespace its strip
// attributes remove (up to the nearest byte already taken).
static void take(const xt_vocab *v, int32_t *marks, const uint8_t *s, int64_t n, int64_t pos,
                 uint32_t len, int32_t tok) {
    marks[pos] = tok + 1;
    for (uint32_t k = 1; k < len; k++) marks[pos + k] = -1;
    uint32_t attr = v->tokens[tok].attr;
    if (attr & XT_ATTR_LSTRIP) {
        for (int64_t q = pos - 1; q >= 0 && marks[q] == 0 && is_space(s[q]); q--) marks[q] = -2;
    }
    if (attr & XT_ATTR_RSTRIP) {
        for (int64_t q = pos + len; q < n && marks[q] == 0 && is_space(s[q]); q++) marks[q] = -2;
    }
}

static bool all_free(const int32_t *marks, int64_t pos, uint32_t len) {
    for (uint32_t k = 0; k < len; k++) {
        if (marks[pos + k] != 0) return false;
    }
    return true;
}

// More occurrences than this per text byte (long runs of one character, each position matching
// many run-length tokens) switch to one scan of the text per distinct token, which needs no
// memory per occurrence.
#define XT_MAX_OCCURRENCES_PER_BYTE 4

xt_status xt_partition_special(xt_vocab *v, const char *text, int64_t n, bool parse_special,
                               xt_buf *fbuf, xt_fragment **frags, int64_t *n_frags) {
    const uint8_t *s = (const uint8_t *)text;
    int64_t nc = 0, limit = XT_MAX_OCCURRENCES_PER_BYTE * n + 4096;
    bool per_token = false;
    cand *cs = v->cands.ptr;
    for (int64_t p = 0; p < n && !per_token; p++) {
        int32_t node = v->trie_root[s[p]];
        for (int64_t d = 1; node >= 0; d++) {
            int32_t tok = v->trie[node].token;
            if (tok != XT_TOKEN_NULL && allowed(v, tok, parse_special)) {
                if (nc == limit) {
                    per_token = true;
                    break;
                }
                if ((size_t)(nc + 1) * sizeof(cand) > v->cands.cap) {
                    XT_TRY(xt_buf_reserve(&v->cands, (size_t)(nc + 1) * sizeof(cand)));
                    cs = v->cands.ptr;
                }
                cs[nc++] = (cand){p, (uint32_t)d, tok};
            }
            if (p + d >= n) break;
            int32_t c = v->trie[node].child;
            while (c >= 0 && v->trie[c].byte != s[p + d]) c = v->trie[c].sibling;
            node = c;
        }
    }
    int64_t nf = 0;
    if (nc == 0) {
        if (n > 0) XT_TRY(push_frag(fbuf, &nf, 0, n, XT_TOKEN_NULL));
        *frags = fbuf->ptr;
        *n_frags = nf;
        return XT_OK;
    }
    // marks[p]: 0 raw, id + 1 where a taken token starts, -1 inside one, -2 dropped whitespace.
    XT_TRY(xt_buf_reserve(&v->marks, (size_t)n * sizeof(int32_t)));
    int32_t *marks = v->marks.ptr;
    memset(marks, 0, (size_t)n * sizeof(int32_t));
    if (!per_token) {
        qsort(cs, (size_t)nc, sizeof *cs, cand_cmp);
        for (int64_t i = 0; i < nc; i++) {
            const cand *c = &cs[i];
            if (marks[c->pos] != 0 || marks[c->pos + c->len - 1] != 0) continue;
            // Dropped whitespace can be shorter than the token: then check every byte.
            if (v->has_strip && !all_free(marks, c->pos, c->len)) continue;
            take(v, marks, s, n, c->pos, c->len, c->token);
        }
    } else {
        // The distinct tokens that occur (each once, by a flag per token id), in llama.cpp's
        // order, then each one's occurrences left to right over the bytes still raw.
        XT_TRY(xt_buf_reserve(&v->syms, (size_t)v->n_tokens));
        XT_TRY(xt_buf_reserve(&v->cands, (size_t)v->n_special * sizeof(cand)));
        cs = v->cands.ptr;
        uint8_t *seen = v->syms.ptr;
        memset(seen, 0, (size_t)v->n_tokens);
        nc = 0;
        for (int64_t p = 0; p < n; p++) {
            int32_t node = v->trie_root[s[p]];
            for (int64_t d = 1; node >= 0; d++) {
                int32_t tok = v->trie[node].token;
                if (tok != XT_TOKEN_NULL && !seen[tok] && allowed(v, tok, parse_special)) {
                    seen[tok] = 1;
                    cs[nc++] = (cand){0, (uint32_t)d, tok};  // at most n_special of them
                }
                if (p + d >= n) break;
                int32_t c = v->trie[node].child;
                while (c >= 0 && v->trie[c].byte != s[p + d]) c = v->trie[c].sibling;
                node = c;
            }
        }
        qsort(cs, (size_t)nc, sizeof *cs, cand_cmp);
        for (int64_t i = 0; i < nc; i++) {
            const xt_token *t = &v->tokens[cs[i].token];
            for (int64_t p = 0; p + t->len <= n;) {
                if (marks[p] == 0 && memcmp(s + p, t->text, t->len) == 0 &&
                    all_free(marks, p, t->len)) {
                    take(v, marks, s, n, p, t->len, cs[i].token);
                    p += t->len;
                } else {
                    p++;
                }
            }
        }
    }
    for (int64_t p = 0; p < n;) {
        if (marks[p] > 0) {
            int32_t tok = marks[p] - 1;
            XT_TRY(push_frag(fbuf, &nf, p, v->tokens[tok].len, tok));
            p += v->tokens[tok].len;
        } else if (marks[p] == 0) {
            int64_t q = p;
            while (q < n && marks[q] == 0) q++;
            XT_TRY(push_frag(fbuf, &nf, p, q - p, XT_TOKEN_NULL));
            p = q;
        } else {
            p++;
        }
    }
    *frags = fbuf->ptr;
    *n_frags = nf;
    return XT_OK;
}
