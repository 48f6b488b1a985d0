// tensor.c — building contiguous tensor descriptors with overflow-checked strides.
#include "core/tensor.h"

#include "core/dtype.h"
#include "core/status.h"

xt_status xt_tensor_init(xt_tensor *t, xt_dtype type, int32_t n_dims, const int64_t *ne,
                         void *data) {
    const xt_dtype_info *info = xt_dtype_get((uint32_t)type);
    XT_RETURN_IF(info == NULL, XT_ERR_INVALID_ARG, "invalid tensor type id %d", (int)type);
    XT_RETURN_IF(n_dims < 1 || n_dims > XT_MAX_DIMS, XT_ERR_INVALID_ARG,
                 "tensor has %d dimensions; 1 to %d are supported", (int)n_dims, XT_MAX_DIMS);
    xt_tensor r = {.type = type, .n_dims = n_dims, .data = data};
    for (int i = 0; i < XT_MAX_DIMS; i++) r.ne[i] = i < n_dims ? ne[i] : 1;
    size_t row;
    XT_RETURN_IF(!xt_dtype_row_size((uint32_t)type, r.ne[0], &row), XT_ERR_INVALID_ARG,
                 "row length %" PRId64 " is not a multiple of the %s block size %" PRId64,
                 r.ne[0], info->name, info->block_size);
    r.nb[0] = info->type_size;
    r.nb[1] = row;
    for (int i = 2; i < XT_MAX_DIMS; i++) {
        XT_RETURN_IF(r.ne[i - 1] < 0 || (r.ne[i - 1] > 0 && r.nb[i - 1] > SIZE_MAX / (uint64_t)r.ne[i - 1]),
                     XT_ERR_INVALID_ARG, "tensor size overflows");
        r.nb[i] = r.nb[i - 1] * (size_t)r.ne[i - 1];
    }
    XT_RETURN_IF(r.ne[3] < 0 || (r.ne[3] > 0 && r.nb[3] > SIZE_MAX / (uint64_t)r.ne[3]),
                 XT_ERR_INVALID_ARG, "tensor size overflows");
    *t = r;
    return XT_OK;
}

int64_t xt_tensor_nelements(const xt_tensor *t) {
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

size_t xt_tensor_nbytes(const xt_tensor *t) { return t->nb[3] * (size_t)t->ne[3]; }
