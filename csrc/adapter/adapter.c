// adapter.c — the public xt_adapter API: load a LoRA (PEFT folder or GGUF file) or an X-LoRA
// folder, describe it, free it. Loaded adapters are independent of any model; attaching
// (attach.c) checks them against one.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adapter/adapter.h"
#include "adapter/adapter_io.h"
#include "core/status.h"

xt_status xt_adapter_read_json(const char *dir, const char *name, xt_json **doc) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return xt_error_errno(errno, "cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    xt_status st = XT_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= ((size_t)64 << 20)) {
                st = xt_error(XT_ERR_BAD_FILE, "%s is larger than 64 MiB", path);
                break;
            }
            cap = cap ? cap * 2 : 16384;
            char *p = realloc(buf, cap);
            if (p == NULL) {
                st = xt_error(XT_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (st == XT_OK && ferror(f)) st = xt_error_errno(EIO, "cannot read %s", path);
    fclose(f);
    if (st == XT_OK) {
        st = xt_json_parse(buf, n, doc);
        if (st != XT_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", xt_last_error());
            st = xt_error(st, "%s: %s", path, msg);
        } else if (xt_json_root(*doc)->type != XT_JSON_OBJECT) {
            xt_json_free(*doc);
            *doc = NULL;
            st = xt_error(XT_ERR_BAD_FILE, "%s: expected a JSON object", path);
        }
    }
    free(buf);
    return st;
}

void xt_adapter_free(xt_adapter *a) {
    if (a == NULL) return;
    for (int64_t i = 0; i < a->n_mods; i++) {
        free(a->mods[i].A);
        free(a->mods[i].B);
        free(a->mods[i].BT);
    }
    free(a->mods);
    for (int64_t i = 0; i < a->n_experts; i++) xt_adapter_free(a->experts[i]);
    free(a->experts);
    for (int i = 0; i < XT_XLORA_MAX_DEPTH; i++) {
        free(a->xcfg.w[i].data);
        free(a->xcfg.b[i]);
    }
    free(a->path);
    free(a);
}

static xt_status new_adapter(const char *path, int kind, xt_adapter **out) {
    xt_adapter *a = calloc(1, sizeof *a);
    XT_RETURN_IF(a == NULL, XT_ERR_NOMEM, "out of memory");
    a->kind = kind;
    a->path = strdup(path);
    if (a->path == NULL) {
        free(a);
        return xt_error(XT_ERR_NOMEM, "out of memory");
    }
    *out = a;
    return XT_OK;
}

xt_status xt_adapter_load(const char *path, xt_adapter **out) {
    XT_RETURN_IF(path == NULL || out == NULL, XT_ERR_INVALID_ARG, "xt_adapter_load: NULL argument");
    struct stat sb;
    if (stat(path, &sb) != 0) return xt_error_errno(errno, "cannot open adapter %s", path);
    xt_adapter *a = NULL;
    XT_TRY(new_adapter(path, XT_ADAPTER_LORA, &a));
    xt_status s = S_ISDIR(sb.st_mode) ? xt_lora_load_peft(path, a) : xt_lora_load_gguf(path, a);
    if (s != XT_OK) {
        xt_adapter_free(a);
        return s;
    }
    *out = a;
    return XT_OK;
}

xt_status xt_adapter_load_xlora(const char *path, xt_adapter **out) {
    XT_RETURN_IF(path == NULL || out == NULL, XT_ERR_INVALID_ARG,
                 "xt_adapter_load_xlora: NULL argument");
    struct stat sb;
    if (stat(path, &sb) != 0) return xt_error_errno(errno, "cannot open X-LoRA adapter %s", path);
    XT_RETURN_IF(!S_ISDIR(sb.st_mode), XT_ERR_INVALID_ARG, "%s: an X-LoRA adapter is a folder "
                 "(adapter_config.json with peft_type XLORA)", path);
    xt_adapter *a = NULL;
    XT_TRY(new_adapter(path, XT_ADAPTER_XLORA, &a));
    xt_status s = xt_xlora_load(path, a);
    if (s != XT_OK) {
        xt_adapter_free(a);
        return s;
    }
    *out = a;
    return XT_OK;
}

xt_status xt_adapter_set_non_granular(xt_adapter *a, int64_t k) {
    XT_RETURN_IF(a == NULL || a->kind != XT_ADAPTER_XLORA, XT_ERR_INVALID_ARG,
                 "tgt_non_granular_index applies to X-LoRA adapters only");
    XT_RETURN_IF(k < 0, XT_ERR_INVALID_ARG, "tgt_non_granular_index must be >= 1 (or 0: off), "
                 "got %" PRId64, k);
    a->xcfg.non_granular_index = k;
    return XT_OK;
}

void xt_adapter_get_info(const xt_adapter *a, xt_adapter_info *out) {
    memset(out, 0, sizeof *out);
    out->is_xlora = a->kind == XT_ADAPTER_XLORA;
    out->path = a->path;
    out->architecture = a->arch;
    out->n_modules = a->n_mods;
    out->n_experts = a->n_experts;
    for (int64_t i = 0; i < a->n_mods; i++) {
        if (a->mods[i].r > out->max_rank) out->max_rank = a->mods[i].r;
    }
    out->gguf = a->gguf_layout;
    const xt_xlora_config *c = &a->xcfg;
    out->xlora_depth = c->depth;
    out->xlora_size = c->size;
    out->layerwise = c->layerwise;
    out->enable_softmax = c->enable_softmax;
    out->enable_softmax_topk = c->enable_softmax_topk;
    out->top_k = c->top_k;
    out->temperature = c->temperature;
    out->scaling_pass_value = c->scaling_pass_value;
    out->global_scaling_weight = c->global_scaling_weight;
    out->non_granular_index = c->non_granular_index;
}
