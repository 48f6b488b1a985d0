// py_adapter.c — the heap type _core.AdapterHandle: a loaded LoRA or X-LoRA adapter
// (xt_adapter), independent of models. ModelHandle.add_adapter takes one and keeps its own
// copy, so the handle may be closed afterwards. python/xtral/adapters.py builds Adapter on top.
#include "python/module_state.h"

typedef struct {
    PyObject_HEAD
    xt_adapter *a;  // owned; NULL once closed
} AdapterHandle;

xt_adapter *xt_py_adapter_get(xt_module_state *st, PyObject *obj) {
    if (!PyObject_TypeCheck(obj, st->AdapterHandleType)) {
        PyErr_Format(PyExc_TypeError, "expected an xtral Adapter, got %.100s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    AdapterHandle *h = (AdapterHandle *)obj;
    if (h->a == NULL) PyErr_SetString(st->XtralError, "the adapter is closed");
    return h->a;
}

static int handle_init(AdapterHandle *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"path", "xlora", "non_granular_index", NULL};
    PyObject *path_bytes = NULL;  // new
    int xlora = 0;
    long long ng = -1;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&|pL:AdapterHandle", kwlist,
                                     PyUnicode_FSConverter, &path_bytes, &xlora, &ng)) {
        return -1;
    }
    int rc = -1;
    if (self->a != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "AdapterHandle is already open");
        goto done;
    }
    const char *path = PyBytes_AS_STRING(path_bytes);
    xt_adapter *a = NULL;
    xt_status s;
    Py_BEGIN_ALLOW_THREADS
    s = xlora ? xt_adapter_load_xlora(path, &a) : xt_adapter_load(path, &a);
    if (s == XT_OK && xlora && ng >= 0) s = xt_adapter_set_non_granular(a, ng);
    Py_END_ALLOW_THREADS
    if (s != XT_OK) {
        xt_adapter_free(a);
        xt_raise_status(st, s);
        goto done;
    }
    self->a = a;
    rc = 0;
done:
    Py_XDECREF(path_bytes);
    return rc;
}

static int handle_traverse(AdapterHandle *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void handle_dealloc(AdapterHandle *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    xt_adapter_free(self->a);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *handle_close(AdapterHandle *self, PyObject *unused) {
    (void)unused;
    xt_adapter_free(self->a);
    self->a = NULL;
    Py_RETURN_NONE;
}

static PyObject *handle_info(AdapterHandle *self, PyObject *unused) {
    (void)unused;
    xt_module_state *st = xt_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    xt_adapter *a = xt_py_adapter_get(st, (PyObject *)self);
    if (a == NULL) return NULL;
    xt_adapter_info i;
    xt_adapter_get_info(a, &i);
    if (!i.is_xlora) {
        return Py_BuildValue("{sssssOsOsLsL}", "kind", "lora", "architecture", i.architecture,
                             "gguf", i.gguf ? Py_True : Py_False, "xlora", Py_False,
                             "n_modules", (long long)i.n_modules, "max_rank",
                             (long long)i.max_rank);
    }
    return Py_BuildValue("{sssOsLsLsLsOsOsOsLsdsdsdsL}", "kind", "xlora", "xlora", Py_True,
                         "n_experts", (long long)i.n_experts, "xlora_depth",
                         (long long)i.xlora_depth, "xlora_size", (long long)i.xlora_size,
                         "layerwise_scalings", i.layerwise ? Py_True : Py_False,
                         "enable_softmax", i.enable_softmax ? Py_True : Py_False,
                         "enable_softmax_topk", i.enable_softmax_topk ? Py_True : Py_False,
                         "top_k_lora", (long long)i.top_k, "softmax_temperature",
                         (double)i.temperature, "scaling_pass_value", (double)i.scaling_pass_value,
                         "global_scaling_weight", (double)i.global_scaling_weight,
                         "tgt_non_granular_index", (long long)i.non_granular_index);
}

static PyObject *get_closed(AdapterHandle *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->a == NULL);
}

static PyMethodDef handle_methods[] = {
    {"info", (PyCFunction)handle_info, METH_NOARGS, "Adapter facts as a dict."},
    {"close", (PyCFunction)handle_close, METH_NOARGS, "Free the adapter (idempotent)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef handle_getset[] = {
    {"closed", (getter)get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot handle_slots[] = {
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, handle_init},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_traverse, handle_traverse},
    {Py_tp_methods, handle_methods},
    {Py_tp_getset, handle_getset},
    {Py_tp_doc, "AdapterHandle(path, xlora=False, non_granular_index=-1): a LoRA or X-LoRA adapter."},
    {0, NULL},
};

static PyType_Spec handle_spec = {
    .name = "xtral._core.AdapterHandle",
    .basicsize = sizeof(AdapterHandle),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = handle_slots,
};

PyObject *xt_adapter_handle_type_create(PyObject *module) {
    return PyType_FromModuleAndSpec(module, &handle_spec, NULL);
}
