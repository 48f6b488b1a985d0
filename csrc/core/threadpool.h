// threadpool.h — internal view of the persistent thread pool (public API in xtral.h).
// Workers are created once; between runs they spin briefly, then sleep; tasks are handed
// out through an atomic counter so uneven tasks balance themselves.
#ifndef XT_CORE_THREADPOOL_H
#define XT_CORE_THREADPOOL_H

#include "xtral.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define XT_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define XT_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define XT_CPU_RELAX() ((void)0)
#endif

#endif  // XT_CORE_THREADPOOL_H
