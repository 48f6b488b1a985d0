// strmap.c — FNV-1a hashing with linear probing over a fixed-size table.
#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

xt_status xt_strmap_init(xt_strmap *m, size_t n) {
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < 2 * n + 1) {
        XT_RETURN_IF(cap > SIZE_MAX / 4 / sizeof(int64_t), XT_ERR_NOMEM, "hash table too large");
        cap *= 2;
    }
    m->keys = calloc(cap, sizeof *m->keys);
    m->values = calloc(cap, sizeof *m->values);
    if (m->keys == NULL || m->values == NULL) {
        xt_strmap_free(m);
        return xt_error(XT_ERR_NOMEM, "out of memory for a %zu-entry name table", n);
    }
    m->cap = cap;
    return XT_OK;
}

void xt_strmap_free(xt_strmap *m) {
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

bool xt_strmap_insert(xt_strmap *m, const char *key, int64_t value) {
    if (m->count + 1 > m->cap / 2) return false;  // sized by init; never reached by callers
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    while (m->keys[i] != NULL) {
        if (strcmp(m->keys[i], key) == 0) return false;
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->values[i] = value;
    m->count++;
    return true;
}

int64_t xt_strmap_get(const xt_strmap *m, const char *key) {
    if (m->cap == 0) return -1;
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    while (m->keys[i] != NULL) {
        if (strcmp(m->keys[i], key) == 0) return m->values[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}
