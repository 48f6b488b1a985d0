// py_gguf.c — the heap type _core.GGUFHandle: an open, validated GGUF file. Tensor views are
// read-only NumPy arrays whose base is a capsule owning the C handle, so close() never
// invalidates an array that is still alive (the mapping goes when the last view goes).
#include "python/module_state.h"

typedef struct {
    PyObject_HEAD
    xt_gguf *g;         // borrowed from `owner`; NULL once closed
    PyObject *owner;    // new: capsule whose destructor frees the handle; NULL once closed
    PyObject *path;     // new: str
} GGUFHandle;

static const char k_capsule_name[] = "xtral.gguf";

static void capsule_free(PyObject *capsule) {
    xt_gguf_free(PyCapsule_GetPointer(capsule, k_capsule_name));
}

// ---- lifecycle ----

static int handle_init(GGUFHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"path", NULL};
    PyObject *path_bytes = NULL;  // new
    int rc = -1;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    if (self->g != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "GGUFHandle is already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&:GGUFHandle", kwlist, PyUnicode_FSConverter,
                                     &path_bytes)) {
        return -1;
    }
    const char *path = PyBytes_AS_STRING(path_bytes);
    xt_gguf *g = NULL;
    xt_status s;
    Py_BEGIN_ALLOW_THREADS
    s = xt_gguf_open(path, &g);
    Py_END_ALLOW_THREADS
    if (s != XT_OK) {
        xt_raise_status(st, s);
        goto done;
    }
    self->owner = PyCapsule_New(g, k_capsule_name, capsule_free);
    if (self->owner == NULL) {
        xt_gguf_free(g);
        goto done;
    }
    self->g = g;
    self->path = PyUnicode_DecodeFSDefault(path);
    if (self->path == NULL) goto done;
    rc = 0;
done:
    Py_XDECREF(path_bytes);
    return rc;
}

static int handle_traverse(GGUFHandle *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->owner);
    Py_VISIT(self->path);
    return 0;
}

static int handle_clear(GGUFHandle *self) {
    self->g = NULL;
    Py_CLEAR(self->owner);
    Py_CLEAR(self->path);
    return 0;
}

static void handle_dealloc(GGUFHandle *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    handle_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static xt_gguf *open_handle(GGUFHandle *self) {
    if (self->g == NULL) PyErr_SetString(PyExc_ValueError, "I/O operation on a closed GGUF file");
    return self->g;
}

static PyObject *handle_close(GGUFHandle *self, PyObject *unused) {
    (void)unused;
    self->g = NULL;
    Py_CLEAR(self->owner);  // views that are still alive keep the capsule (and mapping)
    Py_RETURN_NONE;
}

// ---- header facts ----

static PyObject *get_closed(GGUFHandle *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->g == NULL);
}

static PyObject *get_path(GGUFHandle *self, void *c) {
    (void)c;
    if (self->path == NULL) Py_RETURN_NONE;
    return Py_NewRef(self->path);
}

#define HANDLE_INT_GETTER(fname, expr)                                \
    static PyObject *fname(GGUFHandle *self, void *c) {               \
        (void)c;                                                      \
        xt_gguf *g = open_handle(self);                               \
        return g ? PyLong_FromUnsignedLongLong((unsigned long long)(expr)) : NULL; \
    }
HANDLE_INT_GETTER(get_version, xt_gguf_version(g))
HANDLE_INT_GETTER(get_alignment, xt_gguf_alignment(g))
HANDLE_INT_GETTER(get_data_offset, xt_gguf_data_offset(g))
HANDLE_INT_GETTER(get_file_size, xt_gguf_file_size(g))
HANDLE_INT_GETTER(get_n_tensors, xt_gguf_n_tensors(g))
HANDLE_INT_GETTER(get_n_kv, xt_gguf_n_kv(g))

static PyObject *get_architecture(GGUFHandle *self, void *c) {
    (void)c;
    xt_gguf *g = open_handle(self);
    if (g == NULL) return NULL;
    const char *a = xt_gguf_architecture(g);
    if (a == NULL) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(a, (Py_ssize_t)strlen(a), "surrogateescape");
}

// Names in files are untrusted bytes: decode with surrogateescape so any byte string
// round-trips between Python and the file.
static PyObject *decode_name(const char *s) {
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

// Sets d[decode(key)] = value, stealing `value` (which may be NULL after a failed call).
static int dict_set_steal(PyObject *d, const char *key, PyObject *value) {
    if (value == NULL) return -1;
    PyObject *k = decode_name(key);  // new
    int rc = k ? PyDict_SetItem(d, k, value) : -1;
    Py_XDECREF(k);
    Py_DECREF(value);
    return rc;
}

// ---- metadata ----

static PyObject *handle_metadata(GGUFHandle *self, PyObject *unused) {
    (void)unused;
    xt_gguf *g = open_handle(self);
    if (g == NULL) return NULL;
    PyObject *d = PyDict_New();  // new
    if (d == NULL) return NULL;
    for (int64_t i = 0; i < xt_gguf_n_kv(g); i++) {
        if (dict_set_steal(d, xt_gguf_kv_key(g, i), xt_gguf_value_to_py(xt_gguf_kv_value(g, i))) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *handle_metadata_types(GGUFHandle *self, PyObject *unused) {
    (void)unused;
    xt_gguf *g = open_handle(self);
    if (g == NULL) return NULL;
    PyObject *d = PyDict_New();  // new
    if (d == NULL) return NULL;
    for (int64_t i = 0; i < xt_gguf_n_kv(g); i++) {
        if (dict_set_steal(d, xt_gguf_kv_key(g, i), xt_gguf_value_type_str(xt_gguf_kv_value(g, i))) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

// ---- tensors ----

static PyObject *numpy_shape_tuple(const xt_gguf_tensor *t) {
    PyObject *shape = PyTuple_New(t->n_dims);  // new
    if (shape == NULL) return NULL;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        // NumPy order is outermost first: the reverse of ggml's ne.
        PyObject *n = PyLong_FromLongLong(t->ne[t->n_dims - 1 - d]);  // new, stolen below
        if (n == NULL) {
            Py_DECREF(shape);
            return NULL;
        }
        PyTuple_SET_ITEM(shape, d, n);
    }
    return shape;
}

static PyObject *handle_tensor_infos(GGUFHandle *self, PyObject *unused) {
    (void)unused;
    xt_gguf *g = open_handle(self);
    if (g == NULL) return NULL;
    int64_t n = xt_gguf_n_tensors(g);
    PyObject *list = PyList_New((Py_ssize_t)n);  // new
    if (list == NULL) return NULL;
    for (int64_t i = 0; i < n; i++) {
        const xt_gguf_tensor *t = xt_gguf_tensor_at(g, i);
        PyObject *shape = numpy_shape_tuple(t);  // new, stolen by "N"
        PyObject *pname = shape ? decode_name(t->name) : NULL;  // new, stolen by "N"
        if (pname == NULL) Py_CLEAR(shape);
        PyObject *row = shape ? Py_BuildValue("(NNsIKK)", pname, shape,
                                              xt_dtype_get(t->type)->name, t->type,
                                              (unsigned long long)t->offset,
                                              (unsigned long long)t->nbytes)
                              : NULL;  // new
        if (row == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    return list;
}

static const xt_gguf_tensor *find_tensor(xt_gguf *g, PyObject *name) {
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "tensor name must be str, not %.100s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    PyObject *b = PyUnicode_AsEncodedString(name, "utf-8", "surrogateescape");  // new
    if (b == NULL) return NULL;
    int64_t i = strlen(PyBytes_AS_STRING(b)) == (size_t)PyBytes_GET_SIZE(b)
                    ? xt_gguf_find_tensor(g, PyBytes_AS_STRING(b))
                    : -1;  // an embedded NUL never names a tensor
    Py_DECREF(b);
    if (i < 0) {
        PyErr_SetObject(PyExc_KeyError, name);
        return NULL;
    }
    return xt_gguf_tensor_at(g, i);
}

// A read-only array over the mapping; its base is the capsule that owns the handle.
static PyObject *view_array(GGUFHandle *self, int typenum, int nd, npy_intp *dims,
                            const void *data) {
    PyObject *arr = PyArray_NewFromDescr(&PyArray_Type, PyArray_DescrFromType(typenum), nd, dims,
                                         NULL, (void *)data, 0, NULL);  // new; not writeable
    if (arr == NULL) return NULL;
    if (PyArray_SetBaseObject((PyArrayObject *)arr, Py_NewRef(self->owner)) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static PyObject *handle_tensor_bytes(GGUFHandle *self, PyObject *name) {
    xt_gguf *g = open_handle(self);
    if (g == NULL) return NULL;
    const xt_gguf_tensor *t = find_tensor(g, name);
    if (t == NULL) return NULL;
    npy_intp n = (npy_intp)t->nbytes;
    return view_array(self, NPY_UINT8, 1, &n, t->data);
}

static int numpy_type_of(uint32_t type) {
    switch (type) {
    case XT_DTYPE_F32: return NPY_FLOAT32;
    case XT_DTYPE_F16: return NPY_FLOAT16;
    case XT_DTYPE_F64: return NPY_FLOAT64;
    case XT_DTYPE_I8: return NPY_INT8;
    case XT_DTYPE_I16: return NPY_INT16;
    case XT_DTYPE_I32: return NPY_INT32;
    case XT_DTYPE_I64: return NPY_INT64;
    default: return -1;
    }
}

static PyObject *bf16_to_float32(const xt_gguf_tensor *t, int nd, npy_intp *dims) {
    PyObject *arr = PyArray_SimpleNew(nd, dims, NPY_FLOAT32);  // new
    if (arr == NULL) return NULL;
    const uint8_t *src = t->data;
    uint32_t *dst = PyArray_DATA((PyArrayObject *)arr);
    size_t n = (size_t)(t->nbytes / 2);
    for (size_t i = 0; i < n; i++) {
        uint32_t hi = (uint32_t)src[2 * i] | (uint32_t)src[2 * i + 1] << 8;  // unaligned-safe
        dst[i] = hi << 16;
    }
    return arr;
}

static PyObject *handle_tensor(GGUFHandle *self, PyObject *name) {
    xt_gguf *g = open_handle(self);
    if (g == NULL) return NULL;
    const xt_gguf_tensor *t = find_tensor(g, name);
    if (t == NULL) return NULL;
    npy_intp dims[4];
    for (uint32_t d = 0; d < t->n_dims; d++) dims[d] = (npy_intp)t->ne[t->n_dims - 1 - d];
    if (t->type == XT_DTYPE_BF16) return bf16_to_float32(t, (int)t->n_dims, dims);
    int typenum = numpy_type_of(t->type);
    if (typenum < 0) {
        PyErr_Format(PyExc_ValueError,
                     "tensor '%s' has the block type %s: tensor() returns float and integer "
                     "types only; use tensor_bytes() for the raw blocks",
                     t->name, xt_dtype_get(t->type)->name);
        return NULL;
    }
    return view_array(self, typenum, (int)t->n_dims, dims, t->data);
}

// ---- memory plan ----

static PyObject *handle_memory_plan(GGUFHandle *self, PyObject *unused) {
    (void)unused;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    xt_gguf *g = open_handle(self);
    if (g == NULL || st == NULL) return NULL;
    xt_memory_plan plan;
    xt_status s = xt_gguf_memory_plan(g, &plan);  // fast; built once with the GIL held
    if (s != XT_OK) return xt_raise_status(st, s);
    PyObject *sizes = PyList_New((Py_ssize_t)plan.n_layers);  // new
    if (sizes == NULL) return NULL;
    for (int64_t i = 0; i < plan.n_layers; i++) {
        PyObject *n = PyLong_FromUnsignedLongLong(plan.layer_sizes[i]);  // new, stolen
        if (n == NULL) {
            Py_DECREF(sizes);
            return NULL;
        }
        PyList_SET_ITEM(sizes, (Py_ssize_t)i, n);
    }
    const char *arch = xt_gguf_architecture(g);
    PyObject *parch = decode_name(arch ? arch : "");  // new, stolen by "N"
    if (parch == NULL) {
        Py_DECREF(sizes);
        return NULL;
    }
    return Py_BuildValue("(NLOKN)", parch, (long long)plan.n_layers,
                         plan.fallback ? Py_True : Py_False,
                         (unsigned long long)plan.non_mapped_size, sizes);
}

// ---- type ----

static PyMethodDef handle_methods[] = {
    {"close", (PyCFunction)handle_close, METH_NOARGS,
     "Release the file. Arrays already returned stay valid."},
    {"metadata", (PyCFunction)handle_metadata, METH_NOARGS, "All key-values as a dict."},
    {"metadata_types", (PyCFunction)handle_metadata_types, METH_NOARGS,
     "Key -> GGUF value type name ('uint32', 'array[string]', ...)."},
    {"tensor_infos", (PyCFunction)handle_tensor_infos, METH_NOARGS,
     "List of (name, numpy_shape, type_name, type_id, offset, nbytes) in file order."},
    {"tensor_bytes", (PyCFunction)handle_tensor_bytes, METH_O,
     "Raw bytes of a tensor: a read-only uint8 array over the mapping."},
    {"tensor", (PyCFunction)handle_tensor, METH_O,
     "A tensor as a NumPy array (zero-copy for F32/F16/F64/I8-I64; BF16 as a float32 copy)."},
    {"memory_plan", (PyCFunction)handle_memory_plan, METH_NOARGS,
     "(architecture, n_layers, fallback, non_mapped_size, layer_sizes)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef handle_getset[] = {
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {"path", (getter)get_path, NULL, "The path the file was opened from.", NULL},
    {"version", (getter)get_version, NULL, "GGUF version (2 or 3).", NULL},
    {"alignment", (getter)get_alignment, NULL, "Data alignment in bytes.", NULL},
    {"data_offset", (getter)get_data_offset, NULL, "File offset of the data section.", NULL},
    {"file_size", (getter)get_file_size, NULL, "File size in bytes.", NULL},
    {"n_tensors", (getter)get_n_tensors, NULL, "Number of tensors.", NULL},
    {"n_kv", (getter)get_n_kv, NULL, "Number of metadata keys.", NULL},
    {"architecture", (getter)get_architecture, NULL, "general.architecture or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot handle_slots[] = {
    {Py_tp_doc, "GGUFHandle(path): an open, validated GGUF file (mmapped, read-only)."},
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
    .name = "xtral._core.GGUFHandle",
    .basicsize = sizeof(GGUFHandle),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = handle_slots,
};

PyObject *xt_gguf_handle_type_create(PyObject *module) {
    return PyType_FromModuleAndSpec(module, &handle_spec, NULL);
}
