// safetensors.h — limits of the safetensors reader (the API itself is public, in xtral.h).
// They match the reference implementation (the `safetensors` Rust crate) where it has one.
#ifndef XT_GGUF_SAFETENSORS_H
#define XT_GGUF_SAFETENSORS_H

#include "xtral.h"

// Largest JSON header, in bytes (the Rust crate's MAX_HEADER_SIZE).
#define XT_ST_MAX_HEADER ((uint64_t)100000000)
// Most dimensions of one tensor (NumPy 1.x's NPY_MAXDIMS; the crate has no limit).
#define XT_ST_MAX_DIMS 32
// Longest name quoted in an error message.
#define XT_ST_MSG_NAME 200

#endif  // XT_GGUF_SAFETENSORS_H
