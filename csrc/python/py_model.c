// py_model.c — the heap type _core.ModelHandle: a loaded model (xt_model). forward() checks
// its arguments with the GIL held, then runs with it released under a per-object lock (the
// bz2 ACQUIRE_LOCK pattern), so one model shared by two threads is serialized and two models
// run in parallel. python/xtral/model.py builds Model on top.
#include "python/module_state.h"
#include "pythread.h"

typedef struct {
    PyObject_HEAD
    xt_model *m;              // owned; NULL once closed
    PyThread_type_lock lock;  // serializes every use of `m`
} ModelHandle;

// Takes the lock, releasing the GIL while waiting so the holder can finish.
#define ACQUIRE_LOCK(obj)                                   \
    do {                                                    \
        if (!PyThread_acquire_lock((obj)->lock, 0)) {       \
            Py_BEGIN_ALLOW_THREADS                          \
            PyThread_acquire_lock((obj)->lock, 1);          \
            Py_END_ALLOW_THREADS                            \
        }                                                   \
    } while (0)
#define RELEASE_LOCK(obj) PyThread_release_lock((obj)->lock)

static xt_model *open_model(ModelHandle *self) {
    if (self->m == NULL) {
        xt_module_state *st = xt_state_from_type(Py_TYPE(self));
        PyErr_SetString(st ? st->XtralError : PyExc_ValueError, "the model is closed");
    }
    return self->m;
}

// ---- lifecycle ----

static PyObject *handle_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)args;
    (void)kwds;
    ModelHandle *self = (ModelHandle *)type->tp_alloc(type, 0);  // new
    if (self == NULL) return NULL;
    self->lock = PyThread_allocate_lock();
    if (self->lock == NULL) {
        Py_DECREF(self);
        PyErr_SetString(PyExc_MemoryError, "cannot allocate a lock");
        return NULL;
    }
    return (PyObject *)self;
}

static int handle_init(ModelHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"path", "threads", "n_ctx", "kv_type", "n_batch", "ggml_gelu", NULL};
    PyObject *path_bytes = NULL;  // new
    int threads = 0, kv_type = XT_DTYPE_F16, ggml_gelu = 0;
    long long n_ctx = 0, n_batch = 0;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&|iLiLp:ModelHandle", kwlist,
                                     PyUnicode_FSConverter, &path_bytes, &threads, &n_ctx,
                                     &kv_type, &n_batch, &ggml_gelu)) {
        return -1;
    }
    int rc = -1;
    if (self->m != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ModelHandle is already open");
        goto done;
    }
    if (threads < 0 || threads > 1024 || n_ctx < 0 || n_batch < 0 || n_batch > 65536) {
        PyErr_SetString(PyExc_ValueError, "threads must be in [0, 1024], n_ctx >= 0, "
                                          "n_batch in [0, 65536]");
        goto done;
    }
    xt_model_params p;
    xt_model_params_default(&p);
    p.n_threads = threads;
    p.n_ctx = n_ctx;
    p.kv_type = (xt_dtype)kv_type;
    p.n_batch = n_batch;
    p.ggml_gelu = ggml_gelu != 0;
    const char *path = PyBytes_AS_STRING(path_bytes);
    xt_model *m = NULL;
    xt_status s;
    Py_BEGIN_ALLOW_THREADS
    s = xt_model_load(path, &p, &m);
    Py_END_ALLOW_THREADS
    if (s != XT_OK) {
        xt_raise_status(st, s);
        goto done;
    }
    self->m = m;
    rc = 0;
done:
    Py_XDECREF(path_bytes);
    return rc;
}

static int handle_traverse(ModelHandle *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void handle_dealloc(ModelHandle *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    xt_model_free(self->m);  // no other reference exists, so nobody holds the lock
    self->m = NULL;
    if (self->lock) PyThread_free_lock(self->lock);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *handle_close(ModelHandle *self, PyObject *unused) {
    (void)unused;
    ACQUIRE_LOCK(self);  // waits for a forward running in another thread
    xt_model *m = self->m;
    self->m = NULL;
    RELEASE_LOCK(self);
    if (m != NULL) {
        Py_BEGIN_ALLOW_THREADS
        xt_model_free(m);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

// ---- compute ----

static PyObject *handle_forward(ModelHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"tokens", "all_logits", NULL};
    PyObject *tokens_obj;  // borrowed
    int all_logits = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:forward", kwlist, &tokens_obj, &all_logits)) {
        return NULL;
    }
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    if (!PyArray_Check(tokens_obj) || PyArray_TYPE((PyArrayObject *)tokens_obj) != NPY_INT32 ||
        PyArray_NDIM((PyArrayObject *)tokens_obj) != 1 ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)tokens_obj) ||
        !PyArray_ISALIGNED((PyArrayObject *)tokens_obj) ||
        PyArray_ISBYTESWAPPED((PyArrayObject *)tokens_obj)) {
        PyErr_SetString(PyExc_TypeError, "tokens must be a 1-D C-contiguous int32 array");
        return NULL;
    }
    PyArrayObject *tok = (PyArrayObject *)tokens_obj;
    npy_intp n = PyArray_DIM(tok, 0);
    PyObject *out = NULL;  // new
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    if (m == NULL) goto done;
    xt_model_info info;
    xt_model_get_info(m, &info);
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "forward: empty input (no tokens)");
        goto done;
    }
    if (n > info.n_ctx - xt_model_n_past(m)) {
        PyErr_Format(PyExc_ValueError,
                     "forward: %zd tokens after %lld in the cache exceed the context of %lld "
                     "(reset() or load with a larger n_ctx)",
                     (Py_ssize_t)n, (long long)xt_model_n_past(m), (long long)info.n_ctx);
        goto done;
    }
    npy_intp dims[2] = {n, (npy_intp)info.n_vocab};
    out = all_logits ? PyArray_SimpleNew(2, dims, NPY_FLOAT32)
                     : PyArray_SimpleNew(1, dims + 1, NPY_FLOAT32);
    if (out == NULL) goto done;
    const int32_t *ids = PyArray_DATA(tok);
    float *logits = PyArray_DATA((PyArrayObject *)out);
    xt_status s;
    Py_INCREF(tok);  // keep the input alive while the GIL is released
    Py_BEGIN_ALLOW_THREADS
    s = xt_model_forward(m, ids, (int64_t)n, all_logits != 0, logits);
    Py_END_ALLOW_THREADS
    Py_DECREF(tok);
    if (s != XT_OK) {
        Py_CLEAR(out);
        xt_raise_status(st, s);
    }
done:
    RELEASE_LOCK(self);
    return out;
}

static PyObject *handle_reset(ModelHandle *self, PyObject *unused) {
    (void)unused;
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    if (m) xt_model_reset(m);
    RELEASE_LOCK(self);
    if (m == NULL) return NULL;
    Py_RETURN_NONE;
}

// generate_step(sampler, tokens) -> next token id: forward `tokens` (an int or a 1-D int32
// array) after the cache and sample from the last position (xt_generate_step).
static PyObject *handle_generate_step(ModelHandle *self, PyObject *args) {
    PyObject *sampler_obj, *tokens_obj;  // borrowed
    if (!PyArg_ParseTuple(args, "OO:generate_step", &sampler_obj, &tokens_obj)) return NULL;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    int32_t one;
    const int32_t *ids = &one;
    npy_intp n = 1;
    if (PyLong_Check(tokens_obj)) {
        long v = PyLong_AsLong(tokens_obj);
        if (v == -1 && PyErr_Occurred()) return NULL;
        if (v < 0 || v > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "generate_step: token id %ld is out of range", v);
            return NULL;
        }
        one = (int32_t)v;
    } else {
        PyArrayObject *tok = (PyArrayObject *)tokens_obj;
        if (!PyArray_Check(tokens_obj) || PyArray_TYPE(tok) != NPY_INT32 ||
            PyArray_NDIM(tok) != 1 || !PyArray_IS_C_CONTIGUOUS(tok) || !PyArray_ISALIGNED(tok) ||
            PyArray_ISBYTESWAPPED(tok)) {
            PyErr_SetString(PyExc_TypeError, "tokens must be an int or a 1-D C-contiguous int32 array");
            return NULL;
        }
        ids = PyArray_DATA(tok);
        n = PyArray_DIM(tok, 0);
    }
    PyObject *result = NULL;  // new
    Py_INCREF(tokens_obj);    // keep the input alive while the GIL is released
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    if (m == NULL) goto done;
    xt_sampler *smp = xt_py_sampler_acquire(st, sampler_obj);
    if (smp == NULL) goto done;
    int32_t next = 0;
    xt_status s;
    Py_BEGIN_ALLOW_THREADS
    s = xt_generate_step(m, smp, ids, (int64_t)n, &next);
    Py_END_ALLOW_THREADS
    xt_py_sampler_release(sampler_obj);
    result = s == XT_OK ? PyLong_FromLong(next) : xt_raise_status(st, s);
done:
    RELEASE_LOCK(self);
    Py_DECREF(tokens_obj);
    return result;
}

static PyObject *handle_truncate(ModelHandle *self, PyObject *arg) {
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    xt_status s = m ? xt_model_truncate(m, (int64_t)n) : XT_OK;
    RELEASE_LOCK(self);
    if (m == NULL) return NULL;
    if (s != XT_OK) return xt_raise_status(st, s);
    Py_RETURN_NONE;
}

// ---- facts ----

static PyObject *get_n_past(ModelHandle *self, void *c) {
    (void)c;
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    long long n = m ? (long long)xt_model_n_past(m) : 0;
    RELEASE_LOCK(self);
    return m ? PyLong_FromLongLong(n) : NULL;
}

static PyObject *get_closed(ModelHandle *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->m == NULL);
}

static int dict_put(PyObject *d, const char *key, PyObject *value) {
    if (value == NULL) return -1;
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *info_dict(const xt_model_info *in) {
    PyObject *d = PyDict_New();        // new
    PyObject *types = PyDict_New();    // new
    if (d == NULL || types == NULL) goto error;
    for (int t = 0; t < XT_DTYPE_COUNT; t++) {
        if (in->type_tensors[t] == 0) continue;
        const xt_dtype_info *ti = xt_dtype_get((uint32_t)t);
        PyObject *v = Py_BuildValue("{sLsL}", "tensors", (long long)in->type_tensors[t],
                                    "params", (long long)in->type_params[t]);  // new
        if (dict_put(types, ti && ti->name ? ti->name : "?", v) < 0) goto error;
    }
    const xt_dtype_info *kv = xt_dtype_get((uint32_t)in->kv_type);
    if (dict_put(d, "architecture", PyUnicode_FromString(in->architecture)) < 0 ||
        dict_put(d, "n_vocab", PyLong_FromLongLong(in->n_vocab)) < 0 ||
        dict_put(d, "n_embd", PyLong_FromLongLong(in->n_embd)) < 0 ||
        dict_put(d, "n_layer", PyLong_FromLongLong(in->n_layer)) < 0 ||
        dict_put(d, "n_head", PyLong_FromLongLong(in->n_head)) < 0 ||
        dict_put(d, "n_head_kv", PyLong_FromLongLong(in->n_head_kv)) < 0 ||
        dict_put(d, "head_dim", PyLong_FromLongLong(in->head_dim)) < 0 ||
        dict_put(d, "n_ff", PyLong_FromLongLong(in->n_ff)) < 0 ||
        dict_put(d, "n_ctx", PyLong_FromLongLong(in->n_ctx)) < 0 ||
        dict_put(d, "context_length", PyLong_FromLongLong(in->n_ctx_train)) < 0 ||
        dict_put(d, "n_batch", PyLong_FromLongLong(in->n_batch)) < 0 ||
        dict_put(d, "threads", PyLong_FromLong(in->n_threads)) < 0 ||
        dict_put(d, "kv_type", PyUnicode_FromString(kv ? kv->name : "?")) < 0 ||
        dict_put(d, "n_params", PyLong_FromLongLong(in->n_params)) < 0 ||
        dict_put(d, "weight_bytes", PyLong_FromUnsignedLongLong(in->weight_bytes)) < 0 ||
        dict_put(d, "kv_bytes", PyLong_FromUnsignedLongLong(in->kv_bytes)) < 0 ||
        dict_put(d, "scratch_bytes", PyLong_FromUnsignedLongLong(in->scratch_bytes)) < 0 ||
        PyDict_SetItemString(d, "tensor_types", types) < 0) {
        goto error;
    }
    Py_DECREF(types);
    return d;
error:
    Py_XDECREF(d);
    Py_XDECREF(types);
    return NULL;
}

static PyObject *handle_info(ModelHandle *self, PyObject *unused) {
    (void)unused;
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    xt_model_info info;
    if (m) xt_model_get_info(m, &info);
    RELEASE_LOCK(self);
    return m ? info_dict(&info) : NULL;
}

// ---- adapters ----

// Runs `call` on the open model with the GIL released; raises on failure.
#define MODEL_CALL(self, st, expr)                     \
    do {                                               \
        xt_status s_;                                  \
        ACQUIRE_LOCK(self);                            \
        xt_model *m = open_model(self);                \
        if (m == NULL) {                               \
            RELEASE_LOCK(self);                        \
            return NULL;                               \
        }                                              \
        Py_BEGIN_ALLOW_THREADS                         \
        s_ = (expr);                                   \
        Py_END_ALLOW_THREADS                           \
        RELEASE_LOCK(self);                            \
        if (s_ != XT_OK) return xt_raise_status(st, s_); \
    } while (0)

static PyObject *handle_add_adapter(ModelHandle *self, PyObject *args) {
    PyObject *ad_obj;  // borrowed
    const char *name;
    float scale = 1.0f;
    if (!PyArg_ParseTuple(args, "Os|f:add_adapter", &ad_obj, &name, &scale)) return NULL;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    xt_adapter *a = xt_py_adapter_get(st, ad_obj);
    if (a == NULL) return NULL;
    Py_INCREF(ad_obj);  // keeps `a` alive while the GIL is released
    xt_status s;
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    if (m == NULL) {
        RELEASE_LOCK(self);
        Py_DECREF(ad_obj);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    s = xt_model_add_adapter(m, a, name, scale);
    Py_END_ALLOW_THREADS
    RELEASE_LOCK(self);
    Py_DECREF(ad_obj);
    if (s != XT_OK) return xt_raise_status(st, s);
    Py_RETURN_NONE;
}

static PyObject *handle_set_adapters(ModelHandle *self, PyObject *args) {
    PyObject *names_obj, *weights_obj = Py_None;  // borrowed
    if (!PyArg_ParseTuple(args, "O|O:set_adapters", &names_obj, &weights_obj)) return NULL;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    PyObject *names = PySequence_Fast(names_obj, "names must be a sequence of str");  // new
    if (names == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(names);
    const char **cn = PyMem_Calloc((size_t)n + 1, sizeof *cn);
    float *w = PyMem_Calloc((size_t)n + 1, sizeof *w);
    PyObject *ret = NULL;
    if (cn == NULL || w == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        cn[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(names, i));
        if (cn[i] == NULL) goto done;
    }
    if (weights_obj != Py_None) {
        PyObject *ws = PySequence_Fast(weights_obj, "weights must be a sequence of float");  // new
        if (ws == NULL) goto done;
        if (PySequence_Fast_GET_SIZE(ws) != n) {
            PyErr_Format(PyExc_ValueError, "set_adapters: %zd names but %zd weights", n,
                         PySequence_Fast_GET_SIZE(ws));
            Py_DECREF(ws);
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            double d = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(ws, i));
            if (d == -1.0 && PyErr_Occurred()) {
                Py_DECREF(ws);
                goto done;
            }
            w[i] = (float)d;
        }
        Py_DECREF(ws);
    }
    {
        xt_status s;
        ACQUIRE_LOCK(self);
        xt_model *m = open_model(self);
        if (m == NULL) {
            RELEASE_LOCK(self);
            goto done;
        }
        Py_BEGIN_ALLOW_THREADS
        s = xt_model_set_adapters(m, cn, weights_obj == Py_None ? NULL : w, (int64_t)n);
        Py_END_ALLOW_THREADS
        RELEASE_LOCK(self);
        if (s != XT_OK) {
            xt_raise_status(st, s);
            goto done;
        }
    }
    ret = Py_NewRef(Py_None);
done:
    PyMem_Free(cn);
    PyMem_Free(w);
    Py_DECREF(names);
    return ret;
}

static PyObject *handle_remove_adapter(ModelHandle *self, PyObject *args) {
    const char *name;
    if (!PyArg_ParseTuple(args, "s:remove_adapter", &name)) return NULL;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    MODEL_CALL(self, st, xt_model_remove_adapter(m, name));
    Py_RETURN_NONE;
}

static PyObject *handle_merge_adapter(ModelHandle *self, PyObject *args) {
    const char *name;
    int merge = 1;
    if (!PyArg_ParseTuple(args, "s|p:merge_adapter", &name, &merge)) return NULL;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    MODEL_CALL(self, st, merge ? xt_model_merge_adapter(m, name) : xt_model_unmerge_adapter(m, name));
    Py_RETURN_NONE;
}

static PyObject *handle_adapters(ModelHandle *self, PyObject *unused) {
    (void)unused;
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    PyObject *out = m ? PyList_New(0) : NULL;  // new
    for (int64_t i = 0; out && i < xt_model_n_adapters(m); i++) {
        float w;
        bool merged, xl;
        const char *name = xt_model_adapter_at(m, i, &w, &merged, &xl);
        PyObject *item = Py_BuildValue("(sdOO)", name, (double)w, merged ? Py_True : Py_False,
                                       xl ? Py_True : Py_False);  // new
        if (item == NULL || PyList_Append(out, item) < 0) Py_CLEAR(out);
        Py_XDECREF(item);
    }
    RELEASE_LOCK(self);
    return out;
}

static PyObject *handle_xlora_scalings(ModelHandle *self, PyObject *args) {
    long long from = -1, to = -1;
    if (!PyArg_ParseTuple(args, "|LL:xlora_scalings", &from, &to)) return NULL;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    PyObject *out = NULL;  // new
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    int64_t L, N, f, t;
    xt_status s = m ? xt_model_xlora_shape(m, &L, &N, &f, &t) : XT_OK;
    if (m && s == XT_OK) {
        if (from >= 0) f = from;
        if (to >= 0) t = to;
        npy_intp dims[3] = {(npy_intp)(t > f ? t - f : 0), (npy_intp)L, (npy_intp)N};
        out = PyArray_SimpleNew(3, dims, NPY_FLOAT32);
        if (out) s = xt_model_xlora_scalings(m, f, t, PyArray_DATA((PyArrayObject *)out));
    }
    RELEASE_LOCK(self);
    if (m == NULL) return NULL;
    if (s != XT_OK) {
        Py_XDECREF(out);
        return xt_raise_status(st, s);
    }
    return out;
}

static PyObject *handle_xlora_counters(ModelHandle *self, PyObject *unused) {
    (void)unused;
    ACQUIRE_LOCK(self);
    xt_model *m = open_model(self);
    int64_t passes = 0, ng = 0;
    if (m) xt_model_xlora_counters(m, &passes, &ng);
    RELEASE_LOCK(self);
    if (m == NULL) return NULL;
    return Py_BuildValue("{sLsL}", "scaling_passes", (long long)passes, "non_granular_steps",
                         (long long)ng);
}

static PyMethodDef handle_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))handle_forward, METH_VARARGS | METH_KEYWORDS,
     "forward(tokens: int32 array, all_logits=False) -> float32 logits."},
    {"reset", (PyCFunction)handle_reset, METH_NOARGS, "Forget the KV cache."},
    {"truncate", (PyCFunction)handle_truncate, METH_O,
     "truncate(n): keep the first n cached tokens (n <= n_past)."},
    {"generate_step", (PyCFunction)handle_generate_step, METH_VARARGS,
     "generate_step(sampler, tokens: int | int32 array) -> next token id."},
    {"close", (PyCFunction)handle_close, METH_NOARGS, "Free the model (idempotent)."},
    {"info", (PyCFunction)handle_info, METH_NOARGS, "Model facts as a dict."},
    {"add_adapter", (PyCFunction)handle_add_adapter, METH_VARARGS,
     "add_adapter(adapter, name, scale=1.0): attach a copy and make it active."},
    {"set_adapters", (PyCFunction)handle_set_adapters, METH_VARARGS,
     "set_adapters(names, weights=None): replace the active set."},
    {"remove_adapter", (PyCFunction)handle_remove_adapter, METH_VARARGS, "Detach an adapter."},
    {"merge_adapter", (PyCFunction)handle_merge_adapter, METH_VARARGS,
     "merge_adapter(name, merge=True): merge into (or, False, unmerge from) float weights."},
    {"adapters", (PyCFunction)handle_adapters, METH_NOARGS,
     "[(name, weight (0: inactive), merged, is_xlora)] in attach order."},
    {"xlora_scalings", (PyCFunction)handle_xlora_scalings, METH_VARARGS,
     "xlora_scalings(from=-1, to=-1) -> float32 [tokens, layers, experts] (last call by default)."},
    {"xlora_counters", (PyCFunction)handle_xlora_counters, METH_NOARGS,
     "{'scaling_passes': ..., 'non_granular_steps': ...}"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef handle_getset[] = {
    {"n_past", (getter)get_n_past, NULL, "Tokens in the KV cache.", NULL},
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot handle_slots[] = {
    {Py_tp_new, handle_new},
    {Py_tp_init, handle_init},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_traverse, handle_traverse},
    {Py_tp_methods, handle_methods},
    {Py_tp_getset, handle_getset},
    {Py_tp_doc, "ModelHandle(path, threads=0, n_ctx=0, kv_type=1, n_batch=0, ggml_gelu=False): a model."},
    {0, NULL},
};

static PyType_Spec handle_spec = {
    .name = "xtral._core.ModelHandle",
    .basicsize = sizeof(ModelHandle),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = handle_slots,
};

PyObject *xt_model_handle_type_create(PyObject *module) {
    return PyType_FromModuleAndSpec(module, &handle_spec, NULL);
}
