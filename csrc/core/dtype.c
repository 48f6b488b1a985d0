// dtype.c — the dtype traits table with every ggml tensor type id known today.
// Removed ids (4, 5, 31-33, 36-38) have no row: a file that uses them is rejected.
#include "core/dtype.h"

#include <ctype.h>
#include <string.h>

#include "core/status.h"

#define ROW(id, nm, blk, bytes, q) \
    [id] = {.info = {.name = nm, .block_size = blk, .type_size = bytes, .is_quantized = q}}

const xt_dtype_traits xt_dtype_table[XT_DTYPE_COUNT] = {
    ROW(XT_DTYPE_F32, "F32", 1, 4, false),
    ROW(XT_DTYPE_F16, "F16", 1, 2, false),
    ROW(XT_DTYPE_Q4_0, "Q4_0", 32, 18, true),
    ROW(XT_DTYPE_Q4_1, "Q4_1", 32, 20, true),
    ROW(XT_DTYPE_Q5_0, "Q5_0", 32, 22, true),
    ROW(XT_DTYPE_Q5_1, "Q5_1", 32, 24, true),
    ROW(XT_DTYPE_Q8_0, "Q8_0", 32, 34, true),
    ROW(XT_DTYPE_Q8_1, "Q8_1", 32, 36, true),
    ROW(XT_DTYPE_Q2_K, "Q2_K", XT_QK_K, 84, true),
    ROW(XT_DTYPE_Q3_K, "Q3_K", XT_QK_K, 110, true),
    ROW(XT_DTYPE_Q4_K, "Q4_K", XT_QK_K, 144, true),
    ROW(XT_DTYPE_Q5_K, "Q5_K", XT_QK_K, 176, true),
    ROW(XT_DTYPE_Q6_K, "Q6_K", XT_QK_K, 210, true),
    ROW(XT_DTYPE_Q8_K, "Q8_K", XT_QK_K, 292, true),
    ROW(XT_DTYPE_IQ2_XXS, "IQ2_XXS", XT_QK_K, 66, true),
    ROW(XT_DTYPE_IQ2_XS, "IQ2_XS", XT_QK_K, 74, true),
    ROW(XT_DTYPE_IQ3_XXS, "IQ3_XXS", XT_QK_K, 98, true),
    ROW(XT_DTYPE_IQ1_S, "IQ1_S", XT_QK_K, 50, true),
    ROW(XT_DTYPE_IQ4_NL, "IQ4_NL", 32, 18, true),
    ROW(XT_DTYPE_IQ3_S, "IQ3_S", XT_QK_K, 110, true),
    ROW(XT_DTYPE_IQ2_S, "IQ2_S", XT_QK_K, 82, true),
    ROW(XT_DTYPE_IQ4_XS, "IQ4_XS", XT_QK_K, 136, true),
    ROW(XT_DTYPE_I8, "I8", 1, 1, false),
    ROW(XT_DTYPE_I16, "I16", 1, 2, false),
    ROW(XT_DTYPE_I32, "I32", 1, 4, false),
    ROW(XT_DTYPE_I64, "I64", 1, 8, false),
    ROW(XT_DTYPE_F64, "F64", 1, 8, false),
    ROW(XT_DTYPE_IQ1_M, "IQ1_M", XT_QK_K, 56, true),
    ROW(XT_DTYPE_BF16, "BF16", 1, 2, false),
    ROW(XT_DTYPE_TQ1_0, "TQ1_0", XT_QK_K, 54, true),
    ROW(XT_DTYPE_TQ2_0, "TQ2_0", XT_QK_K, 66, true),
    ROW(XT_DTYPE_MXFP4, "MXFP4", 32, 17, true),
    ROW(XT_DTYPE_NVFP4, "NVFP4", 64, 36, true),
    ROW(XT_DTYPE_Q1_0, "Q1_0", 128, 18, true),
    ROW(XT_DTYPE_Q2_0, "Q2_0", 64, 18, true),
    // Element formats: the 128x128 block scales are a separate float32 grid.
    ROW(XT_DTYPE_FP8_E4M3, "FP8_E4M3", 1, 1, true),
    ROW(XT_DTYPE_FP8_E5M2, "FP8_E5M2", 1, 1, true),
};

const xt_dtype_info *xt_dtype_get(uint32_t id) {
    if (id >= XT_DTYPE_COUNT || xt_dtype_table[id].info.block_size == 0) return NULL;
    return &xt_dtype_table[id].info;
}

static bool name_equal_nocase(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b)) return false;
    }
    return *a == *b;
}

xt_status xt_dtype_from_name(const char *name, xt_dtype *out) {
    for (uint32_t id = 0; id < XT_DTYPE_COUNT; id++) {
        const xt_dtype_info *info = xt_dtype_get(id);
        if (info && name_equal_nocase(info->name, name)) {
            *out = (xt_dtype)id;
            return XT_OK;
        }
    }
    return xt_error(XT_ERR_INVALID_ARG, "unknown tensor type '%s'", name);
}

bool xt_dtype_row_size(uint32_t type, int64_t n, size_t *out) {
    const xt_dtype_info *info = xt_dtype_get(type);
    if (info == NULL || n < 0 || n % info->block_size != 0) return false;
    uint64_t blocks = (uint64_t)(n / info->block_size);
    if (blocks > SIZE_MAX / info->type_size) return false;
    *out = (size_t)blocks * info->type_size;
    return true;
}
