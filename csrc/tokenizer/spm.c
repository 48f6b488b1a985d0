// spm.c — the SentencePiece-style tokenizer (tokenizer.ggml.model "llama": LLaMA, Gemma):
// start from one symbol per UTF-8 character, repeatedly merge the adjacent pair whose
// concatenation is the token with the highest score (leftmost on ties), then emit each symbol
// as its token or, when it is not one, as byte tokens <0xXX> (byte fallback). This is
// llama.cpp's llm_tokenizer_spm, with a binary heap over reused scratch arrays.
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

typedef struct {
    int32_t prev, next;  // neighbours in the symbol list, -1 at the ends
    uint32_t off, n;     // bytes [off, off + n) of the text; n == 0 once merged away
} sym;

typedef struct {
    float score;
    int32_t left, right;
    uint32_t size;  // bytes of the pair when it was queued (stale entries no longer match)
} bigram;

static inline bool before(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(bigram *h, int64_t *n, bigram x) {
    int64_t i = (*n)++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!before(&x, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static bigram heap_pop(bigram *h, int64_t *n) {
    bigram top = h[0], x = h[--(*n)];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && before(&h[c + 1], &h[c])) c++;
        if (!before(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = x;
    return top;
}

typedef struct {
    xt_vocab *v;
    const char *text;
    sym *syms;
    bigram *heap;
    int64_t n_heap;
} session;

static void try_add(session *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const sym *l = &s->syms[left], *r = &s->syms[right];
    uint32_t size = l->n + r->n;
    int32_t tok = xt_vocab_find(s->v, s->text + l->off, size);
    if (tok == XT_TOKEN_NULL) return;
    heap_push(s->heap, &s->n_heap, (bigram){s->v->tokens[tok].score, left, right, size});
}

xt_status xt_spm_tokenize(xt_vocab *v, const char *text, int64_t n, xt_ids *out) {
    if (n == 0) return XT_OK;
    // At most n symbols; each merge queues at most two pairs, so the heap stays under 3n.
    XT_TRY(xt_buf_reserve(&v->syms, (size_t)n * sizeof(sym)));
    XT_TRY(xt_buf_reserve(&v->heap, (size_t)(3 * n + 1) * sizeof(bigram)));
    session s = {v, text, v->syms.ptr, v->heap.ptr, 0};
    int32_t n_syms = 0;
    for (int64_t off = 0; off < n;) {
        int64_t len = (int64_t)xt_utf8_len((uint8_t)text[off]);
        if (len > n - off) len = n - off;
        s.syms[n_syms] = (sym){n_syms - 1, off + len == n ? -1 : n_syms + 1, (uint32_t)off,
                               (uint32_t)len};
        n_syms++;
        off += len;
    }
    for (int32_t i = 1; i < n_syms; i++) try_add(&s, i - 1, i);
    while (s.n_heap > 0) {
        bigram b = heap_pop(s.heap, &s.n_heap);
        sym *l = &s.syms[b.left], *r = &s.syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s.syms[r->next].prev = b.left;
        try_add(&s, l->prev, b.left);
        try_add(&s, b.left, l->next);
    }
    for (int32_t i = 0; i != -1; i = s.syms[i].next) {
        const sym *y = &s.syms[i];
        int32_t tok = xt_vocab_find(v, text + y->off, y->n);
        if (tok != XT_TOKEN_NULL) {
            XT_TRY(xt_ids_push(out, tok));
            continue;
        }
        for (uint32_t k = 0; k < y->n; k++) {  // byte fallback
            uint8_t b = (uint8_t)text[y->off + k];
            XT_RETURN_IF(v->byte_token[b] == XT_TOKEN_NULL, XT_ERR_BAD_FILE,
                         "tokenizer: no byte-fallback token <0x%02X> in the vocabulary", b);
            XT_TRY(xt_ids_push(out, v->byte_token[b]));
        }
    }
    return XT_OK;
}
