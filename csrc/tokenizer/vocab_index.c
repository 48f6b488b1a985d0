// vocab_index.c — hash indexes over the vocabulary (token text -> id, merge pair -> rank) and
// the amortized scratch buffers. Keys are never copied: slots hold ids, and lookups compare
// against the borrowed texts.
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

// ---- hashing ----

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

// 8 bytes at a time; the tail is read byte-wise so no read passes the end.
uint64_t xt_hash_bytes(const void *p, size_t n, uint64_t seed) {
    const uint8_t *s = p;
    uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    return mix(h);
}

static xt_status index_init(xt_index *ix, int64_t n) {
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2) cap *= 2;
    ix->slots = calloc(cap, sizeof *ix->slots);
    XT_RETURN_IF(ix->slots == NULL, XT_ERR_NOMEM, "out of memory for a %" PRId64 "-entry index", n);
    ix->mask = cap - 1;
    return XT_OK;
}

// ---- token text -> id ----

xt_status xt_vocab_build_text_index(xt_vocab *v) {
    XT_TRY(index_init(&v->text_index, v->n_tokens));
    for (int64_t id = 0; id < v->n_tokens; id++) {
        const xt_token *t = &v->tokens[id];
        uint64_t i = xt_hash_bytes(t->text, t->len, 0) & v->text_index.mask;
        for (;;) {
            uint32_t s = v->text_index.slots[i];
            if (s == 0) break;
            const xt_token *o = &v->tokens[s - 1];
            XT_RETURN_IF(o->len == t->len && memcmp(o->text, t->text, t->len) == 0,
                         XT_ERR_BAD_FILE,
                         "tokenizer.ggml.tokens: duplicate token '%.*s' has ids %u and %" PRId64,
                         (int)(t->len > 64 ? 64 : t->len), t->text, s - 1, id);
            i = (i + 1) & v->text_index.mask;
        }
        v->text_index.slots[i] = (uint32_t)id + 1;
    }
    return XT_OK;
}

int32_t xt_vocab_find(const xt_vocab *v, const char *s, size_t n) {
    uint64_t i = xt_hash_bytes(s, n, 0) & v->text_index.mask;
    for (;;) {
        uint32_t slot = v->text_index.slots[i];
        if (slot == 0) return XT_TOKEN_NULL;
        const xt_token *t = &v->tokens[slot - 1];
        if (t->len == n && memcmp(t->text, s, n) == 0) return (int32_t)(slot - 1);
        i = (i + 1) & v->text_index.mask;
    }
}

// ---- merge pair -> rank ----

static inline uint64_t pair_hash(const char *a, size_t na, const char *b, size_t nb) {
    return xt_hash_bytes(b, nb, xt_hash_bytes(a, na, 0x51ED270B27A1F0C3ull));
}

xt_status xt_vocab_build_merge_index(xt_vocab *v) {
    XT_TRY(index_init(&v->merge_index, v->n_merges));
    for (int64_t r = 0; r < v->n_merges; r++) {
        const xt_merge *m = &v->merges[r];
        uint64_t i = pair_hash(m->left, m->left_len, m->right, m->right_len) & v->merge_index.mask;
        bool dup = false;
        for (;;) {
            uint32_t s = v->merge_index.slots[i];
            if (s == 0) break;
            const xt_merge *o = &v->merges[s - 1];
            if (o->left_len == m->left_len && o->right_len == m->right_len &&
                memcmp(o->left, m->left, m->left_len) == 0 &&
                memcmp(o->right, m->right, m->right_len) == 0) {
                dup = true;  // llama.cpp keeps the first (lowest) rank of a repeated pair
                break;
            }
            i = (i + 1) & v->merge_index.mask;
        }
        if (!dup) v->merge_index.slots[i] = (uint32_t)r + 1;
    }
    return XT_OK;
}

int32_t xt_vocab_merge_rank(const xt_vocab *v, const char *a, size_t na, const char *b, size_t nb) {
    if (v->n_merges == 0) return -1;
    uint64_t i = pair_hash(a, na, b, nb) & v->merge_index.mask;
    for (;;) {
        uint32_t slot = v->merge_index.slots[i];
        if (slot == 0) return -1;
        const xt_merge *m = &v->merges[slot - 1];
        if (m->left_len == na && m->right_len == nb && memcmp(m->left, a, na) == 0 &&
            memcmp(m->right, b, nb) == 0) {
            return (int32_t)(slot - 1);
        }
        i = (i + 1) & v->merge_index.mask;
    }
}

// ---- scratch ----

xt_status xt_buf_reserve(xt_buf *b, size_t bytes) {
    if (bytes <= b->cap) return XT_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < bytes) {
        XT_RETURN_IF(cap > SIZE_MAX / 2, XT_ERR_NOMEM, "scratch buffer too large");
        cap *= 2;
    }
    void *p = realloc(b->ptr, cap);
    XT_RETURN_IF(p == NULL, XT_ERR_NOMEM, "out of memory for a %zu-byte tokenizer buffer", cap);
    b->ptr = p;
    b->cap = cap;
    return XT_OK;
}

void xt_buf_free(xt_buf *b) {
    free(b->ptr);
    b->ptr = NULL;
    b->cap = 0;
}

xt_status xt_ids_push(xt_ids *o, int32_t id) {
    if (o->n == o->cap) {
        XT_TRY(xt_buf_reserve(o->buf, (size_t)(o->cap * 2 + 64) * sizeof(int32_t)));
        o->ids = o->buf->ptr;
        o->cap = (int64_t)(o->buf->cap / sizeof(int32_t));
    }
    o->ids[o->n++] = id;
    return XT_OK;
}
