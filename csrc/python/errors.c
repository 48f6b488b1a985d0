// errors.c — turns an xt_status and the thread's message into a Python exception, in one
// switch (as CPython's _bz2 catch_bz2_error does).
#include <errno.h>
#include <string.h>

#include "python/module_state.h"

// Messages quote names from untrusted files: decode leniently so a bad byte in a key name
// never turns a GGUFError into a UnicodeDecodeError.
static void set_message(PyObject *type, const char *msg) {
    PyObject *m = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "backslashreplace");  // new
    if (m != NULL) {
        PyErr_SetObject(type, m);
        Py_DECREF(m);
    }
}

PyObject *xt_raise_status(xt_module_state *st, xt_status s) {
    const char *msg = xt_last_error();
    switch (s) {
    case XT_OK:
        set_message(PyExc_SystemError, "xtral: error raised for a successful call");
        break;
    case XT_ERR_INVALID_ARG:
        set_message(PyExc_ValueError, msg);
        break;
    case XT_ERR_BAD_FILE:
        set_message(st->GGUFError, msg);
        break;
    case XT_ERR_IO: {
        // (errno, message) picks the OSError subclass: FileNotFoundError, IsADirectoryError...
        int err = xt_last_errno();
        PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "backslashreplace");
        PyObject *args = text ? Py_BuildValue("(iN)", err ? err : EIO, text) : NULL;  // new
        if (args != NULL) {
            PyErr_SetObject(PyExc_OSError, args);
            Py_DECREF(args);
        }
        break;
    }
    case XT_ERR_NOMEM:
        set_message(PyExc_MemoryError, msg);
        break;
    case XT_ERR_UNSUPPORTED:
        set_message(st->UnsupportedError, msg);
        break;
    case XT_ERR_NOT_FOUND:
        set_message(PyExc_KeyError, msg);
        break;
    case XT_ERR_CANCELLED:
        set_message(PyExc_KeyboardInterrupt, msg);
        break;
    case XT_ERR_INTERNAL:
    default:
        set_message(st->XtralError, msg);
        break;
    }
    return NULL;
}

int xt_raise_status_int(xt_module_state *st, xt_status s) {
    xt_raise_status(st, s);
    return -1;
}
