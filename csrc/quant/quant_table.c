// quant_table.c — the kernel columns of the dtype table and the run-time SIMD dispatch.
// Each format family fills its own rows (so a format is one file plus one register call);
// the SIMD tables then override the dot products and activation quantizers they speed up.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu_features.h"
#include "core/status.h"
#include "quant/quant.h"

static xt_quant_traits g_traits[XT_DTYPE_COUNT];
static xt_quant_kernels g_kernels[XT_SIMD_COUNT];  // one full table per level
static _Atomic(int) g_level;                       // the level in use
static xt_simd_level g_max_level;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static const char *const k_level_names[XT_SIMD_COUNT] = {"scalar", "avx2", "avx512"};

// ---- building the tables ----

static void fill_reference(xt_quant_kernels *k) {
    memset(k, 0, sizeof *k);
    for (int t = 0; t < XT_DTYPE_COUNT; t++) {
        k->vec_dot[t] = g_traits[t].vec_dot;
        k->to_float[t] = g_traits[t].to_float;
    }
    k->quantize_act[XT_DTYPE_Q8_0] = xt_quant_act_q8_0;
    k->quantize_act[XT_DTYPE_Q8_1] = xt_quant_act_q8_1;
    k->quantize_act[XT_DTYPE_Q8_K] = xt_quant_act_q8_K;
}

static xt_simd_level level_from_env(void) {
    const char *env = getenv("XTRAL_SIMD");
    if (env == NULL || env[0] == '\0') return g_max_level;
    for (int l = 0; l < XT_SIMD_COUNT; l++) {
        if (strcmp(env, k_level_names[l]) == 0) {
            return (xt_simd_level)l <= g_max_level ? (xt_simd_level)l : g_max_level;
        }
    }
    return g_max_level;  // unknown names are ignored: the library never fails to load
}

static void init_tables(void) {
    xt_quant_register_float(g_traits);
    xt_quant_register_q4_q5(g_traits);
    xt_quant_register_q8(g_traits);
    xt_quant_register_iq4_mxfp4(g_traits);
    xt_quant_register_k_low(g_traits);
    xt_quant_register_k_high(g_traits);
    xt_quant_register_fp8(g_traits);
    xt_quant_register_iq_lattice(g_traits);
    xt_quant_register_tq_nvfp4(g_traits);

    g_max_level = xt_simd_detect();
    fill_reference(&g_kernels[XT_SIMD_SCALAR]);
    g_kernels[XT_SIMD_SCALAR].level = XT_SIMD_SCALAR;
    if (g_max_level >= XT_SIMD_AVX2) {
        g_kernels[XT_SIMD_AVX2] = g_kernels[XT_SIMD_SCALAR];
        g_kernels[XT_SIMD_AVX2].level = XT_SIMD_AVX2;
        xt_quant_kernels_fill_avx2(&g_kernels[XT_SIMD_AVX2]);
        xt_quant_kernels_fill_avx2_gemm(&g_kernels[XT_SIMD_AVX2]);
        xt_quant_kernels_fill_avx2_gemm_k(&g_kernels[XT_SIMD_AVX2]);
        xt_quant_kernels_fill_avx2_gemv(&g_kernels[XT_SIMD_AVX2]);
    }
    if (g_max_level >= XT_SIMD_AVX512) {
        // AVX-512 builds on AVX2: kernels without a 512-bit version keep the 256-bit one.
        g_kernels[XT_SIMD_AVX512] = g_kernels[XT_SIMD_AVX2];
        g_kernels[XT_SIMD_AVX512].level = XT_SIMD_AVX512;
        xt_quant_kernels_fill_avx512(&g_kernels[XT_SIMD_AVX512]);
        // A gemv equals its level's vec_dot bit for bit: drop the 256-bit ones whose dot
        // product has a 512-bit version (another summation order).
        for (int t = 0; t < XT_DTYPE_COUNT; t++) {
            if (g_kernels[XT_SIMD_AVX512].vec_dot[t] != g_kernels[XT_SIMD_AVX2].vec_dot[t]) {
                g_kernels[XT_SIMD_AVX512].gemv[t] = NULL;
            }
        }
    }
    g_level = (int)level_from_env();
}

// ---- public ----

const xt_quant_traits *xt_quant_traits_get(xt_dtype type) {
    pthread_once(&g_once, init_tables);
    if ((unsigned)type >= XT_DTYPE_COUNT || xt_dtype_get((uint32_t)type) == NULL) return NULL;
    return &g_traits[type];
}

const xt_quant_kernels *xt_quant_kernels_get(void) {
    pthread_once(&g_once, init_tables);
    return &g_kernels[g_level];
}

xt_simd_level xt_simd_detect(void) {
    const xt_cpu_features *f = xt_cpu_features_get();
    if (f->avx512) return XT_SIMD_AVX512;
    if (f->avx2) return XT_SIMD_AVX2;
    return XT_SIMD_SCALAR;
}

xt_status xt_simd_set_level(xt_simd_level level) {
    pthread_once(&g_once, init_tables);
    XT_RETURN_IF((unsigned)level >= XT_SIMD_COUNT, XT_ERR_INVALID_ARG, "invalid SIMD level %d",
                 (int)level);
    XT_RETURN_IF(level > g_max_level, XT_ERR_INVALID_ARG,
                 "SIMD level '%s' is not supported by this CPU (highest: '%s')",
                 k_level_names[level], k_level_names[g_max_level]);
    g_level = (int)level;
    return XT_OK;
}

const char *xt_simd_level_name(xt_simd_level level) {
    return (unsigned)level < XT_SIMD_COUNT ? k_level_names[level] : "unknown";
}
