// lora_state.h — the per-model adapter state shared by attach.c, apply.c and xlora.c (private
// to csrc/adapter/): attached adapters, the active set compiled into one stacked low-rank pair
// per targeted matmul ("slot"), and the X-LoRA runtime (second KV cache, scalings, counters).
#ifndef XT_ADAPTER_LORA_STATE_H
#define XT_ADAPTER_LORA_STATE_H

#include "adapter/adapter.h"
#include "model/model.h"

// One targeted matmul with the active adapters stacked: y += (x A^T * coef) B^T.
typedef struct {
    xt_tensor A;        // ne = [in, R]: the active adapters' A rows, stacked (F32 or Q8_0)
    void *BT;           // (R, out): their B^T rows, stacked and packed for the backend's
                        // add_lowrank (F32 or Q8_0, owned)
    xt_dtype bt_type;
    int64_t out;
    float *coef;        // (R) weight * user scale * s per column (X-LoRA: user scale * s)
    int32_t *expert;    // (R) X-LoRA expert of each column; NULL for plain LoRA
    int64_t R;          // 0: nothing targets this matmul
    int64_t xl;         // X-LoRA layer index (the classifier's layer axis), -1 when none
    bool a_owned;       // A's data allocated here (several contributions or Q8_0), else
                        // borrowed from the attached copy
} xt_lora_slot;

// A merged tensor: where the weights pointed before, and the private merged copy.
typedef struct {
    xt_tensor *t;
    void *orig, *merged;
} xt_merge_rec;

// X-LoRA runtime of one attached X-LoRA adapter (sized at attach; no allocation per token).
typedef struct {
    int64_t n_layers, n_experts;  // L (wrapped modules) x N
    void *kv2;                    // the scaling pass's KV cache (same layout as m->kv_mem)
    float *raw;                   // (n_ctx, L, N) classifier scalings per position
    float *proc;                  // (n_ctx, L, N) after per-layer top-k / softmax over top-k
    float *hidden;                // (n_batch, n_embd) final-norm hidden states of pass 1
    float *c0, *c1;               // (n_batch, width) classifier activations
    float dummy[XT_XLORA_MAX_EXPERTS];  // pass-1 scalings per expert after top-k handling
    bool dummy_zero;              // pass 1 equals the base model: skip the experts
    int64_t last_from, last_to;   // positions of the last call
    int64_t valid;                // positions [0, valid) have scalings and pass-1 K/V
    int64_t scaling_passes;       // scaling passes run since attach
    int64_t ng_counter;           // non-granular: decode steps counted in this sequence
    bool ng_cached;               // non-granular: step k's scalings are in ng_raw/ng_proc
    float *ng_raw, *ng_proc;      // (L, N)
} xt_xlora_rt;

typedef struct {
    char *name;
    xt_adapter *ad;        // owned copy, Q/K rows in the model's order
    float scale;           // user scale
    float weight;          // weight in the active set
    bool active, merged;
    xt_merge_rec *merges;  // (n_merges) when merged
    int64_t n_merges;
    xt_xlora_rt *x;        // X-LoRA only
} xt_attached;

enum { XT_LMODE_PLAIN = 0, XT_LMODE_XDUMMY = 1, XT_LMODE_XREAL = 2, XT_LMODE_OFF = 3 };

struct xt_lora_state {
    xt_attached *list;     // (n) in attach order
    int64_t n, cap;
    xt_lora_slot *slots;   // (n_layer * XT_LR_COUNT)
    bool any_active;
    xt_attached *xlora;    // the active X-LoRA adapter, or NULL
    int mode;              // XT_LMODE_*: what xt_lora_apply adds in the current pass
    float *u;              // (XT_LOWRANK_MAX_TERMS, n_batch, max R) per-token X-LoRA factors
    int64_t u_cap;         // floats in u
    int64_t merge_serial;  // merge order (unmerge is last-in first-out per tensor)
};

// The base weight a role names in layer il (NULL when the model has none).
xt_tensor *xt_lora_weight(xt_model *m, int64_t il, xt_lora_role role);
// Rebuilds the slots from the active set (attach.c). On failure the old slots stay.
xt_status xt_lora_rebuild(xt_model *m);
// X-LoRA runtime lifecycle (xlora.c).
xt_status xt_xlora_rt_new(xt_model *m, const xt_adapter *ad, xt_xlora_rt **out);
void xt_xlora_rt_free(xt_model *m, xt_xlora_rt *x);
// The X-LoRA layer index of every slot (by the module registration order) and its count.
int64_t xt_xlora_assign_layers(xt_model *m, const xt_adapter *ad, int64_t *slot_xl);
// Classifier + scalings maker (xlora_classifier.c): hidden states h (nt, n_embd) of positions
// pos0.. -> xr->raw and xr->proc rows. Pass-1 scalings per expert after top-k handling.
xt_status xt_xlora_classify(xt_model *m, const xt_xlora_config *c, xt_xlora_rt *xr,
                            const float *h, int64_t nt, int64_t pos0);
void xt_xlora_make_dummy(const xt_xlora_config *c, int64_t N, float *dummy, bool *all_zero);

#endif  // XT_ADAPTER_LORA_STATE_H
