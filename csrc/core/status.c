// status.c — per-thread last-error message and errno, and the status names.
// The core never prints: callers read xt_last_error() and the binding raises it.
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { XT_ERROR_MSG_MAX = 1024 };

static _Thread_local char tl_message[XT_ERROR_MSG_MAX];
static _Thread_local int tl_errno;

const char *xt_last_error(void) { return tl_message; }

int xt_last_errno(void) { return tl_errno; }

void xt_error_clear(void) {
    tl_message[0] = '\0';
    tl_errno = 0;
}

xt_status xt_error(xt_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_message, sizeof tl_message, fmt, ap);
    va_end(ap);
    tl_errno = 0;
    return s;
}

xt_status xt_error_errno(int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tl_message, sizeof tl_message, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof tl_message) {
        snprintf(tl_message + n, sizeof tl_message - (size_t)n, ": %s", strerror(err));
    }
    tl_errno = err;
    return XT_ERR_IO;
}

const char *xt_status_name(xt_status s) {
    switch (s) {
    case XT_OK: return "XT_OK";
    case XT_ERR_INVALID_ARG: return "XT_ERR_INVALID_ARG";
    case XT_ERR_BAD_FILE: return "XT_ERR_BAD_FILE";
    case XT_ERR_IO: return "XT_ERR_IO";
    case XT_ERR_NOMEM: return "XT_ERR_NOMEM";
    case XT_ERR_UNSUPPORTED: return "XT_ERR_UNSUPPORTED";
    case XT_ERR_NOT_FOUND: return "XT_ERR_NOT_FOUND";
    case XT_ERR_INTERNAL: return "XT_ERR_INTERNAL";
    case XT_ERR_CANCELLED: return "XT_ERR_CANCELLED";
    }
    return "XT_ERR_UNKNOWN";
}
