// xtral.h — the public C API of the xtral engine: opaque handles, status codes, versions.
// Everything above csrc/ (the Python binding included) calls only what is declared here.
//
// Usage:
//     xt_gguf *g = NULL;
//     if (xt_gguf_open("model.gguf", &g) != XT_OK) {
//         fprintf(stderr, "%s\n", xt_last_error());
//         return 1;
//     }
//     printf("%" PRId64 " tensors\n", xt_gguf_n_tensors(g));
//     xt_gguf_free(g);
#ifndef XTRAL_H
#define XTRAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XT_VERSION_MAJOR 0
#define XT_VERSION_MINOR 1
#define XT_VERSION_PATCH 0

// ---- status ----
// Numbers are pinned: bindings and tests rely on them.
typedef enum {
    XT_OK = 0,
    XT_ERR_INVALID_ARG = 1,  // a caller passed a bad value (range, shape, name)
    XT_ERR_BAD_FILE = 2,     // file content is malformed (GGUF, safetensors, JSON)
    XT_ERR_IO = 3,           // the OS refused (open, stat, mmap, write); errno kept
    XT_ERR_NOMEM = 4,        // allocation failed
    XT_ERR_UNSUPPORTED = 5,  // well-formed but not supported (version, type, op)
    XT_ERR_NOT_FOUND = 6,    // a named key or tensor does not exist
    XT_ERR_INTERNAL = 7,     // a broken invariant (a bug): file and line in the message
    XT_ERR_CANCELLED = 8,    // an abort flag stopped a long operation
} xt_status;

// Message of the last failing call on this thread ("" when none). Borrowed; valid until the
// next failing call on the same thread.
const char *xt_last_error(void);
// errno saved by the last XT_ERR_IO on this thread (0 otherwise).
int xt_last_errno(void);
// Short name of a status ("XT_ERR_BAD_FILE").
const char *xt_status_name(xt_status s);

// ---- logging ----
typedef enum { XT_LOG_DEBUG = 10, XT_LOG_INFO = 20, XT_LOG_WARN = 30, XT_LOG_ERROR = 40 } xt_log_level;
// Messages are routed to `fn` (silent when NULL, the default). `fn` may be called from any
// thread; the message is borrowed for the duration of the call.
typedef void (*xt_log_fn)(xt_log_level level, const char *msg, void *user);
void xt_log_set_callback(xt_log_fn fn, void *user);

// ---- dtypes (ggml tensor type ids, as stored in GGUF files) ----
typedef enum {
    XT_DTYPE_F32 = 0, XT_DTYPE_F16 = 1, XT_DTYPE_Q4_0 = 2, XT_DTYPE_Q4_1 = 3,
    XT_DTYPE_Q5_0 = 6, XT_DTYPE_Q5_1 = 7, XT_DTYPE_Q8_0 = 8, XT_DTYPE_Q8_1 = 9,
    XT_DTYPE_Q2_K = 10, XT_DTYPE_Q3_K = 11, XT_DTYPE_Q4_K = 12, XT_DTYPE_Q5_K = 13,
    XT_DTYPE_Q6_K = 14, XT_DTYPE_Q8_K = 15, XT_DTYPE_IQ2_XXS = 16, XT_DTYPE_IQ2_XS = 17,
    XT_DTYPE_IQ3_XXS = 18, XT_DTYPE_IQ1_S = 19, XT_DTYPE_IQ4_NL = 20, XT_DTYPE_IQ3_S = 21,
    XT_DTYPE_IQ2_S = 22, XT_DTYPE_IQ4_XS = 23, XT_DTYPE_I8 = 24, XT_DTYPE_I16 = 25,
    XT_DTYPE_I32 = 26, XT_DTYPE_I64 = 27, XT_DTYPE_F64 = 28, XT_DTYPE_IQ1_M = 29,
    XT_DTYPE_BF16 = 30, XT_DTYPE_TQ1_0 = 34, XT_DTYPE_TQ2_0 = 35, XT_DTYPE_MXFP4 = 39,
    XT_DTYPE_NVFP4 = 40, XT_DTYPE_Q1_0 = 41, XT_DTYPE_Q2_0 = 42,
    XT_GGML_TYPE_COUNT = 43,   // ids below this are ggml's and may appear in GGUF files
    // xtral's own element formats (never stored in GGUF): FP8 with 128x128 block scales.
    XT_DTYPE_FP8_E4M3 = 64, XT_DTYPE_FP8_E5M2 = 65,
    XT_DTYPE_COUNT = 66,
} xt_dtype;

typedef struct {
    const char *name;     // "Q4_K"; NULL for removed ids
    int64_t block_size;   // elements per block; 0 for removed ids
    size_t type_size;     // bytes per block
    bool is_quantized;
} xt_dtype_info;

// Row of the dtype table, or NULL when `id` is not a valid, present type.
const xt_dtype_info *xt_dtype_get(uint32_t id);
// Looks a type up by name (case-insensitive); XT_ERR_INVALID_ARG when unknown.
xt_status xt_dtype_from_name(const char *name, xt_dtype *out);

// ---- GGUF values ----
typedef enum {
    XT_GGUF_UINT8 = 0, XT_GGUF_INT8 = 1, XT_GGUF_UINT16 = 2, XT_GGUF_INT16 = 3,
    XT_GGUF_UINT32 = 4, XT_GGUF_INT32 = 5, XT_GGUF_FLOAT32 = 6, XT_GGUF_BOOL = 7,
    XT_GGUF_STRING = 8, XT_GGUF_ARRAY = 9, XT_GGUF_UINT64 = 10, XT_GGUF_INT64 = 11,
    XT_GGUF_FLOAT64 = 12,
    XT_GGUF_TYPE_COUNT = 13,
} xt_gguf_type;

// A metadata value. Strings and fixed-size array payloads point into the file mapping
// (borrowed; not NUL-terminated, little-endian, possibly unaligned).
typedef struct xt_gguf_value xt_gguf_value;
struct xt_gguf_value {
    xt_gguf_type type;
    union {
        uint64_t u64;   // UINT8..UINT64, BOOL (0/1 as stored; any non-zero is true)
        int64_t i64;    // INT8..INT64, sign-extended
        double f64;     // FLOAT32 (widened), FLOAT64
        struct { const char *ptr; uint64_t len; } str;
        struct {
            xt_gguf_type elem_type;
            uint64_t count;
            const uint8_t *data;        // fixed-size element types: count * elem size bytes
            const xt_gguf_value *items; // STRING and ARRAY element types: count values
        } arr;
    } v;
};

// Size in bytes of one fixed-size value type; 0 for STRING, ARRAY and invalid ids.
size_t xt_gguf_type_size(xt_gguf_type t);
// "uint32", "string", ...; NULL for invalid ids.
const char *xt_gguf_type_name(xt_gguf_type t);

// ---- GGUF reader ----
typedef struct xt_gguf xt_gguf;

typedef struct {
    const char *name;       // NUL-terminated copy, owned by the handle
    uint32_t n_dims;        // 0..4 (0: a one-element scalar, as ggml and gguf-py allow)
    int64_t ne[4];          // elements per dimension, innermost first (ggml order); unused = 1
    uint32_t type;          // xt_dtype id
    uint64_t offset;        // relative to the data section
    uint64_t nbytes;
    const uint8_t *data;    // into the mapping (borrowed)
} xt_gguf_tensor;

// Opens and validates a GGUF file (mmapped, read-only). Caller frees with xt_gguf_free.
xt_status xt_gguf_open(const char *path, xt_gguf **out);
// Parses a GGUF image held in memory. `data` is borrowed and must outlive the handle.
xt_status xt_gguf_open_memory(const void *data, size_t size, xt_gguf **out);
void xt_gguf_free(xt_gguf *g);  // accepts NULL

uint32_t xt_gguf_version(const xt_gguf *g);
uint32_t xt_gguf_alignment(const xt_gguf *g);
uint64_t xt_gguf_data_offset(const xt_gguf *g);   // absolute file offset of the data section
uint64_t xt_gguf_file_size(const xt_gguf *g);
int64_t xt_gguf_n_kv(const xt_gguf *g);
int64_t xt_gguf_n_tensors(const xt_gguf *g);
// Key i (NUL-terminated, owned by the handle) and its value (borrowed). i must be in range.
const char *xt_gguf_kv_key(const xt_gguf *g, int64_t i);
const xt_gguf_value *xt_gguf_kv_value(const xt_gguf *g, int64_t i);
// Index of a key, or -1.
int64_t xt_gguf_find_key(const xt_gguf *g, const char *key);
const xt_gguf_tensor *xt_gguf_tensor_at(const xt_gguf *g, int64_t i);
// Index of a tensor, or -1.
int64_t xt_gguf_find_tensor(const xt_gguf *g, const char *name);
// Value of general.architecture, or NULL (NUL-terminated copy owned by the handle).
const char *xt_gguf_architecture(const xt_gguf *g);

// ---- memory plan (tensor map) ----
typedef struct {
    char architecture[64];       // general.architecture, or "" when absent
    bool fallback;               // true when the layer layout was probed from tensor names
    int64_t n_layers;
    uint64_t non_mapped_size;    // bytes of all tensors outside the repeating blocks
    const uint64_t *layer_sizes; // n_layers entries (borrowed, owned by the handle)
} xt_memory_plan;

// Builds (once, then cached) the tensor map and returns the memory plan. For an architecture
// that is not known, logs one warning naming it.
xt_status xt_gguf_memory_plan(xt_gguf *g, xt_memory_plan *out);

// ---- GGUF writer ----
typedef struct xt_gguf_writer xt_gguf_writer;

// Starts a writer (nothing touches the disk before xt_gguf_writer_write). alignment 0 = 32.
xt_status xt_gguf_writer_new(uint32_t alignment, xt_gguf_writer **out);
void xt_gguf_writer_free(xt_gguf_writer *w);  // accepts NULL
// Adds a key; the value (strings, arrays, nested items) is deep-copied.
xt_status xt_gguf_writer_add_kv(xt_gguf_writer *w, const char *key, const xt_gguf_value *value);
// Adds a tensor. `data` (nbytes long, as the type requires) is borrowed until write returns.
xt_status xt_gguf_writer_add_tensor(xt_gguf_writer *w, const char *name, uint32_t n_dims,
                                    const int64_t *ne, uint32_t type, const void *data,
                                    size_t nbytes);
// Writes the file atomically (to a temporary next to `path`, then rename). On failure no
// output file is left behind.
xt_status xt_gguf_writer_write(xt_gguf_writer *w, const char *path);

// ---- thread pool ----
typedef struct xt_threadpool xt_threadpool;
// fn(task, n_tasks, ctx) is called once for each task index in [0, n_tasks).
typedef void (*xt_task_fn)(int64_t task, int64_t n_tasks, void *ctx);
// n_threads <= 0: one per online CPU. Caller frees with xt_threadpool_free.
xt_status xt_threadpool_new(int n_threads, xt_threadpool **out);
void xt_threadpool_free(xt_threadpool *p);  // accepts NULL
int xt_threadpool_size(const xt_threadpool *p);
// Runs all tasks on the pool's workers and the calling thread; returns when all are done.
// Not reentrant: one run at a time per pool.
xt_status xt_threadpool_run(xt_threadpool *p, xt_task_fn fn, void *ctx, int64_t n_tasks);

// ---- JSON ----
// A strict RFC 8259 reader for untrusted text (safetensors headers, configs). Limits are in
// gguf/json.h. Errors are XT_ERR_BAD_FILE "JSON: <what> at byte <offset>".
typedef enum {
    XT_JSON_NULL = 0, XT_JSON_BOOL = 1, XT_JSON_INT = 2, XT_JSON_DOUBLE = 3,
    XT_JSON_STRING = 4, XT_JSON_ARRAY = 5, XT_JSON_OBJECT = 6,
} xt_json_type;

typedef struct xt_json xt_json;  // a parsed document: owns every value, key and string
typedef struct xt_json_value xt_json_value;
typedef struct xt_json_member xt_json_member;
struct xt_json_value {
    xt_json_type type;
    size_t offset;  // byte offset of the value in the text (for messages)
    union {
        bool b;
        int64_t i;  // INT: a literal without fraction or exponent that fits int64
        double d;   // DOUBLE: every other number (always finite)
        struct { const char *ptr; size_t len; } str;  // UTF-8, NUL-terminated; may hold U+0000
        struct { const xt_json_value *items; size_t count; } arr;
        struct { const xt_json_member *members; size_t count; } obj;  // text order, keys unique
    } v;
};
struct xt_json_member {
    const char *key;    // UTF-8, NUL-terminated; may hold U+0000 (key_len counts it)
    size_t key_len;
    size_t key_offset;  // byte offset of the key's opening quote
    xt_json_value value;
};

// Parses `len` bytes of UTF-8 text. `text` is borrowed only during the call. Caller frees.
xt_status xt_json_parse(const void *text, size_t len, xt_json **out);
void xt_json_free(xt_json *doc);  // accepts NULL
const xt_json_value *xt_json_root(const xt_json *doc);  // borrowed from doc
// Member `key` of an object (linear scan), or NULL when v is not an object or has no such key.
const xt_json_value *xt_json_get(const xt_json_value *v, const char *key);
// Item i of an array, or NULL when v is not an array or i is out of range.
const xt_json_value *xt_json_at(const xt_json_value *v, size_t i);
// True when v is not NULL and has type t.
bool xt_json_is(const xt_json_value *v, xt_json_type t);
const char *xt_json_type_name(xt_json_type t);  // "object", "int", ...; "?" when invalid

// ---- safetensors ----
// Hugging Face safetensors files: u64 LE header length N, N bytes of JSON, then the data
// section. The file is mmapped; tensors are views into it.
typedef enum {
    XT_ST_BOOL = 0, XT_ST_U8 = 1, XT_ST_I8 = 2, XT_ST_F8_E5M2 = 3, XT_ST_F8_E4M3 = 4,
    XT_ST_F8_E8M0 = 5, XT_ST_F8_E4M3FNUZ = 6, XT_ST_F8_E5M2FNUZ = 7, XT_ST_I16 = 8,
    XT_ST_U16 = 9, XT_ST_F16 = 10, XT_ST_BF16 = 11, XT_ST_I32 = 12, XT_ST_U32 = 13,
    XT_ST_F32 = 14, XT_ST_C64 = 15, XT_ST_F64 = 16, XT_ST_I64 = 17, XT_ST_U64 = 18,
    XT_ST_DTYPE_COUNT = 19,
} xt_st_dtype;

typedef struct xt_safetensors xt_safetensors;

typedef struct {
    const char *name;      // NUL-terminated, owned by the handle
    xt_st_dtype dtype;
    uint32_t n_dims;       // 0 (a one-element scalar) .. XT_ST_MAX_DIMS (gguf/safetensors.h)
    const int64_t *shape;  // (n_dims) outermost first, as NumPy; owned by the handle
    uint64_t offset;       // data_offsets[0], relative to the data section
    uint64_t nbytes;       // data_offsets[1] - data_offsets[0]
    const uint8_t *data;   // into the mapping (borrowed); aligned only if the writer padded
} xt_st_tensor;

typedef struct {
    const char *key;       // NUL-terminated, owned by the handle
    const char *value;     // NUL-terminated UTF-8, owned by the handle; may hold U+0000
    size_t value_len;
} xt_st_kv;

// Opens and validates a safetensors file (mmapped, read-only). Caller frees.
xt_status xt_safetensors_open(const char *path, xt_safetensors **out);
// Parses an image held in memory. `data` is borrowed and must outlive the handle.
xt_status xt_safetensors_open_memory(const void *data, size_t size, xt_safetensors **out);
void xt_safetensors_free(xt_safetensors *h);  // accepts NULL

uint64_t xt_safetensors_file_size(const xt_safetensors *h);
uint64_t xt_safetensors_data_offset(const xt_safetensors *h);  // 8 + header length
// Tensors are in data order (sorted by data_offsets; header order breaks ties).
int64_t xt_safetensors_n_tensors(const xt_safetensors *h);
const xt_st_tensor *xt_safetensors_tensor_at(const xt_safetensors *h, int64_t i);  // i in range
int64_t xt_safetensors_find_tensor(const xt_safetensors *h, const char *name);  // index or -1
// "__metadata__" entries, in header order.
int64_t xt_safetensors_n_metadata(const xt_safetensors *h);
const xt_st_kv *xt_safetensors_metadata_at(const xt_safetensors *h, int64_t i);  // i in range
int64_t xt_safetensors_find_metadata(const xt_safetensors *h, const char *key);  // index or -1
// "F32", ...; NULL for invalid ids. Element size in bytes; 0 for invalid ids.
const char *xt_st_dtype_name(xt_st_dtype t);
size_t xt_st_dtype_size(xt_st_dtype t);

// ---- model ----
// A loaded model (weights mapped from the file, KV cache, scratch, a persistent thread pool).
// One model is not reentrant: callers serialize forward/reset on one handle (the Python
// binding holds a per-object lock); two models run in parallel.
typedef struct xt_model xt_model;

typedef struct {
    int n_threads;        // <= 0: one per online CPU
    int64_t n_ctx;        // KV capacity in tokens; 0: min(training context, 4096)
    xt_dtype kv_type;     // XT_DTYPE_F16 (default) or XT_DTYPE_F32
    int64_t n_batch;      // tokens per prefill chunk; 0: 512
    bool ggml_gelu;       // GELU through ggml's fp16 table (llama.cpp's numbers) instead of
                          // float32 (transformers' numbers)
} xt_model_params;

void xt_model_params_default(xt_model_params *p);
// Loads a GGUF model. Caller frees with xt_model_free.
xt_status xt_model_load(const char *path, const xt_model_params *params, xt_model **out);
void xt_model_free(xt_model *m);  // accepts NULL
// Runs `n` tokens after the n_past already in the cache and writes logits: (n, n_vocab) when
// all_logits, else (n_vocab) for the last token. On failure the cache is as it was (n_past
// unchanged). XT_ERR_INVALID_ARG for n < 1, ids out of range, or n_past + n > n_ctx.
xt_status xt_model_forward(xt_model *m, const int32_t *tokens, int64_t n, bool all_logits,
                           float *logits);
void xt_model_reset(xt_model *m);           // forgets the cache (n_past = 0)
int64_t xt_model_n_past(const xt_model *m);

typedef struct {
    const char *architecture;  // borrowed from the model
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    int64_t n_ctx, n_ctx_train, n_batch;
    int n_threads;
    xt_dtype kv_type;
    int64_t n_params;
    uint64_t weight_bytes, kv_bytes, scratch_bytes;
    int64_t type_tensors[XT_DTYPE_COUNT];  // tensors of each type
    int64_t type_params[XT_DTYPE_COUNT];   // elements of each type
} xt_model_info;

void xt_model_get_info(const xt_model *m, xt_model_info *out);
// Keeps the first n tokens of the cache and forgets the rest (n_past = n), so a new prompt that
// shares a prefix with the cached tokens only runs its suffix. XT_ERR_INVALID_ARG unless
// 0 <= n <= n_past. n = 0 is xt_model_reset. An active X-LoRA adapter keeps per-sequence
// state that a partial truncation does not rewind: reset instead.
xt_status xt_model_truncate(xt_model *m, int64_t n);

// ---- sampling ----
// A sampler turns a row of logits into a token id. Steps, in llama.cpp's order:
//   logit bias -> repetition/presence/frequency penalties over the last penalty_last_n accepted
//   tokens -> top-k -> top-p -> min-p -> temperature -> a draw from the softmax of what is left.
// temperature 0 is greedy (argmax after bias and penalties; the filters cannot change it).
// The sampler owns every buffer it needs (sized at creation): sampling allocates nothing.
// The random stream (xoshiro256**, seeded through splitmix64) depends only on the seed and on
// the sequence of calls, never on threads or the C library.
//
// Usage:
//     xt_sampler_params sp;
//     xt_sampler_params_default(&sp);
//     sp.temperature = 0.7f; sp.top_p = 0.9f; sp.seed = 42;
//     xt_sampler *s = NULL;
//     if (xt_sampler_new(n_vocab, &sp, &s) != XT_OK) { ... xt_last_error() ... }
//     xt_sampler_accept(s, prompt, n_prompt);            // penalty history
//     int32_t next;
//     xt_generate_step(model, s, prompt, n_prompt, &next); // forward, sample, accept
//     while (...) xt_generate_step(model, s, &next, 1, &next);
//     xt_sampler_free(s);
typedef struct xt_sampler xt_sampler;

typedef struct {
    float temperature;        // >= 0; 0: greedy
    int32_t top_k;            // >= 0; 0: off
    float top_p;              // (0, 1]; 1: off
    float min_p;              // [0, 1]; 0: off. Keeps p >= min_p * p_max
    float repeat_penalty;     // > 0; 1: off. Divides positive logits, multiplies negative ones
    float presence_penalty;   // subtracted once from a token seen in the window; 0: off
    float frequency_penalty;  // subtracted once per occurrence in the window; 0: off
    int32_t penalty_last_n;   // >= 0: window of accepted tokens the penalties look at; 0: off
    uint64_t seed;
} xt_sampler_params;

// Limits: penalty windows and bias lists are bounded so a bad value cannot ask for gigabytes.
#define XT_SAMPLER_MAX_WINDOW (1 << 22)

void xt_sampler_params_default(xt_sampler_params *p);  // llama.cpp's defaults, seed 0
// XT_ERR_INVALID_ARG (naming the field) for a value outside its range. Caller frees.
xt_status xt_sampler_new(int64_t n_vocab, const xt_sampler_params *p, xt_sampler **out);
void xt_sampler_free(xt_sampler *s);  // accepts NULL
int64_t xt_sampler_n_vocab(const xt_sampler *s);
// Replaces the logit bias: bias[i] is added to the logit of ids[i] (-INFINITY bans a token).
// n = 0 clears it. Ids must be in [0, n_vocab); a repeated id adds up.
xt_status xt_sampler_set_bias(xt_sampler *s, const int32_t *ids, const float *bias, int64_t n);
// Forgets the penalty history and restarts the random stream from `seed`.
void xt_sampler_reset(xt_sampler *s, uint64_t seed);
// Appends tokens to the penalty history (only the last penalty_last_n count).
xt_status xt_sampler_accept(xt_sampler *s, const int32_t *tokens, int64_t n);
// Draws a token from `logits` (n_vocab floats, borrowed, not modified). Does not accept it.
xt_status xt_sampler_sample(xt_sampler *s, const float *logits, int32_t *out);
// The distribution sample() draws from: probs (n_vocab) gets each token's probability (0 for
// the tokens the filters removed). Greedy gives a one-hot row. Uses no randomness.
xt_status xt_sampler_probs(xt_sampler *s, const float *logits, float *probs);

// One decode step: runs `tokens` (n >= 1) through the model after its cache, samples the next
// token from the last position's logits (into the sampler's own buffer), appends it to the
// sampler's penalty history and returns it. The tokens themselves are not accepted (the caller
// accepts the prompt once; each sampled token is accepted here). On failure the cache is as
// it was.
xt_status xt_generate_step(xt_model *m, xt_sampler *s, const int32_t *tokens, int64_t n,
                           int32_t *out);

// ---- adapters ----
// LoRA adapters (a PEFT folder: adapter_config.json + adapter_model.safetensors, or a llama.cpp
// GGUF adapter) and X-LoRA adapters (a PEFT X-LoRA folder: the classifier and its experts).
// A loaded adapter is independent of models; attaching checks it against the model and keeps
// a private copy of its low-rank matrices, so the adapter may be freed afterwards.
typedef struct xt_adapter xt_adapter;

xt_status xt_adapter_load(const char *path, xt_adapter **out);        // caller frees
xt_status xt_adapter_load_xlora(const char *path, xt_adapter **out);  // caller frees
void xt_adapter_free(xt_adapter *a);                                   // accepts NULL
// X-LoRA: after k decode steps reuse step k's scalings and skip the scaling pass (0: off).
xt_status xt_adapter_set_non_granular(xt_adapter *a, int64_t k);

typedef struct {
    bool is_xlora, gguf;
    const char *path, *architecture;   // borrowed; architecture "" when the file has none
    int64_t n_modules, max_rank, n_experts;
    int64_t xlora_depth, xlora_size, top_k, non_granular_index;
    bool layerwise, enable_softmax, enable_softmax_topk;
    float temperature, scaling_pass_value, global_scaling_weight;
} xt_adapter_info;
void xt_adapter_get_info(const xt_adapter *a, xt_adapter_info *out);

// Attaches a copy of `a` under `name` (unique) with a user scale, and makes it active (added
// to the active set with weight 1). Shapes, targets and architecture are checked: a mismatch
// is XT_ERR_INVALID_ARG naming the tensor and both shapes. Base weights are not copied.
xt_status xt_model_add_adapter(xt_model *m, const xt_adapter *a, const char *name, float scale);
// Replaces the active set: y = W x + sum_i weights[i] * scale_i * s_i * B_i A_i x (weights NULL:
// all 1). n = 0: the base model. An X-LoRA adapter must be alone in the set. Unknown or merged
// names: XT_ERR_NOT_FOUND / XT_ERR_INVALID_ARG, and the set is unchanged.
xt_status xt_model_set_adapters(xt_model *m, const char *const *names, const float *weights,
                                int64_t n);
xt_status xt_model_remove_adapter(xt_model *m, const char *name);  // unmerges first if merged
// Adds the adapter's delta into F32/F16 base weights (new private buffers for the targeted
// tensors; the file mapping is never written), so it costs nothing per token. Unmerge points
// back at the original weights (bit for bit). Quantized weights: XT_ERR_UNSUPPORTED.
xt_status xt_model_merge_adapter(xt_model *m, const char *name);
xt_status xt_model_unmerge_adapter(xt_model *m, const char *name);
// Attached names in attach order; *active = weight in the active set (0 when inactive),
// *merged. i in [0, xt_model_n_adapters(m)).
int64_t xt_model_n_adapters(const xt_model *m);
const char *xt_model_adapter_at(const xt_model *m, int64_t i, float *weight, bool *merged,
                                bool *is_xlora);
// X-LoRA scalings (classifier output after its softmax, before per-layer top-k) of positions
// [from, to) of the current sequence, as (to - from, n_layers, n_experts) F32 into `out`
// (caller-sized). Sizes come from xt_model_xlora_shape; XT_ERR_INVALID_ARG when no X-LoRA is
// active or the range is not computed.
xt_status xt_model_xlora_shape(const xt_model *m, int64_t *n_layers, int64_t *n_experts,
                               int64_t *last_from, int64_t *last_to);
xt_status xt_model_xlora_scalings(const xt_model *m, int64_t from, int64_t to, float *out);
// Scaling passes run since the X-LoRA adapter was attached (one per forward call that needed
// one), and the non-granular counter (decode steps counted so far in this sequence).
void xt_model_xlora_counters(const xt_model *m, int64_t *scaling_passes, int64_t *ng_counter);
// ---- tokenizers ----
// A vocabulary from GGUF tokenizer metadata (tokenizer.ggml.*): SentencePiece-style ("llama":
// LLaMA, Gemma) or byte-level BPE ("gpt2", with the pre-tokenizer named by tokenizer.ggml.pre).
// Token ids equal llama.cpp's for any input bytes. A vocab keeps scratch buffers that every
// call reuses: calls on one vocab must be serialized (token_piece, info and is_eog excepted).
typedef struct xt_vocab xt_vocab;

// Loads the vocabulary of a GGUF file (metadata only; the file stays mapped). Caller frees.
// XT_ERR_BAD_FILE naming the key when the file has no tokenizer; XT_ERR_UNSUPPORTED for other
// tokenizer types and pre-tokenizers.
xt_status xt_vocab_load(const char *path, xt_vocab **out);
// Same from an open GGUF handle, which is borrowed and must outlive the vocab.
xt_status xt_vocab_load_gguf(const xt_gguf *g, xt_vocab **out);
void xt_vocab_free(xt_vocab *v);  // accepts NULL

typedef struct {
    const char *type;         // tokenizer.ggml.model ("llama", "gpt2"); borrowed
    const char *pre;          // tokenizer.ggml.pre ("" for SentencePiece); borrowed
    int64_t n_tokens, n_merges, n_special;
    int32_t bos, eos, eot, eom, unk, sep, pad;  // -1 when the vocabulary has none
    bool add_bos, add_eos;    // what add_special adds
    bool add_space_prefix;
    const int32_t *eog;       // (n_eog) end-of-generation ids, ascending; borrowed
    int64_t n_eog;
} xt_vocab_info;

void xt_vocab_get_info(const xt_vocab *v, xt_vocab_info *out);
bool xt_vocab_is_eog(const xt_vocab *v, int32_t id);
// text[0..len) (any bytes; invalid UTF-8 is handled as llama.cpp does) -> token ids.
// add_special: BOS/EOS as tokenizer.ggml.add_bos_token / add_eos_token say. parse_special: the
// text of control tokens ("<|im_start|>") becomes the token (user-defined tokens always do).
// *tokens is borrowed: valid until the next call on v.
xt_status xt_vocab_tokenize(xt_vocab *v, const char *text, size_t len, bool add_special,
                            bool parse_special, const int32_t **tokens, int64_t *n_tokens);
// The bytes a token stands for (SentencePiece "▁" as a space, byte-level BPE decoded, <0xXX>
// as its byte). Control and unknown tokens give their text when `special`, else nothing.
// *piece is borrowed from v (valid while v lives).
xt_status xt_vocab_token_piece(const xt_vocab *v, int32_t id, bool special, const char **piece,
                               size_t *len);
// ids -> text as llama_detokenize: remove_special drops a leading BOS / trailing EOS that
// add_special would add; unparse_special renders control tokens. *text is borrowed: valid until
// the next call on v. XT_ERR_INVALID_ARG for an id out of range.
xt_status xt_vocab_detokenize(xt_vocab *v, const int32_t *ids, int64_t n, bool remove_special,
                              bool unparse_special, const char **text, size_t *len);
// The stored text of a token and its attributes (bit set of normal 4, control 8, user-defined
// 16, byte 32, unknown 1, unused 2; 128 / 256: whitespace before / after the token's text is
// dropped when it is parsed, as llama.cpp does for Phi-3). Borrowed.
xt_status xt_vocab_token_text(const xt_vocab *v, int32_t id, const char **text, size_t *len,
                              uint32_t *attr);
// Unicode properties of a code point as the pre-tokenizers see them: one general-category bit
// (undefined/unassigned 1, number 2, letter 4, separator 8, mark 16, punctuation 32, symbol 64,
// control 128) plus 256 for White_Space. xt_unicode_version() names the tables' version.
uint32_t xt_unicode_flags(uint32_t cpt);
const char *xt_unicode_version(void);
// tokenizer.chat_template, or *text = NULL when absent. Borrowed.
xt_status xt_vocab_chat_template(const xt_vocab *v, const char **text, size_t *len);

#ifdef __cplusplus
}
#endif
#endif  // XTRAL_H
