// py_sampler.c — the heap type _core.SamplerHandle (an xt_sampler) and the decode step
// ModelHandle.generate_step uses. Arguments are checked with the GIL held; sampling runs with
// it released under the sampler's lock (the bz2 ACQUIRE_LOCK pattern, as py_model.c).
// python/xtral/sampling.py builds Sampler on top.
#include "python/module_state.h"
#include "pythread.h"

typedef struct {
    PyObject_HEAD
    xt_sampler *s;            // owned
    PyThread_type_lock lock;  // serializes every use of `s`
} SamplerHandle;

#define ACQUIRE_LOCK(obj)                                   \
    do {                                                    \
        if (!PyThread_acquire_lock((obj)->lock, 0)) {       \
            Py_BEGIN_ALLOW_THREADS                          \
            PyThread_acquire_lock((obj)->lock, 1);          \
            Py_END_ALLOW_THREADS                            \
        }                                                   \
    } while (0)
#define RELEASE_LOCK(obj) PyThread_release_lock((obj)->lock)

// A 1-D C-contiguous aligned native array of `type`, or NULL with TypeError set.
static PyArrayObject *exact_array(PyObject *obj, int type, const char *what) {
    if (!PyArray_Check(obj) || PyArray_TYPE((PyArrayObject *)obj) != type ||
        PyArray_NDIM((PyArrayObject *)obj) != 1 ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)obj) ||
        !PyArray_ISALIGNED((PyArrayObject *)obj) || PyArray_ISBYTESWAPPED((PyArrayObject *)obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a 1-D C-contiguous %s array", what,
                     type == NPY_INT32 ? "int32" : "float32");
        return NULL;
    }
    return (PyArrayObject *)obj;
}

// ---- lifecycle ----

static PyObject *sampler_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)args;
    (void)kwds;
    SamplerHandle *self = (SamplerHandle *)type->tp_alloc(type, 0);  // new
    if (self == NULL) return NULL;
    self->lock = PyThread_allocate_lock();
    if (self->lock == NULL) {
        Py_DECREF(self);
        PyErr_SetString(PyExc_MemoryError, "cannot allocate a lock");
        return NULL;
    }
    return (PyObject *)self;
}

static int sampler_init(SamplerHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"n_vocab", "temperature", "top_k", "top_p", "min_p",
                             "repeat_penalty", "presence_penalty", "frequency_penalty",
                             "penalty_last_n", "seed", NULL};
    long long n_vocab;
    unsigned long long seed = 0;
    xt_sampler_params p;
    xt_sampler_params_default(&p);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "L|fifffffiK:SamplerHandle", kwlist, &n_vocab,
                                     &p.temperature, &p.top_k, &p.top_p, &p.min_p,
                                     &p.repeat_penalty, &p.presence_penalty,
                                     &p.frequency_penalty, &p.penalty_last_n, &seed)) {
        return -1;
    }
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    if (self->s != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "SamplerHandle is already initialized");
        return -1;
    }
    p.seed = seed;
    xt_status s = xt_sampler_new(n_vocab, &p, &self->s);
    return s == XT_OK ? 0 : xt_raise_status_int(st, s);
}

static int sampler_traverse(SamplerHandle *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void sampler_dealloc(SamplerHandle *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    xt_sampler_free(self->s);
    if (self->lock) PyThread_free_lock(self->lock);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static xt_sampler *ready(SamplerHandle *self) {
    if (self->s == NULL) PyErr_SetString(PyExc_RuntimeError, "SamplerHandle is not initialized");
    return self->s;
}

// ---- methods ----

static PyObject *sampler_set_bias(SamplerHandle *self, PyObject *args) {
    PyObject *ids_obj, *bias_obj;  // borrowed
    if (!PyArg_ParseTuple(args, "OO:set_bias", &ids_obj, &bias_obj)) return NULL;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    PyArrayObject *ids = exact_array(ids_obj, NPY_INT32, "ids");
    PyArrayObject *bias = ids ? exact_array(bias_obj, NPY_FLOAT32, "bias") : NULL;
    if (st == NULL || bias == NULL || ready(self) == NULL) return NULL;
    if (PyArray_DIM(ids, 0) != PyArray_DIM(bias, 0)) {
        PyErr_SetString(PyExc_ValueError, "logit_bias: ids and bias differ in length");
        return NULL;
    }
    ACQUIRE_LOCK(self);
    xt_status s = xt_sampler_set_bias(self->s, PyArray_DATA(ids), PyArray_DATA(bias),
                                      (int64_t)PyArray_DIM(ids, 0));
    RELEASE_LOCK(self);
    if (s != XT_OK) return xt_raise_status(st, s);
    Py_RETURN_NONE;
}

static PyObject *sampler_accept(SamplerHandle *self, PyObject *arg) {
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    PyArrayObject *ids = exact_array(arg, NPY_INT32, "tokens");
    if (st == NULL || ids == NULL || ready(self) == NULL) return NULL;
    ACQUIRE_LOCK(self);
    xt_status s = xt_sampler_accept(self->s, PyArray_DATA(ids), (int64_t)PyArray_DIM(ids, 0));
    RELEASE_LOCK(self);
    if (s != XT_OK) return xt_raise_status(st, s);
    Py_RETURN_NONE;
}

static PyObject *sampler_reset(SamplerHandle *self, PyObject *arg) {
    unsigned long long seed = PyLong_AsUnsignedLongLong(arg);
    if (seed == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (ready(self) == NULL) return NULL;
    ACQUIRE_LOCK(self);
    xt_sampler_reset(self->s, seed);
    RELEASE_LOCK(self);
    Py_RETURN_NONE;
}

// sample(logits) -> int, or probs(logits) -> float32 array (want_probs).
static PyObject *run_on_logits(SamplerHandle *self, PyObject *arg, bool want_probs) {
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    PyArrayObject *logits = exact_array(arg, NPY_FLOAT32, "logits");
    if (st == NULL || logits == NULL || ready(self) == NULL) return NULL;
    npy_intp n = PyArray_DIM(logits, 0);
    if (n != (npy_intp)xt_sampler_n_vocab(self->s)) {
        PyErr_Format(PyExc_ValueError, "logits has %zd entries, the sampler expects n_vocab = %lld",
                     (Py_ssize_t)n, (long long)xt_sampler_n_vocab(self->s));
        return NULL;
    }
    PyObject *probs = want_probs ? PyArray_SimpleNew(1, &n, NPY_FLOAT32) : NULL;  // new
    if (want_probs && probs == NULL) return NULL;
    int32_t tok = 0;
    xt_status s;
    Py_INCREF(logits);  // keep the input alive while the GIL is released
    ACQUIRE_LOCK(self);
    Py_BEGIN_ALLOW_THREADS
    s = want_probs ? xt_sampler_probs(self->s, PyArray_DATA(logits),
                                      PyArray_DATA((PyArrayObject *)probs))
                   : xt_sampler_sample(self->s, PyArray_DATA(logits), &tok);
    Py_END_ALLOW_THREADS
    RELEASE_LOCK(self);
    Py_DECREF(logits);
    if (s != XT_OK) {
        Py_XDECREF(probs);
        return xt_raise_status(st, s);
    }
    return want_probs ? probs : PyLong_FromLong(tok);
}

static PyObject *sampler_sample(SamplerHandle *self, PyObject *arg) {
    return run_on_logits(self, arg, false);
}

static PyObject *sampler_probs(SamplerHandle *self, PyObject *arg) {
    return run_on_logits(self, arg, true);
}

static PyObject *get_n_vocab(SamplerHandle *self, void *c) {
    (void)c;
    return ready(self) ? PyLong_FromLongLong(xt_sampler_n_vocab(self->s)) : NULL;
}

// ---- shared with py_model.c ----

xt_sampler *xt_py_sampler_acquire(xt_module_state *st, PyObject *obj) {
    if (!PyObject_TypeCheck(obj, st->SamplerHandleType)) {
        PyErr_Format(PyExc_TypeError, "sampler must be a SamplerHandle, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    SamplerHandle *self = (SamplerHandle *)obj;
    if (ready(self) == NULL) return NULL;
    ACQUIRE_LOCK(self);
    return self->s;
}

void xt_py_sampler_release(PyObject *obj) { RELEASE_LOCK((SamplerHandle *)obj); }

// ---- type ----

static PyMethodDef sampler_methods[] = {
    {"set_bias", (PyCFunction)sampler_set_bias, METH_VARARGS,
     "set_bias(ids: int32 array, bias: float32 array): replace the logit bias."},
    {"accept", (PyCFunction)sampler_accept, METH_O,
     "accept(tokens: int32 array): append to the penalty history."},
    {"reset", (PyCFunction)sampler_reset, METH_O,
     "reset(seed): forget the history, restart the random stream."},
    {"sample", (PyCFunction)sampler_sample, METH_O, "sample(logits: float32 array) -> token id."},
    {"probs", (PyCFunction)sampler_probs, METH_O,
     "probs(logits: float32 array) -> the distribution sample() draws from."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sampler_getset[] = {
    {"n_vocab", (getter)get_n_vocab, NULL, "Row length the sampler expects.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot sampler_slots[] = {
    {Py_tp_new, sampler_new},
    {Py_tp_init, sampler_init},
    {Py_tp_dealloc, sampler_dealloc},
    {Py_tp_traverse, sampler_traverse},
    {Py_tp_methods, sampler_methods},
    {Py_tp_getset, sampler_getset},
    {Py_tp_doc, "SamplerHandle(n_vocab, temperature, top_k, top_p, min_p, repeat_penalty, "
                "presence_penalty, frequency_penalty, penalty_last_n, seed): a sampler."},
    {0, NULL},
};

static PyType_Spec sampler_spec = {
    .name = "xtral._core.SamplerHandle",
    .basicsize = sizeof(SamplerHandle),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = sampler_slots,
};

PyObject *xt_sampler_handle_type_create(PyObject *module) {
    return PyType_FromModuleAndSpec(module, &sampler_spec, NULL);
}
