// unicode.h — code-point properties and the UTF-8 / byte-level conversions the tokenizers need.
// Decoding is lenient in the way llama.cpp's is (an invalid byte becomes U+FFFD and decoding
// goes on at the next byte), because token ids must match llama.cpp's for any input bytes.
#ifndef XT_TOKENIZER_UNICODE_H
#define XT_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum {
    XT_UCD_UNDEFINED = 0x001,   // unassigned (Cn), and anything past U+10FFFF
    XT_UCD_NUMBER = 0x002,      // \p{N}
    XT_UCD_LETTER = 0x004,      // \p{L}
    XT_UCD_SEPARATOR = 0x008,   // \p{Z}
    XT_UCD_MARK = 0x010,        // \p{M}
    XT_UCD_PUNCT = 0x020,       // \p{P}
    XT_UCD_SYMBOL = 0x040,      // \p{S}
    XT_UCD_CONTROL = 0x080,     // \p{C} except Cn
    XT_UCD_CATEGORIES = 0x0FF,
    XT_UCD_WHITESPACE = 0x100,  // \s (the White_Space property)
};

#define XT_CPT_REPLACEMENT 0xFFFDu

// Flags of one code point (XT_UCD_UNDEFINED past U+10FFFF).
uint16_t xt_cpt_flags(uint32_t cpt);
// Simple lowercase mapping (the code point itself when it has none).
uint32_t xt_cpt_tolower(uint32_t cpt);
// Unicode version of the tables ("15.1.0").
const char *xt_ucd_version(void);

// Byte length a UTF-8 lead byte announces (1 for continuation and invalid bytes), as llama.cpp's
// unicode_len_utf8: the SentencePiece tokenizer cuts symbols with it.
static inline size_t xt_utf8_len(uint8_t lead) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[lead >> 4];
}

// Decodes one code point at s[*pos] (< n) and advances *pos. Malformed input (a stray
// continuation byte, a truncated sequence, a byte >= 0xF8) gives U+FFFD and advances one byte.
// Overlong forms and surrogates decode as llama.cpp decodes them (no further checks), so
// 4-byte forms may exceed U+10FFFF.
uint32_t xt_utf8_next(const uint8_t *s, size_t n, size_t *pos);
// Writes the UTF-8 form of cpt (<= U+10FFFF) to out (4 bytes of room); returns its length.
// Code points past U+10FFFF are written as U+FFFD.
size_t xt_utf8_put(uint32_t cpt, uint8_t *out);

// GPT-2 byte-level alphabet: byte b is written as the code point xt_byte_to_cpt(b) (printable
// bytes stand for themselves, the others map to U+0100...). xt_cpt_to_byte inverts it (-1 when
// cpt is not in the alphabet).
uint32_t xt_byte_to_cpt(uint8_t b);
int xt_cpt_to_byte(uint32_t cpt);

#endif  // XT_TOKENIZER_UNICODE_H
