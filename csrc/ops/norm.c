// norm.c — RMSNorm over rows, as ggml computes it (sum of squares in double, scale in float,
// then the weight multiplied separately), so the runner's numbers track llama.cpp's.
#include <math.h>

#include "ops/ops.h"

// ---- rms norm ----

void xt_rms_norm_f32(float *y, const float *x, const float *w, float w_add, int64_t n_rows,
                     int64_t n, float eps) {
    for (int64_t r = 0; r < n_rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++) sum += (double)(xr[i] * xr[i]);
        const float mean = (float)(sum / (double)n);
        const float scale = 1.0f / sqrtf(mean + eps);
        if (w != NULL) {
            for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] * scale) * (w[i] + w_add);
        } else {
            for (int64_t i = 0; i < n; i++) yr[i] = xr[i] * scale;
        }
    }
}
