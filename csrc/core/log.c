// log.c — formats a message and hands it to the installed callback (if any).
// The hook is set once (at module init, before any worker runs) and only read afterwards.
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

static xt_log_fn g_log_fn;
static void *g_log_user;

void xt_log_set_callback(xt_log_fn fn, void *user) {
    g_log_user = user;
    g_log_fn = fn;
}

void xt_log(xt_log_level level, const char *fmt, ...) {
    xt_log_fn fn = g_log_fn;
    if (fn == NULL) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(level, buf, g_log_user);
}
