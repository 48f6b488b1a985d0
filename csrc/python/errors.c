// errors.c — turns an xt_status and the thread's message into a Python exception, in one
// switch (as CPython's _bz2 catch_bz2_error does).
#include <errno.h>

#include "python/module_state.h"

PyObject *xt_raise_status(xt_module_state *st, xt_status s) {
    const char *msg = xt_last_error();
    switch (s) {
    case XT_OK:
        PyErr_SetString(PyExc_SystemError, "xtral: error raised for a successful call");
        break;
    case XT_ERR_INVALID_ARG:
        PyErr_SetString(PyExc_ValueError, msg);
        break;
    case XT_ERR_BAD_FILE:
        PyErr_SetString(st->GGUFError, msg);
        break;
    case XT_ERR_IO: {
        // (errno, message) picks the OSError subclass: FileNotFoundError, IsADirectoryError...
        int err = xt_last_errno();
        PyObject *args = Py_BuildValue("(is)", err ? err : EIO, msg);  // new
        if (args != NULL) {
            PyErr_SetObject(PyExc_OSError, args);
            Py_DECREF(args);
        }
        break;
    }
    case XT_ERR_NOMEM:
        PyErr_SetString(PyExc_MemoryError, msg);
        break;
    case XT_ERR_UNSUPPORTED:
        PyErr_SetString(st->UnsupportedError, msg);
        break;
    case XT_ERR_NOT_FOUND:
        PyErr_SetString(PyExc_KeyError, msg);
        break;
    case XT_ERR_CANCELLED:
        PyErr_SetString(PyExc_KeyboardInterrupt, msg);
        break;
    case XT_ERR_INTERNAL:
    default:
        PyErr_Format(st->XtralError, "%s (%s)", msg, xt_status_name(s));
        break;
    }
    return NULL;
}

int xt_raise_status_int(xt_module_state *st, xt_status s) {
    xt_raise_status(st, s);
    return -1;
}
