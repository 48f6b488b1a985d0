// py_gguf_write.c — _core.write_gguf(path, kvs, tensors, alignment): the C half of
// xtral.write_gguf. Python infers the types and encodes strings and arrays to bytes; this file
// checks ranges, builds value trees, and writes with the GIL released.
//
//   kvs:     [(key: str, type_id: int, payload)], payload by type:
//              integers/float/bool -> int/float/bool; string -> bytes;
//              array -> (elem_type_id, bytes) for fixed-size elements,
//                       (STRING, [bytes, ...]) or (ARRAY, [(elem_type_id, payload), ...])
//   tensors: [(name: str, type_id: int, ne: tuple (ggml order), buffer)]
#include <math.h>
#include <string.h>

#include "python/module_state.h"

// ---- Python payload -> xt_gguf_value ----

static int build_value(PyObject *payload, int type, xt_gguf_value *out, const char *key,
                       int depth);

// Frees the item arrays this file allocated (strings and data borrow from Python bytes).
static void free_tree(xt_gguf_value *v) {
    if (v->type != XT_GGUF_ARRAY || v->v.arr.items == NULL) return;
    for (uint64_t i = 0; i < v->v.arr.count; i++) free_tree((xt_gguf_value *)&v->v.arr.items[i]);
    PyMem_Free((void *)v->v.arr.items);
    v->v.arr.items = NULL;
}

static int build_int(PyObject *o, int type, xt_gguf_value *out, const char *key) {
    static const struct { int64_t lo; uint64_t hi; } k_range[XT_GGUF_TYPE_COUNT] = {
        [XT_GGUF_UINT8] = {0, UINT8_MAX},        [XT_GGUF_INT8] = {INT8_MIN, INT8_MAX},
        [XT_GGUF_UINT16] = {0, UINT16_MAX},      [XT_GGUF_INT16] = {INT16_MIN, INT16_MAX},
        [XT_GGUF_UINT32] = {0, UINT32_MAX},      [XT_GGUF_INT32] = {INT32_MIN, INT32_MAX},
        [XT_GGUF_UINT64] = {0, UINT64_MAX},      [XT_GGUF_INT64] = {INT64_MIN, INT64_MAX},
        [XT_GGUF_BOOL] = {0, 1},
    };
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "key '%s': %s value must be an int, not %.100s", key,
                     xt_gguf_type_name((xt_gguf_type)type), Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long s = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (s == -1 && PyErr_Occurred()) return -1;
    bool ok;
    uint64_t u = 0;
    if (overflow > 0) {
        u = PyLong_AsUnsignedLongLong(o);
        if (u == (uint64_t)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            ok = false;
        } else {
            ok = u <= k_range[type].hi;
        }
    } else if (overflow < 0) {
        ok = false;
    } else {
        ok = s >= k_range[type].lo && (s < 0 || (uint64_t)s <= k_range[type].hi);
        u = (uint64_t)s;
    }
    if (!ok) {
        PyErr_Format(PyExc_OverflowError, "key '%s': value %R does not fit %s", key, o,
                     xt_gguf_type_name((xt_gguf_type)type));
        return -1;
    }
    out->v.u64 = u;  // i64 shares the bits
    return 0;
}

static int build_array(PyObject *payload, xt_gguf_value *out, const char *key, int depth) {
    int et;
    PyObject *body;  // borrowed
    if (!PyArg_ParseTuple(payload, "iO;array payload must be (elem_type, data)", &et, &body)) {
        return -1;
    }
    if (et < 0 || et >= XT_GGUF_TYPE_COUNT) {
        PyErr_Format(PyExc_ValueError, "key '%s': invalid array element type %d", key, et);
        return -1;
    }
    out->v.arr.elem_type = (xt_gguf_type)et;
    size_t esize = xt_gguf_type_size((xt_gguf_type)et);
    if (esize > 0) {
        if (!PyBytes_Check(body) || PyBytes_GET_SIZE(body) % (Py_ssize_t)esize != 0) {
            PyErr_Format(PyExc_ValueError, "key '%s': array data must be bytes, a multiple of %zu",
                         key, esize);
            return -1;
        }
        out->v.arr.count = (uint64_t)PyBytes_GET_SIZE(body) / esize;
        out->v.arr.data = (const uint8_t *)PyBytes_AS_STRING(body);
        return 0;
    }
    if (!PyList_Check(body)) {
        PyErr_Format(PyExc_TypeError, "key '%s': array items must be a list", key);
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(body);
    out->v.arr.count = (uint64_t)n;
    if (n == 0) return 0;
    xt_gguf_value *items = PyMem_Calloc((size_t)n, sizeof *items);
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out->v.arr.items = items;  // freed by free_tree, also on error
    for (Py_ssize_t i = 0; i < n; i++) {
        if (build_value(PyList_GET_ITEM(body, i), et, &items[i], key, depth + 1) < 0) return -1;
    }
    return 0;
}

static int build_value(PyObject *payload, int type, xt_gguf_value *out, const char *key,
                       int depth) {
    if (depth >= 8) {
        PyErr_Format(PyExc_ValueError, "key '%s': arrays nested too deeply", key);
        return -1;
    }
    out->type = (xt_gguf_type)type;
    switch (type) {
    case XT_GGUF_FLOAT32: case XT_GGUF_FLOAT64:
        out->v.f64 = PyFloat_AsDouble(payload);
        return out->v.f64 == -1.0 && PyErr_Occurred() ? -1 : 0;
    case XT_GGUF_STRING:
        if (!PyBytes_Check(payload)) {
            PyErr_Format(PyExc_TypeError, "key '%s': string payload must be bytes", key);
            return -1;
        }
        out->v.str.ptr = PyBytes_AS_STRING(payload);
        out->v.str.len = (uint64_t)PyBytes_GET_SIZE(payload);
        return 0;
    case XT_GGUF_ARRAY:
        return build_array(payload, out, key, depth);
    default:
        if (type < 0 || type >= XT_GGUF_TYPE_COUNT) {
            PyErr_Format(PyExc_ValueError, "key '%s': invalid value type %d", key, type);
            return -1;
        }
        return build_int(payload, type, out, key);
    }
}

// ---- adding to the writer ----

static int add_kvs(xt_module_state *st, xt_gguf_writer *w, PyObject *kvs) {
    PyObject *seq = PySequence_Fast(kvs, "kvs must be a sequence");  // new
    if (seq == NULL) return -1;
    int rc = -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        const char *key;
        int type;
        PyObject *payload;  // borrowed
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "siO;kv must be (key, type, payload)",
                              &key, &type, &payload)) {
            goto done;
        }
        xt_gguf_value v;
        memset(&v, 0, sizeof v);
        int b = build_value(payload, type, &v, key, 0);
        xt_status s = b == 0 ? xt_gguf_writer_add_kv(w, key, &v) : XT_OK;
        free_tree(&v);
        if (b < 0) goto done;
        if (s != XT_OK) {
            xt_raise_status(st, s);
            goto done;
        }
    }
    rc = 0;
done:
    Py_DECREF(seq);
    return rc;
}

// Adds the tensors; their buffers stay acquired in `views` until the file is written.
static int add_tensors(xt_module_state *st, xt_gguf_writer *w, PyObject *seq, Py_buffer *views,
                       Py_ssize_t *n_views) {
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        const char *name;
        unsigned int type;
        PyObject *ne_obj, *data;  // borrowed
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "sIOO;tensor must be (name, type, ne, data)",
                              &name, &type, &ne_obj, &data)) {
            return -1;
        }
        int64_t ne[4];
        Py_ssize_t nd = PyTuple_Check(ne_obj) ? PyTuple_GET_SIZE(ne_obj) : -1;
        if (nd < 0 || nd > 4) {
            PyErr_Format(PyExc_ValueError, "tensor '%s': shape must be a tuple of 0 to 4 sizes", name);
            return -1;
        }
        for (Py_ssize_t d = 0; d < nd; d++) {
            ne[d] = PyLong_AsLongLong(PyTuple_GET_ITEM(ne_obj, d));
            if (ne[d] == -1 && PyErr_Occurred()) return -1;
            if (ne[d] < 0) {
                PyErr_Format(PyExc_ValueError, "tensor '%s': negative dimension", name);
                return -1;
            }
        }
        if (PyObject_GetBuffer(data, &views[*n_views], PyBUF_C_CONTIGUOUS) < 0) return -1;
        Py_buffer *view = &views[(*n_views)++];
        xt_status s = xt_gguf_writer_add_tensor(w, name, (uint32_t)nd, ne, type, view->buf,
                                                (size_t)view->len);
        if (s != XT_OK) return xt_raise_status_int(st, s);
    }
    return 0;
}

PyObject *xt_py_write_gguf(PyObject *module, PyObject *args) {
    xt_module_state *st = xt_state_from_module(module);
    PyObject *path_bytes = NULL, *kvs, *tensors, *tseq = NULL;  // new, borrowed, borrowed, new
    unsigned int alignment = 0;
    xt_gguf_writer *w = NULL;
    Py_buffer *views = NULL;
    Py_ssize_t n_views = 0;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "O&OOI:write_gguf", PyUnicode_FSConverter, &path_bytes, &kvs,
                          &tensors, &alignment)) {
        return NULL;
    }
    tseq = PySequence_Fast(tensors, "tensors must be a sequence");
    if (tseq == NULL) goto done;
    views = PyMem_Calloc((size_t)PySequence_Fast_GET_SIZE(tseq) + 1, sizeof *views);
    if (views == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    xt_status s = xt_gguf_writer_new(alignment, &w);
    if (s != XT_OK) {
        xt_raise_status(st, s);
        goto done;
    }
    if (add_kvs(st, w, kvs) < 0 || add_tensors(st, w, tseq, views, &n_views) < 0) goto done;
    const char *path = PyBytes_AS_STRING(path_bytes);
    Py_BEGIN_ALLOW_THREADS
    s = xt_gguf_writer_write(w, path);
    Py_END_ALLOW_THREADS
    if (s != XT_OK) {
        xt_raise_status(st, s);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    xt_gguf_writer_free(w);
    for (Py_ssize_t i = 0; i < n_views; i++) PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    Py_XDECREF(tseq);
    Py_XDECREF(path_bytes);
    return result;
}
