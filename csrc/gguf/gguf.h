// gguf.h — internal header of the GGUF subsystem (reader, writer, value helpers, tensor map).
// The public handle API is in xtral.h; this header holds the format and the shared helpers.
//
// Format (little-endian; see docs/formats.md of the project's design notes):
//   file   := header kv[n_kv] tensor_info[n_tensors] pad-to-ALIGNMENT data
//   header := "GGUF" version:u32 n_tensors:u64 n_kv:u64          (versions 2 and 3)
//   kv     := key:string type:u32 value
//   value  := scalar | string | array(elem_type:u32 count:u64 elem[count])
//   tensor_info := name:string n_dims:u32 ne[n_dims]:u64 type:u32 offset:u64
//   string := len:u64 bytes[len]
// The data section starts at align_up(end of tensor infos, ALIGNMENT); ALIGNMENT comes from
// general.alignment (u32, power of two), default 32; every tensor offset is a multiple of it.
#ifndef XT_GGUF_GGUF_H
#define XT_GGUF_GGUF_H

#include "xtral.h"

#define XT_GGUF_MAGIC "GGUF"
#define XT_GGUF_DEFAULT_ALIGNMENT 32u
#define XT_GGUF_MAX_DIMS 4
#define XT_GGUF_MAX_NAME 63          // ggml stores names in 64 bytes with the NUL
#define XT_GGUF_MAX_KEY 65535
#define XT_GGUF_MAX_DEPTH 8          // nesting of arrays of arrays
#define XT_GGUF_MAX_LAYERS 65536     // memory plan: more blocks than this is a bad file

// Deep copy of `src` into malloc'd memory (strings, array payloads, items). Free with
// xt_gguf_value_free_owned.
xt_status xt_gguf_value_copy(const xt_gguf_value *src, xt_gguf_value *dst);
// Frees what xt_gguf_value_copy allocated inside `v` (not `v` itself).
void xt_gguf_value_free_owned(xt_gguf_value *v);
// Frees parser-allocated `items` arrays inside `v` (strings and data point into the mapping).
void xt_gguf_value_free_items(xt_gguf_value *v);
// Checks a value tree for consistency (valid types, items present for STRING/ARRAY elements,
// depth). Used by the writer before it accepts caller data.
xt_status xt_gguf_value_validate(const xt_gguf_value *v, const char *key, int depth);
// Interprets an integer-typed scalar as uint64; false for other types or negatives.
bool xt_gguf_value_as_u64(const xt_gguf_value *v, uint64_t *out);

#endif  // XT_GGUF_GGUF_H
