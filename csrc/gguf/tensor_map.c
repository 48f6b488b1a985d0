// tensor_map.c — the tensor map and memory plan (the "generic fallback"): one pass over the
// tensor list sorts each tensor into a repeating block (blk.N.*) or the global part, and sums
// bytes per block. Device mapping and multi-GPU splits take their input from this plan.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "gguf/gguf_impl.h"

// Architectures whose layout (blk.N.* tensors, {arch}.block_count) is known by name.
static const char *const k_known_archs[] = {
    "llama", "mistral", "mistral3", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "gemma", "gemma2",
    "gemma3", "gemma3n", "phi2", "phi3", "phimoe", "falcon", "gpt2", "gptj", "gptneox", "bloom",
    "mpt", "starcoder", "starcoder2", "stablelm", "baichuan", "internlm2", "command-r", "cohere2",
    "olmo", "olmo2", "deepseek", "deepseek2", "granite", "granitemoe", "exaone", "minicpm",
    "bert", "nomic-bert", "t5", "mamba", "rwkv6", "gpt-oss", "smollm3",
};

static bool is_known_arch(const char *arch) {
    for (size_t i = 0; i < sizeof k_known_archs / sizeof *k_known_archs; i++) {
        if (strcmp(arch, k_known_archs[i]) == 0) return true;
    }
    return false;
}

// Block index of a tensor named "blk.N.<rest>", or -1 for any other name.
static int64_t block_index(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    const char *p = name + 4;
    if (*p < '0' || *p > '9') return -1;
    int64_t n = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n >= XT_GGUF_MAX_LAYERS) return XT_GGUF_MAX_LAYERS;  // rejected by the caller
    }
    return *p == '.' ? n : -1;
}

// {arch}.block_count as an integer, or -1 when absent or not an integer.
static int64_t block_count_key(const xt_gguf *g, const char *arch) {
    char key[128];
    snprintf(key, sizeof key, "%s.block_count", arch);
    int64_t i = xt_strmap_get(&g->key_index, key);
    uint64_t n;
    if (i < 0 || !xt_gguf_value_as_u64(&g->values[i], &n)) return -1;
    return n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

static xt_status build_plan(xt_gguf *g) {
    const char *arch = g->architecture ? g->architecture : "";
    bool known = is_known_arch(arch);
    int64_t probed = 0;
    g->tensor_layer = malloc(((size_t)g->n_tensors + 1) * sizeof *g->tensor_layer);
    XT_RETURN_IF(g->tensor_layer == NULL, XT_ERR_NOMEM, "out of memory for the tensor map");
    for (int64_t i = 0; i < g->n_tensors; i++) {
        int64_t b = block_index(g->tensors[i].name);
        XT_RETURN_IF(b >= XT_GGUF_MAX_LAYERS, XT_ERR_BAD_FILE,
                     "GGUF tensor '%s': block index beyond %d", g->tensors[i].name,
                     XT_GGUF_MAX_LAYERS - 1);
        g->tensor_layer[i] = b;
        if (b + 1 > probed) probed = b + 1;
    }
    int64_t n_layers = probed;
    if (known) {
        int64_t declared = block_count_key(g, arch);
        XT_RETURN_IF(declared > XT_GGUF_MAX_LAYERS, XT_ERR_BAD_FILE,
                     "GGUF key '%s.block_count' is %" PRId64 ", more than %d blocks", arch,
                     declared, XT_GGUF_MAX_LAYERS);
        if (declared > n_layers) n_layers = declared;
    } else if (arch[0] != '\0') {
        xt_log(XT_LOG_WARN,
               "architecture '%s' is not known: the memory plan was probed from tensor names "
               "(blk.N.*) and its estimates may be inaccurate", arch);
    } else {
        xt_log(XT_LOG_WARN,
               "the file has no general.architecture: the memory plan was probed from tensor "
               "names (blk.N.*) and its estimates may be inaccurate");
    }
    g->layer_sizes = calloc((size_t)n_layers + 1, sizeof *g->layer_sizes);
    XT_RETURN_IF(g->layer_sizes == NULL, XT_ERR_NOMEM, "out of memory for the memory plan");
    uint64_t non_mapped = 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        int64_t b = g->tensor_layer[i];
        if (b >= 0) {
            g->layer_sizes[b] += g->tensors[i].nbytes;
        } else {
            non_mapped += g->tensors[i].nbytes;
        }
    }
    xt_memory_plan *p = &g->plan;
    memset(p, 0, sizeof *p);
    snprintf(p->architecture, sizeof p->architecture, "%s", arch);
    p->fallback = !known;
    p->n_layers = n_layers;
    p->non_mapped_size = non_mapped;
    p->layer_sizes = g->layer_sizes;
    g->plan_ready = true;
    return XT_OK;
}

xt_status xt_gguf_memory_plan(xt_gguf *g, xt_memory_plan *out) {
    if (!g->plan_ready) {
        xt_status s = build_plan(g);
        if (s != XT_OK) {
            free(g->tensor_layer);
            free(g->layer_sizes);
            g->tensor_layer = NULL;
            g->layer_sizes = NULL;
            return s;
        }
    }
    *out = g->plan;
    return XT_OK;
}
