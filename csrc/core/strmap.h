// strmap.h — a small open-addressing hash map from borrowed NUL-terminated strings to int64
// indices. Used for duplicate detection and name lookup (keys, tensor names).
#ifndef XT_CORE_STRMAP_H
#define XT_CORE_STRMAP_H

#include "xtral.h"

typedef struct {
    const char **keys;   // (cap) borrowed; NULL = empty slot
    int64_t *values;     // (cap)
    size_t cap;          // power of two, > 2 * count
    size_t count;
} xt_strmap;

// Sizes the table for `n` entries. XT_ERR_NOMEM on failure.
xt_status xt_strmap_init(xt_strmap *m, size_t n);
void xt_strmap_free(xt_strmap *m);  // accepts a zeroed map
// Inserts key -> value. Returns false (and changes nothing) when the key is already present;
// the table never grows (it was sized by init).
bool xt_strmap_insert(xt_strmap *m, const char *key, int64_t value);
// Value for key, or -1.
int64_t xt_strmap_get(const xt_strmap *m, const char *key);

#endif  // XT_CORE_STRMAP_H
