// dtype.h — the dtype traits table: one row per ggml tensor type id (name, block size,
// bytes per block). Kernels (to_float, from_float, vec_dot) join the rows as formats land.
#ifndef XT_CORE_DTYPE_H
#define XT_CORE_DTYPE_H

#include "xtral.h"

#define XT_QK_K 256

typedef struct {
    xt_dtype_info info;
} xt_dtype_traits;

extern const xt_dtype_traits xt_dtype_table[XT_DTYPE_COUNT];

// Bytes of a row of `n` elements of `type`; XT_ERR_BAD_FILE-style checks are the caller's.
// Returns false when n is not a multiple of the block size or the type is invalid.
bool xt_dtype_row_size(uint32_t type, int64_t n, size_t *out);

#endif  // XT_CORE_DTYPE_H
