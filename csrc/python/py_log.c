// py_log.c — routes the C core's log hook to Python's logging logger "xtral". The hook may
// fire on any thread, with or without the GIL, so it takes the GIL itself.
#include <string.h>

#include "python/module_state.h"

static void log_to_python(xt_log_level level, const char *msg, void *user) {
    (void)user;
    if (!Py_IsInitialized()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *et, *ev, *tb;  // new (may be NULL): a pending exception survives the call
    PyErr_Fetch(&et, &ev, &tb);
    PyObject *logging = PyImport_ImportModule("logging");  // new
    PyObject *logger = logging ? PyObject_CallMethod(logging, "getLogger", "s", "xtral") : NULL;
    // Messages may quote untrusted names: decode leniently.
    PyObject *text = logger ? PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "backslashreplace")
                            : NULL;  // new, stolen by "N"
    PyObject *r = text ? PyObject_CallMethod(logger, "log", "iN", (int)level, text) : NULL;
    if (r == NULL) PyErr_WriteUnraisable(NULL);  // a broken handler must not break the call
    Py_XDECREF(r);
    Py_XDECREF(logger);
    Py_XDECREF(logging);
    PyErr_Restore(et, ev, tb);
    PyGILState_Release(gil);
}

void xt_py_log_install(void) { xt_log_set_callback(log_to_python, NULL); }
