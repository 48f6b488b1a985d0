// vocab_fuzz.c — libFuzzer target for the tokenizer: parses arbitrary bytes as a GGUF file, loads
// its tokenizer metadata with xt_vocab_load_gguf and, when that succeeds, tokenizes a few texts
// (every flag combination), detokenizes the results and every id's piece.
//
// Build and run: tests/fuzz/build.sh run 60   (see that script for the flags)
// A crash, sanitizer report, leak or failed consistency check below is a finding.
#include <stdint.h>
#include <string.h>

#include "xtral.h"

#define FUZZ_CHECK(cond) \
    do {                 \
        if (!(cond)) __builtin_trap(); \
    } while (0)

static volatile uint8_t g_sink;

static const char *const TEXTS[] = {
    "Hello world 12345 it's",
    " <s> </s> <|x|> \n\n\t  a  ",
    "\xff\xfe\xe2\x82 \xf4\x90\x80\x80 \xed\xa0\x80 \xc0\xaf",
    "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd e\xcc\x81",
    "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xt_gguf *g = NULL;
    if (xt_gguf_open_memory(data, size, &g) != XT_OK) return 0;
    xt_vocab *v = NULL;
    if (xt_vocab_load_gguf(g, &v) == XT_OK) {
        xt_vocab_info info;
        xt_vocab_get_info(v, &info);
        FUZZ_CHECK(info.n_tokens > 0);
        for (size_t t = 0; t < sizeof TEXTS / sizeof TEXTS[0]; t++) {
            for (int flags = 0; flags < 4; flags++) {
                const int32_t *ids = NULL;
                int64_t n = 0;
                xt_status s = xt_vocab_tokenize(v, TEXTS[t], strlen(TEXTS[t]), flags & 1,
                                                flags & 2, &ids, &n);
                if (s != XT_OK) continue;  // e.g. a byte-fallback token the vocabulary lacks
                for (int64_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < info.n_tokens);
                const char *text;
                size_t len;
                FUZZ_CHECK(xt_vocab_detokenize(v, ids, n, flags & 1, flags & 2, &text, &len) == XT_OK);
                for (size_t k = 0; k < len; k++) g_sink ^= (uint8_t)text[k];
            }
        }
        for (int64_t id = 0; id < info.n_tokens && id < 4096; id++) {
            const char *piece;
            size_t len;
            FUZZ_CHECK(xt_vocab_token_piece(v, (int32_t)id, true, &piece, &len) == XT_OK);
            for (size_t k = 0; k < len; k++) g_sink ^= (uint8_t)piece[k];
        }
        int32_t bad = (int32_t)info.n_tokens;
        const char *text;
        size_t len;
        FUZZ_CHECK(xt_vocab_detokenize(v, &bad, 1, false, true, &text, &len) == XT_ERR_INVALID_ARG);
    }
    xt_vocab_free(v);
    xt_gguf_free(g);
    return 0;
}
