// module_state.h — per-module state of xtral._core (types and exception classes) and the
// helpers that find it from a method's type or module object.
#ifndef XT_PYTHON_MODULE_STATE_H
#define XT_PYTHON_MODULE_STATE_H

#include "python/numpy_api.h"
#include "xtral.h"

typedef struct {
    PyObject *XtralError;        // base class of every xtral exception
    PyObject *GGUFError;         // (XtralError, ValueError): malformed file content
    PyObject *UnsupportedError;  // (XtralError, ValueError): well-formed but unsupported
    PyTypeObject *GGUFHandleType;
    PyTypeObject *ModelHandleType;
    PyTypeObject *SafetensorsHandleType;
    PyTypeObject *SamplerHandleType;
    PyTypeObject *AdapterHandleType;
    PyTypeObject *VocabHandleType;
} xt_module_state;

extern PyModuleDef xt_module_def;

static inline xt_module_state *xt_state_from_module(PyObject *module) {
    return (xt_module_state *)PyModule_GetState(module);
}

static inline xt_module_state *xt_state_from_type(PyTypeObject *type) {
    PyObject *m = PyType_GetModuleByDef(type, &xt_module_def);  // borrowed
    return m ? xt_state_from_module(m) : NULL;
}

// Raises the Python exception for a failed xt_* call (uses xt_last_error()). Returns NULL.
PyObject *xt_raise_status(xt_module_state *st, xt_status s);
// Same, returning -1 (for int-returning slots).
int xt_raise_status_int(xt_module_state *st, xt_status s);

// Types and functions provided by the other binding files.
PyObject *xt_gguf_handle_type_create(PyObject *module);        // py_gguf.c
PyObject *xt_py_write_gguf(PyObject *module, PyObject *args);  // py_gguf_write.c
PyObject *xt_gguf_value_to_py(const xt_gguf_value *v);          // py_gguf_meta.c
PyObject *xt_gguf_value_type_str(const xt_gguf_value *v);       // py_gguf_meta.c
void xt_py_log_install(void);                                   // py_log.c
extern PyMethodDef xt_quant_methods[];                           // py_quant.c
PyObject *xt_model_handle_type_create(PyObject *module);       // py_model.c
PyObject *xt_safetensors_handle_type_create(PyObject *module); // py_safetensors.c
PyObject *xt_adapter_handle_type_create(PyObject *module);     // py_adapter.c
// The adapter of an AdapterHandle (borrowed); NULL with an exception when obj is not one.
xt_adapter *xt_py_adapter_get(xt_module_state *st, PyObject *obj);
extern PyMethodDef xt_safetensors_methods[];                     // py_safetensors.c
PyObject *xt_sampler_handle_type_create(PyObject *module);     // py_sampler.c
// Checks that obj is a SamplerHandle and takes its lock (GIL held); NULL with an exception set.
xt_sampler *xt_py_sampler_acquire(xt_module_state *st, PyObject *obj);
void xt_py_sampler_release(PyObject *obj);                       // drops that lock
PyObject *xt_vocab_handle_type_create(PyObject *module);       // py_vocab.c
extern PyMethodDef xt_vocab_methods[];                           // py_vocab.c

#endif  // XT_PYTHON_MODULE_STATE_H
