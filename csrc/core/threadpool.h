// threadpool.h — internal view of the persistent thread pool (public API in xtral.h).
// Workers are created once; between runs they spin briefly, then sleep; tasks are handed
// out through an atomic counter so uneven tasks balance themselves.
#ifndef XT_CORE_THREADPOOL_H
#define XT_CORE_THREADPOOL_H

#include "xtral.h"

#endif  // XT_CORE_THREADPOOL_H
