// bpe.c — the byte-level BPE tokenizer (tokenizer.ggml.model "gpt2"): split the text into
// words (pretokenize.c), write each word in the GPT-2 byte alphabet, start from one symbol per
// character and repeatedly apply the merge of lowest rank (leftmost on ties), then emit each
// symbol's token. This is llama.cpp's llm_tokenizer_bpe_session over reused scratch arrays.
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

typedef struct {
    int32_t prev, next;
    uint32_t off, n;  // bytes of the encoded word; n == 0 once merged away
} sym;

typedef struct {
    int32_t rank, left, right;
    uint32_t size;
} bigram;

static inline bool before(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
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

static inline void try_add(const xt_vocab *v, const char *w, sym *syms, bigram *heap,
                           int64_t *n_heap, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const sym *l = &syms[left], *r = &syms[right];
    int32_t rank = xt_vocab_merge_rank(v, w + l->off, l->n, w + r->off, r->n);
    if (rank < 0) return;
    heap_push(heap, n_heap, (bigram){rank, left, right, l->n + r->n});
}

// Tokenizes one encoded word w[0..n).
static xt_status word_tokens(xt_vocab *v, const char *w, int64_t n, xt_ids *out) {
    if (v->ignore_merges) {
        int32_t tok = xt_vocab_find(v, w, (size_t)n);
        if (tok != XT_TOKEN_NULL) return xt_ids_push(out, tok);
    }
    sym *syms = v->syms.ptr;
    bigram *heap = v->heap.ptr;
    int64_t n_heap = 0;
    int32_t n_syms = 0;
    for (int64_t off = 0; off < n;) {
        int64_t len = (int64_t)xt_utf8_len((uint8_t)w[off]);
        if (len > n - off) len = n - off;
        syms[n_syms] = (sym){n_syms - 1, off + len == n ? -1 : n_syms + 1, (uint32_t)off,
                             (uint32_t)len};
        n_syms++;
        off += len;
    }
    for (int32_t i = 1; i < n_syms; i++) try_add(v, w, syms, heap, &n_heap, i - 1, i);
    while (n_heap > 0) {
        bigram b = heap_pop(heap, &n_heap);
        sym *l = &syms[b.left], *r = &syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = b.left;
        try_add(v, w, syms, heap, &n_heap, l->prev, b.left);
        try_add(v, w, syms, heap, &n_heap, b.left, l->next);
    }
    for (int32_t i = 0; i != -1 && n_syms > 0; i = syms[i].next) {
        const sym *y = &syms[i];
        int32_t tok = xt_vocab_find(v, w + y->off, y->n);
        if (tok != XT_TOKEN_NULL) {
            XT_TRY(xt_ids_push(out, tok));
            continue;
        }
        // Not a token: llama.cpp tries each byte of the encoded text as a one-byte token.
        for (uint32_t k = 0; k < y->n; k++) {
            int32_t bt = xt_vocab_find(v, w + y->off + k, 1);
            if (bt != XT_TOKEN_NULL) XT_TRY(xt_ids_push(out, bt));
        }
    }
    return XT_OK;
}

xt_status xt_bpe_tokenize(xt_vocab *v, const char *text, int64_t n, xt_ids *out) {
    if (n == 0) return XT_OK;
    // Code points, then words.
    XT_TRY(xt_buf_reserve(&v->cpts, (size_t)n * sizeof(uint32_t)));
    uint32_t *cpts = v->cpts.ptr;
    int64_t n_cpts = 0;
    for (size_t pos = 0; pos < (size_t)n;) cpts[n_cpts++] = xt_utf8_next((const uint8_t *)text, (size_t)n, &pos);
    int64_t n_words = 0;
    XT_TRY(xt_pretokenize(v->pre, cpts, n_cpts, &v->pieces_buf, &v->heap, &n_words));
    const uint32_t *lens = v->pieces_buf.ptr;
    // The longest word bounds the scratch: 4 UTF-8 bytes per code point, 2 encoded bytes each.
    int64_t max_len = 0;
    for (int64_t w = 0; w < n_words; w++) max_len = lens[w] > max_len ? lens[w] : max_len;
    XT_TRY(xt_buf_reserve(&v->text_buf, (size_t)max_len * 8));
    XT_TRY(xt_buf_reserve(&v->syms, (size_t)max_len * 8 * sizeof(sym)));
    XT_TRY(xt_buf_reserve(&v->heap, (size_t)(max_len * 24 + 1) * sizeof(bigram)));
    lens = v->pieces_buf.ptr;
    int64_t start = 0;
    for (int64_t w = 0; w < n_words; w++) {
        char *enc = v->text_buf.ptr;
        int64_t ne = 0;
        for (int64_t i = start; i < start + lens[w]; i++) {
            uint8_t u[4];
            size_t nu = xt_utf8_put(cpts[i], u);
            for (size_t k = 0; k < nu; k++) {
                memcpy(enc + ne, v->byte_enc[u[k]], v->byte_enc_len[u[k]]);
                ne += v->byte_enc_len[u[k]];
            }
        }
        start += lens[w];
        XT_TRY(word_tokens(v, enc, ne, out));
    }
    return XT_OK;
}
