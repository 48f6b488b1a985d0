// pretokenize.c — the regex splits of the byte-level BPE pre-tokenizers, written as state
// machines over code points instead of regular expressions.
//
// Each function reproduces what llama.cpp's unicode_regex_split computes for one expression:
// the hand-written GPT-2 and llama3 matchers, and std::regex over the text where every code
// point >= 128 is collapsed to its category (so \p{N} there means ASCII 0-9 or a non-ASCII
// number). Text between two matches becomes a word of its own, as there. A chain of
// expressions splits each word of the previous one again.
#include <stdlib.h>

#include "core/status.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

#define OOR 0xFFFFFFFFu  // "past the word": no code point, no flags

typedef struct {
    const uint32_t *c;
    int64_t a, b;      // current word [a, b)
    uint32_t *out;     // word lengths
    int64_t n_out;
    int64_t prev;      // end of the last word written
} splitter;

static inline uint32_t get(const splitter *s, int64_t p) { return p >= s->a && p < s->b ? s->c[p] : OOR; }
static inline uint16_t flags(const splitter *s, int64_t p) {
    return p >= s->a && p < s->b ? xt_cpt_flags(s->c[p]) : 0;
}
static inline void emit(splitter *s, int64_t end) {
    if (end > s->prev) s->out[s->n_out++] = (uint32_t)(end - s->prev);
    s->prev = end;
}

enum { WS = XT_UCD_WHITESPACE, LET = XT_UCD_LETTER, NUM = XT_UCD_NUMBER };

static inline bool is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

// 's|'t|'re|'ve|'m|'ll|'d (case-insensitive when `fold`): length of the match at p, or 0.
static int contraction(const splitter *s, int64_t p, bool fold) {
    if (get(s, p) != '\'' || p + 1 >= s->b) return 0;
    uint32_t c1 = get(s, p + 1);
    if (fold) c1 = xt_cpt_tolower(c1);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    if (p + 2 >= s->b) return 0;
    uint32_t c2 = get(s, p + 2);
    if (fold) c2 = xt_cpt_tolower(c2);
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
    return 0;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
static void split_gpt2(splitter *s) {
    for (int64_t pos = s->a; pos < s->b;) {
        uint32_t cpt = get(s, pos);
        uint16_t f = flags(s, pos);
        int k = contraction(s, pos, false);
        if (k) {
            pos += k;
            emit(s, pos);
            continue;
        }
        uint16_t f2 = cpt == ' ' ? flags(s, pos + 1) : f;
        if (f2 & LET) {
            pos += cpt == ' ';
            while (f2 & LET) f2 = flags(s, ++pos);
            emit(s, pos);
            continue;
        }
        if (f2 & NUM) {
            pos += cpt == ' ';
            while (f2 & NUM) f2 = flags(s, ++pos);
            emit(s, pos);
            continue;
        }
        if (!(f2 & (WS | LET | NUM)) && f2) {
            pos += cpt == ' ';
            while (!(f2 & (WS | LET | NUM)) && f2) f2 = flags(s, ++pos);
            emit(s, pos);
            continue;
        }
        int64_t nws = 0;
        while (flags(s, pos + nws) & WS) nws++;
        if (nws > 1 && get(s, pos + nws) != OOR) {
            pos += nws - 1;
            emit(s, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            emit(s, pos);
            continue;
        }
        emit(s, ++pos);
    }
}

// llama3 (max_digits 3):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//   \s*[\r\n]+|\s+(?!\S)|\s+
// qwen2 (max_digits 1) is the same with \p{N} for \p{N}{1,3}.
static void split_llama3(splitter *s, int max_digits) {
    for (int64_t pos = s->a; pos < s->b;) {
        uint32_t cpt = get(s, pos);
        uint16_t f = flags(s, pos);
        int k = contraction(s, pos, true);
        if (k) {
            pos += k;
            emit(s, pos);
            continue;
        }
        if (!(is_crlf(cpt) || (f & NUM)) && ((f & LET) || (flags(s, pos + 1) & LET))) {
            pos++;
            while (flags(s, pos) & LET) pos++;
            emit(s, pos);
            continue;
        }
        if (f & NUM) {
            int64_t ini = pos;
            while (flags(s, pos) & NUM) {
                if (++pos - ini >= max_digits) {
                    emit(s, pos);
                    ini = pos;
                }
            }
            emit(s, pos);
            continue;
        }
        uint16_t f2 = cpt == ' ' ? flags(s, pos + 1) : f;
        if (!(f2 & (WS | LET | NUM)) && f) {
            pos += cpt == ' ';
            while (!(f2 & (WS | LET | NUM)) && f2) f2 = flags(s, ++pos);
            while (is_crlf(get(s, pos))) pos++;
            emit(s, pos);
            continue;
        }
        int64_t nws = 0, last_crlf_end = 0;
        while (flags(s, pos + nws) & WS) {
            if (is_crlf(get(s, pos + nws))) last_crlf_end = pos + nws + 1;
            nws++;
        }
        if (last_crlf_end > 0) {
            pos = last_crlf_end;
            emit(s, pos);
            continue;
        }
        if (nws > 1 && get(s, pos + nws) != OOR) {
            pos += nws - 1;
            emit(s, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            emit(s, pos);
            continue;
        }
        emit(s, ++pos);
    }
}

// ---- classes of the collapsed-text expressions ----

// \p{N}: ASCII digits, or a non-ASCII number (whitespace is collapsed apart).
static inline bool is_num_class(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    uint16_t f = xt_cpt_flags(c);
    return !(f & WS) && (f & XT_UCD_CATEGORIES) == NUM;
}

// [\p{P}\$\+<=>\^~\|]: ASCII punctuation and symbols except '`', or non-ASCII punctuation.
static inline bool is_punct_class(uint32_t c) {
    if (c < 0x80) {
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x5F) ||
               (c >= 0x7B && c <= 0x7E);
    }
    uint16_t f = xt_cpt_flags(c);
    return !(f & WS) && (f & XT_UCD_CATEGORIES) == XT_UCD_PUNCT;
}

static inline bool is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }

// Each match of `cls` (one code point, or a run when `runs`) is a word; so is each gap.
static void split_class(splitter *s, bool (*cls)(uint32_t), bool runs) {
    for (int64_t pos = s->a; pos < s->b;) {
        if (!cls(s->c[pos])) {
            pos++;
            continue;
        }
        emit(s, pos);  // the gap before the match
        pos++;
        if (runs) {
            while (pos < s->b && cls(s->c[pos])) pos++;
        }
        emit(s, pos);
    }
    emit(s, s->b);
}

// [0-9][0-9][0-9], matched left to right.
static void split_triples(splitter *s) {
    for (int64_t pos = s->a; pos + 3 <= s->b;) {
        if (is_ascii_digit(s->c[pos]) && is_ascii_digit(s->c[pos + 1]) &&
            is_ascii_digit(s->c[pos + 2])) {
            emit(s, pos);
            pos += 3;
            emit(s, pos);
        } else {
            pos++;
        }
    }
    emit(s, s->b);
}

// ---- chains ----

typedef enum { ST_GPT2, ST_LLAMA3, ST_QWEN2, ST_NUM_EACH, ST_NUM_RUNS, ST_PUNCT_RUNS, ST_TRIPLES } stage;

static void run_stage(splitter *s, stage st) {
    switch (st) {
    case ST_GPT2: split_gpt2(s); break;
    case ST_LLAMA3: split_llama3(s, 3); break;
    case ST_QWEN2: split_llama3(s, 1); break;
    case ST_NUM_EACH: split_class(s, is_num_class, false); break;
    case ST_NUM_RUNS: split_class(s, is_num_class, true); break;
    case ST_PUNCT_RUNS: split_class(s, is_punct_class, true); break;
    case ST_TRIPLES: split_triples(s); break;
    }
}

xt_status xt_pretokenize(xt_pre_type pre, const uint32_t *cpts, int64_t n, xt_buf *lens,
                         xt_buf *tmp, int64_t *n_words) {
    static const stage chains[][4] = {
        [XT_PRE_DEFAULT] = {ST_PUNCT_RUNS, ST_GPT2, ST_NUM_RUNS, ST_TRIPLES},
        [XT_PRE_GPT2] = {ST_GPT2},
        [XT_PRE_LLAMA3] = {ST_LLAMA3},
        [XT_PRE_QWEN2] = {ST_QWEN2},
        [XT_PRE_SMOLLM] = {ST_NUM_EACH, ST_GPT2},
    };
    static const int chain_len[] = {[XT_PRE_DEFAULT] = 4, [XT_PRE_GPT2] = 1, [XT_PRE_LLAMA3] = 1,
                                    [XT_PRE_QWEN2] = 1, [XT_PRE_SMOLLM] = 2};
    // A split never yields more words than code points.
    size_t bytes = (size_t)(n + 1) * sizeof(uint32_t);
    XT_TRY(xt_buf_reserve(lens, bytes));
    XT_TRY(xt_buf_reserve(tmp, bytes));
    uint32_t *cur = lens->ptr, *next = tmp->ptr;
    int64_t n_cur = 0;
    if (n > 0) cur[n_cur++] = (uint32_t)n;
    for (int k = 0; k < chain_len[pre]; k++) {
        splitter s = {.c = cpts, .out = next};
        int64_t start = 0;
        for (int64_t w = 0; w < n_cur; w++) {
            s.a = s.prev = start;
            s.b = start + cur[w];
            run_stage(&s, chains[pre][k]);
            start = s.b;
        }
        uint32_t *t = cur;
        cur = next;
        next = t;
        n_cur = s.n_out;
    }
    if (cur != lens->ptr) {  // hand the result back in `lens`
        void *p = lens->ptr;
        size_t cap = lens->cap;
        lens->ptr = tmp->ptr;
        lens->cap = tmp->cap;
        tmp->ptr = p;
        tmp->cap = cap;
    }
    *n_words = n_cur;
    return XT_OK;
}
