// numpy_api.h — the only place the NumPy C API is included. module.c defines
// XT_NUMPY_IMPORT before including it so exactly one translation unit owns the API table.
#ifndef XT_PYTHON_NUMPY_API_H
#define XT_PYTHON_NUMPY_API_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define PY_ARRAY_UNIQUE_SYMBOL xtral_ARRAY_API
#ifndef XT_NUMPY_IMPORT
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#endif  // XT_PYTHON_NUMPY_API_H
