// py_vocab.c — the heap type _core.VocabHandle: a tokenizer vocabulary read from a GGUF file
// (xt_vocab). Arguments are checked with the GIL held; tokenize and detokenize run with it
// released under a per-object lock, because the vocab's scratch buffers serve one call at a
// time. python/xtral/tokenizer.py builds the Model methods on top.
#include "python/module_state.h"
#include "pythread.h"

typedef struct {
    PyObject_HEAD
    xt_vocab *v;              // owned; NULL once closed
    PyThread_type_lock lock;  // serializes every use of `v`
} VocabHandle;

#define ACQUIRE_LOCK(obj)                                   \
    do {                                                    \
        if (!PyThread_acquire_lock((obj)->lock, 0)) {       \
            Py_BEGIN_ALLOW_THREADS                          \
            PyThread_acquire_lock((obj)->lock, 1);          \
            Py_END_ALLOW_THREADS                            \
        }                                                   \
    } while (0)
#define RELEASE_LOCK(obj) PyThread_release_lock((obj)->lock)

static xt_vocab *open_vocab(VocabHandle *self) {
    if (self->v == NULL) {
        xt_module_state *st = xt_state_from_type(Py_TYPE(self));
        PyErr_SetString(st ? st->XtralError : PyExc_ValueError, "the vocabulary is closed");
    }
    return self->v;
}

// ---- lifecycle ----

static PyObject *vocab_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)args;
    (void)kwds;
    VocabHandle *self = (VocabHandle *)type->tp_alloc(type, 0);  // new
    if (self == NULL) return NULL;
    self->lock = PyThread_allocate_lock();
    if (self->lock == NULL) {
        Py_DECREF(self);
        PyErr_SetString(PyExc_MemoryError, "cannot allocate a lock");
        return NULL;
    }
    return (PyObject *)self;
}

static int vocab_init(VocabHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"path", NULL};
    PyObject *path_bytes = NULL;  // new
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&:VocabHandle", kwlist, PyUnicode_FSConverter,
                                     &path_bytes)) {
        return -1;
    }
    int rc = -1;
    if (self->v != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "VocabHandle is already open");
        goto done;
    }
    const char *path = PyBytes_AS_STRING(path_bytes);
    xt_vocab *v = NULL;
    xt_status s;
    Py_BEGIN_ALLOW_THREADS
    s = xt_vocab_load(path, &v);
    Py_END_ALLOW_THREADS
    if (s != XT_OK) {
        xt_raise_status(st, s);
        goto done;
    }
    self->v = v;
    rc = 0;
done:
    Py_XDECREF(path_bytes);
    return rc;
}

static int vocab_traverse(VocabHandle *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void vocab_dealloc(VocabHandle *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    xt_vocab_free(self->v);
    self->v = NULL;
    if (self->lock) PyThread_free_lock(self->lock);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *vocab_close(VocabHandle *self, PyObject *unused) {
    (void)unused;
    ACQUIRE_LOCK(self);
    xt_vocab *v = self->v;
    self->v = NULL;
    RELEASE_LOCK(self);
    xt_vocab_free(v);
    Py_RETURN_NONE;
}

// ---- conversions ----

static PyObject *ids_to_list(const int32_t *ids, int64_t n) {
    PyObject *list = PyList_New((Py_ssize_t)n);  // new
    if (list == NULL) return NULL;
    for (int64_t i = 0; i < n; i++) {
        PyObject *x = PyLong_FromLong(ids[i]);  // new, stolen by the list
        if (x == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, x);
    }
    return list;
}

// Copies a sequence of ints (Python ints or NumPy integers) into a PyMem buffer; ids outside
// [0, n_tokens) are a ValueError naming the id and its index.
static int32_t *ids_from_seq(PyObject *seq_obj, int64_t n_tokens, Py_ssize_t *n_out) {
    PyObject *seq = PySequence_Fast(seq_obj, "ids must be a sequence of ints");  // new
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int32_t *ids = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof *ids);
    if (ids == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);  // borrowed
        if (PyBool_Check(item)) goto type_error;
        PyObject *idx = PyNumber_Index(item);  // new
        if (idx == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) goto error;
            PyErr_Clear();
            goto type_error;
        }
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(idx, &overflow);
        Py_DECREF(idx);
        if (x == -1 && PyErr_Occurred()) goto error;
        if (overflow || x < 0 || x >= n_tokens) {
            PyErr_Format(PyExc_ValueError, "token id %R at index %zd is out of range [0, %lld)",
                         item, i, (long long)n_tokens);
            goto error;
        }
        ids[i] = (int32_t)x;
        continue;
    type_error:
        PyErr_Format(PyExc_TypeError, "token ids must be ints, got %.100s at index %zd",
                     Py_TYPE(item)->tp_name, i);
        goto error;
    }
    Py_DECREF(seq);
    *n_out = n;
    return ids;
error:
    Py_DECREF(seq);
    PyMem_Free(ids);
    return NULL;
}

// ---- methods ----

static PyObject *vocab_tokenize(VocabHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"text", "add_special", "parse_special", NULL};
    Py_buffer text;
    int add_special = 1, parse_special = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|pp:tokenize", kwlist, &text, &add_special,
                                     &parse_special)) {
        return NULL;
    }
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    PyObject *result = NULL;  // new
    ACQUIRE_LOCK(self);
    xt_vocab *v = open_vocab(self);
    if (v != NULL && st != NULL) {
        const int32_t *ids = NULL;
        int64_t n = 0;
        xt_status s;
        Py_BEGIN_ALLOW_THREADS
        s = xt_vocab_tokenize(v, text.buf, (size_t)text.len, add_special != 0, parse_special != 0,
                              &ids, &n);
        Py_END_ALLOW_THREADS
        result = s == XT_OK ? ids_to_list(ids, n) : xt_raise_status(st, s);
    }
    RELEASE_LOCK(self);
    PyBuffer_Release(&text);
    return result;
}

static PyObject *vocab_detokenize(VocabHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"ids", "remove_special", "unparse_special", NULL};
    PyObject *ids_obj;  // borrowed
    int remove_special = 0, unparse_special = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|pp:detokenize", kwlist, &ids_obj,
                                     &remove_special, &unparse_special)) {
        return NULL;
    }
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    PyObject *result = NULL;  // new
    int32_t *ids = NULL;
    ACQUIRE_LOCK(self);
    xt_vocab *v = open_vocab(self);
    if (v == NULL) goto done;
    xt_vocab_info info;
    xt_vocab_get_info(v, &info);
    Py_ssize_t n = 0;
    ids = ids_from_seq(ids_obj, info.n_tokens, &n);
    if (ids == NULL) goto done;
    const char *text = NULL;
    size_t len = 0;
    xt_status s;
    Py_BEGIN_ALLOW_THREADS
    s = xt_vocab_detokenize(v, ids, (int64_t)n, remove_special != 0, unparse_special != 0, &text,
                            &len);
    Py_END_ALLOW_THREADS
    result = s == XT_OK ? PyBytes_FromStringAndSize(text, (Py_ssize_t)len) : xt_raise_status(st, s);
done:
    RELEASE_LOCK(self);
    PyMem_Free(ids);
    return result;
}

static int parse_id(PyObject *obj, int32_t *out) {
    if (PyBool_Check(obj) || !PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "token id must be an int, got %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    PyObject *idx = PyNumber_Index(obj);  // new
    if (idx == NULL) return -1;
    long long x = PyLong_AsLongLongAndOverflow(idx, &overflow);
    Py_DECREF(idx);
    if (x == -1 && PyErr_Occurred()) return -1;
    *out = overflow || x < INT32_MIN || x > INT32_MAX ? INT32_MIN : (int32_t)x;
    return 0;
}

static PyObject *vocab_token_piece(VocabHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"id", "special", NULL};
    PyObject *id_obj;  // borrowed
    int special = 1;
    int32_t id;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:token_piece", kwlist, &id_obj, &special) ||
        parse_id(id_obj, &id) < 0) {
        return NULL;
    }
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    PyObject *result = NULL;  // new
    ACQUIRE_LOCK(self);
    xt_vocab *v = open_vocab(self);
    if (v != NULL) {
        const char *piece;
        size_t len;
        xt_status s = xt_vocab_token_piece(v, id, special != 0, &piece, &len);
        if (s == XT_OK) {
            result = PyBytes_FromStringAndSize(piece, (Py_ssize_t)len);
        } else if (id == INT32_MIN) {
            PyErr_Format(PyExc_ValueError, "token id %R is out of range", id_obj);
        } else {
            xt_raise_status(st, s);
        }
    }
    RELEASE_LOCK(self);
    return result;
}

static PyObject *vocab_token_text(VocabHandle *self, PyObject *arg) {
    int32_t id;
    if (parse_id(arg, &id) < 0) return NULL;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    PyObject *result = NULL;  // new
    ACQUIRE_LOCK(self);
    xt_vocab *v = open_vocab(self);
    if (v != NULL) {
        const char *text;
        size_t len;
        uint32_t attr = 0;
        xt_status s = xt_vocab_token_text(v, id, &text, &len, &attr);
        if (s == XT_OK) result = Py_BuildValue("(y#I)", text, (Py_ssize_t)len, attr);
        else if (id == INT32_MIN) PyErr_Format(PyExc_ValueError, "token id %R is out of range", arg);
        else xt_raise_status(st, s);
    }
    RELEASE_LOCK(self);
    return result;
}

static PyObject *id_or_none(int32_t id) {
    if (id < 0) Py_RETURN_NONE;
    return PyLong_FromLong(id);
}

static int dict_put(PyObject *d, const char *key, PyObject *value) {
    if (value == NULL) return -1;
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *vocab_info(VocabHandle *self, PyObject *unused) {
    (void)unused;
    PyObject *d = NULL;  // new
    ACQUIRE_LOCK(self);
    xt_vocab *v = open_vocab(self);
    if (v == NULL) goto done;
    xt_vocab_info in;
    xt_vocab_get_info(v, &in);
    d = PyDict_New();
    if (d == NULL) goto done;
    if (dict_put(d, "type", PyUnicode_FromString(in.type)) < 0 ||
        dict_put(d, "pre", PyUnicode_FromString(in.pre)) < 0 ||
        dict_put(d, "n_tokens", PyLong_FromLongLong(in.n_tokens)) < 0 ||
        dict_put(d, "n_merges", PyLong_FromLongLong(in.n_merges)) < 0 ||
        dict_put(d, "n_special", PyLong_FromLongLong(in.n_special)) < 0 ||
        dict_put(d, "bos", id_or_none(in.bos)) < 0 || dict_put(d, "eos", id_or_none(in.eos)) < 0 ||
        dict_put(d, "eot", id_or_none(in.eot)) < 0 || dict_put(d, "eom", id_or_none(in.eom)) < 0 ||
        dict_put(d, "unk", id_or_none(in.unk)) < 0 || dict_put(d, "sep", id_or_none(in.sep)) < 0 ||
        dict_put(d, "pad", id_or_none(in.pad)) < 0 ||
        dict_put(d, "add_bos", PyBool_FromLong(in.add_bos)) < 0 ||
        dict_put(d, "add_eos", PyBool_FromLong(in.add_eos)) < 0 ||
        dict_put(d, "add_space_prefix", PyBool_FromLong(in.add_space_prefix)) < 0 ||
        dict_put(d, "eog", ids_to_list(in.eog, in.n_eog)) < 0) {
        Py_CLEAR(d);
        goto done;
    }
    const char *tmpl;
    size_t tlen;
    xt_status s = xt_vocab_chat_template(v, &tmpl, &tlen);
    if (s != XT_OK) {
        Py_CLEAR(d);
        xt_module_state *st = xt_state_from_type(Py_TYPE(self));
        if (st) xt_raise_status(st, s);
        goto done;
    }
    PyObject *t = tmpl ? PyUnicode_DecodeUTF8(tmpl, (Py_ssize_t)tlen, "replace") : Py_NewRef(Py_None);
    if (dict_put(d, "chat_template", t) < 0) Py_CLEAR(d);
done:
    RELEASE_LOCK(self);
    return d;
}

static PyObject *get_closed(VocabHandle *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->v == NULL);
}

static PyMethodDef vocab_methods[] = {
    {"tokenize", (PyCFunction)(void (*)(void))vocab_tokenize, METH_VARARGS | METH_KEYWORDS,
     "tokenize(text: bytes, add_special=True, parse_special=False) -> list[int]."},
    {"detokenize", (PyCFunction)(void (*)(void))vocab_detokenize, METH_VARARGS | METH_KEYWORDS,
     "detokenize(ids, remove_special=False, unparse_special=True) -> bytes."},
    {"token_piece", (PyCFunction)(void (*)(void))vocab_token_piece, METH_VARARGS | METH_KEYWORDS,
     "token_piece(id, special=True) -> bytes."},
    {"token_text", (PyCFunction)vocab_token_text, METH_O,
     "token_text(id) -> (stored text: bytes, attribute bits: int)."},
    {"info", (PyCFunction)vocab_info, METH_NOARGS, "Vocabulary facts as a dict."},
    {"close", (PyCFunction)vocab_close, METH_NOARGS, "Free the vocabulary (idempotent)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef vocab_getset[] = {
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot vocab_slots[] = {
    {Py_tp_new, vocab_new},
    {Py_tp_init, vocab_init},
    {Py_tp_dealloc, vocab_dealloc},
    {Py_tp_traverse, vocab_traverse},
    {Py_tp_methods, vocab_methods},
    {Py_tp_getset, vocab_getset},
    {Py_tp_doc, "VocabHandle(path): the tokenizer vocabulary of a GGUF file."},
    {0, NULL},
};

static PyType_Spec vocab_spec = {
    .name = "xtral._core.VocabHandle",
    .basicsize = sizeof(VocabHandle),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = vocab_slots,
};

static PyObject *xt_unicode_version_py(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyUnicode_FromString(xt_unicode_version());
}

// _unicode_flags(start, stop) -> bytes: xt_unicode_flags of each code point, uint16 LE.
static PyObject *py_unicode_flags(PyObject *module, PyObject *args) {
    (void)module;
    unsigned int start, stop;
    if (!PyArg_ParseTuple(args, "II:_unicode_flags", &start, &stop)) return NULL;
    if (stop < start || stop > 0x110000) {
        PyErr_SetString(PyExc_ValueError, "need 0 <= start <= stop <= 0x110000");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(stop - start) * 2);  // new
    if (out == NULL) return NULL;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(out);
    for (unsigned int c = start; c < stop; c++, p += 2) {
        uint32_t f = xt_unicode_flags(c);
        p[0] = (unsigned char)(f & 0xFF);
        p[1] = (unsigned char)(f >> 8);
    }
    return out;
}

PyMethodDef xt_vocab_methods[] = {
    {"_unicode_flags", py_unicode_flags, METH_VARARGS,
     "_unicode_flags(start, stop) -> bytes (uint16 LE per code point)."},
    {"unicode_version", (PyCFunction)(void (*)(void))xt_unicode_version_py, METH_NOARGS,
     "Unicode version of the tokenizer tables."},
    {NULL, NULL, 0, NULL},
};

PyObject *xt_vocab_handle_type_create(PyObject *module) {
    return PyType_FromModuleAndSpec(module, &vocab_spec, NULL);
}
