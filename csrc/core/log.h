// log.h — the core's only output channel: a callback hook, silent by default.
// The Python binding routes it to the logging logger "xtral".
#ifndef XT_CORE_LOG_H
#define XT_CORE_LOG_H

#include "xtral.h"

void xt_log(xt_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif  // XT_CORE_LOG_H
