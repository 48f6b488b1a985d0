// py_gguf_meta.c — GGUF metadata values to Python: scalars to int/float/bool/str, numeric
// arrays to NumPy arrays (copied: the mapping may be unaligned and outlive nothing), string
// arrays to lists, arrays of arrays to lists; and the type names shown by metadata_types().
#include <string.h>

#include "python/module_state.h"

static int numpy_type_of(xt_gguf_type t) {
    switch (t) {
    case XT_GGUF_UINT8: return NPY_UINT8;
    case XT_GGUF_INT8: return NPY_INT8;
    case XT_GGUF_UINT16: return NPY_UINT16;
    case XT_GGUF_INT16: return NPY_INT16;
    case XT_GGUF_UINT32: return NPY_UINT32;
    case XT_GGUF_INT32: return NPY_INT32;
    case XT_GGUF_FLOAT32: return NPY_FLOAT32;
    case XT_GGUF_BOOL: return NPY_BOOL;
    case XT_GGUF_UINT64: return NPY_UINT64;
    case XT_GGUF_INT64: return NPY_INT64;
    case XT_GGUF_FLOAT64: return NPY_FLOAT64;
    default: return -1;
    }
}

static PyObject *decode_str(const char *p, uint64_t n) {
    return PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "surrogateescape");
}

static PyObject *fixed_array(const xt_gguf_value *v) {
    npy_intp n = (npy_intp)v->v.arr.count;
    PyObject *arr = PyArray_SimpleNew(1, &n, numpy_type_of(v->v.arr.elem_type));  // new
    if (arr == NULL) return NULL;
    size_t bytes = (size_t)n * xt_gguf_type_size(v->v.arr.elem_type);
    uint8_t *dst = PyArray_DATA((PyArrayObject *)arr);
    if (bytes > 0) memcpy(dst, v->v.arr.data, bytes);
    if (v->v.arr.elem_type == XT_GGUF_BOOL) {
        for (npy_intp i = 0; i < n; i++) dst[i] = dst[i] != 0;  // any non-zero byte is true
    }
    return arr;
}

static PyObject *item_list(const xt_gguf_value *v) {
    PyObject *list = PyList_New((Py_ssize_t)v->v.arr.count);  // new
    if (list == NULL) return NULL;
    for (uint64_t i = 0; i < v->v.arr.count; i++) {
        const xt_gguf_value *it = &v->v.arr.items[i];
        PyObject *o = it->type == XT_GGUF_STRING ? decode_str(it->v.str.ptr, it->v.str.len)
                                                 : xt_gguf_value_to_py(it);  // new, stolen
        if (o == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, o);
    }
    return list;
}

PyObject *xt_gguf_value_to_py(const xt_gguf_value *v) {
    switch (v->type) {
    case XT_GGUF_UINT8: case XT_GGUF_UINT16: case XT_GGUF_UINT32: case XT_GGUF_UINT64:
        return PyLong_FromUnsignedLongLong(v->v.u64);
    case XT_GGUF_INT8: case XT_GGUF_INT16: case XT_GGUF_INT32: case XT_GGUF_INT64:
        return PyLong_FromLongLong(v->v.i64);
    case XT_GGUF_FLOAT32: case XT_GGUF_FLOAT64:
        return PyFloat_FromDouble(v->v.f64);
    case XT_GGUF_BOOL:
        return PyBool_FromLong(v->v.u64 != 0);
    case XT_GGUF_STRING:
        return decode_str(v->v.str.ptr, v->v.str.len);
    case XT_GGUF_ARRAY:
        if (xt_gguf_type_size(v->v.arr.elem_type) > 0) return fixed_array(v);
        return item_list(v);
    default:
        PyErr_Format(PyExc_SystemError, "invalid GGUF value type %d", (int)v->type);
        return NULL;
    }
}

// "uint32", "array[string]", "array[array[int32]]" (inner type from the first element).
PyObject *xt_gguf_value_type_str(const xt_gguf_value *v) {
    int depth = 0;
    const char *leaf;
    for (;;) {
        if (v->type != XT_GGUF_ARRAY) {
            leaf = xt_gguf_type_name(v->type);
            break;
        }
        depth++;
        if (v->v.arr.elem_type != XT_GGUF_ARRAY || v->v.arr.count == 0) {
            leaf = xt_gguf_type_name(v->v.arr.elem_type);
            break;
        }
        v = &v->v.arr.items[0];
    }
    char buf[160];
    size_t n = 0;
    for (int i = 0; i < depth; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "array[");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", leaf);
    for (int i = 0; i < depth; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "]");
    return PyUnicode_FromString(buf);
}
