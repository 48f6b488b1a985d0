// cpu_features.h — run-time ISA detection, so one binary runs the fastest kernels a CPU has
// and still runs (scalar) on any CPU.
#ifndef XT_CORE_CPU_FEATURES_H
#define XT_CORE_CPU_FEATURES_H

#include "xtral.h"

typedef struct {
    bool avx2;        // AVX2 + FMA + F16C
    bool avx512;      // AVX-512 F + BW + VL + DQ
    bool avx512_vnni;
    bool avx512_bf16;
} xt_cpu_features;

// Detected once, then cached.
const xt_cpu_features *xt_cpu_features_get(void);

#endif  // XT_CORE_CPU_FEATURES_H
