// bandwidth.h — a memory read-bandwidth probe: the yardstick the matmul benchmark divides by
// (decode is memory-bound, so "bytes of weights per second / probe" is its efficiency).
#ifndef XT_CORE_BANDWIDTH_H
#define XT_CORE_BANDWIDTH_H

#include "xtral.h"

// Reads `buf` (nbytes, 64-byte aligned, a multiple of 256 bytes) once, split into `n_tasks`
// contiguous parts on `pool` (NULL: calling thread); returns a checksum so the reads cannot
// be optimized away.
xt_status xt_read_probe(xt_threadpool *pool, const void *buf, size_t nbytes, uint64_t *checksum);

#endif  // XT_CORE_BANDWIDTH_H
