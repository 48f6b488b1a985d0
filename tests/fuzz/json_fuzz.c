// json_fuzz.c — libFuzzer target for the strict JSON reader: parses arbitrary bytes with
// xt_json_parse and, when they parse, walks the whole tree checking its invariants.
//
// Build and run: tests/fuzz/build.sh run 60   (see that script for the flags)
// A crash, sanitizer report, leak or failed consistency check below is a finding.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "xtral.h"

// ---- consistency checks ----
#define FUZZ_CHECK(cond) \
    do {                 \
        if (!(cond)) __builtin_trap(); \
    } while (0)

static volatile uint8_t g_sink;  // keeps reads from being optimised away

static void touch(const char *s, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc ^= (uint8_t)s[i];
    FUZZ_CHECK(s[n] == '\0');  // every string is NUL-terminated
    g_sink ^= acc;
}

// ---- walking the tree ----

static void walk(const xt_json_value *v, size_t size, int depth) {
    FUZZ_CHECK(depth <= 128);
    FUZZ_CHECK(v->offset < size);
    FUZZ_CHECK(strcmp(xt_json_type_name(v->type), "?") != 0);
    switch (v->type) {
    case XT_JSON_DOUBLE: FUZZ_CHECK(isfinite(v->v.d)); break;
    case XT_JSON_STRING: touch(v->v.str.ptr, v->v.str.len); break;
    case XT_JSON_ARRAY:
        for (size_t i = 0; i < v->v.arr.count; i++) {
            FUZZ_CHECK(xt_json_at(v, i) == &v->v.arr.items[i]);
            walk(&v->v.arr.items[i], size, depth + 1);
        }
        FUZZ_CHECK(xt_json_at(v, v->v.arr.count) == NULL);
        break;
    case XT_JSON_OBJECT:
        for (size_t i = 0; i < v->v.obj.count; i++) {
            const xt_json_member *m = &v->v.obj.members[i];
            touch(m->key, m->key_len);
            FUZZ_CHECK(m->key_offset < m->value.offset);
            // keys are unique: a key without U+0000 finds its own member
            if (strlen(m->key) == m->key_len) FUZZ_CHECK(xt_json_get(v, m->key) == &m->value);
            walk(&m->value, size, depth + 1);
        }
        break;
    default: break;
    }
}

// ---- entry point ----

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xt_json *doc = NULL;
    if (xt_json_parse(data, size, &doc) != XT_OK) {
        FUZZ_CHECK(doc == NULL);
        FUZZ_CHECK(strncmp(xt_last_error(), "JSON: ", 6) == 0);
        return 0;
    }
    walk(xt_json_root(doc), size, 0);
    xt_json_free(doc);
    return 0;
}
