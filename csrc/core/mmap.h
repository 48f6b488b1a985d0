// mmap.h — read-only file mappings, so weights are views, never copies.
#ifndef XT_CORE_MMAP_H
#define XT_CORE_MMAP_H

#include "xtral.h"

typedef struct {
    const uint8_t *data;  // NULL for an empty file
    size_t size;
} xt_mapping;

// Maps `path` read-only. XT_ERR_IO (errno kept: ENOENT, EISDIR, EACCES, ...) on failure.
xt_status xt_mapping_open(const char *path, xt_mapping *out);
void xt_mapping_close(xt_mapping *m);  // accepts a zeroed mapping

#endif  // XT_CORE_MMAP_H
