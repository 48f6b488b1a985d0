// json.h — limits of the strict JSON reader (the API itself is public, in xtral.h).
// JSON arrives from untrusted files (safetensors headers, configs): every limit is named here.
#ifndef XT_GGUF_JSON_H
#define XT_GGUF_JSON_H

#include "xtral.h"

// Largest document accepted, in bytes (safetensors caps its header at 100 MB).
#define XT_JSON_MAX_INPUT ((size_t)256 * 1024 * 1024)
// Deepest nesting of arrays and objects (serde_json's default recursion limit).
#define XT_JSON_MAX_DEPTH 128
// Most values in one document (each costs sizeof(xt_json_value) in the arena).
#define XT_JSON_MAX_VALUES ((size_t)1 << 24)
// Longest key quoted in an error message.
#define XT_JSON_MSG_KEY 80

#endif  // XT_GGUF_JSON_H
