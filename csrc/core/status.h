// status.h — error values for the C core: a thread-local message plus the macros every
// function uses to fail (XT_RETURN_IF, XT_TRY), modelled on zstd's RETURN_ERROR_IF.
#ifndef XT_CORE_STATUS_H
#define XT_CORE_STATUS_H

#include "xtral.h"

#include <inttypes.h>

// Records `msg` (printf format) as this thread's last error and returns `s`.
xt_status xt_error(xt_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
// As xt_error, for XT_ERR_IO: also records `err` (an errno value) and appends strerror(err).
xt_status xt_error_errno(int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
// Clears this thread's message (a successful public call may call it; not required).
void xt_error_clear(void);

#define XT_RETURN_IF(cond, status, ...)            \
    do {                                           \
        if (cond) return xt_error((status), __VA_ARGS__); \
    } while (0)

#define XT_TRY(expr)                   \
    do {                               \
        xt_status xt_try_s_ = (expr);  \
        if (xt_try_s_ != XT_OK) return xt_try_s_; \
    } while (0)

// For invariants we have proved; a failure is a bug and becomes XT_ERR_INTERNAL.
#define XT_ASSERT(cond)                                                             \
    do {                                                                            \
        if (!(cond))                                                                \
            return xt_error(XT_ERR_INTERNAL, "internal error: %s (%s:%d)", #cond,   \
                            __FILE__, __LINE__);                                    \
    } while (0)

#endif  // XT_CORE_STATUS_H
