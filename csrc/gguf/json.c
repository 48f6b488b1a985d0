// json.c — a strict RFC 8259 reader for untrusted text. Two passes: the first validates and
// counts, the second fills one arena sized exactly by the first, so a document is one malloc.
//
// Strictness beyond Python's json.loads (documented in docs and tests/test_json.py): unpaired
// surrogate escapes (not representable in UTF-8), duplicate keys in one object, numbers that
// overflow a double, and nesting deeper than XT_JSON_MAX_DEPTH are errors. Numbers are parsed
// with the "C" locale, so a process locale with a decimal comma changes nothing.
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef __APPLE__
#include <xlocale.h>
#endif

#include "core/status.h"
#include "gguf/json.h"

struct xt_json {
    xt_json_value root;
    void *arena;  // members (n_members), items (n_items), then string bytes
};

typedef struct {
    const uint8_t *p;
    size_t n;
    size_t pos;
    bool fill;  // second pass: write the tree
    // ---- first pass: counts ----
    size_t n_values;
    size_t n_items;      // array elements, all arrays together
    size_t n_members;    // object members, all objects together
    size_t n_bytes;      // decoded string bytes, a NUL after each string included
    size_t *counts;      // (n_containers) children of each array/object, in pre-order
    size_t n_containers;
    size_t cap_containers;
    // ---- second pass: arena cursors ----
    size_t container;  // next container ordinal
    xt_json_member *members;
    size_t members_used;
    xt_json_value *items;
    size_t items_used;
    char *bytes;
    size_t bytes_used;
} parser;

static xt_status fail(size_t at, const char *what) {
    return xt_error(XT_ERR_BAD_FILE, "JSON: %s at byte %zu", what, at);
}

// Error for the byte at ps->pos: end of input, or the offending character.
static xt_status unexpected(const parser *ps, const char *expected) {
    if (ps->pos >= ps->n) {
        return xt_error(XT_ERR_BAD_FILE, "JSON: unexpected end of input (expected %s) at byte %zu",
                        expected, ps->pos);
    }
    uint8_t c = ps->p[ps->pos];
    if (c >= 0x21 && c < 0x7f) {
        return xt_error(XT_ERR_BAD_FILE, "JSON: unexpected character '%c' (expected %s) at byte %zu",
                        c, expected, ps->pos);
    }
    return xt_error(XT_ERR_BAD_FILE, "JSON: unexpected byte 0x%02x (expected %s) at byte %zu", c,
                    expected, ps->pos);
}

static void skip_ws(parser *ps) {
    while (ps->pos < ps->n) {
        uint8_t c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        ps->pos++;
    }
}

static bool at(const parser *ps, uint8_t c) { return ps->pos < ps->n && ps->p[ps->pos] == c; }

// ---- strings ----

// Length of the valid UTF-8 sequence at p[0..n), or 0 (overlong forms, surrogates and code
// points above U+10FFFF are invalid, as in RFC 3629).
static size_t utf8_len(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
    }
    return len;
}

static int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Reads the 4 hex digits of a \u escape whose backslash is at `start`.
static xt_status read_hex4(parser *ps, size_t start, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = ps->pos < ps->n ? hex_digit(ps->p[ps->pos]) : -1;
        if (d < 0) return fail(start, "invalid \\u escape (needs 4 hex digits)");
        v = v << 4 | (uint32_t)d;
        ps->pos++;
    }
    *out = v;
    return XT_OK;
}

static size_t utf8_encode(uint32_t cp, uint8_t *b) {
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (uint8_t)(0xF0 | cp >> 18);
    b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    b[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

// Code point of the escape whose backslash is at ps->pos - 1 (the escape letter is next).
static xt_status read_escape(parser *ps, uint32_t *cp) {
    size_t start = ps->pos - 1;
    if (ps->pos >= ps->n) return fail(start, "unterminated escape");
    uint8_t e = ps->p[ps->pos++];
    switch (e) {
    case '"': *cp = '"'; return XT_OK;
    case '\\': *cp = '\\'; return XT_OK;
    case '/': *cp = '/'; return XT_OK;
    case 'b': *cp = '\b'; return XT_OK;
    case 'f': *cp = '\f'; return XT_OK;
    case 'n': *cp = '\n'; return XT_OK;
    case 'r': *cp = '\r'; return XT_OK;
    case 't': *cp = '\t'; return XT_OK;
    case 'u': break;
    default: return fail(start, "invalid escape");
    }
    uint32_t hi = 0;
    XT_TRY(read_hex4(ps, start, &hi));
    if (hi >= 0xDC00 && hi <= 0xDFFF) return fail(start, "unpaired low surrogate escape");
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = hi;
        return XT_OK;
    }
    if (ps->pos + 1 >= ps->n || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u') {
        return fail(start, "unpaired high surrogate escape");
    }
    ps->pos += 2;
    uint32_t lo = 0;
    XT_TRY(read_hex4(ps, ps->pos - 2, &lo));
    if (lo < 0xDC00 || lo > 0xDFFF) return fail(start, "unpaired high surrogate escape");
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return XT_OK;
}

// Parses the string whose opening quote is at ps->pos. In the second pass the decoded bytes
// (NUL-terminated) go to the arena and *ptr/*len describe them.
static xt_status parse_string(parser *ps, const char **ptr, size_t *len) {
    size_t start = ps->pos++;
    uint8_t *dst = ps->fill ? (uint8_t *)ps->bytes + ps->bytes_used : NULL;
    size_t out = 0;
    for (;;) {
        if (ps->pos >= ps->n) return fail(start, "unterminated string");
        uint8_t c = ps->p[ps->pos];
        if (c == '"') {
            ps->pos++;
            break;
        }
        if (c < 0x20) return fail(ps->pos, "control character in string (escape it)");
        if (c == '\\') {
            ps->pos++;
            uint32_t cp = 0;
            XT_TRY(read_escape(ps, &cp));
            uint8_t b[4];
            size_t k = utf8_encode(cp, b);
            if (dst) memcpy(dst + out, b, k);
            out += k;
            continue;
        }
        size_t k = utf8_len(ps->p + ps->pos, ps->n - ps->pos);
        if (k == 0) return fail(ps->pos, "invalid UTF-8 in string");
        if (dst) memcpy(dst + out, ps->p + ps->pos, k);
        out += k;
        ps->pos += k;
    }
    if (dst) {
        dst[out] = '\0';
        *ptr = (const char *)dst;
        *len = out;
        ps->bytes_used += out + 1;
    } else {
        ps->n_bytes += out + 1;
    }
    return XT_OK;
}

// ---- numbers ----

static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;
static void init_c_locale(void) { g_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static double to_double(const char *s) {
    pthread_once(&g_c_locale_once, init_c_locale);
    return g_c_locale ? strtod_l(s, NULL, g_c_locale) : strtod(s, NULL);
}

static bool is_digit(const parser *ps) {
    return ps->pos < ps->n && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9';
}

static xt_status parse_number(parser *ps, xt_json_value *out) {
    size_t start = ps->pos;
    bool neg = at(ps, '-');
    if (neg) ps->pos++;
    if (at(ps, 'I')) return fail(start, "-Infinity is not JSON");
    if (!is_digit(ps)) return fail(start, "expected a digit in number");
    bool integral = true;
    uint64_t mag = 0;
    bool big = false;  // magnitude beyond int64
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (ps->p[ps->pos] == '0') {
        ps->pos++;
        if (is_digit(ps)) return fail(start, "leading zeros are not allowed in numbers");
    } else {
        while (is_digit(ps)) {
            uint64_t d = (uint64_t)(ps->p[ps->pos++] - '0');
            if (mag > (limit - d) / 10) big = true;
            else mag = mag * 10 + d;
        }
    }
    if (at(ps, '.')) {
        integral = false;
        ps->pos++;
        if (!is_digit(ps)) return fail(ps->pos, "expected a digit after '.' in number");
        while (is_digit(ps)) ps->pos++;
    }
    if (at(ps, 'e') || at(ps, 'E')) {
        integral = false;
        ps->pos++;
        if (at(ps, '+') || at(ps, '-')) ps->pos++;
        if (!is_digit(ps)) return fail(ps->pos, "expected a digit in number exponent");
        while (is_digit(ps)) ps->pos++;
    }
    if (integral && !big) {
        if (out) {
            out->type = XT_JSON_INT;
            out->v.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;  // two's complement for -2^63
        }
        return XT_OK;
    }
    size_t len = ps->pos - start;
    char small[64];
    char *buf = len < sizeof small ? small : malloc(len + 1);
    XT_RETURN_IF(buf == NULL, XT_ERR_NOMEM, "JSON: out of memory for a %zu-byte number", len);
    memcpy(buf, ps->p + start, len);
    buf[len] = '\0';
    double d = to_double(buf);
    if (buf != small) free(buf);
    if (!isfinite(d)) return fail(start, "number out of the range of a double");
    if (out) {
        out->type = XT_JSON_DOUBLE;
        out->v.d = d;
    }
    return XT_OK;
}

// ---- values ----

static xt_status parse_value(parser *ps, xt_json_value *out, int depth);

static xt_status literal(parser *ps, const char *word, xt_json_type type, bool b,
                         xt_json_value *out) {
    size_t len = strlen(word);
    if (ps->n - ps->pos < len || memcmp(ps->p + ps->pos, word, len) != 0) {
        return unexpected(ps, "a value");
    }
    ps->pos += len;
    if (out) {
        out->type = type;
        out->v.b = b;
    }
    return XT_OK;
}

// Records one more container in the first pass; returns its ordinal.
static xt_status push_container(parser *ps, size_t *ordinal) {
    if (ps->n_containers == ps->cap_containers) {
        size_t cap = ps->cap_containers ? 2 * ps->cap_containers : 64;
        size_t *c = realloc(ps->counts, cap * sizeof *c);
        XT_RETURN_IF(c == NULL, XT_ERR_NOMEM, "JSON: out of memory for %zu containers", cap);
        ps->counts = c;
        ps->cap_containers = cap;
    }
    *ordinal = ps->n_containers++;
    ps->counts[*ordinal] = 0;
    return XT_OK;
}

static xt_status parse_array(parser *ps, xt_json_value *out, int depth) {
    ps->pos++;
    size_t ordinal = 0, count = 0;
    xt_json_value *items = NULL;
    if (ps->fill) {
        count = ps->counts[ps->container++];
        items = ps->items + ps->items_used;
        ps->items_used += count;
        out->type = XT_JSON_ARRAY;
        out->v.arr.items = items;
        out->v.arr.count = count;
    } else {
        XT_TRY(push_container(ps, &ordinal));
    }
    skip_ws(ps);
    if (at(ps, ']')) {
        ps->pos++;
        return XT_OK;
    }
    for (size_t i = 0;; i++) {
        XT_TRY(parse_value(ps, items ? &items[i] : NULL, depth + 1));
        if (!ps->fill) {
            ps->counts[ordinal]++;
            ps->n_items++;
        }
        skip_ws(ps);
        if (at(ps, ']')) break;
        if (!at(ps, ',')) return unexpected(ps, "',' or ']' in array");
        ps->pos++;
        skip_ws(ps);
        if (at(ps, ']')) return fail(ps->pos, "trailing comma in array");
    }
    ps->pos++;
    return XT_OK;
}

static int cmp_member(const void *a, const void *b) {
    const xt_json_member *x = *(const xt_json_member *const *)a;
    const xt_json_member *y = *(const xt_json_member *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x < y ? -1 : x > y;  // equal keys: text order
}

static bool same_key(const xt_json_member *x, const xt_json_member *y) {
    return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0;
}

// Rejects an object with a repeated key, naming the first repeat in text order.
static xt_status check_duplicates(const xt_json_member *m, size_t count) {
    const xt_json_member *dup = NULL;
    if (count <= 16) {
        for (size_t j = 1; j < count && dup == NULL; j++) {
            for (size_t i = 0; i < j; i++) {
                if (same_key(&m[i], &m[j])) {
                    dup = &m[j];
                    break;
                }
            }
        }
    } else {
        const xt_json_member **s = malloc(count * sizeof *s);
        XT_RETURN_IF(s == NULL, XT_ERR_NOMEM, "JSON: out of memory checking %zu keys", count);
        for (size_t i = 0; i < count; i++) s[i] = &m[i];
        qsort(s, count, sizeof *s, cmp_member);
        for (size_t i = 1; i < count; i++) {
            if (same_key(s[i - 1], s[i]) && (dup == NULL || s[i] < dup)) dup = s[i];
        }
        free(s);
    }
    if (dup == NULL) return XT_OK;
    int shown = dup->key_len > XT_JSON_MSG_KEY ? XT_JSON_MSG_KEY : (int)dup->key_len;
    return xt_error(XT_ERR_BAD_FILE, "JSON: duplicate key '%.*s%s' in an object at byte %zu",
                    shown, dup->key, dup->key_len > XT_JSON_MSG_KEY ? "..." : "",
                    dup->key_offset);
}

static xt_status parse_object(parser *ps, xt_json_value *out, int depth) {
    ps->pos++;
    size_t ordinal = 0, count = 0;
    xt_json_member *members = NULL;
    if (ps->fill) {
        count = ps->counts[ps->container++];
        members = ps->members + ps->members_used;
        ps->members_used += count;
        out->type = XT_JSON_OBJECT;
        out->v.obj.members = members;
        out->v.obj.count = count;
    } else {
        XT_TRY(push_container(ps, &ordinal));
    }
    skip_ws(ps);
    if (at(ps, '}')) {
        ps->pos++;
        return XT_OK;
    }
    for (size_t i = 0;; i++) {
        if (!at(ps, '"')) return unexpected(ps, "a string key");
        xt_json_member *m = members ? &members[i] : NULL;
        const char *key = NULL;
        size_t key_len = 0, key_offset = ps->pos;
        XT_TRY(parse_string(ps, &key, &key_len));
        if (m) {
            m->key = key;
            m->key_len = key_len;
            m->key_offset = key_offset;
        }
        skip_ws(ps);
        if (!at(ps, ':')) return unexpected(ps, "':' after an object key");
        ps->pos++;
        XT_TRY(parse_value(ps, m ? &m->value : NULL, depth + 1));
        if (!ps->fill) {
            ps->counts[ordinal]++;
            ps->n_members++;
        }
        skip_ws(ps);
        if (at(ps, '}')) break;
        if (!at(ps, ',')) return unexpected(ps, "',' or '}' in object");
        ps->pos++;
        skip_ws(ps);
        if (at(ps, '}')) return fail(ps->pos, "trailing comma in object");
    }
    ps->pos++;
    return ps->fill ? check_duplicates(members, count) : XT_OK;
}

static xt_status parse_value(parser *ps, xt_json_value *out, int depth) {
    skip_ws(ps);
    if (!ps->fill && ++ps->n_values > XT_JSON_MAX_VALUES) {
        return xt_error(XT_ERR_BAD_FILE, "JSON: more than %zu values at byte %zu",
                        XT_JSON_MAX_VALUES, ps->pos);
    }
    if (out) out->offset = ps->pos;
    if (ps->pos >= ps->n) return unexpected(ps, "a value");
    switch (ps->p[ps->pos]) {
    case '{':
    case '[':
        if (depth >= XT_JSON_MAX_DEPTH) {
            return xt_error(XT_ERR_BAD_FILE, "JSON: nesting deeper than %d levels at byte %zu",
                            XT_JSON_MAX_DEPTH, ps->pos);
        }
        return ps->p[ps->pos] == '{' ? parse_object(ps, out, depth) : parse_array(ps, out, depth);
    case '"': {
        const char *s = NULL;
        size_t len = 0;
        XT_TRY(parse_string(ps, &s, &len));
        if (out) {
            out->type = XT_JSON_STRING;
            out->v.str.ptr = s;
            out->v.str.len = len;
        }
        return XT_OK;
    }
    case 't': return literal(ps, "true", XT_JSON_BOOL, true, out);
    case 'f': return literal(ps, "false", XT_JSON_BOOL, false, out);
    case 'n': return literal(ps, "null", XT_JSON_NULL, false, out);
    case 'N':
    case 'I': return fail(ps->pos, "NaN and Infinity are not JSON");
    default:
        if (ps->p[ps->pos] == '-' || (ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9')) {
            return parse_number(ps, out);
        }
        return unexpected(ps, "a value");
    }
}

// ---- public API ----

static xt_status parse_document(parser *ps, xt_json *doc) {
    if (ps->n >= 3 && ps->p[0] == 0xEF && ps->p[1] == 0xBB && ps->p[2] == 0xBF) {
        return fail(0, "a byte order mark is not allowed");
    }
    XT_TRY(parse_value(ps, NULL, 0));
    skip_ws(ps);
    if (ps->pos != ps->n) return unexpected(ps, "end of input after the value");

    size_t msize = ps->n_members * sizeof(xt_json_member);
    size_t isize = ps->n_items * sizeof(xt_json_value);
    doc->arena = malloc(msize + isize + ps->n_bytes + 1);
    XT_RETURN_IF(doc->arena == NULL, XT_ERR_NOMEM, "JSON: out of memory for a %zu-byte tree",
                 msize + isize + ps->n_bytes);
    ps->members = doc->arena;
    ps->items = (xt_json_value *)((char *)doc->arena + msize);
    ps->bytes = (char *)doc->arena + msize + isize;
    ps->fill = true;
    ps->pos = 0;
    XT_TRY(parse_value(ps, &doc->root, 0));
    XT_ASSERT(ps->members_used == ps->n_members && ps->items_used == ps->n_items &&
              ps->bytes_used == ps->n_bytes && ps->container == ps->n_containers);
    return XT_OK;
}

xt_status xt_json_parse(const void *text, size_t len, xt_json **out) {
    XT_RETURN_IF((text == NULL && len > 0) || out == NULL, XT_ERR_INVALID_ARG,
                 "xt_json_parse: NULL argument");
    XT_RETURN_IF(len > XT_JSON_MAX_INPUT, XT_ERR_BAD_FILE,
                 "JSON: a document of %zu bytes is larger than the %zu-byte limit", len,
                 XT_JSON_MAX_INPUT);
    xt_json *doc = calloc(1, sizeof *doc);
    XT_RETURN_IF(doc == NULL, XT_ERR_NOMEM, "JSON: out of memory");
    parser ps = {.p = text, .n = len};
    xt_status s = parse_document(&ps, doc);
    free(ps.counts);
    if (s != XT_OK) {
        xt_json_free(doc);
        return s;
    }
    *out = doc;
    return XT_OK;
}

void xt_json_free(xt_json *doc) {
    if (doc == NULL) return;
    free(doc->arena);
    free(doc);
}

const xt_json_value *xt_json_root(const xt_json *doc) { return &doc->root; }

const xt_json_value *xt_json_get(const xt_json_value *v, const char *key) {
    if (v == NULL || v->type != XT_JSON_OBJECT || key == NULL) return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < v->v.obj.count; i++) {
        const xt_json_member *m = &v->v.obj.members[i];
        if (m->key_len == len && memcmp(m->key, key, len) == 0) return &m->value;
    }
    return NULL;
}

const xt_json_value *xt_json_at(const xt_json_value *v, size_t i) {
    if (v == NULL || v->type != XT_JSON_ARRAY || i >= v->v.arr.count) return NULL;
    return &v->v.arr.items[i];
}

bool xt_json_is(const xt_json_value *v, xt_json_type t) { return v != NULL && v->type == t; }

const char *xt_json_type_name(xt_json_type t) {
    switch (t) {
    case XT_JSON_NULL: return "null";
    case XT_JSON_BOOL: return "bool";
    case XT_JSON_INT: return "int";
    case XT_JSON_DOUBLE: return "float";
    case XT_JSON_STRING: return "string";
    case XT_JSON_ARRAY: return "array";
    case XT_JSON_OBJECT: return "object";
    }
    return "?";
}
