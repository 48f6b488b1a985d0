// module.c — xtral._core: multi-phase init, module state (types, exceptions), NumPy import,
// the log hook, and the module-level functions.
#define XT_NUMPY_IMPORT
#include "python/module_state.h"

// ---- module functions ----

static PyObject *py_dtype_info(PyObject *module, PyObject *arg) {
    (void)module;
    long id = PyLong_AsLong(arg);
    if (id == -1 && PyErr_Occurred()) return NULL;
    const xt_dtype_info *info = id >= 0 && id <= UINT32_MAX ? xt_dtype_get((uint32_t)id) : NULL;
    if (info == NULL) Py_RETURN_NONE;
    return Py_BuildValue("(slLnO)", info->name, id, (long long)info->block_size,
                         (Py_ssize_t)info->type_size, info->is_quantized ? Py_True : Py_False);
}

typedef struct {
    int64_t *hits;  // (n_tasks) times each task ran
} pool_check_ctx;

static void pool_check_task(int64_t task, int64_t n_tasks, void *ctx) {
    (void)n_tasks;
    __atomic_fetch_add(&((pool_check_ctx *)ctx)->hits[task], 1, __ATOMIC_RELAXED);
}

// Runs `rounds` rounds of `n_tasks` tasks on a fresh pool; returns how often each task ran
// (each must be `rounds`). A self-check of the thread pool for the test-suite.
static PyObject *py_threadpool_check(PyObject *module, PyObject *args) {
    int n_threads;
    Py_ssize_t n_tasks, rounds;
    if (!PyArg_ParseTuple(args, "inn:_threadpool_check", &n_threads, &n_tasks, &rounds)) {
        return NULL;
    }
    if (n_tasks < 0 || rounds < 0 || n_tasks > 1000000) {
        PyErr_SetString(PyExc_ValueError, "n_tasks must be in [0, 1e6] and rounds >= 0");
        return NULL;
    }
    xt_module_state *st = xt_state_from_module(module);
    int64_t *hits = PyMem_Calloc((size_t)n_tasks + 1, sizeof *hits);
    if (hits == NULL) return PyErr_NoMemory();
    xt_threadpool *pool = NULL;
    pool_check_ctx ctx = {hits};
    xt_status s;
    int size = 0;
    Py_BEGIN_ALLOW_THREADS
    s = xt_threadpool_new(n_threads, &pool);
    for (Py_ssize_t r = 0; s == XT_OK && r < rounds; r++) {
        s = xt_threadpool_run(pool, pool_check_task, &ctx, n_tasks);
    }
    if (pool) size = xt_threadpool_size(pool);
    xt_threadpool_free(pool);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;  // new
    if (s != XT_OK) {
        xt_raise_status(st, s);
    } else {
        PyObject *list = PyList_New(n_tasks);  // new, stolen by "N"
        for (Py_ssize_t i = 0; list && i < n_tasks; i++) {
            PyObject *n = PyLong_FromLongLong(hits[i]);  // new, stolen
            if (n == NULL) Py_CLEAR(list);
            else PyList_SET_ITEM(list, i, n);
        }
        if (list) result = Py_BuildValue("(iN)", size, list);
    }
    PyMem_Free(hits);
    return result;
}

static PyMethodDef module_methods[] = {
    {"write_gguf", xt_py_write_gguf, METH_VARARGS,
     "write_gguf(path, kvs, tensors, alignment): low-level writer; use xtral.write_gguf."},
    {"dtype_info", py_dtype_info, METH_O,
     "dtype_info(type_id) -> (name, id, block_size, type_size, is_quantized) or None."},
    {"_threadpool_check", py_threadpool_check, METH_VARARGS,
     "_threadpool_check(n_threads, n_tasks, rounds) -> (pool_size, hits per task)."},
    {NULL, NULL, 0, NULL},
};

// ---- init ----

static int add_exception(PyObject *m, PyObject **slot, const char *name, PyObject *bases,
                         const char *doc) {
    *slot = PyErr_NewExceptionWithDoc(name, doc, bases, NULL);  // new, owned by the state
    if (*slot == NULL) return -1;
    const char *short_name = strrchr(name, '.') + 1;
    return PyModule_AddObjectRef(m, short_name, *slot);
}

static int module_exec(PyObject *m) {
    xt_module_state *st = xt_state_from_module(m);
    if (_import_array() < 0) return -1;
    if (add_exception(m, &st->XtralError, "xtral.XtralError", NULL,
                      "Base class of every error raised by xtral.") < 0) {
        return -1;
    }
    PyObject *bases = PyTuple_Pack(2, st->XtralError, PyExc_ValueError);  // new
    if (bases == NULL) return -1;
    int rc = add_exception(m, &st->GGUFError, "xtral.GGUFError", bases,
                           "A model or adapter file is malformed; the message names the field.");
    if (rc == 0) {
        rc = add_exception(m, &st->UnsupportedError, "xtral.UnsupportedError", bases,
                           "Well-formed input that this build does not support.");
    }
    Py_DECREF(bases);
    if (rc < 0) return -1;
    st->GGUFHandleType = (PyTypeObject *)xt_gguf_handle_type_create(m);
    if (st->GGUFHandleType == NULL) return -1;
    if (PyModule_AddType(m, st->GGUFHandleType) < 0) return -1;
    if (PyModule_AddIntConstant(m, "DTYPE_COUNT", XT_DTYPE_COUNT) < 0) return -1;
    if (PyModule_AddFunctions(m, xt_quant_methods) < 0) return -1;
    st->ModelHandleType = (PyTypeObject *)xt_model_handle_type_create(m);
    if (st->ModelHandleType == NULL) return -1;
    if (PyModule_AddType(m, st->ModelHandleType) < 0) return -1;
    st->AdapterHandleType = (PyTypeObject *)xt_adapter_handle_type_create(m);
    if (st->AdapterHandleType == NULL) return -1;
    if (PyModule_AddType(m, st->AdapterHandleType) < 0) return -1;
    st->SafetensorsHandleType = (PyTypeObject *)xt_safetensors_handle_type_create(m);
    if (st->SafetensorsHandleType == NULL) return -1;
    if (PyModule_AddType(m, st->SafetensorsHandleType) < 0) return -1;
    if (PyModule_AddFunctions(m, xt_safetensors_methods) < 0) return -1;
    st->SamplerHandleType = (PyTypeObject *)xt_sampler_handle_type_create(m);
    if (st->SamplerHandleType == NULL) return -1;
    if (PyModule_AddType(m, st->SamplerHandleType) < 0) return -1;
    st->VocabHandleType = (PyTypeObject *)xt_vocab_handle_type_create(m);
    if (st->VocabHandleType == NULL) return -1;
    if (PyModule_AddType(m, st->VocabHandleType) < 0) return -1;
    if (PyModule_AddFunctions(m, xt_vocab_methods) < 0) return -1;
    xt_py_log_install();
    return 0;
}

static int module_traverse(PyObject *m, visitproc visit, void *arg) {
    xt_module_state *st = xt_state_from_module(m);
    Py_VISIT(st->XtralError);
    Py_VISIT(st->GGUFError);
    Py_VISIT(st->UnsupportedError);
    Py_VISIT(st->GGUFHandleType);
    Py_VISIT(st->ModelHandleType);
    Py_VISIT(st->AdapterHandleType);
    Py_VISIT(st->SafetensorsHandleType);
    Py_VISIT(st->SamplerHandleType);
    Py_VISIT(st->VocabHandleType);
    return 0;
}

static int module_clear(PyObject *m) {
    xt_module_state *st = xt_state_from_module(m);
    Py_CLEAR(st->XtralError);
    Py_CLEAR(st->GGUFError);
    Py_CLEAR(st->UnsupportedError);
    Py_CLEAR(st->GGUFHandleType);
    Py_CLEAR(st->ModelHandleType);
    Py_CLEAR(st->AdapterHandleType);
    Py_CLEAR(st->SafetensorsHandleType);
    Py_CLEAR(st->SamplerHandleType);
    Py_CLEAR(st->VocabHandleType);
    return 0;
}

static void module_free(void *m) { module_clear((PyObject *)m); }

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

PyModuleDef xt_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "xtral._core",
    .m_doc = "The xtral C engine: GGUF reader/writer, dtype table, thread pool.",
    .m_size = sizeof(xt_module_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&xt_module_def); }
