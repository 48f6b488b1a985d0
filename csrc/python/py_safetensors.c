// py_safetensors.c — the heap type _core.SafetensorsHandle (an open, validated safetensors file
// or in-memory image) and _core.json_parse (the strict JSON reader, for configs and tests).
// Tensor views are read-only NumPy arrays whose base is a capsule owning the C handle.
#include <stdlib.h>
#include <string.h>

#include "python/module_state.h"

typedef struct {
    PyObject_HEAD
    xt_safetensors *h;  // borrowed from `owner`; NULL once closed
    PyObject *owner;    // new: capsule whose destructor frees the handle (and any image copy)
    PyObject *path;     // new: str, or None for an in-memory image
} SafetensorsHandle;

static const char k_capsule_name[] = "xtral.safetensors";

static void capsule_free(PyObject *capsule) {
    xt_safetensors_free(PyCapsule_GetPointer(capsule, k_capsule_name));
    free(PyCapsule_GetContext(capsule));  // the copied image (open_memory), or NULL
}

// ---- lifecycle ----

// Opens from a path (bytes from PyUnicode_FSConverter) or copies a bytes-like image.
static int open_source(SafetensorsHandle *self, xt_module_state *st, PyObject *path_bytes,
                       PyObject *data) {
    xt_safetensors *h = NULL;
    void *copy = NULL;  // malloc'd image, owned by the capsule once it exists
    xt_status s;
    if (path_bytes != NULL) {
        const char *path = PyBytes_AS_STRING(path_bytes);
        Py_BEGIN_ALLOW_THREADS
        s = xt_safetensors_open(path, &h);
        Py_END_ALLOW_THREADS
    } else {
        Py_buffer view;
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return -1;
        copy = malloc((size_t)view.len + 1);
        if (copy == NULL) {
            PyBuffer_Release(&view);
            PyErr_NoMemory();
            return -1;
        }
        memcpy(copy, view.buf, (size_t)view.len);
        size_t len = (size_t)view.len;
        PyBuffer_Release(&view);
        Py_BEGIN_ALLOW_THREADS
        s = xt_safetensors_open_memory(copy, len, &h);
        Py_END_ALLOW_THREADS
    }
    if (s != XT_OK) {
        free(copy);
        return xt_raise_status_int(st, s);
    }
    self->owner = PyCapsule_New(h, k_capsule_name, capsule_free);  // new
    if (self->owner == NULL || PyCapsule_SetContext(self->owner, copy) < 0) {
        if (self->owner == NULL) {
            xt_safetensors_free(h);
            free(copy);
        }
        return -1;
    }
    self->h = h;
    return 0;
}

static int handle_init(SafetensorsHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"path", "data", NULL};
    PyObject *path_bytes = NULL;  // new
    PyObject *data = NULL;        // borrowed
    int rc = -1;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    if (self->h != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "SafetensorsHandle is already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O&$O:SafetensorsHandle", kwlist,
                                     PyUnicode_FSConverter, &path_bytes, &data)) {
        return -1;
    }
    if ((path_bytes == NULL) == (data == NULL)) {
        PyErr_SetString(PyExc_TypeError, "SafetensorsHandle needs exactly one of path or data=");
        goto done;
    }
    if (open_source(self, st, path_bytes, data) < 0) goto done;
    self->path = path_bytes ? PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(path_bytes))
                            : Py_NewRef(Py_None);  // new
    if (self->path == NULL) goto done;
    rc = 0;
done:
    Py_XDECREF(path_bytes);
    return rc;
}

static int handle_traverse(SafetensorsHandle *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->owner);
    Py_VISIT(self->path);
    return 0;
}

static int handle_clear(SafetensorsHandle *self) {
    self->h = NULL;
    Py_CLEAR(self->owner);
    Py_CLEAR(self->path);
    return 0;
}

static void handle_dealloc(SafetensorsHandle *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    handle_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static xt_safetensors *open_handle(SafetensorsHandle *self) {
    if (self->h == NULL) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed safetensors file");
    }
    return self->h;
}

static PyObject *handle_close(SafetensorsHandle *self, PyObject *unused) {
    (void)unused;
    self->h = NULL;
    Py_CLEAR(self->owner);  // views that are still alive keep the capsule (and mapping)
    Py_RETURN_NONE;
}

// ---- header facts ----

static PyObject *get_closed(SafetensorsHandle *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->h == NULL);
}

static PyObject *get_path(SafetensorsHandle *self, void *c) {
    (void)c;
    if (self->path == NULL) Py_RETURN_NONE;
    return Py_NewRef(self->path);
}

static PyObject *get_file_size(SafetensorsHandle *self, void *c) {
    (void)c;
    xt_safetensors *h = open_handle(self);
    return h ? PyLong_FromUnsignedLongLong(xt_safetensors_file_size(h)) : NULL;
}

static PyObject *get_data_offset(SafetensorsHandle *self, void *c) {
    (void)c;
    xt_safetensors *h = open_handle(self);
    return h ? PyLong_FromUnsignedLongLong(xt_safetensors_data_offset(h)) : NULL;
}

// Names and values were validated as UTF-8 by the JSON reader: decode strictly.
static PyObject *decode(const char *s, size_t len) {
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "strict");
}

static PyObject *handle_metadata(SafetensorsHandle *self, PyObject *unused) {
    (void)unused;
    xt_safetensors *h = open_handle(self);
    if (h == NULL) return NULL;
    PyObject *d = PyDict_New();  // new
    if (d == NULL) return NULL;
    for (int64_t i = 0; i < xt_safetensors_n_metadata(h); i++) {
        const xt_st_kv *kv = xt_safetensors_metadata_at(h, i);
        PyObject *k = decode(kv->key, strlen(kv->key));        // new
        PyObject *v = k ? decode(kv->value, kv->value_len) : NULL;  // new
        int rc = v ? PyDict_SetItem(d, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

// ---- tensors ----

static PyObject *shape_tuple(const xt_st_tensor *t) {
    PyObject *shape = PyTuple_New(t->n_dims);  // new
    for (uint32_t d = 0; shape && d < t->n_dims; d++) {
        PyObject *n = PyLong_FromLongLong(t->shape[d]);  // new, stolen
        if (n == NULL) Py_CLEAR(shape);
        else PyTuple_SET_ITEM(shape, d, n);
    }
    return shape;
}

static PyObject *handle_tensor_infos(SafetensorsHandle *self, PyObject *unused) {
    (void)unused;
    xt_safetensors *h = open_handle(self);
    if (h == NULL) return NULL;
    int64_t n = xt_safetensors_n_tensors(h);
    PyObject *list = PyList_New((Py_ssize_t)n);  // new
    for (int64_t i = 0; list && i < n; i++) {
        const xt_st_tensor *t = xt_safetensors_tensor_at(h, i);
        PyObject *shape = shape_tuple(t);                                // new, stolen by "N"
        PyObject *name = shape ? decode(t->name, strlen(t->name)) : NULL;  // new, stolen by "N"
        if (name == NULL) Py_CLEAR(shape);
        PyObject *row = name ? Py_BuildValue("(NNsKK)", name, shape, xt_st_dtype_name(t->dtype),
                                             (unsigned long long)t->offset,
                                             (unsigned long long)t->nbytes)
                             : NULL;  // new
        if (row == NULL) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    return list;
}

static const xt_st_tensor *find_tensor(xt_safetensors *h, PyObject *name) {
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "tensor name must be str, not %.100s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(name, &len);  // borrowed
    if (s == NULL) {
        PyErr_Clear();  // lone surrogates never name a tensor
        PyErr_SetObject(PyExc_KeyError, name);
        return NULL;
    }
    int64_t i = strlen(s) == (size_t)len ? xt_safetensors_find_tensor(h, s) : -1;
    if (i < 0) {
        PyErr_SetObject(PyExc_KeyError, name);
        return NULL;
    }
    return xt_safetensors_tensor_at(h, i);
}

// A read-only little-endian array over the mapping; its base is the owning capsule.
static PyObject *view_array(SafetensorsHandle *self, int typenum, int nd, npy_intp *dims,
                            const void *data) {
    PyArray_Descr *descr = PyArray_DescrFromType(typenum);  // new, stolen below
    if (descr == NULL) return NULL;
#if NPY_BYTE_ORDER == NPY_BIG_ENDIAN
    Py_SETREF(descr, PyArray_DescrNewByteorder(descr, NPY_LITTLE));
    if (descr == NULL) return NULL;
#endif
    PyObject *arr = PyArray_NewFromDescr(&PyArray_Type, descr, nd, dims, NULL, (void *)data, 0,
                                         NULL);  // new; flags 0: not writeable
    if (arr == NULL) return NULL;
    if (PyArray_SetBaseObject((PyArrayObject *)arr, Py_NewRef(self->owner)) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static PyObject *handle_tensor_bytes(SafetensorsHandle *self, PyObject *name) {
    xt_safetensors *h = open_handle(self);
    const xt_st_tensor *t = h ? find_tensor(h, name) : NULL;
    if (t == NULL) return NULL;
    npy_intp n = (npy_intp)t->nbytes;
    return view_array(self, NPY_UINT8, 1, &n, t->data);
}

static int numpy_type_of(xt_st_dtype t) {
    switch (t) {
    case XT_ST_BOOL: return NPY_BOOL;
    case XT_ST_I8: return NPY_INT8;
    case XT_ST_U8:
    case XT_ST_F8_E5M2: case XT_ST_F8_E4M3: case XT_ST_F8_E8M0:
    case XT_ST_F8_E4M3FNUZ: case XT_ST_F8_E5M2FNUZ: return NPY_UINT8;  // FP8: raw bytes
    case XT_ST_I16: return NPY_INT16;
    case XT_ST_U16: return NPY_UINT16;
    case XT_ST_F16: return NPY_FLOAT16;
    case XT_ST_I32: return NPY_INT32;
    case XT_ST_U32: return NPY_UINT32;
    case XT_ST_F32: return NPY_FLOAT32;
    case XT_ST_C64: return NPY_COMPLEX64;
    case XT_ST_F64: return NPY_FLOAT64;
    case XT_ST_I64: return NPY_INT64;
    case XT_ST_U64: return NPY_UINT64;
    case XT_ST_BF16: case XT_ST_DTYPE_COUNT: break;
    }
    return -1;
}

static PyObject *bf16_to_float32(const xt_st_tensor *t, int nd, npy_intp *dims) {
    PyObject *arr = PyArray_SimpleNew(nd, dims, NPY_FLOAT32);  // new
    if (arr == NULL) return NULL;
    const uint8_t *src = t->data;
    uint32_t *dst = PyArray_DATA((PyArrayObject *)arr);
    size_t n = (size_t)(t->nbytes / 2);
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) {
        uint32_t hi = (uint32_t)src[2 * i] | (uint32_t)src[2 * i + 1] << 8;  // unaligned-safe
        dst[i] = hi << 16;
    }
    Py_END_ALLOW_THREADS
    return arr;
}

static PyObject *handle_tensor(SafetensorsHandle *self, PyObject *name) {
    xt_safetensors *h = open_handle(self);
    const xt_st_tensor *t = h ? find_tensor(h, name) : NULL;
    if (t == NULL) return NULL;
    npy_intp dims[32];  // XT_ST_MAX_DIMS
    if (t->n_dims > sizeof dims / sizeof *dims) {
        PyErr_SetString(PyExc_ValueError, "tensor has too many dimensions");
        return NULL;
    }
    for (uint32_t d = 0; d < t->n_dims; d++) dims[d] = (npy_intp)t->shape[d];
    if (t->dtype == XT_ST_BF16) return bf16_to_float32(t, (int)t->n_dims, dims);
    int typenum = numpy_type_of(t->dtype);
    if (typenum < 0) {
        PyErr_Format(PyExc_ValueError, "tensor '%s' has dtype %s, which has no NumPy view", t->name,
                     xt_st_dtype_name(t->dtype));
        return NULL;
    }
    return view_array(self, typenum, (int)t->n_dims, dims, t->data);
}

// ---- JSON ----

static PyObject *json_to_py(const xt_json_value *v) {
    switch (v->type) {
    case XT_JSON_NULL: Py_RETURN_NONE;
    case XT_JSON_BOOL: return PyBool_FromLong(v->v.b);
    case XT_JSON_INT: return PyLong_FromLongLong(v->v.i);
    case XT_JSON_DOUBLE: return PyFloat_FromDouble(v->v.d);
    case XT_JSON_STRING: return decode(v->v.str.ptr, v->v.str.len);
    case XT_JSON_ARRAY: {
        PyObject *list = PyList_New((Py_ssize_t)v->v.arr.count);  // new
        for (size_t i = 0; list && i < v->v.arr.count; i++) {
            PyObject *o = json_to_py(&v->v.arr.items[i]);  // new, stolen
            if (o == NULL) Py_CLEAR(list);
            else PyList_SET_ITEM(list, (Py_ssize_t)i, o);
        }
        return list;
    }
    case XT_JSON_OBJECT: {
        PyObject *d = PyDict_New();  // new
        for (size_t i = 0; d && i < v->v.obj.count; i++) {
            const xt_json_member *m = &v->v.obj.members[i];
            PyObject *k = decode(m->key, m->key_len);         // new
            PyObject *o = k ? json_to_py(&m->value) : NULL;   // new
            if (o == NULL || PyDict_SetItem(d, k, o) < 0) Py_CLEAR(d);
            Py_XDECREF(k);
            Py_XDECREF(o);
        }
        return d;
    }
    }
    PyErr_SetString(PyExc_SystemError, "json_parse: invalid value type");
    return NULL;
}

static PyObject *py_json_parse(PyObject *module, PyObject *arg) {
    xt_module_state *st = xt_state_from_module(module);
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    xt_json *doc = NULL;
    xt_status s;
    Py_BEGIN_ALLOW_THREADS  // the exported buffer cannot be resized meanwhile
    s = xt_json_parse(view.buf, (size_t)view.len, &doc);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (s != XT_OK) return xt_raise_status(st, s);
    PyObject *result = json_to_py(xt_json_root(doc));  // new
    xt_json_free(doc);
    return result;
}

PyMethodDef xt_safetensors_methods[] = {
    {"json_parse", py_json_parse, METH_O,
     "json_parse(bytes) -> object: the strict C JSON reader (GGUFError on bad input)."},
    {NULL, NULL, 0, NULL},
};

// ---- type ----

static PyMethodDef handle_methods[] = {
    {"close", (PyCFunction)handle_close, METH_NOARGS,
     "Release the file. Arrays already returned stay valid."},
    {"metadata", (PyCFunction)handle_metadata, METH_NOARGS, "__metadata__ as a dict of str."},
    {"tensor_infos", (PyCFunction)handle_tensor_infos, METH_NOARGS,
     "List of (name, shape, dtype, offset, nbytes) in data order."},
    {"tensor_bytes", (PyCFunction)handle_tensor_bytes, METH_O,
     "Raw bytes of a tensor: a read-only uint8 array over the mapping."},
    {"tensor", (PyCFunction)handle_tensor, METH_O,
     "A tensor as a read-only NumPy view (BF16: a float32 copy; FP8: raw uint8)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef handle_getset[] = {
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {"path", (getter)get_path, NULL, "The path the file was opened from (None: in memory).", NULL},
    {"file_size", (getter)get_file_size, NULL, "File size in bytes.", NULL},
    {"data_offset", (getter)get_data_offset, NULL, "File offset of the data section.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot handle_slots[] = {
    {Py_tp_doc, "SafetensorsHandle(path=None, *, data=None): an open, validated safetensors file."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, handle_init},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_traverse, handle_traverse},
    {Py_tp_clear, handle_clear},
    {Py_tp_methods, handle_methods},
    {Py_tp_getset, handle_getset},
    {0, NULL},
};

static PyType_Spec handle_spec = {
    .name = "xtral._core.SafetensorsHandle",
    .basicsize = sizeof(SafetensorsHandle),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = handle_slots,
};

PyObject *xt_safetensors_handle_type_create(PyObject *module) {
    return PyType_FromModuleAndSpec(module, &handle_spec, NULL);
}
