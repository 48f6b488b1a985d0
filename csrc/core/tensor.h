// tensor.h — the tensor descriptor shared by every layer: dtype, shape and strides.
// ne/nb are defined here once: ne[i] in elements, nb[i] in bytes, innermost dimension first.
#ifndef XT_CORE_TENSOR_H
#define XT_CORE_TENSOR_H

#include "xtral.h"

#define XT_MAX_DIMS 4

typedef struct {
    xt_dtype type;
    int32_t n_dims;            // 1..XT_MAX_DIMS
    int64_t ne[XT_MAX_DIMS];   // elements per dimension (ggml order: ne[0] is the row length)
    size_t nb[XT_MAX_DIMS];    // bytes between consecutive indices in each dimension
    void *data;                // borrowed (a view into a mapping) unless the owner says so
    const char *name;          // borrowed, may be NULL
} xt_tensor;

// Fills `t` as a contiguous tensor over `data`. XT_ERR_INVALID_ARG when the shape does not
// fit the type (ne[0] not a multiple of the block size, negative or overflowing sizes).
xt_status xt_tensor_init(xt_tensor *t, xt_dtype type, int32_t n_dims, const int64_t *ne,
                         void *data);
int64_t xt_tensor_nelements(const xt_tensor *t);
size_t xt_tensor_nbytes(const xt_tensor *t);

#endif  // XT_CORE_TENSOR_H
