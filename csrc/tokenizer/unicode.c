// unicode.c — code-point property lookups over the generated tables, lenient UTF-8 decoding
// (llama.cpp's rules) and the GPT-2 byte-level alphabet.
#include "tokenizer/unicode.h"

#include "xtral.h"

#include "tokenizer/unicode_tables.h"

// ---- properties ----

uint16_t xt_cpt_flags(uint32_t cpt) {
    if (cpt >= 0x110000) return XT_UCD_UNDEFINED;
    return xt_ucd_stage2[xt_ucd_stage1[cpt >> 8]][cpt & 0xFF];
}

uint32_t xt_cpt_tolower(uint32_t cpt) {
    if (cpt < 0x80) return (cpt >= 'A' && cpt <= 'Z') ? cpt + 32 : cpt;
    size_t lo = 0, hi = XT_UCD_N_LOWER;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (xt_ucd_lower[mid][0] < cpt) lo = mid + 1;
        else hi = mid;
    }
    return lo < XT_UCD_N_LOWER && xt_ucd_lower[lo][0] == cpt ? xt_ucd_lower[lo][1] : cpt;
}

const char *xt_ucd_version(void) { return XT_UCD_VERSION; }

uint32_t xt_unicode_flags(uint32_t cpt) { return xt_cpt_flags(cpt); }
const char *xt_unicode_version(void) { return XT_UCD_VERSION; }

// ---- UTF-8 ----

static inline int is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

uint32_t xt_utf8_next(const uint8_t *s, size_t n, size_t *pos) {
    size_t i = *pos;
    uint8_t b = s[i];
    if (b < 0x80) {
        *pos = i + 1;
        return b;
    }
    if (!(b & 0x40)) goto bad;  // a continuation byte where a lead byte belongs
    if (!(b & 0x20)) {
        if (i + 1 >= n || !is_cont(s[i + 1])) goto bad;
        *pos = i + 2;
        return ((uint32_t)(b & 0x1F) << 6) | (s[i + 1] & 0x3F);
    }
    if (!(b & 0x10)) {
        if (i + 2 >= n || !is_cont(s[i + 1]) || !is_cont(s[i + 2])) goto bad;
        *pos = i + 3;
        return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    }
    if (!(b & 0x08)) {
        if (i + 3 >= n || !is_cont(s[i + 1]) || !is_cont(s[i + 2]) || !is_cont(s[i + 3])) goto bad;
        *pos = i + 4;
        return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
               ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
    }
bad:
    *pos = i + 1;
    return XT_CPT_REPLACEMENT;
}

size_t xt_utf8_put(uint32_t cpt, uint8_t *out) {
    if (cpt < 0x80) {
        out[0] = (uint8_t)cpt;
        return 1;
    }
    if (cpt < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cpt >> 6));
        out[1] = (uint8_t)(0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cpt >> 12));
        out[1] = (uint8_t)(0x80 | ((cpt >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cpt & 0x3F));
        return 3;
    }
    if (cpt > 0x10FFFF) return xt_utf8_put(XT_CPT_REPLACEMENT, out);
    out[0] = (uint8_t)(0xF0 | (cpt >> 18));
    out[1] = (uint8_t)(0x80 | ((cpt >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cpt >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cpt & 0x3F));
    return 4;
}

// ---- GPT-2 byte-level alphabet ----
// Printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) stand for themselves; the other 68 bytes,
// in increasing order, take U+0100, U+0101, ...

static int printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

// The 68 others are 0x00..0x20 (33), 0x7F..0xA0 (34) and 0xAD.
uint32_t xt_byte_to_cpt(uint8_t b) {
    if (printable(b)) return b;
    if (b <= 0x20) return 0x100u + b;
    if (b <= 0xA0) return 0x100u + 33 + (b - 0x7Fu);
    return 0x100u + 67;  // 0xAD
}

int xt_cpt_to_byte(uint32_t cpt) {
    if (cpt < 0x100) return printable(cpt) ? (int)cpt : -1;
    uint32_t n = cpt - 0x100;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(0x7F + n - 33);
    if (n == 67) return 0xAD;
    return -1;
}
