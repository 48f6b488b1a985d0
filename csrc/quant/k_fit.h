// k_fit.h — scale/min fitting helpers shared by the quantizers: ports of ggml-quants.c's
// make_*_quants searches, with ggml's parameter meaning, so every format fits identically.
//
// Conventions (as ggml): `n` elements of `x`; `L` receives the chosen integer levels;
// weights/quant_weights may be NULL where ggml allows it (see each function). The functions
// return the fitted scale (0 when the block is all zero or a fit is impossible).
// NaN/Inf inputs: no undefined behaviour and every L stays within its documented range; the
// returned scale is then whatever ggml's arithmetic gives (often NaN or 0).
#ifndef XT_QUANT_K_FIT_H
#define XT_QUANT_K_FIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "quant/quant.h"

// Round to nearest, ties to even, through the 1.5*2^23 magic-number trick (ggml's
// nearest_int). Valid for |fval| <= 4194303; outside it (and for NaN) the result is some
// int that callers must clamp — it never traps.
static inline int xt_nearest_int(float fval) {
    float val = fval + 12582912.f;
    int32_t i;
    memcpy(&i, &val, sizeof(i));
    return (i & 0x007fffff) - 0x00400000;
}

// Symmetric fit: x ~= scale * L' with L' in [-nmax, nmax-1], stored as L = L' + nmax
// (so L in [0, 2*nmax-1]). rmse_type 0: plain max-abs scale; != 0: weighted search whose
// weights are qw[i] when qw != NULL, else x^2 (1), 1 (2), |x| (3), sqrt|x| (other); a
// negative rmse_type asks for the search without the final refinement. (ggml
// make_qx_quants)
float xt_make_qx_quants(int n, int nmax, const float *restrict x, int8_t *restrict L,
                        int rmse_type, const float *restrict qw);

// Symmetric fit for Q3_K without weights: L' in [-nmax, nmax-1], L = L' + nmax; do_rmse
// runs ggml's coordinate-descent refinement. (ggml make_q3_quants)
float xt_make_q3_quants(int n, int nmax, const float *restrict x, int8_t *restrict L,
                        bool do_rmse);

// Asymmetric fit x ~= scale * L - the_min with L in [0, nmax]; weights required (n).
// Searches nstep+1 candidate inverse scales (rmin + rdelta*is + nmax)/(max-min); Laux is
// scratch (n). *the_min receives the (non-negative) offset. use_mad: minimise weighted
// |error| instead of squared error. (ggml make_qkx2_quants)
float xt_make_qkx2_quants(int n, int nmax, const float *restrict x,
                          const float *restrict weights, uint8_t *restrict L,
                          float *restrict the_min, uint8_t *restrict Laux, float rmin,
                          float rdelta, int nstep, bool use_mad);

// As xt_make_qkx2_quants, but weights may be NULL (then x^2 weights) and the initial
// scale search differs slightly. (ggml make_qkx3_quants)
float xt_make_qkx3_quants(int n, int nmax, const float *restrict x,
                          const float *restrict weights, uint8_t *restrict L,
                          float *restrict the_min, uint8_t *restrict Laux, float rmin,
                          float rdelta, int nstep, bool use_mad);

// Positive-only fit x ~= scale * L with L in [0, nmax], x >= 0 (used for super-block
// scales); quant_weights required (n). (ggml make_qp_quants)
float xt_make_qp_quants(int n, int nmax, const float *restrict x, uint8_t *restrict L,
                        const float *restrict quant_weights);

// Unpacks the j-th (0..7) 6-bit scale and min of the Q4_K/Q5_K 12-byte scales field.
// (ggml get_scale_min_k4)
static inline void xt_get_scale_min_k4(int j, const uint8_t *restrict q, uint8_t *restrict d,
                                       uint8_t *restrict m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

#endif  // XT_QUANT_K_FIT_H
