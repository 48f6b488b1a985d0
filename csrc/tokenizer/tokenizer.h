// tokenizer.h — internal header of the tokenizer subsystem: the xt_vocab layout shared by the loader
// (vocab_load.c), the tokenizers (spm.c, bpe.c, pretokenize.c, special.c) and the public entry
// points (tokenize.c). Token texts are borrowed from the GGUF mapping; everything else lives in
// a few arrays sized at load, plus scratch buffers that grow (amortized) and are reused by
// every call, so tokenizing allocates nothing per token.
#ifndef XT_TOKENIZER_TOKENIZER_H
#define XT_TOKENIZER_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xtral.h"

#define XT_TOKEN_NULL (-1)

// Token attributes, as llama.cpp derives them from tokenizer.ggml.token_type.
enum {
    XT_ATTR_UNDEFINED = 0,
    XT_ATTR_UNKNOWN = 1 << 0,
    XT_ATTR_UNUSED = 1 << 1,
    XT_ATTR_NORMAL = 1 << 2,
    XT_ATTR_CONTROL = 1 << 3,
    XT_ATTR_USER_DEFINED = 1 << 4,
    XT_ATTR_BYTE = 1 << 5,
    XT_ATTR_LSTRIP = 1 << 7,   // whitespace before the token's text is dropped
    XT_ATTR_RSTRIP = 1 << 8,   // whitespace after it is dropped
};
#define XT_ATTR_SPECIAL (XT_ATTR_CONTROL | XT_ATTR_USER_DEFINED | XT_ATTR_UNKNOWN)

typedef enum { XT_VOCAB_SPM = 1, XT_VOCAB_BPE = 2 } xt_vocab_type;

// Pre-tokenizer regex families (llama.cpp's LLAMA_VOCAB_PRE_TYPE_* that share a regex).
typedef enum {
    XT_PRE_DEFAULT = 0,  // punctuation runs, GPT-2, \p{N}+, [0-9]{3}
    XT_PRE_GPT2,         // GPT-2
    XT_PRE_LLAMA3,       // llama3 (contractions any case, \p{N}{1,3}, newline runs)
    XT_PRE_QWEN2,        // llama3 with single digits
    XT_PRE_SMOLLM,       // \p{N} then GPT-2 (starcoder, smollm, ...)
} xt_pre_type;

typedef struct {
    const char *text;    // borrowed (the mapping) or from `owned_text`; not NUL-terminated
    uint32_t len;
    uint32_t attr;       // XT_ATTR_*
    float score;
    uint32_t piece_off;  // the piece (special = true) in vocab->pieces
    uint32_t piece_len;
} xt_token;

// Open-addressing hash index: slot -> id + 1 (0 = empty). cap is a power of two.
typedef struct {
    uint32_t *slots;
    uint64_t mask;
} xt_index;

// One BPE merge "left right": texts borrowed from the merge string.
typedef struct {
    const char *left, *right;
    uint32_t left_len, right_len;
} xt_merge;

// Trie of special-token texts: a root table per first byte, then first-child / next-sibling.
typedef struct {
    uint8_t byte;
    int32_t token;     // token ending here, or XT_TOKEN_NULL
    int32_t child;     // first child node, or -1
    int32_t sibling;   // next sibling, or -1
} xt_trie_node;

// Growable scratch array (amortized: grows by doubling, never shrinks).
typedef struct {
    void *ptr;
    size_t cap;  // bytes
} xt_buf;

struct xt_vocab {
    xt_gguf *owned_gguf;       // when loaded from a path (token texts point into it)
    const xt_gguf *gguf;
    xt_vocab_type type;
    xt_pre_type pre;
    char model_name[32];       // tokenizer.ggml.model
    char pre_name[64];         // tokenizer.ggml.pre ("" when absent)

    int64_t n_tokens;
    xt_token *tokens;          // (n_tokens)
    char *owned_text;          // texts synthesized for empty tokens ("[EMPTY_i]")
    xt_index text_index;       // token text -> id
    int64_t n_merges;
    xt_merge *merges;          // (n_merges) rank = index
    xt_index merge_index;      // (left, right) -> rank
    char *pieces;              // all pieces, back to back
    size_t pieces_len;

    int32_t bos, eos, eot, eom, unk, sep, pad, mask;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_sep, add_space_prefix, ignore_merges, clean_spaces;
    int32_t *eog;              // sorted end-of-generation ids
    int64_t n_eog;
    int32_t byte_token[256];   // SPM byte fallback: <0xXX> (or the 1-byte token), or NULL
    uint8_t byte_enc[256][2];  // BPE: UTF-8 of the byte-level code point of each byte
    uint8_t byte_enc_len[256];

    xt_trie_node *trie;        // special tokens (CONTROL | USER_DEFINED | UNKNOWN)
    int64_t n_trie;
    int32_t trie_root[256];
    int64_t n_special;
    bool has_strip;            // some special token has LSTRIP or RSTRIP

    // scratch (reused by every call on this vocab; callers serialize calls)
    xt_buf out_ids, frags, text_buf, cpts, pieces_buf, syms, heap, cands, marks, detok;
};

// ---- vocab_index.c ----
uint64_t xt_hash_bytes(const void *p, size_t n, uint64_t seed);
// Builds the text index over tokens[0..n).
xt_status xt_vocab_build_text_index(xt_vocab *v);
// Id of the token whose text is s[0..n), or XT_TOKEN_NULL.
int32_t xt_vocab_find(const xt_vocab *v, const char *s, size_t n);
xt_status xt_vocab_build_merge_index(xt_vocab *v);
// Rank of the merge (a, b), or -1.
int32_t xt_vocab_merge_rank(const xt_vocab *v, const char *a, size_t na, const char *b, size_t nb);

// ---- scratch ----
// Makes b->ptr hold at least `bytes` bytes (contents kept). XT_ERR_NOMEM on failure.
xt_status xt_buf_reserve(xt_buf *b, size_t bytes);
void xt_buf_free(xt_buf *b);

// ---- output ----
typedef struct {
    int32_t *ids;
    int64_t n, cap;
    xt_buf *buf;
} xt_ids;
xt_status xt_ids_push(xt_ids *o, int32_t id);

// ---- special.c ----
xt_status xt_vocab_build_trie(xt_vocab *v);
// A fragment of the text: raw bytes [off, off + len) or a special token.
typedef struct {
    int64_t off, len;
    int32_t token;  // XT_TOKEN_NULL for raw text
} xt_fragment;
// Splits text[0..n) at special tokens as llama.cpp's tokenizer_st_partition does (longer tokens
// first; control and unknown tokens only when parse_special). Fragments go to *frags (scratch
// `fbuf`), in text order.
xt_status xt_partition_special(xt_vocab *v, const char *text, int64_t n, bool parse_special,
                               xt_buf *fbuf, xt_fragment **frags, int64_t *n_frags);

// ---- pretokenize.c ----
// Splits cpts[0..n) into words for pre-tokenizer `pre`; writes word lengths (in code points)
// to the scratch `lens` and their count to *n_words.
xt_status xt_pretokenize(xt_pre_type pre, const uint32_t *cpts, int64_t n, xt_buf *lens,
                         xt_buf *tmp, int64_t *n_words);

// ---- spm.c / bpe.c ----
xt_status xt_spm_tokenize(xt_vocab *v, const char *text, int64_t n, xt_ids *out);
xt_status xt_bpe_tokenize(xt_vocab *v, const char *text, int64_t n, xt_ids *out);

#endif  // XT_TOKENIZER_TOKENIZER_H
